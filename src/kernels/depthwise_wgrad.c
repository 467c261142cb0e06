/* DepthwiseConv2D's weight and bias gradients (depthwise.c's top comment: layout and parallelism).
 *
 * dw, db: split into work items that each sum their values over the whole batch in one fixed order,
 * so every value is computed by one thread in one order, or by fixed lanes of images added in lane
 * order: the same bits for any number of threads. The row-run shapes (multiplier 1, 3x3 windows, C
 * a multiple of 8, strides 1 and 2) take dwg; other 3-wide windows the kernel-row sweep (dw_rows3);
 * the rest 32-channel groups of dw_block and plain loops. */
#include "kernels/depthwise_internal.h"
#include "kernels/window.h"

#define DW_GROUP 32 /* channels per dw/db work item */

/* Outputs [o0, o1) along one axis whose tap k reads an input inside [0, len). */
static inline void valid_outputs(int k, int pad, int stride, int len, int out_len, int *o0, int *o1) {
  int lo = pad - k, hi = len - 1 + pad - k; /* o*stride in [lo, hi] */
  *o0 = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  *o1 = hi < 0 ? 0 : hi / stride + 1;
  if (*o1 > out_len) *o1 = out_len;
}

/* dw, db for channels [c, c + 8*nv) of image n, multiplier 1: per tap, the sum over the outputs
 * whose window has that tap inside the input, added into dw once per image and tap. Two sets of
 * sums (even and odd columns) keep 2*nv multiply-add chains in flight. */
static inline __attribute__((always_inline)) void dw_block(float *dw, float *db, const float *dout,
                                                           const float *in, const int nv, int c, int n,
                                                           const tq_conv_shape *s) {
  const int C = s->c;
  v8f a[4], b[4];
  if (db) {
    for (int j = 0; j < nv; j++) a[j] = V8_LOAD(db + c + 8 * j);
    for (size_t p = (size_t)n * s->oh * s->ow; p < (size_t)(n + 1) * s->oh * s->ow; p++)
      for (int j = 0; j < nv; j++) a[j] += V8_LOAD(dout + p * C + c + 8 * j);
    for (int j = 0; j < nv; j++) V8_STORE(db + c + 8 * j, a[j]);
  }
  if (!dw) return;
  for (int ky = 0; ky < s->kh; ky++) {
    int oy0, oy1;
    valid_outputs(ky, s->pad_top, s->sh, s->h, s->oh, &oy0, &oy1);
    for (int kx = 0; kx < s->kw; kx++) {
      int ox0, ox1;
      valid_outputs(kx, s->pad_left, s->sw, s->w, s->ow, &ox0, &ox1);
      float *dk = dw + ((size_t)ky * s->kw + kx) * C + c;
      for (int j = 0; j < nv; j++) a[j] = V8_LOAD(dk + 8 * j), b[j] = (v8f){0};
      for (int oy = oy0; oy < oy1; oy++) {
        const int iy = oy * s->sh - s->pad_top + ky;
        const float *xr = in + ((size_t)n * s->h + iy) * s->w * C + c;     /* + ix*C */
        const float *gr = dout + ((size_t)n * s->oh + oy) * s->ow * C + c; /* + ox*C */
        int ox = ox0;
        for (; ox + 1 < ox1; ox += 2) {
          const float *x0 = xr + (size_t)(ox * s->sw - s->pad_left + kx) * C, *x1 = x0 + (size_t)s->sw * C;
          const float *g0 = gr + (size_t)ox * C, *g1 = g0 + C;
          for (int j = 0; j < nv; j++) a[j] += V8_LOAD(x0 + 8 * j) * V8_LOAD(g0 + 8 * j);
          for (int j = 0; j < nv; j++) b[j] += V8_LOAD(x1 + 8 * j) * V8_LOAD(g1 + 8 * j);
        }
        if (ox < ox1) {
          const float *x0 = xr + (size_t)(ox * s->sw - s->pad_left + kx) * C, *g0 = gr + (size_t)ox * C;
          for (int j = 0; j < nv; j++) a[j] += V8_LOAD(x0 + 8 * j) * V8_LOAD(g0 + 8 * j);
        }
      }
      for (int j = 0; j < nv; j++) V8_STORE(dk + 8 * j, a[j] + b[j]);
    }
  }
}

