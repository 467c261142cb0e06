/* Image resizing for the imagefolder source and the stand-in generator: per axis, area averaging
 * when shrinking (each output pixel the mean of the input area it covers, partial pixels weighed
 * by their overlap) and bilinear interpolation when enlarging (half-pixel centres, edges
 * clamped) — OpenCV's INTER_AREA. Written here rather than taken from stb_image_resize 0.97,
 * whose filter setup aborts on an assertion for some size pairs (24 -> 5 with its triangle
 * filter: "total < 1.1f"), which an image file must not be able to do. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/data.h"

/* The taps of one axis: output o reads inputs first[o] .. first[o] + count[o] - 1 with weights
 * w[o * stride ...]. */
typedef struct {
  int *first, *count, stride;
  float *w;
} axis_taps;

static void axis_free(axis_taps *a) {
  free(a->first);
  free(a->count);
  free(a->w);
}

static tq_status axis_make(axis_taps *a, int in, int out) {
  a->stride = out < in ? in / out + 2 : 2;
  a->first = malloc(sizeof(int) * (size_t)out);
  a->count = malloc(sizeof(int) * (size_t)out);
  a->w = calloc((size_t)out * a->stride, sizeof(float));
  if (!a->first || !a->count || !a->w) return tq_fail(TQ_ERR_MEMORY, "resize %d -> %d: out of memory", in, out);
  double scale = (double)in / out;
  for (int o = 0; o < out; o++) {
    float *w = a->w + (size_t)o * a->stride;
    if (out < in) { /* area */
      double lo = o * scale, hi = (o + 1) * scale;
      int first = (int)floor(lo), last = (int)ceil(hi) - 1;
      if (last > in - 1) last = in - 1;
      a->first[o] = first;
      a->count[o] = last - first + 1;
      for (int i = first; i <= last; i++) w[i - first] = (float)((fmin(hi, i + 1) - fmax(lo, i)) / scale);
    } else { /* bilinear; out == in gives the identity */
      double x = (o + 0.5) * scale - 0.5;
      if (x < 0) x = 0;
      int i0 = (int)floor(x);
      if (i0 > in - 1) i0 = in - 1;
      float f = (float)(x - i0);
      a->first[o] = i0;
      a->count[o] = i0 + 1 < in && f > 0.0f ? 2 : 1;
      w[0] = a->count[o] == 2 ? 1.0f - f : 1.0f;
      w[1] = a->count[o] == 2 ? f : 0.0f;
    }
  }
  return TQ_OK;
}

tq_status tq_image_resize_u8(const unsigned char *in, int in_h, int in_w, unsigned char *out, int h, int w, int c) {
  if (in_h < 1 || in_w < 1 || h < 1 || w < 1 || c < 1)
    return tq_fail(TQ_ERR_ARG, "resize %dx%d -> %dx%d: bad size", in_h, in_w, h, w);
  if (in_h == h && in_w == w) {
    memcpy(out, in, (size_t)h * w * c);
    return TQ_OK;
  }
  axis_taps rows = {0}, cols = {0};
  tq_status st = axis_make(&rows, in_h, h);
  if (!st) st = axis_make(&cols, in_w, w);
  float *tmp = st ? NULL : malloc(sizeof(float) * (size_t)h * in_w * c); /* rows resized first */
  if (!st && !tmp) st = tq_fail(TQ_ERR_MEMORY, "resize %dx%d -> %dx%d: out of memory", in_h, in_w, h, w);
  for (int r = 0; !st && r < h; r++) {
    float *dst = tmp + (size_t)r * in_w * c;
    const float *wt = rows.w + (size_t)r * rows.stride;
    for (size_t k = 0; k < (size_t)in_w * c; k++) dst[k] = 0.0f;
    for (int t = 0; t < rows.count[r]; t++) {
      const unsigned char *src = in + (size_t)(rows.first[r] + t) * in_w * c;
      for (size_t k = 0; k < (size_t)in_w * c; k++) dst[k] += wt[t] * src[k];
    }
  }
  for (int r = 0; !st && r < h; r++) {
    for (int o = 0; o < w; o++) {
      const float *wt = cols.w + (size_t)o * cols.stride;
      for (int k = 0; k < c; k++) {
        float acc = 0.0f;
        for (int t = 0; t < cols.count[o]; t++) acc += wt[t] * tmp[((size_t)r * in_w + cols.first[o] + t) * c + k];
        acc = acc < 0.0f ? 0.0f : acc > 255.0f ? 255.0f : acc;
        out[((size_t)r * w + o) * c + k] = (unsigned char)lrintf(acc);
      }
    }
  }
  free(tmp);
  axis_free(&rows);
  axis_free(&cols);
  return st;
}
