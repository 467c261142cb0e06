/* The inner loops on a core with the DSP extension (Cortex-M4/M7/M33 with DSP; __ARM_FEATURE_DSP):
 * 16-bit SIMD multiply-accumulates replace the portable loops of tq_rt_dot.c for the common type
 * combinations (same names, declared in tq_rt_internal.h; -DTQ_RT_NO_DSP keeps the portable ones).
 * Every loop computes the portable loop's sums in another order: int32 sums are exact modulo 2^32 and
 * the int32 kernels' contract (tq_rt.h "Accumulator width") makes the final sum fit, so the results
 * are the same; int64 sums of int16 products never wrap.
 *   int8 x int8, dot products: 4 codes per word, SXTB16 makes two pairs, SMLAD adds 2 products.
 *   int8 x int8, depthwise: channels are the contiguous axis, so the pairs belong to 2 channels: one
 *     SMLABB/SMLATT per product, but one word load for 4 inputs and one for 4 weights.
 *   int16 x int16: pairs load directly (SMLAD, SMLALD for int64 sums; depthwise SMLABB/SMLATT,
 *     SMLALBB/SMLALTT).
 *   int8 x packed int4, dot products: 8 nibbles per word, masked into the high half of each byte
 *     (each weight times 16, exact) and sign-extended in pairs by SXTB16; the inputs are paired to
 *     match (PKHBT/PKHTB); SMLAD into a per-row sum, divided by 16 (exact) at the row's end. */
#include <string.h>

#include "tq_rt_internal.h"

#if TQ_RT_I_DSP
#include <arm_acle.h>

