/* Deployment simulation: the static-mode forward rounds where, and as, the integer lowering
 * rounds (simulate.h). Measured on a 1-epoch ResNet-8 flat-8 auto_po2 model before it existed:
 * 97.2 % top-1 agreement with the integer model, 92.1 % of output codes within one step; with it
 * the two give identical codes (README, "Integer deployment"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"
#include "nn/simulate.h"
#include "tq_rt.h"

/* ---- Chains */

int tq_chain_next(const tq_model *m, int j) {
  if (m->layers[j].consumers != 1) return -1;
  for (int i = j + 1; i < m->nlayers; i++)
    for (int k = 0; k < m->layers[i].ninputs; k++)
      if (m->layers[i].inputs[k] == j) return i;
  return -1;
}

static int passthrough(const tq_layer *l) {
  return tq_layer_lowering(l->type) == TQ_LOWER_ALIAS ||
         (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR && l->act_q.kind == TQ_Q_NONE);
}

static int act_is_relu(const tq_layer *l) {
  return l->type == TQ_L_ACTIVATION && (l->act == TQ_ACT_RELU || l->act == TQ_ACT_RELU6);
}

/* An activation slot: a linear Activation with a quantizer, or an Activation(relu|relu6) with a
 * quantizer (Keras imports write their ReLUs so; with --flat the layer quantizes its own output).
 * The forward applies the ReLU before the quantizer, and rounding is monotonic, so
 * q(relu(x)) = clamp(q(x)) with the ReLU's clamp in codes: such a slot lowers as "ReLU clamp +
 * slot" (tq_chain_follow takes its ReLU into the chain). */
static int is_slot(const tq_layer *l) {
  return l->type == TQ_L_ACTIVATION && (l->act == TQ_ACT_LINEAR || act_is_relu(l)) &&
         l->act_q.kind != TQ_Q_NONE;
}

int tq_layer_is_lut(const tq_layer *l) {
  return l->type == TQ_L_ACTIVATION && (l->act == TQ_ACT_SIGMOID || l->act == TQ_ACT_SWISH);
}

static int is_relu(const tq_layer *l) {
  return l->type == TQ_L_RELU || (act_is_relu(l) && l->act_q.kind == TQ_Q_NONE);
}

/* Fuses l's ReLU into the chain. Two ReLUs in one chain (a ReLU layer before a relu slot) clamp
 * to the tighter maximum: relu(min(relu(x), a)) capped again by b is min(.., min(a, b)). */
static void set_relu(tq_chain *c, const tq_layer *l) {
  float max = l->type == TQ_L_RELU ? l->relu_max : l->act == TQ_ACT_RELU6 ? 6.0f : 0;
  if (max > 0 && (c->relu != 2 || max < c->relu_max)) {
    c->relu = 2;
    c->relu_max = max;
  } else if (c->relu == 0) {
    c->relu = 1;
    c->relu_max = 0;
  }
}

void tq_chain_follow(const tq_model *m, int start, tq_chain *c) {
  memset(c, 0, sizeof *c);
  c->slot = -1;
  c->last = start;
  c->members[c->nmembers++] = start;
  const tq_layer *s = &m->layers[start];
  /* A requantization that starts at a slot or a ReLU, or a table activation with its own
   * quantizer: they are the chain's own. */
  if (is_slot(s) || (tq_layer_is_lut(s) && s->act_q.kind != TQ_Q_NONE)) {
    c->slot = start;
    if (act_is_relu(s)) set_relu(c, s);
    return;
  }
  if (is_relu(s)) set_relu(c, s);
  int j = start;
  for (;;) {
    int k = tq_chain_next(m, j);
    if (k < 0 || c->nmembers == TQ_CHAIN_MAX) break;
    const tq_layer *l = &m->layers[k];
    if (l->type == TQ_L_BATCHNORM && l->bn_folded_into == start) {
    } else if (is_relu(l) && c->relu == 0) {
      set_relu(c, l);
    } else if (is_slot(l)) {
      if (act_is_relu(l)) set_relu(c, l);
      c->slot = k;
      c->members[c->nmembers++] = k;
      c->last = k;
      return;
    } else if (!passthrough(l)) {
      break;
    }
    c->members[c->nmembers++] = k;
    c->last = k;
    j = k;
  }
}

