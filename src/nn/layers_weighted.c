/* Layer types with a kernel and a bias: Conv2D, DepthwiseConv2D, Dense (rows of the layer-type
 * table). Float, their own weights; QAT, the weights folded with a batch norm and quantized. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/layer_types.h"

static int quantized(const tq_quantizer *q) { return q->kind != TQ_Q_NONE; }

/* ---- Effective (folded, quantized) weights.
 * Float: the layer's own kernel and bias. QAT: batch norm (if folded into the layer) scales the
 * kernel by inv = gamma / sqrt(moving_var + eps) and the bias becomes inv*(b - mean) + beta
 * (SPEC 1.5); then the kernel and bias quantizers apply. Buffers: aux = quantized kernel,
 * aux2 = quantized bias, aux3 = the folded kernel then the folded bias (pre-quantization). */
typedef struct {
  const float *w, *b;
} eff_weights;

static size_t out_channels(const tq_layer *l) { return (size_t)l->out_shape.c; }

/* Below this many values an elementwise QAT pass stays on one thread (fork/join costs more). */
#define FOLD_PARALLEL_VALUES 32768

/* aux3: the folded kernel and bias (and the fold's inv and statistics) from the moving ones. */
static void fold_weights(const tq_model *m, tq_layer *l) {
  size_t ks = l->kernel.size, oc = out_channels(l);
  float *wf = l->aux3, *bf = l->aux3 + ks;
  const tq_layer *bn = l->folded_bn >= 0 ? &m->layers[l->folded_bn] : NULL;
  if (!bn) {
    memcpy(wf, l->kernel.value, ks * sizeof(float));
    for (size_t c = 0; c < oc; c++) bf[c] = l->bias.size ? l->bias.value[c] : 0.0f;
    return;
  }
  /* Kernel channel index = flat index % oc for every layout (HWIO, depthwise HW·C·M, IO). */
  float *inv = bf + oc; /* oc floats after the folded bias */
  float *rstd = l->aux3 + tq_qat_fold_stats_offset(ks, oc), *mean = rstd + oc;
  for (size_t c = 0; c < oc; c++) {
    float sd = sqrtf(bn->moving_var.value[c] + bn->bn_eps);
    rstd[c] = 1.0f / sd;
    mean[c] = bn->moving_mean.value[c];
    inv[c] = bn->gamma.value[c] / sd; /* as tq_layer_folded_weights: deployment folds the same */
  }
  const float *k = l->kernel.value;
#pragma omp parallel for schedule(static) if (ks > FOLD_PARALLEL_VALUES)
  for (size_t r = 0; r < ks / oc; r++)
    for (size_t c = 0; c < oc; c++) wf[r * oc + c] = k[r * oc + c] * inv[c];
  for (size_t c = 0; c < oc; c++) {
    float b = l->bias.size ? l->bias.value[c] : 0.0f;
    bf[c] = inv[c] * (b - mean[c]) + bn->beta.value[c];
  }
}

static tq_status effective_weights(tq_model *m, tq_layer *l, const tq_layer_pass *p, eff_weights *e) {
  e->w = l->kernel.value;
  e->b = l->bias.size ? l->bias.value : NULL;
  if (!l->aux) return TQ_OK; /* float layer */
  fold_weights(m, l);
  size_t ks = l->kernel.size, oc = out_channels(l);
  float *wf = l->aux3, *bf = l->aux3 + ks;
  float *wq = l->aux, *bq = l->aux2;
  tq_status st;
  if (quantized(&l->kernel_q)) {
    st = tq_quantize_forward(&l->kernel_q, wq, NULL, wf, l->kernel.dims, l->kernel.rank, p->training,
                             p->rng);
    if (st) return tq_fail_prefix(st, "%s: kernel quantizer", l->name);
  } else {
    memcpy(wq, wf, ks * sizeof(float));
  }
  int odim = (int)oc;
  if (quantized(&l->bias_q)) {
    st = tq_quantize_forward(&l->bias_q, bq, NULL, bf, &odim, 1, p->training, p->rng);
    if (st) return tq_fail_prefix(st, "%s: bias quantizer", l->name);
  } else {
    memcpy(bq, bf, oc * sizeof(float));
  }
  e->w = wq;
  e->b = bq;
  return TQ_OK;
}

/* Each type's kernel on the effective weights w, b: out from x, and back into din, dw, db. */
typedef struct {
  void (*forward)(tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *w, const float *b);
  void (*backward)(const tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *w, float *dw, float *db);
} weighted_kernel;

static const weighted_kernel *kernel_of(tq_layer_type t);

