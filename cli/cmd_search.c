/* tinyq search: AutoQKeras-style mixed-precision search (SPEC §5), one process or MPI ranks. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "options.h"
#include "task.h"
#include "tinyq/search.h"
#include "tinyq/zoo.h"

static const char USAGE[] =
    "usage: tinyq search --model NAME --data SPEC --space SPACE.json --out DIR [options]\n"
    "       tinyq search --resume DIR [--trials N] [--threads T]\n"
    "       mpirun -n K tinyq search ...   (K trials at once; rank 0 keeps the journal)\n";

typedef struct {
  tq_search_settings s;
  char out[1024], tuner[32];
  int threads;
} search_opts;

#define S search_opts
static const tq_arg search_args[] = {
    {TQ_OPT_MODEL(S, s.model), .help = "{models}"},
    {TQ_OPT_DATA(S, s.data), .def = "fashion-mnist", .help = "{datasets}"},
    {.name = "space", .type = TQ_ARG_STRING, .meta = "SPACE.json", TQ_AT(S, s.space_file),
     .help = "AutoQKeras quantization_config + limit (+ goal), e.g. examples/search_space_study.json"},
    {.name = "out", .type = TQ_ARG_STRING, .meta = "DIR", TQ_AT(S, out),
     .help = "search directory: search.json, trials.jsonl, started.jsonl, best.json, pareto.csv"},
    {.name = "trials", .type = TQ_ARG_INT, .meta = "N", .min = 1, .max = 1000000, .def = "20",
     .flags = TQ_ARG_RESUMABLE, TQ_AT(S, s.trials), .help = "trials to run"},
    {TQ_OPT_EPOCHS(S, s.epochs), .def = "1", .help = "training epochs per trial"},
    {.name = "train-fraction", .type = TQ_ARG_FLOAT, .meta = "F", .min = 1e-9, .max = 1, .def = "1",
     TQ_AT(S, s.train_fraction),
     .help = "train on the first F of the seed-shuffled training portion; validation: the last 10 % of the "
             "training split, always in full"},
    {TQ_OPT_INIT(S, s.init), .help = "transfer these float weights into every trial"},
    {.name = "tuner", .type = TQ_ARG_STRING, .meta = "KIND", .def = "bayesian", TQ_AT(S, tuner),
     .help = "bayesian (Gaussian process) | random"},
    {TQ_OPT_SEED(S, s.seed), .def = "1", .help = "tuner, weights, data order and subset"},
    {TQ_OPT_WIDTH(S, s.width)},
    {.name = "metric", .type = TQ_ARG_STRING, .meta = "M", TQ_AT(S, s.metric),
     .help = "auc: the mean AUC per machine id on a dcase: test folder (default: the study's: accuracy, or "
             "1/(1 + loss^10) for the auto-encoder)"},
    {TQ_OPT_THREADS(S, threads), .flags = TQ_ARG_RESUMABLE,
     .help = "OpenMP threads per rank (OMP_NUM_THREADS, else all cores)"},
    {TQ_OPT_BATCH(S, s.batch), .help = "training recipe of the trials (the model's defaults)"},
    {TQ_OPT_LR(S, s.lr), .flags = TQ_ARG_SAME_LINE},
    {.name = "schedule", .type = TQ_ARG_STRING, .meta = "S", .flags = TQ_ARG_SAME_LINE, TQ_AT(S, s.schedule)},
    {.name = "augment", .type = TQ_ARG_STRING, .meta = "A", .flags = TQ_ARG_SAME_LINE, TQ_AT(S, s.augment)},
    {TQ_OPT_SCALING(S, s.scaling), .flags = TQ_ARG_SAME_LINE},
    {.name = "resume", .type = TQ_ARG_STRING, .meta = "DIR", TQ_AT(S, out),
     .help = "continue the interrupted search in DIR without repeating or losing a trial (with --trials N: up to "
             "N trials)"},
    TQ_ARG_TEXT("goal (defaults: the space file's \"goal\".\"params\", else the study's settings):"),
    TQ_GOAL_ARGS(S, s.goal),
    /* for tests and benchmarks */
    {TQ_OPT_COUNT("max-steps", S, s.max_steps), .flags = TQ_ARG_HIDDEN},
    {TQ_OPT_COUNT("train-limit", S, s.train_limit), .flags = TQ_ARG_HIDDEN},
    {.name = "initial-points", .type = TQ_ARG_INT, .min = 0, .max = 1000000, .flags = TQ_ARG_HIDDEN,
     TQ_AT(S, s.initial_points)},
    TQ_ARG_TEXT("results: best.json is a configuration for `tinyq train --quant DIR/best.json --alpha auto_po2\n"
                "--init MODEL.tqm`; pareto.csv the non-dominated trials (bits vs metric); the journal\n"
                "trials.jsonl one line per finished trial."),
};
#undef S

