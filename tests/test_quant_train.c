/* Training-time behaviour of the quantizers: straight-through masks, qnoise_factor mixing,
 * stochastic rounding statistics, the "inside a layer" kernel rewrite, and argument errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/quant.h"
#include "tq_test.h"

static tq_quantizer P(const char *s) {
  tq_quantizer q;
  if (tq_quantizer_parse(&q, s) != TQ_OK) {
    fprintf(stderr, "parse %s: %s\n", s, tq_last_error());
    tq_test_failures++;
    tq_quantizer_init(&q, TQ_Q_NONE);
  }
  return q;
}

static void ste_masks(void) {
  const float x[6] = {-1, 0, 0.1f, 3.75f, 3.76f, 5};
  const float dout[6] = {1, 2, 3, 4, 5, 6};
  float din[6];
  /* quantized_bits: STE 1 everywhere, also where clipped. */
  tq_quantizer q = P("quantized_bits(4,0,1)");
  tq_quantize_backward(&q, din, dout, x, 6);
  for (int i = 0; i < 6; i++) CHECK(din[i] == dout[i]);
  /* use_ste=False: 1 - qnoise_factor. */
  q = P("quantized_bits(4,0,1,qnoise_factor=0.25,use_ste=False)");
  tq_quantize_backward(&q, din, dout, x, 6);
  for (int i = 0; i < 6; i++) CHECK(din[i] == 0.75f * dout[i]);
  q = P("quantized_bits(4,0,1,use_ste=False)"); /* qnoise 1: no gradient at all */
  tq_quantize_backward(&q, din, dout, x, 6);
  for (int i = 0; i < 6; i++) CHECK(din[i] == 0.0f);
  /* featuremap and po2: STE 1. */
  q = P("quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)");
  tq_quantize_backward(&q, din, dout, x, 6);
  for (int i = 0; i < 6; i++) CHECK(din[i] == dout[i]);
  q = P("quantized_po2(4)");
  tq_quantize_backward(&q, din, dout, x, 6);
  for (int i = 0; i < 6; i++) CHECK(din[i] == dout[i]);
  /* quantized_relu(4,2): gradient on (0, 4 - 0.25] only. */
  q = P("quantized_relu(4,2)");
  tq_quantize_backward(&q, din, dout, x, 6);
  const float want[6] = {0, 0, 3, 4, 0, 0};
  for (int i = 0; i < 6; i++) CHECK(din[i] == want[i]);
  q = P("quantized_relu(4,2,qnoise_factor=0.5,use_ste=False)");
  tq_quantize_backward(&q, din, dout, x, 6);
  for (int i = 0; i < 6; i++) CHECK(din[i] == 0.5f * want[i]);
  /* binary/ternary with alpha None differentiate through tanh; with an alpha: STE 1. */
  q = P("binary()");
  tq_quantize_backward(&q, din, dout, x, 6);
  for (int i = 0; i < 6; i++) CHECK_NEAR(din[i], dout[i] * (1 - tanh(x[i]) * tanh(x[i])), 1e-6);
  q = P("ternary(alpha='auto_po2')");
  tq_quantize_backward(&q, din, dout, x, 6);
  for (int i = 0; i < 6; i++) CHECK(din[i] == dout[i]);
  /* din may alias dout and in (the model code does both). */
  float buf[6];
  memcpy(buf, x, sizeof buf);
  q = P("quantized_relu(4,2)");
  tq_quantize_backward(&q, buf, dout, buf, 6);
  for (int i = 0; i < 6; i++) CHECK(buf[i] == want[i]);
  memcpy(buf, dout, sizeof buf);
  tq_quantize_backward(&q, buf, buf, x, 6);
  for (int i = 0; i < 6; i++) CHECK(buf[i] == want[i]);
  /* Backward of the forward by finite differences of the *mixed* part: with qnoise q the output
   * is (1-q) x + q xq, so away from code boundaries d out / d x = 1 - q (use_ste=False). */
  q = P("quantized_bits(8,0,1,qnoise_factor=0.3,use_ste=False)");
  float a = 0.2031f, h = 1e-4f, o1, o2;
  CHECK(tq_quantize_forward(&q, &o1, NULL, &a, (int[]){1}, 1, 0, NULL) == TQ_OK);
  float a2 = a + h;
  CHECK(tq_quantize_forward(&q, &o2, NULL, &a2, (int[]){1}, 1, 0, NULL) == TQ_OK);
  float g1 = 1;
  tq_quantize_backward(&q, &g1, &g1, &a, 1);
  CHECK_NEAR((o2 - o1) / h, g1, 1e-2);
}

