/* Forward and backward through the model graph, float or fake-quantized (QAT). */
#include <math.h>
#include <string.h>

#include "nn/model_internal.h"
#include "nn/simulate.h"

static int quantized(const tq_quantizer *q) { return q->kind != TQ_Q_NONE; }

/* ---- Effective (folded, quantized) weights of a conv/dense layer.
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

static tq_status layer_effective_weights(tq_model *m, tq_layer *l, int training, tq_rng *rng,
                                         eff_weights *e) {
  e->w = l->kernel.value;
  e->b = l->bias.size ? l->bias.value : NULL;
  if (!l->aux) return TQ_OK; /* float layer */
  size_t ks = l->kernel.size, oc = out_channels(l);
  float *wf = l->aux3, *bf = l->aux3 + ks;
  const tq_layer *bn = l->folded_bn >= 0 ? &m->layers[l->folded_bn] : NULL;
  /* Kernel channel index = flat index % oc for every layout (HWIO, depthwise HW·C·M, IO). */
  if (bn) {
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
  } else {
    memcpy(wf, l->kernel.value, ks * sizeof(float));
    for (size_t c = 0; c < oc; c++) bf[c] = l->bias.size ? l->bias.value[c] : 0.0f;
  }
  float *wq = l->aux, *bq = l->aux2;
  tq_status st;
  if (quantized(&l->kernel_q)) {
    st = tq_quantize_forward(&l->kernel_q, wq, NULL, wf, l->kernel.dims, l->kernel.rank, training,
                             rng);
    if (st) return tq_fail_prefix(st, "%s: kernel quantizer", l->name);
  } else {
    memcpy(wq, wf, ks * sizeof(float));
  }
  int odim = (int)oc;
  if (quantized(&l->bias_q)) {
    st = tq_quantize_forward(&l->bias_q, bq, NULL, bf, &odim, 1, training, rng);
    if (st) return tq_fail_prefix(st, "%s: bias quantizer", l->name);
  } else {
    memcpy(bq, bf, oc * sizeof(float));
  }
  e->w = wq;
  e->b = bq;
  return TQ_OK;
}

/* Moving average (momentum 0.99) of the batch range of a slot's input, kept during QAT so that
 * deployment can use learned static scales (SPEC §6). */
static void track_ema(tq_layer *l, const float *v, size_t n) {
  float lo = v[0], hi = v[0];
#pragma omp parallel for schedule(static) reduction(min : lo) reduction(max : hi) if (n > FOLD_PARALLEL_VALUES)
  for (size_t i = 1; i < n; i++) {
    lo = v[i] < lo ? v[i] : lo;
    hi = v[i] > hi ? v[i] : hi;
  }
  if (!l->ema_init) {
    l->ema_lo = lo;
    l->ema_hi = hi;
    l->ema_init = 1;
  } else {
    l->ema_lo = 0.99f * l->ema_lo + 0.01f * lo;
    l->ema_hi = 0.99f * l->ema_hi + 0.01f * hi;
  }
}

static void act_forward(tq_act act, float *out, const float *in, size_t n) {
  switch (act) {
    case TQ_ACT_RELU: tq_relu_forward(out, in, n); break;
    case TQ_ACT_RELU6: tq_relu_max_forward(out, in, n, 6.0f); break;
    case TQ_ACT_SIGMOID: tq_sigmoid_forward(out, in, n); break;
    case TQ_ACT_SWISH: tq_swish_forward(out, in, n); break;
    default: if (out != in) memcpy(out, in, n * sizeof(float)); break;
  }
}

static void act_backward(tq_act act, float *din, const float *dout, const float *in, size_t n) {
  switch (act) {
    case TQ_ACT_RELU: tq_relu_backward(din, dout, in, n); break;
    case TQ_ACT_RELU6: tq_relu_max_backward(din, dout, in, n, 6.0f); break;
    case TQ_ACT_SIGMOID: tq_sigmoid_backward(din, dout, in, n); break;
    case TQ_ACT_SWISH: tq_swish_backward(din, dout, in, n); break;
    default: if (din != dout) memcpy(din, dout, n * sizeof(float)); break;
  }
}

