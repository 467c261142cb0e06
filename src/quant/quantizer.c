/* Quantizer math (SPEC §1): defaults, validation, the fixed-step quantizers (quantized_bits with
 * alpha None or a number, quantized_relu, quantized_po2, binary/ternary with a fixed alpha), the
 * forward dispatcher, the straight-through backward, integer codes and static parameters.
 * The data-dependent scales (auto, auto_po2, featuremap, binary/ternary auto) are in scale.c. */
/* FP exceptions are never used: let GCC vectorise floor() and if-convert the compares
 * (-fno-trapping-math changes no result). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <string.h>

#include "quant/quant_internal.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* po2(s) = 2^rne(log2(s + eps)), exactly: with s + eps = f 2^e, f in [0.5, 1), log2 = e - 1 +
 * log2(2f) and log2(2f) in [0, 1) rounds up iff 2f >= sqrt(2). sqrt(2) is irrational, so there are
 * no ties, and M_SQRT2 (the double just above sqrt(2)) decides the comparison exactly. */
double tq_po2(double s) {
  double v = s + TQ_QEPS;
  /* v >= 2^-1022 keeps the result 2^e inside the normal range of tq_po2_pos */
  if (!(v >= 2.2250738585072014e-308) || !isfinite(v)) return exp2(nearbyint(log2(v)));
  return tq_po2_pos(v);
}

double tq_rha(double v) {
  double a = floor(fabs(v) + 0.5);
  /* |v| + 0.5 is exact for |v| < 2^52; beyond that v is already an integer. */
  if (fabs(v) >= 4503599627370496.0) a = fabs(v);
  return v < 0 ? -a : a;
}

const char *tq_quantizer_name(tq_qkind kind) {
  switch (kind) {
    case TQ_Q_NONE: return "None";
    case TQ_Q_BITS: return "quantized_bits";
    case TQ_Q_BITS_FEATUREMAP: return "quantized_bits_featuremap";
    case TQ_Q_RELU: return "quantized_relu";
    case TQ_Q_PO2: return "quantized_po2";
    case TQ_Q_BINARY: return "binary";
    case TQ_Q_TERNARY: return "ternary";
  }
  return "?";
}

void tq_quantizer_init(tq_quantizer *q, tq_qkind kind) {
  memset(q, 0, sizeof *q);
  q->kind = kind;
  q->bits = 8;
  q->integer = 0;
  q->symmetric = 0;
  q->keep_negative = 1;
  q->alpha_mode = TQ_ALPHA_NONE;
  q->alpha = 0.0f;
  q->scale_axis = -1;
  q->qnoise_factor = 1.0f;
  q->use_ste = 1;
  q->number_of_unrolls = 5;
  switch (kind) {
    case TQ_Q_NONE: q->bits = 32; break;
    case TQ_Q_BITS_FEATUREMAP:
      q->alpha_mode = TQ_ALPHA_AUTO;
      q->scale_axis = 0;
      break;
    case TQ_Q_BINARY: q->bits = 1; break;
    case TQ_Q_TERNARY: q->bits = 2; break;
    default: break;
  }
}

static int is01(int v) { return v == 0 || v == 1; }

#define BAD(...) tq_fail(TQ_ERR_ARG, __VA_ARGS__)

