/* tinyq train: float training or QAT of a zoo model, with resume. */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "qsetup.h"
#include "task.h"
#include "tinyq/zoo.h"

static const char *USAGE =
    "usage: tinyq train --model NAME --data SPEC --out RUN_DIR [options]\n"
    "       tinyq train --init MODEL.tqm --data SPEC --out RUN_DIR [options]\n"
    "       tinyq train --resume RUN_DIR [--epochs N] [--threads T] [--progress MODE]\n\n"
    "  --model NAME          resnet8 | dscnn | fc_autoencoder; without it, the architecture\n"
    "                        of the --init file (e.g. from tinyq import) is trained\n"
    "  --data SPEC           fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR\n"
    "  --out RUN_DIR         run directory: log.csv, best.tqm, last.tqm, model.tqm\n"
    "  --epochs N            (model default; resnet8: 15)\n"
    "  --batch B             (model default; resnet8: 32)\n"
    "  --optimizer adam|sgd  (adam: Keras defaults beta1 0.9, beta2 0.999, eps 1e-7)\n"
    "  --lr X                base learning rate (resnet8: 1e-3)\n"
    "  --schedule SPEC       constant | exp:RATE | piecewise:LR@EPOCHS,...,LR\n"
    "  --loss L              sparse_categorical_crossentropy | categorical_crossentropy | mse\n"
    "  --val-split F         last fraction of the training data for validation (0.1)\n"
    "  --augment SPEC        none | shift=F,flip (resnet8: shift=0.1)\n"
    "  --scaling S           unit (pixel/255) | raw (0..255) | centered (pixel/127.5-1)\n"
    "  --seed S              every random choice follows from it (1)\n"
    "  --threads T           OpenMP threads (2); same seed and threads -> identical run\n"
    "  --early-stopping P    stop after P epochs without improvement of --monitor\n"
    "  --monitor M           val_loss | val_accuracy | loss | accuracy (val_loss)\n"
    "  --restore-best        end with the weights of the best epoch\n"
    "  --train-limit N       use only the first N training samples\n"
    "  --max-steps N         at most N steps per epoch\n"
    "  --progress MODE       bar | lines | none (bar on a terminal, else lines)\n"
    "quantization-aware training:\n"
    "  --quant CONFIG.json   per-layer quantizers (keys: layer names or Dense, Conv2D,\n"
    "                        DepthwiseConv2D, Activation)\n"
    "  --flat BITS           every kernel and activation at BITS bits, biases at 31\n"
    "  --alpha auto|auto_po2 override every alpha ('auto_po2': power-of-two scales)\n"
    "  --init MODEL.tqm      start from these (float) weights\n"
    "  --freeze-bn E|never   QAT: folded batch norms normalise with batch statistics and\n"
    "                        update their moving ones until epoch E, then use the moving\n"
    "                        ones as deployed (0 with --init: the float model's; never\n"
    "                        without)\n"
    "  --qkeras-po2-floor    keep QKeras' power-of-two scale floor (the study's po2\n"
    "                        arithmetic: biases below 128 vanish; see README)\n";

enum {
  O_MODEL, O_DATA, O_OUT, O_EPOCHS, O_BATCH, O_OPT, O_LR, O_SCHED, O_LOSS, O_VAL, O_AUG,
  O_SCALING, O_SEED, O_THREADS, O_EARLY, O_MONITOR, O_RESTORE, O_LIMIT, O_STEPS, O_PROGRESS,
  O_QUANT, O_FLAT, O_ALPHA, O_INIT, O_RESUME, O_FLOOR, O_FREEZE, O_COUNT
};