/* 4 bytes from any alignment (the Cortex-M4 loads unaligned words; memcpy becomes one LDR) */
static inline uint32_t tq_ld4(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
/* bytes 1 and 3 sign-extended to halfwords: SXTB16 with its rotate operand (GCC's ACLE has no
 * intrinsic for the rotated form, and does not fold a separate rotate into it) */
static inline int16x2_t tq_sxtb16_ror8(uint32_t v) {
#if defined(__GNUC__) && defined(__arm__)
  int16x2_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
  return r;
#else
  return __sxtb16((v >> 8) | (v << 24));
#endif
}
/* the low and high halfwords of a word as int32 (two's complement, as on every ARM compiler) */
#define TQ_H0(v) ((int32_t)(int16_t)(uint16_t)(v))
#define TQ_H1(v) ((int32_t)(int16_t)(uint16_t)((uint32_t)(v) >> 16))

/* acc + the product of the low (high) halfwords of a and b: SMLABB/SMLATT for int32 sums (GCC makes
 * them from the C), SMLALBB/SMLALTT for int64 sums (GCC's ACLE has no intrinsics for them, and from
 * the C shifts the high halves first) */
#define TQ_MB_a32(acc, a, b) ((acc) + TQ_H0(a) * TQ_H0(b))
#define TQ_MT_a32(acc, a, b) ((acc) + TQ_H1(a) * TQ_H1(b))
#define TQ_MB_a64(acc, a, b) tq_smlal_bb((acc), (a), (b))
#define TQ_MT_a64(acc, a, b) tq_smlal_tt((acc), (a), (b))
#if defined(__GNUC__) && defined(__arm__)
#define TQ_SMLAL_XY(name, insn, H)                                                                  \
  static inline int64_t name(int64_t acc, uint32_t a, uint32_t b) {                                 \
    __asm__(insn " %Q0, %R0, %1, %2" : "+r"(acc) : "r"(a), "r"(b));                                 \
    return acc;                                                                                     \
  }
#else
#define TQ_SMLAL_XY(name, insn, H)                                                                  \
  static inline int64_t name(int64_t acc, uint32_t a, uint32_t b) {                                 \
    return acc + (int64_t)H(a) * H(b);                                                              \
  }
#endif
TQ_SMLAL_XY(tq_smlal_bb, "smlalbb", TQ_H0)
TQ_SMLAL_XY(tq_smlal_tt, "smlaltt", TQ_H1)

/* ---- int8 x int8, int32 sums ------------------------------------------------------------------------ */
/* acc += x[0..3] . w[0..3], x given as its even (xe) and odd (xo) sign-extended pairs */
#define TQ_SMLAD4(acc, xe, xo, wp)                                                                  \
  do {                                                                                              \
    const uint32_t q_ = tq_ld4(wp);                                                                 \
    (acc) = __smlad(__sxtb16(q_), (xe), (acc));                                                     \
    (acc) = __smlad(tq_sxtb16_ror8(q_), (xo), (acc));                                               \
  } while (0)
void tq_rt_i_dot4_s8_s8_a32(int32_t *acc, const int8_t *xv, int32_t xrs, const int8_t *w,
                            int32_t off, int32_t ws, int32_t wrs, int32_t len, int32_t rows) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], r;
  for (r = 0; r < rows; r++, xv += xrs, off += wrs) {
    const int8_t *w0 = w + off, *w1 = w0 + ws, *w2 = w1 + ws, *w3 = w2 + ws;
    int32_t i;
    for (i = 0; i + 4 <= len; i += 4) {
      const uint32_t xq = tq_ld4(xv + i);
      const int16x2_t xe = __sxtb16(xq), xo = tq_sxtb16_ror8(xq);
      TQ_SMLAD4(a0, xe, xo, w0 + i);
      TQ_SMLAD4(a1, xe, xo, w1 + i);
      TQ_SMLAD4(a2, xe, xo, w2 + i);
      TQ_SMLAD4(a3, xe, xo, w3 + i);
    }
    for (; i < len; i++) {
      const int32_t x0 = xv[i];
      a0 += x0 * w0[i];
      a1 += x0 * w1[i];
      a2 += x0 * w2[i];
      a3 += x0 * w3[i];
    }
  }
  TQ_RT_I_PUT4(acc, a0, a1, a2, a3);
}
void tq_rt_i_dot1_s8_s8_a32(int32_t *acc, const int8_t *xv, int32_t xrs, const int8_t *w,
                            int32_t off, int32_t wrs, int32_t len, int32_t rows) {
  int32_t a0 = acc[0], r;
  for (r = 0; r < rows; r++, xv += xrs, off += wrs) {
    const int8_t *w0 = w + off;
    int32_t i;
    for (i = 0; i + 4 <= len; i += 4) {
      const uint32_t xq = tq_ld4(xv + i);
      TQ_SMLAD4(a0, __sxtb16(xq), tq_sxtb16_ror8(xq), w0 + i);
    }
    for (; i < len; i++) a0 += (int32_t)xv[i] * w0[i];
  }
  acc[0] = a0;
}
void tq_rt_i_dwacc4_s8_s8_a32(int32_t *acc, int32_t nb4, const int8_t *xp, int32_t xrs, int32_t xcs,
                              const int8_t *w, int32_t t, int32_t wrs, int32_t wcs, int32_t rows,
                              int32_t cols) {
  int32_t j;
  for (j = 0; j < nb4; j += 4) {
    int32_t a0 = acc[j], a1 = acc[j + 1], a2 = acc[j + 2], a3 = acc[j + 3], r;
    const int8_t *xr = xp + j, *wr = w + t + j;
    for (r = 0; r < rows; r++, xr += xrs, wr += wrs) {
      const int8_t *xc = xr, *wc = wr, *end = xr + cols * xcs;
      for (; xc != end; xc += xcs, wc += wcs) {
        const uint32_t xq = tq_ld4(xc), wq = tq_ld4(wc);
        const int16x2_t xe = __sxtb16(xq), we = __sxtb16(wq);
        const int16x2_t xo = tq_sxtb16_ror8(xq), wo = tq_sxtb16_ror8(wq);
        a0 = __smlabb(xe, we, a0); /* channels 0 and 2 */
        a2 = __smlatt(xe, we, a2);
        a1 = __smlabb(xo, wo, a1); /* channels 1 and 3 */
        a3 = __smlatt(xo, wo, a3);
      }
    }
    TQ_RT_I_PUT4(acc + j, a0, a1, a2, a3);
  }
}

