/* tq_rt.h — tinyq integer runtime: the kernels that ship to the device.
 *
 * C99, no malloc, no global state, no dependencies beyond <stdint.h>, <stddef.h> and <string.h>.
 * No kernel needs scratch memory (there is no scratch-size query because every answer would be 0).
 * Each kernel has one portable C implementation under one name (a target-optimised variant replaces its
 * body, not its name). The type combinations are listed once, in tq_rt_types.h; helpers shared by the
 * runtime's sources (not API) are in tq_rt_internal.h. Kernels return TQ_RT_OK or TQ_RT_ERR_ARG (null
 * pointer, non-positive size, inconsistent geometry, parameter out of its documented range); they never
 * write the output when they return an error.
 * Host-only helpers that need libm (LUT builders) live in tq_rt_lut_host.c; a device build may leave that
 * file out or compile it with -DTQ_RT_NO_HOST (then it is empty). Quantize/dequantize use float arithmetic
 * (no libm).
 *
 * ======================================================================================================
 * ARITHMETIC CONTRACT (what the lowering must model bit-exactly)
 * ======================================================================================================
 * Codes and scales
 *   Activation tensors hold int8 or int16 codes q with a per-tensor zero point z: real = s * (q - z).
 *   (4-bit activation codes are stored in int8.)  Weights are symmetric (zero point 0) with one scale per
 *   output channel, stored as int4 (packed, see below), int8 or int16 codes.
 *   int4 packing: the weight tensor, flattened in its documented layout, element k lives in byte k/2,
 *   bits 0-3 if k is even ("low nibble first"), bits 4-7 if k is odd; each nibble is a two's-complement
 *   4-bit value in [-8, 7] (sign-extended when read). The whole tensor is packed contiguously (channel rows
 *   are NOT byte-aligned when their length is odd); the unused high nibble of the last byte is ignored.
 *   tq_rt_pack_s4() packs.
 *
 * Bias and the input zero point (folded at export time)
 *   Biases are given at the ACCUMULATOR scale s_X * s_W[c] (the exporter aligns them) as int32 for the
 *   32-bit-accumulator kernels and int64 for the _acc64 kernels, with the input zero point ALREADY FOLDED:
 *       bias_eff[c] = bias_q[c] - z_X * sum_j W_q[c, j]          (sum over every weight of channel c)
 *   tq_rt_fold_bias_*() computes it. Conv/depthwise kernels treat padding as real 0, i.e. padded input
 *   positions hold the code z_X (they take z_X as in_zp for that purpose only), so for every output
 *       acc[c] = bias_eff[c] + sum_j W_q[c, j] * X'_j     with X'_j = X_q, or z_X where padded
 *              = bias_q[c] + sum_j W_q[c, j] * (X'_j - z_X)       (exactly; padded taps contribute 0)
 *   The zero-point correction is thereby out of the inner loops (interior pixels: no correction at all;
 *   border pixels: z_X times the sum of the padded weights, computed from the weights).
 *   bias may be NULL (treated as all zeros — only correct when z_X = 0 or the exporter folded nothing).
 *
 * Accumulator width
 *   Plain kernels accumulate in int32, _acc64 kernels in int64 (products are formed in int32: every
 *   |x * w| <= 2^30). The int32 kernels require (checked by the exporter, not at run time)
 *       |bias_eff[c]| + sum_j |W_q[c, j]| * max(|x_min|, |x_max|, |z_X|) <= 2^31 - 1
 *   for every channel, which bounds every partial sum in any order; otherwise use _acc64 (whose bound is
 *   2^63 - 1 and therefore never binds for realistic layers). tq_rt_acc_bound_*() returns the left side.
 *
 * Requantization (per output channel c, parameters in tq_rt_requant)
 *   n = shift[c] is a RIGHT shift (negative n = left shift) in BOTH modes. Note: TFLite/CMSIS-NN's
 *   `shift` has the opposite sign (theirs = -n).
 *   PO2 mode (power-of-two scales, 2^-n = s_X * s_W[c] / s_Y):
 *       v = rshift_round(acc, n), where
 *       rshift_round(v, n) = (v + 2^(n-1)) >> n = floor(v / 2^n + 1/2)   for n > 0 (ties round UP,
 *                            toward +inf: 2.5 -> 3, -2.5 -> -2, -1.5 -> -1; >> is an arithmetic shift,
 *                            implemented portably; computed as floor(v/2^n) + bit (n-1) of v so it never
 *                            overflows; any n >= 64 gives 0)
 *                          = v                                          for n = 0
 *                          = v * 2^-n saturated to int64                for n < 0
 *   MULT mode (free scales, M[c] * 2^(-31-n) = s_X * s_W[c] / s_Y, M in [0, 2^31 - 1], n in [-31, 62]),
 *   TFLite/CMSIS-NN double rounding ("MultiplyByQuantizedMultiplier"), evaluated exactly in int64:
 *       x = acc * 2^max(-n, 0)                      (exact; saturated to int64 — never for int32 acc)
 *       y = floor(x * M / 2^31 + 1/2)               (SaturatingRoundingDoublingHighMul: ties toward +inf;
 *                                                    the saturation case cannot occur because M >= 0)
 *       v = RDBP(y, max(n, 0))                      (RoundingDivideByPOT: ties AWAY from zero:
 *                                                    floor(y/2^e) + (rem > (2^e-1)/2 + (y<0)))
 *       Bit-identical to TFLite/CMSIS-NN (with shift_tflite = -n) wherever theirs does not overflow.
 *       Outside n in [-31, 62] / M in [0, 2^31-1] the result is unspecified (but there is no UB).
 *   Both modes then:  out = clamp(z_Y + v, act_min, act_max)   (computed without overflow for any v).
 *   act_min/act_max carry fused activations: ReLU is act_min = max(z_Y, type min); ReLU6 also
 *   act_max = min(z_Y + code(6.0), type max); QKeras featuremap codes use [-(2^(b-1)-1), 2^(b-1)-1].
 *   The same functions are available to host code below (tq_rt_rshift_round_s64, tq_rt_requant_mult_s64,
 *   tq_rt_requant_apply) so that the fake-quantized float forward can reproduce the integer results.
 *
 * Layouts (NHWC activations, batch first; all strides implied, no dilation)
 *   conv2d      in (N,H,W,C)  w (OC,KH,KW,C) "OHWI" (Keras HWIO transposed so that each output channel's
 *               KH*KW*C weights are contiguous)                           out (N,OH,OW,OC)
 *   depthwise   in (N,H,W,C)  w (KH,KW,C*M)  (Keras (KH,KW,C,M) flattened; output channel oc = c*M + m
 *               reads input channel c = oc / M)                           out (N,OH,OW,C*M)
 *   dense       in (N,I)      w (O,I) output-major (Keras IO transposed)  out (N,O)
 *   Geometry: OH = (H + pad_top + pad_bottom - KH) / stride_h + 1 (integer division, must be >= 1, and the
 *   given out_h must equal it; same for W). Padding is explicit; TensorFlow 'same' puts the extra row/
 *   column at the bottom/right (tq_rt_pad_same() computes it).
 * ====================================================================================================== */
