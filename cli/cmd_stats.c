/* tinyq stats: AutoQKeras' size statistics of a quantization configuration. */
#include "args.h"
#include "cli.h"
#include "qsetup.h"
#include "tinyq/cost.h"
#include "tinyq/zoo.h"

static const char USAGE[] =
    "usage: tinyq stats --model NAME (--quant CONFIG | --flat BITS) [options]\n"
    "       tinyq stats MODEL_FILE [options]\n";

typedef struct {
  char file[4096];
  tq_model_opts model;
  tq_goal goal;
  double metric; /* < 0: none */
} stats_opts;

static const tq_arg stats_args[] = {
    {.name = "MODEL_FILE", .type = TQ_ARG_STRING, .flags = TQ_ARG_POSITIONAL, TQ_AT(stats_opts, file)},
    TQ_MODEL_ARGS(stats_opts, model),
    TQ_GOAL_ARGS(stats_opts, goal),
    {.name = "metric", .type = TQ_ARG_FLOAT, .meta = "M", .min = 0, .max = 1e9, TQ_AT(stats_opts, metric),
     .help = "also print score = M * (1 + delta)"},
};

static void stats_preset(void *settings) {
  stats_opts *o = settings;
  tq_goal_defaults(&o->goal);
  o->metric = -1;
}

static int stats_run(void *settings) {
  const stats_opts *o = settings;
  if (!o->file[0] && o->model.model[0] && !o->model.quant[0] && !o->model.flat)
    return tq_cli_usage_error("stats: give --quant CONFIG or --flat BITS");
  tq_model *m = NULL;
  int rc = tq_qsetup_model(&m, "stats", o->file[0] ? o->file : NULL, &o->model, 1);
  if (rc) return rc;
  tq_size_stats s;
  tq_size_stats_compute(m, &o->goal, &s);
  tq_size_stats_print(stdout, m, &o->goal, &s);
  if (o->metric >= 0)
    printf("score=%.6f (metric %.6f x (1 + delta))\n", tq_forgiving_score(o->metric, &s), o->metric);
  tq_model_free(m);
  return 0;
}

static const tq_command stats_cmd = {"stats", TQ_ARGS_OF(stats_args, USAGE), TQ_RUN(stats_opts, stats_run),
                                     .preset = stats_preset};
int tq_cmd_stats(int argc, char **argv) { return tq_args_run(&stats_cmd, argc, argv); }
