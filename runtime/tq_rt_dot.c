/* Blocked integer dot products: the inner loops of conv2d and dense (declared in tq_rt_internal.h).
 * dot4 shares each input load between 4 output channels (4 independent accumulators); the loops are
 * plain counted loops over contiguous memory so compilers can keep them in registers or vectorise. */
#include <string.h>

#include "tq_rt_internal.h"

/* ---- s8 / s16 weights ------------------------------------------------------------------------------ */
/* elements i and i + 1 of a dot4 row (TQ_RT_I_DOT4_BODY), in C */
#define TQ_DOT_PAIR_C(AT)                                                                           \
  const int32_t x0 = xv[i], x1 = xv[i + 1];                                                         \
  a0 += (AT)(x0 * w0[i]);                                                                           \
  a1 += (AT)(x0 * w1[i]);                                                                           \
  a2 += (AT)(x0 * w2[i]);                                                                           \
  a3 += (AT)(x0 * w3[i]);                                                                           \
  a0 += (AT)(x1 * w0[i + 1]);                                                                       \
  a1 += (AT)(x1 * w1[i + 1]);                                                                       \
  a2 += (AT)(x1 * w2[i + 1]);                                                                       \
  a3 += (AT)(x1 * w3[i + 1]);
#define TQ_DOT_PLAIN(x, wn, WT, a, AT, XT)                                                          \
  void tq_rt_i_dot4_##x##_##wn##_##a(AT *acc, const XT *xv, int32_t xrs, const WT *w, int32_t off,  \
                                      int32_t ws, int32_t wrs, int32_t len, int32_t rows) {         \
    TQ_RT_I_DOT4_BODY(AT, WT, TQ_DOT_PAIR_C, AT)                                                    \
  }                                                                                                 \
  void tq_rt_i_dot1_##x##_##wn##_##a(AT *acc, const XT *xv, int32_t xrs, const WT *w, int32_t off,  \
                                      int32_t wrs, int32_t len, int32_t rows) {                     \
    AT a0 = acc[0];                                                                                 \
    int32_t r;                                                                                      \
    for (r = 0; r < rows; r++, xv += xrs, off += wrs) {                                             \
      const WT *w0 = w + off;                                                                       \
      int32_t i;                                                                                    \
      for (i = 0; i < len; i++) a0 += (AT)((int32_t)xv[i] * w0[i]);                                 \
    }                                                                                               \
    acc[0] = a0;                                                                                    \
  }

