/* conv2d (OHWI weights) and depthwise conv2d ((KH,KW,C*M) weights), every type combination of
 * TQ_RT_WEIGHTED_TYPES; arithmetic as documented in tq_rt.h. */
#include "tq_rt_internal.h"

/* Both kernels: pointers, geometry and requantization checked before anything is written. */
static tq_rt_status tq_conv_check(const void *out, const void *in, const void *w,
                                  const tq_rt_conv_geom *g, int32_t kind, const tq_rt_requant *rq,
                                  int32_t omin, int32_t omax) {
  if (!out || !in || !w || tq_rt_geom_check(g, kind) != TQ_RT_OK ||
      tq_rt_requant_check(rq, g->out_c, omin, omax) != TQ_RT_OK)
    return TQ_RT_ERR_ARG;
  return TQ_RT_OK;
}

/* The input offset of the window's first valid tap, channel 0 (the window has a valid tap). */
static inline size_t tq_window_offset(const tq_rt_conv_geom *g, const tq_rt_i_window *win) {
  return ((size_t)(win->ih0 + win->kh_lo) * g->in_w + (win->iw0 + win->kw_lo)) * g->in_c;
}

/* Same valid rows and columns (so the same weights and the same border correction). */
static inline int tq_window_same_shape(const tq_rt_i_window *a, const tq_rt_i_window *b) {
  return a->kh_lo == b->kh_lo && a->kh_hi == b->kh_hi && a->kw_lo == b->kw_lo &&
         a->kw_hi == b->kw_hi;
}

/* Output rows r1 and r2 have windows over the same kernel rows (so, column by column, windows of the
 * same shape). */
static inline int tq_rows_same_shape(const tq_rt_conv_geom *g, int32_t r1, int32_t r2) {
  int32_t lo1, hi1, lo2, hi2;
  tq_rt_i_axis(r1 * g->stride_h - g->pad_top, g->k_h, g->in_h, &lo1, &hi1);
  tq_rt_i_axis(r2 * g->stride_h - g->pad_top, g->k_h, g->in_h, &lo2, &hi2);
  return lo1 == lo2 && hi1 == hi2;
}

/* ------------------------------------------------------------------------------------------------------
 * Border pixels: acc[j] += z_X * (sum of output channel oc0 + j's weights over the window's padded
 * taps), j < nb (see "Bias and the input zero point" in tq_rt.h). Per weight and accumulator type.
 * ------------------------------------------------------------------------------------------------------ */
/* Weight sums, acc[j] += sum_{i<len} W(off + j*ws + i) for the j < 1 (wsum1) or 4 (wsum4) channels of
 * a block (ws apart): 4 rows per pass, as the first layers' short rows are loop-overhead bound. */
#define TQ_WSUM(wn, an) TQ_WSUM_##wn(wn, an)
#define TQ_WSUM_s4(wn, an) /* nibbles: one row at a time */                                         \
  static void tq_wsum1_##wn##_##an(TQ_RT_CT(an) *acc, const uint8_t *w, int32_t off, int32_t len) { \
    TQ_RT_CT(an) a0 = acc[0];                                                                       \
    int32_t i;                                                                                      \
    for (i = 0; i < len; i++) a0 += tq_rt_s4_at(w, (size_t)(off + i));                              \
    acc[0] = a0;                                                                                    \
  }                                                                                                 \
  static void tq_wsum4_##wn##_##an(TQ_RT_CT(an) *acc, const uint8_t *w, int32_t off, int32_t ws,    \
                                   int32_t len) {                                                   \
    int32_t j;                                                                                      \
    for (j = 0; j < 4; j++) tq_wsum1_##wn##_##an(acc + j, w, off + j * ws, len);                    \
  }
