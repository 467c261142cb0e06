/* Per-layer, per-epoch statistics while training (tinyq/layer_stats.h): the kernels at each
 * epoch's start against its end, their quantized codes, and tq_quanterr's SQNR and clipping of
 * the kernels and of the activation slots on a fixed probe batch, as rows of layers.csv. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/layer_stats.h"
#include "tinyq/report.h"

static const char HEADER[] =
    "epoch,layer,tensor,sparsity,zero_codes,mean_abs_dw,max_abs_dw,update_ratio,codes_changed,grad_norm,"
    "sqnr_db,clip_fraction\n";

/* A weighted layer's state across an epoch. */
typedef struct {
  int index;
  size_t n;
  float *w0;          /* the kernel at the epoch's start */
  int32_t *codes0;    /* its quantized codes then (NULL: no kernel quantizer) */
  int32_t *codes;     /* the codes now */
} tracked_layer;

struct tq_layer_stats {
  tq_layer_stats_options o;
  float *probe;
  tracked_layer *layers;
  int nlayers;
  float *folded, *bias; /* scratch: the biggest kernel, folded, and its bias */
  tq_layer_stat *rows;
  int nrows;
  char *csv;            /* layers.csv's text */
  size_t csv_len, csv_cap;
  char out_dir[4096];   /* "" without a run directory */
  const tq_train_config *c; /* attached: the config whose on_epoch chain continues below */
  tq_epoch_callback next;
  void *next_ctx;
  double seconds;
};

double tq_update_ratio(const float *before, const float *after, size_t n, double *zeros) {
  double d = 0, s = 0;
  size_t z = 0;
  for (size_t i = 0; i < n; i++) {
    double e = (double)after[i] - before[i];
    d += e * e;
    s += (double)before[i] * before[i];
    z += after[i] == 0.0f;
  }
  *zeros = n ? (double)z / (double)n : 0;
  return s > 0 ? sqrt(d / s) : (d > 0 ? INFINITY : 0);
}

void tq_layer_stat_kernel(tq_layer_stat *row, const float *before, const float *after, size_t n) {
  double sum = 0, max = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)after[i] - before[i]);
    sum += d;
    if (d > max) max = d;
  }
  row->update_ratio = tq_update_ratio(before, after, n, &row->sparsity);
  row->mean_abs_dw = n ? sum / (double)n : 0;
  row->max_abs_dw = max;
}

/* The integer codes of layer li's folded kernel as its quantizer rounds it in inference. A
 * quantized_po2 value has no code form but is its own code (a power of two: its exponent). */
static tq_status kernel_codes(tq_layer_stats *s, const tq_model *m, int li, int32_t *codes) {
  const tq_layer *l = tq_model_layer_c(m, li);
  const tq_param *k = &l->kernel;
  tq_status st = tq_layer_folded_weights(m, li, s->folded, s->bias);
  if (st || l->kernel_q.kind != TQ_Q_PO2)
    return st ? st : tq_quantize_codes(&l->kernel_q, codes, NULL, NULL, s->folded, k->dims, k->rank);
  if ((st = tq_quantize_forward(&l->kernel_q, s->folded, NULL, s->folded, k->dims, k->rank, 0, NULL))) return st;
  for (size_t i = 0; i < k->size; i++) {
    float v = s->folded[i];
    codes[i] = 0;
    if (v != 0.0f) memcpy(&codes[i], &v, sizeof v);
  }
  return TQ_OK;
}

/* The epoch's start: every tracked kernel and its codes. */
static tq_status snapshot(tq_layer_stats *s, const tq_model *m) {
  tq_status st = TQ_OK;
  for (int i = 0; i < s->nlayers && !st; i++) {
    tracked_layer *t = &s->layers[i];
    memcpy(t->w0, tq_model_layer_c(m, t->index)->kernel.value, t->n * sizeof(float));
    if (t->codes0) st = kernel_codes(s, m, t->index, t->codes0);
  }
  return st;
}

