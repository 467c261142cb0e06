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
#include "options.h"
#include "qsetup.h"
#include "task.h"
#include "tinyq/audio.h"
#include "tinyq/kernels.h"
#include "tinyq/layer_stats.h"
#include "tinyq/zoo.h"

static const char USAGE[] =
    "usage: tinyq train --model NAME --data SPEC --out RUN_DIR [options]\n"
    "       tinyq train --init MODEL.tqm --data SPEC --out RUN_DIR [options]\n"
    "       tinyq train --resume RUN_DIR [--epochs N] [--threads T] [--progress MODE]\n";

/* Every setting of a run, as stored in the checkpoints' "task" metadata for --resume. */
typedef struct {
  char model[64], data[1024], out[1024], optimizer[16], schedule[256], loss[64], augment[128],
      scaling[16], monitor[32], progress[8], quant[1024], alpha[16], init[1024];
  int epochs, batch, seed, threads, early, restore, limit, steps, flat, po2_floor;
  int freeze_bn; /* QAT: first epoch with frozen folded-BN statistics, -1 = never */
  int freeze_ranges; /* QAT: first epoch with static activation scales, -1 = never */
  char layer_stats[8];
  int save_every;
  double lr, val_split, width;
  double bn_momentum; /* 0: each batch norm keeps the model's own (Keras: 0.99; MobileNetV2 0.999) */
  int profile; /* not a setting of the run: not stored */
} run_settings;

