/* Quantizer values against SPEC §1's vectors and vectors derived by hand from SPEC §1's formulas
 * (each derivation is in the comment above the check). */
#include <math.h>
#include <string.h>

#include "tinyq/quant.h"
#include "tq_test.h"

/* Quantizes `in` (shape dims) with the quantizer string and checks every output against `want`
 * (tol 0 = exact). Optionally checks the reported steps. */
static void check_q(const char *qs, const int *dims, int rank, const float *in, const float *want,
                    double tol, const float *want_steps, int line) {
  tq_quantizer q;
  if (tq_quantizer_parse(&q, qs) != TQ_OK) {
    fprintf(stderr, "line %d: parse failed: %s\n", line, tq_last_error());
    tq_test_failures++;
    return;
  }
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  float out[256], steps[256];
  size_t ns = tq_quantizer_num_scales(&q, dims, rank);
  tq_status st = tq_quantize_forward(&q, out, steps, in, dims, rank, 0, NULL);
  if (st != TQ_OK) {
    fprintf(stderr, "line %d: forward failed: %s\n", line, tq_last_error());
    tq_test_failures++;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (!(fabs((double)out[i] - (double)want[i]) <= tol)) {
      fprintf(stderr, "line %d: %s: out[%zu] = %.9g, want %.9g\n", line, qs, i, (double)out[i],
              (double)want[i]);
      tq_test_failures++;
    }
  }
  if (want_steps)
    for (size_t g = 0; g < ns; g++)
      if (!(fabs((double)steps[g] - (double)want_steps[g]) <= tol * 1e-3 + 1e-12)) {
        fprintf(stderr, "line %d: %s: step[%zu] = %.9g, want %.9g\n", line, qs, g,
                (double)steps[g], (double)want_steps[g]);
        tq_test_failures++;
      }
  /* In-place gives the same result. */
  float tmp[256];
  memcpy(tmp, in, n * sizeof *tmp);
  CHECK(tq_quantize_forward(&q, tmp, NULL, tmp, dims, rank, 0, NULL) == TQ_OK);
  CHECK(memcmp(tmp, out, n * sizeof *tmp) == 0);
}
#define CHECKQ(qs, dims, rank, in, want, tol, steps) check_q(qs, dims, rank, in, want, tol, steps, __LINE__)

static void spec_quantized_bits_fixed(void) {
  const int d4[1] = {4};
  const float x[4] = {-2.6f, -0.375f, 0.625f, 1.9f};
  /* SPEC §1.1 vectors. Ties: p = 4x gives -1.5 -> -2 and 2.5 -> 2 (round half to even). */
  CHECKQ("quantized_bits(4,1,0,1)", d4, 1, x, ((float[]){-2.0f, -0.5f, 0.5f, 1.75f}), 0, NULL);
  CHECKQ("quantized_bits(4,1,1,1)", d4, 1, x, ((float[]){-1.75f, -0.5f, 0.5f, 1.75f}), 0, NULL);
  CHECKQ("quantized_bits(4,1,0,0)", d4, 1, x, ((float[]){0, 0, 0.625f, 1.875f}), 0, NULL);
  CHECKQ("quantized_bits(4,1,0,1,alpha=2.0)", d4, 1, x, ((float[]){-4, -1, 1, 3.5f}), 0, NULL);
  const int d9[1] = {9};
  CHECKQ("quantized_bits(6,2,0,1)", d9, 1, ((float[]){-3, -2, -1, -0.5f, 0, 0.5f, 1, 4, 10}),
         ((float[]){-3, -2, -1, -0.5f, 0, 0.5f, 1, 3.875f, 3.875f}), 0, NULL);
  /* Step reported: alpha * 2^integer / 2^(bits-kn) = 2 * 2 / 8. */
  CHECKQ("quantized_bits(4,1,0,1,alpha=2.0)", d4, 1, x, ((float[]){-4, -1, 1, 3.5f}), 0,
         ((float[]){0.5f}));
}

