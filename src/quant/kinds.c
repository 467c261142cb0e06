/* The quantizer kinds (kinds.h): per kind its QKeras name and constructor arguments, the checks
 * and hooks that differ between kinds, and the table tq_qkinds[] that holds them. The maths is in
 * fixed.c (fixed steps), scale.c (data-dependent scales) and static.c (deployment forms). */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant/kinds.h"

/* ---- arguments ------------------------------------------------------------------------------- */

#define FIELD(f) offsetof(tq_quantizer, f)

/* In TQ_ARG_* bit order. */
const tq_qarg tq_qargs[] = {
    {"bits", TQ_QV_INT, FIELD(bits), 0, 0},                                       /* 1 << 0 */
    {"integer", TQ_QV_INT, FIELD(integer), 0, 0},                                 /* 1 << 1 */
    {"symmetric", TQ_QV_BOOL, FIELD(symmetric), 0, 1},                            /* 1 << 2 */
    {"keep_negative", TQ_QV_BOOL, FIELD(keep_negative), 0, 1},                    /* 1 << 3 */
    {"alpha", TQ_QV_ALPHA, FIELD(alpha), 0, 0},                                   /* 1 << 4 */
    {"use_stochastic_rounding", TQ_QV_BOOL, FIELD(stochastic), 0, 0},             /* 1 << 5 */
    {"scale_axis", TQ_QV_AXIS, FIELD(scale_axis), 0, 0},                          /* 1 << 6 */
    {"qnoise_factor", TQ_QV_FLOAT, FIELD(qnoise_factor), 0, 0},                   /* 1 << 7 */
    {"use_ste", TQ_QV_BOOL, FIELD(use_ste), 0, 0},                                /* 1 << 8 */
    {"max_value", TQ_QV_OPT_FLOAT, FIELD(max_value), FIELD(has_max_value), 0},    /* 1 << 9 */
    {"use_01", TQ_QV_BOOL, FIELD(use_01), 0, 1},                                  /* 1 << 10 */
    {"threshold", TQ_QV_OPT_FLOAT, FIELD(threshold), FIELD(has_threshold), 0},    /* 1 << 11 */
    {"number_of_unrolls", TQ_QV_INT, FIELD(number_of_unrolls), 0, 0},             /* 1 << 12 */
};
_Static_assert(sizeof tq_qargs / sizeof tq_qargs[0] == TQ_QARG_COUNT,
               "one tq_qargs entry per TQ_ARG_* bit");
_Static_assert(TQ_ARG_UNROLLS == 1u << (TQ_QARG_COUNT - 1), "TQ_QARG_COUNT follows TQ_ARG_*");

const tq_qarg *tq_qarg_of(unsigned bit) { return &tq_qargs[__builtin_ctz(bit)]; }

static int feq(float a, float b) { return a == b || (a != a && b != b); }

int tq_qarg_equal(const tq_quantizer *a, const tq_quantizer *b, unsigned bit) {
  const tq_qarg *g = tq_qarg_of(bit);
  switch (g->type) {
    case TQ_QV_INT:
    case TQ_QV_BOOL:
    case TQ_QV_AXIS: return tq_qarg_get_int(a, g) == tq_qarg_get_int(b, g);
    case TQ_QV_FLOAT: return feq(tq_qarg_get_float(a, g), tq_qarg_get_float(b, g));
    case TQ_QV_OPT_FLOAT:
      return tq_qarg_get_given(a, g) == tq_qarg_get_given(b, g) &&
             (!tq_qarg_get_given(a, g) || feq(tq_qarg_get_float(a, g), tq_qarg_get_float(b, g)));
    case TQ_QV_ALPHA:
      return a->alpha_mode == b->alpha_mode &&
             (a->alpha_mode != TQ_ALPHA_VALUE || feq(a->alpha, b->alpha));
  }
  return 1;
}

/* Kinds' parameter lists: ARG(bit, lo, hi, default) for an argument tinyq takes,
 * FIXED(keyword, accepted, text) for one it supports only at its QKeras default. */