/* ---- dw for 3-wide windows: the three taps of a kernel row in one sweep of each output row, so
 * each dout vector is loaded once for three taps (and, at stride 1, each input vector too). Each tap
 * keeps dw_block's two chains, now named by the parity of the output column (the chain dw_block
 * starts from dk is the one of the tap's first valid column): the same sums in the same order. */
#if defined(__AVX512F__)
#define DW3_NV 4 /* 32 vector registers: 24 sums */
#else
#define DW3_NV 2
#endif

typedef struct {
  int ox0[3], ox1[3]; /* per tap, its valid output columns */
  int first, lo, hi, last; /* columns with any valid tap: [first, last); all three: [lo, hi) */
} dw3_cols;

DW_INLINE void dw3_column(v8f acc[3][2][DW3_NV], const float *xr, const float *gr, int ox, const int par, const int nv,
                          const int check, const dw3_cols *cl, const tq_conv_shape *s) {
  const int C = s->c;
  const float *g = gr + (size_t)ox * C;
  for (int kx = 0; kx < 3; kx++) {
    if (check && (ox < cl->ox0[kx] || ox >= cl->ox1[kx])) continue;
    const float *x = xr + (size_t)(ox * s->sw - s->pad_left + kx) * C;
    for (int j = 0; j < nv; j++) acc[kx][par][j] += V8_LOAD(x + 8 * j) * V8_LOAD(g + 8 * j);
  }
}

DW_INLINE void dw3_edge(v8f acc[3][2][DW3_NV], const float *xr, const float *gr, int ox, const int nv,
                        const dw3_cols *cl, const tq_conv_shape *s) {
  if (ox & 1)
    dw3_column(acc, xr, gr, ox, 1, nv, 1, cl, s);
  else
    dw3_column(acc, xr, gr, ox, 0, nv, 1, cl, s);
}

/* dw for channels [c, c + 8*nv) of image n and kernel rows [ky0, ky1), multiplier 1, kw == 3 (nv 1 or 2). */
DW_INLINE void dw_taps3(float *dw, const float *dout, const float *in, const int nv, int c, int n, int ky0,
                        int ky1, const tq_conv_shape *s) {
  const int C = s->c;
  dw3_cols cl = {.first = s->ow, .lo = 0, .hi = s->ow, .last = 0};
  for (int kx = 0; kx < 3; kx++) {
    valid_outputs(kx, s->pad_left, s->sw, s->w, s->ow, &cl.ox0[kx], &cl.ox1[kx]);
    if (cl.ox0[kx] < cl.first) cl.first = cl.ox0[kx];
    if (cl.ox0[kx] > cl.lo) cl.lo = cl.ox0[kx];
    if (cl.ox1[kx] < cl.hi) cl.hi = cl.ox1[kx];
    if (cl.ox1[kx] > cl.last) cl.last = cl.ox1[kx];
  }
  if (cl.hi < cl.lo) cl.hi = cl.lo;
  for (int ky = ky0; ky < ky1; ky++) {
    int oy0, oy1;
    valid_outputs(ky, s->pad_top, s->sh, s->h, s->oh, &oy0, &oy1);
    float *dk = dw + (size_t)ky * 3 * C + c;
    v8f acc[3][2][DW3_NV];
    for (int kx = 0; kx < 3; kx++) {
      const int p = cl.ox0[kx] & 1;
      for (int j = 0; j < nv; j++) acc[kx][p][j] = V8_LOAD(dk + kx * C + 8 * j), acc[kx][!p][j] = (v8f){0};
    }
    for (int oy = oy0; oy < oy1; oy++) {
      const int iy = oy * s->sh - s->pad_top + ky;
      const float *xr = in + ((size_t)n * s->h + iy) * s->w * C + c;
      const float *gr = dout + ((size_t)n * s->oh + oy) * s->ow * C + c;
      int ox = cl.first;
      for (; ox < cl.lo; ox++) dw3_edge(acc, xr, gr, ox, nv, &cl, s);
      if ((ox & 1) && ox < cl.hi) dw3_column(acc, xr, gr, ox++, 1, nv, 0, &cl, s);
      for (; ox + 1 < cl.hi; ox += 2) {
        dw3_column(acc, xr, gr, ox, 0, nv, 0, &cl, s);
        dw3_column(acc, xr, gr, ox + 1, 1, nv, 0, &cl, s);
      }
      for (; ox < cl.last; ox++) dw3_edge(acc, xr, gr, ox, nv, &cl, s);
    }
    for (int kx = 0; kx < 3; kx++) {
      const int p = cl.ox0[kx] & 1;
      for (int j = 0; j < nv; j++) V8_STORE(dk + kx * C + 8 * j, acc[kx][p][j] + acc[kx][!p][j]);
    }
  }
}