static tq_opt make_opts[O_COUNT] = {
    [O_MODEL] = {"model", 1, NULL},      [O_DATA] = {"data", 1, NULL},
    [O_OUT] = {"out", 1, NULL},          [O_EPOCHS] = {"epochs", 1, NULL},
    [O_BATCH] = {"batch", 1, NULL},      [O_OPT] = {"optimizer", 1, NULL},
    [O_LR] = {"lr", 1, NULL},            [O_SCHED] = {"schedule", 1, NULL},
    [O_LOSS] = {"loss", 1, NULL},        [O_VAL] = {"val-split", 1, NULL},
    [O_AUG] = {"augment", 1, NULL},      [O_SCALING] = {"scaling", 1, NULL},
    [O_SEED] = {"seed", 1, NULL},        [O_THREADS] = {"threads", 1, NULL},
    [O_EARLY] = {"early-stopping", 1, NULL}, [O_MONITOR] = {"monitor", 1, NULL},
    [O_RESTORE] = {"restore-best", 0, NULL}, [O_LIMIT] = {"train-limit", 1, NULL},
    [O_STEPS] = {"max-steps", 1, NULL},  [O_PROGRESS] = {"progress", 1, NULL},
    [O_QUANT] = {"quant", 1, NULL},      [O_FLAT] = {"flat", 1, NULL},
    [O_ALPHA] = {"alpha", 1, NULL},      [O_INIT] = {"init", 1, NULL},
    [O_RESUME] = {"resume", 1, NULL},    [O_FLOOR] = {"qkeras-po2-floor", 0, NULL},
    [O_FREEZE] = {"freeze-bn", 1, NULL},
};

/* Every setting of a run, as stored in the checkpoints' "task" metadata for --resume. */
typedef struct {
  char model[64], data[1024], out[1024], optimizer[16], schedule[256], loss[64], augment[128],
      scaling[16], monitor[32], progress[8], quant[1024], alpha[16], init[1024];
  int epochs, batch, seed, threads, early, restore, limit, steps, flat, po2_floor;
  int freeze_bn; /* QAT: first epoch with frozen folded-BN statistics, -1 = never */
  double lr, val_split;
} run_settings;

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

static char *settings_json(const run_settings *s) {
  cJSON *root = cJSON_CreateObject(), *t = cJSON_AddObjectToObject(root, "task");
  cJSON_AddStringToObject(t, "model", s->model);
  cJSON_AddStringToObject(t, "data", s->data);
  cJSON_AddStringToObject(t, "out", s->out);
  cJSON_AddStringToObject(t, "optimizer", s->optimizer);
  cJSON_AddStringToObject(t, "schedule", s->schedule);
  cJSON_AddStringToObject(t, "loss", s->loss);
  cJSON_AddStringToObject(t, "augment", s->augment);
  cJSON_AddStringToObject(t, "scaling", s->scaling);
  cJSON_AddStringToObject(t, "monitor", s->monitor);
  cJSON_AddStringToObject(t, "quant", s->quant);
  cJSON_AddStringToObject(t, "alpha", s->alpha);
  cJSON_AddStringToObject(t, "init", s->init);
  cJSON_AddNumberToObject(t, "epochs", s->epochs);
  cJSON_AddNumberToObject(t, "batch", s->batch);
  cJSON_AddNumberToObject(t, "seed", s->seed);
  cJSON_AddNumberToObject(t, "threads", s->threads);
  cJSON_AddNumberToObject(t, "early_stopping", s->early);
  cJSON_AddBoolToObject(t, "restore_best", s->restore);
  cJSON_AddNumberToObject(t, "train_limit", s->limit);
  cJSON_AddNumberToObject(t, "max_steps", s->steps);
  cJSON_AddNumberToObject(t, "flat", s->flat);
  cJSON_AddBoolToObject(t, "qkeras_po2_floor", s->po2_floor);
  cJSON_AddNumberToObject(t, "freeze_bn", s->freeze_bn);
  cJSON_AddNumberToObject(t, "lr", s->lr);
  cJSON_AddNumberToObject(t, "val_split", s->val_split);
  char *out = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return out;
}

/* A checkpoint is a file anyone can edit (its CRC is no signature): every number in it is
 * range-checked like the option it came from before it is used (threads: 100000 crashed OpenMP,
 * epochs_done: -3 rewrote the log). */
static int checked_num(const cJSON *t, const char *key, double lo, double hi, double *out, const char *path) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, key);
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
    return tq_cli_error("resume: %s: checkpoint setting '%s' is %s, expected a number in %g..%g", path, key,
                        cJSON_IsNumber(v) ? "out of range" : (v ? "not a number" : "missing"), lo, hi);
  *out = v->valuedouble;
  return 0;
}

static int settings_from_json(run_settings *s, const char *json, const char *path) {
  cJSON *root = cJSON_Parse(json ? json : "");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "task");
  if (!cJSON_IsObject(t)) {
    cJSON_Delete(root);
    return tq_cli_error("%s: no training task in the checkpoint; cannot resume", path);
  }