static void ties_and_small_bits(void) {
  const int d4[1] = {4}, d6[1] = {6};
  /* quantized_bits(4,0,0,1): p = 8x; 0.5 -> 0, 1.5 -> 2, -0.5 -> 0, -2.5 -> -2 (rne). */
  CHECKQ("quantized_bits(4,0,0,1)", d4, 1, ((float[]){0.0625f, 0.1875f, -0.0625f, -0.3125f}),
         ((float[]){0, 0.25f, 0, -0.25f}), 0, NULL);
  /* Same inputs, 'auto' (bits 4 -> H 7, L 14) with max 0.875 added: s = 2*0.875/14 = 0.125, and
   * z = floor(|y|/s + 0.5) rounds halves AWAY from zero: 2.5 -> 3, 0.5 -> 1, 1.5 -> 2. */
  CHECKQ("quantized_bits(4,0,1,alpha='auto')", d4, 1, ((float[]){0.875f, 0.3125f, -0.0625f, 0.1875f}),
         ((float[]){0.875f, 0.375f, -0.125f, 0.25f}), 0, ((float[]){0.125f}));
  /* bits=1 with keep_negative: ±1 with sign(0) = +1 (also -0), alpha multiplies. */
  CHECKQ("quantized_bits(1,0,0,1)", d4, 1, ((float[]){-0.3f, 0.0f, 0.2f, -0.0f}),
         ((float[]){-1, 1, 1, 1}), 0, NULL);
  CHECKQ("quantized_bits(1,0,0,1,alpha=0.5)", d4, 1, ((float[]){-0.3f, 0.0f, 0.2f, -7.0f}),
         ((float[]){-0.5f, 0.5f, 0.5f, -0.5f}), 0, NULL);
  /* bits=1 without keep_negative: m = 2, p = 2x, codes [0, 1], xq = c/2. */
  CHECKQ("quantized_bits(1,0,0,0)", d4, 1, ((float[]){0.3f, 0.2f, -1.0f, 5.0f}),
         ((float[]){0.5f, 0, 0, 0.5f}), 0, NULL);
  /* Negative integer: quantized_bits(4,-1,0,1): m = 8, mi = 1/2, p = 16x, step 1/16. */
  CHECKQ("quantized_bits(4,-1,0,1)", d6, 1, ((float[]){0.1f, -0.1f, 0.5f, -0.5f, 0.03125f, 0.09375f}),
         ((float[]){0.125f, -0.125f, 0.4375f, -0.5f, 0, 0.125f}), 0, NULL);
}

