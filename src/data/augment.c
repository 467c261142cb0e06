/* Image augmentation: the subset of Keras' ImageDataGenerator that the study's image recipes use:
 * width/height_shift_range and horizontal_flip (shifts rounded to whole pixels), and for Visual
 * Wake Words rotation_range and zoom_range too (then one bilinear affine warp, as Keras'
 * apply_affine_transform with order 1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/data.h"

#define AUG_EXPECTED "expected rotate=DEG, shift=F, zoom=F, flip, fill=zero|nearest, vww, or none"

/* MLPerf Tiny's VWW training generator: ImageDataGenerator(rotation_range=10,
 * width_shift_range=.05, height_shift_range=.05, zoom_range=.1, horizontal_flip=True), whose
 * fill_mode is Keras' default, nearest. */
static const tq_augment vww_preset = {0.05f, 1, TQ_FILL_NEAREST, 10.0f, 0.1f};

/* "NAME=V" with lo <= V < hi (hi_closed: V <= hi) into *out; 0 when tok is not NAME=. */
static int parse_range(const char *s, const char *tok, const char *name, double lo, double hi, int hi_closed,
                       float *out, tq_status *st) {
  size_t len = strlen(name);
  if (strncmp(tok, name, len) || tok[len] != '=') return 0;
  char *e;
  double v = strtod(tok + len + 1, &e);
  if (e == tok + len + 1 || *e || !(v >= lo && (hi_closed ? v <= hi : v < hi)))
    *st = tq_fail(TQ_ERR_ARG, "augment '%s': bad %s '%s' (expected %s in [%g, %g%s)", s, name, tok + len + 1,
                  hi_closed ? "degrees" : "a fraction", lo, hi, hi_closed ? "]" : ")");
  else *out = (float)v;
  return 1;
}

/* One option into *a; *seen points at the flag of the option it was (repeats are errors). */
static tq_status parse_option(const char *s, const char *tok, tq_augment *a, int seen_flags[5], int **seen) {
  tq_status st = TQ_OK;
  if (parse_range(s, tok, "shift", 0.0, 1.0, 0, &a->shift, &st)) *seen = &seen_flags[0];
  else if (parse_range(s, tok, "rotate", 0.0, 180.0, 1, &a->rotate, &st)) *seen = &seen_flags[1];
  else if (parse_range(s, tok, "zoom", 0.0, 1.0, 0, &a->zoom, &st)) *seen = &seen_flags[2];
  else if (strcmp(tok, "flip") == 0 || strcmp(tok, "hflip") == 0) {
    a->hflip = 1;
    *seen = &seen_flags[3];
  } else if (strcmp(tok, "fill=zero") == 0 || strcmp(tok, "fill=nearest") == 0) {
    a->fill = tok[5] == 'z' ? TQ_FILL_ZERO : TQ_FILL_NEAREST;
    *seen = &seen_flags[4];
  } else if (strcmp(tok, "vww") == 0) {
    st = tq_fail(TQ_ERR_ARG, "augment '%s': vww is a preset on its own (its options: %s)", s,
                 "rotate=10,shift=0.05,zoom=0.1,flip,fill=nearest");
  } else {
    st = tq_fail(TQ_ERR_ARG, "augment '%s': unknown option '%s' (" AUG_EXPECTED ")", s, tok);
  }
  if (!st && (**seen)++) st = tq_fail(TQ_ERR_ARG, "augment '%s': option '%s' repeated", s, tok);
  return st;
}

tq_status tq_augment_parse(const char *s, tq_augment *out) {
  tq_augment a = {0.0f, 0, TQ_FILL_ZERO, 0.0f, 0.0f};
  *out = a;
  if (!s || !*s || strcmp(s, "none") == 0) return TQ_OK;
  if (strcmp(s, "vww") == 0) {
    *out = vww_preset;
    return TQ_OK;
  }
  int seen_flags[5] = {0};
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
    tq_status st = parse_option(s, tok, &a, seen_flags, &seen);
    if (st) return st;
    if (!end) break;
    p = end + 1;
  }
  *out = a;
  return TQ_OK;
}

static int affine_active(const tq_augment *a) { return a->rotate > 0.0f || a->zoom > 0.0f; }

int tq_augment_active(const tq_augment *a) { return a && (a->shift > 0.0f || a->hflip || affine_active(a)); }

void tq_augment_format(char *buf, size_t n, const tq_augment *a) {
  if (!n) return;
  if (!tq_augment_active(a)) {
    snprintf(buf, n, "none");
    return;
  }
  char parts[5][32];
  int k = 0;
  if (a->rotate > 0.0f) snprintf(parts[k++], sizeof parts[0], "rotate=%g", (double)a->rotate);
  if (a->shift > 0.0f) snprintf(parts[k++], sizeof parts[0], "shift=%g", (double)a->shift);
  if (a->zoom > 0.0f) snprintf(parts[k++], sizeof parts[0], "zoom=%g", (double)a->zoom);
  if (a->hflip) snprintf(parts[k++], sizeof parts[0], "flip");
  if (a->fill == TQ_FILL_NEAREST) snprintf(parts[k++], sizeof parts[0], "fill=nearest");
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < k && used < n; i++) used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "", parts[i]);
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

