/* conv2d (OHWI weights) and depthwise conv2d ((KH,KW,C*M) weights), all activation/weight/output/
 * accumulator type combinations; arithmetic as documented in tq_rt.h. */
#include "tq_rt.h"

/* Element e of a weight array, as int32. */
#define TQ_W_s4(w, e) tq_rt_s4_at((w), (size_t)(e))
#define TQ_W_s8(w, e) ((int32_t)(w)[e])
#define TQ_W_s16(w, e) ((int32_t)(w)[e])

/* Valid window range along one axis: taps [lo, hi) of a window of k starting at input position p0. */
static void tq_window(int32_t p0, int32_t k, int32_t in, int32_t *lo, int32_t *hi) {
  *lo = p0 < 0 ? -p0 : 0;
  *hi = in - p0 < k ? in - p0 : k;
  if (*lo > k) *lo = k;
  if (*hi < *lo) *hi = *lo;
}

/* ------------------------------------------------------------------------------------------------------
 * conv2d: for every output pixel and block of 4 output channels, one dot4 per valid kernel row over the
 * contiguous segment (valid kw range) x C of both the NHWC input row and the OHWI weight row.
 * Border pixels add z_X times the sum of the padded weights (see tq_rt.h).
 * ------------------------------------------------------------------------------------------------------ */
#define TQ_CONV2D(name, XT, WT, OT, OMIN, OMAX, AT, x, wn, a, o_)                                       \
  tq_rt_status name##_ref(OT *out, const XT *in, const WT *w, const AT *bias,                         \
                          const tq_rt_conv_geom *g, int32_t in_zp, const tq_rt_requant *rq) {         \
    int32_t b, oh, ow;                                                                               \
    tq_rt_conv_geom G;                                                                               \
    tq_rt_requant Q;                                                                                 \
    if (!out || !in || !w || tq_rt_geom_check(g, TQ_RT_GEOM_CONV) != TQ_RT_OK ||                     \
        tq_rt_requant_check(rq, g->out_c, OMIN, OMAX) != TQ_RT_OK)                                   \
      return TQ_RT_ERR_ARG;                                                                          \
    G = *g; /* local copies: int8 output stores may alias anything the pointers reach */             \
    Q = *rq;                                                                                         \
    for (b = 0; b < G.n; b++) {                                                                      \
      for (oh = 0; oh < G.out_h; oh++) {                                                             \
        const int32_t C = G.in_c, KW = G.k_w, KH = G.k_h, OC = G.out_c;                              \
        const int32_t rowlen = KW * C, K = KH * rowlen;                                              \
        const int32_t ih0 = oh * G.stride_h - G.pad_top;                                             \
        int32_t kh_lo, kh_hi;                                                                        \
        tq_window(ih0, KH, G.in_h, &kh_lo, &kh_hi);                                                  \
        for (ow = 0; ow < G.out_w; ow++) {                                                           \
          const int32_t iw0 = ow * G.stride_w - G.pad_left;                                          \
          int32_t kw_lo, kw_hi, seg, partial, o, kh;                                                 \
          OT *op = out + (((size_t)b * G.out_h + oh) * G.out_w + ow) * OC;                           \
          tq_window(iw0, KW, G.in_w, &kw_lo, &kw_hi);                                                \
          seg = (kw_hi - kw_lo) * C;                                                                 \
          partial = in_zp != 0 && (kh_lo > 0 || kh_hi < KH || kw_lo > 0 || kw_hi < KW);             \
          for (o = 0; o < OC;) {                                                                     \
            AT acc[4] = {0, 0, 0, 0};                                                                \
            const int32_t nb = OC - o >= 4 ? 4 : 1;                                                  \
            int32_t j;                                                                               \
            if (bias)                                                                                \
              for (j = 0; j < nb; j++) acc[j] = bias[o + j];                                         \
            if (seg > 0 && kh_hi > kh_lo) {                                                          \
              const XT *xp =                                                                         \
                  in + (((size_t)b * G.in_h + (ih0 + kh_lo)) * G.in_w + (iw0 + kw_lo)) * C;         \
              const int32_t woff = o * K + kh_lo * rowlen + kw_lo * C;                               \
              if (nb == 4)                                                                           \
                tq_rt_i_dot4_##x##_##wn##_##a(acc, xp, G.in_w * C, w, woff, K, rowlen, seg,          \
                                              kh_hi - kh_lo);                                        \
              else                                                                                   \
                tq_rt_i_dot1_##x##_##wn##_##a(acc, xp, G.in_w * C, w, woff, rowlen, seg,             \
                                              kh_hi - kh_lo);                                        \
            }                                                                                        \
            if (partial) {                                                                           \
              AT ps[4] = {0, 0, 0, 0};                                                               \
              for (kh = 0; kh < KH; kh++) {                                                          \
                const int32_t base = o * K + kh * rowlen;                                            \
                if (kh < kh_lo || kh >= kh_hi || seg == 0) {                                         \
                  if (nb == 4)                                                                       \
                    tq_rt_i_wsum4_##wn##_##a(ps, w, base, K, rowlen);                                \
                  else                                                                               \
                    tq_rt_i_wsum1_##wn##_##a(ps, w, base, rowlen);                                   \
                } else {                                                                             \
                  if (kw_lo > 0) {                                                                   \
                    if (nb == 4)                                                                     \
                      tq_rt_i_wsum4_##wn##_##a(ps, w, base, K, kw_lo * C);                           \
                    else                                                                             \
                      tq_rt_i_wsum1_##wn##_##a(ps, w, base, kw_lo * C);                              \
                  }                                                                                  \
                  if (kw_hi < KW) {                                                                  \
                    if (nb == 4)                                                                     \
                      tq_rt_i_wsum4_##wn##_##a(ps, w, base + kw_hi * C, K, (KW - kw_hi) * C);        \
                    else                                                                             \
                      tq_rt_i_wsum1_##wn##_##a(ps, w, base + kw_hi * C, (KW - kw_hi) * C);           \
                  }                                                                                  \
                }                                                                                    \
              }                                                                                      \
              for (j = 0; j < nb; j++) acc[j] += (AT)in_zp * ps[j];                                  \
            }                                                                                        \
            tq_rt_i_rq_store_##a##_##o_(op + o, acc, nb, &Q, o);                                  \
            o += nb;                                                                                 \
          }                                                                                          \
        }                                                                                            \
      }                                                                                              \
    }                                                                                                \
    return TQ_RT_OK;                                                                                 \
  }                                                                                                  \
  tq_rt_status name(OT *out, const XT *in, const WT *w, const AT *bias, const tq_rt_conv_geom *g,    \
                    int32_t in_zp, const tq_rt_requant *rq) {                                        \
    return name##_ref(out, in, w, bias, g, in_zp, rq);                                               \
  }

