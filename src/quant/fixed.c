/* The fixed-step quantizers (SPEC §1): quantized_bits with alpha None or a number, quantized_relu,
 * quantized_po2, binary and ternary with a fixed alpha. Their step follows from the arguments
 * alone; the data-dependent ones (auto, auto_po2, featuremap, binary/ternary auto) are in scale.c. */
/* FP exceptions are never used: let GCC vectorise floor() and if-convert the compares
 * (-fno-trapping-math changes no result). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <string.h>

#include "quant/quant_internal.h"

/* The step of alpha None (1) or alpha=<number>. */
static float fixed_alpha(const tq_quantizer *q) {
  return q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
}

/* clip(c, lo, hi) */
static inline float clip_f(float c, float lo, float hi) {
  c = c > hi ? hi : c;
  return c < lo ? lo : c;
}
static inline double clip_d(double c, double lo, double hi) {
  c = c > hi ? hi : c;
  return c < lo ? lo : c;
}

/* quantized_bits with alpha None / a number, and quantized_relu (lo = 0), deterministic
 * rounding. k = m / 2^integer scales the input to code units (a power of two: exact). */
static void fixed_rne_f(const float *in, float *out, int32_t *codes, size_t n, float k, float lo,
                        float hi, float step, float qn) {
  int exact = qn == 1.0f, par = n >= TQ_QPAR_MIN;
  if (codes) {
#pragma omp parallel for simd schedule(static) if (par)
    for (size_t i = 0; i < n; i++) codes[i] = (int32_t)clip_f(rintf(in[i] * k), lo, hi);
  }
  if (!out) return;
  if (exact) {
#pragma omp parallel for simd schedule(static) if (par)
    for (size_t i = 0; i < n; i++) out[i] = step * clip_f(rintf(in[i] * k), lo, hi) + 0.0f;
  } else {
#pragma omp parallel for simd schedule(static) if (par)
    for (size_t i = 0; i < n; i++)
      out[i] = tq_qmix(in[i], step * clip_f(rintf(in[i] * k), lo, hi), qn, 0);
  }
}

/* The same in double, for code ranges beyond 2^24 (bits - keep_negative > 24). */
static void fixed_rne_d(const float *in, float *out, int32_t *codes, size_t n, double k, double lo,
                        double hi, double step, float qn) {
  int exact = qn == 1.0f;
  for (size_t i = 0; i < n; i++) {
    double c = clip_d(nearbyint((double)in[i] * k), lo, hi);
    if (codes) codes[i] = (int32_t)c;
    if (out) out[i] = tq_qmix(in[i], (float)(step * c), qn, exact);
  }
}

/* Stochastic rounding (training): floor(p) + [u < frac(p)], u ~ U[0,1). */
static void fixed_stochastic(const float *in, float *out, size_t n, double k, double lo, double hi,
                             double step, float qn, tq_rng *rng) {
  int exact = qn == 1.0f;
  for (size_t i = 0; i < n; i++) {
    double p = (double)in[i] * k;
    double f = floor(p);
    double c = clip_d(f + ((double)tq_rng_uniform(rng) < p - f ? 1.0 : 0.0), lo, hi);
    out[i] = tq_qmix(in[i], (float)(step * c), qn, exact);
  }
}

tq_qfixed tq_bits_fixed_params(const tq_quantizer *q) {
  tq_qfixed f;
  int kn = q->keep_negative;
  double m = exp2(q->bits - kn), mi = exp2(q->integer);
  double alpha = q->alpha_mode == TQ_ALPHA_VALUE ? (double)q->alpha : 1.0;
  f.k = m / mi;
  f.lo = kn * (-m + q->symmetric);
  f.hi = m - 1;
  f.step = (float)(alpha * mi / m);
  return f;
}

