/* The epoch loop: shuffled mini-batches, forward, loss, backward, optimizer step; per epoch the
 * validation pass and the callbacks (CSV log, best and last checkpoints, early stopping, the
 * per-epoch hook tq_train_config.on_epoch). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/progress.h"
#include "tinyq/train.h"

void tq_train_config_defaults(tq_train_config *c) {
  memset(c, 0, sizeof *c);
  c->epochs = 10;
  c->batch = 32;
  c->lr = 1e-3f;
  tq_optimizer_parse("adam", &c->optimizer);
  c->loss = TQ_LOSS_SPARSE_XENT;
  c->val_split = 0.1;
  c->shuffle = 1;
  c->seed = 1;
  c->monitor = "val_loss";
  c->restore_best = 0;
  c->progress = isatty(fileno(stdout)) ? 1 : 0;
  c->freeze_bn_after = -1;
  c->freeze_ranges_after = -1;
}

static int monitor_maximizes(const char *monitor) { return strstr(monitor, "acc") != NULL; }

void tq_train_state_init(tq_train_state *s, const tq_train_config *c) {
  memset(s, 0, sizeof *s);
  s->best = monitor_maximizes(c->monitor) ? -INFINITY : INFINITY;
}

/* ---- Evaluation */

typedef struct {
  float *x, *probs;
  int *y, *idx;
} batch_buffers;

static tq_status buffers_alloc(batch_buffers *b, const tq_model *m, int batch) {
  size_t in = tq_shape_size(tq_model_input_shape(m)), out = tq_shape_size(tq_model_output_shape(m));
  b->x = tq_alloc_floats((size_t)batch * in);
  b->probs = tq_alloc_floats((size_t)batch * out * 2); /* probs, then dout */
  b->y = tq_alloc(sizeof(int) * (size_t)batch);
  b->idx = NULL;
  return (b->x && b->probs && b->y) ? TQ_OK : TQ_ERR_MEMORY;
}

static void buffers_free(batch_buffers *b) {
  tq_free(b->x);
  tq_free(b->probs);
  tq_free(b->y);
  tq_free(b->idx);
}

static tq_status check_shapes(const tq_model *m, const tq_dataset *d, tq_loss loss) {
  tq_shape3 in = tq_model_input_shape(m), out = tq_model_output_shape(m);
  if ((size_t)d->h * d->w * d->c != tq_shape_size(in))
    return tq_fail(TQ_ERR_ARG, "data samples are %dx%dx%d but model %s takes %dx%dx%d", d->h, d->w,
                   d->c, tq_model_arch(m), in.h, in.w, in.c);
  if (loss == TQ_LOSS_MSE) {
    if (tq_shape_size(out) != tq_shape_size(in))
      return tq_fail(TQ_ERR_ARG, "mse against the input needs output size = input size");
  } else {
    if (!d->y) return tq_fail(TQ_ERR_ARG, "cross-entropy needs labelled data");
    if (d->classes > out.c)
      return tq_fail(TQ_ERR_ARG, "data has %d classes but the model outputs %d", d->classes, out.c);
  }
  return TQ_OK;
}

tq_status tq_evaluate(tq_model *m, const tq_dataset *d, tq_loss loss, int batch, double *loss_out,
                      double *acc_out) {
  tq_status st = check_shapes(m, d, loss);
  if (st) return st;
  if (batch > tq_model_max_batch(m)) batch = tq_model_max_batch(m);
  batch_buffers b;
  if ((st = buffers_alloc(&b, m, batch))) {
    buffers_free(&b);
    return st;
  }
  int k = (int)tq_shape_size(tq_model_output_shape(m));
  size_t in = tq_shape_size(tq_model_input_shape(m));
  double total = 0;
  long right = 0;
  for (int s = 0; s < d->n; s += batch) {
    int n = d->n - s < batch ? d->n - s : batch;
    const float *x = d->x + (size_t)s * in;
    const float *out = tq_model_forward(m, x, n, 0, NULL);
    if (!out) {
      buffers_free(&b);
      return TQ_ERR_ARG;
    }
    int correct = 0;
    float l = tq_loss_forward_backward(loss, NULL, b.probs, out, d->y ? d->y + s : NULL, x, n, k,
                                       &correct);
    total += (double)l * n;
    right += correct;
  }
  buffers_free(&b);
  double reg = tq_model_l2_loss(m);
  *loss_out = d->n ? total / d->n + reg : NAN;
  *acc_out = d->n ? (double)right / d->n : NAN;
  return TQ_OK;
}

