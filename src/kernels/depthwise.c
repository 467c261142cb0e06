/* DepthwiseConv2D, NHWC, Keras kernel (KH,KW,C,M) with output channel c*M + m.
 *
 * Read as (KH,KW,OC) the kernel lines up with the output channels, so every tap is an elementwise
 * multiply-add over a contiguous channel vector. There is too little arithmetic for a GEMM (9 MACs
 * per output), so what matters is memory traffic and latency: each kernel keeps its sums in
 * registers across all the taps of a pixel (up to 64 channels at a time, as 8 vectors of 8) and
 * touches memory only to read inputs and weights and to write each result once. The common case
 * (multiplier 1, 3-wide windows, C a multiple of 8) takes row runs: the forward, and din at strides
 * 1 and 2, as blocks of up to 8 pixels x 8 channels whose source vectors are each loaded once.
 *
 * Parallelism without races or reductions:
 *   forward: each (n, oy) output row is independent;
 *   din:     gathered per input row (n, iy) from the outputs whose window covers it, instead of
 *            scattered from outputs (which would race between neighbouring rows);
 *   dw, db:  depthwise_wgrad.c: work items that each sum their values over the batch in one fixed
 *            order (or fixed image lanes added in lane order): the same bits for any number of
 *            threads.
 * What both files share (vector type, multiply-add, row-run blocking): depthwise_internal.h.
 * A multiplier M > 1 (rare: MobileNet and DS-CNN use 1) takes plain scalar loops. */
#include "kernels/depthwise_internal.h"
#include "kernels/window.h"

/* ---- Sliding blocks: np pixels x 8 channels, multiplier 1, in the interior of a row.
 * Neighbouring pixels read overlapping source vectors (a 3-tap row of np outputs at stride 1 reads
 * np + 2 inputs, not 3*np), so each row of a block loads its sources once and keeps them in
 * registers: loads, not multiply-adds, are what limits these kernels. Every sum still runs over its
 * rows, then its taps, in the one-pixel order; gcc fuses these into multiply-adds where some of the
 * one-pixel kernels below keep separate multiplies and adds, so the last bit may differ between the
 * two, and which pixels a block covers must be fixed (tq_depthwise_forward_stats).
 *
 * dst[p*dstep] = init + sum over rows r, taps q < nq of src_r[(p*ps + q)*sstep] * w_r[q*wstep]
 * forward: rows are kernel rows, taps kernel columns, sources input pixels (ps = stride);
 * din:     rows are output rows, taps the covering output columns, sources dout pixels (ps = 1). */
#if defined(__AVX512F__)
#define DW_SLIDE_PX 8 /* 32 vector registers: up to 17 sources + 8 sums */
#else
#define DW_SLIDE_PX 4 /* 16 registers */
#endif

typedef struct {
  const float *src[DW_SLIDE_ROWS], *w[DW_SLIDE_ROWS]; /* per row: source q = 0 of pixel 0, its tap */
  int rows;
  size_t sstep, dstep; /* between source vectors q, q+1; between destination pixels */
  ptrdiff_t wstep;     /* between taps q, q+1 */
} dw_slide;

DW_INLINE void slide_block(float *dst, const float *init, const dw_slide *sl, int c, const int np, const int ps,
                           const int nq) {
  v8f acc[DW_SLIDE_PX], xs[(DW_SLIDE_PX - 1) * 2 + 3];
  for (int p = 0; p < np; p++) acc[p] = init ? V8_LOAD(init + c) : (v8f){0};
  for (int r = 0; r < sl->rows; r++) {
    const float *x = sl->src[r] + c, *wr = sl->w[r] + c;
    for (int i = 0; i < (np - 1) * ps + nq; i++) xs[i] = V8_LOAD(x + i * sl->sstep);
    for (int q = 0; q < nq; q++) {
      const v8f wv = V8_LOAD(wr + q * sl->wstep);
      for (int p = 0; p < np; p++) acc[p] += xs[p * ps + q] * wv;
    }
  }
  for (int p = 0; p < np; p++) V8_STORE(dst + p * sl->dstep + c, acc[p]);
}

