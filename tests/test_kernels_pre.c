/* The batch norm + ReLU pre-op (tq_bn_relu_pre): a DepthwiseConv2D that normalises its input as it
 * reads it gives, bit for bit, what it gives on the normalised tensor that tq_batchnorm_normalize
 * writes: forward with the next batch norm's statistics, input, weight and bias gradients; ReLU and
 * ReLU6; strides 1 and 2, 'same' and 'valid'; 1 and 2 threads; a scratch with room for one thread
 * only; odd batches and sizes. And which shapes take it. */
#include <omp.h>
#include <string.h>

#include "kernel_test_util.h"
#include "tinyq/kernels.h"
#include "tq_test.h"

/* The statistics and affine parameters of a batch norm over c channels, and the pre-op on them. */
typedef struct {
  float *mean, *invstd, *gamma, *beta, *scratch;
  tq_bn_relu_pre pre;
} bn_params;

static bn_params bn_params_new(tq_rng *r, int c, float relu_max, size_t scratch_floats) {
  bn_params b;
  b.mean = randn(r, c, 0.5f), b.invstd = randn(r, c, 0.3f), b.gamma = randn(r, c, 1.0f), b.beta = randn(r, c, 0.5f);
  b.scratch = tq_alloc_floats(scratch_floats ? scratch_floats : 1);
  for (int j = 0; j < c; j++) b.invstd[j] = 0.5f + b.invstd[j] * b.invstd[j];
  b.pre = (tq_bn_relu_pre){b.mean, b.invstd, b.gamma, b.beta, relu_max, b.scratch, scratch_floats};
  return b;
}

static void bn_params_free(bn_params *b) {
  tq_free(b->mean), tq_free(b->invstd), tq_free(b->gamma), tq_free(b->beta), tq_free(b->scratch);
}