tq_status tq_quantizer_validate(const tq_quantizer *q) {
  const char *nm = tq_quantizer_name(q->kind);
  if ((unsigned)q->kind > (unsigned)TQ_Q_TERNARY) return BAD("unknown quantizer kind %d", q->kind);
  if (q->kind == TQ_Q_NONE) return TQ_OK;
  if ((unsigned)q->alpha_mode > (unsigned)TQ_ALPHA_AUTO_PO2)
    return BAD("%s: unknown alpha mode %d", nm, q->alpha_mode);
  /* alpha is the scale of a step: a negative one flips every sign, zero erases everything */
  if (q->alpha_mode == TQ_ALPHA_VALUE && !(isfinite(q->alpha) && q->alpha > 0.0f))
    return BAD("%s: alpha must be a positive finite number, got %g", nm, (double)q->alpha);
  if (!(q->qnoise_factor >= 0.0f && q->qnoise_factor <= 1.0f))
    return BAD("%s: qnoise_factor must be between 0 and 1, got %g", nm, (double)q->qnoise_factor);
  if (!is01(q->use_ste) || !is01(q->stochastic) || !is01(q->symmetric) ||
      !is01(q->keep_negative) || !is01(q->use_01))
    return BAD("%s: boolean arguments must be 0 or 1", nm);
  if (q->scale_axis < -1) return BAD("%s: scale_axis must be None or >= 0, got %d", nm, q->scale_axis);
  int auto_mode = q->alpha_mode == TQ_ALPHA_AUTO || q->alpha_mode == TQ_ALPHA_AUTO_PO2;
  switch (q->kind) {
    case TQ_Q_BITS:
    case TQ_Q_BITS_FEATUREMAP:
    case TQ_Q_RELU: {
      int maxb = 32;
      if (q->kind == TQ_Q_RELU || (q->kind == TQ_Q_BITS && !q->keep_negative && !auto_mode)) maxb = 31;
      int minb = (q->kind == TQ_Q_BITS_FEATUREMAP || (q->kind == TQ_Q_BITS && auto_mode)) ? 2 : 1;
      if (q->bits < minb || q->bits > maxb)
        return BAD("%s: bits must be between %d and %d%s, got %d", nm, minb, maxb,
                   minb == 2 ? (q->kind == TQ_Q_BITS ? " with alpha 'auto'/'auto_po2'" : "")
                             : (maxb == 31 && q->kind == TQ_Q_BITS ? " with keep_negative=0" : ""),
                   q->bits);
      if (q->integer < -64 || q->integer > 64)
        return BAD("%s: integer must be between -64 and 64, got %d", nm, q->integer);
      if (q->kind == TQ_Q_BITS_FEATUREMAP && !auto_mode)
        return BAD("%s: alpha must be 'auto' or 'auto_po2'", nm);
      if (q->kind == TQ_Q_RELU && q->alpha_mode != TQ_ALPHA_NONE)
        return BAD("%s: takes no alpha", nm);
      break;
    }
    case TQ_Q_PO2:
      if (q->bits < 2 || q->bits > 16) return BAD("%s: bits must be between 2 and 16, got %d", nm, q->bits);
      if (q->has_max_value && !(q->max_value >= 0.0f && isfinite(q->max_value)))
        return BAD("%s: max_value must be None or a non-negative number", nm);
      if (q->stochastic) return BAD("%s: use_stochastic_rounding is not supported", nm);
      if (q->alpha_mode != TQ_ALPHA_NONE) return BAD("%s: takes no alpha", nm);
      break;
    case TQ_Q_BINARY:
      if (q->bits != 1) return BAD("%s: bits is always 1", nm);
      if (q->stochastic) return BAD("%s: use_stochastic_rounding is not supported", nm);
      break;
    case TQ_Q_TERNARY:
      if (q->bits != 2) return BAD("%s: bits is always 2", nm);
      if (q->stochastic) return BAD("%s: use_stochastic_rounding is not supported", nm);
      if (q->has_threshold && auto_mode)
        return BAD("%s: threshold must be None with alpha 'auto'/'auto_po2'", nm);
      if (q->has_threshold && !isfinite(q->threshold))
        return BAD("%s: threshold must be a finite number", nm);
      if (q->number_of_unrolls < 1 || q->number_of_unrolls > 100)
        return BAD("%s: number_of_unrolls must be between 1 and 100, got %d", nm,
                   q->number_of_unrolls);
      break;
    default: break;
  }
  return TQ_OK;
}

int tq_quantizer_bits(const tq_quantizer *q) {
  switch (q->kind) {
    case TQ_Q_NONE: return 32;
    case TQ_Q_BINARY: return 1;
    case TQ_Q_TERNARY: return 2;
    default: return q->bits;
  }
}

static int feq(float a, float b) { return a == b || (a != a && b != b); }

