/* Integer runtime: rounding shift, multiplier requantization, parameter checks, exporter helpers. */
#include <stdint.h>
#include <string.h>

#include "data/runtime_ref.h"
#include "tq_rt.h"
#include "tq_test.h"

static void test_rshift_round_vectors(void) {
  /* (v + 2^(n-1)) >> n, ties up */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(-3, 1), -1); /* -1.5 -> -1 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(-5, 1), -2); /* -2.5 -> -2 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(5, 1), 3);   /*  2.5 ->  3 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(3, 1), 2);   /*  1.5 ->  2 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(-1, 1), 0);  /* -0.5 ->  0 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(1, 1), 1);   /*  0.5 ->  1 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(-7, 2), -2); /* -1.75 -> -2 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(-6, 2), -1); /* -1.5 -> -1 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(-10, 2), -2); /* -2.5 -> -2 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(10, 2), 3);  /* 2.5 -> 3 */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(9, 2), 2);   /* 2.25 -> 2 */
  /* n = 0 and negative n (left shifts, saturating) */
  CHECK_EQ_INT(tq_rt_rshift_round_s64(-123, 0), -123);
  CHECK_EQ_INT(tq_rt_rshift_round_s64(-3, -2), -12);
  CHECK_EQ_INT(tq_rt_rshift_round_s64(5, -4), 80);
  CHECK(tq_rt_rshift_round_s64(INT64_MAX / 2 + 1, -1) == INT64_MAX);
  CHECK(tq_rt_rshift_round_s64(INT64_MIN / 2, -1) == INT64_MIN);
  CHECK(tq_rt_rshift_round_s64(INT64_MIN / 2 - 1, -1) == INT64_MIN);
  CHECK(tq_rt_rshift_round_s64(-1, -63) == INT64_MIN);
  CHECK(tq_rt_rshift_round_s64(1, -100) == INT64_MAX);
  CHECK(tq_rt_rshift_round_s64(0, -100) == 0);
  /* extreme right shifts and values, no overflow in the rounding add */
  CHECK(tq_rt_rshift_round_s64(INT64_MAX, 1) == ((int64_t)1 << 62));
  CHECK(tq_rt_rshift_round_s64(INT64_MIN, 63) == -1);
  CHECK(tq_rt_rshift_round_s64(INT64_MAX, 63) == 1);
  CHECK(tq_rt_rshift_round_s64(INT64_MIN, 64) == 0);
  CHECK(tq_rt_rshift_round_s64(-1, 200) == 0);
  CHECK(tq_rt_asr_s64(-3, 1) == -2 && tq_rt_asr_s64(-1, 63) == -1 && tq_rt_asr_s64(7, 1) == 3);
}

static void test_rshift_round_random(void) {
  int i, bad = 0;
  for (i = 0; i < 200000; i++) {
    const int64_t v = (int64_t)ref_rand64() >> ref_randi(0, 62);
    const int n = (int)ref_randi(-20, 64);
    i128 want = ref_rshift_round(v, n);
    if (want > INT64_MAX) want = INT64_MAX;
    if (want < INT64_MIN) want = INT64_MIN;
    if ((i128)tq_rt_rshift_round_s64(v, n) != want) bad++;
  }
  CHECK_EQ_INT(bad, 0);
}