/* Channels [0, c_end) in blocks of 8, np pixels (DW_SLIDE_PX or a power-of-two fraction). */
DW_INLINE void slide_channels(float *dst, const float *init, const dw_slide *sl, int c_end, int np, const int ps,
                              const int nq) {
  for (int c = 0; c + 8 <= c_end; c += 8) switch (np) {
#if DW_SLIDE_PX == 8
      case 8:
        slide_block(dst, init, sl, c, 8, ps, nq);
        break;
#endif
      case 4:
        slide_block(dst, init, sl, c, 4, ps, nq);
        break;
      default:
        slide_block(dst, init, sl, c, 2, ps, nq);
    }
}

/* ps 1 or 2, nq 1..3 (checked by the callers) */
static void slide(float *dst, const float *init, const dw_slide *sl, int c_end, int np, int ps, int nq) {
  if (ps == 1) switch (nq) {
      case 1: slide_channels(dst, init, sl, c_end, np, 1, 1); break;
      case 2: slide_channels(dst, init, sl, c_end, np, 1, 2); break;
      default: slide_channels(dst, init, sl, c_end, np, 1, 3);
    }
  else switch (nq) {
      case 1: slide_channels(dst, init, sl, c_end, np, 2, 1); break;
      case 2: slide_channels(dst, init, sl, c_end, np, 2, 2); break;
      default: slide_channels(dst, init, sl, c_end, np, 2, 3);
    }
}

static int slide_ok(const tq_conv_shape *s, int stride) {
  return s->oc == s->c && s->c >= 8 && s->kh <= DW_SLIDE_ROWS && s->kw <= 3 && stride <= 2;
}

/* One output pixel, channels [c, c + 8*nv), multiplier 1: o = b + sum over valid taps of x*w.
 * nv = 8 when it can: each sum is a chain of KH*KW dependent multiply-adds, and only with 8 chains
 * in flight does the FMA latency stop being the limit. */
static inline __attribute__((always_inline)) void fwd_block(float *o, const float *in, const float *w,
                                                            const float *b, const int nv, int c, int n,
                                                            const tq_window *wd, const tq_conv_shape *s) {
  /* in: (N,H,W,C); w: (KH,KW,C) */
  v8f acc[8];
  for (int j = 0; j < nv; j++) acc[j] = b ? V8_LOAD(b + c + 8 * j) : (v8f){0};
  for (int ky = wd->ky0; ky < wd->ky1; ky++)
    for (int kx = wd->kx0; kx < wd->kx1; kx++) {
      const float *x = in + tq_nhwc(n, wd->iy0 + ky, wd->ix0 + kx, s->h, s->w, s->c) + c;
      const float *wk = w + ((size_t)ky * s->kw + kx) * s->c + c;
      for (int j = 0; j < nv; j++) acc[j] += V8_LOAD(x + 8 * j) * V8_LOAD(wk + 8 * j);
    }
  for (int j = 0; j < nv; j++) V8_STORE(o + c + 8 * j, acc[j]);
}

/* ---- Row runs: multiplier 1, 3-wide windows, C a multiple of 8 (every depthwise layer of MobileNet
 * and DS-CNN). A run of pixels of one row, channel block by channel block, up to DWR_PX pixels at a
 * time, with all the loops in one function: set up per pixel block, the sliding blocks above spent
 * more instructions than the 72 multiply-adds of an 8-channel block (MobileNet alpha 0.25 ran at a
 * fifth of the FMA rate), and DS-CNN's 5-wide rows left them only one-pixel kernels.
 *
 * Pixel t of a run reads the nq source columns t*sw - pad + q (q < nq) of each of its rows, with
 * the tap at w_row + q*wstep:
 *   forward:        sources are input pixels, nq = 3, the layer's stride and padding;
 *   stride-1 din:   the forward of dout with the kernel flipped (wstep < 0) and padding 2 - pad;
 *   stride-2 din:   each column phase of din: pixels 2j - pad read dout columns j-1 and j (taps 2
 *                   and 0), pixels 2j+1 - pad read column j (tap 1); outputs 2C apart.
 * A block's first pixel may lack its first source (at column -1) and its last pixel its last (at
 * column len): the 'same' padding of a 3-wide window, so a narrow row is one block. Each value is
 * its start (b or 0) plus its valid taps, rows then taps in order, one multiply-add each, whatever
 * the block: the same bits for any cut of the run (tq_depthwise_forward_stats's groups), and the
 * same order as din_block's covering outputs. */
typedef struct {
  const float *x[DW_SLIDE_ROWS]; /* per row, in summation order: the source row's column 0 */
  const float *w[DW_SLIDE_ROWS]; /* per row: the tap of source q = 0 (tap q at + q*wstep) */
  int rows, C;
  ptrdiff_t wstep;
  size_t ostep; /* floats between the outputs of neighbouring pixels */
} dw_run;