static void spec_auto(void) {
  const int d4[1] = {4};
  /* SPEC: 'auto', bits 4. */
  CHECKQ("quantized_bits(4,0,1,alpha='auto')", d4, 1, ((float[]){0.1f, -0.45f, 0.25f, 0.875f}),
         ((float[]){0.125f, -0.5f, 0.25f, 0.875f}), 0, ((float[]){0.125f}));
  /* SPEC: 'auto_po2', bits 4, rank 1: per-element refinement, codes 5, -4, 2, 7. Element 0:
   * s0 = po2(0.125) = 2^-3 -> z 0 -> s = po2(0) = 2^-23 -> z 7 -> s = 2^-8 -> z 5 -> stable. */
  CHECKQ("quantized_bits(4,0,1,alpha='auto_po2')", d4, 1, ((float[]){0.02f, -0.45f, 0.25f, 0.875f}),
         ((float[]){0.01953125f, -0.5f, 0.25f, 0.875f}), 0,
         ((float[]){0.00390625f, 0.125f, 0.125f, 0.125f}));
  /* `integer` cancels out of the values (and keep_negative is ignored). */
  CHECKQ("quantized_bits(4,3,1,0,alpha='auto_po2')", d4, 1, ((float[]){0.02f, -0.45f, 0.25f, 0.875f}),
         ((float[]){0.01953125f, -0.5f, 0.25f, 0.875f}), 0, NULL);
  /* The same values as ONE rank-2 group (4,1) (a depthwise-like last axis of size 1): the
   * refinement uses means over the group: mean(yz) = (0 + 1.8 + 0.5 + 6.125)/4 = 2.10625,
   * mean(zz) = (0+16+4+49)/4 = 17.25 -> 0.1221 -> po2 2^-3; 0.02 -> z 0. */
  const int d41[2] = {4, 1};
  CHECKQ("quantized_bits(4,0,1,alpha='auto_po2')", d41, 2, ((float[]){0.02f, -0.45f, 0.25f, 0.875f}),
         ((float[]){0, -0.5f, 0.25f, 0.875f}), 0, ((float[]){0.125f}));
  /* Depthwise kernel (KH=2,KW=1,C=2,M=1): the last axis has size 1 -> ONE scale. */
  const int dw[4] = {2, 1, 2, 1};
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1,alpha='auto_po2')") == TQ_OK);
  CHECK_EQ_INT(tq_quantizer_num_scales(&q, dw, 4), 1);
  CHECKQ("quantized_bits(4,0,1,alpha='auto_po2')", dw, 4, ((float[]){0.02f, -0.45f, 0.25f, 0.875f}),
         ((float[]){0, -0.5f, 0.25f, 0.875f}), 0, ((float[]){0.125f}));
  /* Depthwise with multiplier 2 (1,1,2,2): groups are the multiplier index {x0,x2}, {x1,x3}.
   * m0: {0.875, 0.25}: s0 = po2(0.125) = 2^-3, z {7,2}, mean ratio (6.125+0.5)/(49+4) = 0.125 ->
   * 2^-3. m1: {-0.45, 0.02}: s0 = po2(0.9/14=0.0643) = 2^-4, z {7 (7.2 -> 7), 0} -> ratio 3.15/49
   * = 0.0643 -> 2^-4; z = {-7, 0}: -0.4375, 0. */
  const int dw2[4] = {1, 1, 2, 2};
  CHECKQ("quantized_bits(4,0,1,alpha='auto_po2')", dw2, 4, ((float[]){0.875f, -0.45f, 0.25f, 0.02f}),
         ((float[]){0.875f, -0.4375f, 0.25f, 0}), 0, ((float[]){0.125f, 0.0625f}));
}

static void per_channel_dense(void) {
  /* Dense IO kernel (I=3, O=2), bits 4 (H 7, L 14):
   * ch0 [0.5,-0.25,0.1]: s0 = po2(1/14) = 2^-4; z [7 (8 clipped), 4, 2]; ratio 4.7/69 = 0.0681 ->
   *   2^-4 -> [0.4375, -0.25, 0.125].
   * ch1 [0.02,0.03,-0.01]: s0 = po2(0.06/14) = 2^-8; z [5, 7 (7.68+.5 -> 8 clipped), 3];
   *   ratio 0.34/83 = 0.0041 -> 2^-8 -> [5, 7, -3] * 2^-8. */
  const int d[2] = {3, 2};
  const float w[6] = {0.5f, 0.02f, -0.25f, 0.03f, 0.1f, -0.01f};
  CHECKQ("quantized_bits(4,0,1,alpha='auto_po2')", d, 2, w,
         ((float[]){0.4375f, 0.01953125f, -0.25f, 0.02734375f, 0.125f, -0.01171875f}), 0,
         ((float[]){0.0625f, 0.00390625f}));
  /* 'auto' per channel: s = 2 max / 14: ch0 1/14 -> z [7, -3, 1]; ch1 0.06/14 -> z [4.67->5, 7,
   * -2.33->-2]. The scale is a float32 (as in QKeras): float(1/14) is slightly above 1/14, so
   * 0.25/s = 3.4999998 and the exact tie 3.5 (which would round away to 4) gives 3. */
  float s0 = (float)(1.0 / 14.0), s1 = (float)(0.06 / 14.0);
  /* the scales are float32 and computed from float inputs: 2*0.03f/14 */
  s1 = (float)(2.0 * (double)0.03f / 14.0);
  CHECKQ("quantized_bits(4,0,1,alpha='auto')", d, 2, w,
         ((float[]){7 * s0, 5 * s1, -3 * s0, 7 * s1, 1 * s0, -2 * s1}), 1e-7,
         ((float[]){s0, s1}));
  /* scale_axis=0 on the same (3,2) tensor: groups are the rows {0.5,0.02}, {-0.25,0.03},
   * {0.1,-0.01}; 'auto': s_r = max_r/7: row0 z [7, 0.28 -> 0]; row1 [-7, 0.84 -> 1];
   * row2 [7, -0.7 -> -1]. */
  float r0 = (float)(2.0 * 0.5 / 14), r1 = (float)(2.0 * 0.25 / 14), r2 = (float)(2.0 * (double)0.1f / 14);
  CHECKQ("quantized_bits(4,0,1,alpha='auto',scale_axis=0)", d, 2, w,
         ((float[]){7 * r0, 0, -7 * r1, 1 * r1, 7 * r2, -1 * r2}), 1e-7, ((float[]){r0, r1, r2}));
  /* scale_axis=1 on rank 2 keeps the last axis: same as None. */
  CHECKQ("quantized_bits(4,0,1,alpha='auto_po2',scale_axis=1)", d, 2, w,
         ((float[]){0.4375f, 0.01953125f, -0.25f, 0.02734375f, 0.125f, -0.01171875f}), 0, NULL);
}

