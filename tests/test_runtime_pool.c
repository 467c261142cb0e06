/* Integer runtime: max / average / global average pooling against hand vectors and an int128 reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/runtime_ref.h"
#include "tq_rt.h"
#include "tq_test.h"

/* average reference: floor(S * 2^max(-n,0) / (cnt * 2^max(n,0)) + 1/2) */
static i128 ref_avg(i128 s, int cnt, int n) {
  const i128 num = n < 0 ? s * ref_pow2(-n) : s, den = (i128)cnt * (n > 0 ? ref_pow2(n) : 1);
  return ref_floor_div(2 * num + den, 2 * den);
}

static void test_hand(void) {
  /* 3x3x1: [1 2 3; 4 5 6; 7 8 9] - 5 (z_X = 5), window 2x2 stride 2, pads (0,1,0,1) */
  const int8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const tq_rt_conv_geom g = {1, 3, 3, 1, 2, 2, 1, 2, 2, 2, 2, 0, 1, 0, 1, 1};
  const int8_t sh0[1] = {0}, sh1[1] = {1};
  tq_rt_requant rq = {TQ_RT_RQ_PO2, 0, NULL, sh0, 0, -128, 127};
  int8_t y[4];
  /* max over valid taps only: 5, 6, 8, 9; re-centred on z_Y = 0: 0, 1, 3, 4 */
  CHECK_EQ_INT(tq_rt_max_pool2d_s8_s8(y, x, &g, 5, &rq), TQ_RT_OK);
  CHECK(y[0] == 0 && y[1] == 1 && y[2] == 3 && y[3] == 4);
  rq.out_zp = 5; /* same scale and zero point: max pool returns the codes */
  CHECK_EQ_INT(tq_rt_max_pool2d_s8_s8(y, x, &g, 5, &rq), TQ_RT_OK);
  CHECK(y[0] == 5 && y[1] == 6 && y[2] == 8 && y[3] == 9);
  rq.out_zp = 0;
  /* avg: S = (1+2+4+5-20) = -8 /4 = -2; (3+6-10) = -1 /2 = -0.5 -> 0 (ties up); (7+8-10) = 5 /2 = 2.5 -> 3;
   * 9-5 = 4 -> 4 */
  CHECK_EQ_INT(tq_rt_avg_pool2d_s8_s8(y, x, &g, 5, &rq), TQ_RT_OK);
  CHECK_EQ_INT(y[0], -2);
  CHECK_EQ_INT(y[1], 0);
  CHECK_EQ_INT(y[2], 3);
  CHECK_EQ_INT(y[3], 4);
  /* with n = 1 (single rounding of S / (cnt * 2)): -8/8 = -1; -1/4 -> 0; 5/4 = 1.25 -> 1; 4/2 = 2 */
  rq.shift = sh1;
  CHECK_EQ_INT(tq_rt_avg_pool2d_s8_s8(y, x, &g, 5, &rq), TQ_RT_OK);
  CHECK(y[0] == -1 && y[1] == 0 && y[2] == 1 && y[3] == 2);
  /* -2.5 ties up to -2: values (0, -5) mean -2.5 */
  {
    const int8_t x2[2] = {0, -5};
    const tq_rt_conv_geom g2 = {1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 0, 0, 0, 0, 1};
    rq.shift = sh0;
    CHECK_EQ_INT(tq_rt_avg_pool2d_s8_s8(y, x2, &g2, 0, &rq), TQ_RT_OK);
    CHECK_EQ_INT(y[0], -2);
    CHECK_EQ_INT(tq_rt_global_avg_pool_s8_s8(y, x2, 1, 2, 1, 0, &rq), TQ_RT_OK);
    CHECK_EQ_INT(y[0], -2);
  }
  /* MULT mode needs unpadded windows */
  {
    const int32_t m[1] = {1 << 30};
    rq.mode = TQ_RT_RQ_MULT;
    rq.mult = m;
    CHECK_EQ_INT(tq_rt_avg_pool2d_s8_s8(y, x, &g, 5, &rq), TQ_RT_ERR_ARG);
  }
}