unsigned tq_qrelevant(tq_qkind kind) {
  const unsigned common = TQ_ARG_QNOISE | TQ_ARG_USE_STE;
  switch (kind) {
    case TQ_Q_BITS:
    case TQ_Q_BITS_FEATUREMAP:
      return TQ_ARG_BITS | TQ_ARG_INTEGER | TQ_ARG_SYMMETRIC | TQ_ARG_KEEP_NEGATIVE | TQ_ARG_ALPHA |
             TQ_ARG_STOCHASTIC | TQ_ARG_SCALE_AXIS | common;
    case TQ_Q_RELU: return TQ_ARG_BITS | TQ_ARG_INTEGER | TQ_ARG_STOCHASTIC | common;
    case TQ_Q_PO2: return TQ_ARG_BITS | TQ_ARG_MAX_VALUE | common;
    case TQ_Q_BINARY: return TQ_ARG_USE_01 | TQ_ARG_ALPHA;
    case TQ_Q_TERNARY: return TQ_ARG_ALPHA | TQ_ARG_THRESHOLD | TQ_ARG_UNROLLS;
    default: return 0;
  }
}

int tq_qfield_equal(const tq_quantizer *a, const tq_quantizer *b, unsigned bit) {
  switch (bit) {
    case TQ_ARG_BITS: return a->bits == b->bits;
    case TQ_ARG_INTEGER: return a->integer == b->integer;
    case TQ_ARG_SYMMETRIC: return a->symmetric == b->symmetric;
    case TQ_ARG_KEEP_NEGATIVE: return a->keep_negative == b->keep_negative;
    case TQ_ARG_ALPHA:
      return a->alpha_mode == b->alpha_mode &&
             (a->alpha_mode != TQ_ALPHA_VALUE || feq(a->alpha, b->alpha));
    case TQ_ARG_STOCHASTIC: return a->stochastic == b->stochastic;
    case TQ_ARG_SCALE_AXIS: return a->scale_axis == b->scale_axis;
    case TQ_ARG_QNOISE: return feq(a->qnoise_factor, b->qnoise_factor);
    case TQ_ARG_USE_STE: return a->use_ste == b->use_ste;
    case TQ_ARG_MAX_VALUE:
      return a->has_max_value == b->has_max_value &&
             (!a->has_max_value || feq(a->max_value, b->max_value));
    case TQ_ARG_USE_01: return a->use_01 == b->use_01;
    case TQ_ARG_THRESHOLD:
      return a->has_threshold == b->has_threshold &&
             (!a->has_threshold || feq(a->threshold, b->threshold));
    case TQ_ARG_UNROLLS: return a->number_of_unrolls == b->number_of_unrolls;
    default: return 1;
  }
}

int tq_quantizer_equal(const tq_quantizer *a, const tq_quantizer *b) {
  if (a->kind != b->kind) return 0;
  unsigned rel = tq_qrelevant(a->kind);
  for (unsigned bit = 1; bit && bit <= TQ_ARG_UNROLLS; bit <<= 1)
    if ((rel & bit) && !tq_qfield_equal(a, b, bit)) return 0;
  return 1;
}

void tq_quantizer_as_kernel(tq_quantizer *q) {
  if (q->alpha_mode != TQ_ALPHA_NONE) return;
  if (q->kind == TQ_Q_BITS) {
    if (q->bits < 2) return;
    q->alpha_mode = TQ_ALPHA_AUTO_PO2;
    q->symmetric = 1;
    if (q->given) { /* print "(4,0)" as "(4,0,1,alpha='auto_po2')" */
      if (q->npositional == 2 && !(q->given & TQ_ARG_SYMMETRIC)) q->npositional = 3;
      q->given |= TQ_ARG_ALPHA | TQ_ARG_SYMMETRIC;
    }
  } else if (q->kind == TQ_Q_BINARY || q->kind == TQ_Q_TERNARY) {
    q->alpha_mode = TQ_ALPHA_AUTO_PO2;
    q->given |= TQ_ARG_ALPHA;
  }
}

float tq_quantizer_qkeras_scale(const tq_quantizer *q, float step) {
  if (q->kind == TQ_Q_BITS &&
      (q->alpha_mode == TQ_ALPHA_AUTO || q->alpha_mode == TQ_ALPHA_AUTO_PO2))
    return (float)((double)step * exp2(q->bits - q->keep_negative) / exp2(q->integer));
  return step;
}

