/* Private helpers shared by the files of src/quant. */
#ifndef TINYQ_QUANT_INTERNAL_H
#define TINYQ_QUANT_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tinyq/quant.h"

/* ---- shared maths (qmath.c) ------------------------------------------------------------------ */

/* The tensor seen as (outer, groups, inner): group g owns the `outer` contiguous segments
 * x[(o*groups + g)*inner .. +inner). Rank 1 is one group (outer = 1, inner = n). */
typedef struct {
  size_t outer, groups, inner, n;
} tq_qlayout;

/* keep_axis < 0: the last axis (rank >= 2); rank 1 always gives one group. */
tq_status tq_qlayout_init(tq_qlayout *L, const int *dims, int rank, int keep_axis);

/* ---- one quantization run: forward (out) and/or integer codes (codes) ------------------------ */

typedef struct {
  const tq_quantizer *q;
  const float *in;
  const int *dims;
  int rank;
  size_t n;             /* elements of in */
  float *out;           /* fake-quantized values (may be in), or NULL */
  int32_t *codes;       /* integer codes, or NULL */
  float *steps;         /* the step of each scale group, or NULL */
  int32_t *zero_points; /* featuremap: the zero point of each group, or NULL */
  int stochastic;       /* round stochastically (training, and the kind supports it) */
  tq_rng *rng;
  float *range;         /* or NULL: the raw min and max of in, set by a kind that finds them anyway */
} tq_qrun;

/* Data-dependent scales (scale.c). quantized_bits auto / auto_po2 (SPEC §1.1): steps has
 * L->groups entries, or n for rank-1 auto_po2. */
tq_status tq_quant_bits_auto(const tq_qrun *r);
/* quantized_bits_featuremap (SPEC §1.2): dynamic per-group scale and zero point. */
tq_status tq_quant_featuremap(const tq_qrun *r);
/* binary / ternary with alpha 'auto'/'auto_po2' (per output channel). */
tq_status tq_quant_binary_auto(const tq_qrun *r);
tq_status tq_quant_ternary_auto(const tq_qrun *r);

/* Per-group reductions (arrays of L->groups floats, overwritten; exact, so any order). */
void tq_group_absmax(const tq_qlayout *L, const float *x, float *amax);
/* min and max over the group after flushing |x| < flush to 0 (flush 0: no flushing). */
void tq_group_minmax(const tq_qlayout *L, const float *x, float flush, float *lo, float *hi);

/* Elements below which a pass stays on one thread (OpenMP is used only for passes whose result
 * does not depend on the order: elementwise work and min/max). */
#define TQ_QPAR_MIN 32768

/* Fixed steps (fixed.c): quantized_bits with alpha None or a number, quantized_relu,
 * quantized_po2, binary and ternary with alpha None or a number. */
tq_status tq_quant_bits_fixed(const tq_qrun *r);
tq_status tq_quant_relu(const tq_qrun *r);
tq_status tq_quant_po2(const tq_qrun *r);
tq_status tq_quant_binary_fixed(const tq_qrun *r);
tq_status tq_quant_ternary_fixed(const tq_qrun *r);

/* code = clip(round(x * k), lo, hi), xq = step * code: quantized_bits fixed and quantized_relu. */
typedef struct {
  double k, lo, hi;
  float step;
} tq_qfixed;
tq_qfixed tq_bits_fixed_params(const tq_quantizer *q);
tq_qfixed tq_quant_relu_params(const tq_quantizer *q);
/* wide: in double (code ranges beyond 2^24); stochastic (needs rng) applies to out only. */
void tq_run_fixed(const tq_qfixed *f, int wide, const float *in, float *out, int32_t *codes,
                  size_t n, float qn, int stochastic, tq_rng *rng);
/* quantized_relu's forward: the qnoise mix takes the clipped relu as the unquantized branch. */
void tq_quant_relu_forward(const tq_quantizer *q, const float *in, float *out, size_t n,
                           int stochastic, tq_rng *rng);

/* Static (deployment) forms (static.c). */
tq_status tq_bits_static_params(const tq_quantizer *q, float lo, float hi, tq_range_mode mode,
                                tq_qstatic *p);
tq_status tq_relu_static_params(const tq_quantizer *q, float lo, float hi, tq_range_mode mode,
                                tq_qstatic *p);
tq_status tq_featuremap_static_params(const tq_quantizer *q, float lo, float hi,
                                      tq_range_mode mode, tq_qstatic *p);
tq_status tq_bits_static(const tq_quantizer *q, const tq_qstatic *p, float *out, int32_t *codes,
                         const float *in, size_t n);
tq_status tq_relu_static(const tq_quantizer *q, const tq_qstatic *p, float *out, int32_t *codes,
                         const float *in, size_t n);
tq_status tq_featuremap_static(const tq_quantizer *q, const tq_qstatic *p, float *out,
                               int32_t *codes, const float *in, size_t n);

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

/* ---- element codes, shared by the dynamic (scale.c) and static (static.c) paths -------------- */

/* po2(v - eps) for v = s + eps > 0 finite: 2^rne(log2 v) from the bits of v: with v = f 2^E,
 * f in [1, 2), the exponent rounds up iff f >= sqrt(2), i.e. iff the mantissa field is at least
 * that of M_SQRT2 (the first double above sqrt 2; no ties, sqrt 2 being irrational). Vectorisable;
 * tq_po2() (qmath.c) handles the other cases. */
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