int tq_chain_implicit_bits(const tq_model *m) {
  for (int i = 1; i < m->nlayers; i++) {
    const tq_layer *l = &m->layers[i];
    if (l->type == TQ_L_ACTIVATION && l->act_q.kind != TQ_Q_NONE && tq_quantizer_bits(&l->act_q) > 8)
      return 16;
  }
  return 8;
}

void tq_chain_implicit_params(float lo, float hi, int bits, tq_qstatic *q) {
  double maxabs = fmax(fabs(lo), fabs(hi));
  int32_t qmax = (1 << (bits - 1)) - 1;
  q->step = maxabs > 0 ? (float)ldexp(1.0, (int)ceil(log2(maxabs / qmax))) : 1.0f;
  q->zero_point = 0;
  q->zmin = -qmax;
  q->zmax = qmax;
}

void tq_chain_clamp(const tq_chain *c, int32_t zp, int32_t qmin, int32_t qmax, double scale,
                    int32_t *lo, int32_t *hi) {
  *lo = qmin;
  *hi = qmax;
  if (c->relu) {
    if (zp > *lo) *lo = zp;
    if (c->relu == 2) {
      double top = zp + floor(c->relu_max / scale + 0.5);
      if (top < *hi) *hi = (int32_t)top;
    }
  }
}

/* ---- Requantization arithmetic */

int tq_sim_is_po2(double s) {
  int e;
  double f = frexp(s, &e);
  return s > 0 && f == 0.5;
}

int tq_sim_log2(double s) {
  int e;
  frexp(s, &e);
  return e - 1;
}

void tq_sim_multiplier(double real, int32_t *mult, int *n) {
  if (real <= 0) {
    *mult = 0;
    *n = 0;
    return;
  }
  int e;
  double f = frexp(real, &e); /* real = f * 2^e, f in [0.5, 1) */
  int64_t m = (int64_t)llround(f * 2147483648.0);
  if (m == 2147483648LL) {
    m /= 2;
    e++;
  }
  *mult = (int32_t)m;
  *n = -e;
}

/* ---- Lookup-table activations */

static double (*lut_fn(tq_act act))(double) {
  switch (act) {
    case TQ_ACT_SIGMOID:
      return tq_rt_fn_sigmoid;
    case TQ_ACT_SWISH:
      return tq_rt_fn_swish;
    case TQ_ACT_LINEAR:
    case TQ_ACT_RELU:
    case TQ_ACT_RELU6:
    case TQ_ACT_SOFTMAX:
      break;
  }
  return NULL;
}

/* Beyond these inputs sigmoid and swish are constant to within 2e-6 (the table's ends saturate):
 * an int16 table spends its 256 segments where the function bends. */
#define LUT_FLAT_BELOW (-16.0)
#define LUT_FLAT_ABOVE(act) ((act) == TQ_ACT_SIGMOID ? 16.0 : INFINITY)

int tq_lut_make(tq_lut *L, tq_act act, double in_scale, int32_t in_zp, int32_t in_min,
                int32_t in_max, int wide, double out_scale, int32_t out_zp, int32_t lo, int32_t hi) {
  double (*f)(double) = lut_fn(act);
  memset(L, 0, sizeof *L);
  L->wide = wide;
  if (!f || !(in_scale > 0) || in_min > in_max) return 0;
  if (!wide)
    return tq_rt_lut_build_s8_s16(L->t, f, in_scale, in_zp, out_scale, out_zp, lo, hi) == TQ_RT_OK;
  double a = fmax(in_min, in_zp + floor(LUT_FLAT_BELOW / in_scale));
  double b = fmin(in_max, in_zp + ceil(LUT_FLAT_ABOVE(act) / in_scale));
  if (a > b) a = in_min, b = in_max; /* the whole input range is flat */
  L->x_min = (int32_t)a;
  while (L->k < 8 && (double)(256 << L->k) < b - a) L->k++;
  return tq_rt_lut_build_s16(L->t, f, in_scale, in_zp, out_scale, out_zp, lo, hi, L->x_min, L->k) ==
         TQ_RT_OK;
}

