/* Elementwise kernels: requant, clamp (ReLU/ReLU6), add, channel-broadcast multiply, pad, argmax,
 * quantize/dequantize (arithmetic in tq_rt.h), every combination of their type lists. */
#include <string.h>

#include "tq_rt_internal.h"

/* ---- requant ----------------------------------------------------------------------------------------- */
#define TQ_REQUANT(op, xn, on)                                                                      \
  tq_rt_status tq_rt_##op##_##xn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in, size_t count,    \
                                        int32_t in_zp, const tq_rt_requant *rq) {                   \
    tq_rt_requant Q;                                                                                \
    size_t i;                                                                                       \
    if ((!out || !in) && count) return TQ_RT_ERR_ARG;                                               \
    if (tq_rt_requant_check(rq, 1, TQ_RT_MIN(on), TQ_RT_MAX(on)) != TQ_RT_OK) return TQ_RT_ERR_ARG; \
    Q = *rq;                                                                                        \
    Q.per_channel = 0;                                                                              \
    for (i = 0; i < count; i++)                                                                     \
      out[i] = (TQ_RT_CT(on))tq_rt_requant_apply((int64_t)in[i] - in_zp, &Q, 0);                    \
    return TQ_RT_OK;                                                                                \
  }
TQ_RT_IO_TYPES(TQ_REQUANT, requant)

/* ---- clamp ------------------------------------------------------------------------------------------- */
#define TQ_CLAMP(op, tn)                                                                            \
  tq_rt_status tq_rt_##op##_##tn(TQ_RT_CT(tn) *out, const TQ_RT_CT(tn) *in, size_t count,           \
                                 int32_t lo, int32_t hi) {                                          \
    size_t i;                                                                                       \
    if (((!out || !in) && count) || lo > hi || lo < TQ_RT_MIN(tn) || hi > TQ_RT_MAX(tn))            \
      return TQ_RT_ERR_ARG;                                                                         \
    for (i = 0; i < count; i++) {                                                                   \
      const int32_t v = in[i];                                                                      \
      out[i] = (TQ_RT_CT(tn))(v < lo ? lo : v > hi ? hi : v);                                       \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }
TQ_RT_ONE_TYPES(TQ_CLAMP, clamp)

/* ---- add --------------------------------------------------------------------------------------------- */
static tq_rt_status tq_add_check(const tq_rt_add_params *p, int32_t tmin, int32_t tmax) {
  if (!p || p->act_min > p->act_max || p->act_min < tmin || p->act_max > tmax) return TQ_RT_ERR_ARG;
  if (p->a_zp < -65536 || p->a_zp > 65536 || p->b_zp < -65536 || p->b_zp > 65536)
    return TQ_RT_ERR_ARG; /* keeps (x - z) * 2^left_shift inside int64 */
  if (p->mode == TQ_RT_RQ_PO2) return TQ_RT_OK;
  if (p->mode != TQ_RT_RQ_MULT || p->left_shift < 0 || p->left_shift > 31 || p->a_mult < 0 ||
      p->b_mult < 0 || p->out_mult < 0 || p->a_shift < -31 || p->a_shift > 62 ||
      p->b_shift < -31 || p->b_shift > 62 || p->out_shift < -31 || p->out_shift > 62)
    return TQ_RT_ERR_ARG;
  return TQ_RT_OK;
}

#define TQ_ADD(op, an, AT, bn, BT, on, OT, OMIN, OMAX)                                              \
  tq_rt_status tq_rt_##op##_##an##_##bn##_##on(OT *out, const AT *a, const BT *b, size_t count,     \
                                               const tq_rt_add_params *p) {                         \
    tq_rt_add_params P;                                                                             \
    size_t i;                                                                                       \
    if (((!out || !a || !b) && count) || tq_add_check(p, OMIN, OMAX) != TQ_RT_OK)                   \
      return TQ_RT_ERR_ARG;                                                                         \
    P = *p;                                                                                         \
    if (P.mode == TQ_RT_RQ_PO2) {                                                                   \
      for (i = 0; i < count; i++) {                                                                 \
        const int64_t va = tq_rt_rshift_round_s64((int64_t)a[i] - P.a_zp, P.a_shift);               \
        const int64_t vb = tq_rt_rshift_round_s64((int64_t)b[i] - P.b_zp, P.b_shift);               \
        /* va, vb are saturated int64: keep the sum saturated too */                                \
        const int64_t s = (vb > 0 && va > INT64_MAX - vb)   ? INT64_MAX                             \
                          : (vb < 0 && va < INT64_MIN - vb) ? INT64_MIN                             \
                                                            : va + vb;                              \
        out[i] = (OT)tq_rt_clamp_zp(tq_rt_rshift_round_s64(s, P.out_shift), P.out_zp, P.act_min,    \
                                    P.act_max);                                                     \
      }                                                                                             \
    } else {                                                                                        \
      const int64_t ls = (int64_t)1 << P.left_shift;                                                \
      for (i = 0; i < count; i++) {                                                                 \
        const int64_t va =                                                                          \
            tq_rt_requant_mult_s64(((int64_t)a[i] - P.a_zp) * ls, P.a_mult, P.a_shift);             \
        const int64_t vb =                                                                          \
            tq_rt_requant_mult_s64(((int64_t)b[i] - P.b_zp) * ls, P.b_mult, P.b_shift);             \
        out[i] = (OT)tq_rt_clamp_zp(tq_rt_requant_mult_s64(va + vb, P.out_mult, P.out_shift),       \
                                    P.out_zp, P.act_min, P.act_max);                                \
      }                                                                                             \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }

/* ---- channel-broadcast multiply (squeeze-excite) ------------------------------------------------------ */
#define TQ_MULB(op, xn, XT, gn, GT, on, OT, OMIN, OMAX)                                             \
  tq_rt_status tq_rt_##op##_##xn##_##gn##_##on(OT *out, const XT *x, const GT *g, int32_t n,        \
                                               int32_t p, int32_t c, int32_t x_zp, int32_t g_zp,    \
                                               const tq_rt_requant *rq) {                           \
    tq_rt_requant Q;                                                                                \
    int32_t b, q, ch;                                                                               \
    if (!out || !x || !g || n < 1 || p < 1 || c < 1 ||                                              \
        tq_rt_requant_check(rq, 1, OMIN, OMAX) != TQ_RT_OK)                                         \
      return TQ_RT_ERR_ARG;                                                                         \
    Q = *rq;                                                                                        \
    Q.per_channel = 0;                                                                              \
    for (b = 0; b < n; b++)                                                                         \
      for (q = 0; q < p; q++) {                                                                     \
        const size_t base = ((size_t)b * p + q) * c;                                                \
        for (ch = 0; ch < c; ch++) {                                                                \
          const int64_t gv = (int64_t)g[(size_t)b * c + ch] - g_zp;                                 \
          const int64_t acc = ((int64_t)x[base + ch] - x_zp) * gv;                                  \
          out[base + ch] = (OT)tq_rt_requant_apply(acc, &Q, 0);                                     \
        }                                                                                           \
      }                                                                                             \
    return TQ_RT_OK;                                                                                \
  }