static tq_status csv_append(tq_layer_stats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static tq_status csv_append(tq_layer_stats *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (k < 0) return tq_fail(TQ_ERR_ARG, "layers.csv: bad format");
  if (s->csv_len + (size_t)k + 1 > s->csv_cap) {
    size_t cap = (s->csv_len + (size_t)k + 1) * 2;
    char *p = realloc(s->csv, cap);
    if (!p) return tq_fail(TQ_ERR_MEMORY, "layers.csv: out of memory");
    s->csv = p;
    s->csv_cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(s->csv + s->csv_len, (size_t)k + 1, fmt, ap);
  va_end(ap);
  s->csv_len += (size_t)k;
  return TQ_OK;
}

/* layers.csv's rows of the epochs before first_epoch (a resume continues after them); a file of
 * another header is started afresh. */
static tq_status csv_open(tq_layer_stats *s, int first_epoch) {
  char path[4200];
  snprintf(path, sizeof path, "%s/layers.csv", s->out_dir);
  unsigned char *data = NULL;
  size_t size = 0;
  tq_status st = csv_append(s, "%s", HEADER);
  if (st || first_epoch == 0 || tq_read_file(path, &data, &size)) return st;
  const char *p = (const char *)data, *end = p + size;
  if (size >= sizeof HEADER - 1 && !memcmp(p, HEADER, sizeof HEADER - 1)) {
    p += sizeof HEADER - 1;
    while (p < end && !st) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      if (!nl || atoi(p) >= first_epoch) break; /* a torn last line goes with the epochs redone */
      st = csv_append(s, "%.*s", (int)(nl + 1 - p), p);
      p = nl + 1;
    }
  }
  free(data);
  return st;
}

static void csv_number(tq_layer_stats *s, tq_status *st, double v) {
  if (!*st) *st = csv_append(s, isnan(v) ? ",nan" : isinf(v) ? ",inf" : ",%.6g", v);
}

static tq_status csv_rows(tq_layer_stats *s) {
  tq_status st = TQ_OK;
  for (int i = 0; i < s->nrows && !st; i++) {
    const tq_layer_stat *r = &s->rows[i];
    st = csv_append(s, "%d,%s,%s", r->epoch, r->layer, r->activation ? "activation" : "kernel");
    double v[] = {r->sparsity, r->zero_codes, r->mean_abs_dw, r->max_abs_dw, r->update_ratio,
                  r->codes_changed, r->grad_norm, r->sqnr_db, r->clip_fraction};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) csv_number(s, &st, v[k]);
    if (!st) st = csv_append(s, "\n");
  }
  if (st || !s->out_dir[0]) return st;
  char path[4200];
  snprintf(path, sizeof path, "%s/layers.csv", s->out_dir);
  return tq_write_file_atomic(path, s->csv, s->csv_len);
}

static void row_init(tq_layer_stat *r, int epoch, const char *layer, int activation) {
  memset(r, 0, sizeof *r);
  r->epoch = epoch;
  snprintf(r->layer, sizeof r->layer, "%s", layer);
  r->activation = activation;
  r->sparsity = r->zero_codes = r->mean_abs_dw = r->max_abs_dw = r->update_ratio = r->codes_changed =
      r->grad_norm = r->sqnr_db = r->clip_fraction = NAN;
}

static double l2_norm(const float *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
  return sqrt(s);
}

/* A tracked layer's row: its kernel's change and its codes' (the codes then become the start). */
static tq_status kernel_row(tq_layer_stats *s, const tq_model *m, const tracked_layer *t, int epoch) {
  const tq_layer *l = tq_model_layer_c(m, t->index);
  tq_layer_stat *r = &s->rows[s->nrows++];
  row_init(r, epoch, l->name, 0);
  tq_layer_stat_kernel(r, t->w0, l->kernel.value, t->n);
  if (l->kernel.grad) r->grad_norm = l2_norm(l->kernel.grad, t->n);
  if (!t->codes0) return TQ_OK;
  tq_status st = kernel_codes(s, m, t->index, t->codes);
  if (st) return tq_fail_prefix(st, "%s: kernel codes", l->name);
  size_t changed = 0, zeros = 0;
  for (size_t i = 0; i < t->n; i++) {
    changed += t->codes[i] != t->codes0[i];
    zeros += t->codes[i] == 0;
  }
  r->codes_changed = (double)changed / (double)t->n;
  r->zero_codes = (double)zeros / (double)t->n;
  return TQ_OK;
}

/* tq_quanterr's SQNR and clipping: kernels into their rows, activation slots as rows of their own
 * (in the model's layer order, after the kernels). A model in static mode is measured on kernels
 * only: measuring its slots would switch its deployment simulation off. */