int32_t tq_lut_code(const tq_lut *L, int32_t x) {
  x = x < -32768 ? -32768 : x > 32767 ? 32767 : x;
  if (!L->wide) return L->t[(x < -128 ? -128 : x > 127 ? 127 : x) + 128];
  const int16_t in = (int16_t)x;
  int16_t y = 0;
  tq_rt_lut_s16_s16(&y, &in, 1, L->t, L->x_min, L->k);
  return y;
}

void tq_lut_range(tq_act act, float *lo, float *hi) {
  double (*f)(double) = lut_fn(act);
  if (!f) return;
  double a = f(*lo), b = f(*hi);
  /* swish falls to its minimum at x = -1.27846 and rises after; sigmoid only rises */
  const double xmin = -1.2784645427610738;
  double low = fmin(a, b);
  if (act == TQ_ACT_SWISH && *lo <= xmin && xmin <= *hi) low = f(xmin);
  *lo = (float)low;
  *hi = (float)fmax(a, b);
}

/* One requantization channel: a rounding shift (po2) or a Q31 multiplier, as the lowering picks. */
typedef struct {
  int po2;
  int32_t mult;
  int n;
} rq_ch;

static rq_ch rq_make(double ratio_num, double out_scale, int po2) {
  rq_ch r = {po2, 0, 0};
  if (ratio_num == 0) return r;
  if (po2) {
    int n = tq_sim_log2(out_scale) - tq_sim_log2(ratio_num);
    r.n = n > 127 ? 127 : n < -127 ? -127 : n;
  } else {
    tq_sim_multiplier(ratio_num / out_scale, &r.mult, &r.n);
    if (r.n > 62) r.n = 62; /* beyond these the lowering refuses the model */
    if (r.n < -31) r.n = -31;
  }
  return r;
}

static int64_t rq_apply(int64_t acc, rq_ch r) {
  return r.po2 ? tq_rt_rshift_round_s64(acc, r.n) : tq_rt_requant_mult_s64(acc, r.mult, r.n);
}

static inline float deq(int32_t z, const tq_qstatic *q) {
  return (float)((double)q->step * (z - q->zero_point));
}

/* The nearest integer of a value that is an integer up to float rounding (so how ties round
 * does not matter), saturated far beyond any accumulator; NaN (weights of a model file may be
 * NaN) has no integer and gives 0 rather than undefined behaviour (found by fuzzing). */
static inline int64_t near_int(double v) {
  if (isnan(v)) return 0;
  v = v < -4e18 ? -4e18 : v > 4e18 ? 4e18 : v;
  return (int64_t)(v < 0 ? -floor(0.5 - v) : floor(v + 0.5));
}

/* The code (minus the zero point) of a value on a tensor's grid; inv = 1 / step. */
static inline int64_t code_of(float v, double inv) { return near_int((double)v * inv); }

/* Codes of a tensor the runtime holds have at most 16 bits; a model file's values may lie far off
 * their grid. Bounding them keeps the int64 arithmetic below defined for any input, and changes
 * nothing for a valid model (found by fuzzing: adds of codes near 4e18 overflowed). */
#define SIM_CODE_LIMIT ((int64_t)1 << 24)
static inline int64_t bounded_code(float v, double inv) {
  int64_t c = code_of(v, inv);
  return c < -SIM_CODE_LIMIT ? -SIM_CODE_LIMIT : c > SIM_CODE_LIMIT ? SIM_CODE_LIMIT : c;
}

static inline int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

/* ---- Plan */

/* The table of a planned sigmoid/swish layer l; 0 when the runtime cannot hold it (activations
 * beyond 16 bits: the lowering refuses them). */
static int sim_lut(const tq_layer *l, tq_lut *lut) {
  const tq_qstatic *in = &l->sim.in[0], *out = &l->sim.out;
  return tq_lut_make(lut, l->act, in->step, in->zero_point, in->zmin, in->zmax,
                     in->zmin < -128 || in->zmax > 127, out->step, out->zero_point, l->sim.lo,
                     l->sim.hi);
}