/* ---- Metadata */

char *tq_train_meta_json(const tq_train_config *c, const tq_train_state *s) {
  cJSON *root = c->meta_extra ? cJSON_Parse(c->meta_extra) : NULL;
  if (!root) root = cJSON_CreateObject();
  cJSON *t = cJSON_CreateObject();
  cJSON_AddNumberToObject(t, "epochs_done", s->epochs_done);
  cJSON_AddNumberToObject(t, "step", (double)s->step);
  if (isfinite(s->best)) cJSON_AddNumberToObject(t, "best", s->best);
  cJSON_AddNumberToObject(t, "best_epoch", s->best_epoch);
  cJSON_AddNumberToObject(t, "wait", s->wait);
  cJSON_AddBoolToObject(t, "stopped_early", s->stopped_early);
  cJSON_AddItemToObject(root, "train_state", t);
  char *out = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return out;
}

/* One message for every divergence, fresh or resumed, per step or at the end of an epoch (the
 * README quotes it); it says what is on disk: a checkpoint exists once an epoch has finished. */
static tq_status diverged(const tq_train_config *c, const tq_train_state *state, int epoch, long step,
                          const char *what, double v) {
  char kept[96] = "";
  if (c->out_dir && state->epochs_done > 0)
    snprintf(kept, sizeof kept, "; the last good checkpoint is kept (epoch %d)", state->epochs_done);
  else if (c->out_dir)
    snprintf(kept, sizeof kept, "; no epoch finished, so no checkpoint was written");
  return tq_fail(TQ_ERR_NUMERIC, "epoch %d step %ld: %s is %s: training diverged (try a lower --lr)%s", epoch + 1,
                 step, what, isnan(v) ? "NaN" : "infinite", kept);
}

tq_status tq_train_meta_parse(const char *json, tq_train_state *s) {
  cJSON *root = json ? cJSON_Parse(json) : NULL;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "train_state");
  if (!t) {
    cJSON_Delete(root);
    return tq_fail(TQ_ERR_FORMAT, "no training state in the checkpoint's metadata");
  }
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(t, "epochs_done"))) s->epochs_done = v->valueint;
  if ((v = cJSON_GetObjectItemCaseSensitive(t, "step"))) s->step = (long)v->valuedouble;
  if ((v = cJSON_GetObjectItemCaseSensitive(t, "best"))) s->best = v->valuedouble;
  if ((v = cJSON_GetObjectItemCaseSensitive(t, "best_epoch"))) s->best_epoch = v->valueint;
  if ((v = cJSON_GetObjectItemCaseSensitive(t, "wait"))) s->wait = v->valueint;
  if ((v = cJSON_GetObjectItemCaseSensitive(t, "stopped_early"))) s->stopped_early = cJSON_IsTrue(v);
  cJSON_Delete(root);
  return TQ_OK;
}

/* ---- CSV log (Keras CSVLogger columns), rewritten atomically every epoch. */

typedef struct {
  char *text;
  size_t len, cap;
} strbuf;

static int sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_printf(strbuf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return -1;
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = (b->cap + (size_t)n + 1) * 2;
    char *nt = realloc(b->text, cap);
    if (!nt) return -1;
    b->text = nt;
    b->cap = cap;
  }
  memcpy(b->text + b->len, tmp, (size_t)n + 1);
  b->len += (size_t)n;
  return 0;
}

/* Keeps the header and the rows of epochs before `epochs_done` from an existing log. */
static void csv_load_existing(strbuf *b, const char *path, int epochs_done) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[1024];
  int row = -1;
  while (fgets(line, sizeof line, f)) {
    if (row >= 0 && atoi(line) >= epochs_done) break;
    if (row >= 0 || strncmp(line, "epoch,", 6) == 0) sb_printf(b, "%s", line);
    row++;
  }
  fclose(f);
}

/* ---- Snapshots of the weights (restore-best) */

static float *snapshot(tq_model *m, float *buf) {
  int np = tq_model_num_params(m);
  size_t total = 0;
  for (int i = 0; i < np; i++) total += tq_model_param(m, i, NULL, NULL)->size;
  if (!buf && !(buf = tq_alloc_floats(total))) return NULL;
  size_t o = 0;
  for (int i = 0; i < np; i++) {
    tq_param *p = tq_model_param(m, i, NULL, NULL);
    memcpy(buf + o, p->value, p->size * sizeof(float));
    o += p->size;
  }
  return buf;
}