#define TQ_WSUM_s8(wn, an) TQ_WSUM_PLAIN(wn, an)
#define TQ_WSUM_s16(wn, an) TQ_WSUM_PLAIN(wn, an)
#define TQ_WSUM_PLAIN(wn, an)                                                                       \
  static void tq_wsum1_##wn##_##an(TQ_RT_CT(an) *acc, const TQ_RT_CT(wn) *w, int32_t off,           \
                                   int32_t len) {                                                   \
    const TQ_RT_CT(wn) *w0 = w + off;                                                               \
    TQ_RT_CT(an) a0 = acc[0];                                                                       \
    int32_t i;                                                                                      \
    for (i = 0; i < len; i++) a0 += w0[i];                                                          \
    acc[0] = a0;                                                                                    \
  }                                                                                                 \
  static void tq_wsum4_##wn##_##an(TQ_RT_CT(an) *acc, const TQ_RT_CT(wn) *w, int32_t off,           \
                                   int32_t ws, int32_t len) {                                       \
    const TQ_RT_CT(wn) *w0 = w + off, *w1 = w0 + ws, *w2 = w1 + ws, *w3 = w2 + ws;                  \
    TQ_RT_CT(an) a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];                                \
    int32_t i;                                                                                      \
    for (i = 0; i < len; i++) {                                                                     \
      a0 += w0[i];                                                                                  \
      a1 += w1[i];                                                                                  \
      a2 += w2[i];                                                                                  \
      a3 += w3[i];                                                                                  \
    }                                                                                               \
    TQ_RT_I_PUT4(acc, a0, a1, a2, a3);                                                              \
  }
TQ_RT_I_WACC_TYPES(TQ_WSUM)

/* ps[j] += W sums of the block's channels over [off, off + len) of their rows (K apart), j < nb. */
#define TQ_WSUM_N(wn, an, ps, nb, w, off, K, len)                                                   \
  ((nb) == 4 ? tq_wsum4_##wn##_##an(ps, w, off, K, len) : tq_wsum1_##wn##_##an(ps, w, off, len))

#define TQ_BORDER(wn, an)                                                                           \
  /* conv2d, OHWI: channel c's taps are the K = KH*KW*C weights from c*K; a row is KW*C of them */  \
  static void tq_conv_border_##wn##_##an(TQ_RT_CT(an) *acc, int32_t nb, const TQ_RT_CT(wn) *w,      \
                                         int32_t oc0, const tq_rt_conv_geom *g,                     \
                                         const tq_rt_i_window *win, int32_t z) {                    \
    const int32_t C = g->in_c, KW = g->k_w, rowlen = KW * C, K = g->k_h * rowlen;                   \
    TQ_RT_CT(an) ps[4] = {0, 0, 0, 0};                                                              \
    int32_t kh, j;                                                                                  \
    for (kh = 0; kh < g->k_h; kh++) {                                                               \
      const int32_t base = oc0 * K + kh * rowlen;                                                   \
      if (kh < win->kh_lo || kh >= win->kh_hi || win->kw_hi == win->kw_lo) {                        \
        TQ_WSUM_N(wn, an, ps, nb, w, base, K, rowlen); /* a padded row */                           \
        continue;                                                                                   \
      }                                                                                             \
      if (win->kw_lo > 0) TQ_WSUM_N(wn, an, ps, nb, w, base, K, win->kw_lo * C);                    \
      if (win->kw_hi < KW)                                                                          \
        TQ_WSUM_N(wn, an, ps, nb, w, base + win->kw_hi * C, K, (KW - win->kw_hi) * C);              \
    }                                                                                               \
    for (j = 0; j < nb; j++) acc[j] += (TQ_RT_CT(an))z * ps[j];                                     \
  }                                                                                                 \
  /* depthwise, (KH,KW,OC): tap t of output channel oc is weight t*OC + oc */                       \
  static void tq_dw_border_##wn##_##an(TQ_RT_CT(an) *acc, int32_t nb, const TQ_RT_CT(wn) *w,        \
                                       int32_t oc0, const tq_rt_conv_geom *g,                       \
                                       const tq_rt_i_window *win, int32_t z) {                      \
    int32_t kh, kw, j;                                                                              \
    for (kh = 0; kh < g->k_h; kh++)                                                                 \
      for (kw = 0; kw < g->k_w; kw++) {                                                             \
        const int32_t t = (kh * g->k_w + kw) * g->out_c + oc0;                                      \
        if (kh >= win->kh_lo && kh < win->kh_hi && kw >= win->kw_lo && kw < win->kw_hi) continue;   \
        for (j = 0; j < nb; j++) acc[j] += (TQ_RT_CT(an))z * TQ_RT_I_W(wn, w, t + j);               \
      }                                                                                             \
  }