#ifndef TQ_RT_H
#define TQ_RT_H

#include <stddef.h>
#include <stdint.h>

#include "tq_rt_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TQ_RT_VERSION 2 /* 2: one name per kernel (the _ref duplicates are gone) */

/* Forced inlining of the small per-output helpers where the compiler supports it (pure optimisation). */
#if defined(__GNUC__) || defined(__clang__)
#define TQ_RT_INLINE static inline __attribute__((always_inline))
#else
#define TQ_RT_INLINE static inline
#endif

typedef int32_t tq_rt_status;
#define TQ_RT_OK 0
#define TQ_RT_ERR_ARG (-1)

/* ------------------------------------------------------------------------------------------------------
 * Requantization parameters
 * ------------------------------------------------------------------------------------------------------ */
#define TQ_RT_RQ_PO2 0  /* out = clamp(z + rshift_round(acc, n)) */
#define TQ_RT_RQ_MULT 1 /* out = clamp(z + RDBP(SRDHM(acc << max(-n,0), M), max(n,0))) */

typedef struct {
  int32_t mode;        /* TQ_RT_RQ_PO2 or TQ_RT_RQ_MULT */
  int32_t per_channel; /* 1: mult/shift indexed by output channel; 0: mult[0]/shift[0] for all */
  const int32_t *mult; /* MULT: Q31 multipliers in [0, 2^31-1]; PO2: ignored (may be NULL) */
  const int8_t *shift; /* right shifts n (PO2: any value, saturating; MULT: [-31, 62]) */
  int32_t out_zp;      /* z_Y */
  int32_t act_min;     /* output clamp, codes, within the output type's range, act_min <= act_max */
  int32_t act_max;
} tq_rt_requant;

