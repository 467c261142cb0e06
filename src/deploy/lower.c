/* Lowering a QAT model with static activation scales to integer operations (SPEC §6).
 * Each conv/dense/pool/add/multiply and each sigmoid/swish (a lookup table, built by nn/simulate.c
 * for the simulation alike) starts a chain through the layers that need no arithmetic of their own
 * (folded batch norm, ReLU/ReLU6 as clamps, dropout, flatten) up to the activation-quantizer slot
 * that fixes its output's scale and zero point; power-of-two scales become rounding shifts, free
 * scales a fixed-point multiplier and shift. Each layer type's lowering is one entry of the table at
 * the end of this file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/dmodel.h"
#include "nn/simulate.h"

#define is_po2 tq_sim_is_po2
#define log2_exact tq_sim_log2
#define quantize_multiplier tq_sim_multiplier

static int add_tensor(tq_dmodel *d, const char *name, int qbits, double scale, int32_t zp,
                      int32_t qmin, int32_t qmax, tq_shape3 s) {
  if (d->nt == d->cap_t) {
    int cap = d->cap_t ? 2 * d->cap_t : 32;
    dtensor *t = realloc(d->t, sizeof *t * (size_t)cap);
    if (!t) return -1;
    d->t = t;
    d->cap_t = cap;
  }
  dtensor *t = &d->t[d->nt];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->qbits = qbits;
  t->bits = qbits <= 8 ? 8 : 16;
  t->scale = scale;
  t->zp = zp;
  t->qmin = qmin;
  t->qmax = qmax;
  t->po2 = is_po2(scale);
  t->h = s.h;
  t->w = s.w;
  t->c = s.c;
  t->size = tq_shape_size(s);
  t->first_op = t->last_op = -1;
  return d->nt++;
}

static dop *add_op(tq_dmodel *d, dop_kind kind, const char *layer, int in0, int in1, int out) {
  if (d->nops == d->cap_ops) {
    int cap = d->cap_ops ? 2 * d->cap_ops : 32;
    dop *o = realloc(d->ops, sizeof *o * (size_t)cap);
    if (!o) return NULL;
    d->ops = o;
    d->cap_ops = cap;
  }
  dop *o = &d->ops[d->nops++];
  memset(o, 0, sizeof *o);
  o->kind = kind;
  snprintf(o->layer, sizeof o->layer, "%s", layer);
  o->in0 = in0;
  o->in1 = in1;
  o->out = out;
  return o;
}

void tq_deploy_free(tq_dmodel *d) {
  if (!d) return;
  for (int i = 0; i < d->nops; i++) {
    free(d->ops[i].w);
    free(d->ops[i].bias);
    free(d->ops[i].mult);
    free(d->ops[i].shift);
  }
  free(d->ops);
  free(d->t);
  free(d);
}

/* ---- Chains */

typedef struct {
  const tq_model *m;
  int *map;        /* layer -> tensor */
  char *pad_folded; /* layer -> 1: a ZeroPadding2D left to the convolution reading it */
  int act_bits;    /* width of tensors without a quantizer of their own */
  tq_dmodel *d;
} lowering;

typedef tq_chain chain;

/* The output tensor of a chain: the slot's static parameters, or a symmetric power-of-two scale
 * from the calibrated range of the chain's last layer. */
static tq_status chain_tensor(lowering *L, const chain *c, tq_shape3 shape, int *out) {
  const tq_model *m = L->m;
  const tq_layer *first = tq_model_layer_c(m, c->members[0]);
  int t;
  if (c->slot >= 0) {
    const tq_layer *s = tq_model_layer_c(m, c->slot);
    if (!s->has_static)
      return tq_fail(TQ_ERR_ARG, "%s: no static scale (calibrate or use --static ema)", s->name);
    int qb = tq_quantizer_bits(&s->act_q);
    if (qb > 16)
      return tq_fail(TQ_ERR_UNSUPPORTED, "%s: %d-bit activations are beyond the runtime (max 16)",
                     s->name, qb);
    t = add_tensor(L->d, s->name, qb, s->qstatic.step, s->qstatic.zero_point, s->qstatic.zmin,
                   s->qstatic.zmax, shape);
  } else {
    const tq_layer *last = tq_model_layer_c(m, c->last);
    if (!last->has_range)
      return tq_fail(TQ_ERR_ARG,
                     "%s: its output has no activation quantizer and no calibrated range "
                     "(export with --static calib:N)",
                     last->name);
    /* The same tensor the static-mode forward rounds to (nn/simulate.c). */
    tq_qstatic q;
    tq_chain_implicit_params(last->range_lo, last->range_hi, L->act_bits, &q);
    t = add_tensor(L->d, last->name, L->act_bits, q.step, 0, q.zmin, q.zmax, shape);
  }
  if (t < 0) return tq_deploy_oom(first->name);
  for (int i = 0; i < c->nmembers; i++) L->map[c->members[i]] = t;
  *out = t;
  return TQ_OK;
}