TQ_RT_I_WACC_TYPES(TQ_BORDER)

/* A pair's block of 4 channels (px2): acc[0..7] = both pixels' biases (zeros without); at the end,
 * the border correction (the same for both pixels, when fix), then both requantized and stored. */
#define TQ_PAIR_INIT()                                                                              \
  do {                                                                                              \
    if (bias)                                                                                       \
      for (j = 0; j < 4; j++) acc[j] = acc[4 + j] = bias[oc + j];                                   \
    else                                                                                            \
      for (j = 0; j < 8; j++) acc[j] = 0;                                                           \
  } while (0)
#define TQ_PAIR_STORE(a, o, border, wa)                                                             \
  do {                                                                                              \
    if (fix) {                                                                                      \
      TQ_RT_CT(a) ps[4] = {0, 0, 0, 0};                                                             \
      border(ps, 4, w, oc, G, wa, in_zp);                                                           \
      for (j = 0; j < 4; j++) acc[j] += ps[j], acc[4 + j] += ps[j];                                 \
    }                                                                                               \
    tq_rt_i_rq_store_##a##_##o(opa + oc, acc, 4, Q, oc);                                            \
    tq_rt_i_rq_store_##a##_##o(opb + oc, acc + 4, 4, Q, oc);                                        \
  } while (0)

/* ------------------------------------------------------------------------------------------------------
 * conv2d: per block of 4 output channels, one dot4 per valid kernel row over the contiguous segment
 * (valid kw range) x C of both the NHWC input row and the OHWI weight row. Two consecutive output
 * pixels whose windows have the same shape (every interior pair, and pairs along a border) go through
 * dot2x4 together, and share their border correction; channels from oc0 on one pixel at a time.
 * ------------------------------------------------------------------------------------------------------ */