/* ---- layout -------------------------------------------------------------------------------- */

tq_status tq_qlayout_init(tq_qlayout *L, const int *dims, int rank, int keep_axis) {
  if (rank < 1 || !dims) return tq_fail(TQ_ERR_ARG, "quantizer input must have rank >= 1");
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 1) return tq_fail(TQ_ERR_ARG, "quantizer input dimension %d is %d", i, dims[i]);
    n *= (size_t)dims[i];
  }
  L->n = n;
  if (rank == 1) {
    L->outer = 1, L->groups = 1, L->inner = n;
    return TQ_OK;
  }
  int k = keep_axis < 0 ? rank - 1 : keep_axis;
  if (k >= rank)
    return tq_fail(TQ_ERR_ARG, "scale_axis=%d is out of range for a rank-%d tensor", keep_axis, rank);
  size_t outer = 1, inner = 1;
  for (int i = 0; i < k; i++) outer *= (size_t)dims[i];
  for (int i = k + 1; i < rank; i++) inner *= (size_t)dims[i];
  L->outer = outer, L->groups = (size_t)dims[k], L->inner = inner;
  return TQ_OK;
}

static int is_auto(const tq_quantizer *q) {
  return q->alpha_mode == TQ_ALPHA_AUTO || q->alpha_mode == TQ_ALPHA_AUTO_PO2;
}

size_t tq_quantizer_num_scales(const tq_quantizer *q, const int *dims, int rank) {
  tq_qlayout L;
  switch (q->kind) {
    case TQ_Q_NONE: return 0;
    case TQ_Q_BITS:
      if (!is_auto(q)) return 1;
      if (tq_qlayout_init(&L, dims, rank, q->scale_axis) != TQ_OK) return 0;
      if (rank == 1) return q->alpha_mode == TQ_ALPHA_AUTO_PO2 ? L.n : 1;
      return L.groups;
    case TQ_Q_BITS_FEATUREMAP:
      if (tq_qlayout_init(&L, dims, rank, q->scale_axis) != TQ_OK) return 0;
      return L.groups;
    case TQ_Q_BINARY:
    case TQ_Q_TERNARY:
      if (!is_auto(q)) return 1;
      if (tq_qlayout_init(&L, dims, rank, -1) != TQ_OK) return 0;
      return L.groups;
    default: return 1;
  }
}

/* ---- fixed-step quantizers ------------------------------------------------------------------- */

/* quantized_bits with alpha None / a number, and quantized_relu (lo = 0), deterministic
 * rounding. k = m / 2^integer scales the input to code units (a power of two: exact). */
static void fixed_rne_f(const float *in, float *out, int32_t *codes, size_t n, float k, float lo,
                        float hi, float step, float qn) {
  int exact = qn == 1.0f, par = n >= TQ_QPAR_MIN;
  if (codes) {
#pragma omp parallel for simd schedule(static) if (par)
    for (size_t i = 0; i < n; i++) {
      float c = rintf(in[i] * k);
      c = c > hi ? hi : c;
      c = c < lo ? lo : c;
      codes[i] = (int32_t)c;
    }
  }
  if (!out) return;
  if (exact) {
#pragma omp parallel for simd schedule(static) if (par)
    for (size_t i = 0; i < n; i++) {
      float c = rintf(in[i] * k);
      c = c > hi ? hi : c;
      c = c < lo ? lo : c;
      out[i] = step * c + 0.0f;
    }
  } else {
#pragma omp parallel for simd schedule(static) if (par)
    for (size_t i = 0; i < n; i++) {
      float x = in[i];
      float c = rintf(x * k);
      c = c > hi ? hi : c;
      c = c < lo ? lo : c;
      out[i] = tq_qmix(x, step * c, qn, 0);
    }
  }
}