/* The tensor layer l reads as its first input; an error when that input is not quantized. */
static tq_status input_tensor(const lowering *L, const tq_layer *l, int *t) {
  *t = L->map[l->inputs[0]];
  return *t >= 0 ? TQ_OK : tq_fail(TQ_ERR_UNSUPPORTED, "%s: its input is not quantized", l->name);
}

/* The operation that layer li starts: its chain, the chain's output tensor, and the operation
 * reading in0 (and in1) and writing that tensor. */
static tq_status start_op(lowering *L, int li, dop_kind kind, int in0, int in1, chain *c, dop **o) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  int out;
  tq_chain_follow(L->m, li, c);
  tq_status st = chain_tensor(L, c, l->out_shape, &out);
  if (st) return st;
  *o = add_op(L->d, kind, l->name, in0, in1, out);
  return *o ? TQ_OK : tq_deploy_oom(l->name);
}

/* Per-channel requantization from accumulator scales acc_scale[c] to the output tensor. */
static tq_status make_requant(dop *o, const double *acc_scale, int channels, const dtensor *out,
                              const chain *c, int allow_po2) {
  o->channels = channels;
  o->mult = calloc((size_t)channels, sizeof(int32_t));
  o->shift = calloc((size_t)channels, sizeof(int8_t));
  if (!o->mult || !o->shift) return tq_deploy_oom(o->layer);
  int po2 = allow_po2 && out->po2;
  for (int k = 0; k < channels; k++) po2 &= acc_scale[k] == 0 || is_po2(acc_scale[k]);
  for (int k = 0; k < channels; k++) {
    if (acc_scale[k] == 0) continue; /* an all-zero channel: any shift gives 0 */
    if (po2) {
      int n = log2_exact(out->scale) - log2_exact(acc_scale[k]);
      if (n > 127) n = 127;
      if (n < -127) n = -127;
      o->shift[k] = (int8_t)n;
    } else {
      int n;
      quantize_multiplier(acc_scale[k] / out->scale, &o->mult[k], &n);
      if (n > 62 || n < -31)
        return tq_fail(TQ_ERR_UNSUPPORTED, "%s: rescale factor %g outside the runtime's range",
                       o->layer, acc_scale[k] / out->scale);
      o->shift[k] = (int8_t)n;
    }
  }
  o->rq.mode = po2 ? TQ_RT_RQ_PO2 : TQ_RT_RQ_MULT;
  o->rq.per_channel = 1;
  o->rq.mult = o->mult;
  o->rq.shift = o->shift;
  o->rq.out_zp = out->zp;
  tq_chain_clamp(c, out->zp, out->qmin, out->qmax, out->scale, &o->rq.act_min, &o->rq.act_max);
  return TQ_OK;
}

/* Per-tensor requantization by the real factor `ratio` (pools, requant): PO2 only when both
 * tensors have power-of-two scales (pools then divide by the window count themselves). */
static tq_status make_requant1(dop *o, double ratio, int po2, const dtensor *out, const chain *c) {
  tq_status st = make_requant(o, &ratio, 1, out, c, po2);
  o->rq.per_channel = 0;
  return st;
}

static tq_rt_conv_geom geom_of(const tq_layer *l) {
  tq_rt_conv_geom g;
  memset(&g, 0, sizeof g);
  g.n = 1;
  g.in_h = l->in_shape.h;
  g.in_w = l->in_shape.w;
  g.in_c = l->in_shape.c;
  g.out_h = l->out_shape.h;
  g.out_w = l->out_shape.w;
  g.out_c = l->out_shape.c;
  g.k_h = l->kh;
  g.k_w = l->kw;
  g.stride_h = l->sh;
  g.stride_w = l->sw;
  g.pad_top = l->geom.pad_top;
  g.pad_left = l->geom.pad_left;
  g.pad_bottom = (l->out_shape.h - 1) * l->sh + l->kh - l->in_shape.h - g.pad_top;
  g.pad_right = (l->out_shape.w - 1) * l->sw + l->kw - l->in_shape.w - g.pad_left;
  if (g.pad_bottom < 0) g.pad_bottom = 0;
  if (g.pad_right < 0) g.pad_right = 0;
  g.depth_mult = l->multiplier > 0 ? l->multiplier : 1;
  return g;
}