/* np (<= DWR_PX) pixels whose first sources are columns ix, ix + sw, ...; channels [c, c+W) for a
 * vector of W floats (VT: v8f, or v16f where DW_V16).
 * lcut: the first pixel lacks source 0; rcut: the last pixel lacks source nq-1.
 * Each source vector is loaded once, into a register, for every pixel that reads it (opaque to the
 * optimiser, which would otherwise fold a load into each multiply-add: twice the loads, and loads are
 * what bound this loop); the address is stepped, not 17 offsets i*C held in registers. One body for
 * both widths, so that they cannot drift apart: a v16f lane does what a v8f lane does. */
#define DW_RUN_BLOCK(NAME, VT, LOAD, STORE, MADD, PIN)                                                       \
  DW_INLINE void NAME(float *o, const dw_run *r, const float *b, int ix, int c, const int np, const int sw,  \
                      const int nq, const int lcut, const int rcut) {                                       \
    const int C = r->C, nx = (np - 1) * sw + nq;                                                           \
    VT acc[DWR_PX];                                                                                        \
    const VT init = b ? LOAD(b + c) : (VT){0};                                                             \
    for (int p = 0; p < np; p++) acc[p] = init;                                                            \
    for (int k = 0; k < r->rows; k++) {                                                                    \
      const float *x = r->x[k] + (ptrdiff_t)ix * C + c, *w = r->w[k] + c;                                  \
      VT xs[(DWR_PX - 1) * 2 + 3];                                                                         \
      const float *xi = x + (ptrdiff_t)lcut * C;                                                           \
      for (int i = lcut; i < nx - rcut; i++, xi += C) {                                                    \
        __asm__("" : "+r"(xi));                                                                            \
        xs[i] = LOAD(xi);                                                                                  \
        PIN(xs[i]);                                                                                        \
      }                                                                                                    \
      for (int q = 0; q < nq; q++) {                                                                       \
        const VT wv = LOAD(w + q * r->wstep);                                                              \
        for (int p = 0; p < np; p++) {                                                                     \
          if ((lcut && p == 0 && q == 0) || (rcut && p == np - 1 && q == nq - 1)) continue;                \
          acc[p] = MADD(acc[p], xs[p * sw + q], wv);                                                       \
        }                                                                                                  \
      }                                                                                                    \
    }                                                                                                      \
    for (int p = 0; p < np; p++) STORE(o + p * r->ostep + c, acc[p]);                                      \
  }
DW_RUN_BLOCK(run_block, v8f, V8_LOAD, V8_STORE, V8_MADD, V8_IN_REGISTER)
#if DW_V16
DW_RUN_BLOCK(run_block16, v16f, V16_LOAD, V16_STORE, V16_MADD, V16_IN_REGISTER)
#endif
#undef DW_RUN_BLOCK

/* One pixel whose sources start at column ix, of which [q0, q1) are inside; all channels. */
static void run_pixel(float *o, const dw_run *r, const float *b, int ix, int q0, int q1) {
  for (int c = 0; c < r->C; c += 8) {
    v8f acc = b ? V8_LOAD(b + c) : (v8f){0};
    for (int k = 0; k < r->rows; k++) {
      const float *x = r->x[k] + (ptrdiff_t)ix * r->C + c, *w = r->w[k] + c;
      for (int q = q0; q < q1; q++) acc = V8_MADD(acc, V8_LOAD(x + (ptrdiff_t)q * r->C), V8_LOAD(w + q * r->wstep));
    }
    V8_STORE(o + c, acc);
  }
}

DW_INLINE void run_edge(float *o, const dw_run *r, const float *b, int t, int sw, int pad, int len, int nq) {
  int ix = t * sw - pad, q0, q1;
  tq_tap_range(ix, nq, len, &q0, &q1);
  run_pixel(o, r, b, ix, q0, q1);
}

#define DWR_BLOCK(n, l, rc) run_block(o, r, b, ix, c, n, sw, nq, l, rc)
#define DWR_BLOCK16(n, l, rc) run_block16(o, r, b, ix, c, n, sw, nq, l, rc)
/* np pixels from o, the first one's sources from column ix, with the cuts given at run time. */
DW_INLINE void run_blocks(float *o, const dw_run *r, const float *b, int ix, int np, int lcut, int rcut, const int sw,
                          const int nq) {
  int c = 0;
#if DW_V16
  if (r->C % 16 == 0)
    for (; c < r->C; c += 16) DWR_SWITCH(DWR_BLOCK16)
#endif
  for (; c < r->C; c += 8) DWR_SWITCH(DWR_BLOCK)
}
#undef DWR_BLOCK
#undef DWR_BLOCK16

