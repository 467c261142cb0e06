/* Dataset specs, input scaling, slicing, Keras-style validation split and batch gathering. */
#include <stdio.h>
#include <string.h>

#include "tinyq/data.h"

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

void tq_pixel_lut(float lut[256], tq_input_scaling s) {
  for (int v = 0; v < 256; v++) {
    switch (s) {
      case TQ_SCALE_RAW: lut[v] = (float)v; break;
      case TQ_SCALE_CENTERED: lut[v] = (float)v / 127.5f - 1.0f; break;
      case TQ_SCALE_UNIT:
      default: lut[v] = (float)v / 255.0f; break;
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

/* "noise:HxWxC[:CLASSES]": standard-normal samples with uniform labels (1,000 train, 200 test),
 * seeded by the split. Not for accuracy: it lets footprint, speed and deployment runs work for
 * models whose real data is not on the machine. */
static tq_status load_noise(tq_dataset *out, const char *spec, const char *arg, int train_split) {
  int h = 0, w = 0, c = 0, classes = 10;
  char tail[32] = "";
  int got = arg ? sscanf(arg, "%dx%dx%d%31s", &h, &w, &c, tail) : 0;
  if (got == 4 && sscanf(tail, ":%d", &classes) != 1) got = 0;
  if (got < 3 || h < 1 || w < 1 || c < 1 || classes < 1 || (size_t)h * w * c > (1u << 24))
    return tq_fail(TQ_ERR_ARG, "dataset '%s': expected noise:HxWxC[:CLASSES]", spec);
  int n = train_split ? 1000 : 200;
  size_t per = (size_t)h * w * c;
  out->x = tq_alloc_floats(per * (size_t)n);
  out->y = tq_alloc(sizeof(int) * (size_t)n);
  if (!out->x || !out->y) {
    tq_dataset_free(out);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", spec);
  }
  tq_rng r;
  tq_rng_seed(&r, train_split ? 11 : 12);
  for (size_t i = 0; i < per * (size_t)n; i++) out->x[i] = tq_rng_normal(&r);
  for (int i = 0; i < n; i++) out->y[i] = (int)tq_rng_below(&r, (uint32_t)classes);
  out->n = n;
  out->h = h;
  out->w = w;
  out->c = c;
  out->classes = classes;
  return TQ_OK;
}

tq_status tq_dataset_load(tq_dataset *out, const char *spec, int train_split,
                          tq_input_scaling scaling) {
  memset(out, 0, sizeof *out);
  if (!spec) spec = "";
  if (scaling < TQ_SCALE_UNIT || scaling > TQ_SCALE_CENTERED)
    return tq_fail(TQ_ERR_ARG, "%s: bad input scaling %d", spec, (int)scaling);
  const char *colon = strchr(spec, ':');
  size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *dir = colon ? colon + 1 : NULL;
  char name[64];
  if (name_len >= sizeof name) name_len = sizeof name - 1;
  memcpy(name, spec, name_len);
  name[name_len] = 0;

  if (strcmp(name, "noise") == 0) return load_noise(out, spec, dir, train_split);
  int is_fashion = strcmp(name, "fashion-mnist") == 0;
  int is_mnist = strcmp(name, "mnist") == 0;
  int is_cifar = strcmp(name, "cifar10") == 0;
  if (!is_fashion && !is_mnist && !is_cifar)
    return tq_fail(TQ_ERR_ARG,
                   "unknown dataset '%s' (expected fashion-mnist[:DIR], mnist:DIR, cifar10:DIR, "
                   "noise:HxWxC[:CLASSES])",
                   name);
  if (dir && !*dir) return tq_fail(TQ_ERR_ARG, "dataset '%s': empty directory after ':'", spec);
  if (!dir) {
    if (!is_fashion)
      return tq_fail(TQ_ERR_ARG, "dataset '%s' needs a directory (%s:DIR)", name, name);
    dir = FASHION_MNIST_DIR;
  }
  if (is_cifar) return tq_dataset_load_cifar10(out, dir, train_split, scaling);
  return tq_dataset_load_mnist(out, dir, train_split, scaling);
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