/* Checks mode, pointers, ranges of mult/shift for `channels` channels and act_min/act_max against
 * [type_min, type_max]. Every kernel calls it; exporters may call it to validate their parameters. */
tq_rt_status tq_rt_requant_check(const tq_rt_requant *rq, int32_t channels, int32_t type_min,
                                 int32_t type_max);

/* floor(v / 2^n) for n in [0, 63], with no implementation-defined behaviour (compiles to one `sar`). */
TQ_RT_INLINE int64_t tq_rt_asr_s64(int64_t v, int32_t n) {
  return v < 0 ? ~(~v >> n) : v >> n;
}

/* rshift_round(v, n) as documented above (PO2 mode). Exact for every int64 v and every int32 n. */
TQ_RT_INLINE int64_t tq_rt_rshift_round_s64(int64_t v, int32_t n) {
  if (n > 0) {
    if (n >= 64) return 0;
    return tq_rt_asr_s64(v, n) + (tq_rt_asr_s64(v, n - 1) & 1);
  }
  if (n == 0 || v == 0) return v;
  if (n <= -63) return v > 0 ? INT64_MAX : INT64_MIN;
  {
    const int32_t k = -n;
    const int64_t lim = INT64_MAX >> k; /* 2^(63-k) - 1 */
    if (v > lim) return INT64_MAX;
    if (v < -lim - 1) return INT64_MIN;
    return v * ((int64_t)1 << k);
  }
}

/* MULT-mode scaling (see the contract): RDBP(SRDHM(acc * 2^max(-n,0), mult), max(n,0)). */
static inline int64_t tq_rt_requant_mult_s64(int64_t acc, int32_t mult, int32_t n) {
  int64_t x, xh, xl, y;
  if (n < -31) n = -31;
  if (n > 62) n = 62;
  if (mult < 0) mult = 0;
  x = n < 0 ? tq_rt_rshift_round_s64(acc, n) : acc;
  /* x*M/2^31 split as x = xh*2^31 + xl, 0 <= xl < 2^31, so no product exceeds 2^63. */
  xh = tq_rt_asr_s64(x, 31);
  xl = (int64_t)((uint64_t)x & 0x7FFFFFFFu);
  y = xh * mult + tq_rt_asr_s64(xl * mult + ((int64_t)1 << 30), 31);
  if (n > 0) {
    const int64_t mask = ((int64_t)1 << n) - 1;
    const int64_t rem = y & mask;
    const int64_t thr = (mask >> 1) + (y < 0 ? 1 : 0);
    y = tq_rt_asr_s64(y, n) + (rem > thr ? 1 : 0);
  }
  return y;
}

/* clamp(zp + v, lo, hi) without overflow for any int64 v. */
TQ_RT_INLINE int32_t tq_rt_clamp_zp(int64_t v, int32_t zp, int32_t lo, int32_t hi) {
  if (v < (int64_t)lo - zp) return lo;
  if (v > (int64_t)hi - zp) return hi;
  return (int32_t)(zp + v);
}

/* The whole requantization of one accumulator for channel index `ch` of rq. */
static inline int32_t tq_rt_requant_apply(int64_t acc, const tq_rt_requant *rq, int32_t ch) {
  const int32_t i = rq->per_channel ? ch : 0;
  const int64_t v = rq->mode == TQ_RT_RQ_PO2
                        ? tq_rt_rshift_round_s64(acc, rq->shift[i])
                        : tq_rt_requant_mult_s64(acc, rq->mult[i], rq->shift[i]);
  return tq_rt_clamp_zp(v, rq->out_zp, rq->act_min, rq->act_max);
}

/* ------------------------------------------------------------------------------------------------------
 * Exporter helpers (pure integer, usable on host or device)
 * ------------------------------------------------------------------------------------------------------ */
/* Packs n int codes in [-8, 7] (src) into ceil(n/2) bytes (dst), low nibble first; the unused nibble of
 * an odd count is 0. Returns TQ_RT_ERR_ARG, before writing anything, if a code is out of range. */