/* ------------------------------------------------------------------------------------------------------
 * depthwise conv2d: per output pixel, blocks of up to 16 output channels; accumulation 4 channels at a
 * time (contiguous in both input and weights when M = 1) over the valid taps; border pixels add
 * z_X * W(tap, oc) for each padded tap; then one requantize-and-store pass per block.
 * ------------------------------------------------------------------------------------------------------ */
#define TQ_DW_HELPERS(x, XT, wn, WT, a, AT)                                                            \
  /* acc[j] += sum over rows x cols taps of xp[r*xrs + c*xcs + j] * W(t + r*wrs + c*wcs + j), j < nb */ \
  static void tq_dw_accn_##x##_##wn##_##a(AT *acc, int32_t nb, const XT *xp, int32_t xrs,            \
                                          int32_t xcs, const WT *w, int32_t t, int32_t wrs,          \
                                          int32_t wcs, int32_t rows, int32_t cols) {                 \
    int32_t j;                                                                                       \
    for (j = 0; j + 4 <= nb; j += 4) {                                                               \
      AT a0 = acc[j], a1 = acc[j + 1], a2 = acc[j + 2], a3 = acc[j + 3];                             \
      const XT *xr = xp + j;                                                                         \
      int32_t r, c, tr = t + j;                                                                      \
      for (r = 0; r < rows; r++, xr += xrs, tr += wrs) {                                             \
        const XT *xc = xr;                                                                           \
        int32_t tc = tr;                                                                             \
        for (c = 0; c < cols; c++, xc += xcs, tc += wcs) {                                           \
          a0 += (AT)((int32_t)xc[0] * TQ_W_##wn(w, tc));                                             \
          a1 += (AT)((int32_t)xc[1] * TQ_W_##wn(w, tc + 1));                                         \
          a2 += (AT)((int32_t)xc[2] * TQ_W_##wn(w, tc + 2));                                         \
          a3 += (AT)((int32_t)xc[3] * TQ_W_##wn(w, tc + 3));                                         \
        }                                                                                            \
      }                                                                                              \
      acc[j] = a0;                                                                                   \
      acc[j + 1] = a1;                                                                               \
      acc[j + 2] = a2;                                                                               \
      acc[j + 3] = a3;                                                                               \
    }                                                                                                \
    for (; j < nb; j++) {                                                                            \
      AT a0 = acc[j];                                                                                \
      const XT *xr = xp + j;                                                                         \
      int32_t r, c, tr = t + j;                                                                      \
      for (r = 0; r < rows; r++, xr += xrs, tr += wrs) {                                             \
        const XT *xc = xr;                                                                           \
        int32_t tc = tr;                                                                             \
        for (c = 0; c < cols; c++, xc += xcs, tc += wcs) a0 += (AT)((int32_t)xc[0] * TQ_W_##wn(w, tc)); \
      }                                                                                              \
      acc[j] = a0;                                                                                   \
    }                                                                                                \
  }                                                                                                  \
  static void tq_dw_acc1_##x##_##wn##_##a(AT *acc, const XT *xp, int32_t xrs, int32_t xcs,           \
                                          const WT *w, int32_t t, int32_t wrs, int32_t wcs,          \
                                          int32_t rows, int32_t cols) {                              \
    AT a0 = acc[0];                                                                                  \
    int32_t r, c;                                                                                    \
    for (r = 0; r < rows; r++, xp += xrs, t += wrs) {                                                \
      const XT *xc = xp;                                                                             \
      int32_t tc = t;                                                                                \
      for (c = 0; c < cols; c++, xc += xcs, tc += wcs) a0 += (AT)((int32_t)xc[0] * TQ_W_##wn(w, tc)); \
    }                                                                                                \
    acc[0] = a0;                                                                                     \
  }                                                                                                  \
  /* acc[j] += z * sum of W(tap, oc0 + j) over the padded taps (outside [kh_lo,kh_hi)x[kw_lo,kw_hi)) */ \
  static void tq_dw_pad_##x##_##wn##_##a(AT *acc, int32_t nb, const WT *w, int32_t oc0, int32_t OC,  \
                                         int32_t KH, int32_t KW, int32_t kh_lo, int32_t kh_hi,        \
                                         int32_t kw_lo, int32_t kw_hi, int32_t z) {                  \
    int32_t kh, kw, j;                                                                               \
    for (kh = 0; kh < KH; kh++)                                                                      \
      for (kw = 0; kw < KW; kw++) {                                                                  \
        const int32_t t = (kh * KW + kw) * OC + oc0;                                                 \
        if (kh >= kh_lo && kh < kh_hi && kw >= kw_lo && kw < kw_hi) continue;                        \
        for (j = 0; j < nb; j++) acc[j] += (AT)z * TQ_W_##wn(w, t + j);                              \
      }                                                                                              \
  }

#define TQ_DWCONV(name, XT, WT, OT, OMIN, OMAX, AT, x, wn, a, o_)                                      \
  tq_rt_status name##_ref(OT *out, const XT *in, const WT *w, const AT *bias,                         \
                          const tq_rt_conv_geom *g, int32_t in_zp, const tq_rt_requant *rq) {         \
    int32_t b, oh, ow;                                                                               \
    tq_rt_conv_geom G;                                                                               \
    tq_rt_requant Q;                                                                                 \
    if (!out || !in || !w || tq_rt_geom_check(g, TQ_RT_GEOM_DEPTHWISE) != TQ_RT_OK ||                \
        tq_rt_requant_check(rq, g->out_c, OMIN, OMAX) != TQ_RT_OK)                                   \
      return TQ_RT_ERR_ARG;                                                                          \
    G = *g; /* local copies: int8 output stores may alias anything the pointers reach */             \
    Q = *rq;                                                                                         \
    for (b = 0; b < G.n; b++) {                                                                      \
      const XT *xb = in + (size_t)b * G.in_h * G.in_w * G.in_c;                                      \
      for (oh = 0; oh < G.out_h; oh++) {                                                             \
        const int32_t C = G.in_c, M = G.depth_mult, OC = G.out_c, KW = G.k_w, KH = G.k_h;            \
        const int32_t ih0 = oh * G.stride_h - G.pad_top;                                             \
        int32_t kh_lo, kh_hi;                                                                        \
        tq_window(ih0, KH, G.in_h, &kh_lo, &kh_hi);                                                  \
        for (ow = 0; ow < G.out_w; ow++) {                                                           \
          const int32_t iw0 = ow * G.stride_w - G.pad_left;                                          \
          int32_t kw_lo, kw_hi, partial, any, oc0;                                                   \
          OT *op = out + (((size_t)b * G.out_h + oh) * G.out_w + ow) * OC;                           \
          const XT *xw; /* input at (ih0 + kh_lo, iw0 + kw_lo), channel 0 */                         \
          tq_window(iw0, KW, G.in_w, &kw_lo, &kw_hi);                                                \
          partial = in_zp != 0 && (kh_lo > 0 || kh_hi < KH || kw_lo > 0 || kw_hi < KW);             \
          any = kh_hi > kh_lo && kw_hi > kw_lo;                                                      \
          xw = any ? xb + ((size_t)(ih0 + kh_lo) * G.in_w + (iw0 + kw_lo)) * C : xb;                 \
          for (oc0 = 0; oc0 < OC; oc0 += 16) {                                                       \
            AT acc[16];                                                                              \
            const int32_t nb = OC - oc0 < 16 ? OC - oc0 : 16;                                        \
            const int32_t t0 = (kh_lo * KW + kw_lo) * OC + oc0;                                      \
            int32_t j;                                                                               \
            for (j = 0; j < nb; j++) acc[j] = bias ? bias[oc0 + j] : 0;                              \
            if (any) {                                                                               \
              if (M == 1) {                                                                          \
                tq_dw_accn_##x##_##wn##_##a(acc, nb, xw + oc0, G.in_w * C, C, w, t0, KW * OC, OC,    \
                                            kh_hi - kh_lo, kw_hi - kw_lo);                           \
              } else {                                                                               \
                for (j = 0; j < nb; j++)                                                             \
                  tq_dw_acc1_##x##_##wn##_##a(acc + j, xw + (oc0 + j) / M, G.in_w * C, C, w, t0 + j, \
                                              KW * OC, OC, kh_hi - kh_lo, kw_hi - kw_lo);            \
              }                                                                                      \
            }                                                                                        \
            if (partial)                                                                             \
              tq_dw_pad_##x##_##wn##_##a(acc, nb, w, oc0, OC, KH, KW, kh_lo, kh_hi, kw_lo, kw_hi,    \
                                         in_zp);                                                     \
            tq_rt_i_rq_store_##a##_##o_(op + oc0, acc, nb, &Q, oc0);                                 \
          }                                                                                          \
        }                                                                                            \
      }                                                                                              \
    }                                                                                                \
    return TQ_RT_OK;                                                                                 \
  }                                                                                                  \
  tq_rt_status name(OT *out, const XT *in, const WT *w, const AT *bias, const tq_rt_conv_geom *g,    \
                    int32_t in_zp, const tq_rt_requant *rq) {                                        \
    return name##_ref(out, in, w, bias, g, in_zp, rq);                                               \
  }

