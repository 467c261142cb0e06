/* Convolution windows over NHWC (private to src/kernels): which taps of an output pixel's
 * window fall inside the input. Walking [ky0, ky1) x [kx0, kx1) visits exactly the taps a
 * "skip what falls in padding" loop over the whole window visits, in the same order. */
#ifndef TINYQ_KERNELS_WINDOW_H
#define TINYQ_KERNELS_WINDOW_H

#include "tinyq/kernels.h"

/* Valid taps [k0, k1) along one axis for a window of k taps starting at input index i0 (negative
 * in the padding) on an axis of len inputs; empty when the window misses the input. */
static inline void tq_tap_range(int i0, int k, int len, int *k0, int *k1) {
  *k0 = i0 < 0 ? -i0 : 0;
  *k1 = i0 + k > len ? len - i0 : k;
}

typedef struct {
  int iy0, ix0;           /* the window's origin in the input: tap (ky, kx) reads (iy0+ky, ix0+kx) */
  int ky0, ky1, kx0, kx1; /* its taps inside the input */
} tq_window;

/* The window of output pixel (oy, ox). */
static inline tq_window tq_window_at(const tq_conv_shape *s, int oy, int ox) {
  tq_window w;
  w.iy0 = oy * s->sh - s->pad_top;
  w.ix0 = ox * s->sw - s->pad_left;
  tq_tap_range(w.iy0, s->kh, s->h, &w.ky0, &w.ky1);
  tq_tap_range(w.ix0, s->kw, s->w, &w.kx0, &w.kx1);
  return w;
}

/* The offset of pixel (n, y, x) of an (N, h, w, c) tensor. */
static inline size_t tq_nhwc(int n, int y, int x, int h, int w, int c) {
  return (((size_t)n * h + y) * w + x) * c;
}

#endif