static void restore(tq_model *m, const float *buf) {
  int np = tq_model_num_params(m);
  size_t o = 0;
  for (int i = 0; i < np; i++) {
    tq_param *p = tq_model_param(m, i, NULL, NULL);
    memcpy(p->value, buf + o, p->size * sizeof(float));
    o += p->size;
  }
}

static double monitored(const char *monitor, const tq_train_state *s, int has_val) {
  if (!strcmp(monitor, "val_accuracy")) return has_val ? s->last_val_acc : s->last_acc;
  if (!strcmp(monitor, "accuracy")) return s->last_acc;
  if (!strcmp(monitor, "loss")) return s->last_loss;
  return has_val ? s->last_val_loss : s->last_loss;
}

static tq_status save_checkpoint(tq_model *m, const tq_train_config *c, const tq_train_state *s,
                                 const char *file, int with_opt) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", c->out_dir, file);
  char *meta = tq_train_meta_json(c, s);
  if (!meta) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  tq_status st = tq_model_save(path, m, meta, with_opt);
  free(meta);
  return st;
}

/* ---- The training loop */

/* A run of tq_train: its arguments and what lives across epochs. */
typedef struct {
  tq_model *m;
  const tq_dataset *train, *val; /* val NULL when there is none */
  const tq_train_config *c;
  tq_train_state *state;
  int k, has_acc, maximize;
  long steps;                    /* optimizer steps per epoch */
  batch_buffers b;
  float *best_weights;           /* restore_best: the weights of the best epoch */
  strbuf csv;                    /* log.csv's text */
  char csv_path[4096];           /* "" without out_dir */
} trainer;

static tq_status check_inputs(const tq_model *m, const tq_dataset *train, const tq_dataset **val,
                              const tq_train_config *c) {
  tq_status st = check_shapes(m, train, c->loss);
  if (st) return st;
  if (*val && (*val)->n == 0) *val = NULL;
  if (*val && (st = check_shapes(m, *val, c->loss))) return tq_fail_prefix(st, "validation data");
  if (c->batch < 1 || c->batch > tq_model_max_batch(m))
    return tq_fail(TQ_ERR_ARG, "batch %d outside 1..%d", c->batch, tq_model_max_batch(m));
  if (!strstr("val_loss val_accuracy loss accuracy", c->monitor))
    return tq_fail(TQ_ERR_ARG, "unknown monitor '%s' (val_loss, val_accuracy, loss, accuracy)",
                   c->monitor);
  return TQ_OK;
}

/* The buffers, and log.csv's rows of the epochs already done (a resume). */
static tq_status trainer_open(trainer *t) {
  const tq_train_config *c = t->c;
  t->k = (int)tq_shape_size(tq_model_output_shape(t->m));
  t->has_acc = c->loss != TQ_LOSS_MSE;
  t->maximize = monitor_maximizes(c->monitor);
  tq_status st = buffers_alloc(&t->b, t->m, c->batch);
  t->b.idx = tq_alloc(sizeof(int) * (size_t)t->train->n);
  if (st || !t->b.idx) return st ? st : TQ_ERR_MEMORY;
  if (c->out_dir) {
    if ((st = tq_mkdirs(c->out_dir))) return st;
    snprintf(t->csv_path, sizeof t->csv_path, "%s/log.csv", c->out_dir);
    csv_load_existing(&t->csv, t->csv_path, t->state->epochs_done);
    if (t->csv.len == 0) sb_printf(&t->csv, "epoch,accuracy,loss,lr,val_accuracy,val_loss\n");
  }
  t->steps = (t->train->n + c->batch - 1) / c->batch;
  if (c->max_steps_per_epoch > 0 && t->steps > c->max_steps_per_epoch) t->steps = c->max_steps_per_epoch;
  return TQ_OK;
}

static void trainer_close(trainer *t) {
  buffers_free(&t->b);
  tq_free(t->best_weights);
  free(t->csv.text);
}

/* One epoch's optimizer steps over the shuffled training data; the epoch's training loss and
 * accuracy in state. */
