/* Pooling over NHWC with channels innermost (vectorised), parallel over output rows in forward and
 * over images in backward: a window never crosses images, so each image's din belongs to one
 * thread and is summed in one fixed order. Padded positions never take part: max ignores them and
 * average divides by the number of real inputs in the window (Keras 'same' average pooling). */
#include <string.h>

#include "tinyq/kernels.h"

#define POOL_PARALLEL_VALUES 32768

void tq_maxpool_forward(float *out, int32_t *argmax, const float *in, const tq_conv_shape *s) {
  /* out: (N,OH,OW,C)  argmax: (N,OH,OW,C) flat index into in  in: (N,H,W,C) */
  const int C = s->c;
  TQ_ASSERT(s->oc == s->c);
  const int rows = s->n * s->oh;
#pragma omp parallel for schedule(static) if ((size_t)rows * s->ow * C * s->kh * s->kw > POOL_PARALLEL_VALUES)
  for (int row = 0; row < rows; row++) {
    int n = row / s->oh, oy = row % s->oh;
    for (int ox = 0; ox < s->ow; ox++) {
      size_t oi = (((size_t)n * s->oh + oy) * s->ow + ox) * C;
      float *restrict o = out + oi;
      int32_t *restrict a = argmax + oi;
      int first = 1; /* the first real tap initialises: padding never wins, even against -inf */
      for (int ky = 0; ky < s->kh; ky++) {
        int iy = oy * s->sh - s->pad_top + ky;
        if (iy < 0 || iy >= s->h) continue;
        for (int kx = 0; kx < s->kw; kx++) {
          int ix = ox * s->sw - s->pad_left + kx;
          if (ix < 0 || ix >= s->w) continue;
          int32_t base = (int32_t)((((size_t)n * s->h + iy) * s->w + ix) * C);
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
      }
      TQ_ASSERT(!first); /* 'same' padding is always smaller than the window */
    }
  }
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

/* Number of real (non-padding) taps along one axis for output position o. */
static inline int valid_taps(int o, int stride, int pad, int k, int len) {
  int i0 = o * stride - pad, i1 = i0 + k;
  if (i0 < 0) i0 = 0;
  if (i1 > len) i1 = len;
  return i1 - i0;
}

void tq_avgpool_forward(float *out, const float *in, const tq_conv_shape *s) {
  /* out: (N,OH,OW,C)  in: (N,H,W,C) */
  const int C = s->c;
  TQ_ASSERT(s->oc == s->c);
  const int rows = s->n * s->oh;
#pragma omp parallel for schedule(static) if ((size_t)rows * s->ow * C * s->kh * s->kw > POOL_PARALLEL_VALUES)
  for (int row = 0; row < rows; row++) {
    int n = row / s->oh, oy = row % s->oh;
    int ny = valid_taps(oy, s->sh, s->pad_top, s->kh, s->h);
    for (int ox = 0; ox < s->ow; ox++) {
      float *restrict o = out + (((size_t)n * s->oh + oy) * s->ow + ox) * C;
      memset(o, 0, (size_t)C * sizeof(float));
      for (int ky = 0; ky < s->kh; ky++) {
        int iy = oy * s->sh - s->pad_top + ky;
        if (iy < 0 || iy >= s->h) continue;
        for (int kx = 0; kx < s->kw; kx++) {
          int ix = ox * s->sw - s->pad_left + kx;
          if (ix < 0 || ix >= s->w) continue;
          const float *restrict x = in + (((size_t)n * s->h + iy) * s->w + ix) * C;
#pragma omp simd
          for (int c = 0; c < C; c++) o[c] += x[c];
        }
      }
      float inv = 1.0f / (float)(ny * valid_taps(ox, s->sw, s->pad_left, s->kw, s->w));
#pragma omp simd
      for (int c = 0; c < C; c++) o[c] *= inv;
    }
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
    for (int oy = 0; oy < s->oh; oy++) {
      int ny = valid_taps(oy, s->sh, s->pad_top, s->kh, s->h);
      for (int ox = 0; ox < s->ow; ox++) {
        const float *restrict g = dout + (((size_t)n * s->oh + oy) * s->ow + ox) * C;
        float inv = 1.0f / (float)(ny * valid_taps(ox, s->sw, s->pad_left, s->kw, s->w));
        for (int ky = 0; ky < s->kh; ky++) {
          int iy = oy * s->sh - s->pad_top + ky;
          if (iy < 0 || iy >= s->h) continue;
          for (int kx = 0; kx < s->kw; kx++) {
            int ix = ox * s->sw - s->pad_left + kx;
            if (ix < 0 || ix >= s->w) continue;
            float *restrict d = din + (((size_t)n * s->h + iy) * s->w + ix) * C;
#pragma omp simd
            for (int c = 0; c < C; c++) d[c] += g[c] * inv;
          }
        }
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
