/* Softmax, softmax + cross-entropy (fused, so the loss comes from log-sum-exp and never from
 * log(prob), which underflows), and mean squared error. The softmax tensors are small (batch x
 * classes): single-threaded, summed in double in a fixed order. The autoencoder's MSE covers the
 * whole reconstruction (batch 512 x 640): parallel over fixed blocks, each summed in eight double
 * lanes, the blocks then in order; the same sum for any thread count and any vector width. */
#include <math.h>
#include <string.h>

#include "tinyq/kernels.h"

/* probs (K) = softmax(z (K)); returns log(sum(exp(z))) for the loss. */
static double softmax_row(float *probs, const float *z, int k) {
  float mx = z[0];
  for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
  double sum = 0.0;
  for (int j = 0; j < k; j++) {
    probs[j] = expf(z[j] - mx);
    sum += probs[j];
  }
  float inv = (float)(1.0 / sum);
  for (int j = 0; j < k; j++) probs[j] *= inv;
  return mx + log(sum);
}

void tq_softmax_forward(float *probs, const float *logits, int n, int k) {
  /* probs, logits: (N,K) */
  for (int i = 0; i < n; i++) softmax_row(probs + (size_t)i * k, logits + (size_t)i * k, k);
}

float tq_softmax_xent_forward(float *probs, const float *logits, const float *targets, const int *labels,
                              int n, int k) {
  /* probs, logits: (N,K)  targets: (N,K) soft/one-hot, or NULL and then labels: (N) in [0,K) */
  double total = 0.0;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * k;
    double lse = softmax_row(probs + (size_t)i * k, z, k);
    if (targets) {
      const float *t = targets + (size_t)i * k;
      for (int j = 0; j < k; j++) total += t[j] * (lse - z[j]);
    } else {
      TQ_ASSERT(labels[i] >= 0 && labels[i] < k); /* labels are validated when a dataset loads */
      total += lse - z[labels[i]];
    }
  }
  return n > 0 ? (float)(total / n) : 0.0f;
}

void tq_softmax_xent_backward(float *dlogits, const float *probs, const float *targets, const int *labels,
                              int n, int k) {
  /* dlogits: (N,K) overwritten = (probs - target) / N: the gradient of the batch-mean loss */
  const float inv_n = 1.0f / (float)n;
  for (int i = 0; i < n; i++) {
    const float *p = probs + (size_t)i * k;
    float *d = dlogits + (size_t)i * k;
    if (targets) {
      const float *t = targets + (size_t)i * k;
      for (int j = 0; j < k; j++) d[j] = (p[j] - t[j]) * inv_n;
    } else {
      TQ_ASSERT(labels[i] >= 0 && labels[i] < k);
      for (int j = 0; j < k; j++) d[j] = p[j] * inv_n;
      d[labels[i]] = (p[labels[i]] - 1.0f) * inv_n;
    }
  }
}

#define MSE_BLOCK 8192     /* values per block: a multiple of the lanes */
#define MSE_LANES 8        /* partial sums per block, one per lane, added in lane order */
#define MSE_PARALLEL 65536 /* values below which one thread sums */

static double mse_block(const float *pred, const float *target, size_t n) {
  double lane[MSE_LANES];
  memset(lane, 0, sizeof lane);
  size_t i = 0;
  for (; i + MSE_LANES <= n; i += MSE_LANES)
    for (int j = 0; j < MSE_LANES; j++) {
      double d = (double)pred[i + j] - target[i + j];
      lane[j] += d * d;
    }
  for (; i < n; i++) {
    double d = (double)pred[i] - target[i];
    lane[i % MSE_LANES] += d * d;
  }
  double s = 0.0;
  for (int j = 0; j < MSE_LANES; j++) s += lane[j];
  return s;
}

float tq_mse_forward(const float *pred, const float *target, size_t count) {
  if (!count) return 0.0f;
  const size_t nb = (count + MSE_BLOCK - 1) / MSE_BLOCK;
  double stack[64], *part = nb <= 64 ? stack : tq_alloc(nb * sizeof(double));
  TQ_ASSERT(part != NULL);
#pragma omp parallel for schedule(static) if (count > MSE_PARALLEL)
  for (size_t b = 0; b < nb; b++) {
    size_t i0 = b * MSE_BLOCK, n = count - i0 < MSE_BLOCK ? count - i0 : MSE_BLOCK;
    part[b] = mse_block(pred + i0, target + i0, n);
  }
  double total = 0.0;
  for (size_t b = 0; b < nb; b++) total += part[b];
  if (part != stack) tq_free(part);
  return (float)(total / count);
}

void tq_mse_backward(float *dpred, const float *pred, const float *target, size_t count) {
  /* dpred overwritten = 2 (pred - target) / count */
  const float scale = 2.0f / (float)count;
#pragma omp parallel for simd schedule(static) if (count > MSE_PARALLEL)
  for (size_t i = 0; i < count; i++) dpred[i] = scale * (pred[i] - target[i]);
}