static tq_status weighted_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  eff_weights e;
  tq_status st = effective_weights(m, l, p, &e);
  if (st) return st;
  kernel_of(l->type)->forward(m, l, p, e.w, e.b);
  if (p->training && l->folded_bn >= 0 && !m->bn_stats_frozen) tq_folded_bn_forward_train(m, l, p->n, p->rng);
  return TQ_OK;
}

/* Gradient of a folded, quantized layer: the gradient w.r.t. the quantized kernel and bias
 * passes the quantizers' straight-through masks (taken on the folded values), then flows through
 * the fold into kernel, bias, gamma and beta (moving statistics are not trained).
 * aux3 layout: tq_qat_aux3_floats. */
static void folded_weights_backward(tq_model *m, tq_layer *l, float *dwq, float *dbq) {
  size_t ks = l->kernel.size, oc = out_channels(l);
  float *wf = l->aux3, *bf = l->aux3 + ks, *inv = bf + oc;
  if (quantized(&l->kernel_q)) tq_quantize_backward(&l->kernel_q, dwq, dwq, wf, ks);
  if (quantized(&l->bias_q)) tq_quantize_backward(&l->bias_q, dbq, dbq, bf, oc);
  if (l->folded_bn < 0) {
    for (size_t i = 0; i < ks; i++) l->kernel.grad[i] += dwq[i];
    if (l->bias.size)
      for (size_t c = 0; c < oc; c++) l->bias.grad[c] += dbq[c];
    return;
  }
  tq_layer *bn = &m->layers[l->folded_bn];
  const float *k = l->kernel.value;
  float *kg = l->kernel.grad;
  double *dinv_c = (double *)(l->aux3 + tq_qat_dinv_offset(ks, oc)); /* one sum per channel */
  const float *rstd = l->aux3 + tq_qat_fold_stats_offset(ks, oc), *mean = rstd + oc; /* as folded */
  memset(dinv_c, 0, oc * sizeof(double));
  /* Rows of the kernel in order: each channel's sum runs in a fixed order for any thread count. */
#pragma omp parallel for schedule(static) if (ks > FOLD_PARALLEL_VALUES)
  for (size_t c0 = 0; c0 < oc; c0 += 16) {
    size_t c1 = c0 + 16 < oc ? c0 + 16 : oc;
    for (size_t r = 0; r < ks / oc; r++)
      for (size_t c = c0; c < c1; c++) {
        size_t i = r * oc + c;
        kg[i] += dwq[i] * inv[c];
        dinv_c[c] += (double)dwq[i] * k[i];
      }
  }
  for (size_t c = 0; c < oc; c++) {
    double dinv = dinv_c[c];
    float b = l->bias.size ? l->bias.value[c] : 0.0f;
    if (l->bias.size) l->bias.grad[c] += dbq[c] * inv[c];
    bn->beta.grad[c] += dbq[c];
    dinv += (double)dbq[c] * (b - mean[c]);
    bn->gamma.grad[c] += (float)(dinv * rstd[c]);
  }
}

static void weighted_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  const float *w = l->aux ? l->aux : l->kernel.value;
  float *dw = l->kernel.grad, *db = l->bias.size ? l->bias.grad : NULL;
  float *dwq = NULL, *dbq = NULL;
  if (l->aux) { /* QAT: gradients w.r.t. the effective weights first, then through the fold */
    size_t ks = l->kernel.size, oc = out_channels(l);
    dwq = l->aux3 + ks + 2 * oc;
    dbq = dwq + ks;
    memset(dwq, 0, (ks + oc) * sizeof(float));
    dw = dwq;
    db = dbq;
  }
  kernel_of(l->type)->backward(m, l, p, w, dw, db);
  if (l->aux) folded_weights_backward(m, l, dwq, dbq);
}

/* Kernel and optional bias; the kernel drawn with Keras' fans (receptive field times input and
 * output channels). Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); He normal:
 * truncated normal with stddev sqrt(2 / fan_in) (Keras truncates at two standard deviations). */
static tq_status alloc_weights(tq_layer *l, int rank, const int *dims, float fan_in, float fan_out,
                               tq_init init, tq_rng *rng) {
  tq_status st = tq_layer_param_alloc(&l->kernel, rank, dims, 1);
  if (st) return st;
  tq_param *p = &l->kernel;
  if (init == TQ_INIT_HE_NORMAL) {
    float sd = sqrtf(2.0f / fan_in) / 0.87962566103423978f; /* truncation variance fix */
    for (size_t i = 0; i < p->size; i++) {
      float z;
      do z = tq_rng_normal(rng);
      while (fabsf(z) > 2.0f);
      p->value[i] = sd * z;
    }
  } else {
    float a = sqrtf(6.0f / (fan_in + fan_out));
    for (size_t i = 0; i < p->size; i++) p->value[i] = a * (2.0f * tq_rng_uniform(rng) - 1.0f);
  }
  return l->use_bias ? tq_layer_param_alloc(&l->bias, 1, &l->out_shape.c, 1) : TQ_OK;
}