/* Two pixels (pixel b's input d elements after pixel a's) share each weight load: acc[j] for pixel a,
 * acc[4 + j] for pixel b, j < 4. The same column stride for input and weights (a depth multiplier of
 * 1), else one pixel at a time. */
void tq_rt_i_dw2acc4_s8_s8_a32(int32_t *acc, const int8_t *xp, ptrdiff_t d, int32_t xrs,
                               int32_t xcs, const int8_t *w, int32_t t, int32_t wrs, int32_t wcs,
                               int32_t rows, int32_t cols) {
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  int32_t b0 = acc[4], b1 = acc[5], b2 = acc[6], b3 = acc[7], r;
  const int8_t *wr = w + t;
  if (xcs != wcs) {
    tq_rt_i_dwacc4_s8_s8_a32(acc, 4, xp, xrs, xcs, w, t, wrs, wcs, rows, cols);
    tq_rt_i_dwacc4_s8_s8_a32(acc + 4, 4, xp + d, xrs, xcs, w, t, wrs, wcs, rows, cols);
    return;
  }
  for (r = 0; r < rows; r++, xp += xrs, wr += wrs) {
    const int8_t *xc = xp, *end = xp + cols * xcs;
    const ptrdiff_t dw = wr - xp; /* the weights, addressed from the input pointer */
    for (; xc != end; xc += xcs) {
      const uint32_t wq = tq_ld4(xc + dw), xq = tq_ld4(xc), yq = tq_ld4(xc + d);
      const int16x2_t we = __sxtb16(wq), wo = tq_sxtb16_ror8(wq);
      const int16x2_t xe = __sxtb16(xq), xo = tq_sxtb16_ror8(xq);
      const int16x2_t ye = __sxtb16(yq), yo = tq_sxtb16_ror8(yq);
      a0 = __smlabb(xe, we, a0); /* channels 0 and 2 */
      a2 = __smlatt(xe, we, a2);
      b0 = __smlabb(ye, we, b0);
      b2 = __smlatt(ye, we, b2);
      a1 = __smlabb(xo, wo, a1); /* channels 1 and 3 */
      a3 = __smlatt(xo, wo, a3);
      b1 = __smlabb(yo, wo, b1);
      b3 = __smlatt(yo, wo, b3);
    }
  }
  TQ_RT_I_PUT4(acc, a0, a1, a2, a3);
  TQ_RT_I_PUT4(acc + 4, b0, b1, b2, b3);
}

/* ---- int16 x int16, int32 (SMLAD) and int64 (SMLALD) sums ------------------------------------------- */
/* elements i and i + 1 of a dot4 row (TQ_RT_I_DOT4_BODY): one word of each, one MAC per weight row */
#define TQ_DSP_PAIR16(MAC)                                                                          \
  const int16x2_t xq = (int16x2_t)tq_ld4(xv + i);                                                   \
  a0 = MAC(xq, (int16x2_t)tq_ld4(w0 + i), a0);                                                      \
  a1 = MAC(xq, (int16x2_t)tq_ld4(w1 + i), a1);                                                      \
  a2 = MAC(xq, (int16x2_t)tq_ld4(w2 + i), a2);                                                      \
  a3 = MAC(xq, (int16x2_t)tq_ld4(w3 + i), a3);