static tq_status train_epoch(trainer *t, int epoch, float lr, tq_progress *prog) {
  const tq_train_config *c = t->c;
  const tq_dataset *train = t->train;
  const int batch = c->batch;
  batch_buffers *b = &t->b;
  for (int i = 0; i < train->n; i++) b->idx[i] = i;
  if (c->shuffle) {
    tq_rng r;
    tq_rng_derive(&r, c->seed, 0x5348554646ULL + (uint64_t)epoch);
    tq_rng_shuffle(&r, b->idx, train->n);
  }
  tq_progress_begin(prog, stdout, c->progress, epoch + 1, c->epochs, t->steps);
  double loss_sum = 0;
  long seen = 0, right = 0;
  for (long s = 0; s < t->steps; s++) {
    int start = (int)(s * batch), n = train->n - start < batch ? train->n - start : batch;
    tq_rng r;
    tq_rng_derive(&r, c->seed, ((uint64_t)(epoch + 1) << 32) | (uint64_t)s);
    tq_dataset_gather(b->x, b->y, train, b->idx + start, n);
    if (tq_augment_active(&c->augment)) tq_augment_batch(b->x, n, train->h, train->w, train->c, &c->augment, &r);
    const float *out = tq_model_forward(t->m, b->x, n, 1, &r);
    if (!out) return tq_fail_prefix(TQ_ERR_ARG, "epoch %d step %ld", epoch + 1, s + 1);
    float *dout = b->probs + (size_t)batch * t->k;
    int correct = 0;
    float l = tq_loss_forward_backward(c->loss, dout, b->probs, out, b->y, b->x, n, t->k, &correct);
    if (!isfinite(l)) return diverged(c, t->state, epoch, s + 1, "loss", l);
    tq_model_zero_grad(t->m);
    tq_model_backward(t->m, dout, n);
    tq_model_l2_grad(t->m);
    tq_optimizer_step(&c->optimizer, t->m, lr, ++t->state->step);
    loss_sum += (double)l * n;
    seen += n;
    right += correct;
    tq_progress_step(prog, loss_sum / seen, (double)right / seen, t->has_acc);
  }
  t->state->last_loss = loss_sum / seen + tq_model_l2_loss(t->m);
  t->state->last_acc = t->has_acc ? (double)right / seen : NAN;
  return TQ_OK;
}

/* The validation pass (NaN metrics without validation data), and the end-of-epoch divergence check. */
static tq_status validate_epoch(trainer *t, int epoch) {
  tq_train_state *state = t->state;
  state->last_val_loss = state->last_val_acc = NAN;
  tq_status st;
  if (t->val && (st = tq_evaluate(t->m, t->val, t->c->loss, t->c->batch, &state->last_val_loss,
                                  &state->last_val_acc)))
    return st;
  if (!isfinite(state->last_loss) || (t->val && !isfinite(state->last_val_loss))) {
    int tr = !isfinite(state->last_loss);
    return diverged(t->c, state, epoch, t->steps, tr ? "loss" : "validation loss",
                    tr ? state->last_loss : state->last_val_loss);
  }
  return TQ_OK;
}

/* The monitored value against the best so far: best epoch, patience, early stopping, and the
 * restore_best snapshot. *improved says whether this epoch is the new best. */
static tq_status track_best(trainer *t, int epoch, int *improved) {
  const tq_train_config *c = t->c;
  tq_train_state *state = t->state;
  double v = monitored(c->monitor, state, t->val != NULL);
  *improved = t->maximize ? v > state->best : v < state->best;
  if (*improved) {
    state->best = v;
    state->best_epoch = epoch + 1;
    state->wait = 0;
    if (c->restore_best && !(t->best_weights = snapshot(t->m, t->best_weights))) return TQ_ERR_MEMORY;
  } else {
    state->wait++;
  }
  if (c->early_stopping > 0 && state->wait >= c->early_stopping) state->stopped_early = 1;
  return TQ_OK;
}

/* The run directory's files after an epoch: log.csv's new row, best.tqm when it improved, last.tqm. */
static tq_status write_epoch(trainer *t, int epoch, float lr, int improved) {
  const tq_train_config *c = t->c;
  const tq_train_state *state = t->state;
  if (!c->out_dir) return TQ_OK;
  sb_printf(&t->csv, "%d,%.6g,%.6g,%.6g,%.6g,%.6g\n", epoch, state->last_acc, state->last_loss, lr,
            state->last_val_acc, state->last_val_loss);
  tq_status st = tq_write_file_atomic(t->csv_path, t->csv.text, t->csv.len);
  if (!st && improved) st = save_checkpoint(t->m, c, state, "best.tqm", 0);
  if (!st) st = save_checkpoint(t->m, c, state, "last.tqm", 1);
  return st;
}