tq_rt_status tq_rt_pack_s4(uint8_t *dst, const int8_t *src, size_t n);
/* Reads packed element k. */
TQ_RT_INLINE int32_t tq_rt_s4_at(const uint8_t *w, size_t k) {
  const int32_t v = ((k & 1u) ? (w[k >> 1] >> 4) : w[k >> 1]) & 15;
  return v - ((v & 8) << 1); /* sign-extend the nibble */
}

/* bias_eff[c] = (bias ? bias[c] : 0) - in_zp * sum_{j<k} W[c*c_stride + j*k_stride], c < channels.
 *   conv2d (OHWI):     k = KH*KW*C, c_stride = k,  k_stride = 1
 *   depthwise:         k = KH*KW,   c_stride = 1,  k_stride = C*M
 *   dense (O,I):       k = I,       c_stride = I,  k_stride = 1
 * (for s4 the strides count elements, i.e. nibbles). The 32-bit versions return TQ_RT_ERR_ARG if a result
 * does not fit in int32 (use the _acc64 kernels then). bias_eff may alias bias. */
tq_rt_status tq_rt_fold_bias_s4w(int32_t *bias_eff, const int32_t *bias, const uint8_t *w,
                                 int32_t channels, int32_t k, int32_t c_stride, int32_t k_stride,
                                 int32_t in_zp);
tq_rt_status tq_rt_fold_bias_s8w(int32_t *bias_eff, const int32_t *bias, const int8_t *w,
                                 int32_t channels, int32_t k, int32_t c_stride, int32_t k_stride,
                                 int32_t in_zp);
tq_rt_status tq_rt_fold_bias_s16w(int32_t *bias_eff, const int32_t *bias, const int16_t *w,
                                  int32_t channels, int32_t k, int32_t c_stride, int32_t k_stride,
                                  int32_t in_zp);
tq_rt_status tq_rt_fold_bias_s4w_acc64(int64_t *bias_eff, const int64_t *bias, const uint8_t *w,
                                       int32_t channels, int32_t k, int32_t c_stride,
                                       int32_t k_stride, int32_t in_zp);
tq_rt_status tq_rt_fold_bias_s8w_acc64(int64_t *bias_eff, const int64_t *bias, const int8_t *w,
                                       int32_t channels, int32_t k, int32_t c_stride,
                                       int32_t k_stride, int32_t in_zp);
tq_rt_status tq_rt_fold_bias_s16w_acc64(int64_t *bias_eff, const int64_t *bias, const int16_t *w,
                                        int32_t channels, int32_t k, int32_t c_stride,
                                        int32_t k_stride, int32_t in_zp);

/* Worst-case partial-sum magnitude of channel c (see "Accumulator width"), saturated to INT64_MAX:
 * |bias_eff[c]| + sum_j |W[c,j]| * xmax_abs, where xmax_abs = max(|x_min|, |x_max|, |z_X|). The layer fits
 * the int32 kernels iff the maximum over channels is <= INT32_MAX. Same strides as tq_rt_fold_bias_*. */
int64_t tq_rt_acc_bound_s4w(int64_t bias_eff, const uint8_t *w, int32_t c, int32_t k,
                            int32_t c_stride, int32_t k_stride, int32_t xmax_abs);
int64_t tq_rt_acc_bound_s8w(int64_t bias_eff, const int8_t *w, int32_t c, int32_t k,
                            int32_t c_stride, int32_t k_stride, int32_t xmax_abs);
int64_t tq_rt_acc_bound_s16w(int64_t bias_eff, const int16_t *w, int32_t c, int32_t k,
                             int32_t c_stride, int32_t k_stride, int32_t xmax_abs);

/* ------------------------------------------------------------------------------------------------------
 * Geometry (conv2d, depthwise, pools)
 * ------------------------------------------------------------------------------------------------------ */
typedef struct {
  int32_t n;                    /* batch */
  int32_t in_h, in_w, in_c;     /* input (N,H,W,C) */
  int32_t out_h, out_w, out_c;  /* output; conv2d: filters; depthwise: in_c*depth_mult; pools: in_c */
  int32_t k_h, k_w;             /* window */
  int32_t stride_h, stride_w;   /* >= 1 */
  int32_t pad_top, pad_bottom, pad_left, pad_right; /* >= 0; pools: each < the window size */
  int32_t depth_mult;           /* depthwise only (>= 1); ignored otherwise */
} tq_rt_conv_geom;