static void qnoise(void) {
  const float x[4] = {-2.6f, -0.375f, 0.625f, 1.9f};
  float out[4];
  /* out = 0.75 x + 0.25 xq with xq from the SPEC vector [-2, -0.5, 0.5, 1.75]. */
  tq_quantizer q = P("quantized_bits(4,1,0,1,qnoise_factor=0.25)");
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){4}, 1, 0, NULL) == TQ_OK);
  const float want[4] = {-2.45f, -0.40625f, 0.59375f, 1.8625f};
  for (int i = 0; i < 4; i++) CHECK_NEAR(out[i], want[i], 1e-6);
  /* qnoise 0: the identity (float quantizer in disguise); also for auto modes. */
  q = P("quantized_bits(4,0,1,alpha='auto_po2',qnoise_factor=0.0)");
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){2, 2}, 2, 0, NULL) == TQ_OK);
  for (int i = 0; i < 4; i++) CHECK(out[i] == x[i]);
  /* quantized_relu mixes with the clipped relu x_u (QKeras): x = -1 -> 0, 5 -> 3.75. */
  q = P("quantized_relu(4,2,qnoise_factor=0.5)");
  const float r[4] = {-1, 0.3f, 1.625f, 5};
  CHECK(tq_quantize_forward(&q, out, NULL, r, (int[]){4}, 1, 0, NULL) == TQ_OK);
  CHECK_NEAR(out[0], 0, 1e-7);
  CHECK_NEAR(out[1], 0.5 * 0.3 + 0.5 * 0.25, 1e-6);
  CHECK_NEAR(out[2], 0.5 * 1.625 + 0.5 * 1.5, 1e-6);
  CHECK_NEAR(out[3], 3.75, 1e-6);
  /* featuremap: SPEC vector mixed half way. */
  q = P("quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0,qnoise_factor=0.5)");
  const float f[4] = {-1, -0.25f, 0.3f, 1};
  CHECK(tq_quantize_forward(&q, out, NULL, f, (int[]){1, 4}, 2, 0, NULL) == TQ_OK);
  CHECK_NEAR(out[1], 0.5 * -0.25 + 0.5 * (-2.0 / 7), 1e-6);
  CHECK_NEAR(out[2], 0.5 * 0.3 + 0.5 * (2.0 / 7), 1e-6);
}

