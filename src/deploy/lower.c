/* Lowering a QAT model with static activation scales to integer operations (SPEC §6).
 * Each conv/dense/pool/add starts a chain through the layers that need no arithmetic of their own
 * (folded batch norm, ReLU/ReLU6 as clamps, dropout, flatten) up to the activation-quantizer slot
 * that fixes its output's scale and zero point; power-of-two scales become rounding shifts, free
 * scales a fixed-point multiplier and shift. */
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
  int act_bits;    /* width of tensors without a quantizer of their own */
  tq_dmodel *d;
} lowering;

typedef tq_chain chain;

static chain follow(lowering *L, int start) {
  chain c;
  tq_chain_follow(L->m, start, &c);
  return c;
}

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
  if (t < 0) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", first->name);
  for (int i = 0; i < c->nmembers; i++) L->map[c->members[i]] = t;
  *out = t;
  return TQ_OK;
}

/* Output clamp in codes, with a fused ReLU / ReLU6. */
static void clamp_range(const dtensor *t, const chain *c, int32_t *lo, int32_t *hi) {
  tq_chain_clamp(c, t->zp, t->qmin, t->qmax, t->scale, lo, hi);
}

/* Per-channel requantization from accumulator scales acc_scale[c] to the output tensor. */
static tq_status make_requant(dop *o, const double *acc_scale, int channels, const dtensor *out,
                              const chain *c, int allow_po2) {
  o->channels = channels;
  o->mult = calloc((size_t)channels, sizeof(int32_t));
  o->shift = calloc((size_t)channels, sizeof(int8_t));
  if (!o->mult || !o->shift) return tq_fail(TQ_ERR_MEMORY, "out of memory");
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
  clamp_range(out, c, &o->rq.act_min, &o->rq.act_max);
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

/* ---- Weighted layers */

static tq_status lower_weighted(lowering *L, int li) {
  const tq_model *m = L->m;
  const tq_layer *l = tq_model_layer_c(m, li);
  int in = L->map[l->inputs[0]];
  if (in < 0) return tq_fail(TQ_ERR_UNSUPPORTED, "%s: its input is not quantized", l->name);
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
  chain c = follow(L, li);
  int out;
  tq_status st = chain_tensor(L, &c, l->out_shape, &out);
  if (st) return st;
  dop *o = add_op(L->d, l->type == TQ_L_CONV2D ? D_CONV : l->type == TQ_L_DEPTHWISE ? D_DW : D_DENSE,
                  l->name, in, -1, out);
  if (!o) return tq_fail(TQ_ERR_MEMORY, "out of memory");
  size_t ks = l->kernel.size;
  int oc = l->out_shape.c;
  float *wf = malloc(ks * sizeof(float)), *bf = malloc((size_t)oc * sizeof(float));
  float *bq = malloc((size_t)oc * sizeof(float)), *steps = malloc(ks * sizeof(float));
  int32_t *codes = malloc(ks * sizeof(int32_t));
  double *acc_scale = malloc((size_t)oc * sizeof(double));
  int64_t *bias = calloc((size_t)oc, sizeof(int64_t));
  if (!wf || !bf || !bq || !steps || !codes || !acc_scale || !bias) {
    st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", l->name);
    goto done;
  }
  if ((st = tq_layer_folded_weights(m, li, wf, bf))) goto done;
  if ((st = tq_quantize_codes(&l->kernel_q, codes, steps, NULL, wf, l->kernel.dims,
                              l->kernel.rank))) {
    st = tq_fail_prefix(st, "%s: kernel", l->name);
    goto done;
  }
  size_t nsteps = tq_quantizer_num_scales(&l->kernel_q, l->kernel.dims, l->kernel.rank);
  if (l->bias_q.kind != TQ_Q_NONE) {
    if ((st = tq_quantize_forward(&l->bias_q, bq, NULL, bf, &oc, 1, 0, NULL))) {
      st = tq_fail_prefix(st, "%s: bias", l->name);
      goto done;
    }
  } else {
    memcpy(bq, bf, (size_t)oc * sizeof(float));
  }
  const dtensor *X = &L->d->t[in], *Y = &L->d->t[out];
  for (int k = 0; k < oc; k++) {
    /* Weight step of output channel k: per channel (nsteps == oc), or one for all. */
    double sw = nsteps == (size_t)oc ? steps[k] : steps[nsteps > 1 && l->type == TQ_L_DEPTHWISE
                                                       ? (size_t)k % nsteps : 0];
    acc_scale[k] = X->scale * sw;
    double b = acc_scale[k] > 0 ? bq[k] / acc_scale[k] : 0;
    if (fabs(b) > 4e18) {
      st = tq_fail(TQ_ERR_UNSUPPORTED, "%s: bias does not fit the accumulator", l->name);
      goto done;
    }
    bias[k] = (int64_t)(b < 0 ? -floor(-b + 0.5) : floor(b + 0.5));
  }
  /* Runtime layout: conv OHWI, dense (O,I), depthwise as Keras. */
  int kh = l->kh, kw = l->kw, cin = l->in_shape.c;
  size_t per = ks / (size_t)oc; /* weights per output channel */
  int8_t *w8 = NULL;
  int16_t *w16 = malloc(ks * sizeof(int16_t));
  if (!w16) {
    st = TQ_ERR_MEMORY;
    goto done;
  }
  for (size_t i = 0; i < ks; i++) {
    size_t src = i;
    if (l->type == TQ_L_CONV2D) {
      size_t o_ = i / per, r = i % per; /* r = (kh*KW + kw)*C + c */
      src = r * (size_t)oc + o_;
    } else if (l->type == TQ_L_DENSE) {
      size_t o_ = i / (size_t)cin, c_ = i % (size_t)cin;
      src = c_ * (size_t)oc + o_;
    }
    w16[i] = (int16_t)codes[src];
  }
  (void)kh;
  (void)kw;
  o->wbits = wb <= 4 ? 4 : wb <= 8 ? 8 : 16;
  if (o->wbits == 16) {
    o->w = w16;
    o->w_bytes = ks * 2;
    w16 = NULL;
  } else {
    w8 = malloc(ks);
    if (!w8) {
      free(w16);
      st = TQ_ERR_MEMORY;
      goto done;
    }
    for (size_t i = 0; i < ks; i++) w8[i] = (int8_t)w16[i];
    if (o->wbits == 4) {
      o->w_bytes = (ks + 1) / 2;
      o->w = calloc(o->w_bytes, 1);
      if (!o->w || tq_rt_pack_s4(o->w, w8, ks) != TQ_RT_OK) {
        st = tq_fail(TQ_ERR_ARG, "%s: 4-bit packing failed", l->name);
        free(w8);
        free(w16);
        goto done;
      }
      free(w8);
    } else {
      o->w = w8;
      o->w_bytes = ks;
    }
  }
  free(w16);
  /* Fold the input zero point into the bias and bound the accumulator (int32 or int64). */
  int32_t k_len, c_stride, k_stride;
  if (l->type == TQ_L_DEPTHWISE) {
    k_len = l->kh * l->kw;
    c_stride = 1;
    k_stride = oc;
  } else {
    k_len = (int32_t)per;
    c_stride = (int32_t)per;
    k_stride = 1;
  }
  int32_t xmax = abs(X->qmin) > abs(X->qmax) ? abs(X->qmin) : abs(X->qmax);
  if (abs(X->zp) > xmax) xmax = abs(X->zp);
  double worst = 0;
  for (int k = 0; k < oc; k++) {
    double s = fabs((double)bias[k]);
    for (int32_t j = 0; j < k_len; j++) {
      size_t e = (size_t)k * c_stride + (size_t)j * k_stride;
      int32_t w = o->wbits == 4 ? tq_rt_s4_at(o->w, e)
                  : o->wbits == 8 ? ((int8_t *)o->w)[e]
                                  : ((int16_t *)o->w)[e];
      bias[k] -= (int64_t)X->zp * w;
      s += fabs((double)w) * xmax + fabs((double)X->zp * w);
    }
    worst = s > worst ? s : worst;
  }
  o->acc_bound = worst;
  o->acc64 = worst > 2147483647.0;
  if (o->acc64) {
    o->bias = bias;
    bias = NULL;
  } else {
    int32_t *b32 = malloc((size_t)oc * sizeof(int32_t));
    if (!b32) {
      st = TQ_ERR_MEMORY;
      goto done;
    }
    for (int k = 0; k < oc; k++) b32[k] = (int32_t)bias[k];
    o->bias = b32;
  }
  if ((st = make_requant(o, acc_scale, oc, Y, &c, 1))) goto done;
  if (l->type == TQ_L_DENSE) {
    o->in_dim = cin;
    o->out_dim = oc;
  } else {
    o->geom = geom_of(l);
  }
done:
  free(wf);
  free(bf);
  free(bq);
  free(steps);
  free(codes);
  free(acc_scale);
  free(bias);
  return st;
}

/* ---- Other layers */

static tq_status lower_pool(lowering *L, int li) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  int in = L->map[l->inputs[0]];
  if (in < 0) return tq_fail(TQ_ERR_UNSUPPORTED, "%s: its input is not quantized", l->name);
  chain c = follow(L, li);
  int out;
  tq_status st = chain_tensor(L, &c, l->out_shape, &out);
  if (st) return st;
  dop *o = add_op(L->d, l->type == TQ_L_AVGPOOL ? D_AVGPOOL : l->type == TQ_L_MAXPOOL ? D_MAXPOOL : D_GAP,
                  l->name, in, -1, out);
  if (!o) return TQ_ERR_MEMORY;
  if (l->type != TQ_L_GAP) {
    o->geom = geom_of(l);
    o->geom.out_c = l->in_shape.c;
    if (l->type == TQ_L_AVGPOOL && !(L->d->t[in].po2 && L->d->t[out].po2) &&
        (o->geom.pad_top || o->geom.pad_bottom || o->geom.pad_left || o->geom.pad_right))
      return tq_fail(TQ_ERR_UNSUPPORTED,
                     "%s: padded average pooling needs power-of-two scales", l->name);
  }
  const dtensor *X = &L->d->t[in], *Y = &L->d->t[out];
  double ratio = X->scale;
  /* MULT average pools fold 1/count into the multiplier (the runtime divides only in PO2 mode). */
  int po2 = X->po2 && Y->po2;
  if (!po2 && l->type != TQ_L_MAXPOOL)
    ratio /= (l->type == TQ_L_GAP ? (double)l->in_shape.h * l->in_shape.w : (double)l->kh * l->kw);
  return make_requant1(o, ratio, po2, Y, &c);
}