static void all_zero_channel(void) {
  /* Channel 1 all zero: output 0; 'auto' step 0, 'auto_po2' step 2^integer * 2^-23. */
  const int d[2] = {2, 2};
  const float w[4] = {0.5f, 0.0f, -0.25f, 0.0f};
  CHECKQ("quantized_bits(4,0,1,alpha='auto')", d, 2, w,
         ((float[]){0.5f, 0, -3.0f / 14 /* float32 s: 3.4999998 -> z 3 (see above) */, 0}), 1e-7,
         ((float[]){(float)(1.0 / 14), 0}));
  CHECKQ("quantized_bits(4,0,1,alpha='auto_po2')", d, 2, w, ((float[]){0.4375f, 0, -0.25f, 0}), 0,
         ((float[]){0.0625f, (float)exp2(-23)}));
  const int d1[1] = {3};
  CHECKQ("quantized_bits(8,0,1,alpha='auto_po2')", d1, 1, ((float[]){0, 0, 0}), ((float[]){0, 0, 0}),
         0, NULL);
  CHECKQ("quantized_bits(8,0,1,alpha='auto')", d1, 1, ((float[]){0, 0, 0}), ((float[]){0, 0, 0}), 0,
         ((float[]){0}));
  CHECKQ("quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0)", d, 2,
         ((float[]){0, 0, 1, -1}), ((float[]){0, 0, 1, -1}), 0, ((float[]){0, 1.0f / 7}));
}