#define STR(f, key) copy(s->f, sizeof s->f, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, key)))
  STR(model, "model"); STR(data, "data"); STR(out, "out"); STR(optimizer, "optimizer");
  STR(schedule, "schedule"); STR(loss, "loss"); STR(augment, "augment"); STR(scaling, "scaling");
  STR(monitor, "monitor"); STR(quant, "quant"); STR(alpha, "alpha"); STR(init, "init");
#undef STR
  /* the same ranges as the options (settings_from_args) */
  static const struct {
    const char *key;
    size_t off;
    double lo, hi;
  } ints[] = {
      {"epochs", offsetof(run_settings, epochs), 1, 100000},
      {"batch", offsetof(run_settings, batch), 1, 65536},
      {"seed", offsetof(run_settings, seed), 0, 2147483647},
      {"threads", offsetof(run_settings, threads), 1, 256},
      {"early_stopping", offsetof(run_settings, early), 0, 100000},
      {"train_limit", offsetof(run_settings, limit), 0, 2147483647},
      {"max_steps", offsetof(run_settings, steps), 0, 2147483647},
      {"flat", offsetof(run_settings, flat), 0, 32},
  };
  double v = 0;
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    if (checked_num(t, ints[i].key, ints[i].lo, ints[i].hi, &v, path)) {
      cJSON_Delete(root);
      return 1;
    }
    *(int *)((char *)s + ints[i].off) = (int)v;
  }
  if (checked_num(t, "lr", 1e-12, 100, &s->lr, path) || checked_num(t, "val_split", 0, 0.99, &s->val_split, path)) {
    cJSON_Delete(root);
    return 1;
  }
  s->restore = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "restore_best"));
  s->po2_floor = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "qkeras_po2_floor"));
  /* runs from before --freeze-bn updated the statistics throughout */
  s->freeze_bn = -1;
  if (cJSON_GetObjectItemCaseSensitive(t, "freeze_bn")) {
    if (checked_num(t, "freeze_bn", -1, 100000, &v, path)) {
      cJSON_Delete(root);
      return 1;
    }
    s->freeze_bn = (int)v;
  }
  cJSON_Delete(root);
  if (s->model[0] ? !tq_zoo_find(s->model) : !s->init[0])
    return tq_cli_error("resume: %s: checkpoint names no known model ('%s')", path, s->model);
  if (s->flat && s->quant[0])
    return tq_cli_error("resume: %s: checkpoint has both flat and quant", path);
  return 0;
}

/* The training state of a checkpoint, checked against the run it belongs to before the trainer
 * trusts it (step: -1 made Adam's bias correction divide by zero). */
static int check_train_state(const char *meta, const run_settings *s, int train_n, const char *path) {
  cJSON *root = cJSON_Parse(meta ? meta : "");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "train_state");
  double done = 0, step = 0, best_epoch = 0, wait = 0;
  int rc = 0;
  if (!cJSON_IsObject(t))
    rc = tq_cli_error("resume: %s: no training state in the checkpoint", path);
  else if (!(rc = checked_num(t, "epochs_done", 0, 100000, &done, path))) {
    double steps_per_epoch = ceil((double)train_n / s->batch);
    if (s->steps > 0 && s->steps < steps_per_epoch) steps_per_epoch = s->steps;
    if (!(rc = checked_num(t, "step", done, done * steps_per_epoch, &step, path)) &&
        !(rc = checked_num(t, "best_epoch", 0, done, &best_epoch, path)))
      rc = checked_num(t, "wait", 0, done, &wait, path);
  }
  cJSON_Delete(root);
  return rc;
}

/* The loss of a model file's architecture trained without --model: an imported Keras model's own
 * (mean squared error or a cross-entropy), else sparse cross-entropy. */
static const char *file_loss(const char *path) {
  tq_model *m = NULL;
  char *meta = NULL;
  const char *loss = "sparse_categorical_crossentropy";
  if (tq_model_load(path, &m, &meta, 0) == TQ_OK) {
    cJSON *root = cJSON_Parse(meta ? meta : "");
    const char *k = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "import"), "loss"));
    if (k && (!strcmp(k, "mse") || !strcmp(k, "mean_squared_error"))) loss = "mse";
    cJSON_Delete(root);
  }
  tq_model_free(m);
  tq_free(meta);
  return loss;
}

