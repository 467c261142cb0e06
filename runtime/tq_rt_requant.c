/* Parameter validation, geometry, and exporter helpers (bias folding, accumulator bounds, int4 packing). */
#include "tq_rt_internal.h"

tq_rt_status tq_rt_requant_check(const tq_rt_requant *rq, int32_t channels, int32_t type_min,
                                 int32_t type_max) {
  int32_t i, n;
  if (!rq || !rq->shift || channels < 1) return TQ_RT_ERR_ARG;
  if (rq->per_channel != 0 && rq->per_channel != 1) return TQ_RT_ERR_ARG;
  if (rq->act_min > rq->act_max || rq->act_min < type_min || rq->act_max > type_max)
    return TQ_RT_ERR_ARG;
  if (rq->mode == TQ_RT_RQ_PO2) return TQ_RT_OK;
  if (rq->mode != TQ_RT_RQ_MULT || !rq->mult) return TQ_RT_ERR_ARG;
  n = rq->per_channel ? channels : 1;
  for (i = 0; i < n; i++)
    if (rq->mult[i] < 0 || rq->shift[i] < -31 || rq->shift[i] > 62) return TQ_RT_ERR_ARG;
  return TQ_RT_OK;
}

/* out must equal (in + pads - k) / stride + 1 with in + pads >= k. */
static int tq_axis_ok(int32_t in, int32_t k, int32_t stride, int32_t pb, int32_t pa, int32_t out) {
  const int64_t span = (int64_t)in + pb + pa - k;
  if (in < 1 || k < 1 || stride < 1 || pb < 0 || pa < 0 || out < 1 || span < 0) return 0;
  return span / stride + 1 == out;
}

tq_rt_status tq_rt_geom_check(const tq_rt_conv_geom *g, int32_t kind) {
  int64_t wcount;
  /* a pad is a 1x1 window with stride 1: out = in + pads */
  const int32_t k_h = kind == TQ_RT_GEOM_PAD ? 1 : g ? g->k_h : 0;
  const int32_t k_w = kind == TQ_RT_GEOM_PAD ? 1 : g ? g->k_w : 0;
  const int32_t s_h = kind == TQ_RT_GEOM_PAD ? 1 : g ? g->stride_h : 0;
  const int32_t s_w = kind == TQ_RT_GEOM_PAD ? 1 : g ? g->stride_w : 0;
  if (!g || g->n < 1 || g->in_c < 1 || g->out_c < 1) return TQ_RT_ERR_ARG;
  if (!tq_axis_ok(g->in_h, k_h, s_h, g->pad_top, g->pad_bottom, g->out_h) ||
      !tq_axis_ok(g->in_w, k_w, s_w, g->pad_left, g->pad_right, g->out_w))
    return TQ_RT_ERR_ARG;
  /* element offsets inside one sample and inside the weights are int32 */
  if ((int64_t)g->in_h * g->in_w * g->in_c > INT32_MAX ||
      (int64_t)g->out_h * g->out_w * g->out_c > INT32_MAX)
    return TQ_RT_ERR_ARG;
  switch (kind) {
    case TQ_RT_GEOM_CONV:
      wcount = (int64_t)g->out_c * g->k_h * g->k_w * g->in_c;
      return wcount <= INT32_MAX ? TQ_RT_OK : TQ_RT_ERR_ARG;
    case TQ_RT_GEOM_DEPTHWISE:
      if (g->depth_mult < 1 || (int64_t)g->in_c * g->depth_mult != g->out_c) return TQ_RT_ERR_ARG;
      wcount = (int64_t)g->out_c * g->k_h * g->k_w;
      return wcount <= INT32_MAX ? TQ_RT_OK : TQ_RT_ERR_ARG;
    case TQ_RT_GEOM_POOL:
      if (g->out_c != g->in_c || g->pad_top >= g->k_h || g->pad_bottom >= g->k_h ||
          g->pad_left >= g->k_w || g->pad_right >= g->k_w)
        return TQ_RT_ERR_ARG;
      return TQ_RT_OK;
    case TQ_RT_GEOM_PAD:
      return g->out_c == g->in_c ? TQ_RT_OK : TQ_RT_ERR_ARG;
    default:
      return TQ_RT_ERR_ARG;
  }
}

void tq_rt_pad_same(int32_t in, int32_t k, int32_t stride, int32_t *out, int32_t *pad_before,
                    int32_t *pad_after) {
  const int32_t o = (in + stride - 1) / stride;
  int32_t total = (o - 1) * stride + k - in;
  if (total < 0) total = 0;
  if (out) *out = o;
  if (pad_before) *pad_before = total / 2;
  if (pad_after) *pad_after = total - total / 2;
}

tq_rt_status tq_rt_pack_s4(uint8_t *dst, const int8_t *src, size_t n) {
  size_t i;
  if ((!dst || !src) && n) return TQ_RT_ERR_ARG;
  for (i = 0; i < n; i++)
    if (src[i] < -8 || src[i] > 7) return TQ_RT_ERR_ARG;
  for (i = 0; i < n; i += 2) {
    const uint32_t lo = (uint32_t)(src[i] & 15);
    const uint32_t hi = i + 1 < n ? (uint32_t)(src[i + 1] & 15) : 0u;
    dst[i >> 1] = (uint8_t)(lo | (hi << 4));
  }
  return TQ_RT_OK;
}