static void test_random(void) {
  int t, bad = 0;
  for (t = 0; t < 400; t++) {
    tq_rt_conv_geom g;
    const int x16 = t & 1, o16 = (t >> 1) & 1;
    const int32_t xmax = x16 ? 32767 : 127, omax = o16 ? 32767 : 127;
    int32_t zx, n, i, b, oh, ow, c, kh, kw;
    int8_t sh[1];
    int32_t mult[1];
    int16_t *x16v, *y16;
    int8_t *x8v, *y8;
    size_t nx, no;
    tq_rt_requant rq;
    int mult_mode;
    memset(&g, 0, sizeof g);
    g.n = (int32_t)ref_randi(1, 2);
    g.in_h = (int32_t)ref_randi(1, 8);
    g.in_w = (int32_t)ref_randi(1, 8);
    g.in_c = g.out_c = (int32_t)ref_randi(1, 5);
    g.k_h = (int32_t)ref_randi(1, 4);
    g.k_w = (int32_t)ref_randi(1, 4);
    g.stride_h = (int32_t)ref_randi(1, 3);
    g.stride_w = (int32_t)ref_randi(1, 3);
    mult_mode = t % 4 == 3;
    g.pad_top = mult_mode ? 0 : (int32_t)ref_randi(0, g.k_h - 1);
    g.pad_bottom = mult_mode ? 0 : (int32_t)ref_randi(0, g.k_h - 1);
    g.pad_left = mult_mode ? 0 : (int32_t)ref_randi(0, g.k_w - 1);
    g.pad_right = mult_mode ? 0 : (int32_t)ref_randi(0, g.k_w - 1);
    if (g.in_h + g.pad_top + g.pad_bottom < g.k_h) g.in_h = g.k_h;
    if (g.in_w + g.pad_left + g.pad_right < g.k_w) g.in_w = g.k_w;
    g.out_h = (g.in_h + g.pad_top + g.pad_bottom - g.k_h) / g.stride_h + 1;
    g.out_w = (g.in_w + g.pad_left + g.pad_right - g.k_w) / g.stride_w + 1;
    zx = (int32_t)ref_randi(-xmax / 2, xmax / 2);
    n = (int32_t)ref_randi(-3, 4);
    sh[0] = (int8_t)n;
    mult[0] = (int32_t)ref_randi(1 << 28, INT32_MAX);
    rq.mode = mult_mode ? TQ_RT_RQ_MULT : TQ_RT_RQ_PO2;
    rq.per_channel = 0;
    rq.mult = mult;
    rq.shift = sh;
    rq.out_zp = (int32_t)ref_randi(-omax / 4, omax / 4);
    rq.act_min = t % 3 ? -omax - 1 : rq.out_zp;
    rq.act_max = omax;
    nx = (size_t)g.n * g.in_h * g.in_w * g.in_c;
    no = (size_t)g.n * g.out_h * g.out_w * g.out_c;
    x16v = malloc(nx * 2);
    x8v = malloc(nx);
    y16 = malloc(no * 2);
    y8 = malloc(no);
    for (i = 0; i < (int32_t)nx; i++) {
      x16v[i] = (int16_t)ref_randi(-xmax - 1, xmax);
      x8v[i] = (int8_t)x16v[i];
    }
#define RUN(op)                                                                                     \
  (x16 ? (o16 ? tq_rt_##op##_s16_s16(y16, x16v, &g, zx, &rq) : tq_rt_##op##_s16_s8(y8, x16v, &g, zx, &rq)) \
       : (o16 ? tq_rt_##op##_s8_s16(y16, x8v, &g, zx, &rq) : tq_rt_##op##_s8_s8(y8, x8v, &g, zx, &rq)))
    {
      int pass;
      for (pass = 0; pass < 2; pass++) { /* 0: avg, 1: max */
        CHECK_EQ_INT(pass ? RUN(max_pool2d) : RUN(avg_pool2d), TQ_RT_OK);
        for (b = 0; b < g.n; b++)
          for (oh = 0; oh < g.out_h; oh++)
            for (ow = 0; ow < g.out_w; ow++)
              for (c = 0; c < g.in_c; c++) {
                i128 s = 0;
                int cnt = 0, m = -1000000, want, got;
                for (kh = 0; kh < g.k_h; kh++)
                  for (kw = 0; kw < g.k_w; kw++) {
                    const int ih = oh * g.stride_h - g.pad_top + kh, iw = ow * g.stride_w - g.pad_left + kw;
                    int v;
                    if (ih < 0 || iw < 0 || ih >= g.in_h || iw >= g.in_w) continue;
                    v = x16 ? x16v[(((size_t)b * g.in_h + ih) * g.in_w + iw) * g.in_c + c]
                            : x8v[(((size_t)b * g.in_h + ih) * g.in_w + iw) * g.in_c + c];
                    s += v - zx;
                    cnt++;
                    if (v > m) m = v;
                  }
                if (pass)
                  want = ref_requant((i128)m - zx, rq.mode, mult[0], n, rq.out_zp, rq.act_min, rq.act_max);
                else if (mult_mode)
                  want = ref_requant(s, 1, mult[0], n, rq.out_zp, rq.act_min, rq.act_max);
                else
                  want = ref_clamp(rq.out_zp + ref_avg(s, cnt, n), rq.act_min, rq.act_max);
                {
                  const size_t idx = (((size_t)b * g.out_h + oh) * g.out_w + ow) * g.in_c + c;
                  got = o16 ? y16[idx] : y8[idx];
                }
                bad += got != want;
              }
      }
    }
    /* global average pool over the same data viewed as (N, H*W, C) */
    {
      const int32_t hw = g.in_h * g.in_w;
      CHECK_EQ_INT(x16 ? (o16 ? tq_rt_global_avg_pool_s16_s16(y16, x16v, g.n, hw, g.in_c, zx, &rq)
                              : tq_rt_global_avg_pool_s16_s8(y8, x16v, g.n, hw, g.in_c, zx, &rq))
                       : (o16 ? tq_rt_global_avg_pool_s8_s16(y16, x8v, g.n, hw, g.in_c, zx, &rq)
                              : tq_rt_global_avg_pool_s8_s8(y8, x8v, g.n, hw, g.in_c, zx, &rq)),
                   TQ_RT_OK);
      for (b = 0; b < g.n; b++)
        for (c = 0; c < g.in_c; c++) {
          i128 s = 0;
          int p, want, got;
          for (p = 0; p < hw; p++)
            s += (x16 ? x16v[((size_t)b * hw + p) * g.in_c + c] : x8v[((size_t)b * hw + p) * g.in_c + c]) - zx;
          want = mult_mode ? ref_requant(s, 1, mult[0], n, rq.out_zp, rq.act_min, rq.act_max)
                           : ref_clamp(rq.out_zp + ref_avg(s, hw, n), rq.act_min, rq.act_max);
          got = o16 ? y16[b * g.in_c + c] : y8[b * g.in_c + c];
          bad += got != want;
        }
    }
    free(x16v);
    free(x8v);
    free(y16);
    free(y8);
  }
  CHECK_EQ_INT(bad, 0);
}

/* DS-CNN's average pool: 25x5 window over 64 channels, int8, with a po2 output rescale */
static void test_dscnn_global(void) {
  static int8_t x[125 * 64];
  int8_t y[64];
  const int8_t sh[1] = {-2};
  const tq_rt_requant rq = {TQ_RT_RQ_PO2, 0, NULL, sh, -127, -127, 127};
  int i, c, bad = 0;
  for (i = 0; i < 125 * 64; i++) x[i] = (int8_t)((i * 37) % 255 - 127);
  CHECK_EQ_INT(tq_rt_global_avg_pool_s8_s8(y, x, 1, 125, 64, -127, &rq), TQ_RT_OK);
  for (c = 0; c < 64; c++) {
    i128 s = 0;
    for (i = 0; i < 125; i++) s += x[i * 64 + c] + 127;
    bad += y[c] != ref_clamp(-127 + ref_avg(s, 125, -2), -127, 127);
  }
  CHECK_EQ_INT(bad, 0);
}

/* tq_rt_avg_po2_s64 over the whole int32 shift range (the pools accept -31..62; host code may pass
 * anything): against the reference where it is exact, saturated where it must be, and no shift by 63
 * or more for a zero sum (UBSan in the sanitizer suite; the simulator's copy was found by fuzzing). */
static void test_avg_po2_shifts(void) {
  const int64_t sums[] = {0, 1, -1, 5, -7, 1 << 20, -(1 << 20)};
  const int shifts[] = {-2147483647 - 1, -200, -64, -63, -62, -61, -40, -31, -1, 0, 1, 31, 34, 35, 62, 2147483647};
  for (size_t i = 0; i < sizeof sums / sizeof *sums; i++)
    for (size_t j = 0; j < sizeof shifts / sizeof *shifts; j++) {
      const int64_t s = sums[i];
      const int n = shifts[j];
      const int64_t got = tq_rt_avg_po2_s64(s, 3, n), sat = s > 0 ? INT64_MAX : INT64_MIN;
      if (s == 0 || n > 62) CHECK(got == 0);
      else if (n >= -31) CHECK((i128)got == ref_avg(s, 3, n)); /* the pools' range: exact */
      else CHECK(got == sat || (n >= -100 && (i128)got == ref_avg(s, 3, n))); /* exact or saturated */
    }
}

int main(void) {
  test_avg_po2_shifts();
  test_hand();
  test_random();
  test_dscnn_global();
  TEST_MAIN_END();
}