#define S run_settings
/* The keys are the run settings JSON of every checkpoint; model files embed it, so they stay. */
static const tq_arg train_args[] = {
    {TQ_OPT_MODEL(S, model), .key = "model",
     .help = "{models}; without it, the architecture of the --init file (e.g. from tinyq import) is trained"},
    {TQ_OPT_WIDTH(S, width)},
    {TQ_OPT_DATA(S, data), .key = "data", .def = "fashion-mnist", .help = "{datasets}"},
    {.name = "out", .type = TQ_ARG_STRING, .meta = "RUN_DIR", .key = "out", TQ_AT(S, out),
     .help = "run directory: log.csv, best.tqm, last.tqm, model.tqm"},
    {TQ_OPT_EPOCHS(S, epochs), .key = "epochs", .flags = TQ_ARG_RESUMABLE, .help = "(model default; resnet8: 15)"},
    {TQ_OPT_BATCH(S, batch), .key = "batch", .help = "(model default; resnet8: 32)"},
    {.name = "optimizer", .type = TQ_ARG_STRING, .meta = "adam|sgd", .key = "optimizer", .def = "adam",
     TQ_AT(S, optimizer), .help = "adam: Keras defaults beta1 0.9, beta2 0.999, eps 1e-7"},
    {TQ_OPT_LR(S, lr), .key = "lr", .help = "base learning rate (resnet8: 1e-3)"},
    {.name = "schedule", .type = TQ_ARG_STRING, .meta = "SPEC", .key = "schedule", TQ_AT(S, schedule),
     .help = "constant | exp:RATE | piecewise:LR@EPOCHS,...,LR (model default; resnet8: exp:0.9)"},
    {.name = "loss", .type = TQ_ARG_STRING, .meta = "L", .key = "loss", TQ_AT(S, loss),
     .help = "sparse_categorical_crossentropy | categorical_crossentropy | mse (the model's)"},
    {.name = "val-split", .type = TQ_ARG_FLOAT, .meta = "F", .min = 0, .max = 0.99, .key = "val_split", .def = "0.1",
     TQ_AT(S, val_split), .help = "last fraction of the training data for validation"},
    {.name = "augment", .type = TQ_ARG_STRING, .meta = "SPEC", .key = "augment", TQ_AT(S, augment),
     .help = "none | vww | rotate=D,shift=F,zoom=F,flip,fill=zero|nearest (model default; resnet8: shift=0.1)"},
    {TQ_OPT_SCALING(S, scaling), .key = "scaling", .def = "unit",
     .help = "unit (pixel/255) | raw (0..255) | centered (pixel/127.5-1)"},
    {TQ_OPT_SEED(S, seed), .key = "seed", .def = "1", .help = "every random choice follows from it"},
    {TQ_OPT_THREADS(S, threads), .key = "threads", .def = "2", .flags = TQ_ARG_RESUMABLE,
     .help = "OpenMP threads; same seed and threads -> identical run"},
    {TQ_OPT_FLAG("profile", S, profile), .flags = TQ_ARG_RESUMABLE,
     .help = "after training, per layer and pass: ms per step, GFLOP/s, share of the time and of the measured "
             "multiply-add peak"},
    {.name = "early-stopping", .type = TQ_ARG_INT, .meta = "P", .min = 0, .max = 100000, .key = "early_stopping",
     TQ_AT(S, early), .help = "stop after P epochs without improvement of --monitor"},
    {.name = "monitor", .type = TQ_ARG_STRING, .meta = "M", .key = "monitor", .def = "val_loss", TQ_AT(S, monitor),
     .help = "val_loss | val_accuracy | loss | accuracy"},
    {TQ_OPT_FLAG("restore-best", S, restore), .key = "restore_best", .help = "end with the weights of the best epoch"},
    {TQ_OPT_COUNT("train-limit", S, limit), .key = "train_limit", .help = "use only the first N training samples"},
    {TQ_OPT_COUNT("max-steps", S, steps), .key = "max_steps", .help = "at most N steps per epoch"},
    /* no keys: the checkpoints' settings stay as they were; a resume gives them again or defaults */
    {.name = "layer-stats", .type = TQ_ARG_ENUM, .meta = "on|off", .def = "on", .flags = TQ_ARG_RESUMABLE,
     TQ_AT(S, layer_stats), .help = "per-layer, per-epoch statistics in RUN_DIR/layers.csv, warnings when updates vanish or explode"},
    {TQ_OPT_COUNT("save-every", S, save_every), .flags = TQ_ARG_RESUMABLE,
     .help = "keep RUN_DIR/epoch-NNN.tqm every N epochs (for tinyq diff)"},
    {.name = "progress", .type = TQ_ARG_ENUM, .meta = "bar|lines|none", .flags = TQ_ARG_RESUMABLE,
     TQ_AT(S, progress), .help = "(bar on a terminal, else lines)"},
    /* the run directory to continue: the run's settings come from its last.tqm */
    {.name = "resume", .type = TQ_ARG_STRING, .meta = "RUN_DIR", TQ_AT(S, out),
     .help = "continue the interrupted run in RUN_DIR with its own settings"},
    TQ_ARG_TEXT("quantization-aware training:"),
    {TQ_OPT_QUANT(S, quant), .key = "quant",
     .help = "per-layer quantizers (keys: layer names or Dense, Conv2D, DepthwiseConv2D, Activation)"},
    {TQ_OPT_FLAT(S, flat), .key = "flat", .flags = TQ_ARG_ZERO_OFF,
     .help = "every kernel and activation at BITS bits, biases at 31"},
    {TQ_OPT_ALPHA(S, alpha), .key = "alpha", .help = "override every alpha ('auto_po2': power-of-two scales)"},
    {TQ_OPT_INIT(S, init), .key = "init", .help = "start from these (float) weights"},
    {TQ_OPT_FLAG("qkeras-po2-floor", S, po2_floor), .key = "qkeras_po2_floor",
     .help = "keep QKeras' power-of-two scale floor (the study's po2 arithmetic: biases below 128 vanish; see "
             "README)"},
    {.name = "bn-momentum", .type = TQ_ARG_FLOAT, .meta = "M", .min = 0.5, .max = 0.99999, .key = "bn_momentum",
     .flags = TQ_ARG_KEY_OPTIONAL | TQ_ARG_ZERO_OFF, TQ_AT(S, bn_momentum),
     .help = "momentum of every batch norm's moving statistics (the model's: Keras' 0.99, MobileNetV2's 0.999, "
             "which needs thousands of steps before evaluation is meaningful)"},
    /* runs from before --freeze-bn have no key: they updated the statistics throughout */
    {.name = "freeze-bn", .type = TQ_ARG_INT, .meta = "E|never", .min = 0, .max = 100000, .word = "never",
     .word_value = -1, .what = "an epoch", .key = "freeze_bn", .flags = TQ_ARG_KEY_OPTIONAL, TQ_AT(S, freeze_bn),
     .help = "QAT: folded batch norms normalise with batch statistics and update their moving ones until epoch E, "
             "then use the moving ones as deployed (0 with --init: the float model's; never without)"},
    {.name = "freeze-ranges", .type = TQ_ARG_INT, .meta = "E|never", .min = 1, .max = 100000, .word = "never",
     .word_value = -1, .what = "an epoch", .key = "freeze_ranges", .flags = TQ_ARG_KEY_OPTIONAL,
     TQ_AT(S, freeze_ranges),
     .help = "QAT: activation slots use per-batch scales and learn moving averages of their ranges until epoch E, "
             "then train on static scales fixed from them, as deployed; the model keeps them (default never)"},
};
#undef S

