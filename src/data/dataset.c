/* Input scaling, slicing, Keras-style validation split and batch gathering (the dataset registry
 * and tq_dataset_load: sources.c). */
#include <string.h>

#include "tinyq/data.h"

void tq_pixel_lut(float lut[256], tq_input_scaling s) {
  for (int v = 0; v < 256; v++) {
    switch (s) {
      case TQ_SCALE_RAW: lut[v] = (float)v; break;
      case TQ_SCALE_CENTERED: lut[v] = (float)v / 127.5f - 1.0f; break;
      case TQ_SCALE_UNIT: lut[v] = (float)v / 255.0f; break;
    }
  }
}

static const char *const scaling_names[] = {"unit", "raw", "centered"};

tq_status tq_dataset_parse_scaling(const char *s, tq_input_scaling *out) {
  for (int i = 0; i < 3; i++) {
    if (s && strcmp(s, scaling_names[i]) == 0) {
      *out = (tq_input_scaling)i;
      return TQ_OK;
    }
  }
  return tq_fail(TQ_ERR_ARG, "unknown input scaling '%s' (expected unit, raw, centered)",
                 s ? s : "(null)");
}

const char *tq_dataset_scaling_name(tq_input_scaling s) {
  return (s >= TQ_SCALE_UNIT && s <= TQ_SCALE_CENTERED) ? scaling_names[s] : "?";
}

void tq_dataset_free(tq_dataset *d) {
  if (!d) return;
  tq_free(d->x);
  tq_free(d->y);
  memset(d, 0, sizeof *d);
}

static size_t sample_size(const tq_dataset *d) { return (size_t)d->h * d->w * d->c; }

tq_status tq_dataset_slice(tq_dataset *out, const tq_dataset *src, int start, int count) {
  memset(out, 0, sizeof *out);
  if (start < 0 || count < 0 || start > src->n || count > src->n - start)
    return tq_fail(TQ_ERR_ARG, "dataset slice [%d, %d + %d) out of range for %d samples", start,
                   start, count, src->n);
  size_t ss = sample_size(src);
  out->x = tq_alloc_floats((size_t)count * ss);
  if (!out->x)
    return tq_fail_prefix(TQ_ERR_MEMORY, "%d samples of %dx%dx%d", count, src->h, src->w, src->c);
  if (src->y) {
    out->y = tq_alloc((size_t)count * sizeof(int));
    if (!out->y) {
      tq_free(out->x);
      out->x = NULL;
      return tq_fail_prefix(TQ_ERR_MEMORY, "%d labels", count);
    }
    if (count) memcpy(out->y, src->y + start, (size_t)count * sizeof(int));
  }
  if (count) memcpy(out->x, src->x + (size_t)start * ss, (size_t)count * ss * sizeof(float));
  out->n = count;
  out->h = src->h;
  out->w = src->w;
  out->c = src->c;
  out->classes = src->classes;
  return TQ_OK;
}

tq_status tq_dataset_split_tail(tq_dataset *train, tq_dataset *val, const tq_dataset *src,
                                double val_fraction) {
  memset(train, 0, sizeof *train);
  memset(val, 0, sizeof *val);
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    return tq_fail(TQ_ERR_ARG, "validation split %g is not in [0, 1)", val_fraction);
  /* Keras: split_at = int(num_samples * (1. - validation_split)) */
  int split_at = (int)((double)src->n * (1.0 - val_fraction));
  if (src->val_n > 0 && src->val_n < src->n) split_at = src->n - src->val_n;
  if (split_at <= 0)
    return tq_fail(TQ_ERR_ARG, "validation split %g of %d samples leaves no training samples",
                   val_fraction, src->n);
  tq_status st = tq_dataset_slice(train, src, 0, split_at);
  if (st) return st;
  st = tq_dataset_slice(val, src, split_at, src->n - split_at);
  if (st) tq_dataset_free(train);
  return st;
}

void tq_dataset_gather(float *x, int *y, const tq_dataset *d, const int *idx, int count) {
  size_t ss = sample_size(d);
  for (int i = 0; i < count; i++) {
    int j = idx[i];
    TQ_ASSERT(j >= 0 && j < d->n);
    memcpy(x + (size_t)i * ss, d->x + (size_t)j * ss, ss * sizeof(float));
    if (y && d->y) y[i] = d->y[j];
  }
}