/* Pixels [t, t_end) of a run over a source row of len columns, written from o (pixel t) on. */
DW_INLINE void run_row(float *o, const dw_run *r, const float *b, int t, int t_end, int pad, int len, const int sw,
                       const int nq) {
  /* in blocks: sources all inside, but the first pixel's source 0 may be at -1 and the last one's
   * source nq-1 at len (a block never cuts a lone tap: nq = 1 takes the one-pixel kernel there) */
  const int cut = nq > 1;
  int lo = pad - cut <= 0 ? 0 : (pad - cut + sw - 1) / sw;
  int hi = len + cut + pad - nq >= 0 ? (len + cut + pad - nq) / sw + 1 : 0;
  if (hi < lo) hi = lo;
  const int left = t_end < lo ? t_end : lo, end = t_end < hi ? t_end : hi;
  for (; t < left; t++, o += r->ostep) run_edge(o, r, b, t, sw, pad, len, nq);
  while (t < end) {
    int np = DWR_PX;
    while (np > end - t) np /= 2;
    const int ix = t * sw - pad, last = ix + (np - 1) * sw;
    run_blocks(o, r, b, ix, np, ix < 0, last + nq > len, sw, nq);
    t += np, o += np * r->ostep;
  }
  for (; t < t_end; t++, o += r->ostep) run_edge(o, r, b, t, sw, pad, len, nq);
}

static void run_row_any(float *o, const dw_run *r, const float *b, int t, int t_end, int pad, int len, int sw,
                        int nq) {
  if (nq == 3 && sw == 1)
    run_row(o, r, b, t, t_end, pad, len, 1, 3);
  else if (nq == 3 && sw == 2)
    run_row(o, r, b, t, t_end, pad, len, 2, 3);
  else if (nq == 3)
    run_row(o, r, b, t, t_end, pad, len, sw, 3);
  else if (nq == 2 && sw == 1)
    run_row(o, r, b, t, t_end, pad, len, 1, 2);
  else {
    TQ_ASSERT(nq == 1 && sw == 1);
    run_row(o, r, b, t, t_end, pad, len, 1, 1);
  }
}

/* The forward's output pixels [ox, ox_end) of row (n, oy). */
static void fwd_run(float *out, const float *in, const float *w, const float *b, const tq_conv_shape *s, int n,
                    int oy, int ox, int ox_end) {
  const tq_window wd = tq_window_at(s, oy, 0);
  dw_run r = {.rows = wd.ky1 - wd.ky0, .C = s->c, .wstep = s->c, .ostep = (size_t)s->c};
  for (int k = 0; k < r.rows; k++) {
    r.x[k] = in + tq_nhwc(n, wd.iy0 + wd.ky0 + k, 0, s->h, s->w, s->c);
    r.w[k] = w + (size_t)(wd.ky0 + k) * 3 * s->c;
  }
  run_row_any(out + tq_nhwc(n, oy, ox, s->oh, s->ow, s->c), &r, b, ox, ox_end, s->pad_left, s->w, s->sw, 3);
}

/* Output channels [c*M, OC) of pixel (n, oy, ox): c is 0, or the channel tail after a sliding block. */
static void fwd_pixel(float *out, const float *in, const float *w, const float *b, int n, int oy, int ox, int c,
                      const tq_conv_shape *s) {
  const int C = s->c, OC = s->oc, M = s->oc / s->c;
  float *o = out + tq_nhwc(n, oy, ox, s->oh, s->ow, OC);
  const tq_window wd = tq_window_at(s, oy, ox);
  if (M == 1) {
    for (; c + 64 <= C; c += 64) fwd_block(o, in, w, b, 8, c, n, &wd, s);
    for (; c + 32 <= C; c += 32) fwd_block(o, in, w, b, 4, c, n, &wd, s);
    for (; c + 8 <= C; c += 8) fwd_block(o, in, w, b, 1, c, n, &wd, s);
  }
  for (int oc = c * M; oc < OC; oc++) { /* channel tail, or any multiplier */
    float acc = b ? b[oc] : 0.0f;
    for (int ky = wd.ky0; ky < wd.ky1; ky++)
      for (int kx = wd.kx0; kx < wd.kx1; kx++)
        acc += in[tq_nhwc(n, wd.iy0 + ky, wd.ix0 + kx, s->h, s->w, C) + oc / M] *
               w[((size_t)ky * s->kw + kx) * OC + oc];
    o[oc] = acc;
  }
}