/* ---- dw and db of the row-run shapes (run_ok, kernel height 3, strides 1 and 2), by row runs: per
 * output row, a block of up to DWR_PX output pixels loads its dout vectors once and each input
 * vector of the three kernel rows once, and adds the nine taps' products into nine sums held in
 * registers (dw_taps3 loaded dout once per kernel row and each input vector once per tap: the loads
 * bounded it). Work items are 8-channel blocks x DWG_LANES fixed lanes of images, each summing into
 * its own partials, added in lane order: MobileNet's 8-channel layer still splits over the threads,
 * and the bits do not depend on their number. Within an item every sum runs over its images, rows
 * and columns in order. */
#define DWG_LANES 4

typedef struct {
  const float *x[3]; /* the input rows of kernel rows 0..2 at the item's channels, or NULL outside the input */
  const float *g;    /* the dout row */
  int C;
} dwg_row;

/* np output pixels whose windows start at input column ix (cuts as run_block's), channels [c, c+8). */
DW_INLINE void dwg_block(v8f acc[9], v8f *db, const dwg_row *r, int ix, int ox, int c, const int np, const int sw,
                         const int lcut, const int rcut) {
  const int C = r->C, nx = (np - 1) * sw + 3;
  v8f gv[DWR_PX];
  const float *gp = r->g + (ptrdiff_t)ox * C + c;
  for (int p = 0; p < np; p++, gp += C) {
    __asm__("" : "+r"(gp));
    gv[p] = V8_LOAD(gp);
    V8_IN_REGISTER(gv[p]);
    *db += gv[p];
  }
  for (int ky = 0; ky < 3; ky++) {
    if (!r->x[ky]) continue;
    v8f xs[(DWR_PX - 1) * 2 + 3];
    const float *xi = r->x[ky] + (ptrdiff_t)(ix + lcut) * C;
    for (int i = lcut; i < nx - rcut; i++, xi += C) {
      __asm__("" : "+r"(xi));
      xs[i] = V8_LOAD(xi);
      V8_IN_REGISTER(xs[i]);
    }
    for (int kx = 0; kx < 3; kx++)
      for (int p = 0; p < np; p++) {
        if ((lcut && p == 0 && kx == 0) || (rcut && p == np - 1 && kx == 2)) continue;
        acc[ky * 3 + kx] = V8_MADD(acc[ky * 3 + kx], xs[p * sw + kx], gv[p]);
      }
  }
}

/* One output pixel whose window starts at input column ix with columns [q0, q1) inside. */
DW_INLINE void dwg_pixel(v8f acc[9], v8f *db, const dwg_row *r, int ix, int ox, int c, int q0, int q1) {
  const int C = r->C;
  const v8f gv = V8_LOAD(r->g + (ptrdiff_t)ox * C + c);
  *db += gv;
  for (int ky = 0; ky < 3; ky++)
    for (int kx = q0; r->x[ky] && kx < q1; kx++)
      acc[ky * 3 + kx] = V8_MADD(acc[ky * 3 + kx], V8_LOAD(r->x[ky] + (ptrdiff_t)(ix + kx) * C), gv);
}