#define TQ_CONV2D_PX(x, wn, o, a)                                                                   \
  static void tq_conv2d_px_##x##_##wn##_##o##_##a(                                                  \
      TQ_RT_CT(o) *op, const TQ_RT_CT(x) *xb, const TQ_RT_CT(wn) *w, const TQ_RT_CT(a) *bias,       \
      const tq_rt_conv_geom *G, const tq_rt_requant *Q, const tq_rt_i_window *win, int32_t in_zp,   \
      int32_t oc0) {                                                                                \
    const int32_t C = G->in_c, rowlen = G->k_w * C, K = G->k_h * rowlen;                            \
    const int32_t seg = (win->kw_hi - win->kw_lo) * C, rows = win->kh_hi - win->kh_lo;              \
    const int32_t any = seg > 0 && rows > 0; /* some tap of the window is valid */                  \
    const TQ_RT_CT(x) *xp = any ? xb + tq_window_offset(G, win) : xb;                               \
    int32_t oc, j;                                                                                  \
    for (oc = oc0; oc < G->out_c;) {                                                                \
      TQ_RT_CT(a) acc[4] = {0, 0, 0, 0};                                                            \
      const int32_t nb = G->out_c - oc >= 4 ? 4 : 1;                                                \
      const int32_t woff = oc * K + win->kh_lo * rowlen + win->kw_lo * C;                           \
      if (bias)                                                                                     \
        for (j = 0; j < nb; j++) acc[j] = bias[oc + j];                                             \
      if (any && nb == 4)                                                                           \
        tq_rt_i_dot4_##x##_##wn##_##a(acc, xp, G->in_w * C, w, woff, K, rowlen, seg, rows);         \
      else if (any)                                                                                 \
        tq_rt_i_dot1_##x##_##wn##_##a(acc, xp, G->in_w * C, w, woff, rowlen, seg, rows);            \
      if (in_zp != 0 && win->border) tq_conv_border_##wn##_##a(acc, nb, w, oc, G, win, in_zp);      \
      tq_rt_i_rq_store_##a##_##o(op + oc, acc, nb, Q, oc);                                          \
      oc += nb;                                                                                     \
    }                                                                                               \
  }                                                                                                 \
  /* pixels a and b, windows of the same shape; returns the first channel not done (a multiple of 4) */ \
  static int32_t tq_conv2d_px2_##x##_##wn##_##o##_##a(                                              \
      TQ_RT_CT(o) *opa, TQ_RT_CT(o) *opb, const TQ_RT_CT(x) *xb, const TQ_RT_CT(wn) *w,             \
      const TQ_RT_CT(a) *bias, const tq_rt_conv_geom *G, const tq_rt_requant *Q,                    \
      const tq_rt_i_window *wa, const tq_rt_i_window *wb, int32_t in_zp) {                          \
    const int32_t C = G->in_c, rowlen = G->k_w * C, K = G->k_h * rowlen;                            \
    const int32_t seg = (wa->kw_hi - wa->kw_lo) * C, rows = wa->kh_hi - wa->kh_lo;                  \
    const int32_t any = seg > 0 && rows > 0, fix = in_zp != 0 && wa->border;                        \
    const TQ_RT_CT(x) *xpa = any ? xb + tq_window_offset(G, wa) : xb;                               \
    const TQ_RT_CT(x) *xpb = any ? xb + tq_window_offset(G, wb) : xb;                               \
    int32_t oc, j;                                                                                  \
    for (oc = 0; oc + 4 <= G->out_c; oc += 4) {                                                     \
      TQ_RT_CT(a) acc[8];                                                                           \
      TQ_PAIR_INIT();                                                                               \
      if (any)                                                                                      \
        tq_rt_i_dot2x4_##x##_##wn##_##a(acc, xpa, xpb, G->in_w * C, w,                              \
                                        oc * K + wa->kh_lo * rowlen + wa->kw_lo * C, K, rowlen,     \
                                        seg, rows);                                                 \
      TQ_PAIR_STORE(a, o, tq_conv_border_##wn##_##a, wa);                                           \
    }                                                                                               \
    return oc;                                                                                      \
  }

/* ------------------------------------------------------------------------------------------------------
 * depthwise conv2d: per output pixel, blocks of up to 16 output channels; accumulation 4 channels at a
 * time (contiguous in both input and weights when M = 1) over the valid taps; border pixels add
 * z_X * W(tap, oc) for each padded tap; then one requantize-and-store pass per block.
 * ------------------------------------------------------------------------------------------------------ */