#define ARG(bit, lo_, hi_, def_) {.arg = (bit), .lo = (lo_), .hi = (hi_), .def = (def_)}
#define FIXED(name_, fx, text) {.name = (name_), .fixed = (fx), .fixed_text = (text)}
#define P_BITS(lo, hi) ARG(TQ_ARG_BITS, lo, hi, 8)
#define P_INTEGER ARG(TQ_ARG_INTEGER, -64, 64, 0)
#define P_SYMMETRIC ARG(TQ_ARG_SYMMETRIC, 0, 1, 0)
#define P_KEEP_NEG ARG(TQ_ARG_KEEP_NEGATIVE, 0, 1, 1)
#define P_ALPHA ARG(TQ_ARG_ALPHA, 0, 0, TQ_ALPHA_NONE)
#define P_ALPHA_AUTO {.arg = TQ_ARG_ALPHA, .def = TQ_ALPHA_AUTO, .auto_only = 1}
#define P_STOCH ARG(TQ_ARG_STOCHASTIC, 0, 1, 0)
#define P_STOCH_FIXED FIXED("use_stochastic_rounding", TQ_QFX_FALSE, "False")
#define P_AXIS(def) ARG(TQ_ARG_SCALE_AXIS, 0, 1000000, def)
#define P_QNOISE ARG(TQ_ARG_QNOISE, 0.0, 1.0, 1.0)
#define P_USE_STE ARG(TQ_ARG_USE_STE, 0, 1, 1)
#define NP(a) (int)(sizeof(a) / sizeof((a)[0]))

/* ---- checks and hooks shared by several kinds ------------------------------------------------ */

#define BAD(...) tq_fail(TQ_ERR_ARG, __VA_ARGS__)

static int is_auto(const tq_quantizer *q) {
  return q->alpha_mode == TQ_ALPHA_AUTO || q->alpha_mode == TQ_ALPHA_AUTO_PO2;
}

static tq_status check_bits(const tq_quantizer *q, const char *nm, int minb, int maxb,
                            const char *why) {
  if (q->bits < minb || q->bits > maxb)
    return BAD("%s: bits must be between %d and %d%s, got %d", nm, minb, maxb, why, q->bits);
  return TQ_OK;
}

static tq_status check_integer(const tq_quantizer *q, const char *nm) {
  if (q->integer < -64 || q->integer > 64)
    return BAD("%s: integer must be between -64 and 64, got %d", nm, q->integer);
  return TQ_OK;
}

static tq_status check_no_stochastic(const tq_quantizer *q, const char *nm) {
  return q->stochastic ? BAD("%s: use_stochastic_rounding is not supported", nm) : TQ_OK;
}

static tq_status check_no_alpha(const tq_quantizer *q, const char *nm) {
  return q->alpha_mode != TQ_ALPHA_NONE ? BAD("%s: takes no alpha", nm) : TQ_OK;
}

static int one_group(const tq_quantizer *q, int rank) {
  (void)q, (void)rank;
  return TQ_QGROUPS_ONE;
}

static int scale_axis_groups(const tq_quantizer *q, int rank) {
  (void)rank;
  return q->scale_axis;
}

/* binary, ternary: one scale, or per output channel (the last axis) in the auto modes */
static int channel_groups_if_auto(const tq_quantizer *q, int rank) {
  (void)rank;
  return is_auto(q) ? -1 : TQ_QGROUPS_ONE;
}

static int always(const tq_quantizer *q) {
  (void)q;
  return 1;
}

/* The backward passes are elementwise over a batch's activations (DS-CNN: 800,000 values): both
 * threads take part above TQ_QPAR_MIN values. */
static void copy_gradient(float *din, const float *dout, size_t n) {
  if (din == dout) return;
  /* overlap tested on addresses as integers: comparing pointers into different objects is undefined */
  const uintptr_t d = (uintptr_t)din, g = (uintptr_t)dout, bytes = n * sizeof *din;
  if (n < TQ_QPAR_MIN || (d < g + bytes && g < d + bytes)) { /* overlapping: memmove's order */
    memmove(din, dout, n * sizeof *din);
    return;
  }
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; i++) din[i] = dout[i];
}

/* mask 1 with use_ste, else 1 - qnoise_factor (QKeras' STE for the qnoise mix) */
static void ste_backward(const tq_quantizer *q, float *din, const float *dout, const float *in,
                         size_t n) {
  (void)in;
  float g = q->use_ste ? 1.0f : 1.0f - q->qnoise_factor;
  if (g == 1.0f) {
    copy_gradient(din, dout, n);
  } else {
#pragma omp parallel for schedule(static) if (n >= TQ_QPAR_MIN)
    for (size_t i = 0; i < n; i++) din[i] = dout[i] * g;
  }
}