#define DWG_BLOCK(n, l, rc) dwg_block(acc, db, r, ix, ox, c, n, sw, l, rc)
/* One output row, channels [c, c+8): sums in acc (9 taps) and db. */
DW_INLINE void dwg_row_sums(v8f acc[9], v8f *db, const dwg_row *r, int c, int ow, int pad, int len, const int sw) {
  /* as run_row: blocks where only the first pixel's column 0 or the last one's column 2 may be out */
  int lo = pad - 1 <= 0 ? 0 : (pad - 1 + sw - 1) / sw, hi = len + 1 + pad - 3 >= 0 ? (len + 1 + pad - 3) / sw + 1 : 0;
  if (hi > ow) hi = ow;
  if (hi < lo) hi = lo;
  int ox = 0;
  for (; ox < lo; ox++) {
    int ix = ox * sw - pad, q0, q1;
    tq_tap_range(ix, 3, len, &q0, &q1);
    dwg_pixel(acc, db, r, ix, ox, c, q0, q1);
  }
  while (ox < hi) {
    int np = DWR_PX;
    while (np > hi - ox) np /= 2;
    const int ix = ox * sw - pad, lcut = ix < 0, rcut = ix + (np - 1) * sw + 3 > len;
    DWR_SWITCH(DWG_BLOCK)
    ox += np;
  }
  for (; ox < ow; ox++) {
    int ix = ox * sw - pad, q0, q1;
    tq_tap_range(ix, 3, len, &q0, &q1);
    dwg_pixel(acc, db, r, ix, ox, c, q0, q1);
  }
}
#undef DWG_BLOCK

/* Adds image n's sums at channels [c, c+8) to acc (9 taps) and db; img: the image's input (or its
 * normalised copy) at channel c. */
DW_INLINE void dwg_image(v8f acc[9], v8f *db, const float *dout, const float *img, const tq_conv_shape *s, int n,
                         int c, const int sw) {
  const int C = s->c;
  const size_t xrow = (size_t)s->w * C;
  for (int oy = 0; oy < s->oh; oy++) {
    dwg_row r = {.g = dout + tq_nhwc(n, oy, 0, s->oh, s->ow, C), .C = C};
    for (int ky = 0; ky < 3; ky++) {
      const int iy = oy * s->sh - s->pad_top + ky;
      r.x[ky] = iy >= 0 && iy < s->h ? img + iy * xrow : NULL;
    }
    dwg_row_sums(acc, db, &r, c, s->ow, s->pad_left, s->w, sw);
  }
}

/* Images [n0, n1), channels [c, c+8): part (9 taps x C) and dbpart (C) are this item's sums. */
DW_INLINE void dwg_item(float *part, float *dbpart, const float *dout, const float *in, const tq_conv_shape *s,
                        int n0, int n1, int c, const int sw) {
  v8f acc[9], db = (v8f){0};
  for (int t = 0; t < 9; t++) acc[t] = (v8f){0};
  for (int n = n0; n < n1; n++) dwg_image(acc, &db, dout, in + tq_nhwc(n, 0, 0, s->h, s->w, s->c) + c, s, n, c, sw);
  for (int t = 0; t < 9; t++) V8_STORE(part + (size_t)t * s->c + c, acc[t]);
  V8_STORE(dbpart + c, db);
}

/* Share `part` of `parts` of the cache lines of p[0, floats). An image of the lane read while the one
 * before it is being summed: in training its input was written in the forward pass, long out of the
 * caches (MobileNetV1's depthwise weight gradients, cold: 1.55 -> 1.43 ms in all). */
static inline void prefetch_share(const float *p, size_t floats, int part, int parts) {
  const size_t lines = floats / 16;
  for (size_t i = lines * part / parts; i < lines * (part + 1) / parts; i++) __builtin_prefetch(p + 16 * i);
}

/* The same sums for a whole lane of images [n0, n1) of relu(batchnorm(in)) (tq_bn_relu_pre): each image
 * normalised once into xs, then every channel block's sums over it, carried from image to image in
 * part and dbpart (zeroed first): the same additions in the same order as dwg_item's. */