static tq_status quanterr_rows(tq_layer_stats *s, tq_model *m, int epoch) {
  if (!tq_model_is_quantized(m)) return TQ_OK;
  tq_qerr_row *q = NULL;
  int nq = 0, kernels = s->nrows;
  int probe = s->probe && !tq_model_is_static(m);
  tq_status st = tq_quanterr(m, probe ? s->probe : NULL, probe ? s->o.probe_n : 0, &q, &nq);
  for (int i = 0; i < nq && !st; i++) {
    tq_layer_stat *r = NULL;
    for (int k = 0; k < kernels && !r && !q[i].activation; k++)
      if (!strcmp(s->rows[k].layer, q[i].layer)) r = &s->rows[k];
    if (!r) row_init(r = &s->rows[s->nrows++], epoch, q[i].layer, 1);
    r->sqnr_db = q[i].sqnr_db;
    r->clip_fraction = q[i].clip_fraction;
  }
  tq_free(q);
  return st;
}

/* One line per kind of trouble, naming the layers (the rules: tinyq/layer_stats.h). */
static void warn(const tq_layer_stats *s, int epoch) {
  FILE *f = s->o.log;
  if (!f) return;
  int vanish = 0, explode = 0;
  for (int i = 0; i < s->nrows; i++) {
    const tq_layer_stat *r = &s->rows[i];
    int frozen = r->max_abs_dw < TQ_VANISH_DW, still = r->codes_changed == 0;
    if (r->activation || !(frozen || still)) continue;
    if (!vanish++)
      fprintf(f, "epoch %d: warning: updates vanish (every |dw| < %g, or no code changed) in", epoch + 1, TQ_VANISH_DW);
    fprintf(f, "%s %s (", vanish > 1 ? "," : "", r->layer);
    if (frozen) fprintf(f, "max |dw| %.3g%s", r->max_abs_dw, still ? ", " : "");
    fprintf(f, "%s)", still ? "no code changed" : "");
  }
  if (vanish) fputc('\n', f);
  for (int i = 0; i < s->nrows; i++) {
    const tq_layer_stat *r = &s->rows[i];
    if (r->activation || !(r->update_ratio > TQ_EXPLODE_RATIO)) continue;
    if (!explode++) fprintf(f, "epoch %d: warning: updates explode (||dW||/||W|| > %g) in", epoch + 1, TQ_EXPLODE_RATIO);
    fprintf(f, "%s %s (%.3g)", explode > 1 ? "," : "", r->layer, r->update_ratio);
  }
  if (explode) fputc('\n', f);
  fflush(f);
}

static tq_status save_checkpoint(const tq_layer_stats *s, const tq_model *m, int epoch, const char *meta) {
  if (s->o.save_every <= 0 || !s->out_dir[0] || (epoch + 1) % s->o.save_every) return TQ_OK;
  char path[4200];
  snprintf(path, sizeof path, "%s/epoch-%03d.tqm", s->out_dir, epoch + 1);
  return tq_model_save(path, m, meta, 0);
}

tq_status tq_layer_stats_epoch(tq_layer_stats *s, tq_model *m, int epoch, const char *meta_json) {
  double t0 = tq_now_seconds();
  tq_status st = save_checkpoint(s, m, epoch, meta_json);
  if (!st && s->o.stats) {
    s->nrows = 0;
    for (int i = 0; i < s->nlayers && !st; i++) st = kernel_row(s, m, &s->layers[i], epoch);
    if (!st) st = quanterr_rows(s, m, epoch);
    if (!st) st = csv_rows(s);
    if (!st) warn(s, epoch);
    /* the codes just computed are the next epoch's start */
    for (int i = 0; i < s->nlayers && !st; i++) {
      tracked_layer *t = &s->layers[i];
      memcpy(t->w0, tq_model_layer_c(m, t->index)->kernel.value, t->n * sizeof(float));
      int32_t *swap = t->codes0;
      t->codes0 = t->codes;
      t->codes = swap;
    }
  }
  s->seconds += tq_now_seconds() - t0;
  return st ? tq_fail_prefix(st, "layer statistics of epoch %d", epoch + 1) : TQ_OK;
}

const tq_layer_stat *tq_layer_stats_rows(const tq_layer_stats *s, int *n) {
  *n = s->nrows;
  return s->rows;
}

double tq_layer_stats_seconds(const tq_layer_stats *s) { return s->seconds; }