/* ---- s4 weights (packed, element e = nibble e) ------------------------------------------------------ */
#define TQ_DOT_NIBBLE(x, a, AT, XT)                                                                 \
  static void tq_dot1r_##x##_s4_##a(AT *acc, const XT *xv, const uint8_t *w, int32_t off,           \
                                    int32_t len) {                                                  \
    const uint8_t *p = w + (off >> 1);                                                              \
    AT a0 = acc[0];                                                                                 \
    int32_t i = 0;                                                                                  \
    if ((off & 1) && len > 0) {                                                                     \
      a0 += (AT)((int32_t)xv[0] * TQ_RT_I_HI4((int32_t)p[0]));                                      \
      p++;                                                                                          \
      i = 1;                                                                                        \
    }                                                                                               \
    for (; i + 2 <= len; i += 2, p++) {                                                             \
      const int32_t b = *p;                                                                         \
      a0 += (AT)((int32_t)xv[i] * TQ_RT_I_LO4(b));                                                  \
      a0 += (AT)((int32_t)xv[i + 1] * TQ_RT_I_HI4(b));                                              \
    }                                                                                               \
    if (i < len) a0 += (AT)((int32_t)xv[i] * TQ_RT_I_LO4((int32_t)*p));                             \
    acc[0] = a0;                                                                                    \
  }                                                                                                 \
  static void tq_dot4r_##x##_s4_##a(AT *acc, const XT *xv, const uint8_t *w, int32_t off,           \
                                    int32_t ws, int32_t len) {                                      \
    const uint8_t *p0, *p1, *p2, *p3;                                                               \
    AT a0, a1, a2, a3;                                                                              \
    int32_t i = 0;                                                                                  \
    if (ws & 1) { /* rows of odd length: channel parities alternate */                              \
      tq_dot1r_##x##_s4_##a(acc, xv, w, off, len);                                                  \
      tq_dot1r_##x##_s4_##a(acc + 1, xv, w, off + ws, len);                                         \
      tq_dot1r_##x##_s4_##a(acc + 2, xv, w, off + 2 * ws, len);                                     \
      tq_dot1r_##x##_s4_##a(acc + 3, xv, w, off + 3 * ws, len);                                     \
      return;                                                                                       \
    }                                                                                               \
    p0 = w + (off >> 1);                                                                            \
    p1 = p0 + (ws >> 1);                                                                            \
    p2 = p1 + (ws >> 1);                                                                            \
    p3 = p2 + (ws >> 1);                                                                            \
    a0 = acc[0];                                                                                    \
    a1 = acc[1];                                                                                    \
    a2 = acc[2];                                                                                    \
    a3 = acc[3];                                                                                    \
    if ((off & 1) && len > 0) {                                                                     \
      const int32_t xi = xv[0];                                                                     \
      a0 += (AT)(xi * TQ_RT_I_HI4((int32_t)*p0++));                                                 \
      a1 += (AT)(xi * TQ_RT_I_HI4((int32_t)*p1++));                                                 \
      a2 += (AT)(xi * TQ_RT_I_HI4((int32_t)*p2++));                                                 \
      a3 += (AT)(xi * TQ_RT_I_HI4((int32_t)*p3++));                                                 \
      i = 1;                                                                                        \
    }                                                                                               \
    for (; i + 2 <= len; i += 2) {                                                                  \
      const int32_t x0 = xv[i], x1 = xv[i + 1];                                                     \
      const int32_t b0 = *p0++, b1 = *p1++, b2 = *p2++, b3 = *p3++;                                 \
      a0 += (AT)(x0 * TQ_RT_I_LO4(b0));                                                             \
      a0 += (AT)(x1 * TQ_RT_I_HI4(b0));                                                             \
      a1 += (AT)(x0 * TQ_RT_I_LO4(b1));                                                             \
      a1 += (AT)(x1 * TQ_RT_I_HI4(b1));                                                             \
      a2 += (AT)(x0 * TQ_RT_I_LO4(b2));                                                             \
      a2 += (AT)(x1 * TQ_RT_I_HI4(b2));                                                             \
      a3 += (AT)(x0 * TQ_RT_I_LO4(b3));                                                             \
      a3 += (AT)(x1 * TQ_RT_I_HI4(b3));                                                             \
    }                                                                                               \
    if (i < len) {                                                                                  \
      const int32_t xi = xv[i];                                                                     \
      a0 += (AT)(xi * TQ_RT_I_LO4((int32_t)*p0));                                                   \
      a1 += (AT)(xi * TQ_RT_I_LO4((int32_t)*p1));                                                   \
      a2 += (AT)(xi * TQ_RT_I_LO4((int32_t)*p2));                                                   \
      a3 += (AT)(xi * TQ_RT_I_LO4((int32_t)*p3));                                                   \
    }                                                                                               \
    TQ_RT_I_PUT4(acc, a0, a1, a2, a3);                                                              \
  }                                                                                                 \
  void tq_rt_i_dot1_##x##_s4_##a(AT *acc, const XT *xv, int32_t xrs, const uint8_t *w,              \
                                  int32_t off, int32_t wrs, int32_t len, int32_t rows) {            \
    int32_t r;                                                                                      \
    for (r = 0; r < rows; r++, xv += xrs, off += wrs) tq_dot1r_##x##_s4_##a(acc, xv, w, off, len);  \
  }                                                                                                 \
  void tq_rt_i_dot4_##x##_s4_##a(AT *acc, const XT *xv, int32_t xrs, const uint8_t *w,              \
                                  int32_t off, int32_t ws, int32_t wrs, int32_t len,                \
                                  int32_t rows) {                                                   \
    int32_t r;                                                                                      \
    for (r = 0; r < rows; r++, xv += xrs, off += wrs)                                               \
      tq_dot4r_##x##_s4_##a(acc, xv, w, off, ws, len);                                              \
  }

/* ---- two pixels at once ------------------------------------------------------------------------------
 * On a 64-bit machine (TQ_RT_I_SWAR, tq_rt_internal.h) the int32 accumulators of both pixels share one
 * 64-bit register, so one multiply-add serves both pixels. */