static void dwg_lane_pre(float *part, float *dbpart, const float *dout, const float *in, const tq_conv_shape *s,
                         int n0, int n1, const tq_bn_relu_pre *pre, float *xs) {
  const int C = s->c;
  memset(part, 0, (size_t)9 * C * sizeof(float));
  memset(dbpart, 0, (size_t)C * sizeof(float));
  const size_t in_img = (size_t)s->h * s->w * C, out_img = (size_t)s->oh * s->ow * C;
  for (int n = n0; n < n1; n++) {
    tq_bn_relu_pre_rows(xs, (size_t)C, in + tq_nhwc(n, 0, 0, s->h, s->w, C), (size_t)C, s->h * s->w, 0, C, pre);
    for (int c = 0; c < C; c += 8) {
      if (n + 1 < n1) { /* the next image, a share per channel block (cold: written in the forward) */
        prefetch_share(in + (n + 1) * in_img, in_img, c / 8, C / 8);
        prefetch_share(dout + (n + 1) * out_img, out_img, c / 8, C / 8);
      }
      v8f acc[9], db = V8_LOAD(dbpart + c);
      for (int t = 0; t < 9; t++) acc[t] = V8_LOAD(part + (size_t)t * C + c);
      if (s->sw == 1)
        dwg_image(acc, &db, dout, xs + c, s, n, c, 1);
      else
        dwg_image(acc, &db, dout, xs + c, s, n, c, 2);
      for (int t = 0; t < 9; t++) V8_STORE(part + (size_t)t * C + c, acc[t]);
      V8_STORE(dbpart + c, db);
    }
  }
}

static int dwg_ok(const tq_conv_shape *s) { return run_ok(s) && s->kh == 3 && (s->sw == 1 || s->sw == 2); }

int tq_depthwise_pre_ok(const tq_conv_shape *s) { return dwg_ok(s); }

size_t tq_depthwise_pre_floats(const tq_conv_shape *s, int threads) {
  /* per thread: an image (the forward's rows, the weight gradient's images) */
  return (size_t)threads * s->h * s->w * s->c;
}

static void dwg(float *dw, float *db, const float *dout, const float *in, const tq_bn_relu_pre *pre,
                const tq_conv_shape *s) {
  const int C = s->c, blocks = C / 8, lanes = s->n < DWG_LANES ? s->n : DWG_LANES;
  const size_t per = (size_t)10 * C; /* a lane's partials: 9 taps x C, then db's C */
  float *parts = tq_alloc_floats(per * lanes);
  TQ_ASSERT(parts != NULL);
  const size_t work = (size_t)s->n * s->oh * s->ow * C * 9, img = (size_t)s->h * s->w * C;
  if (pre) {
    const int nt = tq_pre_threads(pre, img);
#pragma omp parallel for schedule(static) num_threads(nt) if (work > DW_PARALLEL_MACS)
    for (int l = 0; l < lanes; l++)
      dwg_lane_pre(parts + (size_t)l * per, parts + (size_t)l * per + 9 * (size_t)C, dout, in, s, s->n * l / lanes,
                   s->n * (l + 1) / lanes, pre, pre->scratch + (size_t)omp_get_thread_num() * img);
  } else {
#pragma omp parallel for schedule(static) if (work > DW_PARALLEL_MACS)
    for (int it = 0; it < blocks * lanes; it++) {
      const int l = it / blocks, c = it % blocks * 8, n0 = s->n * l / lanes, n1 = s->n * (l + 1) / lanes;
      float *part = parts + (size_t)l * per;
      if (s->sw == 1)
        dwg_item(part, part + 9 * (size_t)C, dout, in, s, n0, n1, c, 1);
      else
        dwg_item(part, part + 9 * (size_t)C, dout, in, s, n0, n1, c, 2);
    }
  }
  for (size_t i = 0; i < per; i++) {
    float sum = parts[i];
    for (int l = 1; l < lanes; l++) sum += parts[(size_t)l * per + i];
    if (i < 9 * (size_t)C) {
      if (dw) dw[i] += sum;
    } else if (db) {
      db[i - 9 * (size_t)C] += sum;
    }
  }
  tq_free(parts);
}

/* dw and db of a 3-wide window, multiplier 1, C a multiple of 8: dw_taps3 for every width (each dout
 * vector loaded once for the three taps of a kernel row; 32-channel dw_block sweeps loaded it once
 * per tap), with work items of 16 channels x one kernel row, so that MobileNet's 8- to 32-channel
 * layers split over threads too. Each dw value is still summed by one item, image by image, in the
 * order of dw_block: the same bits. db: per channel one running sum over the batch, by the items of
 * the first kernel row. */
