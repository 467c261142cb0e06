/* max_pool2d, avg_pool2d, global_avg_pool (arithmetic in tq_rt.h, "Pools"). */
#include "tq_rt.h"

/* floor(a / d) for d > 0. */
static int64_t tq_floor_div(int64_t a, int64_t d) {
  int64_t q = a / d;
  if (a % d != 0 && a < 0) q--;
  return q;
}

/* PO2 average: floor(S * 2^max(-n,0) / (cnt * 2^max(n,0)) + 1/2), exact (see tq_rt.h). */
static int64_t tq_avg_po2(int64_t s, int32_t cnt, int32_t n) {
  if (n > 0) {
    int64_t den;
    if (n >= 35) return 0; /* |s| < 2^33 <= den/4: rounds to 0 */
    den = (int64_t)cnt << n; /* even, <= 2^50 */
    return tq_floor_div(s + den / 2, den);
  }
  if (n < 0) {
    const int32_t l = -n + 1;
    const int64_t lim = l >= 62 ? 0 : (INT64_MAX - cnt) >> l;
    if (s > lim) return INT64_MAX;
    if (s < -lim) return INT64_MIN;
    return tq_floor_div(s * ((int64_t)1 << l) + cnt, 2 * (int64_t)cnt);
  }
  return tq_floor_div(2 * s + cnt, 2 * (int64_t)cnt);
}

/* Also bounds the zero point so that |S| < 2^33 (window <= 65536 elements). */
static int tq_pool_rq_ok(const tq_rt_requant *rq, int32_t c, int32_t tmin, int32_t tmax,
                         int32_t in_zp) {
  int32_t i;
  if (in_zp < -65536 || in_zp > 65536) return 0;
  if (tq_rt_requant_check(rq, c, tmin, tmax) != TQ_RT_OK) return 0;
  if (rq->mode == TQ_RT_RQ_PO2)
    for (i = 0; i < (rq->per_channel ? c : 1); i++)
      if (rq->shift[i] < -31) return 0; /* avg pools: documented range [-31, 62] */
  return 1;
}