tq_qfixed tq_quant_relu_params(const tq_quantizer *q) {
  tq_qfixed f;
  double m = exp2(q->bits), mi = exp2(q->integer);
  f.k = m / mi;
  f.lo = 0;
  f.hi = m - 1;
  f.step = (float)(mi / m);
  return f;
}

void tq_run_fixed(const tq_qfixed *f, int wide, const float *in, float *out, int32_t *codes,
                  size_t n, float qn, int stochastic, tq_rng *rng) {
  if (stochastic && out)
    fixed_stochastic(in, out, n, f->k, f->lo, f->hi, f->step, qn, rng);
  else if (wide)
    fixed_rne_d(in, out, codes, n, f->k, f->lo, f->hi, f->step, qn);
  else
    fixed_rne_f(in, out, codes, n, (float)f->k, (float)f->lo, (float)f->hi, f->step, qn);
}

/* quantized_bits with bits=1, keep_negative: ±alpha, sign(0) = +1. */
static void bits_sign(const tq_quantizer *q, const float *in, float *out, int32_t *codes,
                      size_t n) {
  float a = fixed_alpha(q);
  int exact = q->qnoise_factor == 1.0f;
  for (size_t i = 0; i < n; i++) {
    float s = in[i] >= 0.0f ? 1.0f : -1.0f;
    if (codes) codes[i] = (int32_t)s;
    if (out) out[i] = tq_qmix(in[i], a * s, q->qnoise_factor, exact);
  }
}

/* quantized_relu: the unquantized branch of the qnoise mix is the clipped relu x_u. */
void tq_quant_relu_forward(const tq_quantizer *q, const float *in, float *out, size_t n,
                           int stochastic, tq_rng *rng) {
  tq_qfixed f = tq_quant_relu_params(q);
  float qn = q->qnoise_factor;
  if (qn == 1.0f) {
    tq_run_fixed(&f, q->bits > 24, in, out, NULL, n, 1.0f, stochastic, rng);
    return;
  }
  float top = (float)(exp2(q->integer) - (double)f.step);
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    float xu = x <= top ? (x > 0.0f ? x : 0.0f) : top;
    float xq;
    tq_run_fixed(&f, q->bits > 24, &x, &xq, NULL, 1, 1.0f, stochastic, rng);
    out[i] = tq_qmix(xu, xq, qn, 0);
  }
}

/* quantized_po2: sign kept, exponent rne(log2|x|) clipped, zero -> +2^emin. */
static void po2_forward(const tq_quantizer *q, const float *in, float *out, size_t n) {
  int need_sign = !(q->has_max_value && q->max_value >= 0.0f && q->max_value <= 1.0f);
  double eb = exp2(q->bits - 1 - need_sign);
  const float qn = q->qnoise_factor;
  const int exact = qn == 1.0f;
  if (eb <= 126) {
    /* Exponents inside float32's normal range: read log2 off the bits. For a = f 2^E with
     * f in [1, 2), rne(log2 a) = E + [f >= sqrt 2] (no ties: sqrt 2 is irrational), and
     * f >= sqrt 2 iff its mantissa field >= 0x3504F4, the first float above sqrt 2. */
    const int emin = -(int)eb, emax = (int)eb - 1;
    const float mv = q->has_max_value ? q->max_value : INFINITY;
    const float tiny = ldexpf(1.0f, emin);
#pragma omp parallel for simd schedule(static) if (n >= TQ_QPAR_MIN)
    for (size_t i = 0; i < n; i++) {
      float x = in[i], a = fabsf(x);
      a = a >= mv ? mv : a;
      uint32_t b;
      memcpy(&b, &a, sizeof b);
      int e = (int)(b >> 23) - 127 + ((b & 0x7fffffu) >= 0x3504f4u ? 1 : 0);
      e = e < emin ? emin : (e > emax ? emax : e);
      uint32_t r = ((uint32_t)(e + 127) << 23) | (x < 0.0f ? 0x80000000u : 0u);
      float xq;
      memcpy(&xq, &r, sizeof xq);
      xq = fabsf(x) < (float)TQ_QEPS ? tiny : xq;
      xq = x != x ? x : xq;
      out[i] = tq_qmix(x, xq, qn, exact);
    }
    return;
  }
  double emin = -eb, emax = eb - 1;
  float tiny = (float)exp2(emin);
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    float a = fabsf(x);
    float xq;
    if (a < (float)TQ_QEPS) {
      xq = tiny;
    } else {
      if (q->has_max_value && a >= q->max_value) a = q->max_value;
      double e = nearbyint(log2((double)a));
      e = e < emin ? emin : (e > emax ? emax : e);
      xq = (float)exp2(e);
      if (x < 0.0f) xq = -xq;
    }
    if (x != x) xq = x;
    out[i] = tq_qmix(x, xq, qn, exact);
  }
}