/* Samples calibrating the tensors without an activation quantizer of their own (a conv feeding a
 * residual add), as `--static ema` does: the first ones of the training data. */
#define FREEZE_CALIBRATION_SAMPLES 512

/* The slots' static scales from their (frozen) moving averages; with calibrate, also the other
 * tensors' ranges from the weights as they are now, so that validation and the checkpoint use what
 * `--static ema` would make of them. */
static tq_status set_static_scales(trainer *t, int calibrate) {
  int n = t->train->n < FREEZE_CALIBRATION_SAMPLES ? t->train->n : FREEZE_CALIBRATION_SAMPLES;
  tq_status st = calibrate ? tq_model_calibrate(t->m, t->train->x, n) : TQ_OK;
  if (!st) st = tq_model_ranges_from_ema(t->m);
  if (!st) st = tq_model_set_static(t->m, 1, TQ_RANGE_SPEC);
  return st;
}

/* From c->freeze_ranges_after on, training sees the static activation scales deployment will use,
 * fixed once from the moving averages, so the weights adapt to them (and validation, run with the
 * integer model's rounding, reports what the integer model will do). A resumed run's checkpoint is
 * already static. */
static tq_status freeze_ranges(trainer *t, int epoch) {
  const tq_train_config *c = t->c;
  if (c->freeze_ranges_after < 0 || epoch < c->freeze_ranges_after || tq_model_is_static(t->m)) return TQ_OK;
  tq_status st = set_static_scales(t, 0);
  if (st) return tq_fail_prefix(st, "epoch %d: freezing the activation ranges", epoch + 1);
  if (c->progress >= 0) printf("Epoch %d: activation ranges frozen; static scales from here on\n", epoch + 1);
  return TQ_OK;
}

/* One epoch from its learning rate to its callbacks. *stop when training ends early. */
static tq_status run_epoch(trainer *t, int epoch, int *stop) {
  const tq_train_config *c = t->c;
  tq_train_state *state = t->state;
  float lr = tq_schedule_lr(&c->schedule, c->lr, epoch);
  tq_model_freeze_bn_stats(t->m, c->freeze_bn_after >= 0 && epoch >= c->freeze_bn_after);
  tq_status st = freeze_ranges(t, epoch);
  if (st) return st;
  tq_progress prog;
  st = train_epoch(t, epoch, lr, &prog);
  if (!st && c->freeze_ranges_after >= 0 && tq_model_is_static(t->m)) st = set_static_scales(t, 1);
  if (!st) st = validate_epoch(t, epoch);
  if (st) return st;
  tq_progress_end(&prog, state->last_loss, state->last_acc, t->has_acc, state->last_val_loss, state->last_val_acc,
                  t->val != NULL, lr);
  state->epochs_done = epoch + 1;
  int improved;
  if ((st = track_best(t, epoch, &improved)) || (st = write_epoch(t, epoch, lr, improved))) return st;
  if (c->on_epoch) {
    tq_epoch_metrics e = {.lr = lr, .loss = state->last_loss, .acc = state->last_acc,
                          .val_loss = state->last_val_loss, .val_acc = state->last_val_acc, .improved = improved};
    if ((st = c->on_epoch(c->on_epoch_ctx, t->m, epoch, &e))) return st;
  }
  if (state->stopped_early) {
    if (c->progress >= 0)
      printf("Early stopping: %s did not improve for %d epochs (best %.4f at epoch %d)\n", c->monitor,
             c->early_stopping, state->best, state->best_epoch);
    *stop = 1;
  }
  return TQ_OK;
}

tq_status tq_train(tq_model *m, const tq_dataset *train, const tq_dataset *val,
                   const tq_train_config *c, tq_train_state *state) {
  tq_status st = check_inputs(m, train, &val, c);
  if (st) return st;
  trainer t = {.m = m, .train = train, .val = val, .c = c, .state = state};
  if ((st = trainer_open(&t))) {
    trainer_close(&t);
    return st;
  }
  double t_start = tq_now_seconds();
  int stop = 0;
  for (int epoch = state->epochs_done; epoch < c->epochs && !stop; epoch++)
    if ((st = run_epoch(&t, epoch, &stop))) break;
  if (!st) {
    if (c->restore_best && t.best_weights) restore(m, t.best_weights);
    state->seconds += tq_now_seconds() - t_start;
  }
  trainer_close(&t);
  return st;
}
