/* Integer runtime: requant, clamp, add (po2 and TFLite multiplier form), channel-broadcast multiply,
 * argmax, quantize / dequantize. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/runtime_ref.h"
#include "tq_rt.h"
#include "tq_test.h"

static void test_requant_clamp(void) {
  const int8_t x[6] = {-128, -3, -1, 0, 5, 127};
  const int8_t sh[1] = {-4};
  int16_t y[6];
  int8_t z[6];
  int i;
  tq_rt_requant rq = {TQ_RT_RQ_PO2, 0, NULL, sh, 100, -32768, 32767};
  /* s8 -> s16 with 16x finer scale: y = 100 + 16 (x - 2) */
  CHECK_EQ_INT(tq_rt_requant_s8_s16(y, x, 6, 2, &rq), TQ_RT_OK);
  for (i = 0; i < 6; i++) CHECK_EQ_INT(y[i], 100 + 16 * (x[i] - 2));
  /* and back: s16 -> s8 with n = 4 (exact) plus a ReLU clamp at z_Y = -3 */
  {
    const int8_t sh4[1] = {4};
    tq_rt_requant back = {TQ_RT_RQ_PO2, 0, NULL, sh4, 2, -3 + 5, 127};
    CHECK_EQ_INT(tq_rt_requant_s16_s8(z, y, 6, 100, &back), TQ_RT_OK);
    for (i = 0; i < 6; i++) CHECK_EQ_INT(z[i], x[i] < 2 ? 2 : x[i]);
  }
  /* clamps: ReLU at z = -3 and ReLU6 at z + 6/s = -3 + 6 = 3 */
  CHECK_EQ_INT(tq_rt_clamp_s8(z, x, 6, -3, 3), TQ_RT_OK);
  CHECK(z[0] == -3 && z[1] == -3 && z[2] == -1 && z[3] == 0 && z[4] == 3 && z[5] == 3);
  CHECK_EQ_INT(tq_rt_clamp_s8(z, z, 6, 0, 127), TQ_RT_OK); /* in place */
  CHECK(z[0] == 0 && z[4] == 3);
  CHECK_EQ_INT(tq_rt_clamp_s8(z, x, 6, 5, 4), TQ_RT_ERR_ARG);
  CHECK_EQ_INT(tq_rt_clamp_s16(y, y, 6, -40000, 0), TQ_RT_ERR_ARG);
  /* random s16 -> s8 requant vs the reference, both modes */
  {
    int t, bad = 0;
    for (t = 0; t < 20000; t++) {
      int16_t a = (int16_t)ref_randi(-32768, 32767);
      int8_t o;
      const int32_t zx = (int32_t)ref_randi(-1000, 1000);
      const int8_t s1[1] = {(int8_t)ref_randi(-2, 12)};
      const int32_t m1[1] = {(int32_t)ref_randi(1 << 30, INT32_MAX)};
      tq_rt_requant r = {(int32_t)(t & 1), 0, m1, s1, (int32_t)ref_randi(-20, 20), -127, 127};
      tq_rt_requant_s16_s8(&o, &a, 1, zx, &r);
      bad += o != ref_requant((i128)a - zx, t & 1, m1[0], s1[0], r.out_zp, -127, 127);
    }
    CHECK_EQ_INT(bad, 0);
  }
}