static const tq_command train_cmd = {"train", TQ_ARGS_OF(train_args, USAGE)};


static int settings_from_json(run_settings *s, const char *json, const char *path) {
  cJSON *root = cJSON_Parse(json ? json : "");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "task");
  char where[2100];
  snprintf(where, sizeof where, "resume: %s: checkpoint", path);
  s->freeze_bn = -1;
  s->freeze_ranges = -1;
  int rc = cJSON_IsObject(t) ? tq_args_from_json(&train_cmd, t, s, where)
                             : tq_cli_error("%s: no training task in the checkpoint; cannot resume", path);
  cJSON_Delete(root);
  if (rc) return rc;
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
  char where[2100];
  snprintf(where, sizeof where, "resume: %s: checkpoint", path);
  int rc = 0;
  if (!cJSON_IsObject(t))
    rc = tq_cli_error("resume: %s: no training state in the checkpoint", path);
  else if (!(rc = tq_args_json_number(t, "epochs_done", 0, 100000, &done, where))) {
    double steps_per_epoch = ceil((double)train_n / s->batch);
    if (s->steps > 0 && s->steps < steps_per_epoch) steps_per_epoch = s->steps;
    if (!(rc = tq_args_json_number(t, "step", done, done * steps_per_epoch, &step, where)) &&
        !(rc = tq_args_json_number(t, "best_epoch", 0, done, &best_epoch, where)))
      rc = tq_args_json_number(t, "wait", 0, done, &wait, where);
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

static void copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src); }

/* A new run: the model's recipe, then the table's defaults and the options given. */
static int settings_from_args(run_settings *s, const tq_argv *a) {
  const char *model = tq_args_given(&train_cmd, a, "model"), *init = tq_args_given(&train_cmd, a, "init");
  char models[256];
  if (!model && !init)
    return tq_cli_usage_error("train: --model is required (%s), or --init MODEL.tqm",
                              tq_args_model_list(models, sizeof models, ", "));
  const tq_zoo_entry *z = model ? tq_zoo_find(model) : NULL;
  if (model && !z) {
    tq_zoo_build(&(tq_model *){NULL}, model, NULL);
    return tq_cli_usage_error("train: --model: %s", tq_last_error());
  }
  if (!tq_args_given(&train_cmd, a, "out")) return tq_args_missing(&train_cmd, "out");
  const tq_recipe *r = tq_recipe_for(model);
  if (!r) return 1;
  s->epochs = r->epochs;
  s->batch = r->batch;
  s->lr = r->lr;
  copy(s->schedule, sizeof s->schedule, r->schedule);
  copy(s->augment, sizeof s->augment, r->augment);
  if (!tq_args_given(&train_cmd, a, "loss")) copy(s->loss, sizeof s->loss, z ? tq_loss_name(z->loss) : file_loss(init));
  s->freeze_bn = init ? 0 : -1;
  s->freeze_ranges = -1;
  if (tq_args_store(&train_cmd, a, s, 1)) return 2;
  if (tq_args_given(&train_cmd, a, "lr") && !tq_args_given(&train_cmd, a, "schedule") &&
      tq_recipe_schedule_for_lr(r, s->lr, s->schedule, sizeof s->schedule))
    return tq_cli_error("train: %s", tq_last_error());
  if (s->flat && s->quant[0]) return tq_cli_usage_error("train: --flat and --quant are exclusive");
  return 0;
}

/* The run continues exactly as it started: only the options marked resumable may change. */
static int settings_for_resume(run_settings *s, const tq_argv *a) {
  int rc = tq_args_check_resume(&train_cmd, a, "resume");
  if (rc) return rc;
  char path[2048];
  snprintf(path, sizeof path, "%s/last.tqm", tq_args_given(&train_cmd, a, "resume"));
  tq_model *m = NULL;
  char *meta = NULL;
  if (tq_model_load(path, &m, &meta, 1)) return tq_cli_error("resume: %s", tq_last_error());
  tq_model_free(m);
  rc = settings_from_json(s, meta, path);
  tq_free(meta);
  if (rc) return rc;
  return tq_args_store(&train_cmd, a, s, 0);
}