/* The forward's block at output pixels ox .. ox+np-1 of row (n, oy): whole windows across. */
static void fwd_slide(float *out, const float *in, const float *w, const float *b, int np, int n, int oy, int ox,
                      const tq_conv_shape *s) {
  const tq_window wd = tq_window_at(s, oy, ox);
  dw_slide sl = {.rows = wd.ky1 - wd.ky0, .sstep = (size_t)s->c, .dstep = (size_t)s->oc, .wstep = s->c};
  for (int r = 0; r < sl.rows; r++) {
    sl.src[r] = in + tq_nhwc(n, wd.iy0 + wd.ky0 + r, wd.ix0, s->h, s->w, s->c);
    sl.w[r] = w + (size_t)(wd.ky0 + r) * s->kw * s->c;
  }
  float *o = out + tq_nhwc(n, oy, ox, s->oh, s->ow, s->oc);
  slide(o, b, &sl, s->c, np, s->sw, s->kw);
  for (int p = 0; (s->c & 7) && p < np; p++) fwd_pixel(out, in, w, b, n, oy, ox + p, s->c & ~7, s);
}

/* Output pixels [ox, ox_end) of row (n, oy). */
static void fwd_row(float *out, const float *in, const float *w, const float *b, const tq_conv_shape *s, int n,
                    int oy, int ox, int ox_end, int slide) {
  while (ox < ox_end) {
    /* a sliding block when its first and last windows are whole across (so are those between);
     * near the right edge, smaller blocks */
    int np = slide ? DW_SLIDE_PX : 1;
    while (np > 1 && !(ox + np <= ox_end && tq_window_at(s, oy, ox).kx0 == 0 &&
                       tq_window_at(s, oy, ox + np - 1).kx1 == s->kw))
      np /= 2;
    if (np > 1)
      fwd_slide(out, in, w, b, np, n, oy, ox, s);
    else
      fwd_pixel(out, in, w, b, n, oy, ox, 0, s);
    ox += np;
  }
}

/* The input rows a pre-op has normalised into a thread's scratch (tq_bn_relu_pre): of image n, rows
 * [lo, hi), at their places in an image of its own. */
typedef struct {
  int n, lo, hi;
} dw_pre_rows;

/* Makes input rows [y0, y1) of image n normalised in xs, normalising only the rows not yet there: the
 * rows go to xs just before the kernel reads them, and stay in L1 in between. */
static void pre_rows_ensure(float *xs, const float *in, const tq_bn_relu_pre *pre, const tq_conv_shape *s,
                            dw_pre_rows *have, int n, int y0, int y1) {
  const size_t row = (size_t)s->w * s->c;
  if (y0 < 0) y0 = 0;
  if (y1 > s->h) y1 = s->h;
  if (have->n != n || y0 < have->lo || y0 > have->hi) *have = (dw_pre_rows){n, y0, y0};
  if (y1 <= have->hi) return;
  tq_bn_relu_pre_rows(xs + have->hi * row, (size_t)s->c, in + tq_nhwc(n, have->hi, 0, s->h, s->w, s->c),
                      (size_t)s->c, (y1 - have->hi) * s->w, 0, s->c, pre);
  have->hi = y1;
}

/* Output pixels [p0, p1) of the flattened (n, oy, ox). pre: the input rows the windows read normalised
 * into xs first (have: what xs holds), and read from there as an image of its own. */
static void fwd_pixels(float *out, const float *in, const float *w, const float *b, const tq_conv_shape *s, int p0,
                       int p1, int run, int slide, const tq_bn_relu_pre *pre, float *xs, dw_pre_rows *have) {
  const size_t img_out = (size_t)s->oh * s->ow * s->oc;
  for (int p = p0; p < p1;) {
    int row = p / s->ow, ox = p % s->ow, ox_end = ox + (p1 - p) < s->ow ? ox + (p1 - p) : s->ow;
    int n = row / s->oh, oy = row % s->oh;
    const float *x = in;
    float *o = out;
    if (pre) {
      const int y0 = oy * s->sh - s->pad_top;
      pre_rows_ensure(xs, in, pre, s, have, n, y0, y0 + s->kh);
      x = xs, o = out + n * img_out, n = 0;
    }
    if (run)
      fwd_run(o, x, w, b, s, n, oy, ox, ox_end);
    else
      fwd_row(o, x, w, b, s, n, oy, ox, ox_end, slide);
    p += ox_end - ox;
  }
}