/* The same in double, for code ranges beyond 2^24 (bits - keep_negative > 24). */
static void fixed_rne_d(const float *in, float *out, int32_t *codes, size_t n, double k, double lo,
                        double hi, double step, float qn) {
  int exact = qn == 1.0f;
  for (size_t i = 0; i < n; i++) {
    double c = nearbyint((double)in[i] * k);
    c = c > hi ? hi : c;
    c = c < lo ? lo : c;
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
    double c = f + ((double)tq_rng_uniform(rng) < p - f ? 1.0 : 0.0);
    c = c > hi ? hi : c;
    c = c < lo ? lo : c;
    out[i] = tq_qmix(in[i], (float)(step * c), qn, exact);
  }
}

typedef struct {
  double k, lo, hi; /* code = clip(round(x * k), lo, hi) */
  float step;       /* xq = step * code */
} fixed_params;

static fixed_params bits_fixed_params(const tq_quantizer *q) {
  fixed_params f;
  int kn = q->keep_negative;
  double m = exp2(q->bits - kn), mi = exp2(q->integer);
  double alpha = q->alpha_mode == TQ_ALPHA_VALUE ? (double)q->alpha : 1.0;
  f.k = m / mi;
  f.lo = kn * (-m + q->symmetric);
  f.hi = m - 1;
  f.step = (float)(alpha * mi / m);
  return f;
}

static fixed_params relu_params(const tq_quantizer *q) {
  fixed_params f;
  double m = exp2(q->bits), mi = exp2(q->integer);
  f.k = m / mi;
  f.lo = 0;
  f.hi = m - 1;
  f.step = (float)(mi / m);
  return f;
}

static void run_fixed(const fixed_params *f, int wide, const float *in, float *out,
                      int32_t *codes, size_t n, float qn, int stochastic, tq_rng *rng) {
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
  float a = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
  int exact = q->qnoise_factor == 1.0f;
  for (size_t i = 0; i < n; i++) {
    float s = in[i] >= 0.0f ? 1.0f : -1.0f;
    if (codes) codes[i] = (int32_t)s;
    if (out) out[i] = tq_qmix(in[i], a * s, q->qnoise_factor, exact);
  }
}

/* quantized_relu: the unquantized branch of the qnoise mix is the clipped relu x_u. */
static void relu_forward(const tq_quantizer *q, const float *in, float *out, size_t n,
                         int stochastic, tq_rng *rng) {
  fixed_params f = relu_params(q);
  float qn = q->qnoise_factor;
  if (qn == 1.0f) {
    run_fixed(&f, q->bits > 24, in, out, NULL, n, 1.0f, stochastic, rng);
    return;
  }
  float top = (float)(exp2(q->integer) - (double)f.step);
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    float xu = x <= top ? (x > 0.0f ? x : 0.0f) : top;
    float xq;
    run_fixed(&f, q->bits > 24, &x, &xq, NULL, 1, 1.0f, stochastic, rng);
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
  float a = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
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
  float a = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
  float t = q->has_threshold ? q->threshold : 0.33f;
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    float s = fabsf(x) >= t ? (x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f)) : 0.0f;
    if (codes) codes[i] = (int32_t)s;
    if (out) out[i] = a * s + 0.0f;
  }
}

/* ---- forward ----------------------------------------------------------------------------- */

static tq_status check_shape(const tq_quantizer *q, const int *dims, int rank, size_t *n) {
  tq_qlayout L;
  tq_status st = tq_qlayout_init(&L, dims, rank, -1);
  if (st) return st;
  if (rank >= 2 && q->scale_axis >= rank &&
      (q->kind == TQ_Q_BITS_FEATUREMAP || (q->kind == TQ_Q_BITS && is_auto(q))))
    return tq_fail(TQ_ERR_ARG, "scale_axis=%d is out of range for a rank-%d tensor", q->scale_axis,
                   rank);
  *n = L.n;
  return TQ_OK;
}