static void test_add(void) {
  /* po2: s_A = 2^-3, s_B = 2^-4, s_Y = 2^-2. a = 10 (z 2) -> 1.0; b = -7 (z 1) -> -0.5; sum 0.5 -> 2 */
  tq_rt_add_params p;
  int8_t a[3] = {10, 10, -128}, b[3] = {-7, -6, -128}, y[3];
  memset(&p, 0, sizeof p);
  p.mode = TQ_RT_RQ_PO2;
  p.a_zp = 2;
  p.b_zp = 1;
  p.out_zp = 0;
  p.a_shift = -1; /* to the common scale 2^-4 */
  p.b_shift = 0;
  p.out_shift = 2;
  p.act_min = -128;
  p.act_max = 127;
  CHECK_EQ_INT(tq_rt_add_s8_s8_s8(y, a, b, 3, &p), TQ_RT_OK);
  CHECK_EQ_INT(y[0], 2);
  CHECK_EQ_INT(y[1], 2); /* 16 - 7 = 9 -> 2.25 -> 2 */
  CHECK_EQ_INT(y[2], (int)ref_clamp(ref_rshift_round((i128)(-130) * 2 + (-129), 2), -128, 127));
  /* random po2 adds vs exact real arithmetic; and multiplier adds bit-exact vs TFLite's reference */
  {
    int t, bad_po2 = 0, bad_tfl = 0;
    for (t = 0; t < 20000; t++) {
      int16_t a16 = (int16_t)ref_randi(-32768, 32767);
      int8_t b8 = (int8_t)ref_randi(-128, 127), o8;
      int16_t o16;
      const int ea = (int)ref_randi(-12, -2), eb = (int)ref_randi(-12, -2), ey = (int)ref_randi(-12, 0);
      const int e0 = ea < eb ? ea : eb;
      tq_rt_add_params q;
      memset(&q, 0, sizeof q);
      q.mode = TQ_RT_RQ_PO2;
      q.a_zp = (int32_t)ref_randi(-300, 300);
      q.b_zp = (int32_t)ref_randi(-20, 20);
      q.out_zp = (int32_t)ref_randi(-50, 50);
      q.a_shift = e0 - ea;
      q.b_shift = e0 - eb;
      q.out_shift = ey - e0;
      q.act_min = -32768;
      q.act_max = 32767;
      tq_rt_add_s16_s8_s16(&o16, &a16, &b8, 1, &q);
      {
        /* real sum / s_Y = ((a-za) 2^ea + (b-zb) 2^eb) / 2^ey, rounded half up, exactly */
        const i128 num = (i128)(a16 - q.a_zp) * ref_pow2(ea - e0) + (i128)(b8 - q.b_zp) * ref_pow2(eb - e0);
        bad_po2 += o16 != ref_clamp(q.out_zp + ref_rshift_round(num, ey - e0), -32768, 32767);
      }
      /* TFLite int8 add: left_shift 20, input multipliers < 1, output multiplier */
      {
        int8_t a8 = (int8_t)ref_randi(-128, 127);
        int32_t sa, sb, s;
        q.mode = TQ_RT_RQ_MULT;
        q.left_shift = 20;
        q.a_zp = (int32_t)ref_randi(-128, 127);
        q.b_zp = (int32_t)ref_randi(-128, 127);
        q.out_zp = (int32_t)ref_randi(-128, 127);
        q.a_mult = (int32_t)ref_randi(1 << 30, INT32_MAX);
        q.b_mult = (int32_t)ref_randi(1 << 30, INT32_MAX);
        q.out_mult = (int32_t)ref_randi(1 << 30, INT32_MAX);
        q.a_shift = (int32_t)ref_randi(0, 3);
        q.b_shift = (int32_t)ref_randi(0, 3);
        q.out_shift = (int32_t)ref_randi(17, 21);
        q.act_min = -128;
        q.act_max = 127;
        tq_rt_add_s8_s8_s8(&o8, &a8, &b8, 1, &q);
        sa = tfl_mbqm((a8 - q.a_zp) * (1 << 20), q.a_mult, -q.a_shift);
        sb = tfl_mbqm((b8 - q.b_zp) * (1 << 20), q.b_mult, -q.b_shift);
        s = tfl_mbqm(sa + sb, q.out_mult, -q.out_shift) + q.out_zp;
        bad_tfl += o8 != (s < -128 ? -128 : s > 127 ? 127 : s);
      }
    }
    CHECK_EQ_INT(bad_po2, 0);
    CHECK_EQ_INT(bad_tfl, 0);
  }
  p.act_max = 128;
  CHECK_EQ_INT(tq_rt_add_s8_s8_s8(y, a, b, 3, &p), TQ_RT_ERR_ARG);
}

static void test_mul_bcast(void) {
  /* x (1, 2, 3), gate (1, 3) */
  const int8_t x[6] = {10, -20, 30, 0, 5, -128};
  const int8_t gte[3] = {-128, 0, 127};
  int8_t y[6];
  const int8_t sh[1] = {7};
  const tq_rt_requant rq = {TQ_RT_RQ_PO2, 0, NULL, sh, 1, -128, 127};
  int i;
  CHECK_EQ_INT(tq_rt_mul_bcast_s8_s8_s8(y, x, gte, 1, 2, 3, 2, -128, &rq), TQ_RT_OK);
  for (i = 0; i < 6; i++) {
    const i128 acc = (i128)(x[i] - 2) * (gte[i % 3] + 128);
    CHECK_EQ_INT(y[i], ref_clamp(1 + ref_rshift_round(acc, 7), -128, 127));
  }
  CHECK_EQ_INT(y[0], 1); /* gate 0 (code -128 = z_G) closes the channel: out = z_Y */
}