#define TQ_DOT2_SWAR(x, wn, WT, XT)                                                                 \
  void tq_rt_i_dot2x4_##x##_##wn##_a32(int32_t *acc, const XT *xa, const XT *xb, int32_t xrs,       \
                                       const WT *w, int32_t off, int32_t ws, int32_t wrs,           \
                                       int32_t len, int32_t rows) {                                 \
    uint64_t a0 = TQ_RT_I_PACK2(acc[0], acc[4]), a1 = TQ_RT_I_PACK2(acc[1], acc[5]);                \
    uint64_t a2 = TQ_RT_I_PACK2(acc[2], acc[6]), a3 = TQ_RT_I_PACK2(acc[3], acc[7]);                \
    int32_t r;                                                                                      \
    for (r = 0; r < rows; r++, xa += xrs, xb += xrs, off += wrs) {                                  \
      const WT *w0 = w + off, *w1 = w0 + ws, *w2 = w1 + ws, *w3 = w2 + ws;                          \
      int32_t i;                                                                                    \
      for (i = 0; i + 2 <= len; i += 2) {                                                           \
        const uint64_t X0 = TQ_RT_I_PACK2(xa[i], xb[i]), X1 = TQ_RT_I_PACK2(xa[i + 1], xb[i + 1]);  \
        a0 += (uint64_t)(int64_t)w0[i] * X0;                                                        \
        a1 += (uint64_t)(int64_t)w1[i] * X0;                                                        \
        a2 += (uint64_t)(int64_t)w2[i] * X0;                                                        \
        a3 += (uint64_t)(int64_t)w3[i] * X0;                                                        \
        a0 += (uint64_t)(int64_t)w0[i + 1] * X1;                                                    \
        a1 += (uint64_t)(int64_t)w1[i + 1] * X1;                                                    \
        a2 += (uint64_t)(int64_t)w2[i + 1] * X1;                                                    \
        a3 += (uint64_t)(int64_t)w3[i + 1] * X1;                                                    \
      }                                                                                             \
      if (i < len) {                                                                                \
        const uint64_t X0 = TQ_RT_I_PACK2(xa[i], xb[i]);                                            \
        a0 += (uint64_t)(int64_t)w0[i] * X0;                                                        \
        a1 += (uint64_t)(int64_t)w1[i] * X0;                                                        \
        a2 += (uint64_t)(int64_t)w2[i] * X0;                                                        \
        a3 += (uint64_t)(int64_t)w3[i] * X0;                                                        \
      }                                                                                             \
    }                                                                                               \
    tq_rt_i_unpack2x4(acc, a0, a1, a2, a3);                                                         \
  }
/* Elsewhere (32-bit machines, int64 accumulators, packed int4 weights): one dot4 per pixel. */
#define TQ_DOT2_PAIR(x, wn, WT, a, AT, XT)                                                          \
  void tq_rt_i_dot2x4_##x##_##wn##_##a(AT *acc, const XT *xa, const XT *xb, int32_t xrs,            \
                                       const WT *w, int32_t off, int32_t ws, int32_t wrs,           \
                                       int32_t len, int32_t rows) {                                 \
    tq_rt_i_dot4_##x##_##wn##_##a(acc, xa, xrs, w, off, ws, wrs, len, rows);                        \
    tq_rt_i_dot4_##x##_##wn##_##a(acc + 4, xb, xrs, w, off, ws, wrs, len, rows);                    \
  }

/* ---- depthwise: channels j < nb4 (a multiple of 4), 4 at a time --------------------------------------- */
#define TQ_DW4_PLAIN(x, wn, a)                                                                      \
  void tq_rt_i_dwacc4_##x##_##wn##_##a(TQ_RT_CT(a) *acc, int32_t nb4, const TQ_RT_CT(x) *xp,        \
                                       int32_t xrs, int32_t xcs, const TQ_RT_CT(wn) *w, int32_t t,  \
                                       int32_t wrs, int32_t wcs, int32_t rows, int32_t cols) {      \
    int32_t j;                                                                                      \
    for (j = 0; j < nb4; j += 4) {                                                                  \
      TQ_RT_CT(a) a0 = acc[j], a1 = acc[j + 1], a2 = acc[j + 2], a3 = acc[j + 3];                   \
      const TQ_RT_CT(x) *xr = xp + j;                                                               \
      int32_t r, c, tr = t + j;                                                                     \
      for (r = 0; r < rows; r++, xr += xrs, tr += wrs) {                                            \
        const TQ_RT_CT(x) *xc = xr;                                                                 \
        int32_t tc = tr;                                                                            \
        for (c = 0; c < cols; c++, xc += xcs, tc += wcs) {                                          \
          a0 += (TQ_RT_CT(a))((int32_t)xc[0] * TQ_RT_I_W(wn, w, tc));                               \
          a1 += (TQ_RT_CT(a))((int32_t)xc[1] * TQ_RT_I_W(wn, w, tc + 1));                           \
          a2 += (TQ_RT_CT(a))((int32_t)xc[2] * TQ_RT_I_W(wn, w, tc + 2));                           \
          a3 += (TQ_RT_CT(a))((int32_t)xc[3] * TQ_RT_I_W(wn, w, tc + 3));                           \
        }                                                                                           \
      }                                                                                             \
      TQ_RT_I_PUT4(acc + j, a0, a1, a2, a3);                                                        \
    }                                                                                               \
  }

/* One instantiation per (activation, weights, accumulator): the portable loops (dot products and the
 * depthwise block), except those the DSP extension replaces (tq_rt_dsp.c). */