/* ---- Weighted layers (conv, depthwise, dense), one step per function. */

/* 1. What the runtime cannot run. */
static tq_status weighted_checks(const tq_layer *l) {
  if (l->kernel_q.kind == TQ_Q_NONE)
    return tq_fail(TQ_ERR_UNSUPPORTED,
                   "%s: float kernel: an integer model needs a kernel quantizer on every layer",
                   l->name);
  int wb = tq_quantizer_bits(&l->kernel_q);
  if (wb > 16)
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: %d-bit weights are beyond the runtime (4, 8 or 16)",
                   l->name, wb);
  if (l->kernel_q.kind == TQ_Q_PO2)
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: quantized_po2 kernels are not lowered yet", l->name);
  return TQ_OK;
}

/* 2. The kernel's codes (Keras layout), each output channel's accumulator scale s_X * s_W[c], and
 * the bias rounded to that scale (the zero point not yet folded in). */
static tq_status quantize_weights(const lowering *L, int li, double x_scale, int32_t *codes,
                                  double *acc_scale, int64_t *bias) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  const size_t ks = l->kernel.size;
  int oc = l->out_shape.c;
  float *wf = malloc(ks * sizeof(float)), *bf = malloc((size_t)oc * sizeof(float));
  float *bq = malloc((size_t)oc * sizeof(float)), *steps = malloc(ks * sizeof(float));
  tq_status st = TQ_OK;
  if (!wf || !bf || !bq || !steps) st = tq_deploy_oom(l->name);
  if (!st) st = tq_layer_folded_weights(L->m, li, wf, bf);
  if (!st && (st = tq_quantize_codes(&l->kernel_q, codes, steps, NULL, wf, l->kernel.dims,
                                     l->kernel.rank)))
    st = tq_fail_prefix(st, "%s: kernel", l->name);
  if (!st && l->bias_q.kind != TQ_Q_NONE &&
      (st = tq_quantize_forward(&l->bias_q, bq, NULL, bf, &oc, 1, 0, NULL)))
    st = tq_fail_prefix(st, "%s: bias", l->name);
  if (!st && l->bias_q.kind == TQ_Q_NONE) memcpy(bq, bf, (size_t)oc * sizeof(float));
  const size_t nsteps = tq_quantizer_num_scales(&l->kernel_q, l->kernel.dims, l->kernel.rank);
  for (int k = 0; k < oc && !st; k++) {
    /* Weight step of output channel k: per channel (nsteps == oc), or one for all. */
    double sw = nsteps == (size_t)oc ? steps[k] : steps[nsteps > 1 && l->type == TQ_L_DEPTHWISE
                                                       ? (size_t)k % nsteps : 0];
    acc_scale[k] = x_scale * sw;
    double b = acc_scale[k] > 0 ? bq[k] / acc_scale[k] : 0;
    if (fabs(b) > 4e18)
      st = tq_fail(TQ_ERR_UNSUPPORTED, "%s: bias does not fit the accumulator", l->name);
    else
      bias[k] = (int64_t)(b < 0 ? -floor(-b + 0.5) : floor(b + 0.5));
  }
  free(wf);
  free(bf);
  free(bq);
  free(steps);
  return st;
}

/* 3. The runtime's layout (tq_rt.h): conv OHWI, dense (O,I), depthwise as Keras (KH,KW,C*M). */
static void runtime_layout(const tq_layer *l, const int32_t *keras, int32_t *w) {
  const size_t ks = l->kernel.size, oc = (size_t)l->out_shape.c, per = ks / oc;
  const size_t cin = (size_t)l->in_shape.c;
  for (size_t i = 0; i < ks; i++) {
    size_t src = i;
    if (l->type == TQ_L_CONV2D) src = (i % per) * oc + i / per; /* i % per = (kh*KW + kw)*C + c */
    else if (l->type == TQ_L_DENSE) src = (i % cin) * oc + i / cin;
    w[i] = keras[src];
  }
}