static void test_mult_mode(void) {
  int i, bad_exact = 0, bad_tfl = 0, bad_double = 0, tfl_cases = 0;
  /* hand vectors: M = 2^30 (0.5), n = 1 -> scale 0.25; 6*0.25 = 1.5: SRDHM(6, 2^30) = 3, RDBP(3,1) = 2 */
  CHECK_EQ_INT(tq_rt_requant_mult_s64(6, 1 << 30, 1), 2);
  CHECK_EQ_INT(tq_rt_requant_mult_s64(-6, 1 << 30, 1), -2); /* -1.5: away from zero */
  CHECK_EQ_INT(tq_rt_requant_mult_s64(-1, 1 << 30, 0), 0);  /* -0.5 in SRDHM: ties up */
  CHECK_EQ_INT(tq_rt_requant_mult_s64(1, 1 << 30, 0), 1);   /* +0.5 in SRDHM: ties up */
  CHECK_EQ_INT(tq_rt_requant_mult_s64(-10, 1 << 30, 1), -3); /* -2.5 -> -3 */
  CHECK_EQ_INT(tq_rt_requant_mult_s64(3, 1 << 30, -2), 6);   /* 3 * 0.5 * 4 */
  for (i = 0; i < 300000; i++) {
    const int acc64 = i % 3 == 0;
    const int64_t acc = acc64 ? (int64_t)(ref_rand64() >> ref_randi(12, 40)) * (ref_rand64() & 1 ? 1 : -1)
                              : (int64_t)(int32_t)ref_rand64() >> ref_randi(0, 30);
    const int32_t m = (int32_t)ref_randi(i % 7 ? (1 << 30) : 0, INT32_MAX);
    const int n = (int)ref_randi(acc64 ? -4 : -31, 40);
    const int64_t got = tq_rt_requant_mult_s64(acc, m, n);
    const i128 want = ref_requant_mult(acc, m, n);
    const double real = (double)acc * (double)m * ldexp(1.0, -31 - n);
    if ((i128)got != want) bad_exact++;
    if (fabs((double)got - real) > 1.0 + fabs(real) * 1e-15) bad_double++;
    /* bit-exact with TFLite's MultiplyByQuantizedMultiplier (shift = -n) wherever it cannot overflow */
    if (!acc64 && n <= 31) {
      const int left = n < 0 ? -n : 0;
      if (acc >= -(INT64_C(1) << (31 - left)) && acc < (INT64_C(1) << (31 - left))) {
        tfl_cases++;
        if (tfl_mbqm((int32_t)acc, m, -n) != got) bad_tfl++;
      }
    }
  }
  CHECK_EQ_INT(bad_exact, 0);
  CHECK_EQ_INT(bad_double, 0);
  CHECK_EQ_INT(bad_tfl, 0);
  CHECK(tfl_cases > 100000);
}

