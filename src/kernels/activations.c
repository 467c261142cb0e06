/* Elementwise activations. Backward functions take the forward INPUT, so that the caller keeps one
 * tensor per layer whatever the activation. The derivative at kinks follows TensorFlow (ReluGrad:
 * 1 where x > 0; Relu6Grad: 1 where 0 < x < 6), so gradients match Keras training step for step. */
#include <math.h>

#include "tinyq/kernels.h"

/* Cheap loops are memory-bound: threads only pay off on large tensors. */
#define ACT_PARALLEL_CHEAP 65536
#define ACT_PARALLEL_EXP 4096

void tq_relu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PARALLEL_CHEAP)
  for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void tq_relu_backward(float *din, const float *dout, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PARALLEL_CHEAP)
  for (size_t i = 0; i < n; i++) din[i] = in[i] > 0.0f ? dout[i] : 0.0f;
}

void tq_relu_max_forward(float *out, const float *in, size_t n, float max_value) {
#pragma omp parallel for schedule(static) if (n > ACT_PARALLEL_CHEAP)
  for (size_t i = 0; i < n; i++) {
    float v = in[i] > 0.0f ? in[i] : 0.0f;
    out[i] = v < max_value ? v : max_value;
  }
}

void tq_relu_max_backward(float *din, const float *dout, const float *in, size_t n, float max_value) {
#pragma omp parallel for schedule(static) if (n > ACT_PARALLEL_CHEAP)
  for (size_t i = 0; i < n; i++) din[i] = in[i] > 0.0f && in[i] < max_value ? dout[i] : 0.0f;
}

/* 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) below: never overflows, never divides inf by inf. */
static inline float sigmoidf(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

void tq_sigmoid_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PARALLEL_EXP)
  for (size_t i = 0; i < n; i++) out[i] = sigmoidf(in[i]);
}

void tq_sigmoid_backward(float *din, const float *dout, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PARALLEL_EXP)
  for (size_t i = 0; i < n; i++) {
    float s = sigmoidf(in[i]);
    din[i] = dout[i] * s * (1.0f - s);
  }
}

void tq_swish_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PARALLEL_EXP)
  for (size_t i = 0; i < n; i++) out[i] = in[i] * sigmoidf(in[i]);
}

/* d/dx x*s(x) = s + x*s*(1-s) */
void tq_swish_backward(float *din, const float *dout, const float *in, size_t n) {
#pragma omp parallel for schedule(static) if (n > ACT_PARALLEL_EXP)
  for (size_t i = 0; i < n; i++) {
    float s = sigmoidf(in[i]);
    din[i] = dout[i] * (s + in[i] * s * (1.0f - s));
  }
}