static int make_config(const run_settings *s, tq_train_config *c) {
  tq_train_config_defaults(c);
  if (s->progress[0]) c->progress = !strcmp(s->progress, "bar") ? 1 : !strcmp(s->progress, "lines") ? 0 : -1;
  if (tq_optimizer_parse(s->optimizer, &c->optimizer) || tq_schedule_parse(s->schedule, &c->schedule) ||
      tq_loss_parse(s->loss, &c->loss) || tq_augment_parse(s->augment, &c->augment))
    return tq_cli_usage_error("train: %s", tq_last_error());
  c->epochs = s->epochs;
  c->batch = s->batch;
  c->lr = (float)s->lr;
  c->seed = (uint64_t)s->seed;
  c->val_split = s->val_split;
  c->out_dir = s->out;
  c->monitor = s->monitor;
  c->early_stopping = s->early;
  c->restore_best = s->restore;
  c->max_steps_per_epoch = s->steps;
  c->freeze_bn_after = s->freeze_bn;
  c->freeze_ranges_after = s->freeze_ranges;
  return 0;
}

/* What one run holds; run() frees it. */
typedef struct {
  run_settings *s;
  tq_train_config c;
  tq_train_state state;
  tq_dataset train, val, test;
  tq_model *m;
} train_run;

static int load_splits(train_run *r) {
  tq_dataset full = {0};
  tq_status st = tq_task_load_data(&full, r->s->data, 1, r->s->scaling);
  if (!st) st = tq_task_limit(&full, r->s->limit);
  if (!st) st = tq_dataset_split_tail(&r->train, &r->val, &full, r->c.val_split);
  tq_dataset_free(&full);
  if (st) return tq_cli_error("%s", tq_last_error());
  /* A batch larger than the data only allocates activations no step uses (--batch 5000 on 540
   * samples took 11.8 GB); capped at the larger split, every step and result stays the same. */
  int most = r->train.n > r->val.n ? r->train.n : r->val.n;
  if (r->c.batch > most) r->c.batch = most;
  return 0;
}

/* The model and training state of the run's last checkpoint. */
static int resume_model(train_run *r) {
  char path[2048], *meta = NULL;
  snprintf(path, sizeof path, "%s/last.tqm", r->s->out);
  int rc = tq_model_load(path, &r->m, &meta, r->c.batch) ? tq_cli_error("resume: %s", tq_last_error()) : 0;
  if (!rc) rc = check_train_state(meta, r->s, r->train.n, path);
  if (!rc && tq_train_meta_parse(meta, &r->state)) rc = tq_cli_error("resume: %s", tq_last_error());
  tq_free(meta);
  if (!rc) printf("Resuming %s from epoch %d of %d (%s)\n", r->s->out, r->state.epochs_done, r->c.epochs, path);
  return rc;
}

/* No zoo model: the --init file's own architecture and weights (an imported Keras model). */
static int file_model(train_run *r) {
  const run_settings *s = r->s;
  if (tq_model_load(s->init, &r->m, NULL, r->c.batch)) return tq_cli_error("--init: %s", tq_last_error());
  tq_shape3 in = tq_model_input_shape(r->m);
  size_t k = tq_shape_size(tq_model_output_shape(r->m));
  const tq_dataset *d = &r->train;
  if (in.h != d->h || in.w != d->w || in.c != d->c)
    return tq_cli_error("--init: %s takes %dx%dx%d inputs, %s has %dx%dx%d", s->init, in.h, in.w, in.c, s->data,
                        d->h, d->w, d->c);
  if (r->c.loss != TQ_LOSS_MSE && k != (size_t)d->classes)
    return tq_cli_error("--init: %s has %zu outputs, %s has %d classes", s->init, k, s->data, d->classes);
  return 0;
}

static int zoo_model(train_run *r) {
  const run_settings *s = r->s;
  tq_zoo_options zo = {{r->train.h, r->train.w, r->train.c}, r->train.classes};
  if (tq_zoo_build_width(&r->m, s->model, &zo, (float)s->width) ||
      tq_model_finalize(r->m, r->c.batch, tq_zoo_find(s->model)->init, r->c.seed))
    return tq_cli_error("%s", tq_last_error());
  return 0;
}

