/* The quantizer API (quant.h) over the kind table (kinds.h): defaults, validation, equality, and
 * forward, backward, integer codes and static quantization dispatched to the kind's entry. The
 * maths is in fixed.c, scale.c and static.c, the strings in parse.c. */
#include <math.h>
#include <string.h>

#include "quant/kinds.h"

/* ---- construction, inspection ---------------------------------------------------------------- */

const char *tq_quantizer_name(tq_qkind kind) {
  return (unsigned)kind < (unsigned)TQ_Q_COUNT ? tq_qkinds[kind].name : "?";
}

/* The fields of arguments a kind does not take keep these (QKeras' usual defaults). */
static const tq_quantizer common_defaults = {.bits = 8,
                                             .keep_negative = 1,
                                             .alpha_mode = TQ_ALPHA_NONE,
                                             .scale_axis = -1,
                                             .qnoise_factor = 1.0f,
                                             .use_ste = 1,
                                             .number_of_unrolls = 5};

static void set_default(tq_quantizer *q, const tq_qparam *p) {
  const tq_qarg *a = tq_qarg_of(p->arg);
  switch (a->type) {
    case TQ_QV_INT:
    case TQ_QV_BOOL:
    case TQ_QV_AXIS: tq_qarg_set_int(q, a, (int)p->def); return;
    case TQ_QV_FLOAT: tq_qarg_set_float(q, a, (float)p->def); return;
    case TQ_QV_OPT_FLOAT: tq_qarg_set_opt(q, a, !isnan(p->def), (float)p->def); return;
    case TQ_QV_ALPHA:
      q->alpha_mode = (tq_alpha_mode)p->def;
      q->alpha = 0.0f;
      return;
  }
}

void tq_quantizer_init(tq_quantizer *q, tq_qkind kind) {
  const tq_qkind_traits *T = tq_qkind_get(kind);
  memcpy(q, &common_defaults, sizeof *q);
  q->kind = kind;
  for (int i = 0; i < T->nparams; i++)
    if (T->params[i].arg) set_default(q, &T->params[i]);
  if (T->code_bits) q->bits = T->code_bits;
}

static int is01(int v) { return v == 0 || v == 1; }

#define BAD(...) tq_fail(TQ_ERR_ARG, __VA_ARGS__)

tq_status tq_quantizer_validate(const tq_quantizer *q) {
  if ((unsigned)q->kind >= (unsigned)TQ_Q_COUNT) return BAD("unknown quantizer kind %d", q->kind);
  const tq_qkind_traits *T = &tq_qkinds[q->kind];
  const char *nm = T->name;
  if (T->nparams == 0) return TQ_OK; /* None: no arguments to check */
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
  if (q->scale_axis < -1)
    return BAD("%s: scale_axis must be None or >= 0, got %d", nm, q->scale_axis);
  return T->validate ? T->validate(q, nm) : TQ_OK;
}

int tq_quantizer_bits(const tq_quantizer *q) {
  int b = tq_qkind_get(q->kind)->code_bits;
  return b ? b : q->bits;
}

int tq_quantizer_equal(const tq_quantizer *a, const tq_quantizer *b) {
  if (a->kind != b->kind) return 0;
  unsigned rel = tq_qrelevant(a->kind);
  for (unsigned bit = 1; bit && bit <= TQ_ARG_UNROLLS; bit <<= 1)
    if ((rel & bit) && !tq_qarg_equal(a, b, bit)) return 0;
  return 1;
}

void tq_quantizer_as_kernel(tq_quantizer *q) {
  const tq_qkind_traits *T = tq_qkind_get(q->kind);
  if (q->alpha_mode == TQ_ALPHA_NONE && T->as_kernel) T->as_kernel(q);
}

float tq_quantizer_qkeras_scale(const tq_quantizer *q, float step) {
  const tq_qkind_traits *T = tq_qkind_get(q->kind);
  float s;
  return T->qkeras_scale && T->qkeras_scale(q, step, &s) ? s : step;
}

int tq_quantizer_has_qkeras_scale(const tq_quantizer *q) {
  const tq_qkind_traits *T = tq_qkind_get(q->kind);
  float s;
  return T->qkeras_scale && T->qkeras_scale(q, 1.0f, &s);
}

int tq_quantizer_has_zero_point(const tq_quantizer *q) { return tq_qkind_get(q->kind)->zero_point; }

/* ---- shapes ---------------------------------------------------------------------------------- */

/* The kind's scale groups for this rank (TQ_QGROUPS_ONE for a kind without scales). */
static int group_axis(const tq_quantizer *q, int rank) {
  const tq_qkind_traits *T = tq_qkind_get(q->kind);
  return T->group_axis ? T->group_axis(q, rank) : TQ_QGROUPS_ONE;
}

size_t tq_quantizer_num_scales(const tq_quantizer *q, const int *dims, int rank) {
  if (!tq_qkind_get(q->kind)->group_axis) return 0;
  int ax = group_axis(q, rank);
  if (ax == TQ_QGROUPS_ONE) return 1;
  tq_qlayout L;
  if (tq_qlayout_init(&L, dims, rank, ax == TQ_QGROUPS_ELEMENT ? -1 : ax) != TQ_OK) return 0;
  return ax == TQ_QGROUPS_ELEMENT ? L.n : L.groups;
}