static int settings_from_args(run_settings *s, tq_opt *o) {
  const char *model = o[O_MODEL].value;
  if (!model && !o[O_INIT].value)
    return tq_cli_usage_error("train: --model is required (resnet8, dscnn, fc_autoencoder), or --init MODEL.tqm");
  const tq_zoo_entry *z = model ? tq_zoo_find(model) : NULL;
  if (model && !z) {
    tq_zoo_build(&(tq_model *){NULL}, model, NULL);
    return tq_cli_usage_error("train: --model: %s", tq_last_error());
  }
  if (!o[O_OUT].value) return tq_cli_usage_error("train: --out RUN_DIR is required");
  const tq_recipe *r = tq_recipe_for(model ? model : "");
  copy(s->model, sizeof s->model, model);
  copy(s->data, sizeof s->data, o[O_DATA].value ? o[O_DATA].value : "fashion-mnist");
  copy(s->out, sizeof s->out, o[O_OUT].value);
  copy(s->optimizer, sizeof s->optimizer, o[O_OPT].value ? o[O_OPT].value : "adam");
  copy(s->schedule, sizeof s->schedule, o[O_SCHED].value ? o[O_SCHED].value : r->schedule);
  copy(s->loss, sizeof s->loss,
       o[O_LOSS].value ? o[O_LOSS].value : z ? tq_loss_name(z->loss) : file_loss(o[O_INIT].value));
  copy(s->augment, sizeof s->augment, o[O_AUG].value ? o[O_AUG].value : r->augment);
  copy(s->scaling, sizeof s->scaling, o[O_SCALING].value ? o[O_SCALING].value : "unit");
  copy(s->monitor, sizeof s->monitor, o[O_MONITOR].value ? o[O_MONITOR].value : "val_loss");
  copy(s->quant, sizeof s->quant, o[O_QUANT].value);
  copy(s->alpha, sizeof s->alpha, o[O_ALPHA].value);
  copy(s->init, sizeof s->init, o[O_INIT].value);
  s->epochs = r->epochs;
  s->batch = r->batch;
  s->lr = r->lr;
  s->seed = 1;
  s->threads = 2;
  s->val_split = 0.1;
  s->restore = o[O_RESTORE].value != NULL;
  s->po2_floor = o[O_FLOOR].value != NULL;
  if (tq_args_int(o, O_COUNT, "epochs", 1, 100000, &s->epochs) ||
      tq_args_int(o, O_COUNT, "batch", 1, 65536, &s->batch) ||
      tq_args_int(o, O_COUNT, "seed", 0, 2147483647, &s->seed) ||
      tq_args_int(o, O_COUNT, "threads", 1, 256, &s->threads) ||
      tq_args_int(o, O_COUNT, "early-stopping", 0, 100000, &s->early) ||
      tq_args_int(o, O_COUNT, "train-limit", 0, 2147483647, &s->limit) ||
      tq_args_int(o, O_COUNT, "max-steps", 0, 2147483647, &s->steps) ||
      tq_args_int(o, O_COUNT, "flat", 1, 32, &s->flat) ||
      tq_args_double(o, O_COUNT, "lr", 1e-12, 100, &s->lr) ||
      tq_args_double(o, O_COUNT, "val-split", 0, 0.99, &s->val_split))
    return 2;
  if (s->flat && s->quant[0])
    return tq_cli_usage_error("train: --flat and --quant are exclusive");
  s->freeze_bn = s->init[0] ? 0 : -1;
  const char *fz = o[O_FREEZE].value;
  if (fz) {
    char *end;
    long e = strtol(fz, &end, 10);
    if (!strcmp(fz, "never"))
      s->freeze_bn = -1;
    else if (end != fz && !*end && e >= 0 && e <= 100000)
      s->freeze_bn = (int)e;
    else
      return tq_cli_usage_error("--freeze-bn: expected an epoch in 0..100000 or 'never', got '%s'", fz);
  }
  return 0;
}

