/* Lookup-table activations (tables built on the host by tq_rt_lut_host.c); arithmetic in tq_rt.h. */
#include "tq_rt.h"

tq_rt_status tq_rt_lut_s8_s8_ref(int8_t *out, const int8_t *in, size_t count, const int8_t *lut) {
  size_t i;
  if ((!out || !in || !lut) && count) return TQ_RT_ERR_ARG;
  for (i = 0; i < count; i++) out[i] = lut[(int32_t)in[i] + 128];
  return TQ_RT_OK;
}
tq_rt_status tq_rt_lut_s8_s8(int8_t *out, const int8_t *in, size_t count, const int8_t *lut) {
  return tq_rt_lut_s8_s8_ref(out, in, count, lut);
}
tq_rt_status tq_rt_lut_s8_s16_ref(int16_t *out, const int8_t *in, size_t count, const int16_t *lut) {
  size_t i;
  if ((!out || !in || !lut) && count) return TQ_RT_ERR_ARG;
  for (i = 0; i < count; i++) out[i] = lut[(int32_t)in[i] + 128];
  return TQ_RT_OK;
}
tq_rt_status tq_rt_lut_s8_s16(int16_t *out, const int8_t *in, size_t count, const int16_t *lut) {
  return tq_rt_lut_s8_s16_ref(out, in, count, lut);
}

/* Interpolated 257-entry table (see tq_rt.h). */
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

#define TQ_LUT16(on, OT, OMIN, OMAX)                                                                  \
  tq_rt_status tq_rt_lut_s16_##on##_ref(OT *out, const int16_t *in, size_t count,                    \
                                        const int16_t *lut, int32_t x_min, int32_t k) {             \
    size_t i;                                                                                       \
    if (((!out || !in || !lut) && count) || k < 0 || k > 8 || x_min < -65536 || x_min > 65535)      \
      return TQ_RT_ERR_ARG;                                                                         \
    for (i = 0; i < count; i++) {                                                                   \
      const int32_t y = tq_lut16(in[i], lut, x_min, k);                                             \
      out[i] = (OT)(y < OMIN ? OMIN : y > OMAX ? OMAX : y);                                         \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }                                                                                                 \
  tq_rt_status tq_rt_lut_s16_##on(OT *out, const int16_t *in, size_t count, const int16_t *lut,    \
                                  int32_t x_min, int32_t k) {                                       \
    return tq_rt_lut_s16_##on##_ref(out, in, count, lut, x_min, k);                                 \
  }
TQ_LUT16(s16, int16_t, -32768, 32767)
TQ_LUT16(s8, int8_t, -128, 127)