/* 4. Storage at the weights' width: two's-complement nibbles packed two per byte, int8 or int16. */
static tq_status store_weights(dop *o, const int32_t *w, size_t n) {
  if (o->wbits == 16) {
    int16_t *p = malloc(n * sizeof *p);
    if (!p) return tq_deploy_oom(o->layer);
    for (size_t i = 0; i < n; i++) p[i] = (int16_t)w[i];
    o->w = p;
    o->w_bytes = n * sizeof *p;
    return TQ_OK;
  }
  int8_t *p = malloc(n ? n : 1);
  if (!p) return tq_deploy_oom(o->layer);
  for (size_t i = 0; i < n; i++) p[i] = (int8_t)w[i];
  if (o->wbits == 8) {
    o->w = p;
    o->w_bytes = n;
    return TQ_OK;
  }
  o->w_bytes = (n + 1) / 2;
  o->w = calloc(o->w_bytes, 1);
  tq_status st = TQ_OK;
  if (!o->w) st = tq_deploy_oom(o->layer);
  else if (tq_rt_pack_s4(o->w, p, n) != TQ_RT_OK)
    st = tq_fail(TQ_ERR_ARG, "%s: 4-bit packing failed", o->layer);
  free(p);
  return st;
}

/* 5. The input zero point folded into the bias and the accumulator width, by the runtime's own
 * tq_rt_fold_bias_* and tq_rt_acc_bound_* (the contract's "Bias" and "Accumulator width"): int32
 * when every channel's worst-case partial sum fits, else int64. Takes ownership of bias. */
#define FOLD_AND_BOUND(wn, WT)                                                                       \
  do {                                                                                              \
    const WT *w = o->w;                                                                             \
    folded = tq_rt_fold_bias_##wn##w_acc64(bias, bias, w, oc, k, c_stride, k_stride, X->zp);        \
    for (int c = 0; c < oc && folded == TQ_RT_OK; c++) {                                            \
      const int64_t b = tq_rt_acc_bound_##wn##w(bias[c], w, c, k, c_stride, k_stride, xmax);        \
      worst = b > worst ? b : worst;                                                                \
    }                                                                                               \
  } while (0)

static tq_status fold_bias(dop *o, int64_t *bias, int oc, const tq_layer *l, const dtensor *X) {
  /* channel c's weights: k of them, from c * c_stride, k_stride apart */
  const int32_t k = o->kind == D_DW ? l->kh * l->kw : (int32_t)(l->kernel.size / (size_t)oc);
  const int32_t c_stride = o->kind == D_DW ? 1 : k, k_stride = o->kind == D_DW ? oc : 1;
  int32_t xmax = abs(X->qmin) > abs(X->qmax) ? abs(X->qmin) : abs(X->qmax);
  if (abs(X->zp) > xmax) xmax = abs(X->zp);
  tq_rt_status folded;
  int64_t worst = 0;
  if (o->wbits == 4) FOLD_AND_BOUND(s4, uint8_t);
  else if (o->wbits == 8) FOLD_AND_BOUND(s8, int8_t);
  else FOLD_AND_BOUND(s16, int16_t);
  if (folded != TQ_RT_OK) {
    free(bias);
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: bias does not fit the accumulator", l->name);
  }
  o->acc64 = worst > INT32_MAX;
  if (o->acc64) {
    o->bias = bias;
    return TQ_OK;
  }
  int32_t *b32 = malloc((size_t)oc * sizeof(int32_t));
  if (b32)
    for (int c = 0; c < oc; c++) b32[c] = (int32_t)bias[c]; /* |bias[c]| <= worst */
  free(bias);
  o->bias = b32;
  return b32 ? TQ_OK : tq_deploy_oom(l->name);
}

/* A ZeroPadding2D folded into this convolution (lower_zeropad): the convolution reads the
 * unpadded tensor and pads by the zero point itself, as it does for "same" padding. */
static void fold_pad(tq_rt_conv_geom *g, const tq_layer *pad, const tq_layer *l) {
  g->in_h = pad->in_shape.h;
  g->in_w = pad->in_shape.w;
  g->pad_top += pad->pad[0];
  g->pad_left += pad->pad[2];
  g->pad_bottom = (l->out_shape.h - 1) * l->sh + l->kh - g->in_h - g->pad_top;
  g->pad_right = (l->out_shape.w - 1) * l->sw + l->kw - g->in_w - g->pad_left;
  if (g->pad_bottom < 0) g->pad_bottom = 0;
  if (g->pad_right < 0) g->pad_right = 0;
}