static void dw_rows3(float *dw, float *db, const float *dout, const float *in, const tq_conv_shape *s) {
  const int C = s->c, width = 8 * DW3_NV, slices = (C + width - 1) / width;
  const int split = slices == 1 ? s->kh : 1, items = slices * split; /* narrow layers: one item per kernel row */
  const size_t pixels = (size_t)s->n * s->oh * s->ow;
  const size_t work = pixels * C * s->kh * s->kw;
#pragma omp parallel for schedule(static) if (work > DW_PARALLEL_MACS)
  for (int it = 0; it < items; it++) {
    const int c0 = it % slices * width, c1 = c0 + width < C ? c0 + width : C;
    const int ky0 = split == 1 ? 0 : it / slices, ky1 = split == 1 ? s->kh : ky0 + 1;
    if (db && ky0 == 0)
      for (int c = c0; c < c1; c += 8) {
        v8f a = V8_LOAD(db + c);
        for (size_t p = 0; p < pixels; p++) a += V8_LOAD(dout + p * C + c);
        V8_STORE(db + c, a);
      }
    for (int n = 0; n < s->n; n++) {
      int c = c0;
#if DW3_NV == 4
      for (; c + 32 <= c1; c += 32) dw_taps3(dw, dout, in, 4, c, n, ky0, ky1, s);
#endif
      for (; c + 16 <= c1; c += 16) dw_taps3(dw, dout, in, 2, c, n, ky0, ky1, s);
      for (; c + 8 <= c1; c += 8) dw_taps3(dw, dout, in, 1, c, n, ky0, ky1, s);
    }
  }
}

void tq_depthwise_wgrad(float *dw, float *db, const float *dout, const float *in, const tq_bn_relu_pre *pre,
                        const tq_conv_shape *s) {
  const int C = s->c, OC = s->oc, M = s->oc / s->c;
  const size_t work = (size_t)s->n * s->oh * s->ow * OC * s->kh * s->kw;
  if (dw && dwg_ok(s)) {
    dwg(dw, db, dout, in, pre, s);
    return;
  }
  TQ_ASSERT(!pre || !dw); /* db alone does not read the input */
  if (dw && M == 1 && s->kw == 3 && C % 8 == 0) {
    dw_rows3(dw, db, dout, in, s);
    return;
  }
  /* Work items: groups of DW_GROUP input channels (the last one may be narrower). */
  const int groups = (C + DW_GROUP - 1) / DW_GROUP;
#pragma omp parallel for schedule(static) if (work > DW_PARALLEL_MACS && groups > 1)
  for (int gi = 0; gi < groups; gi++) {
    const int c0 = gi * DW_GROUP, c1 = c0 + DW_GROUP < C ? c0 + DW_GROUP : C;
    for (int n = 0; n < s->n; n++) {
      int c = c0;
      if (M == 1) {
        for (; c + 32 <= c1; c += 32) dw_block(dw, db, dout, in, 4, c, n, s);
        if (s->kw == 3 && dw) { /* fewer than 32 channels left: too few chains for dw_block */
          for (int cb = c; cb + 8 <= c1; cb += 8) dw_block(NULL, db, dout, in, 1, cb, n, s);
          for (; c + 16 <= c1; c += 16) dw_taps3(dw, dout, in, 2, c, n, 0, s->kh, s);
          for (; c + 8 <= c1; c += 8) dw_taps3(dw, dout, in, 1, c, n, 0, s->kh, s);
        }
        for (; c + 8 <= c1; c += 8) dw_block(dw, db, dout, in, 1, c, n, s);
      }
      if (c == c1) continue;
      /* channel tail, or any multiplier: output channels [c*M, c1*M) */
      for (int oy = 0; oy < s->oh; oy++)
        for (int ox = 0; ox < s->ow; ox++) {
          const float *g = dout + tq_nhwc(n, oy, ox, s->oh, s->ow, OC);
          if (db)
            for (int o = c * M; o < c1 * M; o++) db[o] += g[o];
          if (!dw) continue;
          const tq_window wd = tq_window_at(s, oy, ox);
          for (int ky = wd.ky0; ky < wd.ky1; ky++)
            for (int kx = wd.kx0; kx < wd.kx1; kx++) {
              const float *x = in + tq_nhwc(n, wd.iy0 + ky, wd.ix0 + kx, s->h, s->w, C);
              float *dk = dw + ((size_t)ky * s->kw + kx) * OC;
              for (int o = c * M; o < c1 * M; o++) dk[o] += x[o / M] * g[o];
            }
        }
    }
  }
}