static void dw_forward(float *out, const float *in, const tq_bn_relu_pre *pre, const float *w, const float *b,
                       const tq_conv_shape *s, float *stats) {
  /* out: (N,OH,OW,C*M)  in: (N,H,W,C)  w: (KH,KW,C,M) = (KH,KW,OC)  b: (OC) or NULL
   * stats: NULL, or tq_batchnorm_stats of out, filled group by group while the group is in cache */
  TQ_ASSERT(s->oc % s->c == 0);
  const int rows = s->n * s->oh, slide = slide_ok(s, s->sw), run = run_ok(s);
  const size_t work = (size_t)rows * s->ow * s->oc * s->kh * s->kw, img_in = (size_t)s->h * s->w * s->c;
  /* By the batch norm's groups of output pixels (tq_batchnorm_stats_group_rows, a function of the
   * pixel count only), which may start and end inside a row, with or without statistics: a sliding
   * block cut short at a group's end takes the one-pixel kernels, which gcc does not always compile
   * to the same multiply-adds (fwd_block's stay separate multiplies and adds), so the cuts must not
   * depend on whether statistics are wanted. */
  const int M = rows * s->ow, gr = tq_batchnorm_stats_group_rows(M), ng = (M + gr - 1) / gr;
  const int nt = pre ? tq_pre_threads(pre, img_in) : omp_get_max_threads();
#pragma omp parallel num_threads(nt) if (work > DW_PARALLEL_MACS)
  {
    dw_pre_rows have = {-1, 0, 0};
    float *xs = pre ? pre->scratch + (size_t)omp_get_thread_num() * img_in : NULL;
#pragma omp for schedule(static)
    for (int gi = 0; gi < ng; gi++) {
      fwd_pixels(out, in, w, b, s, gi * gr, gi * gr + gr < M ? gi * gr + gr : M, run, slide, pre, xs, &have);
      if (stats) tq_batchnorm_stats_group(stats, out, M, s->oc, gi);
    }
  }
}

void tq_depthwise_forward(float *out, const float *in, const float *w, const float *b,
                          const tq_conv_shape *s) {
  dw_forward(out, in, NULL, w, b, s, NULL);
}

void tq_depthwise_forward_stats(float *out, const float *in, const float *w, const float *b,
                                const tq_conv_shape *s, float *stats) {
  dw_forward(out, in, NULL, w, b, s, stats);
}

void tq_depthwise_forward_pre(float *out, const float *in, const tq_bn_relu_pre *pre, const float *w,
                              const float *b, const tq_conv_shape *s, float *stats) {
  TQ_ASSERT(tq_depthwise_pre_ok(s));
  dw_forward(out, in, pre, w, b, s, stats);
}

/* The outputs [o0, o1) along one axis whose window covers input i: those whose tap
 * k = i + pad - o*stride lies in [0, k), in increasing o (decreasing k). */
static inline void covering_outputs(int i, int pad, int k, int stride, int out_len, int *o0, int *o1) {
  int t = i + pad - k + 1;           /* o*stride >= t: k < taps */
  int last = (i + pad) / stride + 1; /* o*stride <= i + pad: k >= 0 (i + pad >= 0) */
  *o0 = t <= 0 ? 0 : (t + stride - 1) / stride;
  *o1 = last < out_len ? last : out_len;
}

/* The outputs whose windows cover input pixel (iy, ix) ("cover": the outputs it contributes to). */
typedef struct {
  int iy, ix, oy0, oy1, ox0, ox1;
} cover;

static inline cover cover_of(const tq_conv_shape *s, int iy, int ix) {
  cover cv = {iy, ix, 0, 0, 0, 0};
  covering_outputs(iy, s->pad_top, s->kh, s->sh, s->oh, &cv.oy0, &cv.oy1);
  covering_outputs(ix, s->pad_left, s->kw, s->sw, s->ow, &cv.ox0, &cv.ox1);
  return cv;
}