static tq_status lower_weighted(lowering *L, int li, dop_kind kind) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  int in;
  tq_status st = input_tensor(L, l, &in);
  if (!st) st = weighted_checks(l);
  chain c;
  dop *o = NULL;
  if (!st) st = start_op(L, li, kind, in, -1, &c, &o);
  if (st) return st;
  const size_t ks = l->kernel.size;
  const int oc = l->out_shape.c, wb = tq_quantizer_bits(&l->kernel_q);
  const dtensor *X = &L->d->t[in], *Y = &L->d->t[o->out];
  int32_t *codes = malloc(ks * sizeof(int32_t)), *w = malloc(ks * sizeof(int32_t));
  double *acc_scale = malloc((size_t)oc * sizeof(double));
  int64_t *bias = calloc((size_t)oc, sizeof(int64_t));
  if (!codes || !w || !acc_scale || !bias) st = tq_deploy_oom(l->name);
  if (!st) st = quantize_weights(L, li, X->scale, codes, acc_scale, bias);
  if (!st) {
    runtime_layout(l, codes, w);
    o->wbits = wb <= 4 ? 4 : wb <= 8 ? 8 : 16;
    st = store_weights(o, w, ks);
  }
  if (!st) {
    st = fold_bias(o, bias, oc, l, X);
    bias = NULL;
  }
  if (!st) st = make_requant(o, acc_scale, oc, Y, &c, 1);
  if (kind == D_DENSE) {
    o->in_dim = l->in_shape.c;
    o->out_dim = oc;
  } else {
    o->geom = geom_of(l);
    if (L->pad_folded[l->inputs[0]]) fold_pad(&o->geom, tq_model_layer_c(L->m, l->inputs[0]), l);
  }
  free(codes);
  free(w);
  free(acc_scale);
  free(bias);
  return st;
}

/* ---- Other layers */

/* The operation that a layer with one quantized input starts. */
static tq_status start_unary(lowering *L, int li, dop_kind kind, chain *c, dop **o) {
  int in;
  tq_status st = input_tensor(L, tq_model_layer_c(L->m, li), &in);
  return st ? st : start_op(L, li, kind, in, -1, c, o);
}

static tq_status lower_pool(lowering *L, int li, dop_kind kind) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  chain c;
  dop *o = NULL;
  tq_status st = start_unary(L, li, kind, &c, &o);
  if (st) return st;
  const int in = o->in0;
  o->geom = geom_of(l); /* GAP: the plane (in_h, in_w) and channels (in_c) */
  o->geom.out_c = l->in_shape.c;
  if (kind == D_AVGPOOL && !(L->d->t[in].po2 && L->d->t[o->out].po2) &&
      (o->geom.pad_top || o->geom.pad_bottom || o->geom.pad_left || o->geom.pad_right))
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: padded average pooling needs power-of-two scales",
                   l->name);
  const dtensor *X = &L->d->t[in], *Y = &L->d->t[o->out];
  double ratio = X->scale;
  /* MULT average pools fold 1/count into the multiplier (the runtime divides only in PO2 mode). */
  int po2 = X->po2 && Y->po2;
  if (!po2 && kind != D_MAXPOOL)
    ratio /= (kind == D_GAP ? (double)l->in_shape.h * l->in_shape.w : (double)l->kh * l->kw);
  return make_requant1(o, ratio, po2, Y, &c);
}

/* The operation that a layer with two inputs starts. */
static tq_status start_binary(lowering *L, int li, dop_kind kind, chain *c, dop **o) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  int a = L->map[l->inputs[0]], b = L->map[l->inputs[1]];
  if (a < 0 || b < 0) return tq_fail(TQ_ERR_UNSUPPORTED, "%s: its inputs are not quantized", l->name);
  return start_op(L, li, kind, a, b, c, o);
}

static tq_status lower_add(lowering *L, int li, dop_kind kind) {
  chain c;
  dop *o = NULL;
  tq_status st = start_binary(L, li, kind, &c, &o);
  if (st) return st;
  const dtensor *A = &L->d->t[o->in0], *B = &L->d->t[o->in1], *Y = &L->d->t[o->out];
  tq_rt_add_params *p = &o->add;
  p->a_zp = A->zp;
  p->b_zp = B->zp;
  p->out_zp = Y->zp;
  tq_chain_clamp(&c, Y->zp, Y->qmin, Y->qmax, Y->scale, &p->act_min, &p->act_max);
  if (A->po2 && B->po2 && Y->po2) {
    int ea = log2_exact(A->scale), eb = log2_exact(B->scale), ey = log2_exact(Y->scale);
    int e0 = ea < eb ? ea : eb;
    p->mode = TQ_RT_RQ_PO2;
    p->a_shift = e0 - ea;
    p->b_shift = e0 - eb;
    p->out_shift = ey - e0;
  } else {
    /* TFLite's add: both inputs to a common scale 2*max(s_a, s_b) / 2^left_shift. */
    p->mode = TQ_RT_RQ_MULT;
    p->left_shift = 20;
    double twice = 2 * fmax(A->scale, B->scale);
    int n;
    quantize_multiplier(A->scale / twice, &p->a_mult, &n);
    p->a_shift = n;
    quantize_multiplier(B->scale / twice, &p->b_mult, &n);
    p->b_shift = n;
    quantize_multiplier(twice / ((double)(1 << p->left_shift) * Y->scale), &p->out_mult, &n);
    p->out_shift = n;
  }
  return TQ_OK;
}