#define TQ_ABO_AT(M_, op, an, bn, on)                                                               \
  M_(op, an, TQ_RT_CT(an), bn, TQ_RT_CT(bn), on, TQ_RT_CT(on), TQ_RT_MIN(on), TQ_RT_MAX(on))
#define TQ_ADD_AT(op, an, bn, on) TQ_ABO_AT(TQ_ADD, op, an, bn, on)
#define TQ_MULB_AT(op, an, bn, on) TQ_ABO_AT(TQ_MULB, op, an, bn, on)
TQ_RT_ABO_TYPES(TQ_ADD_AT, add)
TQ_RT_ABO_TYPES(TQ_MULB_AT, mul_bcast)

/* ---- pad --------------------------------------------------------------------------------------------- */
#define TQ_PAD(op, tn)                                                                              \
  tq_rt_status tq_rt_##op##_##tn(TQ_RT_CT(tn) *out, const TQ_RT_CT(tn) *in,                         \
                                 const tq_rt_conv_geom *g, int32_t value) {                         \
    int32_t b, h, w;                                                                                \
    if (!out || !in || tq_rt_geom_check(g, TQ_RT_GEOM_PAD) != TQ_RT_OK ||                           \
        value < TQ_RT_MIN(tn) || value > TQ_RT_MAX(tn))                                             \
      return TQ_RT_ERR_ARG;                                                                         \
    for (b = 0; b < g->n; b++)                                                                      \
      for (h = 0; h < g->out_h; h++) {                                                              \
        const int32_t ih = h - g->pad_top, row = g->out_w * g->in_c;                                \
        TQ_RT_CT(tn) *y = out + ((size_t)b * g->out_h + h) * row;                                   \
        if (ih < 0 || ih >= g->in_h) {                                                              \
          for (w = 0; w < row; w++) y[w] = (TQ_RT_CT(tn))value;                                     \
          continue;                                                                                 \
        }                                                                                           \
        for (w = 0; w < g->pad_left * g->in_c; w++) y[w] = (TQ_RT_CT(tn))value;                     \
        memcpy(y + w, in + ((size_t)b * g->in_h + ih) * g->in_w * g->in_c,                          \
               (size_t)g->in_w * g->in_c * sizeof *y);                                              \
        for (w += g->in_w * g->in_c; w < row; w++) y[w] = (TQ_RT_CT(tn))value;                      \
      }                                                                                             \
    return TQ_RT_OK;                                                                                \
  }