#define TQ_DSP_DOT16(an, AT, MAC)                                                                   \
  void tq_rt_i_dot4_s16_s16_##an(AT *acc, const int16_t *xv, int32_t xrs, const int16_t *w,         \
                                 int32_t off, int32_t ws, int32_t wrs, int32_t len, int32_t rows) { \
    TQ_RT_I_DOT4_BODY(AT, int16_t, TQ_DSP_PAIR16, MAC)                                              \
  }                                                                                                 \
  void tq_rt_i_dot1_s16_s16_##an(AT *acc, const int16_t *xv, int32_t xrs, const int16_t *w,         \
                                 int32_t off, int32_t wrs, int32_t len, int32_t rows) {             \
    AT a0 = acc[0];                                                                                 \
    int32_t r;                                                                                      \
    for (r = 0; r < rows; r++, xv += xrs, off += wrs) {                                             \
      const int16_t *w0 = w + off;                                                                  \
      int32_t i;                                                                                    \
      for (i = 0; i + 2 <= len; i += 2)                                                             \
        a0 = MAC((int16x2_t)tq_ld4(xv + i), (int16x2_t)tq_ld4(w0 + i), a0);                         \
      if (i < len) a0 += (AT)((int32_t)xv[i] * w0[i]);                                              \
    }                                                                                               \
    acc[0] = a0;                                                                                    \
  }                                                                                                 \
  /* channels 0 and 1 in one word, 2 and 3 in the next: one multiply-accumulate per product */      \
  void tq_rt_i_dwacc4_s16_s16_##an(AT *acc, int32_t nb4, const int16_t *xp, int32_t xrs,            \
                                   int32_t xcs, const int16_t *w, int32_t t, int32_t wrs,           \
                                   int32_t wcs, int32_t rows, int32_t cols) {                       \
    int32_t j;                                                                                      \
    for (j = 0; j < nb4; j += 4) {                                                                  \
      AT a0 = acc[j], a1 = acc[j + 1], a2 = acc[j + 2], a3 = acc[j + 3];                            \
      const int16_t *xr = xp + j, *wr = w + t + j;                                                  \
      int32_t r;                                                                                    \
      for (r = 0; r < rows; r++, xr += xrs, wr += wrs) {                                            \
        const int16_t *xc = xr, *wc = wr, *end = xr + cols * xcs;                                   \
        for (; xc != end; xc += xcs, wc += wcs) {                                                   \
          const uint32_t x01 = tq_ld4(xc), w01 = tq_ld4(wc);                                        \
          a0 = TQ_MB_##an(a0, x01, w01);                                                            \
          a1 = TQ_MT_##an(a1, x01, w01);                                                            \
          {                                                                                         \
            const uint32_t x23 = tq_ld4(xc + 2), w23 = tq_ld4(wc + 2);                              \
            a2 = TQ_MB_##an(a2, x23, w23);                                                          \
            a3 = TQ_MT_##an(a3, x23, w23);                                                          \
          }                                                                                         \
        }                                                                                           \
      }                                                                                             \
      TQ_RT_I_PUT4(acc + j, a0, a1, a2, a3);                                                        \
    }                                                                                               \
  }
TQ_DSP_DOT16(a32, int32_t, __smlad)
TQ_DSP_DOT16(a64, int64_t, __smlald)

/* ---- int8 x packed int4, int32 sums ----------------------------------------------------------------- */
/* x[0..7] as the int16 pairs that match tq_nib_mac's weights: (0,4) (2,6) (1,5) (3,7) */
typedef struct {
  int16x2_t p04, p26, p15, p37;
} tq_x8;
static inline tq_x8 tq_x8_pairs(const int8_t *x) {
  const uint32_t q0 = tq_ld4(x), q1 = tq_ld4(x + 4);
  const uint32_t e0 = (uint32_t)__sxtb16(q0), e1 = (uint32_t)__sxtb16(q1);
  const uint32_t o0 = (uint32_t)tq_sxtb16_ror8(q0), o1 = (uint32_t)tq_sxtb16_ror8(q1);
  tq_x8 p;
  p.p04 = (int16x2_t)((e0 & 0xFFFFu) | (e1 << 16)); /* PKHBT */
  p.p26 = (int16x2_t)((e0 >> 16) | (e1 & 0xFFFF0000u)); /* PKHTB */
  p.p15 = (int16x2_t)((o0 & 0xFFFFu) | (o1 << 16));
  p.p37 = (int16x2_t)((o0 >> 16) | (o1 & 0xFFFF0000u));
  return p;
}
/* l + 16 * (x . the 8 nibbles of q, nibble e = element e): each byte's low nibble shifted into its
 * high half, the high nibble masked in place, so SXTB16 gives 16 * the signed nibbles in pairs */
