/* tinyq summary: Keras-like model.summary() of a zoo model or a model file. */
#include "args.h"
#include "cli.h"
#include "qsetup.h"

static const char USAGE[] =
    "usage: tinyq summary --model NAME [--input HxWxC] [--classes N] [--quant CONFIG | --flat BITS]\n"
    "                     [--alpha auto|auto_po2]\n"
    "       tinyq summary MODEL_FILE\n\n"
    "  Prints every layer: name (class), output shape, parameters, MACs, inputs (and quantizers),\n"
    "  then the totals. Parameters include batch-norm moving statistics, as Keras counts them.\n";

typedef struct {
  char file[4096];
  tq_model_opts model;
} summary_opts;

static const tq_arg summary_args[] = {
    {.name = "MODEL_FILE", .type = TQ_ARG_STRING, .flags = TQ_ARG_POSITIONAL, TQ_AT(summary_opts, file)},
    TQ_MODEL_ARGS(summary_opts, model),
};

static int summary_run(void *settings) {
  const summary_opts *o = settings;
  tq_model *m = NULL;
  int rc = tq_qsetup_model(&m, "summary", o->file[0] ? o->file : NULL, &o->model, 0);
  if (rc) return rc;
  tq_model_summary(m, stdout);
  tq_model_free(m);
  return 0;
}

static const tq_command summary_cmd = {"summary", TQ_ARGS_OF(summary_args, USAGE), TQ_RUN(summary_opts, summary_run)};
int tq_cmd_summary(int argc, char **argv) { return tq_args_run(&summary_cmd, argc, argv); }