#define TQ_DW_ACC(x, wn, a)                                                                         \
  /* acc[0] += sum over rows x cols taps of xp[r*xrs + c*xcs] * W(t + r*wrs + c*wcs) */             \
  static void tq_dw_acc1_##x##_##wn##_##a(TQ_RT_CT(a) *acc, const TQ_RT_CT(x) *xp, int32_t xrs,     \
                                          int32_t xcs, const TQ_RT_CT(wn) *w, int32_t t,            \
                                          int32_t wrs, int32_t wcs, int32_t rows, int32_t cols) {   \
    TQ_RT_CT(a) a0 = acc[0];                                                                        \
    int32_t r, c;                                                                                   \
    for (r = 0; r < rows; r++, xp += xrs, t += wrs) {                                               \
      const TQ_RT_CT(x) *xc = xp;                                                                   \
      int32_t tc = t;                                                                               \
      for (c = 0; c < cols; c++, xc += xcs, tc += wcs)                                              \
        a0 += (TQ_RT_CT(a))((int32_t)xc[0] * TQ_RT_I_W(wn, w, tc));                                 \
    }                                                                                               \
    acc[0] = a0;                                                                                    \
  }                                                                                                 \
  /* the same for channels j < nb (input and weights advance by 1 per channel), 4 at a time */      \
  static void tq_dw_accn_##x##_##wn##_##a(TQ_RT_CT(a) *acc, int32_t nb, const TQ_RT_CT(x) *xp,      \
                                          int32_t xrs, int32_t xcs, const TQ_RT_CT(wn) *w,          \
                                          int32_t t, int32_t wrs, int32_t wcs, int32_t rows,        \
                                          int32_t cols) {                                           \
    int32_t j = nb - nb % 4;                                                                        \
    tq_rt_i_dwacc4_##x##_##wn##_##a(acc, j, xp, xrs, xcs, w, t, wrs, wcs, rows, cols);              \
    for (; j < nb; j++)                                                                             \
      tq_dw_acc1_##x##_##wn##_##a(acc + j, xp + j, xrs, xcs, w, t + j, wrs, wcs, rows, cols);       \
  }
TQ_RT_I_DOT_TYPES(TQ_DW_ACC)

/* Two pixels, 4 channels (input and weights advance by 1 per channel; pixel b's input is d elements
 * after pixel a's): acc[j] for pixel a, acc[4 + j] for pixel b. SWAR where it applies (tq_rt_internal.h),
 * otherwise one tq_dw_accn per pixel. */
#define TQ_DW_ACC2(x, wn, a) TQ_DW_ACC2_##wn##_##a(x, wn, a)
#define TQ_DW_ACC2_HEAD(x, wn, a)                                                                   \
  static void tq_dw_acc2x4_##x##_##wn##_##a(TQ_RT_CT(a) *acc, const TQ_RT_CT(x) *xp, ptrdiff_t d,   \
                                            int32_t xrs, int32_t xcs, const TQ_RT_CT(wn) *w,        \
                                            int32_t t, int32_t wrs, int32_t wcs, int32_t rows,      \
                                            int32_t cols)
#define TQ_DW_ACC2_PAIR(x, wn, a)                                                                   \
  TQ_DW_ACC2_HEAD(x, wn, a) {                                                                       \
    tq_dw_accn_##x##_##wn##_##a(acc, 4, xp, xrs, xcs, w, t, wrs, wcs, rows, cols);                  \
    tq_dw_accn_##x##_##wn##_##a(acc + 4, 4, xp + d, xrs, xcs, w, t, wrs, wcs, rows, cols);          \
  }
#define TQ_DW_ACC2_SWAR(x, wn, a)                                                                   \
  TQ_DW_ACC2_HEAD(x, wn, a) {                                                                       \
    uint64_t a0 = TQ_RT_I_PACK2(acc[0], acc[4]), a1 = TQ_RT_I_PACK2(acc[1], acc[5]);                \
    uint64_t a2 = TQ_RT_I_PACK2(acc[2], acc[6]), a3 = TQ_RT_I_PACK2(acc[3], acc[7]);                \
    int32_t r, c;                                                                                   \
    for (r = 0; r < rows; r++, xp += xrs, t += wrs) {                                               \
      const TQ_RT_CT(x) *xc = xp;                                                                   \
      const TQ_RT_CT(wn) *wc = w + t;                                                               \
      for (c = 0; c < cols; c++, xc += xcs, wc += wcs) {                                            \
        a0 += (uint64_t)(int64_t)wc[0] * TQ_RT_I_PACK2(xc[0], xc[d]);                               \
        a1 += (uint64_t)(int64_t)wc[1] * TQ_RT_I_PACK2(xc[1], xc[d + 1]);                           \
        a2 += (uint64_t)(int64_t)wc[2] * TQ_RT_I_PACK2(xc[2], xc[d + 2]);                           \
        a3 += (uint64_t)(int64_t)wc[3] * TQ_RT_I_PACK2(xc[3], xc[d + 3]);                           \
      }                                                                                             \
    }                                                                                               \
    tq_rt_i_unpack2x4(acc, a0, a1, a2, a3);                                                         \
  }