/* binary with alpha None / a number: sign with sign(0) = +1 (or {0,1}), times alpha. */
static void binary_fixed(const tq_quantizer *q, const float *in, float *out, int32_t *codes,
                         size_t n) {
  float a = fixed_alpha(q);
  float neg = q->use_01 ? 0.0f : -1.0f;
  for (size_t i = 0; i < n; i++) {
    float s = in[i] >= 0.0f ? 1.0f : neg;
    if (codes) codes[i] = (int32_t)s;
    if (out) out[i] = a * s + 0.0f;
  }
}

/* ternary with alpha None / a number: alpha * sign(x) * [|x| >= threshold] (default 0.33). */
static void ternary_fixed(const tq_quantizer *q, const float *in, float *out, int32_t *codes,
                          size_t n) {
  float a = fixed_alpha(q);
  float t = q->has_threshold ? q->threshold : 0.33f;
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    float s = fabsf(x) >= t ? (x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f)) : 0.0f;
    if (codes) codes[i] = (int32_t)s;
    if (out) out[i] = a * s + 0.0f;
  }
}

/* ---- the kinds' forward and codes (the table in kinds.c) ------------------------------------- */

tq_status tq_quant_bits_fixed(const tq_qrun *r) {
  const tq_quantizer *q = r->q;
  if (q->bits - q->keep_negative == 0) {
    bits_sign(q, r->in, r->out, r->codes, r->n);
    if (r->steps) r->steps[0] = fixed_alpha(q);
    return TQ_OK;
  }
  tq_qfixed f = tq_bits_fixed_params(q);
  tq_run_fixed(&f, q->bits - q->keep_negative > 24, r->in, r->out, r->codes, r->n, q->qnoise_factor,
               r->stochastic, r->rng);
  if (r->steps) r->steps[0] = f.step;
  return TQ_OK;
}

tq_status tq_quant_relu(const tq_qrun *r) {
  const tq_quantizer *q = r->q;
  tq_qfixed f = tq_quant_relu_params(q);
  if (r->out) tq_quant_relu_forward(q, r->in, r->out, r->n, r->stochastic, r->rng);
  if (r->codes) tq_run_fixed(&f, q->bits > 24, r->in, NULL, r->codes, r->n, 1.0f, 0, NULL);
  if (r->steps) r->steps[0] = f.step;
  return TQ_OK;
}

tq_status tq_quant_po2(const tq_qrun *r) {
  if (r->out) po2_forward(r->q, r->in, r->out, r->n);
  if (r->steps) r->steps[0] = 1.0f;
  return TQ_OK;
}

tq_status tq_quant_binary_fixed(const tq_qrun *r) {
  binary_fixed(r->q, r->in, r->out, r->codes, r->n);
  if (r->steps) r->steps[0] = fixed_alpha(r->q);
  return TQ_OK;
}

tq_status tq_quant_ternary_fixed(const tq_qrun *r) {
  ternary_fixed(r->q, r->in, r->out, r->codes, r->n);
  if (r->steps) r->steps[0] = fixed_alpha(r->q);
  return TQ_OK;
}