#define TQ_RT_GEOM_CONV 0
#define TQ_RT_GEOM_DEPTHWISE 1
#define TQ_RT_GEOM_POOL 2
#define TQ_RT_GEOM_PAD 3 /* out = in + pads along H and W (k and stride are ignored) */
/* Validates g for the given kind (sizes positive, output size matches the formula, channel counts). */
tq_rt_status tq_rt_geom_check(const tq_rt_conv_geom *g, int32_t kind);
/* TensorFlow 'same' along one axis: out = ceil(in/stride), total = max((out-1)*stride + k - in, 0),
 * before = total/2, after = total - before. */
void tq_rt_pad_same(int32_t in, int32_t k, int32_t stride, int32_t *out, int32_t *pad_before,
                    int32_t *pad_after);

/* ------------------------------------------------------------------------------------------------------
 * conv2d, depthwise_conv2d, dense
 * Name: tq_rt_<op>_<in>_<w>w_<out>[_acc64]; in/out activation codes s8 (int8_t) or s16 (int16_t),
 * weights s4 (packed uint8_t), s8 (int8_t), s16 (int16_t). Bias int32 (int64 for _acc64), folded as
 * documented above. in_zp = z_X, used only for padded positions. rq has out_c channels.
 * All 24 type combinations of each (TQ_RT_WEIGHTED_TYPES), e.g. tq_rt_conv2d_s8_s8w_s8(),
 * tq_rt_depthwise_conv2d_s8_s4w_s8(), tq_rt_dense_s16_s8w_s8_acc64().
 * ------------------------------------------------------------------------------------------------------ */
#define TQ_RT_DECL_CONV(op, xn, wn, on, an)                                                         \
  tq_rt_status TQ_RT_WNAME(op, xn, wn, on, an)(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in,           \
                                               const TQ_RT_CT(wn) *w, const TQ_RT_CT(an) *bias,     \
                                               const tq_rt_conv_geom *g, int32_t in_zp,             \
                                               const tq_rt_requant *rq);
/* dense: in (n, in_dim), w (out_dim, in_dim), out (n, out_dim); no padding, so no in_zp argument. */
#define TQ_RT_DECL_DENSE(op, xn, wn, on, an)                                                        \
  tq_rt_status TQ_RT_WNAME(op, xn, wn, on, an)(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in,           \
                                               const TQ_RT_CT(wn) *w, const TQ_RT_CT(an) *bias,     \
                                               int32_t n, int32_t in_dim, int32_t out_dim,          \
                                               const tq_rt_requant *rq);
TQ_RT_WEIGHTED_TYPES(TQ_RT_DECL_CONV, conv2d)
TQ_RT_WEIGHTED_TYPES(TQ_RT_DECL_CONV, depthwise_conv2d)
TQ_RT_WEIGHTED_TYPES(TQ_RT_DECL_DENSE, dense)

/* ------------------------------------------------------------------------------------------------------
 * Pools. Name tq_rt_<op>_<in>_<out>, in/out in {s8, s16} (TQ_RT_IO_TYPES). rq is per-tensor (per_channel = 0).
 * max_pool2d:  m = max over the valid (non-padded) window; out = clamp(z_Y + rq(m - z_X)). With equal
 *              in/out scales use PO2, shift 0 (then out = clamp(m - z_X + z_Y)).
 * avg_pool2d:  S = sum over the valid window of (x - z_X), cnt = number of valid elements
 *              (padding is excluded, as TensorFlow does).
 *              PO2:  v = floor(S * 2^max(-n,0) / (cnt * 2^max(n,0)) + 1/2)   (ONE rounding, ties up;
 *                    with cnt = 1 this is exactly rshift_round(S, n); 2^-n = s_X / s_Y)
 *              MULT: v = RDBP(SRDHM(S << max(-n,0), M), max(n,0)) where M*2^(-31-n) = s_X/(s_Y*cnt):
 *                    the 1/cnt is folded by the exporter, so MULT requires zero padding (every window
 *                    has KH*KW elements; TQ_RT_ERR_ARG otherwise).
 *              out = clamp(z_Y + v, act_min, act_max).
 * global_avg_pool: in (N, HW, C) (any spatial layout flattened), out (N, C); as avg_pool2d with the whole
 *              plane as window (cnt = hw). S is accumulated in int32 (|S| <= hw * 65535 must fit).
 * ------------------------------------------------------------------------------------------------------ */
