/* The model options shared by summary and stats (a zoo model, its shape and quantization, or a
 * model file), and the quantization options train shares with them. */
#ifndef TINYQ_CLI_QSETUP_H
#define TINYQ_CLI_QSETUP_H
#include "options.h"
#include "tinyq/qconfig.h"
#include "tinyq/zoo.h"

typedef struct {
  char model[64], quant[1024], alpha[16];
  tq_shape3 input; /* 0x0x0: the model's reference */
  int classes;     /* 0: the model's reference */
  int flat;        /* 0: none */
  double width;    /* 0: the model's default width multiplier */
} tq_model_opts;

/* The rows of tq_model_opts f of settings struct S */
#define TQ_MODEL_ARGS(S, f)                                                                          \
  {TQ_OPT_MODEL(S, f.model), .help = "{models}"},                                                   \
      {.name = "input", .type = TQ_ARG_SHAPE, .meta = "HxWxC", TQ_AT(S, f.input),                   \
       .help = "model shape (default: the model's reference)"},                                    \
      {.name = "classes", .type = TQ_ARG_INT, .meta = "N", .min = 1, .max = 1000000,                \
       .flags = TQ_ARG_SAME_LINE, TQ_AT(S, f.classes)},                                            \
      {TQ_OPT_WIDTH(S, f.width)},                                                                   \
      {TQ_OPT_QUANT(S, f.quant), .help = "per-layer quantizers (keys: layer names or Keras classes)"}, \
      {TQ_OPT_FLAT(S, f.flat), .help = "every kernel and activation at BITS bits, biases at 31"},    \
      {TQ_OPT_ALPHA(S, f.alpha), .help = "override every alpha ('auto_po2': power-of-two scales)"}

/* --quant CONFIG or --flat BITS, then --alpha (NULL or 0: not given). */
tq_status tq_qsetup_apply(tq_model *m, const char *quant, int flat, const char *alpha);

/* The model of a MODEL_FILE (file, if not NULL) or of the options, at batch size `batch`.
 * Returns 0, or prints the error ("<cmd>: ...") and returns the exit code. */
int tq_qsetup_model(tq_model **m, const char *cmd, const char *file, const tq_model_opts *o, int batch);
#endif
