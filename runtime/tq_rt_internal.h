/* tq_rt_internal.h — shared by the runtime's own sources, not part of the API (generated code and
 * exporters include tq_rt.h only). Ships with the runtime: the export copies every tq_rt* file. */
#ifndef TQ_RT_INTERNAL_H
#define TQ_RT_INTERNAL_H

#include "tq_rt.h"

/* Element e of a weight array of type name wn, as int32 (nibble e for s4). */
#define TQ_RT_I_W(wn, w, e) TQ_RT_I_W_##wn(w, e)
#define TQ_RT_I_W_s4(w, e) tq_rt_s4_at((w), (size_t)(e))
#define TQ_RT_I_W_s8(w, e) ((int32_t)(w)[e])
#define TQ_RT_I_W_s16(w, e) ((int32_t)(w)[e])

/* Two's-complement nibble decode of a byte b in [0, 255] (portable: no shifts of negative values). */
#define TQ_RT_I_LO4(b) ((((b) & 15) ^ 8) - 8)
#define TQ_RT_I_HI4(b) ((((b) >> 4) ^ 8) - 8)

/* floor(v / 2^n) for n in [0, 31] (one arithmetic shift; no implementation-defined behaviour). */
static inline int32_t tq_rt_i_asr32(int32_t v, int32_t n) {
  return v < 0 ? ~(~v >> n) : v >> n;
}

/* The DSP extension's loops (tq_rt_dsp.c) replace some portable ones (tq_rt_dot.c) on a core that has it
 * (__ARM_FEATURE_DSP, e.g. -mcpu=cortex-m4); -DTQ_RT_NO_DSP keeps the portable loops (for comparison). */
#if defined(__ARM_FEATURE_DSP) && !defined(TQ_RT_NO_DSP)
#define TQ_RT_I_DSP 1
#else
#define TQ_RT_I_DSP 0
#endif

/* Two pixels in one register: on a 64-bit machine, with X = x_a + x_b * 2^32 (mod 2^64),
 * w * X = w * x_a + (w * x_b) * 2^32, so one multiply-add serves the int32 accumulators of two pixels.
 * Unsigned arithmetic wraps mod 2^64, and the low and high halves are recovered exactly because each
 * pixel's sum fits int32 (the int32 kernels' contract, tq_rt.h "Accumulator width"). */
#if UINTPTR_MAX > 0xFFFFFFFFu && !defined(TQ_RT_NO_SWAR)
#define TQ_RT_I_SWAR 1
#else
#define TQ_RT_I_SWAR 0
#endif
#define TQ_RT_I_PACK2(lo, hi) ((uint64_t)(int64_t)(lo) + ((uint64_t)(int64_t)(hi) << 32))
/* the int32 value of the low 32 bits of u (portable: no out-of-range conversion) */
static inline int32_t tq_rt_i_low_s32(uint64_t u) {
  const uint32_t v = (uint32_t)u;
  return v < 0x80000000u ? (int32_t)v : (int32_t)(v - 0x80000000u) - 0x7FFFFFFF - 1;
}
static inline void tq_rt_i_unpack2(int32_t *lo, int32_t *hi, uint64_t u) {
  *lo = tq_rt_i_low_s32(u);
  *hi = tq_rt_i_low_s32((u - (uint64_t)(int64_t)*lo) >> 32);
}
/* Four packed pixel pairs back to acc[0..3] (first pixel) and acc[4..7] (second). */
static inline void tq_rt_i_unpack2x4(int32_t *acc, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  tq_rt_i_unpack2(acc, acc + 4, a0);
  tq_rt_i_unpack2(acc + 1, acc + 5, a1);
  tq_rt_i_unpack2(acc + 2, acc + 6, a2);
  tq_rt_i_unpack2(acc + 3, acc + 7, a3);
}

/* The inner loops' type combinations: activation in x weights x accumulator (12). X(xn, wn, an). */
#define TQ_RT_I_DOT_TYPES(X)                                                                        \
  X(s8, s4, a32) X(s8, s8, a32) X(s8, s16, a32) X(s16, s4, a32) X(s16, s8, a32) X(s16, s16, a32)    \
  X(s8, s4, a64) X(s8, s8, a64) X(s8, s16, a64) X(s16, s4, a64) X(s16, s8, a64) X(s16, s16, a64)
/* Weights x accumulator (6), accumulator x activation out (4): X(wn, an), X(an, on). */
#define TQ_RT_I_WACC_TYPES(X) X(s4, a32) X(s8, a32) X(s16, a32) X(s4, a64) X(s8, a64) X(s16, a64)
#define TQ_RT_I_STORE_TYPES(X) X(a32, s8) X(a32, s16) X(a64, s8) X(a64, s16)