/* A new run's model: built (and given the --init weights) or read, then quantized as asked. */
static int new_model(train_run *r) {
  const run_settings *s = r->s;
  int rc = s->model[0] ? zoo_model(r) : file_model(r);
  if (rc) return rc;
  tq_model_set_qkeras_po2_floor(r->m, s->po2_floor);
  for (int i = 0; s->bn_momentum > 0 && i < tq_model_num_layers(r->m); i++)
    if (tq_model_layer(r->m, i)->type == TQ_L_BATCHNORM) tq_model_layer(r->m, i)->bn_momentum = (float)s->bn_momentum;
  if (s->model[0] && s->init[0] && tq_qconfig_init_from(r->m, s->init))
    return tq_cli_error("--init: %s", tq_last_error());
  if (tq_qsetup_apply(r->m, s->quant[0] ? s->quant : NULL, s->flat, s->alpha[0] ? s->alpha : NULL))
    return tq_cli_error("%s", tq_last_error());
  if (s->freeze_ranges >= 0 && !tq_model_is_quantized(r->m))
    return tq_cli_usage_error("train: --freeze-ranges needs quantizers (--flat or --quant)");
  return 0;
}

/* Trains and writes model.tqm; every checkpoint's metadata holds the run's settings. */
static int train_and_save(train_run *r, const char *settings_json) {
  const run_settings *s = r->s;
  r->c.meta_extra = settings_json;
  if (tq_mkdirs(s->out)) return tq_cli_error("%s", tq_last_error());
  printf("Training %s on %s: %d train / %d validation samples, %d epochs, batch %d%s\n",
         s->model[0] ? s->model : s->init, s->data, r->train.n, r->val.n, r->c.epochs, r->c.batch,
         tq_model_is_quantized(r->m) ? ", QAT" : "");
  fflush(stdout);
  if (tq_train(r->m, &r->train, &r->val, &r->c, &r->state)) return tq_cli_error("train: %s", tq_last_error());
  char path[2048];
  snprintf(path, sizeof path, "%s/model.tqm", s->out);
  char *final_meta = tq_train_meta_json(&r->c, &r->state);
  tq_status st = tq_model_save(path, r->m, final_meta, 0);
  free(final_meta);
  if (st) return tq_cli_error("%s", tq_last_error());
  printf("run directory: %s (model.tqm, best.tqm, last.tqm, log.csv); %.1f s of training\n", s->out,
         r->state.seconds);
  fflush(stdout);
  return 0;
}

/* The model is saved: a test set that cannot be used is reported (and fails the run) without
 * losing anything already written. */
static int test(train_run *r) {
  const run_settings *s = r->s;
  tq_dataset *d = &r->test;
  if (!d->x && tq_task_load_data(d, s->data, 0, s->scaling)) /* the AUC monitor may have loaded it */
    return tq_cli_error("test set of %s: %s", s->data, tq_last_error());
  tq_shape3 in = tq_model_input_shape(r->m);
  if (d->h != in.h || d->w != in.w || d->c != in.c)
    return tq_cli_error("test set of %s: samples are %dx%dx%d, the model takes %dx%dx%d", s->data, d->h, d->w,
                        d->c, in.h, in.w, in.c);
  double tl, ta;
  if (tq_evaluate(r->m, d, r->c.loss, r->c.batch, &tl, &ta))
    return tq_cli_error("test set of %s: %s", s->data, tq_last_error());
  const char *scales = tq_model_is_static(r->m) ? ", static scales as deployed" : "";
  if (r->c.loss == TQ_LOSS_MSE)
    printf("test: loss %.6f (%d samples%s)\n", tl, d->n, scales);
  else
    printf("test: loss %.4f, accuracy %.4f (%d samples%s)\n", tl, ta, d->n, scales);
  char roc[4200];
  snprintf(roc, sizeof roc, "%s/roc.csv", s->out);
  if (r->c.loss == TQ_LOSS_MSE && !strncmp(s->data, "dcase:", 6) && tq_dcase_report(r->m, d, r->c.batch, roc))
    return tq_cli_error("test set of %s: %s", s->data, tq_last_error());
  return 0;
}

