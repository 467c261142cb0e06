/* Pooling over NHWC with channels innermost (vectorised), parallel over output rows in forward and
 * over images in backward: a window never crosses images, so each image's din belongs to one
 * thread and is summed in one fixed order. Padded positions never take part: max ignores them and
 * average divides by the number of real inputs in the window (Keras 'same' average pooling). */
#include <string.h>

#include "kernels/window.h"
#include "tinyq/kernels.h"

#define POOL_PARALLEL_VALUES 32768

/* Max over the window's real taps; argmax: the flat index into in of the winner. */
static inline void max_pixel(float *restrict o, int32_t *restrict a, const float *in, int n,
                             const tq_window *wd, const tq_conv_shape *s) {
  const int C = s->c;
  int first = 1; /* the first real tap initialises: padding never wins, even against -inf */
  for (int ky = wd->ky0; ky < wd->ky1; ky++)
    for (int kx = wd->kx0; kx < wd->kx1; kx++) {
      int32_t base = (int32_t)tq_nhwc(n, wd->iy0 + ky, wd->ix0 + kx, s->h, s->w, C);
      const float *restrict x = in + base;
      if (first) {
#pragma omp simd
        for (int c = 0; c < C; c++) o[c] = x[c], a[c] = base + c;
        first = 0;
      } else {
#pragma omp simd
        for (int c = 0; c < C; c++) { /* strict >: ties keep the first tap in scan order */
          int gt = x[c] > o[c];
          o[c] = gt ? x[c] : o[c];
          a[c] = gt ? base + c : a[c];
        }
      }
    }
  TQ_ASSERT(!first); /* 'same' padding is always smaller than the window */
}

/* 1 / the number of real (non-padding) inputs in a window (Keras 'same' average pooling). */
static inline float inv_count(const tq_window *wd) {
  return 1.0f / (float)((wd->ky1 - wd->ky0) * (wd->kx1 - wd->kx0));
}

/* Mean over the window's real taps. */
static inline void avg_pixel(float *restrict o, const float *in, int n, const tq_window *wd,
                             const tq_conv_shape *s) {
  const int C = s->c;
  memset(o, 0, (size_t)C * sizeof(float));
  for (int ky = wd->ky0; ky < wd->ky1; ky++)
    for (int kx = wd->kx0; kx < wd->kx1; kx++) {
      const float *restrict x = in + tq_nhwc(n, wd->iy0 + ky, wd->ix0 + kx, s->h, s->w, C);
#pragma omp simd
      for (int c = 0; c < C; c++) o[c] += x[c];
    }
  float inv = inv_count(wd);
#pragma omp simd
  for (int c = 0; c < C; c++) o[c] *= inv;
}

/* Max pooling when argmax is given, else average pooling; parallel over output rows. */
static void pool_forward(float *out, int32_t *argmax, const float *in, const tq_conv_shape *s) {
  /* out: (N,OH,OW,C)  argmax: (N,OH,OW,C) or NULL  in: (N,H,W,C) */
  const int C = s->c;
  TQ_ASSERT(s->oc == s->c);
  const int rows = s->n * s->oh;
#pragma omp parallel for schedule(static) if ((size_t)rows * s->ow * C * s->kh * s->kw > POOL_PARALLEL_VALUES)
  for (int row = 0; row < rows; row++) {
    int n = row / s->oh, oy = row % s->oh;
    for (int ox = 0; ox < s->ow; ox++) {
      size_t oi = tq_nhwc(n, oy, ox, s->oh, s->ow, C);
      const tq_window wd = tq_window_at(s, oy, ox);
      if (argmax) max_pixel(out + oi, argmax + oi, in, n, &wd, s);
      else avg_pixel(out + oi, in, n, &wd, s);
    }
  }
}

void tq_maxpool_forward(float *out, int32_t *argmax, const float *in, const tq_conv_shape *s) {
  pool_forward(out, argmax, in, s);
}

void tq_avgpool_forward(float *out, const float *in, const tq_conv_shape *s) {
  pool_forward(out, NULL, in, s);
}

void tq_maxpool_backward(float *din, const float *dout, const int32_t *argmax, const tq_conv_shape *s) {
  /* din: (N,H,W,C) overwritten  dout, argmax: (N,OH,OW,C) */
  const size_t in_img = (size_t)s->h * s->w * s->c, out_img = (size_t)s->oh * s->ow * s->c;
#pragma omp parallel for schedule(static) if (s->n * (in_img + out_img) > POOL_PARALLEL_VALUES)
  for (int n = 0; n < s->n; n++) {
    memset(din + n * in_img, 0, in_img * sizeof(float));
    for (size_t i = n * out_img; i < (n + 1) * out_img; i++) din[argmax[i]] += dout[i];
  }
}

void tq_avgpool_backward(float *din, const float *dout, const tq_conv_shape *s) {
  /* din: (N,H,W,C) overwritten  dout: (N,OH,OW,C) */
  const int C = s->c;
  const size_t in_img = (size_t)s->h * s->w * C;
#pragma omp parallel for schedule(static) if ((size_t)s->n * s->oh * s->ow * C * s->kh * s->kw >             \
                                              POOL_PARALLEL_VALUES)
  for (int n = 0; n < s->n; n++) {
    memset(din + n * in_img, 0, in_img * sizeof(float));
    for (int oy = 0; oy < s->oh; oy++)
      for (int ox = 0; ox < s->ow; ox++) {
        const float *restrict g = dout + tq_nhwc(n, oy, ox, s->oh, s->ow, C);
        const tq_window wd = tq_window_at(s, oy, ox);
        float inv = inv_count(&wd);
        for (int ky = wd.ky0; ky < wd.ky1; ky++)
          for (int kx = wd.kx0; kx < wd.kx1; kx++) {
            float *restrict d = din + tq_nhwc(n, wd.iy0 + ky, wd.ix0 + kx, s->h, s->w, C);
#pragma omp simd
            for (int c = 0; c < C; c++) d[c] += g[c] * inv;
          }
      }
  }
}

void tq_gap_forward(float *out, const float *in, int n, int hw, int c) {
  /* out: (N,C)  in: (N,HW,C) */
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c > POOL_PARALLEL_VALUES)
  for (int i = 0; i < n; i++) {
    float *restrict o = out + (size_t)i * c;
    memset(o, 0, (size_t)c * sizeof(float));
    for (int p = 0; p < hw; p++) {
      const float *restrict x = in + ((size_t)i * hw + p) * c;
#pragma omp simd
      for (int j = 0; j < c; j++) o[j] += x[j];
    }
    float inv = 1.0f / (float)hw;
#pragma omp simd
    for (int j = 0; j < c; j++) o[j] *= inv;
  }
}

void tq_gap_backward(float *din, const float *dout, int n, int hw, int c) {
  /* din: (N,HW,C) overwritten  dout: (N,C) */
  const float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c > POOL_PARALLEL_VALUES)
  for (int i = 0; i < n; i++)
    for (int p = 0; p < hw; p++) {
      float *restrict d = din + ((size_t)i * hw + p) * c;
      const float *restrict g = dout + (size_t)i * c;
#pragma omp simd
      for (int j = 0; j < c; j++) d[j] = g[j] * inv;
    }
}