void tq_sim_plan(tq_model *m) {
  int nl = m->nlayers, bits = tq_chain_implicit_bits(m);
  tq_qstatic *t = calloc((size_t)nl, sizeof *t); /* each layer's tensor (step 0: none) */
  char *done = calloc((size_t)nl, 1);
  for (int i = 0; i < nl; i++) memset(&m->layers[i].sim, 0, sizeof m->layers[i].sim);
  if (!t || !done) { /* then nothing is simulated, and the agreement check shows it */
    free(t);
    free(done);
    return;
  }
  for (int i = 0; i < nl; i++) m->layers[i].sim.planned = 1;
  for (int i = 1; i < nl; i++) {
    tq_layer *l = &m->layers[i];
    int src = l->ninputs ? l->inputs[0] : 0;
    if (done[i]) continue;
    /* A zero padding's tensor has its input's quantization (the float forward pads with 0.0,
     * which is the zero point's code). */
    if (passthrough(l) || tq_layer_lowering(l->type) == TQ_LOWER_PAD) {
      t[i] = t[src];
      continue;
    }
    if (is_slot(l)) {
      int j = src; /* the model input, through layers that only forward it? */
      while (j > 0 && passthrough(&m->layers[j])) j = m->layers[j].inputs[0];
      if (j == 0) {
        l->sim.from_input = 1;
        if (l->has_static) t[i] = l->qstatic;
        continue;
      }
    }
    tq_lower_kind kind = tq_layer_lowering(l->type);
    int starts = kind == TQ_LOWER_WEIGHTED || kind == TQ_LOWER_POOL || kind == TQ_LOWER_ADD ||
                 kind == TQ_LOWER_MULTIPLY || is_slot(l) || is_relu(l) || tq_layer_is_lut(l);
    if (!starts) continue;
    tq_chain c;
    tq_chain_follow(m, i, &c);
    tq_qstatic out = {0};
    if (c.slot >= 0) {
      if (m->layers[c.slot].has_static) out = m->layers[c.slot].qstatic;
    } else if (m->layers[c.last].has_range) {
      tq_chain_implicit_params(m->layers[c.last].range_lo, m->layers[c.last].range_hi, bits, &out);
    }
    for (int k = 0; k < c.nmembers; k++) {
      done[c.members[k]] = 1;
      t[c.members[k]] = out;
    }
    l->sim.in[0] = t[src];
    if (l->ninputs > 1) l->sim.in[1] = t[l->inputs[1]];
    l->sim.out = out;
    tq_chain_clamp(&c, out.zero_point, out.zmin, out.zmax, out.step, &l->sim.lo, &l->sim.hi);
    /* A side without a tensor cannot be lowered: the lowering says so, nothing to simulate. */
    l->sim.requant = out.step > 0 && l->sim.in[0].step > 0 && (l->ninputs < 2 || l->sim.in[1].step > 0);
    tq_lut lut;
    if (l->sim.requant && tq_layer_is_lut(l)) l->sim.requant = sim_lut(l, &lut);
    /* With a ReLU maximum the forward's float min(x, max) after the requantization may leave the
     * grid (the top code zp + rha(max / step) can lie above max): the slot then rounds again,
     * which maps max to that top code, as the integer clamp does (and keeps grid values). */
    if (l->sim.requant && c.slot >= 0 && c.slot != i && c.relu != 2)
      m->layers[c.slot].sim.on_grid = 1;
  }
  free(t);
  free(done);
}

/* ---- Forward */

static void requant_round(float *v, size_t n, const tq_qstatic *q) {
  double step = q->step, zp = q->zero_point, lo = q->zmin, hi = q->zmax;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (size_t i = 0; i < n; i++) {
    double z = floor(v[i] / step + 0.5) + zp; /* the runtime's rounding: ties up */
    if (!(z == z)) z = zp;
    z = z < lo ? lo : z > hi ? hi : z;
    v[i] = (float)(step * (z - zp));
  }
}