/* One input pixel, channels [c, c + 8*nv), multiplier 1: d = sum over covering outputs of g*w. */
static inline __attribute__((always_inline)) void din_block(float *d, const float *dout, const float *w,
                                                            const int nv, int c, int n, const cover *cv,
                                                            const tq_conv_shape *s) {
  v8f acc[8];
  for (int j = 0; j < nv; j++) acc[j] = (v8f){0};
  for (int oy = cv->oy0; oy < cv->oy1; oy++) {
    int ky = cv->iy + s->pad_top - oy * s->sh;
    for (int ox = cv->ox0; ox < cv->ox1; ox++) {
      int kx = cv->ix + s->pad_left - ox * s->sw;
      const float *g = dout + tq_nhwc(n, oy, ox, s->oh, s->ow, s->oc) + c;
      const float *wk = w + ((size_t)ky * s->kw + kx) * s->oc + c;
      for (int j = 0; j < nv; j++) acc[j] += V8_LOAD(g + 8 * j) * V8_LOAD(wk + 8 * j);
    }
  }
  for (int j = 0; j < nv; j++) V8_STORE(d + c + 8 * j, acc[j]);
}

/* din of input row (n, iy), stride 1 or a 3-wide stride 2 across (any vertical stride). The rows:
 * the output rows whose windows cover iy, ascending, each with its kernel row. */
static void din_run(float *din, const float *dout, const float *w, const tq_conv_shape *s, int n, int iy) {
  const int C = s->c;
  int oy0, oy1;
  covering_outputs(iy, s->pad_top, s->kh, s->sh, s->oh, &oy0, &oy1);
  dw_run r = {.rows = oy1 - oy0 > 0 ? oy1 - oy0 : 0, .C = C, .wstep = -(ptrdiff_t)C, .ostep = (size_t)C};
  for (int k = 0; k < r.rows; k++) {
    const int oy = oy0 + k, ky = iy + s->pad_top - oy * s->sh;
    r.x[k] = dout + tq_nhwc(n, oy, 0, s->oh, s->ow, C);
    r.w[k] = w + (size_t)ky * 3 * C + 2 * C; /* flipped: source q reads tap 2 - q */
  }
  float *d = din + tq_nhwc(n, iy, 0, s->h, s->w, C);
  if (s->sw == 1) {
    run_row_any(d, &r, NULL, 0, s->w, 2 - s->pad_left, s->ow, 1, 3);
    return;
  }
  /* stride 2: pixel ix = 2j + e - pad; e = 0 reads columns j-1, j (taps 2, 0), e = 1 column j (tap 1) */
  const int pl = s->pad_left;
  r.ostep = 2 * (size_t)C, r.wstep = -2 * (ptrdiff_t)C;
  for (int e = 0; e < 2; e++) {
    const int j0 = (pl - e + 1) / 2, j1 = (s->w - 1 + pl - e) / 2 + 1; /* 0 <= 2j + e - pl < W */
    if (j1 <= j0) continue;
    if (e == 1)
      for (int k = 0; k < r.rows; k++) r.w[k] -= C; /* tap 1 */
    run_row_any(d + (ptrdiff_t)(2 * j0 + e - pl) * C, &r, NULL, j0, j1, 1 - e, s->ow, 1, 2 - e);
  }
}

static int din_run_ok(const tq_conv_shape *s) { return run_ok(s) && (s->sw == 1 || s->sw == 2); }

/* Channels [c, C) of input pixel (n, iy, ix): c is 0, or the channel tail after a sliding block. */
static void din_pixel(float *din, const float *dout, const float *w, int n, int iy, int ix, int c,
                      const tq_conv_shape *s) {
  const int C = s->c, OC = s->oc, M = s->oc / s->c;
  float *d = din + tq_nhwc(n, iy, ix, s->h, s->w, C);
  const cover cv = cover_of(s, iy, ix);
  if (M == 1) {
    for (; c + 64 <= C; c += 64) din_block(d, dout, w, 8, c, n, &cv, s);
    for (; c + 32 <= C; c += 32) din_block(d, dout, w, 4, c, n, &cv, s);
    for (; c + 8 <= C; c += 8) din_block(d, dout, w, 1, c, n, &cv, s);
  }
  for (; c < C; c++) { /* channel tail, or any multiplier */
    float acc = 0.0f;
    for (int oy = cv.oy0; oy < cv.oy1; oy++) {
      int ky = iy + s->pad_top - oy * s->sh;
      for (int ox = cv.ox0; ox < cv.ox1; ox++) {
        int kx = ix + s->pad_left - ox * s->sw;
        const float *g = dout + tq_nhwc(n, oy, ox, s->oh, s->ow, OC) + (size_t)c * M;
        const float *wk = w + ((size_t)ky * s->kw + kx) * OC + (size_t)c * M;
        for (int m = 0; m < M; m++) acc += g[m] * wk[m];
      }
    }
    d[c] = acc;
  }
}