/* --profile: where the training time went, against this build's multiply-add peak on the run's
 * threads (measured now, 1 s). */
static void print_profile(const train_run *r) {
  double peak = tq_fma_peak_gflops(r->s->threads, 1.0);
  printf("profile (%d thread%s; measured multiply-add peak %.1f GFLOP/s):\n", r->s->threads,
         r->s->threads == 1 ? "" : "s", peak);
  tq_model_profile_print(r->m, stdout, peak);
  fflush(stdout);
}

/* DCASE: the test folder's AUC and pAUC after every epoch, into the log and RUN_DIR/auc.csv. */
static int attach_auc_monitor(train_run *r, tq_dcase_monitor **mon) {
  const run_settings *s = r->s;
  if (tq_task_load_data(&r->test, s->data, 0, s->scaling))
    return tq_cli_error("test set of %s: %s", s->data, tq_last_error());
  char csv[4200];
  snprintf(csv, sizeof csv, "%s/auc.csv", s->out);
  if (tq_dcase_monitor_attach(mon, &r->test, &r->c, csv)) return tq_cli_error("%s", tq_last_error());
  return 0;
}

/* --layer-stats and --save-every (tinyq/layer_stats.h); the probe batch is the first validation batch. */
static int attach_layer_stats(train_run *r, tq_layer_stats **out) {
  tq_layer_stats_options o = {.stats = strcmp(r->s->layer_stats, "off") != 0, .save_every = r->s->save_every,
                              .probe_x = r->val.x, .probe_n = r->val.n < r->c.batch ? r->val.n : r->c.batch,
                              .log = stdout};
  if ((o.stats || o.save_every) && tq_layer_stats_attach(out, r->m, &r->c, r->state.epochs_done, &o))
    return tq_cli_error("%s", tq_last_error());
  return 0;
}

static int run(run_settings *s, int resume) {
  train_run r = {.s = s};
  int rc = make_config(s, &r.c);
  if (rc) return rc;
  omp_set_num_threads(s->threads);
  tq_train_state_init(&r.state, &r.c);
  cJSON *root = cJSON_CreateObject();
  tq_args_to_json(&train_cmd, s, cJSON_AddObjectToObject(root, "task"));
  char *settings_json = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  rc = load_splits(&r);
  if (!rc) rc = resume ? resume_model(&r) : new_model(&r);
  tq_kws_mixer *mixer = NULL;
  if (!rc && !strncmp(s->data, "speech-commands:", 16) &&
      tq_kws_mixer_attach(&mixer, s->data + 16, &r.train, &r.c, r.state.epochs_done, stdout))
    rc = tq_cli_error("%s", tq_last_error());
  tq_dcase_monitor *auc = NULL;
  if (!rc && !strncmp(s->data, "dcase:", 6)) rc = attach_auc_monitor(&r, &auc);
  tq_layer_stats *stats = NULL;
  if (!rc) rc = attach_layer_stats(&r, &stats);
  if (!rc && s->profile && tq_model_profile(r.m, 1)) rc = tq_cli_error("%s", tq_last_error());
  if (!rc) rc = train_and_save(&r, settings_json);
  if (!rc && s->profile) print_profile(&r);
  if (!rc && stats && strcmp(s->layer_stats, "off"))
    printf("layer statistics: layers.csv, %.2f s (%.2f %% of the training time)\n", tq_layer_stats_seconds(stats),
           100 * tq_layer_stats_seconds(stats) / (r.state.seconds > 0 ? r.state.seconds : 1));
  tq_layer_stats_free(stats);
  tq_kws_mixer_free(mixer);
  tq_dcase_monitor_free(auc);
  if (!rc) rc = test(&r);
  free(settings_json);
  tq_dataset_free(&r.train);
  tq_dataset_free(&r.val);
  tq_dataset_free(&r.test);
  tq_model_free(r.m);
  return rc;
}

int tq_cmd_train(int argc, char **argv) {
  tq_argv a;
  int rc;
  if (tq_args_parse(&train_cmd, argc, argv, &a, &rc)) return rc;
  run_settings s;
  memset(&s, 0, sizeof s);
  int resume = tq_args_given(&train_cmd, &a, "resume") != NULL;
  if ((rc = resume ? settings_for_resume(&s, &a) : settings_from_args(&s, &a))) return rc;
  return run(&s, resume);
}