static int run(run_settings *s, int resume, const char *progress) {
  tq_train_config c;
  tq_train_config_defaults(&c);
  if (progress) {
    if (!strcmp(progress, "bar")) c.progress = 1;
    else if (!strcmp(progress, "lines")) c.progress = 0;
    else if (!strcmp(progress, "none")) c.progress = -1;
    else return tq_cli_usage_error("--progress: expected bar, lines or none, got '%s'", progress);
  }
  if (tq_optimizer_parse(s->optimizer, &c.optimizer) || tq_schedule_parse(s->schedule, &c.schedule) ||
      tq_loss_parse(s->loss, &c.loss) || tq_augment_parse(s->augment, &c.augment))
    return tq_cli_usage_error("train: %s", tq_last_error());
  c.epochs = s->epochs;
  c.batch = s->batch;
  c.lr = (float)s->lr;
  c.seed = (uint64_t)s->seed;
  c.val_split = s->val_split;
  c.out_dir = s->out;
  c.monitor = s->monitor;
  c.early_stopping = s->early;
  c.restore_best = s->restore;
  c.max_steps_per_epoch = s->steps;
  c.freeze_bn_after = s->freeze_bn;
  omp_set_num_threads(s->threads);

  int rc = 1;
  tq_dataset full = {0}, train = {0}, val = {0}, test = {0};
  tq_model *m = NULL;
  char *meta = NULL, *extra = NULL;
  tq_train_state state;
  tq_train_state_init(&state, &c);
  if (tq_task_load_data(&full, s->data, 1, s->scaling) || tq_task_limit(&full, s->limit) ||
      tq_dataset_split_tail(&train, &val, &full, c.val_split)) {
    rc = tq_cli_error("%s", tq_last_error());
    goto done;
  }
  tq_dataset_free(&full);
  /* A batch larger than the data only allocates activations no step uses (--batch 5000 on 540
   * samples took 11.8 GB); capped at the larger split, every step and result stays the same. */
  if (c.batch > train.n && c.batch > val.n) c.batch = train.n > val.n ? train.n : val.n;
  char path[2048];
  if (resume) {
    snprintf(path, sizeof path, "%s/last.tqm", s->out);
    if (tq_model_load(path, &m, &meta, c.batch)) {
      rc = tq_cli_error("resume: %s", tq_last_error());
      goto done;
    }
    if ((rc = check_train_state(meta, s, train.n, path))) goto done;
    rc = 1;
    if (tq_train_meta_parse(meta, &state)) {
      rc = tq_cli_error("resume: %s", tq_last_error());
      goto done;
    }
    printf("Resuming %s from epoch %d of %d (%s)\n", s->out, state.epochs_done, c.epochs, path);
  } else if (!s->model[0]) {
    /* No zoo model: the --init file's own architecture and weights (an imported Keras model) */
    if (tq_model_load(s->init, &m, NULL, c.batch)) {
      rc = tq_cli_error("--init: %s", tq_last_error());
      goto done;
    }
    tq_shape3 in = tq_model_input_shape(m);
    size_t k = tq_shape_size(tq_model_output_shape(m));
    if (in.h != train.h || in.w != train.w || in.c != train.c) {
      rc = tq_cli_error("--init: %s takes %dx%dx%d inputs, %s has %dx%dx%d", s->init, in.h, in.w, in.c, s->data,
                        train.h, train.w, train.c);
      goto done;
    }
    if (c.loss != TQ_LOSS_MSE && k != (size_t)train.classes) {
      rc = tq_cli_error("--init: %s has %zu outputs, %s has %d classes", s->init, k, s->data, train.classes);
      goto done;
    }
    tq_model_set_qkeras_po2_floor(m, s->po2_floor);
    if (tq_qsetup_apply(m, s->quant[0] ? s->quant : NULL, s->flat, s->alpha[0] ? s->alpha : NULL)) {
      rc = tq_cli_error("%s", tq_last_error());
      goto done;
    }
  } else {
    tq_zoo_options zo = {{train.h, train.w, train.c}, train.classes};
    if (tq_zoo_build(&m, s->model, &zo) || tq_model_finalize(m, c.batch, tq_zoo_find(s->model)->init, c.seed)) {
      rc = tq_cli_error("%s", tq_last_error());
      goto done;
    }
    tq_model_set_qkeras_po2_floor(m, s->po2_floor);
    if (s->init[0] && tq_qsetup_init_from(m, s->init)) {
      rc = tq_cli_error("--init: %s", tq_last_error());
      goto done;
    }
    if (tq_qsetup_apply(m, s->quant[0] ? s->quant : NULL, s->flat, s->alpha[0] ? s->alpha : NULL)) {
      rc = tq_cli_error("%s", tq_last_error());
      goto done;
    }
  }
  extra = settings_json(s);
  c.meta_extra = extra;
  if (tq_mkdirs(s->out)) {
    rc = tq_cli_error("%s", tq_last_error());
    goto done;
  }
  printf("Training %s on %s: %d train / %d validation samples, %d epochs, batch %d%s\n",
         s->model[0] ? s->model : s->init,
         s->data, train.n, val.n, c.epochs, c.batch, tq_model_is_quantized(m) ? ", QAT" : "");
  fflush(stdout);
  if (tq_train(m, &train, &val, &c, &state)) {
    rc = tq_cli_error("train: %s", tq_last_error());
    goto done;
  }
  snprintf(path, sizeof path, "%s/model.tqm", s->out);
  char *final_meta = tq_train_meta_json(&c, &state);
  tq_status st = tq_model_save(path, m, final_meta, 0);
  free(final_meta);
  if (st) {
    rc = tq_cli_error("%s", tq_last_error());
    goto done;
  }
  /* The model is saved: a test set that cannot be used is reported (and fails the run) without
   * losing anything already written. */
  printf("run directory: %s (model.tqm, best.tqm, last.tqm, log.csv); %.1f s of training\n", s->out,
         state.seconds);
  fflush(stdout);
  double tl, ta;
  if (tq_task_load_data(&test, s->data, 0, s->scaling)) {
    rc = tq_cli_error("test set of %s: %s", s->data, tq_last_error());
    goto done;
  }
  tq_shape3 in = tq_model_input_shape(m);
  if (test.h != in.h || test.w != in.w || test.c != in.c) {
    rc = tq_cli_error("test set of %s: samples are %dx%dx%d, the model takes %dx%dx%d", s->data, test.h,
                      test.w, test.c, in.h, in.w, in.c);
    goto done;
  }
  if (tq_evaluate(m, &test, c.loss, c.batch, &tl, &ta)) {
    rc = tq_cli_error("test set of %s: %s", s->data, tq_last_error());
    goto done;
  }
  if (c.loss == TQ_LOSS_MSE)
    printf("test: loss %.6f (%d samples)\n", tl, test.n);
  else
    printf("test: loss %.4f, accuracy %.4f (%d samples)\n", tl, ta, test.n);
  rc = 0;
done:
  tq_dataset_free(&train);
  tq_dataset_free(&val);
  tq_dataset_free(&test);
  tq_dataset_free(&full);
  tq_model_free(m);
  tq_free(meta);
  free(extra);
  return rc;
}