/* ---- bias folding and accumulator bounds ----------------------------------------------------------- */
/* The arguments both folds share; the zero-point bound keeps |sum * in_zp| far inside int64. */
static int tq_fold_args_ok(const void *bias_eff, const void *w, int32_t channels, int32_t k,
                           int32_t c_stride, int32_t k_stride, int32_t in_zp) {
  return bias_eff && w && channels >= 1 && k >= 1 && c_stride >= 0 && k_stride >= 0 &&
         in_zp >= -65536 && in_zp <= 65536;
}

/* The weight sums of channel c: signed (sum) and absolute (abs_sum). */
#define TQ_CHANNEL_SUMS(wn, WT)                                                                     \
  static void tq_wsums_##wn(const WT *w, int32_t c, int32_t k, int32_t c_stride, int32_t k_stride,  \
                            int64_t *sum, int64_t *abs_sum) {                                       \
    int32_t j;                                                                                      \
    *sum = *abs_sum = 0;                                                                            \
    for (j = 0; j < k; j++) {                                                                       \
      const int32_t v = TQ_RT_I_W(wn, w, (int64_t)c * c_stride + (int64_t)j * k_stride);            \
      *sum += v;                                                                                    \
      *abs_sum += v < 0 ? -v : v;                                                                   \
    }                                                                                               \
  }                                                                                                 \
  /* bias - in_zp * sum, saturated to [lo, hi] (TQ_RT_ERR_ARG then; also where it leaves int64) */  \
  static tq_rt_status tq_fold_##wn(int64_t *res, int64_t bias, const WT *w, int32_t c, int32_t k,   \
                                   int32_t c_stride, int32_t k_stride, int32_t in_zp, int64_t lo,   \
                                   int64_t hi) {                                                    \
    int64_t sum, abs_sum, corr;                                                                     \
    tq_wsums_##wn(w, c, k, c_stride, k_stride, &sum, &abs_sum);                                     \
    corr = sum * in_zp; /* |sum| < 2^31 * 2^15, |in_zp| <= 2^16 */                                  \
    *res = hi;                                                                                      \
    if ((corr > 0 && bias < INT64_MIN + corr) || (corr < 0 && bias > INT64_MAX + corr))             \
      return TQ_RT_ERR_ARG;                                                                         \
    *res = bias - corr;                                                                             \
    if (*res >= lo && *res <= hi) return TQ_RT_OK;                                                  \
    *res = *res < lo ? lo : hi;                                                                     \
    return TQ_RT_ERR_ARG;                                                                           \
  }

/* tq_rt_fold_bias_<w>w (int32 bias) and tq_rt_fold_bias_<w>w_acc64 (int64). */
#define TQ_FOLD(wn, an)                                                                              \
  tq_rt_status TQ_RT_FOLD_NAME_##an(wn)(TQ_RT_CT(an) *bias_eff, const TQ_RT_CT(an) *bias,            \
                                        const TQ_RT_CT(wn) *w, int32_t channels, int32_t k,          \
                                        int32_t c_stride, int32_t k_stride, int32_t in_zp) {         \
    int32_t c;                                                                                       \
    tq_rt_status st = TQ_RT_OK;                                                                      \
    if (!tq_fold_args_ok(bias_eff, w, channels, k, c_stride, k_stride, in_zp)) return TQ_RT_ERR_ARG; \
    for (c = 0; c < channels; c++) {                                                                 \
      int64_t r;                                                                                     \
      if (tq_fold_##wn(&r, bias ? bias[c] : 0, w, c, k, c_stride, k_stride, in_zp,                   \
                       TQ_RT_FOLD_MIN_##an, TQ_RT_FOLD_MAX_##an) != TQ_RT_OK)                        \
        st = TQ_RT_ERR_ARG;                                                                          \
      bias_eff[c] = (TQ_RT_CT(an))r;                                                                 \
    }                                                                                                \
    return st;                                                                                       \
  }
#define TQ_RT_FOLD_NAME_a32(wn) tq_rt_fold_bias_##wn##w
#define TQ_RT_FOLD_NAME_a64(wn) tq_rt_fold_bias_##wn##w_acc64
#define TQ_RT_FOLD_MIN_a32 INT32_MIN
#define TQ_RT_FOLD_MAX_a32 INT32_MAX
#define TQ_RT_FOLD_MIN_a64 INT64_MIN
#define TQ_RT_FOLD_MAX_a64 INT64_MAX

#define TQ_ACC_BOUND(wn, WT)                                                                        \
  int64_t tq_rt_acc_bound_##wn##w(int64_t bias_eff, const WT *w, int32_t c, int32_t k,              \
                                  int32_t c_stride, int32_t k_stride, int32_t xmax_abs) {           \
    int64_t sum, s, r;                                                                              \
    if (!w || k < 0 || xmax_abs < 0) return INT64_MAX;                                              \
    tq_wsums_##wn(w, c, k, c_stride, k_stride, &sum, &s);                                           \
    if (s != 0 && xmax_abs > INT64_MAX / s) return INT64_MAX;                                       \
    r = s * xmax_abs;                                                                               \
    if (bias_eff == INT64_MIN) return INT64_MAX;                                                    \
    bias_eff = bias_eff < 0 ? -bias_eff : bias_eff;                                                 \
    return r > INT64_MAX - bias_eff ? INT64_MAX : r + bias_eff;                                     \
  }

TQ_CHANNEL_SUMS(s4, uint8_t)
TQ_CHANNEL_SUMS(s8, int8_t)
TQ_CHANNEL_SUMS(s16, int16_t)
TQ_RT_I_WACC_TYPES(TQ_FOLD)
TQ_ACC_BOUND(s4, uint8_t)
TQ_ACC_BOUND(s8, int8_t)
TQ_ACC_BOUND(s16, int16_t)