tq_status tq_sim_slot(tq_layer *l, size_t n) {
  const tq_qstatic *q = &l->qstatic;
  if (!l->sim.planned) return tq_quantize_static(&l->act_q, q, l->out, NULL, l->out, n);
  if (l->sim.from_input) {
    float *v = l->out;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++)
      v[i] = deq(tq_rt_quantize_value(v[i], q->step, q->zero_point, q->zmin, q->zmax), q);
    return TQ_OK;
  }
  /* The lowered operation that ends here already wrote codes of this grid (tq_sim_requant). */
  if (!l->sim.on_grid) requant_round(l->out, n, q);
  return TQ_OK;
}

/* conv / depthwise / dense: acc = b_q + sum (x_q - z_x) w_q, recovered from the float result
 * (exact for the widths where float sums are exact; otherwise off by float rounding only). */
/* The exact accumulator sum_j (x_q - z_x) w_q of output element i (batch layout (n, out_shape)),
 * in int64 as the runtime's kernels: for layers whose float sums are not exact (16-bit inputs or
 * weights). x: the input codes minus the zero point; kernel codes w in the layer's Keras layout. */
static int64_t exact_dot(const tq_layer *l, const int32_t *x, const int32_t *w, size_t i) {
  int64_t acc = 0;
  if (l->type == TQ_L_DENSE) {
    size_t I = (size_t)l->in_shape.c, O = (size_t)l->units, b = i / O, o = i % O;
    for (size_t j = 0; j < I; j++) acc = sat_add(acc, (int64_t)x[b * I + j] * w[j * O + o]);
    return acc;
  }
  const tq_conv_shape *g = &l->geom;
  size_t OC = (size_t)l->out_shape.c, o = i % OC, r = i / OC;
  int ox = (int)(r % (size_t)g->ow), oy = (int)(r / (size_t)g->ow % (size_t)g->oh);
  size_t b = r / ((size_t)g->ow * g->oh);
  int M = l->type == TQ_L_DEPTHWISE ? (int)(OC / (size_t)g->c) : 0;
  for (int ky = 0; ky < g->kh; ky++) {
    int iy = oy * g->sh - g->pad_top + ky;
    if (iy < 0 || iy >= g->h) continue;
    for (int kx = 0; kx < g->kw; kx++) {
      int ix = ox * g->sw - g->pad_left + kx;
      if (ix < 0 || ix >= g->w) continue; /* padding: x_q = z_x, no contribution */
      const int32_t *xp = x + (((size_t)b * g->h + iy) * g->w + ix) * g->c;
      size_t tap = (size_t)ky * g->kw + kx;
      if (l->type == TQ_L_DEPTHWISE) {
        size_t c = o / (size_t)M;
        acc = sat_add(acc, (int64_t)xp[c] * w[tap * OC + o]); /* (KH, KW, C, M): (c*M + m) = o */
      } else {
        for (int c = 0; c < g->c; c++)
          acc = sat_add(acc, (int64_t)xp[c] * w[(tap * g->c + c) * OC + o]);
      }
    }
  }
  return acc;
}