/* binary/ternary: alpha None differentiates through tanh (QKeras), otherwise straight through */
static void sign_backward(const tq_quantizer *q, float *din, const float *dout, const float *in,
                          size_t n) {
  if (q->alpha_mode != TQ_ALPHA_NONE) {
    copy_gradient(din, dout, n);
    return;
  }
#pragma omp parallel for schedule(static) if (n >= TQ_QPAR_MIN)
  for (size_t i = 0; i < n; i++) {
    float t = tanhf(in[i]);
    din[i] = dout[i] * (1.0f - t * t);
  }
}

/* binary/ternary inside a layer: alpha None becomes 'auto_po2' (QKeras) */
static void sign_as_kernel(tq_quantizer *q) {
  q->alpha_mode = TQ_ALPHA_AUTO_PO2;
  q->given |= TQ_ARG_ALPHA;
}

/* ---- None ------------------------------------------------------------------------------------ */

static tq_status none_apply(const tq_qrun *r) {
  if (r->out && r->out != r->in) memmove(r->out, r->in, r->n * sizeof *r->out);
  return TQ_OK;
}

static void none_backward(const tq_quantizer *q, float *din, const float *dout, const float *in,
                          size_t n) {
  (void)q, (void)in;
  copy_gradient(din, dout, n);
}

/* ---- quantized_bits -------------------------------------------------------------------------- */

static const tq_qparam bits_params[] = {P_BITS(1, 32), P_INTEGER, P_SYMMETRIC, P_KEEP_NEG,
                                        P_ALPHA, P_STOCH, P_AXIS(-1), P_QNOISE,
                                        P_USE_STE};

static tq_status bits_validate(const tq_quantizer *q, const char *nm) {
  int au = is_auto(q), minb = au ? 2 : 1, maxb = !q->keep_negative && !au ? 31 : 32;
  const char *why = au           ? " with alpha 'auto'/'auto_po2'"
                    : maxb == 31 ? " with keep_negative=0"
                                 : "";
  tq_status st = check_bits(q, nm, minb, maxb, why);
  return st ? st : check_integer(q, nm);
}

/* fixed: one step; auto: per scale_axis group, and per element for a rank-1 auto_po2 (a bias) */
static int bits_groups(const tq_quantizer *q, int rank) {
  if (!is_auto(q)) return TQ_QGROUPS_ONE;
  if (rank == 1 && q->alpha_mode == TQ_ALPHA_AUTO_PO2) return TQ_QGROUPS_ELEMENT;
  return q->scale_axis;
}

/* the auto modes round to nearest; 1-bit signed is a sign */
static int bits_stochastic(const tq_quantizer *q) {
  return !is_auto(q) && q->bits - q->keep_negative > 0;
}

static tq_status bits_apply(const tq_qrun *r) {
  return is_auto(r->q) ? tq_quant_bits_auto(r) : tq_quant_bits_fixed(r);
}

/* alpha None becomes 'auto_po2' with symmetric on, except 1 bit (its ±1 form has no auto mode) */
static void bits_as_kernel(tq_quantizer *q) {
  if (q->bits < 2) return;
  q->alpha_mode = TQ_ALPHA_AUTO_PO2;
  q->symmetric = 1;
  if (q->given) { /* print "(4,0)" as "(4,0,1,alpha='auto_po2')" */
    if (q->npositional == 2 && !(q->given & TQ_ARG_SYMMETRIC)) q->npositional = 3;
    q->given |= TQ_ARG_ALPHA | TQ_ARG_SYMMETRIC;
  }
}

/* the auto modes: QKeras' scale is s * 2^(bits - keep_negative) where the step is 2^integer s */
static int bits_qkeras_scale(const tq_quantizer *q, float step, float *scale) {
  if (!is_auto(q)) return 0;
  *scale = (float)((double)step * exp2(q->bits - q->keep_negative) / exp2(q->integer));
  return 1;
}

/* ---- quantized_bits_featuremap --------------------------------------------------------------- */

static const tq_qparam fm_params[] = {P_BITS(2, 32), P_INTEGER, P_SYMMETRIC, P_KEEP_NEG,
                                      P_ALPHA_AUTO, P_STOCH, P_AXIS(0), P_QNOISE,
                                      P_USE_STE};