tq_status tq_quantize_forward(const tq_quantizer *q, float *out, float *scales, const float *in,
                              const int *dims, int rank, int training, tq_rng *rng) {
  tq_status st = tq_quantizer_validate(q);
  if (st) return st;
  size_t n = 0;
  if ((st = check_shape(q, dims, rank, &n))) return st;
  int stochastic = training && q->stochastic &&
                   ((q->kind == TQ_Q_BITS && !is_auto(q) && q->bits - q->keep_negative > 0) ||
                    q->kind == TQ_Q_RELU);
  if (stochastic && !rng)
    return tq_fail(TQ_ERR_ARG, "%s: stochastic rounding needs a random generator",
                   tq_quantizer_name(q->kind));
  switch (q->kind) {
    case TQ_Q_NONE:
      if (out != in) memmove(out, in, n * sizeof *out);
      return TQ_OK;
    case TQ_Q_BITS: {
      if (is_auto(q)) return tq_quant_bits_auto(q, out, NULL, scales, in, dims, rank);
      if (q->bits - q->keep_negative == 0) {
        bits_sign(q, in, out, NULL, n);
        if (scales) scales[0] = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
        return TQ_OK;
      }
      fixed_params f = bits_fixed_params(q);
      run_fixed(&f, q->bits - q->keep_negative > 24, in, out, NULL, n, q->qnoise_factor,
                stochastic, rng);
      if (scales) scales[0] = f.step;
      return TQ_OK;
    }
    case TQ_Q_BITS_FEATUREMAP:
      return tq_quant_featuremap(q, out, NULL, scales, NULL, in, dims, rank);
    case TQ_Q_RELU:
      relu_forward(q, in, out, n, stochastic, rng);
      if (scales) scales[0] = relu_params(q).step;
      return TQ_OK;
    case TQ_Q_PO2:
      po2_forward(q, in, out, n);
      if (scales) scales[0] = 1.0f;
      return TQ_OK;
    case TQ_Q_BINARY:
      if (is_auto(q)) return tq_quant_binary_auto(q, out, NULL, scales, in, dims, rank);
      binary_fixed(q, in, out, NULL, n);
      if (scales) scales[0] = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
      return TQ_OK;
    case TQ_Q_TERNARY:
      if (is_auto(q)) return tq_quant_ternary_auto(q, out, NULL, scales, in, dims, rank);
      ternary_fixed(q, in, out, NULL, n);
      if (scales) scales[0] = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
      return TQ_OK;
  }
  return tq_fail(TQ_ERR_ARG, "unknown quantizer kind");
}

/* ---- backward ---------------------------------------------------------------------------- */

void tq_quantize_backward(const tq_quantizer *q, float *din, const float *dout, const float *in,
                          size_t n) {
  float g = q->use_ste ? 1.0f : 1.0f - q->qnoise_factor;
  switch (q->kind) {
    case TQ_Q_RELU: {
      float top = (float)(exp2(q->integer) - exp2(q->integer - q->bits));
      for (size_t i = 0; i < n; i++) {
        float x = in[i];
        din[i] = (x > 0.0f && x <= top) ? dout[i] * g : 0.0f;
      }
      return;
    }
    case TQ_Q_BINARY:
    case TQ_Q_TERNARY:
      if (q->alpha_mode == TQ_ALPHA_NONE) {
        for (size_t i = 0; i < n; i++) {
          float t = tanhf(in[i]);
          din[i] = dout[i] * (1.0f - t * t);
        }
        return;
      }
      if (din != dout) memmove(din, dout, n * sizeof *din);
      return;
    case TQ_Q_NONE:
      if (din != dout) memmove(din, dout, n * sizeof *din);
      return;
    default:
      if (g == 1.0f) {
        if (din != dout) memmove(din, dout, n * sizeof *din);
      } else {
        for (size_t i = 0; i < n; i++) din[i] = dout[i] * g;
      }
      return;
  }
}

/* ---- integer codes ------------------------------------------------------------------------- */

static tq_status check_finite(const float *in, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(in[i]))
      return tq_fail(TQ_ERR_NUMERIC, "quantizer input %zu is not finite (%g)", i, (double)in[i]);
  return TQ_OK;
}