static tq_status layer_forward(tq_model *m, tq_layer *l, int n, int training, tq_rng *rng) {
  const float *x = l->ninputs ? m->layers[l->inputs[0]].out : NULL;
  size_t in_n = (size_t)n * tq_shape_size(l->in_shape);
  size_t out_n = (size_t)n * tq_shape_size(l->out_shape);
  tq_conv_shape g = l->geom;
  g.n = n;
  switch (l->type) {
    case TQ_L_INPUT:
      break;
    case TQ_L_CONV2D:
    case TQ_L_DEPTHWISE:
    case TQ_L_DENSE: {
      eff_weights e;
      tq_status st = layer_effective_weights(m, l, training, rng, &e);
      if (st) return st;
      if (l->type == TQ_L_CONV2D)
        tq_conv2d_forward(l->out, x, e.w, e.b, &g, m->scratch);
      else if (l->type == TQ_L_DEPTHWISE)
        tq_depthwise_forward(l->out, x, e.w, e.b, &g);
      else
        tq_dense_forward(l->out, x, e.w, e.b, n, l->in_shape.c, l->units);
      if (training && l->folded_bn >= 0 && !m->bn_stats_frozen) tq_folded_bn_forward_train(m, l, n);
      break;
    }
    case TQ_L_BATCHNORM: {
      int rows = (int)(in_n / (size_t)l->in_shape.c);
      if (l->bn_folded_into >= 0)
        TQ_ASSERT(l->out == x); /* shares its layer's buffer (tq_model_fold_bn) */
      else if (training)
        tq_batchnorm_forward_train(l->out, l->aux, l->aux2, l->moving_mean.value,
                                   l->moving_var.value, x, l->gamma.value, l->beta.value, rows,
                                   l->in_shape.c, l->bn_momentum, l->bn_eps);
      else
        tq_batchnorm_forward_infer(l->out, x, l->gamma.value, l->beta.value, l->moving_mean.value,
                                   l->moving_var.value, rows, l->in_shape.c, l->bn_eps);
      break;
    }
    case TQ_L_RELU:
      if (l->relu_max > 0)
        tq_relu_max_forward(l->out, x, out_n, l->relu_max);
      else
        tq_relu_forward(l->out, x, out_n);
      break;
    case TQ_L_ACTIVATION:
      if (l->act == TQ_ACT_SOFTMAX) {
        tq_softmax_forward(l->out, x, (int)(out_n / (size_t)l->out_shape.c), l->out_shape.c);
        break;
      }
      act_forward(l->act, l->out, x, out_n);
      if (quantized(&l->act_q)) {
        if (training) track_ema(l, l->out, out_n);
        tq_status st;
        if (m->use_static && l->has_static && !training) {
          st = tq_sim_slot(l, out_n); /* rounds as the integer model (simulate.h) */
        } else if (m->use_static && l->has_static) {
          st = tq_quantize_static(&l->act_q, &l->qstatic, l->out, NULL, l->out, out_n);
        } else {
          tq_shape3 s = l->out_shape;
          int dims[4] = {n, s.h, s.w, s.c};
          st = tq_quantize_forward(&l->act_q, l->out, NULL, l->out, dims, 4, training, rng);
        }
        if (st) return tq_fail_prefix(st, "%s: activation quantizer", l->name);
      }
      break;
    case TQ_L_MAXPOOL:
      tq_maxpool_forward(l->out, (int32_t *)l->aux, x, &g);
      break;
    case TQ_L_AVGPOOL:
      tq_avgpool_forward(l->out, x, &g);
      break;
    case TQ_L_GAP:
      tq_gap_forward(l->out, x, n, l->in_shape.h * l->in_shape.w, l->in_shape.c);
      break;
    case TQ_L_ADD:
      tq_add_forward(l->out, x, m->layers[l->inputs[1]].out, out_n);
      break;
    case TQ_L_MULTIPLY:
      tq_chanmul_forward(l->out, x, m->layers[l->inputs[1]].out, n,
                         l->in_shape.h * l->in_shape.w, l->in_shape.c);
      break;
    case TQ_L_FLATTEN:
    case TQ_L_RESHAPE:
      memcpy(l->out, x, out_n * sizeof(float));
      break;
    case TQ_L_DROPOUT:
      if (training && l->dropout_rate > 0)
        tq_dropout_forward(l->out, l->aux, x, out_n, l->dropout_rate, rng);
      else
        memcpy(l->out, x, out_n * sizeof(float));
      break;
    case TQ_L_ZEROPAD:
      tq_zeropad_forward(l->out, x, n, l->in_shape.h, l->in_shape.w, l->in_shape.c, l->pad[0],
                         l->pad[1], l->pad[2], l->pad[3]);
      break;
    default:
      return tq_fail(TQ_ERR_UNSUPPORTED, "%s: layer type cannot run", l->name);
  }
  if (l->sim.requant && m->use_static && !training) return tq_sim_requant(m, l, n);
  return TQ_OK;
}