/* acc[0..3] = a0..a3: the stores that end a block of 4 register accumulators. */
#define TQ_RT_I_PUT4(acc, a0, a1, a2, a3)                                                           \
  ((acc)[0] = (a0), (acc)[1] = (a1), (acc)[2] = (a2), (acc)[3] = (a3))

/* Blocked dot products over contiguous segments (tq_rt_dot.c):
 * dot4: acc[j] += sum_{r<rows} sum_{i<len} x[r*xrs + i] * W(off + r*wrs + j*ws + i), j = 0..3;
 * dot1: the same for j = 0 only. */
#define TQ_RT_I_DECL_DOT(xn, wn, an)                                                                \
  void tq_rt_i_dot4_##xn##_##wn##_##an(TQ_RT_CT(an) *acc, const TQ_RT_CT(xn) *xv, int32_t xrs,      \
                                       const TQ_RT_CT(wn) *w, int32_t off, int32_t ws,              \
                                       int32_t wrs, int32_t len, int32_t rows);                     \
  void tq_rt_i_dot1_##xn##_##wn##_##an(TQ_RT_CT(an) *acc, const TQ_RT_CT(xn) *xv, int32_t xrs,      \
                                       const TQ_RT_CT(wn) *w, int32_t off, int32_t wrs,             \
                                       int32_t len, int32_t rows);
/* The body of a dot4 function (over its parameters acc, xv, xrs, w, off, ws, wrs, len, rows), written
 * once for the portable loop (tq_rt_dot.c) and the DSP extension's (tq_rt_dsp.c): per row, PAIR(P)
 * adds elements i and i + 1 of the input row xv times the weight rows w0..w3 (type WT) into a0..a3
 * (type AT); an odd last element is added in C. P: what PAIR needs besides (a type, an intrinsic). */
#define TQ_RT_I_DOT4_BODY(AT, WT, PAIR, P)                                                          \
  AT a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];                                            \
  int32_t r;                                                                                        \
  for (r = 0; r < rows; r++, xv += xrs, off += wrs) {                                               \
    const WT *w0 = w + off, *w1 = w0 + ws, *w2 = w1 + ws, *w3 = w2 + ws;                            \
    int32_t i;                                                                                      \
    for (i = 0; i + 2 <= len; i += 2) {                                                             \
      PAIR(P)                                                                                       \
    }                                                                                               \
    if (i < len) {                                                                                  \
      const int32_t x0 = xv[i];                                                                     \
      a0 += (AT)(x0 * w0[i]);                                                                       \
      a1 += (AT)(x0 * w1[i]);                                                                       \
      a2 += (AT)(x0 * w2[i]);                                                                       \
      a3 += (AT)(x0 * w3[i]);                                                                       \
    }                                                                                               \
  }                                                                                                 \
  TQ_RT_I_PUT4(acc, a0, a1, a2, a3);
/* dwacc4 (depthwise, input and weights advance by 1 per channel): acc[j] += sum_{r<rows} sum_{c<cols}
 * x[j + r*xrs + c*xcs] * W(t + j + r*wrs + c*wcs), j < nb4 (a multiple of 4). */
#define TQ_RT_I_DECL_DWACC4(xn, wn, an)                                                             \
  void tq_rt_i_dwacc4_##xn##_##wn##_##an(TQ_RT_CT(an) *acc, int32_t nb4, const TQ_RT_CT(xn) *xp,    \
                                         int32_t xrs, int32_t xcs, const TQ_RT_CT(wn) *w,           \
                                         int32_t t, int32_t wrs, int32_t wcs, int32_t rows,         \
                                         int32_t cols);
#if TQ_RT_I_DSP
/* dwacc4 for two pixels at once (tq_rt_dsp.c; pixel b's input d elements after pixel a's): acc[j] for
 * pixel a, acc[4 + j] for pixel b, j < 4 */
void tq_rt_i_dw2acc4_s8_s8_a32(int32_t *acc, const int8_t *xp, ptrdiff_t d, int32_t xrs,
                               int32_t xcs, const int8_t *w, int32_t t, int32_t wrs, int32_t wcs,
                               int32_t rows, int32_t cols);
#endif
/* dot2x4: dot4 for two pixels at once whose windows have the same shape (inputs xa and xb, the same
 * weights): acc[j] for pixel a, acc[4 + j] for pixel b, j = 0..3. */
#define TQ_RT_I_DECL_DOT2(xn, wn, an)                                                               \
  void tq_rt_i_dot2x4_##xn##_##wn##_##an(TQ_RT_CT(an) *acc, const TQ_RT_CT(xn) *xa,                 \
                                         const TQ_RT_CT(xn) *xb, int32_t xrs,                       \
                                         const TQ_RT_CT(wn) *w, int32_t off, int32_t ws,            \
                                         int32_t wrs, int32_t len, int32_t rows);