static tq_status fm_validate(const tq_quantizer *q, const char *nm) {
  tq_status st = check_bits(q, nm, 2, 32, "");
  if (!st) st = check_integer(q, nm);
  if (!st && !is_auto(q)) st = BAD("%s: alpha must be 'auto' or 'auto_po2'", nm);
  return st;
}

/* ---- quantized_relu -------------------------------------------------------------------------- */

static const tq_qparam relu_params[] = {P_BITS(1, 31),
                                        P_INTEGER,
                                        FIXED("use_sigmoid", TQ_QFX_ZERO, "0"),
                                        FIXED("negative_slope", TQ_QFX_ZERO, "0.0"),
                                        P_STOCH,
                                        FIXED("relu_upper_bound", TQ_QFX_NONE, "None"),
                                        FIXED("is_quantized_clip", TQ_QFX_TRUE, "True"),
                                        P_QNOISE,
                                        P_USE_STE};

static tq_status relu_validate(const tq_quantizer *q, const char *nm) {
  tq_status st = check_bits(q, nm, 1, 31, "");
  if (!st) st = check_integer(q, nm);
  return st ? st : check_no_alpha(q, nm);
}

/* the STE mask is 0 outside (0, 2^integer - step] */
static void relu_backward(const tq_quantizer *q, float *din, const float *dout, const float *in,
                          size_t n) {
  float g = q->use_ste ? 1.0f : 1.0f - q->qnoise_factor;
  float top = (float)(exp2(q->integer) - exp2(q->integer - q->bits));
#pragma omp parallel for simd schedule(static) if (n >= TQ_QPAR_MIN)
  for (size_t i = 0; i < n; i++) {
    float x = in[i];
    din[i] = (x > 0.0f && x <= top) ? dout[i] * g : 0.0f;
  }
}

/* ---- quantized_po2 --------------------------------------------------------------------------- */

static const tq_qparam po2_params[] = {
    P_BITS(2, 16),
    ARG(TQ_ARG_MAX_VALUE, 0.0, FLT_MAX, NAN),
    P_STOCH_FIXED,
    FIXED("quadratic_approximation", TQ_QFX_FALSE, "False"),
    FIXED("log2_rounding", TQ_QFX_RND, "'rnd'"),
    P_QNOISE,
    P_USE_STE};

static tq_status po2_validate(const tq_quantizer *q, const char *nm) {
  tq_status st = check_bits(q, nm, 2, 16, "");
  if (st) return st;
  if (q->has_max_value && !(q->max_value >= 0.0f && isfinite(q->max_value)))
    return BAD("%s: max_value must be None or a non-negative number", nm);
  st = check_no_stochastic(q, nm);
  return st ? st : check_no_alpha(q, nm);
}

/* ---- binary ---------------------------------------------------------------------------------- */

static const tq_qparam binary_params[] = {ARG(TQ_ARG_USE_01, 0, 1, 0), P_ALPHA,
                                          P_STOCH_FIXED};

static tq_status binary_validate(const tq_quantizer *q, const char *nm) {
  if (q->bits != 1) return BAD("%s: bits is always 1", nm);
  return check_no_stochastic(q, nm);
}

static tq_status binary_apply(const tq_qrun *r) {
  return is_auto(r->q) ? tq_quant_binary_auto(r) : tq_quant_binary_fixed(r);
}

/* ---- ternary --------------------------------------------------------------------------------- */

static const tq_qparam ternary_params[] = {P_ALPHA,
                                           ARG(TQ_ARG_THRESHOLD, -FLT_MAX, FLT_MAX, NAN),
                                           P_STOCH_FIXED, ARG(TQ_ARG_UNROLLS, 1, 100, 5)};

static tq_status ternary_validate(const tq_quantizer *q, const char *nm) {
  if (q->bits != 2) return BAD("%s: bits is always 2", nm);
  tq_status st = check_no_stochastic(q, nm);
  if (st) return st;
  if (q->has_threshold && is_auto(q))
    return BAD("%s: threshold must be None with alpha 'auto'/'auto_po2'", nm);
  if (q->has_threshold && !isfinite(q->threshold))
    return BAD("%s: threshold must be a finite number", nm);
  if (q->number_of_unrolls < 1 || q->number_of_unrolls > 100)
    return BAD("%s: number_of_unrolls must be between 1 and 100, got %d", nm,
               q->number_of_unrolls);
  return TQ_OK;
}