static inline int32_t tq_nib_mac(int32_t l, uint32_t q, tq_x8 x) {
  const uint32_t lo = (q << 4) & 0xF0F0F0F0u, hi = q & 0xF0F0F0F0u;
  l = __smlad(__sxtb16(lo), x.p04, l);
  l = __smlad(tq_sxtb16_ror8(lo), x.p26, l);
  l = __smlad(__sxtb16(hi), x.p15, l);
  return __smlad(tq_sxtb16_ror8(hi), x.p37, l);
}
/* l + 16 * (x[0..3] . the 4 nibbles of p[0..1]), x as its SXTB16 pairs (0,2) and (1,3): the two bytes
 * spread to bytes 0 and 2 of a word, whose low nibbles (shifted up) and high nibbles (masked) SXTB16
 * sign-extends in pairs */
static inline int32_t tq_nib4_mac(int32_t l, const uint8_t *p, int16x2_t xe, int16x2_t xo) {
  const uint32_t s = (uint32_t)p[0] | ((uint32_t)p[1] << 16);
  l = __smlad(__sxtb16(s << 4), xe, l);
  return __smlad(__sxtb16(s & 0x00F000F0u), xo, l);
}
/* At most this many elements per per-row sum: |16 * x * w| <= 2^14, so the sum stays below 2^30. */
#define TQ_NIB_CHUNK 65536
/* acc[0] += x[0..len) . nibbles [off, off + len) of w */
static void tq_dot1r_nib(int32_t *acc, const int8_t *xv, const uint8_t *w, int32_t off, int32_t len) {
  const uint8_t *p = w + (off >> 1);
  int32_t a0 = acc[0], i = 0;
  if ((off & 1) && len > 0) {
    a0 += (int32_t)xv[0] * TQ_RT_I_HI4((int32_t)*p++);
    i = 1;
  }
  while (i + 8 <= len) {
    const int32_t stop = len - i > TQ_NIB_CHUNK ? i + TQ_NIB_CHUNK : len;
    int32_t l0 = 0;
    for (; i + 8 <= stop; i += 8, p += 4) l0 = tq_nib_mac(l0, tq_ld4(p), tq_x8_pairs(xv + i));
    a0 += tq_rt_i_asr32(l0, 4);
  }
  for (; i + 2 <= len; i += 2, p++)
    a0 += xv[i] * TQ_RT_I_LO4((int32_t)*p) + xv[i + 1] * TQ_RT_I_HI4((int32_t)*p);
  if (i < len) a0 += (int32_t)xv[i] * TQ_RT_I_LO4((int32_t)*p);
  acc[0] = a0;
}
/* acc[j] += x[0..len) . nibbles [off + j*ws, off + j*ws + len) of w, j < 4 */
static void tq_dot4r_nib(int32_t *acc, const int8_t *xv, const uint8_t *w, int32_t off, int32_t ws,
                         int32_t len) {
  const int32_t hs = ws >> 1;
  const uint8_t *p = w + (off >> 1);
  int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], i = 0, j;
  if (ws & 1) { /* rows of odd length: channel parities alternate */
    for (j = 0; j < 4; j++) tq_dot1r_nib(acc + j, xv, w, off + j * ws, len);
    return;
  }
  if ((off & 1) && len > 0) {
    const int32_t x0 = xv[0];
    a0 += x0 * TQ_RT_I_HI4((int32_t)p[0]);
    a1 += x0 * TQ_RT_I_HI4((int32_t)p[hs]);
    a2 += x0 * TQ_RT_I_HI4((int32_t)p[2 * hs]);
    a3 += x0 * TQ_RT_I_HI4((int32_t)p[3 * hs]);
    p++;
    i = 1;
  }
  while (i + 8 <= len) {
    const int32_t stop = len - i > TQ_NIB_CHUNK ? i + TQ_NIB_CHUNK : len;
    int32_t l0 = 0, l1 = 0, l2 = 0, l3 = 0;
    for (; i + 8 <= stop; i += 8, p += 4) {
      const tq_x8 x = tq_x8_pairs(xv + i);
      l0 = tq_nib_mac(l0, tq_ld4(p), x);
      l1 = tq_nib_mac(l1, tq_ld4(p + hs), x);
      l2 = tq_nib_mac(l2, tq_ld4(p + 2 * hs), x);
      l3 = tq_nib_mac(l3, tq_ld4(p + 3 * hs), x);
    }
    a0 += tq_rt_i_asr32(l0, 4);
    a1 += tq_rt_i_asr32(l1, 4);
    a2 += tq_rt_i_asr32(l2, 4);
    a3 += tq_rt_i_asr32(l3, 4);
  }
  if (i + 4 <= len) { /* 4 of the fewer than 8 left (the first layers' short rows) */
    const uint32_t xq = tq_ld4(xv + i);
    const int16x2_t xe = __sxtb16(xq), xo = tq_sxtb16_ror8(xq);
    a0 += tq_rt_i_asr32(tq_nib4_mac(0, p, xe, xo), 4);
    a1 += tq_rt_i_asr32(tq_nib4_mac(0, p + hs, xe, xo), 4);
    a2 += tq_rt_i_asr32(tq_nib4_mac(0, p + 2 * hs, xe, xo), 4);
    a3 += tq_rt_i_asr32(tq_nib4_mac(0, p + 3 * hs, xe, xo), 4);
    i += 4;
    p += 2;
  }
  for (; i + 2 <= len; i += 2, p++) { /* fewer than 4 left; p is at element i's byte */
    const int32_t x0 = xv[i], x1 = xv[i + 1];
    const int32_t b0 = p[0], b1 = p[hs], b2 = p[2 * hs], b3 = p[3 * hs];
    a0 += x0 * TQ_RT_I_LO4(b0) + x1 * TQ_RT_I_HI4(b0);
    a1 += x0 * TQ_RT_I_LO4(b1) + x1 * TQ_RT_I_HI4(b1);
    a2 += x0 * TQ_RT_I_LO4(b2) + x1 * TQ_RT_I_HI4(b2);
    a3 += x0 * TQ_RT_I_LO4(b3) + x1 * TQ_RT_I_HI4(b3);
  }
  if (i < len) {
    const int32_t x0 = xv[i];
    a0 += x0 * TQ_RT_I_LO4((int32_t)p[0]);
    a1 += x0 * TQ_RT_I_LO4((int32_t)p[hs]);
    a2 += x0 * TQ_RT_I_LO4((int32_t)p[2 * hs]);
    a3 += x0 * TQ_RT_I_LO4((int32_t)p[3 * hs]);
  }
  TQ_RT_I_PUT4(acc, a0, a1, a2, a3);
}
void tq_rt_i_dot1_s8_s4_a32(int32_t *acc, const int8_t *xv, int32_t xrs, const uint8_t *w,
                            int32_t off, int32_t wrs, int32_t len, int32_t rows) {
  int32_t r;
  for (r = 0; r < rows; r++, xv += xrs, off += wrs) tq_dot1r_nib(acc, xv, w, off, len);
}
void tq_rt_i_dot4_s8_s4_a32(int32_t *acc, const int8_t *xv, int32_t xrs, const uint8_t *w,
                            int32_t off, int32_t ws, int32_t wrs, int32_t len, int32_t rows) {
  int32_t r;
  for (r = 0; r < rows; r++, xv += xrs, off += wrs) tq_dot4r_nib(acc, xv, w, off, ws, len);
}
#else
typedef int tq_rt_dsp_none; /* ISO C: a translation unit declares something */
#endif