tq_status tq_quantize_codes(const tq_quantizer *q, int32_t *codes, float *steps,
                            int32_t *zero_points, const float *in, const int *dims, int rank) {
  tq_status st = tq_quantizer_validate(q);
  if (st) return st;
  size_t n = 0;
  if ((st = check_shape(q, dims, rank, &n))) return st;
  if ((st = check_finite(in, n))) return st;
  size_t ns = tq_quantizer_num_scales(q, dims, rank);
  if (zero_points && q->kind != TQ_Q_BITS_FEATUREMAP)
    for (size_t g = 0; g < ns; g++) zero_points[g] = 0;
  switch (q->kind) {
    case TQ_Q_BITS:
      if (is_auto(q)) return tq_quant_bits_auto(q, NULL, codes, steps, in, dims, rank);
      if (q->bits - q->keep_negative == 0) {
        bits_sign(q, in, NULL, codes, n);
        if (steps) steps[0] = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
        return TQ_OK;
      } else {
        fixed_params f = bits_fixed_params(q);
        run_fixed(&f, q->bits - q->keep_negative > 24, in, NULL, codes, n, 1.0f, 0, NULL);
        if (steps) steps[0] = f.step;
        return TQ_OK;
      }
    case TQ_Q_BITS_FEATUREMAP:
      return tq_quant_featuremap(q, NULL, codes, steps, zero_points, in, dims, rank);
    case TQ_Q_RELU: {
      fixed_params f = relu_params(q);
      run_fixed(&f, q->bits > 24, in, NULL, codes, n, 1.0f, 0, NULL);
      if (steps) steps[0] = f.step;
      return TQ_OK;
    }
    case TQ_Q_BINARY:
      if (is_auto(q)) return tq_quant_binary_auto(q, NULL, codes, steps, in, dims, rank);
      binary_fixed(q, in, NULL, codes, n);
      if (steps) steps[0] = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
      return TQ_OK;
    case TQ_Q_TERNARY:
      if (is_auto(q)) return tq_quant_ternary_auto(q, NULL, codes, steps, in, dims, rank);
      ternary_fixed(q, in, NULL, codes, n);
      if (steps) steps[0] = q->alpha_mode == TQ_ALPHA_VALUE ? q->alpha : 1.0f;
      return TQ_OK;
    default:
      return tq_fail(TQ_ERR_UNSUPPORTED, "%s has no integer code form",
                     tq_quantizer_name(q->kind));
  }
}

/* ---- static (deployment) parameters --------------------------------------------------------- */

tq_status tq_quantizer_static_params(const tq_quantizer *q, float lo, float hi, tq_range_mode mode,
                                     tq_qstatic *p) {
  tq_status st = tq_quantizer_validate(q);
  if (st) return st;
  if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
    return tq_fail(TQ_ERR_ARG, "static range [%g, %g] is not a finite interval", (double)lo,
                   (double)hi);
  memset(p, 0, sizeof *p);
  switch (q->kind) {
    case TQ_Q_BITS: {
      if (!is_auto(q)) {
        if (q->bits - q->keep_negative == 0)
          return tq_fail(TQ_ERR_UNSUPPORTED, "quantized_bits with 1 bit has no static form");
        fixed_params f = bits_fixed_params(q);
        p->step = f.step, p->zmin = (int32_t)f.lo, p->zmax = (int32_t)f.hi;
        return TQ_OK;
      }
      double H = exp2(q->bits - 1) - 1, L = 2 * H, mi = exp2(q->integer);
      double a = fmax(fabs((double)lo), fabs((double)hi));
      double s = 2.0 * (a / mi) / L;
      if (q->alpha_mode == TQ_ALPHA_AUTO_PO2) s = tq_po2(s);
      p->step = (float)(mi * (double)(float)s);
      p->zmin = (int32_t)-H, p->zmax = (int32_t)H;
      return TQ_OK;
    }
    case TQ_Q_RELU: {
      fixed_params f = relu_params(q);
      p->step = f.step, p->zmin = 0, p->zmax = (int32_t)f.hi;
      return TQ_OK;
    }
    case TQ_Q_BITS_FEATUREMAP: {
      double bq = exp2(q->bits - 1) - 1, aq = -bq;
      double l = fabs((double)lo) < TQ_FM_FLUSH ? 0.0 : lo;
      double h = fabs((double)hi) < TQ_FM_FLUSH ? 0.0 : hi;
      p->zmin = (int32_t)aq, p->zmax = (int32_t)bq;
      if (mode == TQ_RANGE_FULL) {
        double s = (h - l) / (bq - aq);
        if (s > 0 && q->alpha_mode == TQ_ALPHA_AUTO_PO2) s = exp2(ceil(log2(s)));
        float sf = (float)s;
        p->step = sf;
        if (sf > 0) {
          double zp = tq_rha(aq - l / sf);
          p->zero_point = (int32_t)(zp < aq ? aq : (zp > bq ? bq : zp));
        }
        return TQ_OK;
      }
      double s = 2.0 * fmax(fabs(l), fabs(h)) / (bq - aq);
      if (q->alpha_mode == TQ_ALPHA_AUTO_PO2) s = tq_po2(s);
      p->step = (float)s;
      p->zero_point = h == l ? 0 : tq_qsat32(tq_rha((h * aq - l * bq) / (h - l)));
      return TQ_OK;
    }
    default:
      return tq_fail(TQ_ERR_UNSUPPORTED, "%s has no static activation form",
                     tq_quantizer_name(q->kind));
  }
}