#define TQ_DOT(xn, wn, an) TQ_LOOPS_##xn##_##wn##_##an(xn, wn, an) TQ_DOT2_##wn##_##an(xn)
#define TQ_PORTABLE(xn, wn, an) TQ_DOT_##wn(xn, an) TQ_DW4_PLAIN(xn, wn, an)
#define TQ_DOT_s4(xn, an) TQ_DOT_NIBBLE(xn, an, TQ_RT_CT(an), TQ_RT_CT(xn))
#define TQ_DOT_s8(xn, an) TQ_DOT_PLAIN(xn, s8, int8_t, an, TQ_RT_CT(an), TQ_RT_CT(xn))
#define TQ_DOT_s16(xn, an) TQ_DOT_PLAIN(xn, s16, int16_t, an, TQ_RT_CT(an), TQ_RT_CT(xn))
#if TQ_RT_I_DSP
#define TQ_LOOPS_s8_s8_a32(xn, wn, an)
#define TQ_LOOPS_s16_s16_a32(xn, wn, an)
#define TQ_LOOPS_s16_s16_a64(xn, wn, an)
#define TQ_LOOPS_s8_s4_a32(xn, wn, an) TQ_DW4_PLAIN(xn, wn, an) /* its dot products only */
#else
#define TQ_LOOPS_s8_s8_a32 TQ_PORTABLE
#define TQ_LOOPS_s16_s16_a32 TQ_PORTABLE
#define TQ_LOOPS_s16_s16_a64 TQ_PORTABLE
#define TQ_LOOPS_s8_s4_a32 TQ_PORTABLE
#endif
#define TQ_LOOPS_s8_s16_a32 TQ_PORTABLE
#define TQ_LOOPS_s8_s16_a64 TQ_PORTABLE
#define TQ_LOOPS_s8_s8_a64 TQ_PORTABLE
#define TQ_LOOPS_s8_s4_a64 TQ_PORTABLE
#define TQ_LOOPS_s16_s4_a32 TQ_PORTABLE
#define TQ_LOOPS_s16_s4_a64 TQ_PORTABLE
#define TQ_LOOPS_s16_s8_a32 TQ_PORTABLE
#define TQ_LOOPS_s16_s8_a64 TQ_PORTABLE
#define TQ_DOT2_s4_a32(xn) TQ_DOT2_PAIR(xn, s4, uint8_t, a32, int32_t, TQ_RT_CT(xn))
#define TQ_DOT2_s4_a64(xn) TQ_DOT2_PAIR(xn, s4, uint8_t, a64, int64_t, TQ_RT_CT(xn))
#define TQ_DOT2_s8_a64(xn) TQ_DOT2_PAIR(xn, s8, int8_t, a64, int64_t, TQ_RT_CT(xn))
#define TQ_DOT2_s16_a64(xn) TQ_DOT2_PAIR(xn, s16, int16_t, a64, int64_t, TQ_RT_CT(xn))
#if TQ_RT_I_SWAR
#define TQ_DOT2_s8_a32(xn) TQ_DOT2_SWAR(xn, s8, int8_t, TQ_RT_CT(xn))
#define TQ_DOT2_s16_a32(xn) TQ_DOT2_SWAR(xn, s16, int16_t, TQ_RT_CT(xn))
#else
#define TQ_DOT2_s8_a32(xn) TQ_DOT2_PAIR(xn, s8, int8_t, a32, int32_t, TQ_RT_CT(xn))
#define TQ_DOT2_s16_a32(xn) TQ_DOT2_PAIR(xn, s16, int16_t, a32, int32_t, TQ_RT_CT(xn))
#endif
TQ_RT_I_DOT_TYPES(TQ_DOT)

/* ---- requantize and store a block of accumulators: every case but the inlined one (tq_rt_internal.h) -- */
#define TQ_RQ_STORE(a, o)                                                                           \
  void tq_rt_i_rq_store_any_##a##_##o(TQ_RT_CT(o) *out, const TQ_RT_CT(a) *acc, int32_t nb,         \
                                      const tq_rt_requant *q, int32_t ch0) {                        \
    const int32_t zp = q->out_zp, pc = q->per_channel;                                              \
    const int64_t lo = (int64_t)q->act_min - zp, hi = (int64_t)q->act_max - zp;                     \
    const int8_t *sh = q->shift + (pc ? ch0 : 0);                                                   \
    const int32_t *mu = q->mode == TQ_RT_RQ_MULT ? q->mult + (pc ? ch0 : 0) : NULL;                 \
    int32_t j;                                                                                      \
    for (j = 0; j < nb; j++) {                                                                      \
      int64_t v = mu ? tq_rt_requant_mult_s64(acc[j], mu[pc ? j : 0], sh[pc ? j : 0])               \
                     : tq_rt_rshift_round_s64(acc[j], sh[pc ? j : 0]);                              \
      v = v < lo ? lo : v > hi ? hi : v;                                                            \
      out[j] = (TQ_RT_CT(o))(v + zp);                                                               \
    }                                                                                               \
  }
TQ_RT_I_STORE_TYPES(TQ_RQ_STORE)
