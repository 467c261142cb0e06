/* Options several commands share: name, type, placeholder and range declared once (a command's
 * row adds its help text, default, settings key and flags). S is the command's settings struct,
 * f the field that receives the value. */
#ifndef TINYQ_CLI_OPTIONS_H
#define TINYQ_CLI_OPTIONS_H

#include "args.h"

#define TQ_OPT_MODEL(S, f) .name = "model", .type = TQ_ARG_STRING, .meta = "NAME", TQ_AT(S, f)
#define TQ_OPT_DATA(S, f) .name = "data", .type = TQ_ARG_STRING, .meta = "SPEC", TQ_AT(S, f)
#define TQ_OPT_SCALING(S, f) .name = "scaling", .type = TQ_ARG_STRING, .meta = "S", TQ_AT(S, f)
#define TQ_OPT_INIT(S, f) .name = "init", .type = TQ_ARG_STRING, .meta = "MODEL.tqm", TQ_AT(S, f)
#define TQ_OPT_EPOCHS(S, f) .name = "epochs", .type = TQ_ARG_INT, .meta = "N", .min = 1, .max = 100000, TQ_AT(S, f)
#define TQ_OPT_BATCH(S, f) .name = "batch", .type = TQ_ARG_INT, .meta = "B", .min = 1, .max = 65536, TQ_AT(S, f)
#define TQ_OPT_LR(S, f) .name = "lr", .type = TQ_ARG_FLOAT, .meta = "X", .min = 1e-12, .max = 100, TQ_AT(S, f)
#define TQ_OPT_SEED(S, f) .name = "seed", .type = TQ_ARG_INT, .meta = "S", .min = 0, .max = 2147483647, TQ_AT(S, f)
#define TQ_OPT_THREADS(S, f) .name = "threads", .type = TQ_ARG_INT, .meta = "T", .min = 1, .max = 256, TQ_AT(S, f)
#define TQ_OPT_COUNT(name_, S, f) .name = name_, .type = TQ_ARG_INT, .meta = "N", .min = 0, .max = 2147483647, TQ_AT(S, f)
#define TQ_OPT_QUANT(S, f) .name = "quant", .type = TQ_ARG_STRING, .meta = "CONFIG.json", TQ_AT(S, f)
/* a zoo model's width multiplier (no settings key: a model file holds its layers) */
#define TQ_OPT_WIDTH(S, f)                                                                           \
  .name = "width", .type = TQ_ARG_FLOAT, .meta = "A", .min = 0.01, .max = 4, TQ_AT(S, f),           \
  .help = "width multiplier of mobilenetv2: 0.35 | 0.5 | 0.75 | 1.0 (1.0)"
#define TQ_OPT_FLAT(S, f) .name = "flat", .type = TQ_ARG_INT, .meta = "BITS", .min = 1, .max = 32, TQ_AT(S, f)
#define TQ_OPT_ALPHA(S, f) .name = "alpha", .type = TQ_ARG_STRING, .meta = "auto|auto_po2", TQ_AT(S, f)
/* --static ema | calib:N and --range: static activation scales (static_scales.h) */
#define TQ_OPT_STATIC(S, f) .name = "static", .type = TQ_ARG_STRING, .meta = "S", TQ_AT(S, f)
#define TQ_OPT_RANGE(S, f) .name = "range", .type = TQ_ARG_ENUM, .meta = "spec|full", TQ_AT(S, f)
#define TQ_OPT_FLAG(name_, S, f) .name = name_, .type = TQ_ARG_FLAG, TQ_AT(S, f)
/* A required positional argument (a file); what: the error's "expected one MODEL_FILE" */
#define TQ_ARG_FILE(S, f, placeholder, what_)                                                        \
  {.name = placeholder, .type = TQ_ARG_STRING, .flags = TQ_ARG_POSITIONAL | TQ_ARG_REQUIRED, .what = what_, \
   TQ_AT(S, f)}

/* The goal of a size-aware search (tq_goal g of S): its defaults are tq_goal_defaults' */
#define TQ_GOAL_ARGS(S, g)                                                                           \
  {.name = "delta-p", .type = TQ_ARG_FLOAT, .meta = "P", .min = 0, .max = 1000,                     \
   .help = "forgiving factor in percent (5, 5)", TQ_AT(S, g.delta_p)},                             \
      {.name = "delta-n", .type = TQ_ARG_FLOAT, .meta = "N", .min = 0, .max = 1000,                 \
       .flags = TQ_ARG_SAME_LINE, TQ_AT(S, g.delta_n)},                                            \
      {.name = "rate", .type = TQ_ARG_FLOAT, .meta = "R", .min = 1.0001, .max = 1e6,                \
       .help = "size ratio that earns delta (2)", TQ_AT(S, g.rate)},                               \
      {.name = "stress", .type = TQ_ARG_FLOAT, .meta = "S", .min = 1e-6, .max = 1e6,                \
       .help = "reference multiplier (1)", TQ_AT(S, g.stress)},                                    \
      {.name = "ref-bits", .type = TQ_ARG_INT, .meta = "B", .min = 1, .max = 32,                    \
       .help = "reference kernel/activation bits (16)", TQ_AT(S, g.ref_bits)},                     \
      {.name = "ref-bias-bits", .type = TQ_ARG_INT, .meta = "B", .min = 1, .max = 32,               \
       .help = "reference bias bits (31)", TQ_AT(S, g.ref_bias_bits)},                             \
      {.name = "input-bits", .type = TQ_ARG_INT, .meta = "B", .min = 1, .max = 32,                  \
       .help = "bits of the model input (8)", TQ_AT(S, g.input_bits)}

#endif