/* Keras' apply_affine_transform, output -> input coordinates about the image centre
 * ((size - 1) / 2): in = R(theta) (Z (out - centre) - t) + centre, sampled bilinearly; fill
 * zero: taps outside read 0; nearest: the coordinate is clamped to the edge. With theta 0 and
 * zoom 1 an integer t is exactly tq_image_shift's out[r][c] = in[r - ty][c - tx]. */
void tq_image_affine(float *img, float *scratch, int h, int w, int c, const tq_affine *t, tq_fill_mode fill) {
  if (h <= 0 || w <= 0 || c <= 0) return;
  size_t ss = (size_t)h * w * c;
  memcpy(scratch, img, ss * sizeof(float));
  double th = (double)t->degrees * 3.14159265358979323846 / 180.0, cs = cos(th), sn = sin(th);
  double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
  for (int r = 0; r < h; r++) {
    for (int col = 0; col < w; col++) {
      double u = t->zoom_y * (r - cy) - t->dy, v = t->zoom_x * (col - cx) - t->dx;
      double yi = cs * u - sn * v + cy, xi = sn * u + cs * v + cx;
      if (fill == TQ_FILL_NEAREST) {
        yi = yi < 0 ? 0 : yi > h - 1 ? h - 1 : yi;
        xi = xi < 0 ? 0 : xi > w - 1 ? w - 1 : xi;
      }
      int y0 = (int)floor(yi), x0 = (int)floor(xi);
      float fy = (float)(yi - y0), fx = (float)(xi - x0);
      float *dst = img + ((size_t)r * w + col) * c;
      for (int k = 0; k < c; k++) dst[k] = 0.0f;
      for (int tap = 0; tap < 4; tap++) {
        int yy = y0 + (tap >> 1), xx = x0 + (tap & 1);
        float wt = ((tap >> 1) ? fy : 1.0f - fy) * ((tap & 1) ? fx : 1.0f - fx);
        if (wt == 0.0f || yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const float *src = scratch + ((size_t)yy * w + xx) * c;
        for (int k = 0; k < c; k++) dst[k] += wt * src[k];
      }
    }
  }
}

/* Keras draws U(-range, range) * size; for the whole-pixel shift the result is rounded. */
static int draw_shift(tq_rng *rng, float range, int size) {
  float u = 2.0f * tq_rng_uniform(rng) - 1.0f;
  return (int)floorf(u * range * (float)size + 0.5f);
}

static float draw_symmetric(tq_rng *rng, float range) { return (2.0f * tq_rng_uniform(rng) - 1.0f) * range; }

/* The affine path's draws, in this order: angle, dy, dx, zoom_y, zoom_x (each only when its
 * range is > 0). */
static void draw_affine(tq_rng *rng, const tq_augment *a, int h, int w, tq_affine *t) {
  *t = (tq_affine){0.0f, 0.0f, 0.0f, 1.0f, 1.0f};
  if (a->rotate > 0.0f) t->degrees = draw_symmetric(rng, a->rotate);
  if (a->shift > 0.0f) {
    t->dy = draw_symmetric(rng, a->shift) * (float)h;
    t->dx = draw_symmetric(rng, a->shift) * (float)w;
  }
  if (a->zoom > 0.0f) {
    t->zoom_y = 1.0f + draw_symmetric(rng, a->zoom);
    t->zoom_x = 1.0f + draw_symmetric(rng, a->zoom);
  }
}

void tq_augment_batch(float *x, int n, int h, int w, int c, const tq_augment *a, tq_rng *rng) {
  if (!tq_augment_active(a)) return;
  size_t ss = (size_t)h * w * c;
  float *scratch = affine_active(a) ? malloc(ss * sizeof(float)) : NULL;
  TQ_ASSERT(!affine_active(a) || scratch); /* one image: a failure here is an exhausted machine */
  for (int i = 0; i < n; i++) {
    float *img = x + (size_t)i * ss;
    if (affine_active(a)) {
      tq_affine t;
      draw_affine(rng, a, h, w, &t);
      tq_image_affine(img, scratch, h, w, c, &t, a->fill);
    } else if (a->shift > 0.0f) {
      int dy = draw_shift(rng, a->shift, h);
      int dx = draw_shift(rng, a->shift, w);
      tq_image_shift(img, h, w, c, dy, dx, a->fill);
    }
    if (a->hflip && (tq_rng_u64(rng) >> 63)) tq_image_hflip(img, h, w, c);
  }
  free(scratch);
}
