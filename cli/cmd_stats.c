/* tinyq stats: AutoQKeras' size statistics of a quantization configuration. */
#include <string.h>

#include "args.h"
#include "cli.h"
#include "qsetup.h"
#include "task.h"
#include "tinyq/cost.h"
#include "tinyq/zoo.h"

static const char *USAGE =
    "usage: tinyq stats --model NAME (--quant CONFIG | --flat BITS) [options]\n"
    "       tinyq stats MODEL_FILE [options]\n\n"
    "  --input HxWxC, --classes N   model shape (default: the model's reference)\n"
    "  --alpha auto|auto_po2        override every alpha\n"
    "  --delta-p P, --delta-n N     forgiving factor in percent (5, 5)\n"
    "  --rate R                     size ratio that earns delta (2)\n"
    "  --stress S                   reference multiplier (1)\n"
    "  --ref-bits B                 reference kernel/activation bits (16)\n"
    "  --ref-bias-bits B            reference bias bits (31)\n"
    "  --input-bits B               bits of the model input (8)\n"
    "  --metric M                   also print score = M * (1 + delta)\n";

int tq_cmd_stats(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  tq_opt o[] = {{"model", 1, NULL},   {"input", 1, NULL},   {"classes", 1, NULL},
                {"quant", 1, NULL},   {"flat", 1, NULL},    {"alpha", 1, NULL},
                {"delta-p", 1, NULL}, {"delta-n", 1, NULL}, {"rate", 1, NULL},
                {"stress", 1, NULL},  {"ref-bits", 1, NULL}, {"ref-bias-bits", 1, NULL},
                {"input-bits", 1, NULL}, {"metric", 1, NULL}};
  const int no = (int)(sizeof o / sizeof o[0]);
  const char *pos[1];
  int npos, rc = tq_args_parse("stats", argc, argv, o, no, pos, 1, &npos);
  if (rc) return rc;
  tq_goal g;
  tq_goal_defaults(&g);
  double metric = -1;
  int flat = 0;
  if (tq_args_double(o, no, "delta-p", 0, 1000, &g.delta_p) ||
      tq_args_double(o, no, "delta-n", 0, 1000, &g.delta_n) ||
      tq_args_double(o, no, "rate", 1.0001, 1e6, &g.rate) ||
      tq_args_double(o, no, "stress", 1e-6, 1e6, &g.stress) ||
      tq_args_int(o, no, "ref-bits", 1, 32, &g.ref_bits) ||
      tq_args_int(o, no, "ref-bias-bits", 1, 32, &g.ref_bias_bits) ||
      tq_args_int(o, no, "input-bits", 1, 32, &g.input_bits) ||
      tq_args_double(o, no, "metric", 0, 1e9, &metric) || tq_args_int(o, no, "flat", 1, 32, &flat))
    return 2;
  tq_model *m = NULL;
  if (npos == 1) {
    if (tq_model_load(pos[0], &m, NULL, 1)) return tq_cli_error("%s", tq_last_error());
  } else {
    const char *name = tq_args_get(o, no, "model");
    if (!name) return tq_cli_usage_error("stats: give --model NAME or a MODEL_FILE");
    if (!tq_args_get(o, no, "quant") && !flat)
      return tq_cli_usage_error("stats: give --quant CONFIG or --flat BITS");
    tq_zoo_options zo = {{0, 0, 0}, 0};
    const char *in = tq_args_get(o, no, "input");
    if (in && !tq_args_shape(in, &zo.input.h, &zo.input.w, &zo.input.c))
      return tq_cli_usage_error("--input: expected HxWxC or N, got '%s'", in);
    if (tq_args_int(o, no, "classes", 1, 1000000, &zo.classes)) return 2;
    if (tq_zoo_build(&m, name, &zo) || tq_model_finalize(m, 1, tq_zoo_find(name)->init, 1))
      return tq_cli_error("%s", tq_last_error());
    if (tq_qsetup_apply(m, tq_args_get(o, no, "quant"), flat, tq_args_get(o, no, "alpha"))) {
      tq_model_free(m);
      return tq_cli_error("%s", tq_last_error());
    }
  }
  tq_size_stats s;
  tq_size_stats_compute(m, &g, &s);
  tq_size_stats_print(stdout, m, &g, &s);
  if (metric >= 0) printf("score=%.6f (metric %.6f x (1 + delta))\n", tq_forgiving_score(metric, &s), metric);
  tq_model_free(m);
  return 0;
}