#define TQ_RT_DECL_POOL(op, xn, on)                                                                 \
  tq_rt_status tq_rt_##op##_##xn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in,                  \
                                        const tq_rt_conv_geom *g, int32_t in_zp,                    \
                                        const tq_rt_requant *rq);
#define TQ_RT_DECL_GPOOL(op, xn, on)                                                                \
  tq_rt_status tq_rt_##op##_##xn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in, int32_t n,       \
                                        int32_t hw, int32_t c, int32_t in_zp,                       \
                                        const tq_rt_requant *rq);
/* The PO2 average's one rounding, floor(S * 2^max(-n,0) / (cnt * 2^max(n,0)) + 1/2) for cnt >= 1 and
 * |S| < 2^33, saturated to int64; for host code that reproduces the pools (as tq_rt_requant_mult_s64). */
int64_t tq_rt_avg_po2_s64(int64_t s, int32_t cnt, int32_t n);
TQ_RT_IO_TYPES(TQ_RT_DECL_POOL, max_pool2d)       /* tq_rt_max_pool2d_s8_s8() ... */
TQ_RT_IO_TYPES(TQ_RT_DECL_POOL, avg_pool2d)       /* tq_rt_avg_pool2d_s8_s8() ... */
TQ_RT_IO_TYPES(TQ_RT_DECL_GPOOL, global_avg_pool) /* tq_rt_global_avg_pool_s8_s8() ... */

/* ------------------------------------------------------------------------------------------------------
 * Elementwise (count = number of elements; out may alias in when the types are equal)
 * requant:   out = clamp(z_Y + rq(x - z_X))  (rq per-tensor; re-scales a tensor, changes its type).
 * clamp:     out = min(max(x, lo), hi)        (standalone ReLU / ReLU6 when in/out share the scale).
 * add:       inputs a, b (same element count), each with its own zero point and scale:
 *   PO2:  acc = rshift_round(a - z_A, a_shift) + rshift_round(b - z_B, b_shift)   (a_shift, b_shift <= 0
 *         are exact left shifts to the finer common scale 2^e0: a_shift = e0 - e_A, ...),
 *         v = rshift_round(acc, out_shift) (2^-out_shift = 2^e0 / s_Y)
 *   MULT (TFLite add): acc = mult_rq((a - z_A) * 2^left_shift, a_mult, a_shift)
 *                          + mult_rq((b - z_B) * 2^left_shift, b_mult, b_shift),
 *         v = mult_rq(acc, out_mult, out_shift)  (mult_rq = tq_rt_requant_mult_s64; TFLite uses
 *         left_shift 20 for int8, 15 for int16)
 *   out = clamp(z_Y + v, act_min, act_max). Intermediates are int64.
 * mul_bcast (squeeze-excite): x (N, P, C), g (N, C): acc = (x[n,p,c] - z_X) * (g[n,c] - z_G),
 *   out[n,p,c] = clamp(z_Y + rq(acc)), rq per-tensor, 2^-n (or M*2^(-31-n)) = s_X*s_G/s_Y.
 * pad (ZeroPadding2D): in (N,H,W,C) -> out (N, H+pad_top+pad_bottom, W+pad_left+pad_right, C), the
 *   input copied to the interior, every padded position set to `value` (the zero point: real 0).
 *   Reads n, in_h/in_w/in_c, out_h/out_w/out_c and pad_* of g (out_c = in_c); out must not alias in.
 * ------------------------------------------------------------------------------------------------------ */
typedef struct {
  int32_t mode; /* TQ_RT_RQ_PO2 or TQ_RT_RQ_MULT */
  int32_t a_zp, b_zp, out_zp;
  int32_t a_mult, a_shift; /* MULT: multiplier and right shift of input a; PO2: a_shift only */
  int32_t b_mult, b_shift;
  int32_t out_mult, out_shift;
  int32_t left_shift; /* MULT only, in [0, 31] */
  int32_t act_min, act_max;
} tq_rt_add_params;

