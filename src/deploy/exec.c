/* Integer evaluation inside tinyq: the integer graph run through the runtime's kernels, the very
 * functions (same names, same parameters) that the generated C calls. */
#include <stdlib.h>
#include <string.h>

#include "deploy/dmodel.h"

typedef tq_rt_status (*quantize_fn)(void *, const float *, size_t, float, int32_t, int32_t, int32_t);
typedef tq_rt_status (*conv_fn)(void *, const void *, const void *, const void *,
                                const tq_rt_conv_geom *, int32_t, const tq_rt_requant *);
typedef tq_rt_status (*dense_fn)(void *, const void *, const void *, const void *, int32_t, int32_t,
                                 int32_t, const tq_rt_requant *);
typedef tq_rt_status (*pool_fn)(void *, const void *, const tq_rt_conv_geom *, int32_t,
                                const tq_rt_requant *);
typedef tq_rt_status (*gpool_fn)(void *, const void *, int32_t, int32_t, int32_t, int32_t,
                                 const tq_rt_requant *);
typedef tq_rt_status (*requant_fn)(void *, const void *, size_t, int32_t, const tq_rt_requant *);
typedef tq_rt_status (*add_fn)(void *, const void *, const void *, size_t,
                               const tq_rt_add_params *);
typedef tq_rt_status (*pad_fn)(void *, const void *, const tq_rt_conv_geom *, int32_t);
typedef tq_rt_status (*lut8_fn)(void *, const void *, size_t, const void *);
typedef tq_rt_status (*lut16_fn)(void *, const void *, size_t, const void *, int32_t, int32_t);
typedef tq_rt_status (*mul_fn)(void *, const void *, const void *, int32_t, int32_t, int32_t, int32_t,
                               int32_t, const tq_rt_requant *);

/* One runtime kernel: its name and address, and the bits of its operands (input x, weights w, second
 * input b, output o, accumulator acc; 0 where the kernel has no such operand, or a float input). */
typedef struct {
  const char *name;
  void (*fn)(void);
  int x, w, b, o, acc;
} kernel;

/* The runtime's type lists (tq_rt_types.h) as tables: every kernel the runtime has, by operation. */
#define K_WEIGHTED(op, xn, wn, on, an)                                                              \
  {TQ_RT_STR(TQ_RT_WNAME(op, xn, wn, on, an)), (void (*)(void))TQ_RT_WNAME(op, xn, wn, on, an),     \
   TQ_RT_BITS(xn), TQ_RT_BITS(wn), 0, TQ_RT_BITS(on), TQ_RT_BITS(an)},
#define K_IO(op, xn, on)                                                                            \
  {"tq_rt_" #op "_" #xn "_" #on, (void (*)(void))tq_rt_##op##_##xn##_##on, TQ_RT_BITS(xn), 0, 0,    \
   TQ_RT_BITS(on), 0},
#define K_ABO(op, an, bn, on)                                                                       \
  {"tq_rt_" #op "_" #an "_" #bn "_" #on, (void (*)(void))tq_rt_##op##_##an##_##bn##_##on,           \
   TQ_RT_BITS(an), 0, TQ_RT_BITS(bn), TQ_RT_BITS(on), 0},