static tq_status requant_weighted(tq_model *m, tq_layer *l, int n) {
  const tq_layer_sim *s = &l->sim;
  if (!l->aux || l->kernel_q.kind == TQ_Q_NONE) return TQ_OK; /* float kernel: not lowered */
  size_t ks = l->kernel.size, oc = (size_t)l->out_shape.c;
  float *wf = malloc(ks * sizeof(float)), *bf = malloc(oc * sizeof(float));
  float *steps = malloc(ks * sizeof(float));
  double *acc_scale = malloc(oc * sizeof(double)), *inv_acc = malloc(oc * sizeof(double));
  int64_t *bq = malloc(oc * sizeof(int64_t));
  rq_ch *rq = malloc(oc * sizeof(rq_ch));
  /* Float sums of 8-bit codes are exact in practice (|acc| < 2^24); wider ones are recomputed. */
  int wide = s->in[0].zmax > 127 || s->in[0].zmin < -128 || tq_quantizer_bits(&l->kernel_q) > 8;
  size_t in_count = (size_t)n * tq_shape_size(l->in_shape);
  int32_t *codes = wide ? malloc(ks * sizeof(int32_t)) : NULL;
  int32_t *xq = wide ? malloc(in_count * sizeof(int32_t)) : NULL;
  tq_status st = TQ_OK;
  if (!wf || !bf || !steps || !acc_scale || !inv_acc || !bq || !rq || (wide && (!codes || !xq))) {
    st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", l->name);
    goto done;
  }
  /* The weight steps as the lowering gets them: the codes of the folded kernel. */
  int li = (int)(l - m->layers);
  if ((st = tq_layer_folded_weights(m, li, wf, bf)) ||
      (st = tq_quantize_codes(&l->kernel_q, codes, steps, NULL, wf, l->kernel.dims, l->kernel.rank)))
    goto done;
  size_t nsteps = tq_quantizer_num_scales(&l->kernel_q, l->kernel.dims, l->kernel.rank);
  int po2 = tq_sim_is_po2(s->out.step);
  for (size_t k = 0; k < oc; k++) {
    double sw = nsteps == oc ? steps[k]
                             : steps[nsteps > 1 && l->type == TQ_L_DEPTHWISE ? k % nsteps : 0];
    acc_scale[k] = (double)s->in[0].step * sw;
    inv_acc[k] = acc_scale[k] > 0 ? 1.0 / acc_scale[k] : 0;
    /* The bias at the accumulator scale, as the lowering stores it. */
    /* near_int: tq_rha that saturates (a model file may hold any bias; found by fuzzing). */
    bq[k] = acc_scale[k] > 0 ? near_int(l->aux2[k] / acc_scale[k]) : 0;
    po2 &= acc_scale[k] == 0 || tq_sim_is_po2(acc_scale[k]);
  }
  for (size_t k = 0; k < oc; k++) rq[k] = rq_make(acc_scale[k], s->out.step, po2);
  size_t count = (size_t)n * tq_shape_size(l->out_shape);
  float *v = l->out;
  const float *b = l->aux2, *x = m->layers[l->inputs[0]].out;
  double inv_in = 1.0 / s->in[0].step;
  if (wide)
    for (size_t j = 0; j < in_count; j++) xq[j] = (int32_t)bounded_code(x[j], inv_in);
#pragma omp parallel for schedule(static) if (count > 32768 || (wide && count > 1024))
  for (size_t i = 0; i < count; i++) {
    size_t k = i % oc;
    int64_t acc = 0;
    if (acc_scale[k] > 0)
      acc = (wide ? exact_dot(l, xq, codes, i) : near_int(((double)v[i] - b[k]) * inv_acc[k])) + bq[k];
    v[i] = deq(tq_rt_clamp_zp(rq_apply(acc, rq[k]), s->out.zero_point, s->lo, s->hi), &s->out);
  }
done:
  free(codes);
  free(xq);
  free(wf);
  free(bf);
  free(steps);
  free(acc_scale);
  free(inv_acc);
  free(bq);
  free(rq);
  return st ? tq_fail_prefix(st, "%s: simulated requantization", l->name) : TQ_OK;
}

static int taps(int o, int stride, int pad, int k, int len, int *i0) {
  int a = o * stride - pad, b = a + k;
  *i0 = a < 0 ? 0 : a;
  if (b > len) b = len;
  return b - *i0;
}

