/* dense: in (N,I), w (O,I) output-major, out (N,O); 4 outputs per pass share every input load. Every
 * combination of TQ_RT_WEIGHTED_TYPES, e.g. tq_rt_dense_s16_s8w_s8_acc64(). */
#include "tq_rt_internal.h"

#define TQ_DENSE(op, x, wn, o, a)                                                                   \
  tq_rt_status TQ_RT_WNAME(op, x, wn, o, a)(TQ_RT_CT(o) *out, const TQ_RT_CT(x) *in,                \
                                            const TQ_RT_CT(wn) *w, const TQ_RT_CT(a) *bias,         \
                                            int32_t n, int32_t in_dim, int32_t out_dim,             \
                                            const tq_rt_requant *rq) {                              \
    int32_t b, i, j;                                                                                \
    tq_rt_requant Q;                                                                                \
    if (!out || !in || !w || n < 1 || in_dim < 1 || out_dim < 1 ||                                  \
        (int64_t)in_dim * out_dim > INT32_MAX ||                                                    \
        tq_rt_requant_check(rq, out_dim, TQ_RT_MIN(o), TQ_RT_MAX(o)) != TQ_RT_OK)                   \
      return TQ_RT_ERR_ARG;                                                                         \
    Q = *rq;                                                                                        \
    for (b = 0; b < n; b++) {                                                                       \
      const TQ_RT_CT(x) *xp = in + (size_t)b * in_dim;                                              \
      TQ_RT_CT(o) *op = out + (size_t)b * out_dim;                                                  \
      for (i = 0; i + 4 <= out_dim; i += 4) {                                                       \
        TQ_RT_CT(a) acc[4] = {0, 0, 0, 0};                                                          \
        if (bias)                                                                                   \
          for (j = 0; j < 4; j++) acc[j] = bias[i + j];                                             \
        tq_rt_i_dot4_##x##_##wn##_##a(acc, xp, 0, w, i * in_dim, in_dim, 0, in_dim, 1);             \
        tq_rt_i_rq_store_##a##_##o(op + i, acc, 4, &Q, i);                                          \
      }                                                                                             \
      for (; i < out_dim; i++) {                                                                    \
        TQ_RT_CT(a) acc = bias ? bias[i] : 0;                                                       \
        tq_rt_i_dot1_##x##_##wn##_##a(&acc, xp, 0, w, i * in_dim, 0, in_dim, 1);                    \
        tq_rt_i_rq_store_##a##_##o(op + i, &acc, 1, &Q, i);                                         \
      }                                                                                             \
    }                                                                                               \
    return TQ_RT_OK;                                                                                \
  }
TQ_RT_WEIGHTED_TYPES(TQ_DENSE, dense)