#define TQ_DW_ACC2_s4_a32 TQ_DW_ACC2_PAIR
#define TQ_DW_ACC2_s4_a64 TQ_DW_ACC2_PAIR
#define TQ_DW_ACC2_s8_a64 TQ_DW_ACC2_PAIR
#define TQ_DW_ACC2_s16_a64 TQ_DW_ACC2_PAIR
/* int8 x int8 with the DSP extension: its own two-pixel loop (tq_rt_dsp.c) */
#define TQ_DW_ACC2_DSP(x, wn, a)                                                                    \
  TQ_DW_ACC2_HEAD(x, wn, a) {                                                                       \
    tq_rt_i_dw2acc4_##x##_##wn##_##a(acc, xp, d, xrs, xcs, w, t, wrs, wcs, rows, cols);             \
  }
#if TQ_RT_I_SWAR
#define TQ_DW_ACC2_s8_a32 TQ_DW_ACC2_SWAR
#define TQ_DW_ACC2_s16_a32 TQ_DW_ACC2_SWAR
#elif TQ_RT_I_DSP
#define TQ_DW_ACC2_s8_a32(x, wn, a) TQ_DW_ACC2_s8_a32_##x(x, wn, a)
#define TQ_DW_ACC2_s8_a32_s8 TQ_DW_ACC2_DSP
#define TQ_DW_ACC2_s8_a32_s16 TQ_DW_ACC2_PAIR
#define TQ_DW_ACC2_s16_a32 TQ_DW_ACC2_PAIR
#else
#define TQ_DW_ACC2_s8_a32 TQ_DW_ACC2_PAIR
#define TQ_DW_ACC2_s16_a32 TQ_DW_ACC2_PAIR
#endif
TQ_RT_I_DOT_TYPES(TQ_DW_ACC2)

