/* tinyq summary: Keras-like model.summary() of a zoo model or a model file. */
#include <string.h>

#include "args.h"
#include "cli.h"
#include "qsetup.h"
#include "task.h"
#include "tinyq/zoo.h"

static const char *USAGE =
    "usage: tinyq summary --model NAME [--input HxWxC] [--classes N] [--quant CONFIG | --flat BITS]\n"
    "                     [--alpha auto|auto_po2]\n"
    "       tinyq summary MODEL_FILE\n\n"
    "  Prints every layer: name (class), output shape, parameters, MACs, inputs (and quantizers),\n"
    "  then the totals. Parameters include batch-norm moving statistics, as Keras counts them.\n";

int tq_cmd_summary(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  tq_opt o[] = {{"model", 1, NULL}, {"input", 1, NULL}, {"classes", 1, NULL},
                {"quant", 1, NULL}, {"flat", 1, NULL},  {"alpha", 1, NULL}};
  const int no = (int)(sizeof o / sizeof o[0]);
  const char *pos[1];
  int npos, rc = tq_args_parse("summary", argc, argv, o, no, pos, 1, &npos);
  if (rc) return rc;
  tq_model *m = NULL;
  if (npos == 1) {
    if (tq_model_load(pos[0], &m, NULL, 0)) return tq_cli_error("%s", tq_last_error());
  } else {
    const char *name = tq_args_get(o, no, "model");
    if (!name) return tq_cli_usage_error("summary: give --model NAME or a MODEL_FILE");
    tq_zoo_options zo = {{0, 0, 0}, 0};
    const char *in = tq_args_get(o, no, "input");
    if (in && !tq_args_shape(in, &zo.input.h, &zo.input.w, &zo.input.c))
      return tq_cli_usage_error("--input: expected HxWxC (e.g. 28x28x1) or N, got '%s'", in);
    int flat = 0;
    if (tq_args_int(o, no, "classes", 1, 1000000, &zo.classes) ||
        tq_args_int(o, no, "flat", 1, 32, &flat))
      return 2;
    const tq_zoo_entry *z = tq_zoo_find(name);
    if (tq_zoo_build(&m, name, &zo) || tq_model_finalize(m, 0, z->init, 1))
      return tq_cli_error("%s", tq_last_error());
    if (tq_qsetup_apply(m, tq_args_get(o, no, "quant"), flat, tq_args_get(o, no, "alpha"))) {
      tq_model_free(m);
      return tq_cli_error("%s", tq_last_error());
    }
  }
  tq_model_summary(m, stdout);
  tq_model_free(m);
  return 0;
}