/* Input pixels ix, ix+sw, ..., ix+(np-1)*sw of row iy can share a sliding block: their covers are
 * the same taps, each one output further along (true of all when true of the first and the last). */
static int din_slide_ok(const tq_conv_shape *s, int iy, int ix, int np) {
  int last = ix + (np - 1) * s->sw;
  if (last >= s->w) return 0;
  const cover a = cover_of(s, iy, ix), z = cover_of(s, iy, last);
  int nq = a.ox1 - a.ox0;
  return nq >= 1 && nq <= 3 && z.ox0 == a.ox0 + np - 1 && z.ox1 == a.ox1 + np - 1;
}

static void din_slide(float *din, const float *dout, const float *w, int np, int n, int iy, int ix,
                      const tq_conv_shape *s) {
  const cover cv = cover_of(s, iy, ix);
  const int C = s->c, kx_first = ix + s->pad_left - cv.ox0 * s->sw; /* the tap of output ox0 */
  dw_slide sl = {.rows = cv.oy1 - cv.oy0, .sstep = (size_t)C, .dstep = (size_t)s->sw * C,
                 .wstep = -(ptrdiff_t)s->sw * C};
  for (int r = 0; r < sl.rows; r++) {
    int oy = cv.oy0 + r, ky = iy + s->pad_top - oy * s->sh;
    sl.src[r] = dout + tq_nhwc(n, oy, cv.ox0, s->oh, s->ow, C);
    sl.w[r] = w + ((size_t)ky * s->kw + kx_first) * C;
  }
  slide(din + tq_nhwc(n, iy, ix, s->h, s->w, C), NULL, &sl, C, np, 1, cv.ox1 - cv.ox0);
  for (int p = 0; (C & 7) && p < np; p++) din_pixel(din, dout, w, n, iy, ix + p * s->sw, C & ~7, s);
}

static void dw_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const tq_bn_relu_pre *pre, const float *w, const tq_conv_shape *s) {
  /* din: (N,H,W,C) overwritten  dw: (KH,KW,OC) +=  db: (OC) +=  dout: (N,OH,OW,OC) */
  const int C = s->c, OC = s->oc, M = s->oc / s->c;
  TQ_ASSERT(OC == C * M);
  const size_t work = (size_t)s->n * s->oh * s->ow * OC * s->kh * s->kw;

  if (din) {
    const int rows = s->n * s->h, slide = slide_ok(s, s->sw), run = din_run_ok(s);
#pragma omp parallel for schedule(static) if (work > DW_PARALLEL_MACS)
    for (int row = 0; row < rows; row++) {
      int n = row / s->h, iy = row % s->h;
      if (run) {
        din_run(din, dout, w, s, n, iy);
        continue;
      }
      /* pixels sw apart are covered by the same taps of neighbouring outputs: blocks of them */
      for (int phase = 0; phase < s->sw; phase++)
        for (int ix = phase; ix < s->w; ix += s->sw) {
          int np = slide ? DW_SLIDE_PX : 1;
          while (np > 1 && !din_slide_ok(s, iy, ix, np)) np /= 2;
          if (np > 1)
            din_slide(din, dout, w, np, n, iy, ix, s);
          else
            din_pixel(din, dout, w, n, iy, ix, 0, s);
          ix += (np - 1) * s->sw;
        }
    }
  }

  if (dw || db) tq_depthwise_wgrad(dw, db, dout, in, pre, s);
}

void tq_depthwise_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, const tq_conv_shape *s) {
  dw_backward(din, dw, db, dout, in, NULL, w, s);
}

void tq_depthwise_backward_pre(float *din, float *dw, float *db, const float *dout, const float *in,
                               const tq_bn_relu_pre *pre, const float *w, const tq_conv_shape *s) {
  TQ_ASSERT(tq_depthwise_pre_ok(s));
  dw_backward(din, dw, db, dout, in, pre, w, s);
}