/* Squeeze-excite's excite: x (h, w, c) times g (1, 1, c); the product of the codes has the scale
 * s_X * s_G, requantized once (shifts when all three scales are powers of two). */
static tq_status lower_multiply(lowering *L, int li, dop_kind kind) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  chain c;
  dop *o = NULL;
  tq_status st = start_binary(L, li, kind, &c, &o);
  if (st) return st;
  const dtensor *X = &L->d->t[o->in0], *G = &L->d->t[o->in1], *Y = &L->d->t[o->out];
  o->geom.in_h = l->in_shape.h;
  o->geom.in_w = l->in_shape.w;
  o->geom.in_c = l->in_shape.c;
  return make_requant1(o, X->scale * G->scale, X->po2 && G->po2, Y, &c);
}

/* A sigmoid/swish: its table (nn/simulate.c builds it for the simulation too), entries int8 when
 * input and output are 8-bit, else int16 (tq_rt_lut_s8_s16, tq_rt_lut_s16_*). */
static tq_status lower_lut(lowering *L, int li) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  chain c;
  dop *o = NULL;
  tq_status st = start_unary(L, li, D_LUT, &c, &o);
  if (st) return st;
  const dtensor *X = &L->d->t[o->in0], *Y = &L->d->t[o->out];
  const int wide = X->bits == 16;
  int32_t lo, hi;
  tq_chain_clamp(&c, Y->zp, Y->qmin, Y->qmax, Y->scale, &lo, &hi);
  tq_lut lut;
  if (wide != (X->qmin < -128 || X->qmax > 127) ||
      !tq_lut_make(&lut, l->act, X->scale, X->zp, X->qmin, X->qmax, wide, Y->scale, Y->zp, lo, hi))
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: no lookup table for its input and output scales",
                   l->name);
  const size_t n = wide ? 257 : 256, esize = !wide && Y->bits == 8 ? 1 : 2;
  o->w = malloc(n * esize);
  if (!o->w) return tq_deploy_oom(l->name);
  o->w_bytes = n * esize;
  for (size_t i = 0; i < n; i++) {
    if (esize == 1) ((int8_t *)o->w)[i] = (int8_t)lut.t[i];
    else ((int16_t *)o->w)[i] = lut.t[i];
  }
  o->lut_min = lut.x_min;
  o->lut_k = lut.k;
  return TQ_OK;
}

static tq_status lower_requant(lowering *L, int li, int src) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  chain c;
  tq_chain_follow(L->m, li, &c);
  int out;
  tq_status st = chain_tensor(L, &c, l->out_shape, &out);
  if (st) return st;
  const dtensor *X = &L->d->t[src], *Y = &L->d->t[out];
  if (X->scale == Y->scale && X->zp == Y->zp && X->bits == Y->bits && X->qmin >= Y->qmin &&
      X->qmax <= Y->qmax && !c.relu) {
    /* Same quantization: the slot adds nothing. */
    for (int i = 0; i < c.nmembers; i++) L->map[c.members[i]] = src;
    L->d->nt--;
    return TQ_OK;
  }
  dop *o = add_op(L->d, D_REQUANT, l->name, src, -1, out);
  if (!o) return tq_deploy_oom(l->name);
  return make_requant1(o, X->scale, X->po2 && Y->po2, Y, &c);
}

