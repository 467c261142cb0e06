/* tinyq search: AutoQKeras-style mixed-precision search (SPEC §5), one process or MPI ranks. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "task.h"
#include "tinyq/search.h"
#include "tinyq/zoo.h"

static const char *USAGE =
    "usage: tinyq search --model NAME --data SPEC --space SPACE.json --out DIR [options]\n"
    "       tinyq search --resume DIR [--trials N] [--threads T]\n"
    "       mpirun -n K tinyq search ...   (K trials at once; rank 0 keeps the journal)\n\n"
    "  --model NAME          resnet8 | dscnn | fc_autoencoder\n"
    "  --data SPEC           fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR (fashion-mnist)\n"
    "  --space SPACE.json    AutoQKeras quantization_config + limit (+ goal), e.g.\n"
    "                        examples/search_space_study.json\n"
    "  --out DIR             search directory: search.json, trials.jsonl, started.jsonl,\n"
    "                        best.json, pareto.csv\n"
    "  --trials N            trials to run (20)\n"
    "  --epochs E            training epochs per trial (1)\n"
    "  --train-fraction F    train on the first F of the seed-shuffled training portion (1);\n"
    "                        validation: the last 10 % of the training split, always in full\n"
    "  --init MODEL.tqm      transfer these float weights into every trial\n"
    "  --tuner KIND          bayesian (Gaussian process) | random (bayesian)\n"
    "  --seed S              tuner, weights, data order and subset (1)\n"
    "  --threads T           OpenMP threads per rank (OMP_NUM_THREADS, else all cores)\n"
    "  --batch B, --lr X, --schedule S, --augment A, --scaling S\n"
    "                        training recipe of the trials (the model's defaults)\n"
    "goal (defaults: the space file's \"goal\".\"params\", else the study's settings):\n"
    "  --delta-p P, --delta-n N   forgiving factor in percent (5, 5)\n"
    "  --rate R                   size ratio that earns delta (2)\n"
    "  --stress S                 reference multiplier (1)\n"
    "  --ref-bits B, --ref-bias-bits B, --input-bits B   reference sizes (16, 31, 8)\n"
    "results: best.json is a configuration for `tinyq train --quant DIR/best.json --alpha auto_po2\n"
    "--init MODEL.tqm`; pareto.csv the non-dominated trials (bits vs metric); the journal\n"
    "trials.jsonl one line per finished trial. --resume continues an interrupted search without\n"
    "repeating or losing a trial (with --trials N: up to N trials).\n";

enum {
  O_MODEL, O_DATA, O_SPACE, O_OUT, O_TRIALS, O_EPOCHS, O_FRACTION, O_INIT, O_TUNER, O_SEED, O_THREADS,
  O_BATCH, O_LR, O_SCHED, O_AUG, O_SCALING, O_DP, O_DN, O_RATE, O_STRESS, O_REFB, O_REFBB, O_INB,
  O_RESUME, O_STEPS, O_LIMIT, O_INITIAL, O_COUNT
};

static const tq_opt search_opts[O_COUNT] = {
    [O_MODEL] = {"model", 1, NULL},         [O_DATA] = {"data", 1, NULL},
    [O_SPACE] = {"space", 1, NULL},         [O_OUT] = {"out", 1, NULL},
    [O_TRIALS] = {"trials", 1, NULL},       [O_EPOCHS] = {"epochs", 1, NULL},
    [O_FRACTION] = {"train-fraction", 1, NULL}, [O_INIT] = {"init", 1, NULL},
    [O_TUNER] = {"tuner", 1, NULL},         [O_SEED] = {"seed", 1, NULL},
    [O_THREADS] = {"threads", 1, NULL},     [O_BATCH] = {"batch", 1, NULL},
    [O_LR] = {"lr", 1, NULL},               [O_SCHED] = {"schedule", 1, NULL},
    [O_AUG] = {"augment", 1, NULL},         [O_SCALING] = {"scaling", 1, NULL},
    [O_DP] = {"delta-p", 1, NULL},          [O_DN] = {"delta-n", 1, NULL},
    [O_RATE] = {"rate", 1, NULL},           [O_STRESS] = {"stress", 1, NULL},
    [O_REFB] = {"ref-bits", 1, NULL},       [O_REFBB] = {"ref-bias-bits", 1, NULL},
    [O_INB] = {"input-bits", 1, NULL},      [O_RESUME] = {"resume", 1, NULL},
    /* hidden, for tests and benchmarks */
    [O_STEPS] = {"max-steps", 1, NULL},     [O_LIMIT] = {"train-limit", 1, NULL},
    [O_INITIAL] = {"initial-points", 1, NULL},
};

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static int read_text(const char *path, char **out) {
  unsigned char *data;
  size_t size;
  if (tq_read_file(path, &data, &size)) return tq_cli_error("--space: %s", tq_last_error());
  char *t = realloc(data, size + 1);
  if (!t) {
    free(data);
    return tq_cli_error("%s: out of memory", path);
  }
  t[size] = 0;
  *out = t;
  return 0;
}