#define TQ_DWCONV_PX(x, wn, o, a)                                                                   \
  static void tq_dwconv_px_##x##_##wn##_##o##_##a(                                                  \
      TQ_RT_CT(o) *op, const TQ_RT_CT(x) *xb, const TQ_RT_CT(wn) *w, const TQ_RT_CT(a) *bias,       \
      const tq_rt_conv_geom *G, const tq_rt_requant *Q, const tq_rt_i_window *win, int32_t in_zp,   \
      int32_t oc_start) {                                                                           \
    const int32_t C = G->in_c, M = G->depth_mult, OC = G->out_c, KW = G->k_w;                       \
    const int32_t rows = win->kh_hi - win->kh_lo, cols = win->kw_hi - win->kw_lo;                   \
    const int32_t any = rows > 0 && cols > 0; /* some tap of the window is valid */                 \
    /* the input at the window's first valid tap, channel 0 */                                      \
    const TQ_RT_CT(x) *xw = any ? xb + tq_window_offset(G, win) : xb;                               \
    int32_t oc0, j;                                                                                 \
    for (oc0 = oc_start; oc0 < OC; oc0 += 16) {                                                     \
      TQ_RT_CT(a) acc[16];                                                                          \
      const int32_t nb = OC - oc0 < 16 ? OC - oc0 : 16;                                             \
      const int32_t t0 = (win->kh_lo * KW + win->kw_lo) * OC + oc0;                                 \
      for (j = 0; j < nb; j++) acc[j] = bias ? bias[oc0 + j] : 0;                                   \
      if (any && M == 1)                                                                            \
        tq_dw_accn_##x##_##wn##_##a(acc, nb, xw + oc0, G->in_w * C, C, w, t0, KW * OC, OC, rows,    \
                                    cols);                                                          \
      else if (any)                                                                                 \
        for (j = 0; j < nb; j++)                                                                    \
          tq_dw_acc1_##x##_##wn##_##a(acc + j, xw + (oc0 + j) / M, G->in_w * C, C, w, t0 + j,       \
                                      KW * OC, OC, rows, cols);                                     \
      if (in_zp != 0 && win->border) tq_dw_border_##wn##_##a(acc, nb, w, oc0, G, win, in_zp);       \
      tq_rt_i_rq_store_##a##_##o(op + oc0, acc, nb, Q, oc0);                                        \
    }                                                                                               \
  }                                                                                                 \
  /* pixels a and b, windows of the same shape, depth multiplier 1 (otherwise nothing); returns the \
   * first channel not done */                                                                      \
  static int32_t tq_dwconv_px2_##x##_##wn##_##o##_##a(                                              \
      TQ_RT_CT(o) *opa, TQ_RT_CT(o) *opb, const TQ_RT_CT(x) *xb, const TQ_RT_CT(wn) *w,             \
      const TQ_RT_CT(a) *bias, const tq_rt_conv_geom *G, const tq_rt_requant *Q,                    \
      const tq_rt_i_window *wa, const tq_rt_i_window *wb, int32_t in_zp) {                          \
    const int32_t C = G->in_c, OC = G->out_c, KW = G->k_w;                                          \
    const int32_t rows = wa->kh_hi - wa->kh_lo, cols = wa->kw_hi - wa->kw_lo;                       \
    const int32_t any = rows > 0 && cols > 0, fix = in_zp != 0 && wa->border;                       \
    const TQ_RT_CT(x) *xwa = any ? xb + tq_window_offset(G, wa) : xb;                               \
    const ptrdiff_t d = any ? (ptrdiff_t)(tq_window_offset(G, wb) - tq_window_offset(G, wa)) : 0;   \
    const int32_t t0 = (wa->kh_lo * KW + wa->kw_lo) * OC;                                           \
    int32_t oc, j;                                                                                  \
    if (G->depth_mult != 1) return 0;                                                               \
    for (oc = 0; oc + 4 <= OC; oc += 4) {                                                           \
      TQ_RT_CT(a) acc[8];                                                                           \
      TQ_PAIR_INIT();                                                                               \
      if (any)                                                                                      \
        tq_dw_acc2x4_##x##_##wn##_##a(acc, xwa + oc, d, G->in_w * C, C, w, t0 + oc, KW * OC, OC,    \
                                      rows, cols);                                                  \
      TQ_PAIR_STORE(a, o, tq_dw_border_##wn##_##a, wa);                                             \
    }                                                                                               \
    return oc;                                                                                      \
  }

/* ------------------------------------------------------------------------------------------------------
 * Both kernels: arguments checked, then the output pixels two at a time where their windows have the
 * same shape (px2, then px from the first channel px2 left), else one (px); op = a pixel's outputs,
 * xb = the sample's input. Two rows whose windows cover the same kernel rows go as vertical pairs
 * (every column pairs, the borders included); any other row goes alone, in horizontal pairs.
 * ------------------------------------------------------------------------------------------------------ */