tq_status tq_quantize_static(const tq_quantizer *q, const tq_qstatic *p, float *out,
                             int32_t *codes, const float *in, size_t n) {
  tq_status st = tq_quantizer_validate(q);
  if (st) return st;
  if (codes && (st = check_finite(in, n))) return st;
  float qn = q->qnoise_factor;
  int exact = qn == 1.0f;
  double zmin = p->zmin, zmax = p->zmax, zp = p->zero_point;
  double step = p->step;
  switch (q->kind) {
    case TQ_Q_BITS:
      if (!is_auto(q)) {
        if (q->bits - q->keep_negative == 0)
          return tq_fail(TQ_ERR_UNSUPPORTED, "quantized_bits with 1 bit has no static form");
        fixed_params f = bits_fixed_params(q);
        f.lo = zmin, f.hi = zmax, f.step = p->step;
        run_fixed(&f, q->bits - q->keep_negative > 24, in, out, codes, n, qn, 0, NULL);
        return TQ_OK;
      } else {
        /* z = sign(y) min(rha(|y| / s), H) with y = x / 2^integer, s = step / 2^integer (the
         * same arithmetic as the dynamic forward; dividing by a power of two is exact) */
        double mi = exp2(q->integer);
        float sf = (float)(step / mi), inv_mi = (float)(1.0 / mi);
        double div = sf > 0 ? sf : INFINITY;
        for (size_t i = 0; i < n; i++) {
          double z = q->bits > 24 ? auto_code_d(in[i], 1.0 / mi, zmax, div, 0)
                                  : auto_code_f(in[i], inv_mi, (float)zmax, (float)div, 0);
          if (codes) codes[i] = (int32_t)z;
          if (out) out[i] = tq_qmix(in[i], (float)(step * z), qn, exact);
        }
        return TQ_OK;
      }
    case TQ_Q_RELU: {
      fixed_params f = relu_params(q);
      f.step = p->step;
      if (out) relu_forward(q, in, out, n, 0, NULL);
      if (codes) run_fixed(&f, q->bits > 24, in, NULL, codes, n, 1.0f, 0, NULL);
      return TQ_OK;
    }
    case TQ_Q_BITS_FEATUREMAP: {
      float sf = p->step, sdiv = sf > 0 ? sf : 1.0f;
      for (size_t i = 0; i < n; i++) {
        float x = fm_flush(in[i]);
        double z = q->bits > 24 ? fm_code_d(x, sdiv, zp, zmin, zmax)
                                : fm_code_f(x, sdiv, (float)zp, (float)zmin, (float)zmax);
        if (codes) codes[i] = (int32_t)z;
        if (out) out[i] = tq_qmix(x, (float)(step * (z - zp)), qn, exact);
      }
      return TQ_OK;
    }
    default:
      return tq_fail(TQ_ERR_UNSUPPORTED, "%s has no static activation form",
                     tq_quantizer_name(q->kind));
  }
}