#define TQ_DW_HELPERS_ALL(x, XT)                   \
  TQ_DW_HELPERS(x, XT, s4, uint8_t, a32, int32_t)  \
  TQ_DW_HELPERS(x, XT, s8, int8_t, a32, int32_t)   \
  TQ_DW_HELPERS(x, XT, s16, int16_t, a32, int32_t) \
  TQ_DW_HELPERS(x, XT, s4, uint8_t, a64, int64_t)  \
  TQ_DW_HELPERS(x, XT, s8, int8_t, a64, int64_t)   \
  TQ_DW_HELPERS(x, XT, s16, int16_t, a64, int64_t)
TQ_DW_HELPERS_ALL(s8, int8_t)
TQ_DW_HELPERS_ALL(s16, int16_t)

/* Instantiate one family: 2 activations x 3 weights x 2 outputs x 2 accumulators. */
#define TQ_FAMILY_W(M_, op, x, XT, wn, WT)                                                          \
  M_(tq_rt_##op##_##x##_##wn##w_s8, XT, WT, int8_t, -128, 127, int32_t, x, wn, a32, s8)             \
  M_(tq_rt_##op##_##x##_##wn##w_s16, XT, WT, int16_t, -32768, 32767, int32_t, x, wn, a32, s16)      \
  M_(tq_rt_##op##_##x##_##wn##w_s8_acc64, XT, WT, int8_t, -128, 127, int64_t, x, wn, a64, s8)       \
  M_(tq_rt_##op##_##x##_##wn##w_s16_acc64, XT, WT, int16_t, -32768, 32767, int64_t, x, wn, a64, s16)
#define TQ_FAMILY(M_, op)                          \
  TQ_FAMILY_W(M_, op, s8, int8_t, s4, uint8_t)     \
  TQ_FAMILY_W(M_, op, s8, int8_t, s8, int8_t)      \
  TQ_FAMILY_W(M_, op, s8, int8_t, s16, int16_t)    \
  TQ_FAMILY_W(M_, op, s16, int16_t, s4, uint8_t)   \
  TQ_FAMILY_W(M_, op, s16, int16_t, s8, int8_t)    \
  TQ_FAMILY_W(M_, op, s16, int16_t, s16, int16_t)

TQ_FAMILY(TQ_CONV2D, conv2d)
TQ_FAMILY(TQ_DWCONV, depthwise_conv2d)