/* average / max / global average pool: from the input codes, exactly. */
static void requant_pool(tq_model *m, tq_layer *l, int n) {
  const tq_layer_sim *s = &l->sim;
  const tq_layer *in = &m->layers[l->inputs[0]];
  const float *x = in->out;
  float *v = l->out;
  int H = l->in_shape.h, W = l->in_shape.w, C = l->in_shape.c;
  int OH = l->out_shape.h, OW = l->out_shape.w;
  int KH = H, KW = W, SH = 1, SW = 1, PT = 0, PL = 0;
  if (l->type != TQ_L_GAP) {
    KH = l->kh, KW = l->kw, SH = l->sh, SW = l->sw, PT = l->geom.pad_top, PL = l->geom.pad_left;
  }
  int po2 = tq_sim_is_po2(s->in[0].step) && tq_sim_is_po2(s->out.step);
  double ratio = s->in[0].step;
  if (!po2 && l->type != TQ_L_MAXPOOL)
    ratio /= (l->type == TQ_L_GAP ? (double)H * W : (double)KH * KW); /* MULT folds 1/count */
  rq_ch rq = rq_make(ratio, s->out.step, po2);
  double inv = 1.0 / s->in[0].step;
  int rows = n * OH;
#pragma omp parallel for schedule(static) if ((size_t)rows * OW * C * KH * KW > 32768)
  for (int row = 0; row < rows; row++) {
    int b = row / OH, oy = row % OH, y0, x0;
    int ny = taps(oy, SH, PT, KH, H, &y0);
    for (int ox = 0; ox < OW; ox++) {
      int nx = taps(ox, SW, PL, KW, W, &x0);
      for (int c = 0; c < C; c++) {
        int64_t acc = INT64_MIN;
        if (l->type == TQ_L_MAXPOOL) {
          for (int yy = y0; yy < y0 + ny; yy++)
            for (int xx = x0; xx < x0 + nx; xx++) {
              int64_t q = bounded_code(x[(((size_t)b * H + yy) * W + xx) * C + c], inv);
              acc = q > acc ? q : acc;
            }
          acc = rq_apply(acc, rq);
        } else {
          int64_t sum = 0;
          for (int yy = y0; yy < y0 + ny; yy++)
            for (int xx = x0; xx < x0 + nx; xx++)
              sum += bounded_code(x[(((size_t)b * H + yy) * W + xx) * C + c], inv);
          acc = po2 ? tq_rt_avg_po2_s64(sum, ny * nx, rq.n) : rq_apply(sum, rq); /* the runtime's */
        }
        v[(((size_t)b * OH + oy) * OW + ox) * C + c] =
            deq(tq_rt_clamp_zp(acc, s->out.zero_point, s->lo, s->hi), &s->out);
      }
    }
  }
}

/* add: both inputs to a common scale, then to the output's (tq_rt.h, "add"). */
static void requant_add(tq_model *m, tq_layer *l, int n) {
  const tq_layer_sim *s = &l->sim;
  const float *a = m->layers[l->inputs[0]].out, *b = m->layers[l->inputs[1]].out;
  double sa = s->in[0].step, sb = s->in[1].step, sy = s->out.step;
  int po2 = tq_sim_is_po2(sa) && tq_sim_is_po2(sb) && tq_sim_is_po2(sy);
  int ea = 0, eb = 0, ey = 0, e0 = 0, left = 20, na = 0, nb = 0, ny = 0;
  int32_t ma = 0, mb = 0, my = 0;
  if (po2) {
    ea = tq_sim_log2(sa), eb = tq_sim_log2(sb), ey = tq_sim_log2(sy);
    e0 = ea < eb ? ea : eb;
  } else {
    double twice = 2 * fmax(sa, sb);
    tq_sim_multiplier(sa / twice, &ma, &na);
    tq_sim_multiplier(sb / twice, &mb, &nb);
    tq_sim_multiplier(twice / ((double)(1 << left) * sy), &my, &ny);
  }
  size_t count = (size_t)n * tq_shape_size(l->out_shape);
  float *v = l->out;
  double ia = 1.0 / sa, ib = 1.0 / sb;
#pragma omp parallel for schedule(static) if (count > 32768)
  for (size_t i = 0; i < count; i++) {
    int64_t qa = bounded_code(a[i], ia), qb = bounded_code(b[i], ib), r;
    if (po2) {
      int64_t acc = sat_add(tq_rt_rshift_round_s64(qa, e0 - ea), tq_rt_rshift_round_s64(qb, e0 - eb));
      r = tq_rt_rshift_round_s64(acc, ey - e0);
    } else {
      int64_t acc = sat_add(tq_rt_requant_mult_s64(qa * ((int64_t)1 << left), ma, na),
                            tq_rt_requant_mult_s64(qb * ((int64_t)1 << left), mb, nb));
      r = tq_rt_requant_mult_s64(acc, my, ny);
    }
    v[i] = deq(tq_rt_clamp_zp(r, s->out.zero_point, s->lo, s->hi), &s->out);
  }
}

