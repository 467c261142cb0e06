/* Integer runtime: LUT activations (sigmoid, swish) — max error against float. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "tq_rt.h"
#include "tq_test.h"

static double sig(double x) { return 1.0 / (1.0 + exp(-x)); }
static double swi(double x) { return x * sig(x); }

/* int8: error is only the output rounding, <= s_Y/2 wherever the output is not clamped */
static void test_lut_s8(void) {
  int8_t lut[256], in[256], out[256];
  int16_t lut16[256], out16[256];
  int i;
  double e_sig = 0, e_swi = 0;
  const double sx = 1.0 / 16, sy = 1.0 / 256;
  for (i = 0; i < 256; i++) in[i] = (int8_t)(i - 128);
  CHECK_EQ_INT(tq_rt_lut_build_s8(lut, tq_rt_fn_sigmoid, sx, 0, sy, -128, -128, 127), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_lut_s8_s8(out, in, 256, lut), TQ_RT_OK);
  for (i = 0; i < 256; i++) {
    const double want = sig(sx * in[i]), got = sy * (out[i] + 128);
    if (out[i] < 127) e_sig = fmax(e_sig, fabs(got - want));
    else CHECK(want >= sy * (255 - 0.5) - 1e-9); /* clamped at the top code */
  }
  CHECK(e_sig <= sy / 2 + 1e-6);
  CHECK(e_sig > sy / 4); /* the table really rounds (and this is not a trivially passing test) */
  printf("lut s8: sigmoid (s_X = 2^-4, s_Y = 2^-8) max err %.3g (s_Y/2 = %.3g)\n", e_sig, sy / 2);
  /* swish, s_Y = 2^-4, z_Y = -120 (range [-0.5, 15.4]) */
  CHECK_EQ_INT(tq_rt_lut_build_s8(lut, tq_rt_fn_swish, sx, 3, 1.0 / 16, -120, -128, 127), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_lut_s8_s8(out, in, 256, lut), TQ_RT_OK);
  for (i = 0; i < 256; i++) {
    const double want = swi(sx * (in[i] - 3)), got = (out[i] + 120) / 16.0;
    e_swi = fmax(e_swi, fabs(got - want));
  }
  CHECK(e_swi <= 1.0 / 32 + 1e-6);
  /* int8 in, int16 out */
  CHECK_EQ_INT(tq_rt_lut_build_s8_s16(lut16, tq_rt_fn_sigmoid, sx, 0, 1.0 / 32768, -16384, -32767, 32767), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_lut_s8_s16(out16, in, 256, lut16), TQ_RT_OK);
  e_sig = 0;
  for (i = 0; i < 256; i++) e_sig = fmax(e_sig, fabs((out16[i] + 16384) / 32768.0 - sig(sx * in[i])));
  CHECK(e_sig <= 0.5 / 32768 + 1e-9);
  printf("lut s8: swish (s_Y = 2^-4) max err %.3g; s8->s16 sigmoid max err %.3g\n", e_swi, e_sig);
}

/* int16 with interpolation: error <= s_Y (two roundings) + h^2/8 max|f''| */
static double lut16_err(double (*f)(double), double (*fr)(double), double sx, double sy,
                        int32_t zy, int32_t x_min, int32_t k, double f2max) {
  int16_t lut[257], out;
  int32_t x;
  double e = 0;
  const double h = sx * (1 << k);
  CHECK_EQ_INT(tq_rt_lut_build_s16(lut, f, sx, 0, sy, zy, -32768, 32767, x_min, k), TQ_RT_OK);
  for (x = -32768; x <= 32767; x++) {
    const int16_t xi = (int16_t)x;
    double want = fr(sx * x);
    tq_rt_lut_s16_s16(&out, &xi, 1, lut, x_min, k);
    if (want / sy + zy > 32767.5) want = sy * (32767 - zy); /* clamped range */
    e = fmax(e, fabs(sy * (out - zy) - want));
  }
  CHECK(e <= sy + h * h / 8 * f2max + 1e-9);
  return e;
}

static void test_lut_s16(void) {
  const double sx = 1.0 / 2048, sy = 1.0 / 32768;
  /* sigmoid, whole int16 range in 256 segments of 256 codes (h = 1/8); |sigmoid''| <= 0.0963 */
  const double e1 = lut16_err(tq_rt_fn_sigmoid, sig, sx, sy, -16384, -32768, 8, 0.0963);
  /* coarser input scale 2^-10 (range [-32, 32)): whole range (h = 1/4) against a window [-16, 16)
   * (x_min = -16384, k = 7, h = 1/8) outside which sigmoid is flat to within s_Y/2 */
  const double e2f = lut16_err(tq_rt_fn_sigmoid, sig, 2 * sx, sy, -16384, -32768, 8, 0.0963);
  const double e2 = lut16_err(tq_rt_fn_sigmoid, sig, 2 * sx, sy, -16384, -16384, 7, 0.0963);
  /* swish, whole range, s_Y = 2^-11; |swish''| <= 0.5 */
  const double e3 = lut16_err(tq_rt_fn_swish, swi, sx, 1.0 / 2048, 0, -32768, 8, 0.5);
  int16_t lut[257], in[3] = {-32768, 0, 32767}, out[3];
  int8_t o8[3];
  printf("lut s16 (s_Y = 2^-15): sigmoid s_X = 2^-11 whole range k=8: max err %.3g; s_X = 2^-10 whole "
         "range k=8: %.3g, window [-16,16) k=7: %.3g; swish s_X = s_Y = 2^-11 k=8: %.3g\n", e1, e2f, e2, e3);
  CHECK(e2 < e2f);
  /* ends and s16 -> s8 clamping */
  CHECK_EQ_INT(tq_rt_lut_build_s16(lut, tq_rt_fn_sigmoid, sx, 0, 1.0 / 256, -128, -128, 127, -32768, 8), TQ_RT_OK);
  CHECK_EQ_INT(tq_rt_lut_s16_s16(out, in, 3, lut, -32768, 8), TQ_RT_OK);
  CHECK(out[0] == -128 && out[1] == 0 && out[2] == 127);
  CHECK_EQ_INT(tq_rt_lut_s16_s8(o8, in, 3, lut, -32768, 8), TQ_RT_OK);
  CHECK(o8[0] == -128 && o8[1] == 0 && o8[2] == 127);
  CHECK_EQ_INT(tq_rt_lut_s16_s16(out, in, 3, lut, -32768, 9), TQ_RT_ERR_ARG);
}

int main(void) {
  test_lut_s8();
  test_lut_s16();
  TEST_MAIN_END();
}