#define TQ_CONV_KERNEL(name, px, px2, kind, x, wn, o, a)                                            \
  tq_rt_status name(TQ_RT_CT(o) *out, const TQ_RT_CT(x) *in, const TQ_RT_CT(wn) *w,                 \
                    const TQ_RT_CT(a) *bias, const tq_rt_conv_geom *g, int32_t in_zp,               \
                    const tq_rt_requant *rq) {                                                      \
    int32_t b, oh, ow, dh, dw;                                                                      \
    tq_rt_conv_geom G;                                                                              \
    tq_rt_requant Q;                                                                                \
    if (tq_conv_check(out, in, w, g, kind, rq, TQ_RT_MIN(o), TQ_RT_MAX(o)) != TQ_RT_OK)             \
      return TQ_RT_ERR_ARG;                                                                         \
    G = *g; /* local copies: int8 output stores may alias anything the pointers reach */            \
    Q = *rq;                                                                                        \
    for (b = 0; b < G.n; b++) {                                                                     \
      const TQ_RT_CT(x) *xb = in + (size_t)b * G.in_h * G.in_w * G.in_c;                            \
      TQ_RT_CT(o) *ob = out + (size_t)b * G.out_h * G.out_w * G.out_c;                              \
      for (oh = 0; oh < G.out_h; oh += dh) {                                                        \
        dh = G.out_c >= 4 && oh + 1 < G.out_h && tq_rows_same_shape(&G, oh, oh + 1) ? 2 : 1;        \
        for (ow = 0; ow < G.out_w; ow += dw) {                                                      \
          const int32_t ph = oh + dh - 1, pw = ow + 2 - dh; /* the partner pixel */                 \
          TQ_RT_CT(o) *opa = ob + ((size_t)oh * G.out_w + ow) * G.out_c;                            \
          TQ_RT_CT(o) *opb = ob + ((size_t)ph * G.out_w + pw) * G.out_c;                            \
          tq_rt_i_window wa, wb;                                                                    \
          tq_rt_i_window_at(&wa, &G, oh, ow);                                                       \
          if (pw < G.out_w && G.out_c >= 4) tq_rt_i_window_at(&wb, &G, ph, pw);                     \
          dw = 1;                                                                                   \
          if (dh == 2 || (pw < G.out_w && G.out_c >= 4 && tq_window_same_shape(&wa, &wb))) {        \
            const int32_t oc0 = px2(opa, opb, xb, w, bias, &G, &Q, &wa, &wb, in_zp);                \
            if (oc0 < G.out_c) {                                                                    \
              px(opa, xb, w, bias, &G, &Q, &wa, in_zp, oc0);                                        \
              px(opb, xb, w, bias, &G, &Q, &wb, in_zp, oc0);                                        \
            }                                                                                       \
            dw = 3 - dh;                                                                            \
          } else                                                                                    \
            px(opa, xb, w, bias, &G, &Q, &wa, in_zp, 0);                                            \
        }                                                                                           \
      }                                                                                             \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }

/* Every combination of TQ_RT_WEIGHTED_TYPES, e.g. tq_rt_conv2d_s8_s4w_s16_acc64(). */
#define TQ_CONV2D(op, xn, wn, on, an)                                                               \
  TQ_CONV2D_PX(xn, wn, on, an)                                                                      \
  TQ_CONV_KERNEL(TQ_RT_WNAME(op, xn, wn, on, an), tq_conv2d_px_##xn##_##wn##_##on##_##an,           \
                 tq_conv2d_px2_##xn##_##wn##_##on##_##an, TQ_RT_GEOM_CONV, xn, wn, on, an)
#define TQ_DWCONV(op, xn, wn, on, an)                                                               \
  TQ_DWCONV_PX(xn, wn, on, an)                                                                      \
  TQ_CONV_KERNEL(TQ_RT_WNAME(op, xn, wn, on, an), tq_dwconv_px_##xn##_##wn##_##on##_##an,           \
                 tq_dwconv_px2_##xn##_##wn##_##on##_##an, TQ_RT_GEOM_DEPTHWISE, xn, wn, on, an)
TQ_RT_WEIGHTED_TYPES(TQ_CONV2D, conv2d)
TQ_RT_WEIGHTED_TYPES(TQ_DWCONV, depthwise_conv2d)
