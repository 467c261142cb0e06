/* Private helpers shared by the files of src/quant. */
#ifndef TINYQ_QUANT_INTERNAL_H
#define TINYQ_QUANT_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tinyq/quant.h"

/* The tensor seen as (outer, groups, inner): group g owns the `outer` contiguous segments
 * x[(o*groups + g)*inner .. +inner). Rank 1 is one group (outer = 1, inner = n). */
typedef struct {
  size_t outer, groups, inner, n;
} tq_qlayout;

/* keep_axis < 0: the last axis (rank >= 2); rank 1 always gives one group. */
tq_status tq_qlayout_init(tq_qlayout *L, const int *dims, int rank, int keep_axis);

/* TQ_ARG_* bits that are parameters of `kind` (the fields equality and printing look at). */
unsigned tq_qrelevant(tq_qkind kind);
/* Equality of the field behind one TQ_ARG_* bit. */
int tq_qfield_equal(const tq_quantizer *a, const tq_quantizer *b, unsigned bit);

/* Per-group reductions (arrays of L->groups floats, overwritten; exact, so any order). */
void tq_group_absmax(const tq_qlayout *L, const float *x, float *amax);
/* min and max over the group after flushing |x| < flush to 0 (flush 0: no flushing). */
void tq_group_minmax(const tq_qlayout *L, const float *x, float flush, float *lo, float *hi);

/* Elements below which a pass stays on one thread (OpenMP is used only for passes whose result
 * does not depend on the order: elementwise work and min/max). */
#define TQ_QPAR_MIN 32768

/* quantized_bits auto / auto_po2 (SPEC §1.1): fills steps (L->groups floats, or n for rank-1
 * auto_po2 when per_element) and writes out/codes. Implemented in scale.c. */
tq_status tq_quant_bits_auto(const tq_quantizer *q, float *out, int32_t *codes, float *steps,
                             const float *in, const int *dims, int rank);
/* quantized_bits_featuremap (SPEC §1.2), dynamic per-group scale and zero point. */
tq_status tq_quant_featuremap(const tq_quantizer *q, float *out, int32_t *codes, float *steps,
                              int32_t *zps, const float *in, const int *dims, int rank);
/* binary / ternary with alpha 'auto'/'auto_po2' (per output channel). */
tq_status tq_quant_binary_auto(const tq_quantizer *q, float *out, int32_t *codes, float *steps,
                               const float *in, const int *dims, int rank);
tq_status tq_quant_ternary_auto(const tq_quantizer *q, float *out, int32_t *codes, float *steps,
                                const float *in, const int *dims, int rank);

/* out = (1-q) x + q xq, with q == 1 giving xq exactly; -0 is normalised to +0. */
static inline float tq_qmix(float x, float xq, float qn, int exact) {
  return exact ? xq + 0.0f : (1.0f - qn) * x + qn * xq + 0.0f;
}

/* An integer-valued double as int32, saturated (a featuremap zero point can be huge when the
 * range max - min is tiny; converting it unsaturated would be undefined). */
static inline int32_t tq_qsat32(double v) {
  return v >= 2147483647.0 ? INT32_MAX : (v <= -2147483648.0 ? INT32_MIN : (int32_t)v);
}

#define TQ_QEPS 1e-7 /* K.epsilon() */
#define TQ_FM_FLUSH 1e-7f
#define TQ_FM_BIAS 1.526e-5

/* ---- element codes, shared by the dynamic (scale.c) and static (quantizer.c) paths ---- */

/* po2(v - eps) for v = s + eps > 0 finite: 2^rne(log2 v) from the bits of v: with v = f 2^E,
 * f in [1, 2), the exponent rounds up iff f >= sqrt(2), i.e. iff the mantissa field is at least
 * that of M_SQRT2 (the first double above sqrt 2; no ties, sqrt 2 being irrational). Vectorisable;
 * tq_po2() (quantizer.c) handles the other cases. */
static inline double tq_po2_pos(double v) {
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  int64_t e = (int64_t)(b >> 52) - 1023 + ((b & 0xfffffffffffffull) >= 0x6a09e667f3bcdull ? 1 : 0);
  uint64_t r = (uint64_t)(e + 1023) << 52;
  double out;
  memcpy(&out, &r, sizeof out);
  return out;
}

/* Exact float roundings. */

/* floor(v + 0.5) for v >= 0, exactly. */
static inline float rha_pos(float v) {
  float t = truncf(v);
  return v - t >= 0.5f ? t + 1.0f : t;
}
/* sign(u) floor(|u| + 0.5), exactly. */
static inline float rha_f(float u) { return copysignf(rha_pos(fabsf(u)), u); }

/* z = sign(y) min(rha(|y| / s), H) in double, for codes wider than 24 bits. */
static inline double auto_code_d(float xv, double inv_mi, double H, double div, int po2) {
  double y = (double)xv * inv_mi;
  double v = po2 ? fabs(y) * div : fabs(y) / div;
  double z = floor(v + 0.5);
  z = z < H ? z : H;
  return y < 0 ? -z : z;
}

/* The same in float (H < 2^23). div: 1/s (po2, exact) or s ('auto'; inf for an all-zero group). */
static inline float auto_code_f(float xv, float inv_mi, float H, float div, int po2) {
  float y = xv * inv_mi;
  float v = po2 ? fabsf(y) * div : fabsf(y) / div;
  float z = rha_pos(v);
  z = z < H ? z : H;
  return copysignf(z, y);
}

static inline float fm_flush(float x) { return fabsf(x) < TQ_FM_FLUSH ? 0.0f : x; }

/* z = clip(rha(x/s + zp - 1.526e-5), aq, bq), float32 like QKeras. An all-zero group under
 * 'auto' (s = 0) divides by 1 instead: its x are all 0, so z = rha(zp - eps) = zp = 0.
 * fm_code_fm takes 1/s for a power-of-two s (x * (1/s) == x / s exactly). */
static inline float fm_code_f(float x, float sdiv, float zp, float aq, float bq) {
  float u = (x / sdiv + zp) - (float)TQ_FM_BIAS;
  float z = rha_f(u);
  return z < aq ? aq : (z > bq ? bq : z);
}
static inline float fm_code_fm(float x, float sinv, float zp, float aq, float bq) {
  float u = (x * sinv + zp) - (float)TQ_FM_BIAS;
  float z = rha_f(u);
  return z < aq ? aq : (z > bq ? bq : z);
}

/* The same in double for codes wider than 24 bits. */
static inline double fm_code_d(float x, float sdiv, double zp, double aq, double bq) {
  double u = (double)(x / sdiv) + zp - TQ_FM_BIAS;
  double a = floor(fabs(u) + 0.5);
  double z = u < 0 ? -a : a;
  return z < aq ? aq : (z > bq ? bq : z);
}


#endif