static tq_status lower_add(lowering *L, int li) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  int a = L->map[l->inputs[0]], b = L->map[l->inputs[1]];
  if (a < 0 || b < 0) return tq_fail(TQ_ERR_UNSUPPORTED, "%s: its inputs are not quantized", l->name);
  chain c = follow(L, li);
  int out;
  tq_status st = chain_tensor(L, &c, l->out_shape, &out);
  if (st) return st;
  dop *o = add_op(L->d, D_ADD, l->name, a, b, out);
  if (!o) return TQ_ERR_MEMORY;
  const dtensor *A = &L->d->t[a], *B = &L->d->t[b], *Y = &L->d->t[out];
  tq_rt_add_params *p = &o->add;
  p->a_zp = A->zp;
  p->b_zp = B->zp;
  p->out_zp = Y->zp;
  dtensor tmp = *Y;
  int32_t lo, hi;
  clamp_range(&tmp, &c, &lo, &hi);
  p->act_min = lo;
  p->act_max = hi;
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

static tq_status lower_requant(lowering *L, int li, int src) {
  const tq_layer *l = tq_model_layer_c(L->m, li);
  chain c = follow(L, li);
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
  if (!o) return TQ_ERR_MEMORY;
  return make_requant1(o, X->scale, X->po2 && Y->po2, Y, &c);
}

