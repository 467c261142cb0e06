/* Softmax, softmax + cross-entropy (fused, so the loss comes from log-sum-exp and never from
 * log(prob), which underflows), and mean squared error. The tensors are small (batch x classes),
 * so these run single-threaded and sum in double in a fixed order. */
#include <math.h>

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

float tq_mse_forward(const float *pred, const float *target, size_t count) {
  double total = 0.0;
  for (size_t i = 0; i < count; i++) {
    double d = (double)pred[i] - target[i];
    total += d * d;
  }
  return count ? (float)(total / count) : 0.0f;
}

void tq_mse_backward(float *dpred, const float *pred, const float *target, size_t count) {
  /* dpred overwritten = 2 (pred - target) / count */
  const float scale = 2.0f / (float)count;
  for (size_t i = 0; i < count; i++) dpred[i] = scale * (pred[i] - target[i]);
}