void tq_layer_stats_free(tq_layer_stats *s) {
  if (!s) return;
  for (int i = 0; i < s->nlayers; i++) {
    tq_free(s->layers[i].w0);
    tq_free(s->layers[i].codes0);
    tq_free(s->layers[i].codes);
  }
  tq_free(s->layers);
  tq_free(s->probe);
  tq_free(s->folded);
  tq_free(s->bias);
  tq_free(s->rows);
  free(s->csv);
  tq_free(s);
}

/* The weighted layers with their buffers, and the scratch for the biggest of them. */
static tq_status track_layers(tq_layer_stats *s, const tq_model *m) {
  int nl = tq_model_num_layers(m);
  size_t biggest = 1, channels = 1;
  s->layers = tq_alloc(sizeof(tracked_layer) * (size_t)(nl ? nl : 1));
  s->rows = tq_alloc(sizeof(tq_layer_stat) * (size_t)(2 * nl + 1));
  if (!s->layers || !s->rows) return TQ_ERR_MEMORY;
  for (int i = 0; i < nl; i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (!tq_layer_has_kernel(l) || !l->kernel.size) continue;
    tracked_layer *t = &s->layers[s->nlayers++];
    memset(t, 0, sizeof *t);
    t->index = i;
    t->n = l->kernel.size;
    if (!(t->w0 = tq_alloc_floats(t->n))) return TQ_ERR_MEMORY;
    if (l->kernel_q.kind != TQ_Q_NONE &&
        (!(t->codes0 = tq_alloc(sizeof(int32_t) * t->n)) || !(t->codes = tq_alloc(sizeof(int32_t) * t->n))))
      return TQ_ERR_MEMORY;
    if (t->n > biggest) biggest = t->n;
    if ((size_t)l->out_shape.c > channels) channels = (size_t)l->out_shape.c;
  }
  s->folded = tq_alloc_floats(biggest);
  s->bias = tq_alloc_floats(channels);
  return s->folded && s->bias ? TQ_OK : TQ_ERR_MEMORY;
}

tq_status tq_layer_stats_create(tq_layer_stats **out, tq_model *m, const char *out_dir, int first_epoch,
                                const tq_layer_stats_options *o) {
  *out = NULL;
  tq_layer_stats *s = tq_alloc(sizeof *s);
  if (!s) return tq_fail(TQ_ERR_MEMORY, "layer statistics: out of memory");
  memset(s, 0, sizeof *s);
  s->o = *o;
  if (out_dir) snprintf(s->out_dir, sizeof s->out_dir, "%s", out_dir);
  size_t per = tq_shape_size(tq_model_input_shape(m));
  tq_status st = TQ_OK;
  if (o->probe_x && o->probe_n > 0) {
    if ((s->probe = tq_alloc_floats(per * (size_t)o->probe_n))) memcpy(s->probe, o->probe_x, per * (size_t)o->probe_n * sizeof(float));
    else st = TQ_ERR_MEMORY;
  }
  if (!st && o->stats) st = track_layers(s, m);
  if (st == TQ_ERR_MEMORY) st = tq_fail(st, "layer statistics: out of memory");
  if (!st && o->stats) st = snapshot(s, m);
  if (!st && o->stats && s->out_dir[0]) st = csv_open(s, first_epoch);
  if (st) {
    tq_layer_stats_free(s);
    return tq_fail_prefix(st, "layer statistics");
  }
  *out = s;
  return TQ_OK;
}

static tq_status stats_next_epoch(void *ctx, tq_model *m, int epoch, const tq_epoch_metrics *metrics) {
  tq_layer_stats *s = ctx;
  tq_status st = tq_layer_stats_epoch(s, m, epoch, s->c->meta_extra);
  if (!st && s->next) st = s->next(s->next_ctx, m, epoch, metrics);
  return st;
}

tq_status tq_layer_stats_attach(tq_layer_stats **out, tq_model *m, tq_train_config *c, int first_epoch,
                                const tq_layer_stats_options *o) {
  tq_status st = tq_layer_stats_create(out, m, c->out_dir, first_epoch, o);
  if (st) return st;
  tq_layer_stats *s = *out;
  s->c = c;
  s->next = c->on_epoch;
  s->next_ctx = c->on_epoch_ctx;
  c->on_epoch = stats_next_epoch;
  c->on_epoch_ctx = s;
  return TQ_OK;
}