#define K_SAME(op, tn) /* input and output of one type */                                           \
  {"tq_rt_" #op "_" #tn, (void (*)(void))tq_rt_##op##_##tn, TQ_RT_BITS(tn), 0, 0, TQ_RT_BITS(tn), 0},
#define K_FLOAT_IN(op, tn)                                                                          \
  {"tq_rt_" #op "_" #tn, (void (*)(void))tq_rt_##op##_##tn, 0, 0, 0, TQ_RT_BITS(tn), 0},
#define K_LUT(op, tn, xbits)                                                                        \
  {"tq_rt_" #op "_" #tn, (void (*)(void))tq_rt_##op##_##tn, xbits, 0, 0, TQ_RT_BITS(tn), 0},
#define K_LUT8(op, tn) K_LUT(op, tn, 8)
#define K_LUT16(op, tn) K_LUT(op, tn, 16)

static const kernel quantize_k[] = {TQ_RT_ONE_TYPES(K_FLOAT_IN, quantize_f32)};
static const kernel conv_k[] = {TQ_RT_WEIGHTED_TYPES(K_WEIGHTED, conv2d)};
static const kernel dw_k[] = {TQ_RT_WEIGHTED_TYPES(K_WEIGHTED, depthwise_conv2d)};
static const kernel dense_k[] = {TQ_RT_WEIGHTED_TYPES(K_WEIGHTED, dense)};
static const kernel avgpool_k[] = {TQ_RT_IO_TYPES(K_IO, avg_pool2d)};
static const kernel maxpool_k[] = {TQ_RT_IO_TYPES(K_IO, max_pool2d)};
static const kernel gap_k[] = {TQ_RT_IO_TYPES(K_IO, global_avg_pool)};
static const kernel add_k[] = {TQ_RT_ABO_TYPES(K_ABO, add)};
static const kernel requant_k[] = {TQ_RT_IO_TYPES(K_IO, requant)};
static const kernel pad_k[] = {TQ_RT_ONE_TYPES(K_SAME, pad)};
static const kernel lut_k[] = {TQ_RT_ONE_TYPES(K_LUT8, lut_s8) TQ_RT_ONE_TYPES(K_LUT16, lut_s16)};
static const kernel mul_k[] = {TQ_RT_ABO_TYPES(K_ABO, mul_bcast)};

#define KERNELS(t) {t, (int)(sizeof t / sizeof t[0])}
static const struct {
  const kernel *k;
  int n;
} kernels_of[] = {
    [D_QUANTIZE] = KERNELS(quantize_k), [D_CONV] = KERNELS(conv_k),
    [D_DW] = KERNELS(dw_k),             [D_DENSE] = KERNELS(dense_k),
    [D_AVGPOOL] = KERNELS(avgpool_k),   [D_MAXPOOL] = KERNELS(maxpool_k),
    [D_GAP] = KERNELS(gap_k),           [D_ADD] = KERNELS(add_k),
    [D_REQUANT] = KERNELS(requant_k),   [D_PAD] = KERNELS(pad_k),
    [D_LUT] = KERNELS(lut_k),           [D_MUL] = KERNELS(mul_k),
};
_Static_assert(sizeof kernels_of / sizeof kernels_of[0] == D_COUNT, "one kernel list per dop_kind");

/* The kernel whose operand types are the operation's, or NULL. */
static const kernel *kernel_of(const tq_dmodel *d, const dop *o) {
  const int x = o->in0 >= 0 ? d->t[o->in0].bits : 0, b = o->in1 >= 0 ? d->t[o->in1].bits : 0;
  const int y = d->t[o->out].bits, acc = o->wbits ? (o->acc64 ? 64 : 32) : 0;
  if ((unsigned)o->kind >= D_COUNT) return NULL;
  for (int i = 0; i < kernels_of[o->kind].n; i++) {
    const kernel *k = &kernels_of[o->kind].k[i];
    if (k->x == x && k->w == o->wbits && k->b == b && k->o == y && k->acc == acc) return k;
  }
  return NULL;
}

const char *tq_dop_kernel_name(const tq_dmodel *d, const dop *o) {
  const kernel *k = kernel_of(d, o);
  return k ? k->name : NULL;
}

/* Runs operation o on batch n: the kernel k with o's parameters, exactly as the generated code calls it. */
static tq_rt_status run_op(const tq_dmodel *d, const dop *o, const kernel *k, int n, const float *x,
                           void **bufs) {
  const dtensor *X = o->in0 >= 0 ? &d->t[o->in0] : NULL, *Y = &d->t[o->out];
  void *out = bufs[o->out];
  const void *in = X ? bufs[o->in0] : NULL;
  const size_t count = (size_t)n * Y->size;
  tq_rt_conv_geom g = o->geom;
  g.n = n;
  switch (o->kind) {
    case D_QUANTIZE:
      return ((quantize_fn)k->fn)(out, x, count, (float)Y->scale, Y->zp, Y->qmin, Y->qmax);
    case D_CONV:
    case D_DW:
      return ((conv_fn)k->fn)(out, in, o->w, o->bias, &g, X->zp, &o->rq);
    case D_DENSE:
      return ((dense_fn)k->fn)(out, in, o->w, o->bias, n, o->in_dim, o->out_dim, &o->rq);
    case D_AVGPOOL:
    case D_MAXPOOL:
      return ((pool_fn)k->fn)(out, in, &g, X->zp, &o->rq);
    case D_GAP:
      return ((gpool_fn)k->fn)(out, in, n, g.in_h * g.in_w, g.in_c, X->zp, &o->rq);
    case D_REQUANT:
      return ((requant_fn)k->fn)(out, in, count, X->zp, &o->rq);
    case D_ADD:
      return ((add_fn)k->fn)(out, in, bufs[o->in1], count, &o->add);
    case D_PAD:
      return ((pad_fn)k->fn)(out, in, &g, X->zp);
    case D_LUT:
      return X->bits == 8 ? ((lut8_fn)k->fn)(out, in, count, o->w)
                          : ((lut16_fn)k->fn)(out, in, count, o->w, o->lut_min, o->lut_k);
    case D_MUL:
      return ((mul_fn)k->fn)(out, in, bufs[o->in1], n, g.in_h * g.in_w, g.in_c, X->zp,
                             d->t[o->in1].zp, &o->rq);
    case D_COUNT:
      break;
  }
  return TQ_RT_ERR_ARG;
}

tq_status tq_deploy_exec(tq_dmodel *d, const float *x, int n, void **bufs) {
  for (int i = 0; i < d->nt; i++) bufs[i] = NULL;
  for (int i = 0; i < d->nt; i++) {
    bufs[i] = malloc((size_t)n * d->t[i].size * (size_t)(d->t[i].bits / 8) + 8);
    if (!bufs[i]) return tq_deploy_oom(d->t[i].name);
  }
  for (int k = 0; k < d->nops; k++) {
    const dop *o = &d->ops[k];
    const kernel *kn = kernel_of(d, o);
    if (!kn) return tq_fail(TQ_ERR_UNSUPPORTED, "%s: no runtime kernel for its types", o->layer);
    if (run_op(d, o, kn, n, x, bufs) != TQ_RT_OK)
      return tq_fail(TQ_ERR_ARG, "%s: runtime kernel %s rejected its arguments", o->layer, kn->name);
  }
  return TQ_OK;
}

int32_t tq_dtensor_code(const tq_dmodel *d, void *const *bufs, int t, size_t i) {
  return d->t[t].bits == 8 ? ((const int8_t *)bufs[t])[i] : ((const int16_t *)bufs[t])[i];
}

tq_status tq_deploy_run(tq_dmodel *d, const float *x, int n, int32_t *out_codes, float *out_float) {
  void **bufs = calloc((size_t)d->nt, sizeof(void *));
  if (!bufs) return tq_deploy_oom(d->arch);
  tq_status st = tq_deploy_exec(d, x, n, bufs);
  if (!st) {
    const dtensor *Y = &d->t[d->output];
    size_t count = (size_t)n * Y->size;
    for (size_t i = 0; i < count; i++) {
      int32_t c = tq_dtensor_code(d, bufs, d->output, i);
      if (out_codes) out_codes[i] = c;
      if (out_float) out_float[i] = (float)Y->scale * (float)(c - Y->zp);
    }
  }
  for (int i = 0; i < d->nt; i++) free(bufs[i]);
  free(bufs);
  return st;
}

size_t tq_deploy_input_size(const tq_dmodel *d) { return d->in_size; }
size_t tq_deploy_output_size(const tq_dmodel *d) { return d->t[d->output].size; }
size_t tq_deploy_arena_bytes(const tq_dmodel *d) { return d->arena; }

size_t tq_dop_weight_bytes(const tq_dmodel *d, const dop *o) {
  size_t s = o->w_bytes;
  if (o->bias) s += (size_t)d->t[o->out].c * (o->acc64 ? 8 : 4);
  return s + (size_t)o->channels * (o->rq.mode == TQ_RT_RQ_MULT ? 5 : 1);
}

size_t tq_deploy_weight_bytes(const tq_dmodel *d) {
  size_t s = 0;
  for (int k = 0; k < d->nops; k++) s += tq_dop_weight_bytes(d, &d->ops[k]);
  return s;
}

/* How an operation rescales its output in the plan: " shift" (powers of two), " mult" (Q31 multipliers),
 * " table", or nothing (quantize and pad keep or set the scale directly). */
static const char *rescale_of(const dop *o) {
  switch (o->kind) {
    case D_QUANTIZE:
    case D_PAD:
    case D_COUNT:
      return "";
    case D_LUT:
      return " table";
    case D_ADD:
      return o->add.mode == TQ_RT_RQ_MULT ? " mult" : " shift";
    case D_CONV:
    case D_DW:
    case D_DENSE:
    case D_AVGPOOL:
    case D_MAXPOOL:
    case D_GAP:
    case D_REQUANT:
    case D_MUL:
      break;
  }
  return o->rq.mode == TQ_RT_RQ_MULT ? " mult" : " shift";
}

void tq_deploy_print_plan(const tq_dmodel *d, FILE *out) {
  fprintf(out, "%-3s %-22s %-36s %-24s %7s %-12s %8s %8s %s\n", "#", "layer", "kernel", "output",
          "bytes", "scale", "zp", "offset", "acc");
  for (int k = 0; k < d->nops; k++) {
    const dop *o = &d->ops[k];
    const dtensor *t = &d->t[o->out];
    const char *name = tq_dop_kernel_name(d, o);
    char shape[128];
    snprintf(shape, sizeof shape, "%s %dx%dx%d", t->name, t->h, t->w, t->c);
    fprintf(out, "%-3d %-22s %-36s %-24s %7zu %-12.6g %8d %8zu %s%s\n", k, o->layer,
            name ? name : "?", shape, t->size * (size_t)(t->bits / 8), t->scale, t->zp, t->offset,
            o->wbits ? (o->acc64 ? "int64" : "int32") : "", rescale_of(o));
  }
  fprintf(out, "arena: %zu bytes (static, liveness-planned), weights: %zu bytes\n", d->arena,
          tq_deploy_weight_bytes(d));
}
