/* Elementwise glue layers: add (residuals), channel multiply (squeeze-excite), zero padding,
 * inverted dropout. All NHWC, channels innermost. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/dropout_draw.h"
#include "tinyq/kernels.h"

#define EW_PARALLEL_VALUES 65536

void tq_add_forward(float *out, const float *a, const float *b, size_t n) {
  /* Backward is the identity to both inputs: callers pass dout on, no kernel needed. */
#pragma omp parallel for schedule(static) if (n > EW_PARALLEL_VALUES)
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void tq_add_relu_forward(float *out, const float *a, const float *b, size_t n, float relu_max) {
  const float cap = relu_max > 0.0f ? relu_max : INFINITY; /* min(v, INFINITY) is v: plain ReLU */
#pragma omp parallel for simd schedule(static) if (n > EW_PARALLEL_VALUES)
  for (size_t i = 0; i < n; i++) {
    float v = a[i] + b[i];
    v = v > 0.0f ? v : 0.0f;
    out[i] = v < cap ? v : cap;
  }
}

/* The ReLU's mask from its output: out > 0 exactly where its input was, and out < cap exactly where
 * the input was below the cap (TensorFlow's Relu6Grad: 0 < x < 6). */
void tq_add_relu_backward(float *da, float *db, const float *dout, const float *out, size_t n, float relu_max) {
  const float cap = relu_max > 0.0f ? relu_max : INFINITY;
#pragma omp parallel for simd schedule(static) if (n > EW_PARALLEL_VALUES)
  for (size_t i = 0; i < n; i++) {
    float g = out[i] > 0.0f && out[i] < cap ? dout[i] : 0.0f;
    if (da) da[i] = g;
    if (db) db[i] = g;
  }
}

void tq_chanmul_forward(float *out, const float *x, const float *s, int n, int hw, int c) {
  /* out, x: (N,HW,C)  s: (N,C) */
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c > EW_PARALLEL_VALUES)
  for (int i = 0; i < n; i++)
    for (int p = 0; p < hw; p++) {
      const float *restrict xs = x + ((size_t)i * hw + p) * c, *restrict sc = s + (size_t)i * c;
      float *restrict o = out + ((size_t)i * hw + p) * c;
#pragma omp simd
      for (int j = 0; j < c; j++) o[j] = xs[j] * sc[j];
    }
}

void tq_chanmul_backward(float *dx, float *ds, const float *dout, const float *x, const float *s, int n,
                         int hw, int c) {
  /* dx: (N,HW,C) overwritten = dout*s   ds: (N,C) overwritten = sum over HW of dout*x
   * (both are input gradients; parallel over images, so each ds row has one owner) */
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c > EW_PARALLEL_VALUES)
  for (int i = 0; i < n; i++) {
    const float *restrict sc = s + (size_t)i * c;
    float *restrict dsi = ds ? ds + (size_t)i * c : NULL;
    if (dsi) memset(dsi, 0, (size_t)c * sizeof(float));
    for (int p = 0; p < hw; p++) {
      size_t off = ((size_t)i * hw + p) * c;
      const float *restrict g = dout + off, *restrict xs = x + off;
      if (dx) {
#pragma omp simd
        for (int j = 0; j < c; j++) dx[off + j] = g[j] * sc[j];
      }
      if (dsi) {
#pragma omp simd
        for (int j = 0; j < c; j++) dsi[j] += g[j] * xs[j];
      }
    }
  }
}

void tq_zeropad_forward(float *out, const float *in, int n, int h, int w, int c, int top, int bottom,
                        int left, int right) {
  /* out: (N, H+top+bottom, W+left+right, C)  in: (N,H,W,C) */
  const int OH = h + top + bottom, OW = w + left + right;
  const size_t row_in = (size_t)w * c, row_out = (size_t)OW * c;
#pragma omp parallel for schedule(static) if ((size_t)n * OH * row_out > EW_PARALLEL_VALUES)
  for (int r = 0; r < n * OH; r++) {
    int i = r / OH, y = r % OH - top;
    float *o = out + (size_t)r * row_out;
    if (y < 0 || y >= h) {
      memset(o, 0, row_out * sizeof(float));
      continue;
    }
    memset(o, 0, (size_t)left * c * sizeof(float));
    memcpy(o + (size_t)left * c, in + ((size_t)i * h + y) * row_in, row_in * sizeof(float));
    memset(o + (size_t)(left + w) * c, 0, (size_t)right * c * sizeof(float));
  }
}

void tq_zeropad_backward(float *din, const float *dout, int n, int h, int w, int c, int top, int bottom,
                         int left, int right) {
  /* din: (N,H,W,C) overwritten = the un-padded window of dout */
  const int OH = h + top + bottom, OW = w + left + right;
  const size_t row_in = (size_t)w * c, row_out = (size_t)OW * c;
#pragma omp parallel for schedule(static) if ((size_t)n * h * row_in > EW_PARALLEL_VALUES)
  for (int r = 0; r < n * h; r++) {
    int i = r / h, y = r % h;
    memcpy(din + (size_t)r * row_in, dout + ((size_t)i * OH + y + top) * row_out + (size_t)left * c,
           row_in * sizeof(float));
  }
}

void tq_dropout_forward(float *out, float *mask, const float *in, size_t n, float rate, tq_rng *rng) {
  /* out, mask, in: (n). Value i's draw is a hash of (key, i), the key one tq_rng_u64 per call: any
   * thread can draw any value, so the mask is the same whatever the thread count, and the loop
   * vectorises (a serial generator cost more than the rest of the layer). 24-bit uniforms, as
   * tq_rng_uniform. rate >= 1 drops everything (Keras rejects it; no division by 0). */
  const float keep = tq_dropout_keep(rate);
  const uint64_t key = tq_rng_u64(rng);
#pragma omp parallel for simd schedule(static) if (n > EW_PARALLEL_VALUES)
  for (size_t i = 0; i < n; i++) {
    mask[i] = tq_dropout_draw(key, i, rate, keep);
    out[i] = in[i] * mask[i];
  }
}

void tq_dropout_backward(float *din, const float *dout, const float *mask, size_t n) {
#pragma omp parallel for schedule(static) if (n > EW_PARALLEL_VALUES)
  for (size_t i = 0; i < n; i++) din[i] = dout[i] * mask[i];
}