/* A requantization of a tensor (a slot or ReLU that starts its own operation). */
static void requant_tensor(tq_model *m, tq_layer *l, int n) {
  const tq_layer_sim *s = &l->sim;
  const float *x = m->layers[l->inputs[0]].out;
  rq_ch rq = rq_make(s->in[0].step, s->out.step,
                     tq_sim_is_po2(s->in[0].step) && tq_sim_is_po2(s->out.step));
  size_t count = (size_t)n * tq_shape_size(l->out_shape);
  float *v = l->out;
  double inv = 1.0 / s->in[0].step;
#pragma omp parallel for schedule(static) if (count > 32768)
  for (size_t i = 0; i < count; i++)
    v[i] = deq(tq_rt_clamp_zp(rq_apply(code_of(x[i], inv), rq), s->out.zero_point, s->lo,
                              s->hi),
               &s->out);
}

/* A table activation: the input codes through the lowering's table. */
static tq_status requant_lut(tq_model *m, tq_layer *l, int n) {
  const tq_layer_sim *s = &l->sim;
  const tq_qstatic *in = &s->in[0];
  tq_lut lut;
  if (!sim_lut(l, &lut)) return TQ_OK; /* not planned (tq_sim_plan) */
  const float *x = m->layers[l->inputs[0]].out;
  size_t count = (size_t)n * tq_shape_size(l->out_shape);
  float *v = l->out;
  double inv = 1.0 / in->step;
#pragma omp parallel for schedule(static) if (count > 32768)
  for (size_t i = 0; i < count; i++)
    v[i] = deq(tq_lut_code(&lut, (int32_t)(bounded_code(x[i], inv) + in->zero_point)), &s->out);
  return TQ_OK;
}

/* A feature map (n, p, c) times a per-channel vector (n, c): the product of the codes, requantized
 * once (tq_rt.h, "mul_bcast"). */
static void requant_multiply(tq_model *m, tq_layer *l, int n) {
  const tq_layer_sim *s = &l->sim;
  const float *x = m->layers[l->inputs[0]].out, *g = m->layers[l->inputs[1]].out;
  double sx = s->in[0].step, sg = s->in[1].step;
  rq_ch rq = rq_make(sx * sg, s->out.step,
                     tq_sim_is_po2(sx) && tq_sim_is_po2(sg) && tq_sim_is_po2(s->out.step));
  const size_t c = (size_t)l->in_shape.c, p = (size_t)l->in_shape.h * l->in_shape.w;
  size_t count = (size_t)n * p * c;
  float *v = l->out;
  double ix = 1.0 / sx, ig = 1.0 / sg;
#pragma omp parallel for schedule(static) if (count > 32768)
  for (size_t i = 0; i < count; i++) {
    int64_t acc = bounded_code(x[i], ix) * bounded_code(g[i / (p * c) * c + i % c], ig);
    v[i] = deq(tq_rt_clamp_zp(rq_apply(acc, rq), s->out.zero_point, s->lo, s->hi), &s->out);
  }
}

tq_status tq_sim_requant(tq_model *m, tq_layer *l, int n) {
  switch (tq_layer_lowering(l->type)) {
    case TQ_LOWER_WEIGHTED:
      return requant_weighted(m, l, n);
    case TQ_LOWER_POOL:
      requant_pool(m, l, n);
      return TQ_OK;
    case TQ_LOWER_ADD:
      requant_add(m, l, n);
      return TQ_OK;
    case TQ_LOWER_MULTIPLY:
      requant_multiply(m, l, n);
      return TQ_OK;
    case TQ_LOWER_ACTIVATION: /* a table activation, or a ReLU or slot requantizing a tensor */
      if (tq_layer_is_lut(l)) return requant_lut(m, l, n);
      requant_tensor(m, l, n);
      return TQ_OK;
    case TQ_LOWER_NONE: /* no other kind starts an operation */
    case TQ_LOWER_PAD:
    case TQ_LOWER_INPUT:
    case TQ_LOWER_ALIAS:
    case TQ_LOWER_FOLDED:
      requant_tensor(m, l, n);
      return TQ_OK;
  }
  return TQ_OK;
}