#define TQ_RT_DECL_REQUANT(op, xn, on)                                                              \
  tq_rt_status tq_rt_##op##_##xn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in, size_t count,    \
                                        int32_t in_zp, const tq_rt_requant *rq);
TQ_RT_IO_TYPES(TQ_RT_DECL_REQUANT, requant) /* tq_rt_requant_s8_s16() ... */

#define TQ_RT_DECL_ADD(op, an, bn, on)                                                              \
  tq_rt_status tq_rt_##op##_##an##_##bn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(an) *a,            \
                                               const TQ_RT_CT(bn) *b, size_t count,                 \
                                               const tq_rt_add_params *p);
#define TQ_RT_DECL_MULB(op, xn, gn, on)                                                             \
  tq_rt_status tq_rt_##op##_##xn##_##gn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *x,            \
                                               const TQ_RT_CT(gn) *g, int32_t n, int32_t p,         \
                                               int32_t c, int32_t x_zp, int32_t g_zp,               \
                                               const tq_rt_requant *rq);
TQ_RT_ABO_TYPES(TQ_RT_DECL_ADD, add)        /* tq_rt_add_<a>_<b>_<out>() */
TQ_RT_ABO_TYPES(TQ_RT_DECL_MULB, mul_bcast) /* tq_rt_mul_bcast_<x>_<g>_<out>() */

/* One type each (TQ_RT_ONE_TYPES): tq_rt_clamp_s8(), tq_rt_pad_s16(), tq_rt_argmax_s8() ...
 * argmax over the last axis of (n, c): idx[i] = the first index of the maximum (ties -> lowest). */
#define TQ_RT_DECL_CLAMP(op, tn)                                                                    \
  tq_rt_status tq_rt_##op##_##tn(TQ_RT_CT(tn) *out, const TQ_RT_CT(tn) *in, size_t count,           \
                                 int32_t lo, int32_t hi);
#define TQ_RT_DECL_PAD(op, tn)                                                                      \
  tq_rt_status tq_rt_##op##_##tn(TQ_RT_CT(tn) *out, const TQ_RT_CT(tn) *in,                         \
                                 const tq_rt_conv_geom *g, int32_t value);
#define TQ_RT_DECL_ARGMAX(op, tn)                                                                   \
  tq_rt_status tq_rt_##op##_##tn(int32_t *idx, const TQ_RT_CT(tn) *in, int32_t n, int32_t c);
TQ_RT_ONE_TYPES(TQ_RT_DECL_CLAMP, clamp)
TQ_RT_ONE_TYPES(TQ_RT_DECL_PAD, pad)
TQ_RT_ONE_TYPES(TQ_RT_DECL_ARGMAX, argmax)

/* ------------------------------------------------------------------------------------------------------
 * Lookup-table activations (sigmoid, swish, tanh, ... — any function; tables built on the host)
 * lut_s8:   out = lut[x + 128]   (256 entries, int8 in; output int8 or int16 codes).
 *           Built by tq_rt_lut_build_s8*: lut[i] = quantize(f(s_X * (i - 128 - z_X)))  so the only error
 *           vs float is the output rounding: <= s_Y / 2 (when f's range is inside the output range).
 * lut_s16:  int16 in, 257-entry int16 table with linear interpolation over a window of 256 segments of
 *           2^k codes starting at code x_min:
 *             u = clamp(x - x_min, 0, 256 * 2^k);  i = u >> k;  f = u - (i << k)
 *             y = (i == 256) ? t[256] : t[i] + rshift_round((t[i+1] - t[i]) * f, k)
 *           then out = clamp(y, out type range). Inputs below/above the window read t[0]/t[256]
 *           (saturated ends — pick the window so f is flat outside it, or cover the whole int16 range
 *           with x_min = -32768, k = 8). k in [0, 8] (the window must fit 17 bits: 256*2^k <= 65536).
 *           Error vs float <= s_Y/2 (table rounding) + s_Y/2 (interpolation rounding)
 *           + (h^2/8) * max|f''| with h = 2^k * s_X (linear interpolation).
 *           Measured (tests/test_runtime_act.c, s_Y = 2^-15): sigmoid, s_X = 2^-11, whole range, k = 8:
 *           max error 2.1e-4 (bound 2.2e-4); s_X = 2^-10 whole range k = 8: 7.6e-4, window [-16,16)
 *           (x_min = -16384, k = 7): 2.1e-4; swish s_X = s_Y = 2^-11, k = 8: 1.2e-3. int8 tables: max
 *           error = s_Y/2 (sigmoid s_X = 2^-4, s_Y = 2^-8: 1.94e-3).
 * ------------------------------------------------------------------------------------------------------ */
