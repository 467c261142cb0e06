/* Lookup-table activations (tables built on the host by tq_rt_lut_host.c); arithmetic in tq_rt.h. */
#include "tq_rt_internal.h"

/* int8 in: one table entry per code. */
#define TQ_LUT8(op, on)                                                                             \
  tq_rt_status tq_rt_##op##_##on(TQ_RT_CT(on) *out, const int8_t *in, size_t count,                 \
                                 const TQ_RT_CT(on) *lut) {                                         \
    size_t i;                                                                                       \
    if ((!out || !in || !lut) && count) return TQ_RT_ERR_ARG;                                       \
    for (i = 0; i < count; i++) out[i] = lut[(int32_t)in[i] + 128];                                 \
    return TQ_RT_OK;                                                                                \
  }
TQ_RT_ONE_TYPES(TQ_LUT8, lut_s8)

/* int16 in: the interpolated 257-entry table (see tq_rt.h). */
static int32_t tq_lut16(int32_t x, const int16_t *t, int32_t x_min, int32_t k) {
  int32_t u = x - x_min, i, f;
  const int32_t span = 256 << k;
  if (u < 0) u = 0;
  if (u > span) u = span;
  i = u >> k;
  if (i == 256) return t[256];
  f = u - (i << k);
  return t[i] + (int32_t)tq_rt_rshift_round_s64((int64_t)(t[i + 1] - t[i]) * f, k);
}

#define TQ_LUT16(op, on)                                                                            \
  tq_rt_status tq_rt_##op##_##on(TQ_RT_CT(on) *out, const int16_t *in, size_t count,                \
                                 const int16_t *lut, int32_t x_min, int32_t k) {                    \
    size_t i;                                                                                       \
    if (((!out || !in || !lut) && count) || k < 0 || k > 8 || x_min < -65536 || x_min > 65535)      \
      return TQ_RT_ERR_ARG;                                                                         \
    for (i = 0; i < count; i++) {                                                                   \
      int32_t y = tq_lut16(in[i], lut, x_min, k);                                                   \
      if (y < TQ_RT_MIN(on)) y = TQ_RT_MIN(on);                                                     \
      if (y > TQ_RT_MAX(on)) y = TQ_RT_MAX(on);                                                     \
      out[i] = (TQ_RT_CT(on))y;                                                                     \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }
TQ_RT_ONE_TYPES(TQ_LUT16, lut_s16)