static void test_requant_apply_and_check(void) {
  const int8_t sh[3] = {2, 0, -1};
  const int32_t mu[3] = {1 << 30, INT32_MAX, 0};
  tq_rt_requant rq = {TQ_RT_RQ_PO2, 1, NULL, sh, 5, -127, 127};
  CHECK_EQ_INT(tq_rt_requant_apply(10, &rq, 0), 5 + 3);      /* 2.5 -> 3 */
  CHECK_EQ_INT(tq_rt_requant_apply(-10, &rq, 0), 5 - 2);     /* -2.5 -> -2 */
  CHECK_EQ_INT(tq_rt_requant_apply(1000, &rq, 0), 127);      /* saturates at the clamp */
  CHECK_EQ_INT(tq_rt_requant_apply(-1000, &rq, 1), -127);
  CHECK_EQ_INT(tq_rt_requant_apply(-60, &rq, 2), -115);
  CHECK_EQ_INT(tq_rt_requant_apply(INT64_MAX, &rq, 2), 127); /* saturated left shift, then clamp */
  rq.act_min = 5; /* fused ReLU: clamp at the zero point */
  CHECK_EQ_INT(tq_rt_requant_apply(-40, &rq, 0), 5);
  rq.per_channel = 0;
  CHECK_EQ_INT(tq_rt_requant_apply(40, &rq, 2), 15); /* channel 2 uses shift[0] */
  CHECK_EQ_INT(tq_rt_requant_check(&rq, 3, -128, 127), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_requant_check(&rq, 3, 0, 127), TQ_RT_OK);
  rq.act_min = -128;
  CHECK_EQ_INT(tq_rt_requant_check(&rq, 3, -127, 127), TQ_RT_ERR_ARG);
  rq.act_min = 10;
  rq.act_max = 9;
  CHECK_EQ_INT(tq_rt_requant_check(&rq, 3, -128, 127), TQ_RT_ERR_ARG);
  rq.act_max = 127;
  rq.mode = TQ_RT_RQ_MULT;
  CHECK_EQ_INT(tq_rt_requant_check(&rq, 3, -128, 127), TQ_RT_ERR_ARG); /* no multipliers */
  rq.mult = mu;
  rq.per_channel = 1;
  CHECK_EQ_INT(tq_rt_requant_check(&rq, 3, -128, 127), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_requant_apply(100, &rq, 1), 105); /* M = 2^31-1, n = 0: ~1.0 */
  CHECK_EQ_INT(tq_rt_requant_apply(100, &rq, 2), 10);  /* M = 0: act_min */
  rq.mode = 7;
  CHECK_EQ_INT(tq_rt_requant_check(&rq, 3, -128, 127), TQ_RT_ERR_ARG);
  {
    const int8_t bad_sh[1] = {-32};
    const int32_t m1[1] = {1 << 30};
    tq_rt_requant r2 = {TQ_RT_RQ_MULT, 0, m1, bad_sh, 0, -128, 127};
    CHECK_EQ_INT(tq_rt_requant_check(&r2, 4, -128, 127), TQ_RT_ERR_ARG);
    r2.mode = TQ_RT_RQ_PO2; /* po2 accepts any shift */
    CHECK_EQ_INT(tq_rt_requant_check(&r2, 4, -128, 127), TQ_RT_OK);
    CHECK_EQ_INT(tq_rt_requant_check(NULL, 4, -128, 127), TQ_RT_ERR_ARG);
  }
}

static void test_pack_and_fold(void) {
  const int8_t codes[5] = {-8, 7, -1, 3, 5};
  const int32_t codes32[5] = {-8, 7, -1, 3, 5};
  uint8_t p[3], q[3];
  size_t k;
  CHECK_EQ_INT(tq_rt_pack_s4(p, codes, 5), TQ_RT_OK);
  ref_pack4(q, codes32, 5);
  CHECK(memcmp(p, q, 3) == 0);
  CHECK_EQ_INT(p[0], 0x78); /* -8 -> 0x8 low, 7 -> 0x7 high */
  CHECK_EQ_INT(p[1], 0x3F);
  CHECK_EQ_INT(p[2], 0x05); /* odd count: unused high nibble 0 */
  for (k = 0; k < 5; k++) CHECK_EQ_INT(tq_rt_s4_at(p, k), codes[k]);
  {
    const int8_t bad[2] = {8, 0};
    p[0] = 0xAB;
    CHECK_EQ_INT(tq_rt_pack_s4(p, bad, 2), TQ_RT_ERR_ARG);
    CHECK_EQ_INT(p[0], 0xAB);
  }
  /* fold: 2 channels of 3 weights, conv layout (c_stride 3, k_stride 1) and depthwise (1, 2) */
  {
    const int8_t w[6] = {1, -2, 3, 4, 5, -6};
    const int32_t b[2] = {100, -100};
    int32_t be[2];
    int64_t be64[2];
    const int64_t b64[2] = {100, -100};
    CHECK_EQ_INT(tq_rt_fold_bias_s8w(be, b, w, 2, 3, 3, 1, -7), TQ_RT_OK);
    CHECK_EQ_INT(be[0], 100 + 7 * 2);
    CHECK_EQ_INT(be[1], -100 + 7 * 3);
    CHECK_EQ_INT(tq_rt_fold_bias_s8w(be, NULL, w, 2, 3, 1, 2, 3), TQ_RT_OK);
    CHECK_EQ_INT(be[0], -3 * (1 + 3 + 5));
    CHECK_EQ_INT(be[1], -3 * (-2 + 4 - 6));
    CHECK_EQ_INT(tq_rt_fold_bias_s8w_acc64(be64, b64, w, 2, 3, 3, 1, -7), TQ_RT_OK);
    CHECK_EQ_INT(be64[0], 114);
    CHECK_EQ_INT(be64[1], -79);
    CHECK_EQ_INT(tq_rt_acc_bound_s8w(-5, w, 1, 3, 3, 1, 128), 5 + 15 * 128);
  }
  {
    const int16_t w16[2] = {32767, 32767};
    const int32_t b[1] = {INT32_MAX - 10};
    int32_t be[1];
    CHECK_EQ_INT(tq_rt_fold_bias_s16w(be, b, w16, 1, 2, 2, 1, -1), TQ_RT_ERR_ARG); /* > int32 */
    CHECK_EQ_INT(tq_rt_acc_bound_s16w(0, w16, 0, 2, 2, 1, 32768), 65534LL * 32768);
    CHECK_EQ_INT(tq_rt_acc_bound_s16w(-100000, w16, 0, 2, 2, 1, 32768) > INT32_MAX, 1);
  }
  {
    uint8_t w4[2];
    const int8_t c4[3] = {-8, 7, -3};
    int32_t be[3];
    tq_rt_pack_s4(w4, c4, 3);
    CHECK_EQ_INT(tq_rt_fold_bias_s4w(be, NULL, w4, 3, 1, 1, 1, 2), TQ_RT_OK);
    CHECK_EQ_INT(be[0], 16);
    CHECK_EQ_INT(be[1], -14);
    CHECK_EQ_INT(be[2], 6);
  }
}

