/* dense: in (N,I), w (O,I) output-major, out (N,O); 4 outputs per pass share every input load. */
#include "tq_rt.h"

#define TQ_DENSE(name, XT, WT, OT, OMIN, OMAX, AT, x, wn, a, o_)                                      \
  tq_rt_status name##_ref(OT *out, const XT *in, const WT *w, const AT *bias, int32_t n,             \
                          int32_t in_dim, int32_t out_dim, const tq_rt_requant *rq) {                \
    int32_t b, o, j;                                                                                \
    tq_rt_requant Q;                                                                                \
    if (!out || !in || !w || n < 1 || in_dim < 1 || out_dim < 1 ||                                  \
        (int64_t)in_dim * out_dim > INT32_MAX ||                                                    \
        tq_rt_requant_check(rq, out_dim, OMIN, OMAX) != TQ_RT_OK)                                   \
      return TQ_RT_ERR_ARG;                                                                         \
    Q = *rq;                                                                                        \
    for (b = 0; b < n; b++) {                                                                       \
      const XT *xp = in + (size_t)b * in_dim;                                                       \
      OT *op = out + (size_t)b * out_dim;                                                           \
      for (o = 0; o + 4 <= out_dim; o += 4) {                                                       \
        AT acc[4] = {0, 0, 0, 0};                                                                   \
        if (bias)                                                                                   \
          for (j = 0; j < 4; j++) acc[j] = bias[o + j];                                             \
        tq_rt_i_dot4_##x##_##wn##_##a(acc, xp, 0, w, o * in_dim, in_dim, 0, in_dim, 1);                      \
        tq_rt_i_rq_store_##a##_##o_(op + o, acc, 4, &Q, o);                                          \
      }                                                                                             \
      for (; o < out_dim; o++) {                                                                    \
        AT acc = bias ? bias[o] : 0;                                                                \
        tq_rt_i_dot1_##x##_##wn##_##a(&acc, xp, 0, w, o * in_dim, 0, in_dim, 1);                             \
        tq_rt_i_rq_store_##a##_##o_(op + o, &acc, 1, &Q, o);                                         \
      }                                                                                             \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }                                                                                                 \
  tq_rt_status name(OT *out, const XT *in, const WT *w, const AT *bias, int32_t n, int32_t in_dim,  \
                    int32_t out_dim, const tq_rt_requant *rq) {                                     \
    return name##_ref(out, in, w, bias, n, in_dim, out_dim, rq);                                    \
  }

#define TQ_FAMILY_W(M_, op, x, XT, wn, WT)                                                         \
  M_(tq_rt_##op##_##x##_##wn##w_s8, XT, WT, int8_t, -128, 127, int32_t, x, wn, a32, s8)            \
  M_(tq_rt_##op##_##x##_##wn##w_s16, XT, WT, int16_t, -32768, 32767, int32_t, x, wn, a32, s16)     \
  M_(tq_rt_##op##_##x##_##wn##w_s8_acc64, XT, WT, int8_t, -128, 127, int64_t, x, wn, a64, s8)      \
  M_(tq_rt_##op##_##x##_##wn##w_s16_acc64, XT, WT, int16_t, -32768, 32767, int64_t, x, wn, a64, s16)
#define TQ_FAMILY(M_, op)                          \
  TQ_FAMILY_W(M_, op, s8, int8_t, s4, uint8_t)     \
  TQ_FAMILY_W(M_, op, s8, int8_t, s8, int8_t)      \
  TQ_FAMILY_W(M_, op, s8, int8_t, s16, int16_t)    \
  TQ_FAMILY_W(M_, op, s16, int16_t, s4, uint8_t)   \
  TQ_FAMILY_W(M_, op, s16, int16_t, s8, int8_t)    \
  TQ_FAMILY_W(M_, op, s16, int16_t, s16, int16_t)

TQ_FAMILY(TQ_DENSE, dense)