/* out[j] = requantized acc[j] for channel ch0 + j of q, j < nb (q already checked): the common case
 * (PO2, per channel, |z_Y| <= 2^16, right shifts from 2 to below the accumulator's width: the
 * rounding shift in the accumulator's own width, no saturation) inline, the rest in
 * tq_rt_i_rq_store_any (tq_rt_dot.c). */
#define TQ_RT_I_RQ_BITS_a32 32
#define TQ_RT_I_RQ_BITS_a64 64
/* floor(v / 2^n + 1/2) = (floor(v / 2^(n-1)) + 1) >> 1, for 2 <= n < the width (no overflow) */
#define TQ_RT_I_RQ_SHIFT_a32(v, n) tq_rt_i_asr32(tq_rt_i_asr32((v), (n)-1) + 1, 1)
#define TQ_RT_I_RQ_SHIFT_a64(v, n) tq_rt_asr_s64(tq_rt_asr_s64((v), (n)-1) + 1, 1)
#define TQ_RT_I_DECL_STORE(an, on)                                                                  \
  void tq_rt_i_rq_store_any_##an##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(an) *acc, int32_t nb,     \
                                        const tq_rt_requant *q, int32_t ch0);                       \
  TQ_RT_INLINE void tq_rt_i_rq_store_##an##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(an) *acc,        \
                                                 int32_t nb, const tq_rt_requant *q, int32_t ch0) { \
    const int32_t zp = q->out_zp, lo = q->act_min, hi = q->act_max;                                 \
    int32_t j;                                                                                      \
    if (q->mode != TQ_RT_RQ_PO2 || !q->per_channel || zp < -65536 || zp > 65536) {                  \
      tq_rt_i_rq_store_any_##an##_##on(out, acc, nb, q, ch0);                                       \
      return;                                                                                       \
    }                                                                                               \
    for (j = 0; j < nb; j++) {                                                                      \
      const int32_t n = q->shift[ch0 + j];                                                          \
      if (n > 1 && n < TQ_RT_I_RQ_BITS_##an) {                                                      \
        const TQ_RT_CT(an) v = TQ_RT_I_RQ_SHIFT_##an(acc[j], n);                                    \
        out[j] = (TQ_RT_CT(on))(v < (TQ_RT_CT(an))lo - zp   ? lo                                    \
                                : v > (TQ_RT_CT(an))hi - zp ? hi                                    \
                                                            : zp + (int32_t)v);                     \
      } else                                                                                        \
        tq_rt_i_rq_store_any_##an##_##on(out + j, acc + j, 1, q, ch0 + j);                          \
    }                                                                                               \
  }
TQ_RT_I_DOT_TYPES(TQ_RT_I_DECL_DOT)
TQ_RT_I_DOT_TYPES(TQ_RT_I_DECL_DOT2)
TQ_RT_I_DOT_TYPES(TQ_RT_I_DECL_DWACC4)
TQ_RT_I_STORE_TYPES(TQ_RT_I_DECL_STORE)

/* The valid taps of the window of output pixel (oh, ow) of g: rows [kh_lo, kh_hi) and columns
 * [kw_lo, kw_hi) of the window, whose top-left tap sits at input position (ih0, iw0) (negative: in the
 * padding). border: some tap of the window is padding. */
typedef struct {
  int32_t ih0, iw0, kh_lo, kh_hi, kw_lo, kw_hi, border;
} tq_rt_i_window;

static inline void tq_rt_i_axis(int32_t p0, int32_t k, int32_t in, int32_t *lo, int32_t *hi) {
  *lo = p0 < 0 ? -p0 : 0;
  *hi = in - p0 < k ? in - p0 : k;
  if (*lo > k) *lo = k;
  if (*hi < *lo) *hi = *lo;
}

static inline void tq_rt_i_window_at(tq_rt_i_window *win, const tq_rt_conv_geom *g, int32_t oh,
                                     int32_t ow) {
  win->ih0 = oh * g->stride_h - g->pad_top;
  win->iw0 = ow * g->stride_w - g->pad_left;
  tq_rt_i_axis(win->ih0, g->k_h, g->in_h, &win->kh_lo, &win->kh_hi);
  tq_rt_i_axis(win->iw0, g->k_w, g->in_w, &win->kw_lo, &win->kw_hi);
  win->border = win->kh_lo > 0 || win->kh_hi < g->k_h || win->kw_lo > 0 || win->kw_hi < g->k_w;
}

#endif /* TQ_RT_INTERNAL_H */