static void test_geometry(void) {
  int32_t o, pb, pa;
  tq_rt_conv_geom g = {1, 5, 6, 3, 3, 3, 8, 3, 3, 2, 2, 1, 1, 0, 1, 1};
  tq_rt_pad_same(5, 3, 2, &o, &pb, &pa);
  CHECK(o == 3 && pb == 1 && pa == 1);
  tq_rt_pad_same(6, 3, 2, &o, &pb, &pa);
  CHECK(o == 3 && pb == 0 && pa == 1); /* extra padding at the bottom/right */
  tq_rt_pad_same(49, 10, 2, &o, &pb, &pa);
  CHECK(o == 25 && pb == 4 && pa == 5);
  CHECK_EQ_INT(tq_rt_geom_check(&g, TQ_RT_GEOM_CONV), TQ_RT_OK);
  g.out_w = 4;
  CHECK_EQ_INT(tq_rt_geom_check(&g, TQ_RT_GEOM_CONV), TQ_RT_ERR_ARG);
  g.out_w = 3;
  CHECK_EQ_INT(tq_rt_geom_check(&g, TQ_RT_GEOM_DEPTHWISE), TQ_RT_ERR_ARG); /* 8 != 3 * 1 */
  g.out_c = 6;
  g.depth_mult = 2;
  CHECK_EQ_INT(tq_rt_geom_check(&g, TQ_RT_GEOM_DEPTHWISE), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_geom_check(&g, TQ_RT_GEOM_POOL), TQ_RT_ERR_ARG);
  g.out_c = 3;
  CHECK_EQ_INT(tq_rt_geom_check(&g, TQ_RT_GEOM_POOL), TQ_RT_OK);
  g.stride_h = 0;
  CHECK_EQ_INT(tq_rt_geom_check(&g, TQ_RT_GEOM_POOL), TQ_RT_ERR_ARG);
  CHECK_EQ_INT(tq_rt_geom_check(NULL, TQ_RT_GEOM_POOL), TQ_RT_ERR_ARG);
}

int main(void) {
  test_rshift_round_vectors();
  test_rshift_round_random();
  test_mult_mode();
  test_requant_apply_and_check();
  test_pack_and_fold();
  test_geometry();
  TEST_MAIN_END();
}