/* The model input's slot: float input quantized by the slot's static parameters. */
static tq_status lower_input_slot(lowering *L, int li) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  if (!l->has_static) return tq_fail(TQ_ERR_ARG, "%s: no static scale", l->name);
  /* The runtime's input quantization has no clamp for a ReLU (the simulation applies it). */
  if (l->type != TQ_L_ACTIVATION || l->act != TQ_ACT_LINEAR)
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: a ReLU on the model input has no lowering", l->name);
  int t = add_tensor(L->d, l->name, tq_quantizer_bits(&l->act_q), l->qstatic.step,
                     l->qstatic.zero_point, l->qstatic.zmin, l->qstatic.zmax, l->out_shape);
  if (t < 0 || !add_op(L->d, D_QUANTIZE, l->name, -1, -1, t)) return tq_deploy_oom(l->name);
  L->map[li] = t;
  return TQ_OK;
}

/* Activation (slot, ReLU, ReLU6) and ReLU layers that no chain absorbed: the input's quantization,
 * an alias, or a requantization (with the clamp of a ReLU); sigmoid and swish: a table. */
static tq_status lower_activation(lowering *L, int li, dop_kind kind) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  (void)kind;
  if (tq_layer_is_lut(l)) return lower_lut(L, li);
  if (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_SOFTMAX)
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: float-only activation (softmax) has no integer lowering",
                   l->name);
  int src = L->map[l->inputs[0]];
  if (src < 0 && l->inputs[0] == 0 && l->act_q.kind != TQ_Q_NONE) return lower_input_slot(L, li);
  if (src < 0) return tq_fail(TQ_ERR_UNSUPPORTED, "%s: its input is not quantized", l->name);
  if (l->type == TQ_L_ACTIVATION && l->act_q.kind == TQ_Q_NONE && l->act == TQ_ACT_LINEAR) {
    L->map[li] = src;
    return TQ_OK;
  }
  return lower_requant(L, li, src);
}

/* Layers that only reinterpret their input (dropout at inference, flatten, reshape: NHWC memory
 * is already in the order Keras flattens it): the output is the input's tensor. */
static tq_status lower_alias(lowering *L, int li, dop_kind kind) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  (void)kind;
  if (L->map[l->inputs[0]] < 0 && l->inputs[0] != 0)
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: its input is not quantized", l->name);
  L->map[li] = L->map[l->inputs[0]];
  return TQ_OK;
}

/* ZeroPadding2D: a new tensor with the input's quantization, the zero point (real 0) around it. */
static tq_status lower_zeropad(lowering *L, int li, dop_kind kind) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  int in;
  tq_status st = input_tensor(L, l, &in);
  if (st) return st;
  const dtensor X = L->d->t[in]; /* a copy: add_tensor may move the tensors */
  const int wide = X.qbits > 8;
  if (X.zp < (wide ? -32768 : -128) || X.zp > (wide ? 32767 : 127)) {
    /* Real 0 lies outside the codes (an input range that excludes 0, e.g. images without black):
     * no pad value can be stored, but a convolution pads by any int32 zero point. */
    for (int j = li + 1; j < tq_model_num_layers(L->m); j++) {
      const tq_layer *r = tq_model_layer_c(L->m, j);
      for (int k = 0; k < r->ninputs; k++)
        if (r->inputs[k] == li && (k != 0 || tq_layer_lowering(r->type) != TQ_LOWER_WEIGHTED ||
                                   r->type == TQ_L_DENSE))
          return tq_fail(TQ_ERR_UNSUPPORTED,
                         "%s: real 0 is outside its input's codes (zero point %d): only a "
                         "convolution reading it can pad, not %s",
                         l->name, X.zp, r->name);
    }
    L->pad_folded[li] = 1;
    L->map[li] = in;
    return TQ_OK;
  }
  int out = add_tensor(L->d, l->name, X.qbits, X.scale, X.zp, X.qmin, X.qmax, l->out_shape);
  dop *o = out < 0 ? NULL : add_op(L->d, kind, l->name, in, -1, out);
  if (!o) return tq_deploy_oom(l->name);
  o->geom = (tq_rt_conv_geom){.n = 1, .in_h = l->in_shape.h, .in_w = l->in_shape.w,
                              .in_c = l->in_shape.c, .out_h = l->out_shape.h,
                              .out_w = l->out_shape.w, .out_c = l->out_shape.c, .k_h = 1, .k_w = 1,
                              .stride_h = 1, .stride_w = 1, .pad_top = l->pad[0],
                              .pad_bottom = l->pad[1], .pad_left = l->pad[2],
                              .pad_right = l->pad[3], .depth_mult = 1};
  L->map[li] = out;
  return TQ_OK;
}

static tq_status lower_unfolded_bn(lowering *L, int li, dop_kind kind) {
  (void)kind;
  return tq_fail(TQ_ERR_UNSUPPORTED,
                 "%s: batch normalization that is not folded into a conv/dense layer",
                 tq_model_layer_c(L->m, li)->name);
}

