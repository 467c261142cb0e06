/* A batch norm folded into its conv/dense layer, while QAT trains its statistics.
 *
 * The kernel is folded with the *moving* statistics and quantized exactly as it will be deployed
 * (forward.c, layer_effective_weights), but the layer's output is normalised with the *batch*
 * statistics of the raw layer, as in float training (Jacob et al. 2018; PyTorch's fused conv-bn
 * QAT modules). Normalising with the moving statistics instead, as tinyq did before, leaves a
 * network trained from scratch without batch normalisation for its first thousand steps (moving
 * statistics start at mean 0, variance 1, and follow the batch ones at momentum 0.99): ResNet-8 on
 * Fashion-MNIST reached 56 % after one epoch where float training reaches 82 %.
 *
 * With inv = gamma / sqrt(moving_var + eps), the folded output is y = conv(x, Q(W * inv)) + bq, and
 * the raw layer's output z = conv(x, W) + b is estimated as (y - bq) / inv + b. Batch-normalising z
 * and substituting gives, per channel, with the batch mean m and variance v of y:
 *
 *     out = gamma * (y - m) * s + beta,   s = sign(gamma) / sqrt(v + eps * inv^2)
 *
 * which never divides by inv (gamma may be near zero). It is a batch norm of y with a per-channel
 * epsilon; at the moving statistics it is exactly the deployed fold. The moving statistics follow
 * the estimated batch statistics of z. BN's own buffers hold the normalised values (aux) and s
 * (aux2) for the backward pass; fused with the ReLU after it (tq_bn_fused_relu), aux holds the batch
 * mean of y instead, and y is left as it is. */
#include <math.h>
#include <string.h>

#include "nn/model_internal.h"

static size_t rows_of(const tq_layer *l, int n) {
  return (size_t)n * (size_t)l->out_shape.h * (size_t)l->out_shape.w;
}

void tq_folded_bn_forward_train(tq_model *m, tq_layer *l, int n, tq_rng *rng) {
  tq_layer *bn = &m->layers[l->folded_bn];
  size_t oc = (size_t)l->out_shape.c, rows = rows_of(l, n);
  const float *bf = l->aux3 + l->kernel.size, *inv = bf + oc; /* folded bias, then inv */
  const float *bq = l->aux2;                                  /* quantized folded bias */
  double *mean_y = (double *)m->din_tmp, *var_y = mean_y + oc;
  float *mean_f = (float *)(var_y + oc); /* 6 floats per channel in din_tmp (model.c) */
  float *s = bn->aux2, *xhat = bn->aux, *y = l->out;
  const float *gamma = bn->gamma.value, *beta = bn->beta.value;
  if (bn->bn_stats_given) /* the layer's forward left them (tq_bn_stats_sink) */
    tq_batchnorm_moments_from_stats(mean_y, var_y, bn->aux2 + oc, (int)rows, (int)oc);
  else
    tq_batchnorm_moments(mean_y, var_y, y, (int)rows, (int)oc);
  bn->bn_stats_given = 0;
  const float mom = bn->bn_momentum, eps = bn->bn_eps;
  for (size_t c = 0; c < oc; c++) {
    double v = var_y[c], ic = inv[c];
    double unbiased = rows > 1 ? v * (double)rows / (double)(rows - 1) : v;
    double den = sqrt(v + (double)eps * ic * ic);
    s[c] = den > 0 ? (float)((gamma[c] < 0 ? -1.0 : 1.0) / den) : 0.0f;
    mean_f[c] = (float)mean_y[c];
    if (fabs(ic) < 1e-12) continue; /* gamma 0: y carries nothing about z */
    /* y = inv * (z - moving_mean) + beta, up to the bias quantizer: recover E[z] and Var[z]. */
    double mean_z = (mean_y[c] - bq[c] + bf[c] - beta[c]) / ic + bn->moving_mean.value[c];
    double var_z = unbiased / (ic * ic);
    bn->moving_mean.value[c] = mom * bn->moving_mean.value[c] + (1 - mom) * (float)mean_z;
    bn->moving_var.value[c] = mom * bn->moving_var.value[c] + (1 - mom) * (float)var_z;
  }
  /* Fused with the ReLU after it: the ReLU's output, y kept (xhat is recomputed from it), the
   * mean kept in xhat's buffer. Else y normalised in place, xhat kept. */
  tq_layer *relu = tq_bn_fused_relu(m, bn), *drop = relu ? tq_relu_fused_dropout(m, relu) : NULL;
  if (relu) memcpy(xhat, mean_f, oc * sizeof(float));
  if (drop) {
    drop->dropout_key = tq_rng_u64(rng); /* the draw tq_dropout_forward would make */
    tq_batchnorm_normalize_dropout(drop->out, y, mean_f, s, gamma, beta, (int)rows, (int)oc, relu->relu_max,
                                   drop->dropout_rate, drop->dropout_key);
  } else {
    tq_batchnorm_normalize(relu ? relu->out : y, relu ? NULL : xhat, y, mean_f, s, gamma, beta, (int)rows,
                           (int)oc, relu != NULL, relu ? relu->relu_max : 0.0f);
  }
  bn->bn_batch_stats = 1;
}

void tq_folded_bn_backward_train(tq_model *m, tq_layer *bn, int n) {
  tq_layer *l = &m->layers[bn->bn_folded_into];
  size_t oc = (size_t)l->out_shape.c, rows = rows_of(l, n);
  float *dgamma_before = m->din_tmp; /* free during this layer's backward */
  memcpy(dgamma_before, bn->gamma.grad, oc * sizeof(float));
  /* In place on the shared gradient buffer: d loss / d y (fused: from the ReLU's gradient). */
  tq_layer *relu = tq_bn_fused_relu(m, bn);
  const tq_layer *drop = relu ? tq_relu_fused_dropout(m, relu) : NULL;
  if (relu)
    tq_batchnorm_relu_dropout_backward(l->dout, bn->gamma.grad, bn->beta.grad, drop ? drop->dout : relu->dout,
                                       l->out, bn->aux, bn->gamma.value, bn->beta.value, bn->aux2, (int)rows,
                                       (int)oc, relu->relu_max, drop ? drop->dropout_rate : 0.0f,
                                       drop ? drop->dropout_key : 0);
  else
    tq_batchnorm_backward(l->dout, bn->gamma.grad, bn->beta.grad, l->dout, bn->aux, bn->gamma.value, bn->aux2,
                          (int)rows, (int)oc);
  /* gamma also enters through eps * inv^2 in s: d s / d gamma = -s^3 * eps * inv^2 / gamma
   * (at fixed v), and d loss / d s = gamma * q / s with q = sum(dout * xhat), the gradient the
   * kernel just added to gamma. */
  const float *inv = l->aux3 + l->kernel.size + oc;
  for (size_t c = 0; c < oc; c++) {
    double q = (double)bn->gamma.grad[c] - dgamma_before[c], sc = bn->aux2[c];
    bn->gamma.grad[c] -= (float)(q * sc * sc * bn->bn_eps * (double)inv[c] * inv[c]);
  }
  bn->bn_batch_stats = 0;
}