TQ_RT_ONE_TYPES(TQ_PAD, pad)

/* ---- argmax ------------------------------------------------------------------------------------------ */
#define TQ_ARGMAX(op, xn)                                                                           \
  tq_rt_status tq_rt_##op##_##xn(int32_t *idx, const TQ_RT_CT(xn) *in, int32_t n, int32_t c) {      \
    int32_t b, j;                                                                                   \
    if (!idx || !in || n < 1 || c < 1) return TQ_RT_ERR_ARG;                                        \
    for (b = 0; b < n; b++) {                                                                       \
      const TQ_RT_CT(xn) *row = in + (size_t)b * c;                                                 \
      int32_t best = 0;                                                                             \
      for (j = 1; j < c; j++)                                                                       \
        if (row[j] > row[best]) best = j;                                                           \
      idx[b] = best;                                                                                \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }
TQ_RT_ONE_TYPES(TQ_ARGMAX, argmax)

/* ---- quantize / dequantize ---------------------------------------------------------------------------- */
/* Single-precision and integer arithmetic only: a Cortex-M4F's FPU has no double, and a double here
 * would call software routines for every input element. Rounding half away from zero without the
 * float error of floor(|u| + 0.5f) (which rounds 0.49999997 up): i = trunc(|u|) and |u| - i are both
 * exact in float (|u| < 2^31; below 2^23 the difference is an exact Sterbenz subtraction, above it |u|
 * is already an integer), so the result equals sign(u) * floor(|u| + 1/2) in real arithmetic — the
 * value the earlier double formula computed. */
int32_t tq_rt_quantize_value(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  float u, au;
  int32_t i;
  if (x != x) return zp < qmin ? qmin : zp > qmax ? qmax : zp; /* NaN */
  if (x < 1e-7f && x > -1e-7f) x = 0.0f;
  u = x / scale + (float)zp - 1.526e-5f;
  if (!(u == u)) return zp < qmin ? qmin : zp > qmax ? qmax : zp;
  au = u < 0.0f ? -u : u;
  /* |u| >= 2^31 rounds beyond every int32 bound (and -2^31 itself clamps to qmin >= -2^31) */
  if (au >= 2147483648.0f) return u < 0.0f ? qmin : qmax;
  i = (int32_t)au;
  if (au - (float)i >= 0.5f) i++; /* only when |u| < 2^23: no overflow */
  if (u < 0.0f) i = -i;
  return i < qmin ? qmin : i > qmax ? qmax : i;
}

#define TQ_QUANT(op, on)                                                                            \
  tq_rt_status tq_rt_##op##_##on(TQ_RT_CT(on) *out, const float *in, size_t count, float scale,     \
                                 int32_t zp, int32_t qmin, int32_t qmax) {                          \
    size_t i;                                                                                       \
    if (((!out || !in) && count) || !(scale > 0.0f) || qmin > qmax || qmin < TQ_RT_MIN(on) ||       \
        qmax > TQ_RT_MAX(on))                                                                       \
      return TQ_RT_ERR_ARG;                                                                         \
    for (i = 0; i < count; i++)                                                                     \
      out[i] = (TQ_RT_CT(on))tq_rt_quantize_value(in[i], scale, zp, qmin, qmax);                    \
    return TQ_RT_OK;                                                                                \
  }                                                                                                 \
  tq_rt_status tq_rt_dequantize_##on##_f32(float *out, const TQ_RT_CT(on) *in, size_t count,        \
                                           float scale, int32_t zp) {                               \
    size_t i;                                                                                       \
    if ((!out || !in) && count) return TQ_RT_ERR_ARG;                                               \
    for (i = 0; i < count; i++) out[i] = scale * (float)((int64_t)in[i] - zp);                      \
    return TQ_RT_OK;                                                                                \
  }
TQ_RT_ONE_TYPES(TQ_QUANT, quantize_f32)