static void wide_codes(void) {
  /* 31-bit bias quantizer, alpha 'auto_po2', rank 1 (mi = 2^31, H = 2^30 - 1): s0 = po2(~4.7e-10)
   * = 2^-23 (the eps dominates). Per element:
   *  2^30: y = 0.5: z 2^22 -> s = po2(2^-23 + 1e-7) = 2^-22 -> z 2^21 -> s = po2(2^-22 + 1e-7)
   *        = 2^-21 -> stable; z = 2^20, xq = 2^31 2^-21 2^20 = 2^30.
   *  1000: y = 4.66e-7: z 4 -> s = po2(y/4 + 1e-7) = 2^-22 -> z 2 -> stable; xq = 2^10 = 1024.
   *  -3e8: y = -0.13970: z 1171875 -> 2^-22 -> z 585938 -> s = po2(2.384e-7 + 1e-7) = 2^-21 ->
   *        z 292969 -> stable; xq = -292969 * 1024 = -300000256. */
  const int d3[1] = {3};
  CHECKQ("quantized_bits(31,31,1,alpha='auto_po2')", d3, 1, ((float[]){1073741824.0f, 1000.0f, -3e8f}),
         ((float[]){1073741824.0f, 1024.0f, -300000256.0f}), 0,
         ((float[]){1024.0f, 512.0f, 1024.0f}));
  /* Ordinary small biases vanish with integer=31 (the eps in po2 keeps s >= 2^-23, so the step
   * 2^31 s is >= 256): a property of SPEC's formula (and QKeras'), shown here on purpose. */
  CHECKQ("quantized_bits(31,31,1,alpha='auto_po2')", d3, 1, ((float[]){0.5f, -1.5f, 3.0f}),
         ((float[]){0, 0, 0}), 0, NULL);
  /* quantized_bits(16,16,1,alpha='auto_po2') keeps them: mi = 2^16; per element step
   * 2^16 s >= 2^-7. 0.3: s0 = 2^-23, z = floor(0.3*2^23/2^16 + .5) = 38 -> s = po2(y/38 + 1e-7)
   * = po2(1.2e-7 + 1e-7) = 2^-22 -> z 19 -> po2(2.4e-7 + 1e-7) = 2^-21 -> z = 10 (9.83 + .5)
   * -> po2(4.58e-7 + 1e-7) = 2^-21 -> xq = 10 * 2^16 * 2^-21 = 0.3125. */
  const int d1[1] = {1};
  CHECKQ("quantized_bits(16,16,1,alpha='auto_po2')", d1, 1, ((float[]){0.3f}), ((float[]){0.3125f}), 0,
         ((float[]){0.03125f}));

  /* Fixed 31-bit: quantized_bits(31,31,1): m = 2^30, mi = 2^31, p = x/2, codes clip to
   * [-(2^30-1), 2^30-1] -- 2^30-1 is not a float32, the codes must still be exact. */
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits(31,31,1)") == TQ_OK);
  const int d5[1] = {5};
  const float x[5] = {2147483648.0f, -2147483648.0f, 3.0f, -5.0f, 1e9f};
  int32_t codes[5];
  float steps[1], out[5];
  CHECK(tq_quantize_codes(&q, codes, steps, NULL, x, d5, 1) == TQ_OK);
  CHECK_EQ_INT(codes[0], 1073741823);
  CHECK_EQ_INT(codes[1], -1073741823);
  CHECK_EQ_INT(codes[2], 2); /* 1.5 -> 2 */
  CHECK_EQ_INT(codes[3], -2); /* -2.5 -> -2 */
  CHECK_EQ_INT(codes[4], 500000000);
  CHECK(steps[0] == 2.0f);
  CHECK(tq_quantize_forward(&q, out, NULL, x, d5, 1, 0, NULL) == TQ_OK);
  CHECK(out[0] == 2147483648.0f); /* 2^31 - 2 rounds to 2^31 in float32 */
  CHECK(out[2] == 4.0f && out[3] == -4.0f && out[4] == 1e9f);

  /* 'auto' with 31 bits, integer 0 (H = 2^30 - 1): s = 1/(2^30 - 1) -> float32 2^-30. The max
   * element's code is clipped to H = 1073741823 (float32 arithmetic would give 2^30). */
  CHECK(tq_quantizer_parse(&q, "quantized_bits(31,0,1,alpha='auto')") == TQ_OK);
  const int d31[2] = {3, 1};
  const float y[3] = {1.0f, 1.0f / 3.0f, -0.7f};
  CHECK(tq_quantize_codes(&q, codes, steps, NULL, y, d31, 2) == TQ_OK);
  CHECK_EQ_INT(codes[0], 1073741823);
  CHECK_EQ_INT(codes[1], 357913952);  /* float(1/3) * 2^30, exact */
  CHECK_EQ_INT(codes[2], -751619264); /* float(-0.7) * 2^30 */
  CHECK(steps[0] == (float)exp2(-30));
}