int tq_model_forward_layer(tq_model *m, int i, int n) {
  return layer_forward(m, &m->layers[i], n, 0, NULL) == TQ_OK;
}

const float *tq_model_forward(tq_model *m, const float *x, int n, int training, tq_rng *rng) {
  TQ_ASSERT(m->finalized && n >= 1 && n <= m->max_batch);
  memcpy(m->layers[0].out, x, (size_t)n * tq_shape_size(m->input) * sizeof(float));
  for (int i = 1; i < m->nlayers; i++)
    if (layer_forward(m, &m->layers[i], n, training, rng) != TQ_OK) return NULL;
  return m->layers[m->nlayers - 1].out;
}

/* ---- Backward */

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

/* din for input k of layer l: written directly when l is the input's only consumer, else into a
 * temporary that is then added. Returns the buffer to write. */
static float *din_target(tq_model *m, tq_layer *l, int k, int *accumulate) {
  tq_layer *src = &m->layers[l->inputs[k]];
  *accumulate = src->consumers > 1;
  if (src->type == TQ_L_INPUT) return NULL; /* nobody needs the input's gradient */
  if (!*accumulate) return src->dout;
  return m->din_tmp + (size_t)k * (m->din_tmp_floats / 2);
}

static void din_finish(tq_model *m, tq_layer *l, int k, float *buf, int accumulate, size_t count) {
  if (!buf || !accumulate) return;
  float *dst = m->layers[l->inputs[k]].dout;
  for (size_t i = 0; i < count; i++) dst[i] += buf[i];
}