static void stochastic(void) {
  tq_rng rng;
  tq_rng_seed(&rng, 42);
  /* quantized_bits(8,3,0,1) step 1/16: 0.3 = 4.8 steps -> 4 or 5 steps with P(5) = 0.8. */
  tq_quantizer q = P("quantized_bits(8,3,0,1,use_stochastic_rounding=True)");
  enum { N = 100000 };
  float *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
  for (int i = 0; i < N; i++) x[i] = (i & 1) ? 0.3f : -0.3f;
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){N}, 1, 1, &rng) == TQ_OK);
  double mp = 0, mn = 0;
  int only_neighbours = 1;
  for (int i = 0; i < N; i++) {
    if (i & 1) {
      mp += out[i];
      only_neighbours &= out[i] == 0.25f || out[i] == 0.3125f;
    } else {
      mn += out[i];
      only_neighbours &= out[i] == -0.25f || out[i] == -0.3125f;
    }
  }
  mp /= N / 2, mn /= N / 2;
  /* sd of one draw 0.0625 sqrt(0.16) = 0.025; of the mean of 50000: 1.1e-4; 6 sigma 7e-4 */
  CHECK_NEAR(mp, 0.3, 7e-4);
  CHECK_NEAR(mn, -0.3, 7e-4);
  CHECK(only_neighbours);
  /* Exact codes are not perturbed (frac = 0). */
  float e[3] = {0.25f, -0.5f, 0}, eo[3];
  CHECK(tq_quantize_forward(&q, eo, NULL, e, (int[]){3}, 1, 1, &rng) == TQ_OK);
  CHECK(eo[0] == 0.25f && eo[1] == -0.5f && eo[2] == 0);
  /* Outside training: round half to even, deterministic, rng not needed. */
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){4}, 1, 0, NULL) == TQ_OK);
  CHECK(out[1] == 0.3125f && out[0] == -0.3125f);
  /* Same seed, same draws. */
  tq_rng a, b;
  tq_rng_seed(&a, 5);
  tq_rng_seed(&b, 5);
  float o1[64], o2[64];
  CHECK(tq_quantize_forward(&q, o1, NULL, x, (int[]){64}, 1, 1, &a) == TQ_OK);
  CHECK(tq_quantize_forward(&q, o2, NULL, x, (int[]){64}, 1, 1, &b) == TQ_OK);
  CHECK(memcmp(o1, o2, sizeof o1) == 0);
  /* No rng while training with stochastic rounding: an error, not a crash. */
  CHECK(tq_quantize_forward(&q, o1, NULL, x, (int[]){4}, 1, 1, NULL) == TQ_ERR_ARG);
  /* quantized_relu stochastic: 0.1 with step 1/8 is 0.8 steps -> mean 0.1, values {0, 0.125}. */
  q = P("quantized_relu(3,0,use_stochastic_rounding=True)");
  for (int i = 0; i < N; i++) x[i] = 0.1f;
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){N}, 1, 1, &rng) == TQ_OK);
  double m = 0;
  for (int i = 0; i < N; i++) m += out[i];
  CHECK_NEAR(m / N, 0.1, 5e-4);
  /* auto modes ignore stochastic rounding (SPEC §1.1). */
  q = P("quantized_bits(4,0,1,alpha='auto',use_stochastic_rounding=True)");
  CHECK(tq_quantize_forward(&q, out, NULL, (float[]){0.1f, -0.45f, 0.25f, 0.875f}, (int[]){4}, 1, 1,
                            NULL) == TQ_OK);
  CHECK(out[0] == 0.125f && out[1] == -0.5f && out[2] == 0.25f && out[3] == 0.875f);
  free(x);
  free(out);
}

static void as_kernel(void) {
  char buf[128];
  tq_quantizer q = P("quantized_bits(4,0)");
  tq_quantizer_as_kernel(&q);
  CHECK(q.alpha_mode == TQ_ALPHA_AUTO_PO2 && q.symmetric == 1);
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "quantized_bits(4,0,1,alpha='auto_po2')") == 0);
  q = P("quantized_bits(bits=8, integer=2)");
  tq_quantizer_as_kernel(&q);
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "quantized_bits(bits=8,integer=2,symmetric=1,alpha='auto_po2')") == 0);
  tq_quantizer r = P(buf);
  CHECK(tq_quantizer_equal(&q, &r));
  /* Quantizers with an alpha, 1-bit quantized_bits and other kinds are kept. */
  const char *keep[] = {"quantized_bits(4,0,1,alpha='auto')", "quantized_bits(4,0,0,alpha=1.0)",
                        "quantized_bits(1,0,0,1)", "quantized_relu(4,0)", "quantized_po2(4)",
                        "binary(alpha=1.0)"};
  for (int i = 0; i < 6; i++) {
    tq_quantizer a = P(keep[i]), b = a;
    tq_quantizer_as_kernel(&b);
    CHECK(tq_quantizer_equal(&a, &b));
  }
  q = P("ternary()");
  tq_quantizer_as_kernel(&q);
  CHECK(q.alpha_mode == TQ_ALPHA_AUTO_PO2);
  /* As a kernel the value changes accordingly: (4,0) on the SPEC auto_po2 data (rank 2). */
  q = P("quantized_bits(4,0)");
  tq_quantizer_as_kernel(&q);
  float out[4];
  CHECK(tq_quantize_forward(&q, out, NULL, (float[]){0.02f, -0.45f, 0.25f, 0.875f}, (int[]){4, 1}, 2, 0,
                            NULL) == TQ_OK);
  CHECK(out[0] == 0 && out[1] == -0.5f && out[2] == 0.25f && out[3] == 0.875f);
}