/* ---- The lowering hook of each layer type (NULL: no integer lowering) and the operation kind it
 * creates. A new layer type adds its entry here; the static_assert keeps the table complete. */
static const struct {
  tq_status (*lower)(lowering *L, int li, dop_kind kind);
  dop_kind kind;
} lowering_of[] = {
    [TQ_L_INPUT] = {NULL, D_QUANTIZE}, /* layer 0: its slot (an activation) quantizes it */
    [TQ_L_CONV2D] = {lower_weighted, D_CONV},
    [TQ_L_DEPTHWISE] = {lower_weighted, D_DW},
    [TQ_L_DENSE] = {lower_weighted, D_DENSE},
    [TQ_L_BATCHNORM] = {lower_unfolded_bn, D_COUNT},
    [TQ_L_RELU] = {lower_activation, D_REQUANT},
    [TQ_L_ACTIVATION] = {lower_activation, D_REQUANT},
    [TQ_L_MAXPOOL] = {lower_pool, D_MAXPOOL},
    [TQ_L_AVGPOOL] = {lower_pool, D_AVGPOOL},
    [TQ_L_GAP] = {lower_pool, D_GAP},
    [TQ_L_ADD] = {lower_add, D_ADD},
    [TQ_L_MULTIPLY] = {lower_multiply, D_MUL},
    [TQ_L_FLATTEN] = {lower_alias, D_COUNT},
    [TQ_L_DROPOUT] = {lower_alias, D_COUNT},
    [TQ_L_ZEROPAD] = {lower_zeropad, D_PAD},
    [TQ_L_RESHAPE] = {lower_alias, D_COUNT},
};
_Static_assert(sizeof lowering_of / sizeof lowering_of[0] == TQ_L_COUNT,
               "one lowering entry per tq_layer_type");

static tq_status lower_layer(lowering *L, int li) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  if (L->map[li] >= 0) return TQ_OK; /* already part of a chain */
  if ((unsigned)l->type >= TQ_L_COUNT || !lowering_of[l->type].lower)
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: %s layers have no integer lowering", l->name,
                   tq_layer_type_name(l->type));
  return lowering_of[l->type].lower(L, li, lowering_of[l->type].kind);
}

tq_status tq_deploy_lower(tq_dmodel **out, const tq_model *m) {
  *out = NULL;
  if (!tq_model_is_quantized(m))
    return tq_fail(TQ_ERR_ARG, "%s: the model has no quantizers: train it with --quant or --flat first",
                   tq_model_arch(m));
  if (!tq_model_is_static(m))
    return tq_fail(TQ_ERR_ARG,
                   "%s: activation scales are not static: give --static ema or --static calib:N",
                   tq_model_arch(m));
  int nl = tq_model_num_layers(m);
  lowering L = {m, calloc((size_t)nl, sizeof(int)), calloc((size_t)nl, 1), tq_chain_implicit_bits(m),
                calloc(1, sizeof(tq_dmodel))};
  tq_status st = !L.map || !L.pad_folded || !L.d ? tq_deploy_oom(tq_model_arch(m)) : TQ_OK;
  if (st) goto done;
  snprintf(L.d->arch, sizeof L.d->arch, "%s", tq_model_arch(m));
  L.d->in_size = tq_shape_size(tq_model_input_shape(m));
  for (int i = 0; i < nl; i++) L.map[i] = -1;
  for (int i = 1; i < nl && !st; i++) st = lower_layer(&L, i);
  for (int k = 0; k < L.d->nops && !st; k++)
    if (!tq_dop_kernel_name(L.d, &L.d->ops[k]))
      st = tq_fail(TQ_ERR_UNSUPPORTED, "%s: the runtime has no kernel for its operand types",
                   L.d->ops[k].layer);
  if (st) goto done;
  L.d->output = L.map[nl - 1];
  if (L.d->output < 0 || L.d->nops == 0 || L.d->ops[0].kind != D_QUANTIZE) {
    st = tq_fail(TQ_ERR_UNSUPPORTED,
                 "%s: the model input needs an activation quantizer (slot 'activation')",
                 tq_model_arch(m));
    goto done;
  }
  L.d->input = L.d->ops[0].out;
  st = tq_deploy_plan(L.d);
done:
  free(L.map);
  free(L.pad_folded);
  if (st) {
    tq_deploy_free(L.d);
    return st;
  }
  *out = L.d;
  return TQ_OK;
}