int tq_cmd_train(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  tq_opt o[O_COUNT];
  memcpy(o, make_opts, sizeof o);
  const char *pos[1];
  int npos, rc = tq_args_parse("train", argc, argv, o, O_COUNT, pos, 0, &npos);
  if (rc) return rc;
  run_settings s;
  memset(&s, 0, sizeof s);
  if (o[O_RESUME].value) {
    /* the run continues exactly as it started: only its length, its thread count (results do
     * not depend on it) and the display may change */
    for (int k = 0; k < O_COUNT; k++)
      if (o[k].value && k != O_RESUME && k != O_EPOCHS && k != O_THREADS && k != O_PROGRESS)
        return tq_cli_usage_error("train: --%s cannot be changed when resuming (only --epochs, --threads "
                                  "and --progress)", o[k].name);
    char path[2048];
    snprintf(path, sizeof path, "%s/last.tqm", o[O_RESUME].value);
    tq_model *m = NULL;
    char *meta = NULL;
    if (tq_model_load(path, &m, &meta, 1)) return tq_cli_error("resume: %s", tq_last_error());
    tq_model_free(m);
    rc = settings_from_json(&s, meta, path);
    tq_free(meta);
    if (rc) return rc;
    copy(s.out, sizeof s.out, o[O_RESUME].value);
    if (tq_args_int(o, O_COUNT, "epochs", 1, 100000, &s.epochs) ||
        tq_args_int(o, O_COUNT, "threads", 1, 256, &s.threads))
      return 2;
    return run(&s, 1, o[O_PROGRESS].value);
  }
  if ((rc = settings_from_args(&s, o))) return rc;
  return run(&s, 0, o[O_PROGRESS].value);
}