static tq_status ternary_apply(const tq_qrun *r) {
  return is_auto(r->q) ? tq_quant_ternary_auto(r) : tq_quant_ternary_fixed(r);
}

/* ---- the table ------------------------------------------------------------------------------- */

const tq_qkind_traits tq_qkinds[] = {
    [TQ_Q_NONE] = {.name = "None",
                   .bare = 1,
                   .code_bits = 32,
                   .apply = none_apply,
                   .backward = none_backward},
    [TQ_Q_BITS] = {.name = "quantized_bits",
                   .params = bits_params,
                   .nparams = NP(bits_params),
                   .npos = 8,
                   .print_npos = 4,
                   .print_always = TQ_ARG_BITS | TQ_ARG_INTEGER | TQ_ARG_SYMMETRIC,
                   .has_codes = 1,
                   .validate = bits_validate,
                   .group_axis = bits_groups,
                   .stochastic = bits_stochastic,
                   .apply = bits_apply,
                   .backward = ste_backward,
                   .static_params = tq_bits_static_params,
                   .quantize_static = tq_bits_static,
                   .as_kernel = bits_as_kernel,
                   .qkeras_scale = bits_qkeras_scale},
    [TQ_Q_BITS_FEATUREMAP] = {.name = "quantized_bits_featuremap",
                              .params = fm_params,
                              .nparams = NP(fm_params),
                              .npos = 5,
                              .print_npos = 4,
                              .print_always = TQ_ARG_BITS | TQ_ARG_INTEGER | TQ_ARG_SYMMETRIC |
                                              TQ_ARG_KEEP_NEGATIVE | TQ_ARG_ALPHA |
                                              TQ_ARG_SCALE_AXIS,
                              .zero_point = 1,
                              .has_codes = 1,
                              .validate = fm_validate,
                              .group_axis = scale_axis_groups,
                              .apply = tq_quant_featuremap,
                              .backward = ste_backward,
                              .static_params = tq_featuremap_static_params,
                              .quantize_static = tq_featuremap_static},
    [TQ_Q_RELU] = {.name = "quantized_relu",
                   .params = relu_params,
                   .nparams = NP(relu_params),
                   .npos = 8,
                   .print_npos = 2,
                   .print_always = TQ_ARG_BITS | TQ_ARG_INTEGER,
                   .has_codes = 1,
                   .validate = relu_validate,
                   .group_axis = one_group,
                   .stochastic = always,
                   .apply = tq_quant_relu,
                   .backward = relu_backward,
                   .static_params = tq_relu_static_params,
                   .quantize_static = tq_relu_static},
    [TQ_Q_PO2] = {.name = "quantized_po2",
                  .params = po2_params,
                  .nparams = NP(po2_params),
                  .npos = 6,
                  .print_npos = 2,
                  .print_always = TQ_ARG_BITS,
                  .validate = po2_validate,
                  .group_axis = one_group,
                  .apply = tq_quant_po2,
                  .backward = ste_backward},
    [TQ_Q_BINARY] = {.name = "binary",
                     .params = binary_params,
                     .nparams = NP(binary_params),
                     .npos = 3,
                     .code_bits = 1,
                     .has_codes = 1,
                     .validate = binary_validate,
                     .group_axis = channel_groups_if_auto,
                     .apply = binary_apply,
                     .backward = sign_backward,
                     .as_kernel = sign_as_kernel},
    [TQ_Q_TERNARY] = {.name = "ternary",
                      .params = ternary_params,
                      .nparams = NP(ternary_params),
                      .npos = 4,
                      .code_bits = 2,
                      .has_codes = 1,
                      .validate = ternary_validate,
                      .group_axis = channel_groups_if_auto,
                      .apply = ternary_apply,
                      .backward = sign_backward,
                      .as_kernel = sign_as_kernel},
};
_Static_assert(sizeof tq_qkinds / sizeof tq_qkinds[0] == TQ_Q_COUNT,
               "one tq_qkinds entry per tq_qkind");

unsigned tq_qrelevant(tq_qkind kind) {
  const tq_qkind_traits *T = tq_qkind_get(kind);
  unsigned rel = 0;
  for (int i = 0; i < T->nparams; i++) rel |= T->params[i].arg;
  return rel;
}