/* The tensor's element count; rank, dims and a scale_axis the groups follow must fit. */
static tq_status check_shape(const tq_quantizer *q, const int *dims, int rank, size_t *n) {
  int ax = group_axis(q, rank);
  tq_qlayout L;
  tq_status st = tq_qlayout_init(&L, dims, rank, ax >= 0 ? ax : -1);
  if (st) return st;
  *n = L.n;
  return TQ_OK;
}

static tq_status check_finite(const float *in, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(in[i]))
      return tq_fail(TQ_ERR_NUMERIC, "quantizer input %zu is not finite (%g)", i, (double)in[i]);
  return TQ_OK;
}

/* ---- forward, backward, codes ---------------------------------------------------------------- */

/* Below this many values the range pass stays on one thread (fork/join costs more). */
#define RANGE_PARALLEL_VALUES 32768

static void value_range(const float *v, size_t n, float range[2]) {
  float lo = v[0], hi = v[0];
  /* simd: a min/max reduction may run in any order (the same extremes); without it gcc keeps the
   * scalar order */
#pragma omp parallel for simd schedule(static) reduction(min : lo) reduction(max : hi) if (n > RANGE_PARALLEL_VALUES)
  for (size_t i = 1; i < n; i++) {
    lo = v[i] < lo ? v[i] : lo;
    hi = v[i] > hi ? v[i] : hi;
  }
  range[0] = lo, range[1] = hi;
}

tq_status tq_quantize_forward_range(const tq_quantizer *q, float *out, float *scales, const float *in,
                                    const int *dims, int rank, int training, tq_rng *rng, float range[2]) {
  tq_status st = tq_quantizer_validate(q);
  if (st) return st;
  tq_qrun r = {.q = q, .in = in, .dims = dims, .rank = rank, .out = out, .steps = scales,
               .rng = rng, .range = range};
  if ((st = check_shape(q, dims, rank, &r.n))) return st;
  const tq_qkind_traits *T = &tq_qkinds[q->kind];
  r.stochastic = training && q->stochastic && T->stochastic && T->stochastic(q);
  if (r.stochastic && !rng)
    return tq_fail(TQ_ERR_ARG, "%s: stochastic rounding needs a random generator", T->name);
  if (range) range[0] = range[1] = NAN; /* a kind that finds the range sets it */
  /* the range of the input as it was: out may be in */
  if (range && out == in && T->apply != tq_quant_featuremap) value_range(in, r.n, range);
  if ((st = T->apply(&r))) return st;
  if (range && isnan(range[0])) value_range(in, r.n, range);
  return TQ_OK;
}

tq_status tq_quantize_forward(const tq_quantizer *q, float *out, float *scales, const float *in,
                              const int *dims, int rank, int training, tq_rng *rng) {
  return tq_quantize_forward_range(q, out, scales, in, dims, rank, training, rng, NULL);
}

void tq_quantize_backward(const tq_quantizer *q, float *din, const float *dout, const float *in,
                          size_t n) {
  tq_qkind_get(q->kind)->backward(q, din, dout, in, n);
}

tq_status tq_quantize_codes(const tq_quantizer *q, int32_t *codes, float *steps,
                            int32_t *zero_points, const float *in, const int *dims, int rank) {
  tq_status st = tq_quantizer_validate(q);
  if (st) return st;
  tq_qrun r = {.q = q, .in = in, .dims = dims, .rank = rank, .codes = codes, .steps = steps,
               .zero_points = zero_points};
  if ((st = check_shape(q, dims, rank, &r.n))) return st;
  if ((st = check_finite(in, r.n))) return st;
  size_t ns = tq_quantizer_num_scales(q, dims, rank);
  if (zero_points) /* a kind with zero points overwrites them */
    for (size_t g = 0; g < ns; g++) zero_points[g] = 0;
  const tq_qkind_traits *T = &tq_qkinds[q->kind];
  if (!T->has_codes) return tq_fail(TQ_ERR_UNSUPPORTED, "%s has no integer code form", T->name);
  return T->apply(&r);
}

/* ---- static (deployment) quantization -------------------------------------------------------- */

static tq_status no_static_form(const tq_qkind_traits *T) {
  return tq_fail(TQ_ERR_UNSUPPORTED, "%s has no static activation form", T->name);
}

tq_status tq_quantizer_static_params(const tq_quantizer *q, float lo, float hi, tq_range_mode mode,
                                     tq_qstatic *p) {
  tq_status st = tq_quantizer_validate(q);
  if (st) return st;
  if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
    return tq_fail(TQ_ERR_ARG, "static range [%g, %g] is not a finite interval", (double)lo,
                   (double)hi);
  memset(p, 0, sizeof *p);
  const tq_qkind_traits *T = &tq_qkinds[q->kind];
  return T->static_params ? T->static_params(q, lo, hi, mode, p) : no_static_form(T);
}

tq_status tq_quantize_static(const tq_quantizer *q, const tq_qstatic *p, float *out,
                             int32_t *codes, const float *in, size_t n) {
  tq_status st = tq_quantizer_validate(q);
  if (st) return st;
  if (codes && (st = check_finite(in, n))) return st;
  const tq_qkind_traits *T = &tq_qkinds[q->kind];
  return T->quantize_static ? T->quantize_static(q, p, out, codes, in, n) : no_static_form(T);
}