static void test_argmax(void) {
  const int8_t v[8] = {3, 9, 9, -1, -5, -5, -7, -5};
  const int16_t w[3] = {-300, 200, 200};
  int32_t idx[2];
  CHECK_EQ_INT(tq_rt_argmax_s8(idx, v, 2, 4), TQ_RT_OK);
  CHECK_EQ_INT(idx[0], 1); /* tie -> lowest index */
  CHECK_EQ_INT(idx[1], 0);
  CHECK_EQ_INT(tq_rt_argmax_s16(idx, w, 1, 3), TQ_RT_OK);
  CHECK_EQ_INT(idx[0], 1);
  CHECK_EQ_INT(tq_rt_argmax_s8(idx, v, 0, 4), TQ_RT_ERR_ARG);
}

static void test_quantize(void) {
  /* SPEC 1.2 vectors: b=4 [-1,-0.25,0.3,1]: s = 1/7, zp = 0 -> codes [-7,-2,2,7] -> [-1,-2/7,2/7,1] */
  const float x4[4] = {-1.0f, -0.25f, 0.3f, 1.0f};
  const float x8[4] = {0.0f, 0.5f, 1.0f, 2.0f};
  int8_t q[4];
  int16_t q16[4];
  float d[4];
  CHECK_EQ_INT(tq_rt_quantize_f32_s8(q, x4, 4, 2.0f / 14.0f, 0, -7, 7), TQ_RT_OK);
  CHECK(q[0] == -7 && q[1] == -2 && q[2] == 2 && q[3] == 7);
  CHECK_EQ_INT(tq_rt_dequantize_s8_f32(d, q, 4, 2.0f / 14.0f, 0), TQ_RT_OK);
  CHECK_NEAR(d[1], -0.285714, 1e-6);
  CHECK_NEAR(d[2], 0.285714, 1e-6);
  /* b=8 [0,0.5,1,2]: s = 4/254, zp = -127 -> [0, 0.503937, 0.992126, 2.0] (1.0 is a tie: rounds down) */
  CHECK_EQ_INT(tq_rt_quantize_f32_s8(q, x8, 4, 4.0f / 254.0f, -127, -127, 127), TQ_RT_OK);
  CHECK(q[0] == -127 && q[1] == -95 && q[2] == -64 && q[3] == 0);
  CHECK_EQ_INT(tq_rt_dequantize_s8_f32(d, q, 4, 4.0f / 254.0f, -127), TQ_RT_OK);
  CHECK_NEAR(d[0], 0.0, 1e-7);
  CHECK_NEAR(d[1], 0.503937, 1e-6);
  CHECK_NEAR(d[2], 0.992126, 1e-6);
  CHECK_NEAR(d[3], 2.0, 1e-6);
  /* saturation, flush to zero, NaN, half away from zero */
  CHECK_EQ_INT(tq_rt_quantize_value(1e30f, 0.5f, 3, -127, 127), 127);
  CHECK_EQ_INT(tq_rt_quantize_value(-1e30f, 0.5f, 3, -127, 127), -127);
  CHECK_EQ_INT(tq_rt_quantize_value(5e-8f, 1e-9f, 3, -127, 127), 3);
  CHECK_EQ_INT(tq_rt_quantize_value(NAN, 1.0f, 3, -127, 127), 3);
  CHECK_EQ_INT(tq_rt_quantize_value(-2.5f, 1.0f, 0, -127, 127), -3);
  CHECK_EQ_INT(tq_rt_quantize_value(2.5f, 1.0f, 0, -127, 127), 2); /* 2.5 - 1.5e-5 -> 2 */
  {
    const float big[2] = {40000.0f, -3.0f};
    CHECK_EQ_INT(tq_rt_quantize_f32_s16(q16, big, 2, 2.0f, 10, -32767, 32767), TQ_RT_OK);
    CHECK(q16[0] == 20010 && q16[1] == 8);
  }
  CHECK_EQ_INT(tq_rt_quantize_f32_s8(q, x8, 4, 0.0f, 0, -127, 127), TQ_RT_ERR_ARG);
}

int main(void) {
  test_requant_clamp();
  test_add();
  test_mul_bcast();
  test_argmax();
  test_quantize();
  TEST_MAIN_END();
}