/* Settings of a new search from the options. */
static int settings_from_args(tq_search_settings *s, tq_opt *o) {
  const char *model = o[O_MODEL].value;
  if (!model) return tq_cli_usage_error("search: --model is required (resnet8, dscnn, fc_autoencoder)");
  const tq_zoo_entry *z = tq_zoo_find(model);
  if (!z) {
    tq_model *m = NULL;
    tq_zoo_build(&m, model, NULL);
    tq_model_free(m);
    return tq_cli_usage_error("search: --model: %s", tq_last_error());
  }
  if (!o[O_SPACE].value) return tq_cli_usage_error("search: --space SPACE.json is required");
  if (!o[O_OUT].value) return tq_cli_usage_error("search: --out DIR is required");
  const tq_recipe *r = tq_recipe_for(model);
  copy(s->model, sizeof s->model, model);
  if (o[O_DATA].value) copy(s->data, sizeof s->data, o[O_DATA].value);
  if (o[O_SCALING].value) copy(s->scaling, sizeof s->scaling, o[O_SCALING].value);
  copy(s->init, sizeof s->init, o[O_INIT].value);
  copy(s->space_file, sizeof s->space_file, o[O_SPACE].value);
  copy(s->schedule, sizeof s->schedule, o[O_SCHED].value ? o[O_SCHED].value : r->schedule);
  copy(s->augment, sizeof s->augment, o[O_AUG].value ? o[O_AUG].value : r->augment);
  s->batch = r->batch;
  char lr[32];
  snprintf(lr, sizeof lr, "%g", (double)r->lr); /* 1e-3, not the float's 0.0010000000474974513 */
  s->lr = atof(lr);
  int steps = 0;
  if (tq_args_int(o, O_COUNT, "trials", 1, 1000000, &s->trials) ||
      tq_args_int(o, O_COUNT, "epochs", 1, 100000, &s->epochs) ||
      tq_args_double(o, O_COUNT, "train-fraction", 1e-9, 1, &s->train_fraction) ||
      tq_args_int(o, O_COUNT, "seed", 0, 2147483647, &s->seed) ||
      tq_args_int(o, O_COUNT, "batch", 1, 65536, &s->batch) ||
      tq_args_double(o, O_COUNT, "lr", 1e-12, 100, &s->lr) ||
      tq_args_int(o, O_COUNT, "max-steps", 0, 2147483647, &steps) ||
      tq_args_int(o, O_COUNT, "train-limit", 0, 2147483647, &s->train_limit) ||
      tq_args_int(o, O_COUNT, "initial-points", 0, 1000000, &s->initial_points))
    return 2;
  s->max_steps = steps;
  if (o[O_TUNER].value && tq_tuner_parse_kind(o[O_TUNER].value, &s->tuner))
    return tq_cli_usage_error("--tuner: %s", tq_last_error());
  int rc = read_text(s->space_file, &s->space_json);
  if (rc) return rc;
  /* goal: the study's defaults, then the space file's, then the options */
  if (tq_space_read_goal(s->space_json, s->space_file, &s->goal, NULL))
    return tq_cli_error("%s", tq_last_error());
  if (tq_args_double(o, O_COUNT, "delta-p", 0, 1000, &s->goal.delta_p) ||
      tq_args_double(o, O_COUNT, "delta-n", 0, 1000, &s->goal.delta_n) ||
      tq_args_double(o, O_COUNT, "rate", 1.0001, 1e6, &s->goal.rate) ||
      tq_args_double(o, O_COUNT, "stress", 1e-6, 1e6, &s->goal.stress) ||
      tq_args_int(o, O_COUNT, "ref-bits", 1, 32, &s->goal.ref_bits) ||
      tq_args_int(o, O_COUNT, "ref-bias-bits", 1, 32, &s->goal.ref_bias_bits) ||
      tq_args_int(o, O_COUNT, "input-bits", 1, 32, &s->goal.input_bits))
    return 2;
  return 0;
}

/* Settings of a search to resume: its search.json, with --trials. */
static int settings_for_resume(tq_search_settings *s, tq_opt *o) {
  for (int k = 0; k < O_COUNT; k++)
    if (o[k].value && k != O_RESUME && k != O_TRIALS && k != O_THREADS)
      return tq_cli_usage_error("search: --%s cannot be changed when resuming (only --trials and --threads)",
                                o[k].name);
  char path[2048];
  snprintf(path, sizeof path, "%s/search.json", o[O_RESUME].value);
  unsigned char *data;
  size_t size;
  if (tq_read_file(path, &data, &size)) return tq_cli_error("--resume: %s", tq_last_error());
  char *text = realloc(data, size + 1);
  if (!text) {
    free(data);
    return tq_cli_error("%s: out of memory", path);
  }
  text[size] = 0;
  tq_status st = tq_search_settings_parse(s, text, path);
  free(text);
  if (st) return tq_cli_error("--resume: %s", tq_last_error());
  if (tq_args_int(o, O_COUNT, "trials", 1, 1000000, &s->trials)) return 2;
  return 0;
}

static int run_rank0(const tq_search_comm *comm, int argc, char **argv) {
  tq_opt o[O_COUNT];
  memcpy(o, search_opts, sizeof o);
  const char *pos[1];
  int npos, rc = tq_args_parse("search", argc, argv, o, O_COUNT, pos, 0, &npos);
  tq_search_settings s;
  tq_search_settings_init(&s);
  int threads = omp_get_max_threads();
  if (!rc) rc = tq_args_int(o, O_COUNT, "threads", 1, 256, &threads);
  const char *out = o[O_RESUME].value ? o[O_RESUME].value : o[O_OUT].value;
  if (!rc) rc = o[O_RESUME].value ? settings_for_resume(&s, o) : settings_from_args(&s, o);
  if (rc) {
    tq_search_settings_free(&s);
    tq_search_abort_workers(comm);
    return rc;
  }
  tq_status st = tq_search_run(comm, &s, out, o[O_RESUME].value != NULL, threads, stdout);
  tq_search_settings_free(&s);
  if (st) return tq_cli_error("%s", tq_last_error());
  return 0;
}

int tq_cmd_search(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
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