static void layer_backward(tq_model *m, tq_layer *l, int n) {
  const float *x = m->layers[l->inputs[0]].out;
  size_t in_n = (size_t)n * tq_shape_size(l->in_shape);
  size_t out_n = (size_t)n * tq_shape_size(l->out_shape);
  int acc0, acc1;
  float *din = din_target(m, l, 0, &acc0);
  tq_conv_shape g = l->geom;
  g.n = n;
  switch (l->type) {
    case TQ_L_CONV2D:
    case TQ_L_DEPTHWISE:
    case TQ_L_DENSE: {
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
      if (l->type == TQ_L_CONV2D)
        tq_conv2d_backward(din, dw, db, l->dout, x, w, &g, m->scratch);
      else if (l->type == TQ_L_DEPTHWISE)
        tq_depthwise_backward(din, dw, db, l->dout, x, w, &g);
      else
        tq_dense_backward(din, dw, db, l->dout, x, w, n, l->in_shape.c, l->units);
      if (l->aux) folded_weights_backward(m, l, dwq, dbq);
      break;
    }
    case TQ_L_BATCHNORM: {
      int rows = (int)(in_n / (size_t)l->in_shape.c);
      if (l->bn_folded_into >= 0) {
        TQ_ASSERT(!din || din == l->dout); /* shares its layer's gradient buffer */
        if (l->bn_batch_stats) tq_folded_bn_backward_train(m, l, n);
      } else {
        tq_batchnorm_backward(din, l->gamma.grad, l->beta.grad, l->dout, l->aux, l->gamma.value,
                              l->aux2, rows, l->in_shape.c);
      }
      break;
    }
    case TQ_L_RELU:
      if (!din) break;
      if (l->relu_max > 0)
        tq_relu_max_backward(din, l->dout, x, out_n, l->relu_max);
      else
        tq_relu_backward(din, l->dout, x, out_n);
      break;
    case TQ_L_ACTIVATION:
      if (!din) break;
      if (l->act == TQ_ACT_SOFTMAX) {
        /* Softmax backward: din = p * (dout - sum(dout * p)). */
        int k = l->out_shape.c, rows = (int)(out_n / (size_t)k);
        for (int r = 0; r < rows; r++) {
          const float *p = l->out + (size_t)r * k, *d = l->dout + (size_t)r * k;
          double s = 0;
          for (int j = 0; j < k; j++) s += (double)d[j] * p[j];
          for (int j = 0; j < k; j++) din[(size_t)r * k + j] = p[j] * (d[j] - (float)s);
        }
        break;
      }
      if (quantized(&l->act_q)) {
        /* The quantizer's STE mask is taken on its own input, the activation's output; for the
         * linear slots that is x itself. */
        if (l->act == TQ_ACT_LINEAR) {
          tq_quantize_backward(&l->act_q, din, l->dout, x, out_n);
        } else {
          float *tmp = m->scratch;
          act_forward(l->act, tmp, x, out_n);
          tq_quantize_backward(&l->act_q, tmp, l->dout, tmp, out_n);
          act_backward(l->act, din, tmp, x, out_n);
        }
      } else {
        act_backward(l->act, din, l->dout, x, out_n);
      }
      break;
    case TQ_L_MAXPOOL:
      if (din) tq_maxpool_backward(din, l->dout, (const int32_t *)l->aux, &g);
      break;
    case TQ_L_AVGPOOL:
      if (din) tq_avgpool_backward(din, l->dout, &g);
      break;
    case TQ_L_GAP:
      if (din) tq_gap_backward(din, l->dout, n, l->in_shape.h * l->in_shape.w, l->in_shape.c);
      break;
    case TQ_L_ADD: {
      float *din1 = din_target(m, l, 1, &acc1);
      if (din) memcpy(din, l->dout, out_n * sizeof(float));
      if (din1) memcpy(din1, l->dout, out_n * sizeof(float));
      din_finish(m, l, 1, din1, acc1, out_n);
      break;
    }
    case TQ_L_MULTIPLY: {
      float *ds = din_target(m, l, 1, &acc1);
      int hw = l->in_shape.h * l->in_shape.w;
      tq_chanmul_backward(din, ds, l->dout, x, m->layers[l->inputs[1]].out, n, hw, l->in_shape.c);
      din_finish(m, l, 1, ds, acc1, (size_t)n * l->in_shape.c);
      break;
    }
    case TQ_L_FLATTEN:
    case TQ_L_RESHAPE:
      if (din) memcpy(din, l->dout, out_n * sizeof(float));
      break;
    case TQ_L_DROPOUT:
      if (!din) break;
      if (l->dropout_rate > 0)
        tq_dropout_backward(din, l->dout, l->aux, out_n);
      else
        memcpy(din, l->dout, out_n * sizeof(float));
      break;
    case TQ_L_ZEROPAD:
      if (din)
        tq_zeropad_backward(din, l->dout, n, l->in_shape.h, l->in_shape.w, l->in_shape.c,
                            l->pad[0], l->pad[1], l->pad[2], l->pad[3]);
      break;
    default:
      break;
  }
  din_finish(m, l, 0, din, acc0, in_n);
}

void tq_model_backward(tq_model *m, const float *dout, int n) {
  TQ_ASSERT(m->finalized && n >= 1 && n <= m->max_batch);
  /* Inputs with several consumers accumulate; start them from zero. */
  for (int i = 0; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    if (l->consumers > 1) memset(l->dout, 0, (size_t)n * tq_shape_size(l->out_shape) * sizeof(float));
  }
  tq_layer *last = &m->layers[m->nlayers - 1];
  memcpy(last->dout, dout, (size_t)n * tq_shape_size(last->out_shape) * sizeof(float));
  for (int i = m->nlayers - 1; i >= 1; i--) layer_backward(m, &m->layers[i], n);
}