static const tq_command search_cmd = {"search", TQ_ARGS_OF(search_args, USAGE)};


static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src); }

/* The whole file as a string; what names the option in errors. */
static int read_text(const char *path, char **out, const char *what) {
  unsigned char *data;
  size_t size;
  if (tq_read_file(path, &data, &size)) return tq_cli_error("%s: %s", what, tq_last_error());
  char *t = realloc(data, size + 1);
  if (!t) {
    free(data);
    return tq_cli_error("%s: out of memory", path);
  }
  t[size] = 0;
  *out = t;
  return 0;
}

/* Settings of a new search: the model's recipe, the space file's goal, then the options. */
static int settings_from_args(search_opts *o, const tq_argv *a) {
  tq_search_settings *s = &o->s;
  const char *model = tq_args_given(&search_cmd, a, "model"), *space = tq_args_given(&search_cmd, a, "space");
  char models[256];
  if (!model)
    return tq_cli_usage_error("search: --model is required (%s)", tq_args_model_list(models, sizeof models, ", "));
  if (!tq_zoo_find(model)) {
    tq_model *m = NULL;
    tq_zoo_build(&m, model, NULL);
    tq_model_free(m);
    return tq_cli_usage_error("search: --model: %s", tq_last_error());
  }
  if (!space) return tq_args_missing(&search_cmd, "space");
  if (!tq_args_given(&search_cmd, a, "out")) return tq_args_missing(&search_cmd, "out");
  const tq_recipe *r = tq_recipe_for(model);
  if (!r) return 1;
  copy(s->schedule, sizeof s->schedule, r->schedule);
  copy(s->augment, sizeof s->augment, r->augment);
  s->batch = r->batch;
  char lr[32];
  snprintf(lr, sizeof lr, "%g", (double)r->lr); /* 1e-3, not the float's 0.0010000000474974513 */
  s->lr = atof(lr);
  int rc = read_text(space, &s->space_json, "--space");
  if (rc) return rc;
  if (tq_space_read_goal(s->space_json, space, &s->goal, NULL)) return tq_cli_error("%s", tq_last_error());
  if (tq_args_store(&search_cmd, a, o, 1)) return 2;
  if (tq_args_given(&search_cmd, a, "lr") && !tq_args_given(&search_cmd, a, "schedule") &&
      tq_recipe_schedule_for_lr(r, s->lr, s->schedule, sizeof s->schedule))
    return tq_cli_error("search: %s", tq_last_error());
  if (tq_tuner_parse_kind(o->tuner, &s->tuner)) return tq_cli_usage_error("--tuner: %s", tq_last_error());
  if (s->metric[0] && strcmp(s->metric, "auc"))
    return tq_cli_usage_error("search: --metric: '%s' is not a metric (auc)", s->metric);
  return 0;
}

/* Settings of a search to resume: its search.json, with --trials and --threads. */
static int settings_for_resume(search_opts *o, const tq_argv *a) {
  int rc = tq_args_check_resume(&search_cmd, a, "resume");
  if (rc) return rc;
  char path[2048], *text = NULL;
  snprintf(path, sizeof path, "%s/search.json", tq_args_given(&search_cmd, a, "resume"));
  if ((rc = read_text(path, &text, "--resume"))) return rc;
  tq_status st = tq_search_settings_parse(&o->s, text, path);
  free(text);
  if (st) return tq_cli_error("--resume: %s", tq_last_error());
  return tq_args_store(&search_cmd, a, o, 0);
}

static int run_rank0(const tq_search_comm *comm, int argc, char **argv) {
  search_opts o;
  memset(&o, 0, sizeof o);
  tq_search_settings_init(&o.s);
  o.threads = omp_get_max_threads();
  tq_argv a;
  int rc;
  if (!tq_args_parse(&search_cmd, argc, argv, &a, &rc))
    rc = tq_args_given(&search_cmd, &a, "resume") ? settings_for_resume(&o, &a) : settings_from_args(&o, &a);
  if (rc) {
    tq_search_settings_free(&o.s);
    tq_search_abort_workers(comm);
    return rc;
  }
  tq_status st = tq_search_run(comm, &o.s, o.out, tq_args_given(&search_cmd, &a, "resume") != NULL, o.threads, stdout);
  tq_search_settings_free(&o.s);
  if (st) return tq_cli_error("%s", tq_last_error());
  return 0;
}

int tq_cmd_search(int argc, char **argv) {
  if (tq_args_help_asked(&search_cmd, argc, argv)) return 0;
  tq_search_comm comm;
  if (tq_search_comm_init(&comm)) return tq_cli_error("search: %s", tq_last_error());
  int rc;
  if (comm.rank > 0) {
    tq_status st = tq_search_worker(&comm);
    rc = st ? tq_cli_error("%s", tq_last_error()) : 0;
  } else {
    rc = run_rank0(&comm, argc, argv);
  }
  tq_search_comm_finalize(&comm);
  return rc;
}