/* relu(batchnorm(x)) as the batch norm's own pass writes it */
static float *normalised(const float *x, size_t rows, int c, const bn_params *b) {
  float *y = tq_alloc_floats(rows * c);
  tq_batchnorm_normalize(y, NULL, x, b->mean, b->invstd, b->gamma, b->beta, (int)rows, c, 1, b->pre.relu_max);
  return y;
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* tq_bn_relu_pre_rows on slices [c0, c0 + nc) of rows with strides: the batch norm's values. */
static void test_pre_rows(void) {
  tq_rng r;
  tq_rng_seed(&r, 1);
  const int cs[] = {8, 16, 24, 40, 64, 72, 12, 3};
  for (int k = 0; k < 8; k++)
    for (int capped = 0; capped < 2; capped++) {
      const int c = cs[k], rows = 37;
      bn_params b = bn_params_new(&r, c, capped ? 1.0f : 0.0f, 0);
      float *x = randn(&r, (size_t)rows * c, 2.0f), *want = normalised(x, rows, c, &b);
      float *got = tq_alloc_floats((size_t)rows * c);
      tq_bn_relu_pre_rows(got, (size_t)c, x, (size_t)c, rows, 0, c, &b.pre);
      CHECK(same(got, want, (size_t)rows * c));
      int clipped = 0, capped_n = 0;
      for (int i = 0; i < rows * c; i++) clipped += want[i] == 0.0f, capped_n += want[i] == 1.0f;
      CHECK(clipped > 0 && (!capped || capped_n > 0));
      if (c % 8 == 0 && c > 8) { /* an 8-channel slice into rows of 8, as the depthwise gradient takes it */
        tq_bn_relu_pre_rows(got, 8, x, (size_t)c, rows, 8, 8, &b.pre);
        int bad = 0;
        for (int i = 0; i < rows; i++) bad += !same(got + i * 8, want + (size_t)i * c + 8, 8);
        CHECK_EQ_INT(bad, 0);
      }
      tq_free(x), tq_free(want), tq_free(got);
      bn_params_free(&b);
    }
}

/* A depthwise conv's forward (with statistics) and backward on relu(batchnorm(x)), with and without
 * the pre-op, on `threads` threads with a scratch for `room` threads. */
static void check_depthwise(int n, int h, int w, int c, int stride, tq_padding pad, float relu_max, int threads,
                            int room) {
  tq_rng r;
  tq_rng_seed(&r, (uint64_t)(n * 131 + h * 7 + c + stride));
  tq_conv_shape s;
  CHECK(tq_conv_shape_init(&s, n, h, w, c, 3, 3, stride, stride, c, pad) == TQ_OK);
  CHECK(tq_depthwise_pre_ok(&s));
  const size_t ni = (size_t)n * h * w * c, no = (size_t)n * s.oh * s.ow * c;
  const size_t ns = tq_batchnorm_stats_floats(n * s.oh * s.ow, c);
  bn_params b = bn_params_new(&r, c, relu_max, tq_depthwise_pre_floats(&s, room));
  float *x = randn(&r, ni, 1.5f), *xn = normalised(x, (size_t)n * h * w, c, &b);
  float *wt = randn(&r, 9 * (size_t)c, 0.3f), *bias = randn(&r, c, 0.1f), *dout = randn(&r, no, 1.0f);
  float *out[2], *stats[2], *din[2], *dw[2], *db[2];
  omp_set_num_threads(threads);
  for (int k = 0; k < 2; k++) {
    out[k] = tq_alloc_floats(no), stats[k] = tq_alloc_floats(ns), din[k] = tq_alloc_floats(ni);
    dw[k] = tq_alloc_floats(9 * (size_t)c), db[k] = tq_alloc_floats(c);
    memset(dw[k], 0, 9 * (size_t)c * sizeof(float)), memset(db[k], 0, (size_t)c * sizeof(float));
    memset(stats[k], 0, ns * sizeof(float));
  }
  tq_depthwise_forward_stats(out[0], xn, wt, bias, &s, stats[0]);
  tq_depthwise_backward(din[0], dw[0], db[0], dout, xn, wt, &s);
  tq_depthwise_forward_pre(out[1], x, &b.pre, wt, bias, &s, stats[1]);
  tq_depthwise_backward_pre(din[1], dw[1], db[1], dout, x, &b.pre, wt, &s);
  CHECK(same(out[0], out[1], no));
  CHECK(same(stats[0], stats[1], ns));
  CHECK(same(din[0], din[1], ni));
  CHECK(same(dw[0], dw[1], 9 * (size_t)c));
  CHECK(same(db[0], db[1], c));
  /* the pre-op did normalise: the raw input gives other values */
  tq_depthwise_forward_stats(out[1], x, wt, bias, &s, NULL);
  CHECK(!same(out[0], out[1], no));
  for (int k = 0; k < 2; k++) tq_free(out[k]), tq_free(stats[k]), tq_free(din[k]), tq_free(dw[k]), tq_free(db[k]);
  tq_free(x), tq_free(xn), tq_free(wt), tq_free(bias), tq_free(dout);
  bn_params_free(&b);
}

/* Which shapes take the pre-op: 3x3 depthwise, multiplier 1, channels a multiple of 8, strides 1 and 2. */
static void test_pre_ok(void) {
  tq_conv_shape s;
  tq_conv_shape_init(&s, 4, 8, 8, 12, 3, 3, 1, 1, 12, TQ_PAD_SAME);
  CHECK(!tq_depthwise_pre_ok(&s)); /* 12 channels */
  tq_conv_shape_init(&s, 4, 8, 8, 16, 5, 5, 1, 1, 16, TQ_PAD_SAME);
  CHECK(!tq_depthwise_pre_ok(&s)); /* 5x5 */
  tq_conv_shape_init(&s, 4, 8, 8, 16, 3, 3, 3, 3, 16, TQ_PAD_SAME);
  CHECK(!tq_depthwise_pre_ok(&s)); /* stride 3 */
  tq_conv_shape_init(&s, 4, 8, 8, 16, 3, 3, 1, 1, 32, TQ_PAD_SAME);
  CHECK(!tq_depthwise_pre_ok(&s)); /* multiplier 2 */
  tq_conv_shape_init(&s, 4, 8, 8, 16, 3, 3, 2, 2, 16, TQ_PAD_VALID);
  CHECK(tq_depthwise_pre_ok(&s));
}

int main(void) {
  const int threads = omp_get_max_threads();
  test_pre_rows();
  test_pre_ok();
  for (int t = 1; t <= 2; t++)
    for (int room = 1; room <= 2; room++) {
      /* MobileNet's first blocks, scaled down; odd batches and sizes */
      check_depthwise(3, 12, 12, 8, 1, TQ_PAD_SAME, 0.0f, t, room);
      check_depthwise(5, 11, 9, 16, 2, TQ_PAD_SAME, 6.0f, t, room);
      check_depthwise(2, 6, 6, 32, 1, TQ_PAD_SAME, 0.0f, t, room);
      check_depthwise(1, 7, 5, 24, 2, TQ_PAD_SAME, 0.0f, t, room);
      check_depthwise(2, 9, 9, 16, 2, TQ_PAD_VALID, 0.0f, t, room);
    }
  omp_set_num_threads(threads);
  TEST_MAIN_END();
}