/* tq_rt_lut_s8_s8(), tq_rt_lut_s8_s16() (op lut_s8); tq_rt_lut_s16_s8(), tq_rt_lut_s16_s16() (lut_s16) */
#define TQ_RT_DECL_LUT8(op, on)                                                                     \
  tq_rt_status tq_rt_##op##_##on(TQ_RT_CT(on) *out, const int8_t *in, size_t count,                 \
                                 const TQ_RT_CT(on) *lut);
#define TQ_RT_DECL_LUT16(op, on)                                                                    \
  tq_rt_status tq_rt_##op##_##on(TQ_RT_CT(on) *out, const int16_t *in, size_t count,                \
                                 const int16_t *lut, int32_t x_min, int32_t k);
TQ_RT_ONE_TYPES(TQ_RT_DECL_LUT8, lut_s8)
TQ_RT_ONE_TYPES(TQ_RT_DECL_LUT16, lut_s16)

/* Host-side builders (tq_rt_lut_host.c, uses libm; not for the device). f is evaluated in double:
 *   code(x) = clamp(rha(f(s_X*(x - z_X)) / s_Y + z_Y - 1.526e-5), qmin, qmax)  (QKeras featuremap
 *   rounding, SPEC 1.2; rha = half away from zero)  — the table quantizes exactly as the activation
 *   quantizer that follows the function would.
 * lut_build_s16 fills t[i] = code(x_min + i * 2^k), i = 0..256 (code as double input, may exceed int16). */
double tq_rt_fn_sigmoid(double x);
double tq_rt_fn_swish(double x); /* x * sigmoid(x) */
double tq_rt_fn_tanh(double x);
tq_rt_status tq_rt_lut_build_s8(int8_t *lut, double (*f)(double), double in_scale, int32_t in_zp,
                                double out_scale, int32_t out_zp, int32_t qmin, int32_t qmax);
tq_rt_status tq_rt_lut_build_s8_s16(int16_t *lut, double (*f)(double), double in_scale,
                                    int32_t in_zp, double out_scale, int32_t out_zp, int32_t qmin,
                                    int32_t qmax);
tq_rt_status tq_rt_lut_build_s16(int16_t *lut, double (*f)(double), double in_scale, int32_t in_zp,
                                 double out_scale, int32_t out_zp, int32_t qmin, int32_t qmax,
                                 int32_t x_min, int32_t k);

/* ------------------------------------------------------------------------------------------------------
 * Quantize / dequantize (host API; float, no libm)
 * quantize (QKeras featuremap with a static scale, SPEC 1.2): x' = (|x| < 1e-7 ? 0 : x);
 *   u = x'/scale + zp - 1.526e-5 (float32 arithmetic, as the training forward); q = clamp(rha(u), qmin, qmax),
 *   rha(u) = sign(u)*floor(|u| + 0.5) (exactly: trunc and fraction in float, no double arithmetic);
 *   NaN -> zp. dequantize: x = scale * (q - zp) (float32).
 * ------------------------------------------------------------------------------------------------------ */
int32_t tq_rt_quantize_value(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax);
/* tq_rt_quantize_f32_s8(), tq_rt_quantize_f32_s16() (op quantize_f32); tq_rt_dequantize_s8_f32() ... */
#define TQ_RT_DECL_QUANT(op, tn)                                                                    \
  tq_rt_status tq_rt_##op##_##tn(TQ_RT_CT(tn) *out, const float *in, size_t count, float scale,     \
                                 int32_t zp, int32_t qmin, int32_t qmax);                           \
  tq_rt_status tq_rt_dequantize_##tn##_f32(float *out, const TQ_RT_CT(tn) *in, size_t count,        \
                                           float scale, int32_t zp);
TQ_RT_ONE_TYPES(TQ_RT_DECL_QUANT, quantize_f32)

#ifdef __cplusplus
}
#endif

#endif /* TQ_RT_H */
