/* max_pool2d, avg_pool2d, global_avg_pool (arithmetic in tq_rt.h, "Pools"), every combination of
 * TQ_RT_IO_TYPES. */
#include "tq_rt_internal.h"

/* floor(a / d) for d > 0. */
static int64_t tq_floor_div(int64_t a, int64_t d) {
  int64_t q = a / d;
  if (a % d != 0 && a < 0) q--;
  return q;
}

/* The PO2 average (tq_rt.h, "Pools"): exact, no intermediate beyond int64. */
int64_t tq_rt_avg_po2_s64(int64_t s, int32_t cnt, int32_t n) {
  if (n > 0) {
    int64_t den;
    if (n >= 35) return 0; /* |s| < 2^33 <= den/4: rounds to 0 */
    den = (int64_t)cnt << n; /* even, <= 2^50 */
    return tq_floor_div(s + den / 2, den);
  }
  if (n < 0) { /* S * 2^l with l = 1 - n, computed only where it fits: no shift by 62 or more, no
                * -n of INT32_MIN */
    const int64_t lim = n <= -61 ? 0 : (INT64_MAX - cnt) >> (1 - n);
    if (s > lim) return INT64_MAX;
    if (s < -lim) return INT64_MIN;
    if (s == 0) return 0; /* cnt / (2 cnt) */
    return tq_floor_div(s * ((int64_t)1 << (1 - n)) + cnt, 2 * (int64_t)cnt);
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

/* Both 2-D pools, for arguments already checked (G and Q: local copies, as int8 output stores may
 * alias anything a pointer reaches). Max: m over the valid window, requantized from m - z_X. Average:
 * S = sum of (x - z_X) over the valid window of cnt elements, divided in PO2 mode, in MULT mode by the
 * multiplier (which has 1/cnt folded in). */
#define TQ_POOL2D(op, xn, on)                                                                       \
  static void tq_##op##_##xn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in,                      \
                                    tq_rt_conv_geom G, int32_t in_zp, tq_rt_requant Q, int max) {   \
    int32_t b, oh, ow, c, kh, kw;                                                                   \
    for (b = 0; b < G.n; b++)                                                                       \
      for (oh = 0; oh < G.out_h; oh++)                                                              \
        for (ow = 0; ow < G.out_w; ow++) {                                                          \
          tq_rt_i_window win;                                                                       \
          int32_t cnt;                                                                              \
          TQ_RT_CT(on) *y = out + (((size_t)b * G.out_h + oh) * G.out_w + ow) * G.in_c;             \
          tq_rt_i_window_at(&win, &G, oh, ow);                                                      \
          cnt = (win.kh_hi - win.kh_lo) * (win.kw_hi - win.kw_lo);                                  \
          for (c = 0; c < G.in_c; c++) {                                                            \
            const int32_t i = Q.per_channel ? c : 0;                                                \
            int32_t m = -2147483647 - 1, sx = 0;                                                    \
            int64_t s, v;                                                                           \
            for (kh = win.kh_lo; kh < win.kh_hi; kh++) {                                            \
              const TQ_RT_CT(xn) *xp =                                                              \
                  in + (((size_t)b * G.in_h + win.ih0 + kh) * G.in_w + win.iw0 + win.kw_lo) *       \
                           G.in_c + c;                                                              \
              if (max)                                                                              \
                for (kw = win.kw_lo; kw < win.kw_hi; kw++, xp += G.in_c) m = *xp > m ? *xp : m;     \
              else                                                                                  \
                for (kw = win.kw_lo; kw < win.kw_hi; kw++, xp += G.in_c) sx += *xp;                 \
            }                                                                                       \
            if (max) {                                                                              \
              y[c] = (TQ_RT_CT(on))tq_rt_requant_apply((int64_t)m - in_zp, &Q, c);                  \
              continue;                                                                             \
            }                                                                                       \
            s = (int64_t)sx - (int64_t)cnt * in_zp;                                                 \
            v = Q.mode == TQ_RT_RQ_PO2 ? tq_rt_avg_po2_s64(s, cnt, Q.shift[i])                      \
                                       : tq_rt_requant_mult_s64(s, Q.mult[i], Q.shift[i]);          \
            y[c] = (TQ_RT_CT(on))tq_rt_clamp_zp(v, Q.out_zp, Q.act_min, Q.act_max);                 \
          }                                                                                         \
        }                                                                                           \
  }
TQ_RT_IO_TYPES(TQ_POOL2D, pool2d)

#define TQ_MAXPOOL(op, xn, on)                                                                      \
  tq_rt_status tq_rt_##op##_##xn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in,                  \
                                        const tq_rt_conv_geom *g, int32_t in_zp,                    \
                                        const tq_rt_requant *rq) {                                  \
    if (!out || !in || tq_rt_geom_check(g, TQ_RT_GEOM_POOL) != TQ_RT_OK ||                          \
        tq_rt_requant_check(rq, g->in_c, TQ_RT_MIN(on), TQ_RT_MAX(on)) != TQ_RT_OK)                 \
      return TQ_RT_ERR_ARG;                                                                         \
    tq_pool2d_##xn##_##on(out, in, *g, in_zp, *rq, 1);                                              \
    return TQ_RT_OK;                                                                                \
  }
#define TQ_AVGPOOL(op, xn, on)                                                                      \
  tq_rt_status tq_rt_##op##_##xn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in,                  \
                                        const tq_rt_conv_geom *g, int32_t in_zp,                    \
                                        const tq_rt_requant *rq) {                                  \
    if (!out || !in || tq_rt_geom_check(g, TQ_RT_GEOM_POOL) != TQ_RT_OK ||                          \
        (int64_t)g->k_h * g->k_w > 65536 ||                                                         \
        !tq_pool_rq_ok(rq, g->in_c, TQ_RT_MIN(on), TQ_RT_MAX(on), in_zp))                           \
      return TQ_RT_ERR_ARG;                                                                         \
    if (rq->mode == TQ_RT_RQ_MULT &&                                                                \
        (g->pad_top | g->pad_bottom | g->pad_left | g->pad_right) != 0)                             \
      return TQ_RT_ERR_ARG;                                                                         \
    tq_pool2d_##xn##_##on(out, in, *g, in_zp, *rq, 0);                                              \
    return TQ_RT_OK;                                                                                \
  }
/* The whole plane as one window: an average pool over (N, 1, HW, C) with a 1 x HW window. */
#define TQ_GAP(op, xn, on)                                                                          \
  tq_rt_status tq_rt_##op##_##xn##_##on(TQ_RT_CT(on) *out, const TQ_RT_CT(xn) *in, int32_t n,       \
                                        int32_t hw, int32_t c, int32_t in_zp,                       \
                                        const tq_rt_requant *rq) {                                  \
    const tq_rt_conv_geom g = {n, 1, hw, c, 1, 1, c, 1, hw, 1, 1, 0, 0, 0, 0, 1};                   \
    return tq_rt_avg_pool2d_##xn##_##on(out, in, &g, in_zp, rq);                                    \
  }
TQ_RT_IO_TYPES(TQ_MAXPOOL, max_pool2d)
TQ_RT_IO_TYPES(TQ_AVGPOOL, avg_pool2d)
TQ_RT_IO_TYPES(TQ_GAP, global_avg_pool)