static tq_status lower_layer(lowering *L, int li) {
  const tq_model *m = L->m;
  const tq_layer *l = tq_model_layer_c(m, li);
  if (L->map[li] >= 0) return TQ_OK; /* already part of a chain */
  switch (l->type) {
    case TQ_L_CONV2D:
    case TQ_L_DEPTHWISE:
    case TQ_L_DENSE:
      return lower_weighted(L, li);
    case TQ_L_AVGPOOL:
    case TQ_L_MAXPOOL:
    case TQ_L_GAP:
      return lower_pool(L, li);
    case TQ_L_ADD:
      return lower_add(L, li);
    case TQ_L_ACTIVATION:
      if (l->act != TQ_ACT_LINEAR && l->act != TQ_ACT_RELU && l->act != TQ_ACT_RELU6)
        return tq_fail(TQ_ERR_UNSUPPORTED,
                       "%s: float-only activation (%s) has no integer lowering yet", l->name,
                       l->act == TQ_ACT_SOFTMAX ? "softmax" : "sigmoid/swish");
      /* fallthrough */
    case TQ_L_RELU: {
      int src = L->map[l->inputs[0]];
      if (src < 0 && l->inputs[0] == 0 && l->act_q.kind != TQ_Q_NONE) {
        /* The model input: quantized by the input slot's static parameters. */
        if (!l->has_static) return tq_fail(TQ_ERR_ARG, "%s: no static scale", l->name);
        /* The runtime's input quantization has no clamp for a ReLU (the simulation applies it). */
        if (l->type != TQ_L_ACTIVATION || l->act != TQ_ACT_LINEAR)
          return tq_fail(TQ_ERR_UNSUPPORTED, "%s: a ReLU on the model input has no lowering",
                         l->name);
        int qb = tq_quantizer_bits(&l->act_q);
        int t = add_tensor(L->d, l->name, qb, l->qstatic.step, l->qstatic.zero_point,
                           l->qstatic.zmin, l->qstatic.zmax, l->out_shape);
        if (t < 0 || !add_op(L->d, D_QUANTIZE, l->name, -1, -1, t)) return TQ_ERR_MEMORY;
        L->map[li] = t;
        return TQ_OK;
      }
      if (src < 0) return tq_fail(TQ_ERR_UNSUPPORTED, "%s: its input is not quantized", l->name);
      if (l->type == TQ_L_ACTIVATION && l->act_q.kind == TQ_Q_NONE && l->act == TQ_ACT_LINEAR) {
        L->map[li] = src;
        return TQ_OK;
      }
      return lower_requant(L, li, src);
    }
    case TQ_L_DROPOUT:
    case TQ_L_FLATTEN:
    case TQ_L_RESHAPE:
      if (L->map[l->inputs[0]] < 0 && l->inputs[0] != 0)
        return tq_fail(TQ_ERR_UNSUPPORTED, "%s: its input is not quantized", l->name);
      L->map[li] = L->map[l->inputs[0]];
      return TQ_OK;
    case TQ_L_BATCHNORM:
      return tq_fail(TQ_ERR_UNSUPPORTED,
                     "%s: batch normalization that is not folded into a conv/dense layer",
                     l->name);
    default:
      return tq_fail(TQ_ERR_UNSUPPORTED, "%s: %s layers have no integer lowering", l->name,
                     tq_layer_type_name(l->type));
  }
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
  lowering L = {m, calloc((size_t)nl, sizeof(int)), tq_chain_implicit_bits(m),
                calloc(1, sizeof(tq_dmodel))};
  tq_status st = TQ_OK;
  if (!L.map || !L.d) {
    st = tq_fail(TQ_ERR_MEMORY, "out of memory");
    goto done;
  }
  snprintf(L.d->arch, sizeof L.d->arch, "%s", tq_model_arch(m));
  L.d->in_size = tq_shape_size(tq_model_input_shape(m));
  for (int i = 0; i < nl; i++) L.map[i] = -1;
  for (int i = 1; i < nl && !st; i++) st = lower_layer(&L, i);
  if (st) goto done;
  L.d->output = L.map[nl - 1];
  if (L.d->output < 0 || L.d->nops == 0 || L.d->ops[0].kind != D_QUANTIZE) {
    st = tq_fail(TQ_ERR_UNSUPPORTED,
                 "%s: the model input needs an activation quantizer (slot 'activation')",
                 tq_model_arch(m));
    goto done;
  }
  L.d->input = L.d->ops[0].out;
  tq_deploy_plan(L.d);
done:
  free(L.map);
  if (st) {
    tq_deploy_free(L.d);
    return st;
  }
  *out = L.d;
  return TQ_OK;
}