/* ---- Conv2D: kernel (kh, kw, cin, filters) */

static int conv2d_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m;
  if (l->filters < 1) {
    snprintf(why, n, "filters must be >= 1");
    return 0;
  }
  return tq_window_infer(l, l->filters, why, n);
}

static void conv2d_count(const tq_layer *l, size_t *trainable, size_t *frozen, size_t *macs) {
  size_t pos = (size_t)l->out_shape.h * l->out_shape.w;
  *trainable = (size_t)l->kh * l->kw * l->in_shape.c * l->filters + (size_t)l->use_bias * l->filters;
  *frozen = 0;
  *macs = pos * l->filters * l->kh * l->kw * l->in_shape.c;
}

static tq_status conv2d_alloc(tq_layer *l, tq_init init, tq_rng *rng) {
  int d[4] = {l->kh, l->kw, l->in_shape.c, l->filters};
  float rf = (float)(l->kh * l->kw);
  return alloc_weights(l, 4, d, rf * l->in_shape.c, rf * l->filters, init, rng);
}

static void conv2d_buffers(const tq_layer *l, size_t batch, tq_layer_buffers *b) {
  tq_conv_shape g = l->geom;
  g.n = (int)batch;
  b->scratch = tq_conv2d_scratch_floats(&g);
}

static void conv2d_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *w, const float *b) {
  if (p->training)
    tq_conv2d_forward_train_stats(l->out, p->x, w, b, &p->g, m->scratch, tq_bn_stats_sink(m, l, 1));
  else
    tq_conv2d_forward(l->out, p->x, w, b, &p->g, m->scratch);
}

static void conv2d_backward(const tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *w, float *dw,
                            float *db) {
  tq_conv2d_backward(p->din[0], dw, db, l->dout, p->x, w, &p->g, m->scratch);
}

static void conv2d_save(const tq_layer *l, cJSON *o) {
  tq_window_save(l, o);
  cJSON_AddNumberToObject(o, "filters", l->filters);
}

static const char *conv2d_load(tq_layer *l, const cJSON *o) {
  return tq_window_load(l, o) && tq_json_int(o, "filters", &l->filters) ? NULL : "window or filters missing";
}

const tq_layer_traits tq_layer_conv2d = {
    .keras_class = "Conv2D", .stem = "conv2d", .ninputs = 1, .has_kernel = 1, .rank = TQ_RANK_MAP,
    .lower = TQ_LOWER_WEIGHTED, .infer = conv2d_infer, .count = conv2d_count, .alloc_params = conv2d_alloc,
    .buffers = conv2d_buffers, .forward = weighted_forward, .backward = weighted_backward, .save = conv2d_save,
    .load = conv2d_load};

/* ---- DepthwiseConv2D: kernel (kh, kw, cin, multiplier), output channel c * multiplier + m */

static int depthwise_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m;
  if (l->multiplier < 1 || (int64_t)l->in_shape.c * l->multiplier > TQ_MAX_SAMPLE_VALUES) {
    snprintf(why, n, "depth multiplier must be >= 1 and C * multiplier at most %d", TQ_MAX_SAMPLE_VALUES);
    return 0;
  }
  return tq_window_infer(l, l->in_shape.c * l->multiplier, why, n);
}

static void depthwise_count(const tq_layer *l, size_t *trainable, size_t *frozen, size_t *macs) {
  size_t pos = (size_t)l->out_shape.h * l->out_shape.w, cin = (size_t)l->in_shape.c;
  *trainable = (size_t)l->kh * l->kw * cin * l->multiplier + (size_t)l->use_bias * cin * l->multiplier;
  *frozen = 0;
  *macs = pos * l->out_shape.c * l->kh * l->kw;
}

static tq_status depthwise_alloc(tq_layer *l, tq_init init, tq_rng *rng) {
  int d[4] = {l->kh, l->kw, l->in_shape.c, l->multiplier};
  float rf = (float)(l->kh * l->kw);
  /* Keras computes depthwise fans from the (kh, kw, cin, mult) shape: rf*cin, rf*mult. */
  return alloc_weights(l, 4, d, rf * l->in_shape.c, rf * l->multiplier, init, rng);
}

/* Room for a batch norm + ReLU pre-op (forward.c, tq_bn_pre_reader), for the threads there are now. */
static void depthwise_buffers(const tq_layer *l, size_t batch, tq_layer_buffers *b) {
  tq_conv_shape g = l->geom;
  g.n = (int)batch;
  b->scratch = tq_depthwise_pre_ok(&g) ? tq_depthwise_pre_floats(&g, omp_get_max_threads()) : 0;
}