static void spec_featuremap(void) {
  const int d4[2] = {1, 4};
  /* SPEC §1.2 vectors (one sample). */
  CHECKQ("quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0)", d4, 2,
         ((float[]){-1, -0.25f, 0.3f, 1}), ((float[]){-1, -0.285714f, 0.285714f, 1}), 1e-6, NULL);
  CHECKQ("quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)", d4, 2,
         ((float[]){0, 0.5f, 1.0f, 2.0f}), ((float[]){0, 0.503937f, 0.992126f, 2.0f}), 1e-6,
         ((float[]){(float)(4.0 / 254)}));
  /* Two samples at 8 bits, per-sample scale and zero point (scale_axis 0):
   * sample 0 [-1,-0.25,0.3,1]: s = 2/254, zp 0, u = 127x - 1.526e-5: -31.75 -> -32, 38.1 -> 38.
   * sample 1 [0,0.5,1,2]: s = 4/254, zp = rha(2*(-127)/2) = -127 (the SPEC vector). */
  const int d24[2] = {2, 4};
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)") == TQ_OK);
  const float x[8] = {-1, -0.25f, 0.3f, 1, 0, 0.5f, 1.0f, 2.0f};
  float out[8], steps[2];
  int32_t zps[2], codes[8];
  CHECK(tq_quantize_forward(&q, out, steps, x, d24, 2, 0, NULL) == TQ_OK);
  const float want[8] = {-1, -32.0f / 127, 38.0f / 127, 1, 0, 0.503937f, 0.992126f, 2.0f};
  for (int i = 0; i < 8; i++) CHECK_NEAR(out[i], want[i], 1e-6);
  CHECK(tq_quantize_codes(&q, codes, steps, zps, x, d24, 2) == TQ_OK);
  CHECK_EQ_INT(zps[0], 0);
  CHECK_EQ_INT(zps[1], -127);
  CHECK_EQ_INT(codes[1], -32);
  CHECK_EQ_INT(codes[4], -127);
  CHECK_EQ_INT(codes[6], -64); /* 1/s = 63.5: u = -63.5 - 1.5e-5 -> rha -> -64 */
  CHECK_EQ_INT(codes[7], 0);
  /* Tie handling: rha with the -1.526e-5 bias rounds exact halves DOWN: s = 1/7 (b=4, range
   * [-1, 1]), x = 0.5 -> u = 3.5 - eps -> 3; x = -2.5/7 -> u = -2.5 - eps -> -3. */
  CHECKQ("quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0)", d4, 2,
         ((float[]){-1, 1, 0.5f, -2.5f / 7}), ((float[]){-1, 1, 3.0f / 7, -3.0f / 7}), 1e-6, NULL);
  /* 'auto_po2' extension: s = po2(1/7) = 2^-3; [-1,-0.25,0.3,1] -> z [-7 (clip), -2, 2, 7 (clip)]. */
  CHECKQ("quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)", d4, 2,
         ((float[]){-1, -0.25f, 0.3f, 1}), ((float[]){-0.875f, -0.25f, 0.25f, 0.875f}), 0,
         ((float[]){0.125f}));
  /* Non-negative data, 'auto_po2': s = po2(4/14) = 2^-2, zp = -7: everything exact. */
  CHECKQ("quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)", d4, 2,
         ((float[]){0, 0.5f, 1, 2}), ((float[]){0, 0.5f, 1, 2}), 0, ((float[]){0.25f}));
  /* |x| < 1e-7 is flushed to 0 before the range: min is 0, not -5e-8. */
  CHECKQ("quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)", d4, 2,
         ((float[]){-5e-8f, 0.5f, 1, 2}), ((float[]){0, 0.5f, 1, 2}), 0, NULL);
  /* Rank 4 NHWC (2,1,1,2) per sample vs scale_axis=None (per channel). */
  const int nhwc[4] = {2, 1, 1, 2};
  const float a[4] = {1, -1, 0.5f, 2};
  /* per sample: s0: [1,-1] -> s = 1/7, zp 0 -> [1,-1]; s1: [0.5, 2]: s = 4/14, zp =
   * rha((2*-7 - 0.5*7)/1.5) = rha(-11.67) = -12: u(0.5) = 1.75 - 12 = -10.25 -> -10 -> clipped to
   * -7 -> xq = (2/7)(-7 + 12) = 10/7; u(2) = 7 - 12 = -5 -> (2/7)*7 = 2. */
  CHECKQ("quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0)", nhwc, 4, a,
         ((float[]){1, -1, 10.0f / 7, 2}), 1e-6, NULL);
  /* per channel (scale_axis=None): c0 {1, 0.5}: s = 2/14, zp = rha((1*-7 - 0.5*7)/0.5) = -21,
   * outside the code range: u(1) = 7 - 21 -> clip -7 -> xq = s (z - zp) = (1/7)(14) = 2, and
   * u(0.5) = -17.5 -> -7 -> 2 as well. SPEC's formula (zp is not clipped), kept as specified. */
  float o4[4];
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=None)") == TQ_OK);
  CHECK(tq_quantize_forward(&q, o4, NULL, a, nhwc, 4, 0, NULL) == TQ_OK);
  CHECK_NEAR(o4[0], 2.0, 1e-6);
  CHECK_NEAR(o4[2], 2.0, 1e-6);
  /* c1 {-1, 2}: s = 4/14, zp = rha((2*-7 - (-1)*7)/3) = rha(-2.33) = -2; u(-1) = -3.5 - 2 - eps
   * -> -6 -> (2/7)(-4) = -8/7; u(2) = 7 - 2 = 5 - eps -> 5 -> (2/7)*7 = 2. */
  CHECK_NEAR(o4[1], -8.0 / 7, 1e-6);
  CHECK_NEAR(o4[3], 2.0, 1e-6);
}

