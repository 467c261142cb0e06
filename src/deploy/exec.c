/* Integer evaluation inside tinyq: the integer graph run through the runtime's kernels, the very
 * functions (same names, same parameters) that the generated C calls. */
#include <stdlib.h>
#include <string.h>

#include "deploy/dmodel.h"

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

/* Index of the type combination: in (s8, s16) x w (s4, s8, s16) x out (s8, s16) x acc (32, 64),
 * in the order of TQ_RT_DECL_KFAMILY. */
#define KF(op)                                                                                     \
  {(void (*)(void))tq_rt_##op##_s8_s4w_s8, (void (*)(void))tq_rt_##op##_s8_s4w_s16,               \
   (void (*)(void))tq_rt_##op##_s8_s8w_s8, (void (*)(void))tq_rt_##op##_s8_s8w_s16,               \
   (void (*)(void))tq_rt_##op##_s8_s16w_s8, (void (*)(void))tq_rt_##op##_s8_s16w_s16,             \
   (void (*)(void))tq_rt_##op##_s16_s4w_s8, (void (*)(void))tq_rt_##op##_s16_s4w_s16,             \
   (void (*)(void))tq_rt_##op##_s16_s8w_s8, (void (*)(void))tq_rt_##op##_s16_s8w_s16,             \
   (void (*)(void))tq_rt_##op##_s16_s16w_s8, (void (*)(void))tq_rt_##op##_s16_s16w_s16,           \
   (void (*)(void))tq_rt_##op##_s8_s4w_s8_acc64, (void (*)(void))tq_rt_##op##_s8_s4w_s16_acc64,   \
   (void (*)(void))tq_rt_##op##_s8_s8w_s8_acc64, (void (*)(void))tq_rt_##op##_s8_s8w_s16_acc64,   \
   (void (*)(void))tq_rt_##op##_s8_s16w_s8_acc64, (void (*)(void))tq_rt_##op##_s8_s16w_s16_acc64, \
   (void (*)(void))tq_rt_##op##_s16_s4w_s8_acc64, (void (*)(void))tq_rt_##op##_s16_s4w_s16_acc64, \
   (void (*)(void))tq_rt_##op##_s16_s8w_s8_acc64, (void (*)(void))tq_rt_##op##_s16_s8w_s16_acc64, \
   (void (*)(void))tq_rt_##op##_s16_s16w_s8_acc64,                                                 \
   (void (*)(void))tq_rt_##op##_s16_s16w_s16_acc64}

static void (*const conv_table[24])(void) = KF(conv2d);
static void (*const dw_table[24])(void) = KF(depthwise_conv2d);
static void (*const dense_table[24])(void) = KF(dense);

#define IO(op)                                                                      \
  {(void (*)(void))tq_rt_##op##_s8_s8, (void (*)(void))tq_rt_##op##_s8_s16,        \
   (void (*)(void))tq_rt_##op##_s16_s8, (void (*)(void))tq_rt_##op##_s16_s16}
static void (*const maxpool_table[4])(void) = IO(max_pool2d);
static void (*const avgpool_table[4])(void) = IO(avg_pool2d);
static void (*const gap_table[4])(void) = IO(global_avg_pool);
static void (*const requant_table[4])(void) = IO(requant);
#define ABO(op)                                                                           \
  {(void (*)(void))tq_rt_##op##_s8_s8_s8, (void (*)(void))tq_rt_##op##_s8_s8_s16,        \
   (void (*)(void))tq_rt_##op##_s8_s16_s8, (void (*)(void))tq_rt_##op##_s8_s16_s16,      \
   (void (*)(void))tq_rt_##op##_s16_s8_s8, (void (*)(void))tq_rt_##op##_s16_s8_s16,      \
   (void (*)(void))tq_rt_##op##_s16_s16_s8, (void (*)(void))tq_rt_##op##_s16_s16_s16}
static void (*const add_table[8])(void) = ABO(add);

static const char *ty(int bits) { return bits == 8 ? "s8" : "s16"; }

static int kf_index(const tq_dmodel *d, const dop *o) {
  int in = d->t[o->in0].bits == 16, w = o->wbits == 4 ? 0 : o->wbits == 8 ? 1 : 2;
  int out = d->t[o->out].bits == 16;
  return o->acc64 * 12 + in * 6 + w * 2 + out;
}

static int io_index(const tq_dmodel *d, const dop *o) {
  return (d->t[o->in0].bits == 16) * 2 + (d->t[o->out].bits == 16);
}

void tq_dop_kernel_name(const tq_dmodel *d, const dop *o, char *buf, size_t n) {
  const char *in = o->in0 >= 0 ? ty(d->t[o->in0].bits) : "f32", *out = ty(d->t[o->out].bits);
  static const char *const ops[] = {"quantize", "conv2d", "depthwise_conv2d", "dense", "avg_pool2d",
                                    "max_pool2d", "global_avg_pool", "add", "requant", "mul_bcast"};
  switch (o->kind) {
    case D_QUANTIZE: snprintf(buf, n, "tq_rt_quantize_f32_%s", out); break;
    case D_CONV:
    case D_DW:
    case D_DENSE:
      snprintf(buf, n, "tq_rt_%s_%s_s%dw_%s%s", ops[o->kind], in, o->wbits, out,
               o->acc64 ? "_acc64" : "");
      break;
    case D_ADD:
    case D_MULB:
      snprintf(buf, n, "tq_rt_%s_%s_%s_%s", ops[o->kind], in, ty(d->t[o->in1].bits), out);
      break;
    default: snprintf(buf, n, "tq_rt_%s_%s_%s", ops[o->kind], in, out); break;
  }
}

tq_status tq_deploy_exec(tq_dmodel *d, const float *x, int n, void **bufs) {
  for (int i = 0; i < d->nt; i++) bufs[i] = NULL;
  for (int i = 0; i < d->nt; i++) {
    bufs[i] = malloc((size_t)n * d->t[i].size * (size_t)(d->t[i].bits / 8) + 8);
    if (!bufs[i]) return tq_fail(TQ_ERR_MEMORY, "out of memory");
  }
  for (int k = 0; k < d->nops; k++) {
    const dop *o = &d->ops[k];
    const dtensor *Y = &d->t[o->out];
    void *out = bufs[o->out];
    const void *in = o->in0 >= 0 ? bufs[o->in0] : NULL;
    tq_rt_conv_geom g = o->geom;
    g.n = n;
    tq_rt_status r = TQ_RT_OK;
    size_t count = (size_t)n * Y->size;
    switch (o->kind) {
      case D_QUANTIZE:
        r = Y->bits == 8 ? tq_rt_quantize_f32_s8(out, x, count, (float)Y->scale, Y->zp, Y->qmin, Y->qmax)
                         : tq_rt_quantize_f32_s16(out, x, count, (float)Y->scale, Y->zp, Y->qmin,
                                                  Y->qmax);
        break;
      case D_CONV:
        r = ((conv_fn)conv_table[kf_index(d, o)])(out, in, o->w, o->bias, &g, d->t[o->in0].zp, &o->rq);
        break;
      case D_DW:
        r = ((conv_fn)dw_table[kf_index(d, o)])(out, in, o->w, o->bias, &g, d->t[o->in0].zp, &o->rq);
        break;
      case D_DENSE:
        r = ((dense_fn)dense_table[kf_index(d, o)])(out, in, o->w, o->bias, n, o->in_dim, o->out_dim,
                                                    &o->rq);
        break;
      case D_MAXPOOL:
        r = ((pool_fn)maxpool_table[io_index(d, o)])(out, in, &g, d->t[o->in0].zp, &o->rq);
        break;
      case D_AVGPOOL:
        r = ((pool_fn)avgpool_table[io_index(d, o)])(out, in, &g, d->t[o->in0].zp, &o->rq);
        break;
      case D_GAP: {
        const dtensor *X = &d->t[o->in0];
        r = ((gpool_fn)gap_table[io_index(d, o)])(out, in, n, X->h * X->w, X->c, X->zp, &o->rq);
        break;
      }
      case D_REQUANT:
        r = ((requant_fn)requant_table[io_index(d, o)])(out, in, count, d->t[o->in0].zp, &o->rq);
        break;
      case D_ADD: {
        int idx = (d->t[o->in0].bits == 16) * 4 + (d->t[o->in1].bits == 16) * 2 + (Y->bits == 16);
        r = ((add_fn)add_table[idx])(out, in, bufs[o->in1], count, &o->add);
        break;
      }
      default:
        r = TQ_RT_ERR_ARG;
        break;
    }
    if (r != TQ_RT_OK) {
      char name[96];
      tq_dop_kernel_name(d, o, name, sizeof name);
      return tq_fail(TQ_ERR_ARG, "%s: runtime kernel %s rejected its arguments", o->layer, name);
    }
  }
  return TQ_OK;
}

int32_t tq_dtensor_code(const tq_dmodel *d, void *const *bufs, int t, size_t i) {
  return d->t[t].bits == 8 ? ((const int8_t *)bufs[t])[i] : ((const int16_t *)bufs[t])[i];
}

tq_status tq_deploy_run(tq_dmodel *d, const float *x, int n, int32_t *out_codes, float *out_float) {
  void **bufs = calloc((size_t)d->nt, sizeof(void *));
  if (!bufs) return tq_fail(TQ_ERR_MEMORY, "out of memory");
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

size_t tq_deploy_weight_bytes(const tq_dmodel *d) {
  size_t s = 0;
  for (int k = 0; k < d->nops; k++) {
    const dop *o = &d->ops[k];
    s += o->w_bytes;
    if (o->bias) s += (size_t)d->t[o->out].c * (o->acc64 ? 8 : 4);
    s += (size_t)o->channels * (o->rq.mode == TQ_RT_RQ_MULT ? 5 : 1);
  }
  return s;
}

void tq_deploy_print_plan(const tq_dmodel *d, FILE *out) {
  fprintf(out, "%-3s %-22s %-36s %-24s %7s %-12s %8s %8s %s\n", "#", "layer", "kernel", "output",
          "bytes", "scale", "zp", "offset", "acc");
  for (int k = 0; k < d->nops; k++) {
    const dop *o = &d->ops[k];
    const dtensor *t = &d->t[o->out];
    char name[96], shape[128];
    tq_dop_kernel_name(d, o, name, sizeof name);
    snprintf(shape, sizeof shape, "%s %dx%dx%d", t->name, t->h, t->w, t->c);
    const char *acc = "";
    if (o->kind == D_CONV || o->kind == D_DW || o->kind == D_DENSE)
      acc = o->acc64 ? "int64" : "int32";
    fprintf(out, "%-3d %-22s %-36s %-24s %7zu %-12.6g %8d %8zu %s%s%s\n", k, o->layer, name, shape,
            t->size * (size_t)(t->bits / 8), t->scale, t->zp, t->offset, acc,
            o->rq.mode == TQ_RT_RQ_MULT && o->kind != D_QUANTIZE ? " mult" : "",
            o->kind != D_QUANTIZE && o->rq.mode == TQ_RT_RQ_PO2 ? " shift" : "");
  }
  fprintf(out, "arena: %zu bytes (static, liveness-planned), weights: %zu bytes\n", d->arena,
          tq_deploy_weight_bytes(d));
}
