/* Image augmentation: the subset of Keras' ImageDataGenerator that the study's image recipes use
 * (width/height_shift_range, horizontal_flip), with shifts rounded to whole pixels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/data.h"

#define AUG_EXPECTED "expected shift=F, flip, fill=zero|nearest, or none"

tq_status tq_augment_parse(const char *s, tq_augment *out) {
  tq_augment a = {0.0f, 0, TQ_FILL_ZERO};
  *out = a;
  if (!s || !*s || strcmp(s, "none") == 0) return TQ_OK;
  int seen_shift = 0, seen_flip = 0, seen_fill = 0;
  const char *p = s;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char tok[64];
    if (len == 0) return tq_fail(TQ_ERR_ARG, "augment '%s': empty option (" AUG_EXPECTED ")", s);
    if (len >= sizeof tok)
      return tq_fail(TQ_ERR_ARG, "augment '%s': option too long (" AUG_EXPECTED ")", s);
    memcpy(tok, p, len);
    tok[len] = 0;
    int *seen = NULL;
    if (strncmp(tok, "shift=", 6) == 0) {
      char *e;
      double v = strtod(tok + 6, &e);
      if (e == tok + 6 || *e || !(v >= 0.0 && v < 1.0))
        return tq_fail(TQ_ERR_ARG, "augment '%s': bad shift '%s' (expected a fraction in [0, 1))",
                       s, tok + 6);
      a.shift = (float)v;
      seen = &seen_shift;
    } else if (strcmp(tok, "flip") == 0 || strcmp(tok, "hflip") == 0) {
      a.hflip = 1;
      seen = &seen_flip;
    } else if (strcmp(tok, "fill=zero") == 0 || strcmp(tok, "fill=nearest") == 0) {
      a.fill = tok[5] == 'z' ? TQ_FILL_ZERO : TQ_FILL_NEAREST;
      seen = &seen_fill;
    } else {
      return tq_fail(TQ_ERR_ARG, "augment '%s': unknown option '%s' (" AUG_EXPECTED ")", s, tok);
    }
    if ((*seen)++) return tq_fail(TQ_ERR_ARG, "augment '%s': option '%s' repeated", s, tok);
    if (!end) break;
    p = end + 1;
  }
  *out = a;
  return TQ_OK;
}

int tq_augment_active(const tq_augment *a) { return a && (a->shift > 0.0f || a->hflip); }

void tq_augment_format(char *buf, size_t n, const tq_augment *a) {
  if (!n) return;
  if (!tq_augment_active(a)) {
    snprintf(buf, n, "none");
    return;
  }
  char shift[32] = "";
  if (a->shift > 0.0f) snprintf(shift, sizeof shift, "shift=%g", (double)a->shift);
  snprintf(buf, n, "%s%s%s%s", shift, (a->shift > 0.0f && a->hflip) ? "," : "",
           a->hflip ? "flip" : "", a->fill == TQ_FILL_NEAREST ? ",fill=nearest" : "");
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Rows: out row r = in row r - dy. Rows are visited so that a source row is read before it is
 * overwritten (descending when content moves down, ascending when it moves up). */
static void shift_rows(float *img, int h, size_t row, int dy, tq_fill_mode fill) {
  if (dy == 0) return;
  if (fill == TQ_FILL_NEAREST) dy = clampi(dy, -(h - 1), h - 1);
  else dy = clampi(dy, -h, h);
  for (int k = 0; k < h; k++) {
    int r = dy > 0 ? h - 1 - k : k;
    int src = r - dy;
    float *dst = img + (size_t)r * row;
    if (src < 0 || src >= h) {
      if (fill == TQ_FILL_ZERO) {
        memset(dst, 0, row * sizeof(float));
        continue;
      }
      src = clampi(src, 0, h - 1);
    }
    if (src != r) memcpy(dst, img + (size_t)src * row, row * sizeof(float));
  }
}

/* One row of w pixels of c channels: out[col] = in[col - dx]. */
static void shift_cols(float *px, int w, int c, int dx, tq_fill_mode fill) {
  size_t cc = (size_t)c;
  if (fill == TQ_FILL_NEAREST) dx = clampi(dx, -(w - 1), w - 1);
  else dx = clampi(dx, -w, w);
  if (dx > 0) {
    size_t k = (size_t)dx;
    memmove(px + k * cc, px, ((size_t)w - k) * cc * sizeof(float));
    for (size_t col = 0; col < k; col++) {
      if (fill == TQ_FILL_ZERO) memset(px + col * cc, 0, cc * sizeof(float));
      else memcpy(px + col * cc, px + k * cc, cc * sizeof(float)); /* in[0], now at column k */
    }
  } else if (dx < 0) {
    size_t k = (size_t)-dx, keep = (size_t)w - k;
    memmove(px, px + k * cc, keep * cc * sizeof(float));
    for (size_t col = keep; col < (size_t)w; col++) {
      if (fill == TQ_FILL_ZERO) memset(px + col * cc, 0, cc * sizeof(float));
      else memcpy(px + col * cc, px + (keep - 1) * cc, cc * sizeof(float)); /* in[w-1] */
    }
  }
}

void tq_image_shift(float *img, int h, int w, int c, int dy, int dx, tq_fill_mode fill) {
  if (h <= 0 || w <= 0 || c <= 0) return;
  size_t row = (size_t)w * c;
  shift_rows(img, h, row, dy, fill); /* a shift is separable: rows, then columns */
  if (dx != 0)
    for (int r = 0; r < h; r++) shift_cols(img + (size_t)r * row, w, c, dx, fill);
}

void tq_image_hflip(float *img, int h, int w, int c) {
  for (int r = 0; r < h; r++) {
    float *px = img + (size_t)r * w * c;
    for (int a = 0, b = w - 1; a < b; a++, b--) {
      for (int k = 0; k < c; k++) {
        float t = px[(size_t)a * c + k];
        px[(size_t)a * c + k] = px[(size_t)b * c + k];
        px[(size_t)b * c + k] = t;
      }
    }
  }
}

/* Keras draws U(-range, range) * size; here the result is rounded to whole pixels. */
static int draw_shift(tq_rng *rng, float range, int size) {
  float u = 2.0f * tq_rng_uniform(rng) - 1.0f;
  return (int)floorf(u * range * (float)size + 0.5f);
}

void tq_augment_batch(float *x, int n, int h, int w, int c, const tq_augment *a, tq_rng *rng) {
  if (!tq_augment_active(a)) return;
  size_t ss = (size_t)h * w * c;
  for (int i = 0; i < n; i++) {
    float *img = x + (size_t)i * ss;
    if (a->shift > 0.0f) {
      int dy = draw_shift(rng, a->shift, h);
      int dx = draw_shift(rng, a->shift, w);
      tq_image_shift(img, h, w, c, dy, dx, a->fill);
    }
    if (a->hflip && (tq_rng_u64(rng) >> 63)) tq_image_hflip(img, h, w, c);
  }
}