static void spec_relu_po2(void) {
  const int d4[1] = {4}, d5[1] = {5}, d6[1] = {6};
  /* SPEC §1.3. */
  CHECKQ("quantized_relu(4,2)", d4, 1, ((float[]){-1, 0.3f, 1.625f, 5}),
         ((float[]){0, 0.25f, 1.5f, 3.75f}), 0, ((float[]){0.25f}));
  CHECKQ("quantized_po2(4)", d4, 1, ((float[]){0, -0.3f, 0.72f, 20}),
         ((float[]){0.0625f, -0.25f, 1.0f, 8.0f}), 0, NULL);
  /* quantized_relu(3,0): step 1/8: 0.0625 -> 0.5 -> 0, 0.1875 -> 1.5 -> 2, 0.9 -> 7, 2 -> 7. */
  CHECKQ("quantized_relu(3,0)", d5, 1, ((float[]){0.0625f, 0.1875f, 0.9f, 2, -0.5f}),
         ((float[]){0, 0.25f, 0.875f, 0.875f, 0}), 0, NULL);
  /* quantized_po2(4, max_value=1): 0 <= max <= 1 -> no exponent sign bit: eb = 3, e in [-8, 7];
   * 3 -> clipped to 1 -> 1; 0 -> 2^-8; 0.001 -> e -10 -> -8. */
  CHECKQ("quantized_po2(4,max_value=1)", d5, 1, ((float[]){3.0f, 0, -0.3f, 0.72f, 0.001f}),
         ((float[]){1, 0.00390625f, -0.25f, 1, 0.00390625f}), 0, NULL);
  /* quantized_po2(4,4): eb = 2, e in [-4, 3]; 20 -> 4 -> 4; 2.9 -> log2 1.54 -> 4; 2.8 -> 2
   * (rounding in the log domain: 2.9 is nearer 2 linearly but rounds up to 4). */
  CHECKQ("quantized_po2(4,4)", d6, 1, ((float[]){20, 5, 2.9f, 2.8f, -0.0f, -1e-9f}),
         ((float[]){4, 4, 4, 2, 0.0625f, 0.0625f}), 0, NULL);
}