#define TQ_POOLS(xn, XT, on, OT, OMIN, OMAX)                                                          \
  tq_rt_status tq_rt_max_pool2d_##xn##_##on##_ref(OT *out, const XT *in, const tq_rt_conv_geom *g,   \
                                                  int32_t in_zp, const tq_rt_requant *rq) {          \
    tq_rt_conv_geom G;                                                                              \
    tq_rt_requant Q;                                                                                \
    int32_t b, oh, ow, c, kh, kw;                                                                   \
    if (!out || !in || tq_rt_geom_check(g, TQ_RT_GEOM_POOL) != TQ_RT_OK ||                          \
        tq_rt_requant_check(rq, g->in_c, OMIN, OMAX) != TQ_RT_OK)                                   \
      return TQ_RT_ERR_ARG;                                                                         \
    G = *g;                                                                                         \
    Q = *rq;                                                                                        \
    for (b = 0; b < G.n; b++)                                                                       \
      for (oh = 0; oh < G.out_h; oh++) {                                                            \
        const int32_t ih0 = oh * G.stride_h - G.pad_top;                                            \
        const int32_t kh0 = ih0 < 0 ? -ih0 : 0;                                                     \
        const int32_t kh1 = G.in_h - ih0 < G.k_h ? G.in_h - ih0 : G.k_h;                            \
        for (ow = 0; ow < G.out_w; ow++) {                                                          \
          const int32_t iw0 = ow * G.stride_w - G.pad_left;                                         \
          const int32_t kw0 = iw0 < 0 ? -iw0 : 0;                                                   \
          const int32_t kw1 = G.in_w - iw0 < G.k_w ? G.in_w - iw0 : G.k_w;                          \
          OT *op = out + (((size_t)b * G.out_h + oh) * G.out_w + ow) * G.in_c;                      \
          for (c = 0; c < G.in_c; c++) {                                                            \
            int32_t m = -2147483647 - 1;                                                            \
            for (kh = kh0; kh < kh1; kh++) {                                                        \
              const XT *xp = in + (((size_t)b * G.in_h + ih0 + kh) * G.in_w + iw0 + kw0) * G.in_c + c; \
              for (kw = kw0; kw < kw1; kw++, xp += G.in_c)                                          \
                if (*xp > m) m = *xp;                                                               \
            }                                                                                       \
            op[c] = (OT)tq_rt_requant_apply((int64_t)m - in_zp, &Q, c);                             \
          }                                                                                         \
        }                                                                                           \
      }                                                                                             \
    return TQ_RT_OK;                                                                                \
  }                                                                                                 \
  tq_rt_status tq_rt_max_pool2d_##xn##_##on(OT *out, const XT *in, const tq_rt_conv_geom *g,       \
                                            int32_t in_zp, const tq_rt_requant *rq) {              \
    return tq_rt_max_pool2d_##xn##_##on##_ref(out, in, g, in_zp, rq);                               \
  }                                                                                                 \
  tq_rt_status tq_rt_avg_pool2d_##xn##_##on##_ref(OT *out, const XT *in, const tq_rt_conv_geom *g,   \
                                                  int32_t in_zp, const tq_rt_requant *rq) {          \
    tq_rt_conv_geom G;                                                                              \
    tq_rt_requant Q;                                                                                \
    int32_t b, oh, ow, c, kh, kw;                                                                   \
    if (!out || !in || tq_rt_geom_check(g, TQ_RT_GEOM_POOL) != TQ_RT_OK ||                          \
        (int64_t)g->k_h * g->k_w > 65536 || !tq_pool_rq_ok(rq, g->in_c, OMIN, OMAX, in_zp))                \
      return TQ_RT_ERR_ARG;                                                                         \
    if (rq->mode == TQ_RT_RQ_MULT &&                                                                \
        (g->pad_top | g->pad_bottom | g->pad_left | g->pad_right) != 0)                             \
      return TQ_RT_ERR_ARG;                                                                         \
    G = *g;                                                                                         \
    Q = *rq;                                                                                        \
    for (b = 0; b < G.n; b++)                                                                       \
      for (oh = 0; oh < G.out_h; oh++) {                                                            \
        const int32_t ih0 = oh * G.stride_h - G.pad_top;                                            \
        const int32_t kh0 = ih0 < 0 ? -ih0 : 0;                                                     \
        const int32_t kh1 = G.in_h - ih0 < G.k_h ? G.in_h - ih0 : G.k_h;                            \
        for (ow = 0; ow < G.out_w; ow++) {                                                          \
          const int32_t iw0 = ow * G.stride_w - G.pad_left;                                         \
          const int32_t kw0 = iw0 < 0 ? -iw0 : 0;                                                   \
          const int32_t kw1 = G.in_w - iw0 < G.k_w ? G.in_w - iw0 : G.k_w;                          \
          const int32_t cnt = (kh1 - kh0) * (kw1 - kw0);                                            \
          OT *op = out + (((size_t)b * G.out_h + oh) * G.out_w + ow) * G.in_c;                      \
          for (c = 0; c < G.in_c; c++) {                                                            \
            const int32_t i = Q.per_channel ? c : 0;                                                \
            int32_t sx = 0;                                                                         \
            int64_t s, v;                                                                           \
            for (kh = kh0; kh < kh1; kh++) {                                                        \
              const XT *xp = in + (((size_t)b * G.in_h + ih0 + kh) * G.in_w + iw0 + kw0) * G.in_c + c; \
              for (kw = kw0; kw < kw1; kw++, xp += G.in_c) sx += *xp;                               \
            }                                                                                       \
            s = (int64_t)sx - (int64_t)cnt * in_zp;                                                 \
            v = Q.mode == TQ_RT_RQ_PO2 ? tq_avg_po2(s, cnt, Q.shift[i])                             \
                                       : tq_rt_requant_mult_s64(s, Q.mult[i], Q.shift[i]);          \
            op[c] = (OT)tq_rt_clamp_zp(v, Q.out_zp, Q.act_min, Q.act_max);                          \
          }                                                                                         \
        }                                                                                           \
      }                                                                                             \
    return TQ_RT_OK;                                                                                \
  }                                                                                                 \
  tq_rt_status tq_rt_avg_pool2d_##xn##_##on(OT *out, const XT *in, const tq_rt_conv_geom *g,       \
                                            int32_t in_zp, const tq_rt_requant *rq) {              \
    return tq_rt_avg_pool2d_##xn##_##on##_ref(out, in, g, in_zp, rq);                               \
  }                                                                                                 \
  tq_rt_status tq_rt_global_avg_pool_##xn##_##on##_ref(OT *out, const XT *in, int32_t n,            \
                                                       int32_t hw, int32_t c, int32_t in_zp,        \
                                                       const tq_rt_requant *rq) {                   \
    tq_rt_requant Q;                                                                                \
    int32_t b, p, ch;                                                                               \
    if (!out || !in || n < 1 || hw < 1 || hw > 65536 || c < 1 ||                                    \
        (int64_t)hw * c > INT32_MAX || !tq_pool_rq_ok(rq, c, OMIN, OMAX, in_zp))                           \
      return TQ_RT_ERR_ARG;                                                                         \
    Q = *rq;                                                                                        \
    for (b = 0; b < n; b++) {                                                                       \
      const XT *xb = in + (size_t)b * hw * c;                                                       \
      for (ch = 0; ch < c; ch++) {                                                                  \
        const int32_t i = Q.per_channel ? ch : 0;                                                   \
        int32_t sx = 0;                                                                             \
        int64_t s, v;                                                                               \
        const XT *xp = xb + ch;                                                                     \
        for (p = 0; p < hw; p++, xp += c) sx += *xp;                                                \
        s = (int64_t)sx - (int64_t)hw * in_zp;                                                      \
        v = Q.mode == TQ_RT_RQ_PO2 ? tq_avg_po2(s, hw, Q.shift[i])                                  \
                                   : tq_rt_requant_mult_s64(s, Q.mult[i], Q.shift[i]);              \
        out[(size_t)b * c + ch] = (OT)tq_rt_clamp_zp(v, Q.out_zp, Q.act_min, Q.act_max);            \
      }                                                                                             \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }                                                                                                 \
  tq_rt_status tq_rt_global_avg_pool_##xn##_##on(OT *out, const XT *in, int32_t n, int32_t hw,     \
                                                 int32_t c, int32_t in_zp,                          \
                                                 const tq_rt_requant *rq) {                         \
    return tq_rt_global_avg_pool_##xn##_##on##_ref(out, in, n, hw, c, in_zp, rq);                   \
  }

TQ_POOLS(s8, int8_t, s8, int8_t, -128, 127)
TQ_POOLS(s8, int8_t, s16, int16_t, -32768, 32767)
TQ_POOLS(s16, int16_t, s8, int8_t, -128, 127)
TQ_POOLS(s16, int16_t, s16, int16_t, -32768, 32767)