static void depthwise_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *w,
                              const float *b) {
  if (p->has_pre)
    tq_depthwise_forward_pre(l->out, p->x, &p->pre, w, b, &p->g, tq_bn_stats_sink(m, l, 1));
  else
    tq_depthwise_forward_stats(l->out, p->x, w, b, &p->g, tq_bn_stats_sink(m, l, p->training));
}

static void depthwise_backward(const tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *w, float *dw,
                               float *db) {
  (void)m;
  if (p->has_pre)
    tq_depthwise_backward_pre(p->din[0], dw, db, l->dout, p->x, &p->pre, w, &p->g);
  else
    tq_depthwise_backward(p->din[0], dw, db, l->dout, p->x, w, &p->g);
}

static void depthwise_save(const tq_layer *l, cJSON *o) {
  tq_window_save(l, o);
  cJSON_AddNumberToObject(o, "multiplier", l->multiplier);
}

static const char *depthwise_load(tq_layer *l, const cJSON *o) {
  return tq_window_load(l, o) && tq_json_int(o, "multiplier", &l->multiplier) ? NULL
                                                                              : "window or multiplier missing";
}

const tq_layer_traits tq_layer_depthwise = {
    .keras_class = "DepthwiseConv2D", .stem = "depthwise_conv2d", .ninputs = 1, .has_kernel = 1,
    .rank = TQ_RANK_MAP, .lower = TQ_LOWER_WEIGHTED, .infer = depthwise_infer, .count = depthwise_count,
    .alloc_params = depthwise_alloc, .buffers = depthwise_buffers, .forward = weighted_forward,
    .backward = weighted_backward, .save = depthwise_save, .load = depthwise_load};

/* ---- Dense: kernel (cin, units) on a flat input */

static int dense_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m;
  if (l->units < 1) {
    snprintf(why, n, "units must be >= 1");
    return 0;
  }
  if (l->in_shape.h != 1 || l->in_shape.w != 1) {
    snprintf(why, n, "input must be flat (add a Flatten layer)");
    return 0;
  }
  l->out_shape = (tq_shape3){1, 1, l->units};
  return 1;
}

static void dense_count(const tq_layer *l, size_t *trainable, size_t *frozen, size_t *macs) {
  *trainable = (size_t)l->in_shape.c * l->units + (size_t)l->use_bias * l->units;
  *frozen = 0;
  *macs = (size_t)l->in_shape.c * l->units;
}

static tq_status dense_alloc(tq_layer *l, tq_init init, tq_rng *rng) {
  int d[2] = {l->in_shape.c, l->units};
  return alloc_weights(l, 2, d, (float)l->in_shape.c, (float)l->units, init, rng);
}

static void dense_buffers(const tq_layer *l, size_t batch, tq_layer_buffers *b) {
  b->scratch = tq_dense_scratch_floats((int)batch, l->in_shape.c, l->units);
}

static void dense_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *w, const float *b) {
  tq_dense_forward_stats(l->out, p->x, w, b, p->n, l->in_shape.c, l->units, m->scratch,
                         tq_bn_stats_sink(m, l, p->training));
}

static void dense_backward(const tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *w, float *dw,
                           float *db) {
  tq_dense_backward(p->din[0], dw, db, l->dout, p->x, w, p->n, l->in_shape.c, l->units, m->scratch);
}

static void dense_save(const tq_layer *l, cJSON *o) { cJSON_AddNumberToObject(o, "units", l->units); }

static const char *dense_load(tq_layer *l, const cJSON *o) {
  return tq_json_int(o, "units", &l->units) ? NULL : "units missing";
}

const tq_layer_traits tq_layer_dense = {
    .keras_class = "Dense", .stem = "dense", .ninputs = 1, .has_kernel = 1, .rank = TQ_RANK_FLAT,
    .lower = TQ_LOWER_WEIGHTED, .infer = dense_infer, .count = dense_count, .alloc_params = dense_alloc,
    .buffers = dense_buffers, .forward = weighted_forward, .backward = weighted_backward, .save = dense_save, .load = dense_load};

static const weighted_kernel *kernel_of(tq_layer_type t) {
  static const weighted_kernel kernels[TQ_L_COUNT] = {
      [TQ_L_CONV2D] = {conv2d_forward, conv2d_backward},
      [TQ_L_DEPTHWISE] = {depthwise_forward, depthwise_backward},
      [TQ_L_DENSE] = {dense_forward, dense_backward},
  };
  TQ_ASSERT(kernels[t].forward);
  return &kernels[t];
}