static void binary_ternary(void) {
  const int d3[1] = {3}, d5[1] = {5}, d22[2] = {2, 2};
  CHECKQ("binary()", d3, 1, ((float[]){-0.3f, 0, 0.2f}), ((float[]){-1, 1, 1}), 0, NULL);
  CHECKQ("binary(use_01=True)", d3, 1, ((float[]){-0.3f, 0, 0.2f}), ((float[]){0, 1, 1}), 0, NULL);
  CHECKQ("binary(alpha=0.5)", d3, 1, ((float[]){-0.3f, 0, 0.2f}), ((float[]){-0.5f, 0.5f, 0.5f}), 0,
         NULL);
  /* alpha 'auto_po2' per channel (last axis): ch0 {0.5,-0.3}: mean|x| = 0.4 -> po2 0.5;
   * ch1 {0.1, 0.2}: 0.15 -> 2^-3. 'auto': 0.4/(1+1e-7), 0.15/(1+1e-7). */
  CHECKQ("binary(alpha='auto_po2')", d22, 2, ((float[]){0.5f, 0.1f, -0.3f, 0.2f}),
         ((float[]){0.5f, 0.125f, -0.5f, 0.125f}), 0, ((float[]){0.5f, 0.125f}));
  CHECKQ("binary(alpha='auto')", d22, 2, ((float[]){0.5f, 0.1f, -0.3f, 0.2f}),
         ((float[]){0.4f, 0.15f, -0.4f, 0.15f}), 1e-6, NULL);
  /* ternary: threshold 0.33 by default, sign(0) = 0. */
  CHECKQ("ternary()", d5, 1, ((float[]){-0.5f, -0.2f, 0, 0.33f, 0.4f}), ((float[]){-1, 0, 0, 1, 1}), 0,
         NULL);
  CHECKQ("ternary(alpha=2.0,threshold=0.1)", d5, 1, ((float[]){-0.5f, -0.2f, 0, 0.05f, 0.4f}),
         ((float[]){-2, -2, 0, 0, 2}), 0, NULL);
  /* ternary 'auto' rank 1: m = 0.9, scale 0.6; q: x/0.6 = [1.5, -1, 0.17, 0.08, -0.42]
   * = [1,-1,0,0,0]; scale = (1.5/5)/(2/5 + 1e-7) = 0.75 (stable afterwards). */
  CHECKQ("ternary(alpha='auto')", d5, 1, ((float[]){0.9f, -0.6f, 0.1f, 0.05f, -0.25f}),
         ((float[]){0.75f, -0.75f, 0, 0, 0}), 1e-6, NULL);
  /* With -0.3 instead the float32 scale decides: 2*0.9f/3 rounds to 0.59999996 (< 0.6), so
   * -0.3/s = -0.50000004 -> -1 (QKeras computes in float32 too): q [1,-1,0,0,-1] -> scale
   * (1.8/5)/(3/5) = 0.6. */
  CHECKQ("ternary(alpha='auto')", d5, 1, ((float[]){0.9f, -0.6f, 0.1f, 0.05f, -0.3f}),
         ((float[]){0.6f, -0.6f, 0, 0, -0.6f}), 1e-6, NULL);
  /* 'auto_po2': scale po2(0.6) = 0.5 -> q [1 (1.8), -1, 0, 0, -1 (-0.6 -> -1)] -> scale
   * po2((0.9+0.6+0.3)/5 / (3/5)) = po2(0.6) = 0.5 -> stable. */
  CHECKQ("ternary(alpha='auto_po2')", d5, 1, ((float[]){0.9f, -0.6f, 0.1f, 0.05f, -0.3f}),
         ((float[]){0.5f, -0.5f, 0, 0, -0.5f}), 0, ((float[]){0.5f}));
}

static void none_identity(void) {
  const int d3[1] = {3};
  CHECKQ("None", d3, 1, ((float[]){-0.3f, 1e-9f, 7}), ((float[]){-0.3f, 1e-9f, 7}), 0, NULL);
}

int main(void) {
  spec_quantized_bits_fixed();
  ties_and_small_bits();
  spec_auto();
  per_channel_dense();
  all_zero_channel();
  wide_codes();
  spec_featuremap();
  spec_relu_po2();
  binary_ternary();
  none_identity();
  TEST_MAIN_END();
}