static void errors(void) {
  tq_quantizer q = P("quantized_bits(4,0,1,alpha='auto_po2',scale_axis=3)");
  float x[8] = {0}, out[8];
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){2, 4}, 2, 0, NULL) == TQ_ERR_ARG);
  CHECK(strstr(tq_last_error(), "scale_axis=3") != NULL);
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){2, 1, 2, 2}, 4, 0, NULL) == TQ_OK);
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){8}, 1, 0, NULL) == TQ_OK); /* rank 1 ignores */
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){2, 0}, 2, 0, NULL) == TQ_ERR_ARG);
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){1}, 0, 0, NULL) == TQ_ERR_ARG);
  /* Invalid structs built in code are rejected too. */
  tq_quantizer_init(&q, TQ_Q_BITS);
  q.bits = 0;
  CHECK(tq_quantize_forward(&q, out, NULL, x, (int[]){8}, 1, 0, NULL) == TQ_ERR_ARG);
  CHECK(strstr(tq_last_error(), "bits") != NULL);
  tq_quantizer_init(&q, TQ_Q_BITS);
  q.alpha_mode = TQ_ALPHA_AUTO;
  q.bits = 1;
  CHECK(tq_quantizer_validate(&q) == TQ_ERR_ARG);
  tq_quantizer_init(&q, TQ_Q_BITS);
  q.qnoise_factor = 1.5f;
  CHECK(tq_quantizer_validate(&q) == TQ_ERR_ARG);
  /* A zeroed struct is NONE: the identity. */
  tq_quantizer z;
  memset(&z, 0, sizeof z);
  float y[3] = {1, -2, 3}, yo[3];
  CHECK(tq_quantize_forward(&z, yo, NULL, y, (int[]){3}, 1, 0, NULL) == TQ_OK);
  CHECK(memcmp(y, yo, sizeof y) == 0);
  CHECK_EQ_INT(tq_quantizer_bits(&z), 32);
  CHECK_EQ_INT(tq_quantizer_bits(&(tq_quantizer){.kind = TQ_Q_TERNARY}), 2);
}

static void defaults(void) {
  /* Defaults are QKeras': quantized_bits() = (8, 0, 0, keep_negative True, alpha None). */
  tq_quantizer a = P("quantized_bits()"), b;
  tq_quantizer_init(&b, TQ_Q_BITS);
  CHECK(tq_quantizer_equal(&a, &b));
  CHECK(a.bits == 8 && a.integer == 0 && a.symmetric == 0 && a.keep_negative == 1 &&
        a.alpha_mode == TQ_ALPHA_NONE && a.scale_axis == -1 && a.qnoise_factor == 1.0f && a.use_ste);
  a = P("quantized_bits_featuremap()");
  CHECK(a.alpha_mode == TQ_ALPHA_AUTO && a.scale_axis == 0);
  a = P("ternary");
  CHECK(a.number_of_unrolls == 5 && !a.has_threshold);
  CHECK_EQ_INT(tq_quantizer_bits(&a), 2);
  a = P("quantized_po2");
  CHECK_EQ_INT(tq_quantizer_bits(&a), 8);
  CHECK(!a.has_max_value);
}

int main(void) {
  ste_masks();
  qnoise();
  stochastic();
  as_kernel();
  errors();
  defaults();
  TEST_MAIN_END();
}
