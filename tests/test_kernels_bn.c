/* Batch normalization: the training forward (statistics, normalisation, moving averages), the
 * backward, the passes fused with the ReLU and the dropout after it, the group statistics a
 * convolution leaves, and inference: against references, every backward against central finite
 * differences, and the same bits for any thread count. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernel_test_util.h"
#include "tinyq/kernels.h"
#include "tq_test.h"

/* ---- batch normalization */

typedef struct {
  float *in, *gamma, *beta, *out, *xhat, *invstd, *mm, *mv, *dout;
  int rows, c;
} bn_ctx;

static double bn_obj(void *p) {
  bn_ctx *b = p;
  tq_batchnorm_forward_train(b->out, b->xhat, b->invstd, b->mm, b->mv, b->in, b->gamma, b->beta, b->rows,
                             b->c, 0.99f, 1e-3f);
  return dot(b->out, b->dout, (size_t)b->rows * b->c);
}

static void bn_ctx_init(bn_ctx *b, tq_rng *r, int rows, int c, float offset) {
  size_t n = (size_t)rows * c;
  b->rows = rows, b->c = c;
  b->in = randn(r, n, 2.0f);
  for (size_t i = 0; i < n; i++) b->in[i] += offset + (float)(i % c); /* per-channel means differ */
  b->gamma = randn(r, (size_t)c, 1.0f), b->beta = randn(r, (size_t)c, 1.0f);
  b->out = tq_alloc_floats(n), b->xhat = tq_alloc_floats(n), b->dout = randn(r, n, 1.0f);
  b->invstd = tq_alloc_floats((size_t)c), b->mm = tq_alloc_floats((size_t)c),
  b->mv = tq_alloc_floats((size_t)c);
}

static void bn_ctx_free(bn_ctx *b) {
  tq_free(b->in), tq_free(b->gamma), tq_free(b->beta), tq_free(b->out), tq_free(b->xhat);
  tq_free(b->dout), tq_free(b->invstd), tq_free(b->mm), tq_free(b->mv);
}

static void test_bn_forward(int rows, int c, float offset) {
  tq_rng r;
  tq_rng_seed(&r, (uint64_t)rows * 131 + c);
  bn_ctx b;
  bn_ctx_init(&b, &r, rows, c, offset);
  for (int j = 0; j < c; j++) b.mm[j] = 0.5f, b.mv[j] = 2.0f;
  const float eps = 1e-3f;
  tq_batchnorm_forward_train(b.out, b.xhat, b.invstd, b.mm, b.mv, b.in, NULL, NULL, rows, c, 0.99f, eps);
  int bad = 0;
  for (int j = 0; j < c; j++) {
    /* statistics in double, straight from the definition */
    double mean = 0, var = 0, om = 0, ov = 0;
    for (int i = 0; i < rows; i++) mean += b.in[(size_t)i * c + j];
    mean /= rows;
    for (int i = 0; i < rows; i++) var += pow(b.in[(size_t)i * c + j] - mean, 2);
    var /= rows;
    for (int i = 0; i < rows; i++) om += b.out[(size_t)i * c + j];
    om /= rows;
    for (int i = 0; i < rows; i++) ov += pow(b.out[(size_t)i * c + j] - om, 2);
    ov /= rows;
    /* output has mean 0 and variance var/(var+eps) ~ 1 */
    bad += fabs(om) > 1e-4;
    bad += fabs(ov - var / (var + eps)) > 1e-3;
    bad += fabs(b.invstd[j] - 1.0 / sqrt(var + eps)) > 1e-4 * b.invstd[j];
    /* Keras moving averages: momentum 0.99, unbiased variance */
    bad += fabs(b.mm[j] - (0.99 * 0.5 + 0.01 * mean)) > 1e-4 * (1 + fabs(mean));
    bad += fabs(b.mv[j] - (0.99 * 2.0 + 0.01 * var * rows / (rows - 1))) > 1e-4 * (1 + var);
  }
  if (bad) {
    fprintf(stderr, "batchnorm forward statistics (rows %d, c %d, offset %g): %d bad\n", rows, c, offset,
            bad);
    tq_test_failures++;
  }
  /* with gamma/beta: out = gamma * xhat + beta */
  bn_obj(&b);
  double worst = 0;
  for (size_t i = 0; i < (size_t)rows * c; i++)
    worst = fmax(worst, fabs(b.out[i] - (b.gamma[i % c] * b.xhat[i] + b.beta[i % c])));
  CHECK(worst < 1e-5);

  /* bit-identical for 1 and 2 threads */
  float *out1 = tq_alloc_floats((size_t)rows * c), *din1 = tq_alloc_floats((size_t)rows * c);
  float *din2 = tq_alloc_floats((size_t)rows * c);
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  bn_obj(&b);
  memcpy(out1, b.out, (size_t)rows * c * sizeof(float));
  tq_batchnorm_backward(din1, NULL, NULL, b.dout, b.xhat, b.gamma, b.invstd, rows, c);
  omp_set_num_threads(2);
  bn_obj(&b);
  tq_batchnorm_backward(din2, NULL, NULL, b.dout, b.xhat, b.gamma, b.invstd, rows, c);
  omp_set_num_threads(threads);
  CHECK(memcmp(out1, b.out, (size_t)rows * c * sizeof(float)) == 0);
  CHECK(memcmp(din1, din2, (size_t)rows * c * sizeof(float)) == 0);
  tq_free(out1), tq_free(din1), tq_free(din2);
  bn_ctx_free(&b);
}

static void test_bn_backward(int rows, int c) {
  tq_rng r;
  tq_rng_seed(&r, 99 + (uint64_t)rows);
  bn_ctx b;
  bn_ctx_init(&b, &r, rows, c, 0.0f);
  size_t n = (size_t)rows * c;
  float *din = tq_alloc_floats(n), *dg = tq_alloc_floats((size_t)c), *dbt = tq_alloc_floats((size_t)c);
  for (int j = 0; j < c; j++) dg[j] = 1.0f, dbt[j] = -1.0f; /* accumulate */
  bn_obj(&b);
  tq_batchnorm_backward(din, dg, dbt, b.dout, b.xhat, b.gamma, b.invstd, rows, c);
  for (int j = 0; j < c; j++) dg[j] -= 1.0f, dbt[j] += 1.0f;
  check_grad("bn din", b.in, din, n, bn_obj, &b, 1e-2f);
  check_grad("bn dgamma", b.gamma, dg, (size_t)c, bn_obj, &b, 1e-2f);
  check_grad("bn dbeta", b.beta, dbt, (size_t)c, bn_obj, &b, 1e-2f);
  tq_free(din), tq_free(dg), tq_free(dbt);
  bn_ctx_free(&b);
}

/* The fused batch norm + ReLU (ReLU6) against the two kernels one after the other, both ways, and
 * the same bits on 1, 2 and 3 threads. */
static void test_bn_relu_fused(int rows, int c, float relu_max) {
  tq_rng r;
  tq_rng_seed(&r, 7 + (uint64_t)rows * 3 + (uint64_t)c);
  bn_ctx b;
  bn_ctx_init(&b, &r, rows, c, 0.5f);
  size_t n = (size_t)rows * c;
  float *ref = tq_alloc_floats(n), *out = tq_alloc_floats(n), *mean = tq_alloc_floats((size_t)c);
  float *invstd = tq_alloc_floats((size_t)c), *mm = tq_alloc_floats((size_t)c), *mv = tq_alloc_floats((size_t)c);
  float *drelu = tq_alloc_floats(n), *din_ref = tq_alloc_floats(n), *din = tq_alloc_floats(n);
  float *g[4];
  for (int i = 0; i < 4; i++) g[i] = tq_alloc_floats((size_t)c); /* dgamma, dbeta: reference, fused */
  for (int j = 0; j < c; j++) {
    b.mm[j] = mm[j] = 0.5f, b.mv[j] = mv[j] = 2.0f;
    g[0][j] = g[2][j] = 1.0f, g[1][j] = g[3][j] = -1.0f; /* both accumulate */
  }
  if (relu_max > 0) { /* some values clamp at the cap */
    for (int j = 0; j < c; j++) b.beta[j] = relu_max - 0.5f;
  }
  tq_batchnorm_forward_train(b.out, b.xhat, b.invstd, b.mm, b.mv, b.in, b.gamma, b.beta, rows, c, 0.99f, 1e-3f);
  if (relu_max > 0)
    tq_relu_max_forward(ref, b.out, n, relu_max);
  else
    tq_relu_forward(ref, b.out, n);
  tq_batchnorm_relu_forward_train(out, mean, invstd, mm, mv, b.in, b.gamma, b.beta, rows, c, 0.99f, 1e-3f,
                                  relu_max);
  double worst = 0;
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(out[i] - ref[i]));
  for (int j = 0; j < c; j++) {
    worst = fmax(worst, fabs(invstd[j] - b.invstd[j]) + fabs(mm[j] - b.mm[j]) + fabs(mv[j] - b.mv[j]));
  }
  CHECK(worst < 1e-5);
  if (relu_max > 0)
    tq_relu_max_backward(drelu, b.dout, b.out, n, relu_max);
  else
    tq_relu_backward(drelu, b.dout, b.out, n);
  tq_batchnorm_backward(din_ref, g[0], g[1], drelu, b.xhat, b.gamma, b.invstd, rows, c);
  int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  tq_batchnorm_relu_backward(din, g[2], g[3], b.dout, b.in, mean, b.gamma, b.beta, invstd, rows, c, relu_max);
  worst = 0;
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(din[i] - din_ref[i]));
  for (int j = 0; j < c; j++) worst = fmax(worst, fabs(g[2][j] - g[0][j]) + fabs(g[3][j] - g[1][j]));
  CHECK(worst < 1e-4);
  /* the same bits on 2 and 3 threads, both ways, dgamma and dbeta too */
  memcpy(ref, out, n * sizeof(float));
  memcpy(din_ref, din, n * sizeof(float));
  for (int t = 2; t <= 3; t++) {
    omp_set_num_threads(t);
    for (int j = 0; j < c; j++) g[0][j] = 1.0f, g[1][j] = -1.0f; /* as g[2], g[3] started */
    tq_batchnorm_relu_forward_train(out, mean, invstd, mm, mv, b.in, b.gamma, b.beta, rows, c, 0.99f, 1e-3f,
                                    relu_max);
    tq_batchnorm_relu_backward(din, g[0], g[1], b.dout, b.in, mean, b.gamma, b.beta, invstd, rows, c, relu_max);
    CHECK(memcmp(out, ref, n * sizeof(float)) == 0);
    CHECK(memcmp(din, din_ref, n * sizeof(float)) == 0);
    CHECK(memcmp(g[0], g[2], c * sizeof(float)) == 0 && memcmp(g[1], g[3], c * sizeof(float)) == 0);
  }
  omp_set_num_threads(threads);
  for (int i = 0; i < 4; i++) tq_free(g[i]);
  tq_free(ref), tq_free(out), tq_free(mean), tq_free(invstd), tq_free(mm), tq_free(mv);
  tq_free(drelu), tq_free(din_ref), tq_free(din);
  bn_ctx_free(&b);
}

static void test_bn_infer(void) {
  const float in[4] = {1, 2, 3, 4}, g[2] = {2, 1}, bt[2] = {0, 1}, mm[2] = {1, 2}, mv[2] = {4, 0.25f};
  float out[4];
  tq_batchnorm_forward_infer(out, in, g, bt, mm, mv, 2, 2, 0.0f);
  CHECK_NEAR(out[0], 2 * (1 - 1) / 2.0 + 0, 1e-6);
  CHECK_NEAR(out[1], 1 * (2 - 2) / 0.5 + 1, 1e-6);
  CHECK_NEAR(out[2], 2 * (3 - 1) / 2.0 + 0, 1e-6);
  CHECK_NEAR(out[3], 1 * (4 - 2) / 0.5 + 1, 1e-6);
  tq_batchnorm_forward_infer(out, in, NULL, NULL, mm, mv, 2, 2, 0.0f);
  CHECK_NEAR(out[3], 4.0, 1e-6);
}


static void test_bn_stats_groups(void) {
  size_t prev = 0;
  int bad = 0;
  for (int rows = 1; rows <= 40000; rows++) {
    int g = tq_batchnorm_stats_group_rows(rows), groups = (rows + g - 1) / g;
    size_t f = tq_batchnorm_stats_floats(rows, 5);
    bad += g % 24 != 0 || groups > 32 || (size_t)groups * 15 > f || f < prev;
    prev = f;
  }
  CHECK(bad == 0);
  tq_rng r;
  tq_rng_seed(&r, 5);
  bn_ctx a, b;
  bn_ctx_init(&a, &r, 1155, 16, 3.0f);
  tq_rng_seed(&r, 5);
  bn_ctx_init(&b, &r, 1155, 16, 3.0f);
  float *stats = tq_alloc_floats(tq_batchnorm_stats_floats(1155, 16));
  tq_batchnorm_stats(stats, b.in, 1155, 16);
  tq_batchnorm_forward_train(a.out, a.xhat, a.invstd, a.mm, a.mv, a.in, a.gamma, a.beta, 1155, 16, 0.9f, 1e-3f);
  tq_batchnorm_forward_train_stats(b.out, b.xhat, b.invstd, b.mm, b.mv, b.in, stats, b.gamma, b.beta, 1155, 16,
                                   0.9f, 1e-3f);
  CHECK(memcmp(a.out, b.out, sizeof(float) * 1155 * 16) == 0 && memcmp(a.xhat, b.xhat, sizeof(float) * 1155 * 16) == 0);
  CHECK(memcmp(a.mm, b.mm, 16 * sizeof(float)) == 0 && memcmp(a.mv, b.mv, 16 * sizeof(float)) == 0);
  tq_free(stats);
  bn_ctx_free(&a), bn_ctx_free(&b);
}

/* Batch norm + ReLU (or ReLU6) + dropout in one pass each way: the bits of the three layers' passes
 * (tq_dropout_forward's draws for the same key, its mask in the backward), and the normalising pass
 * alone (QAT's folded batch norm) likewise. */
static void test_bn_relu_dropout(int rows, int c, float relu_max) {
  tq_rng r;
  tq_rng_seed(&r, (uint64_t)rows + 77);
  bn_ctx b;
  bn_ctx_init(&b, &r, rows, c, 0.5f);
  const size_t n = (size_t)rows * c;
  float *ref = tq_alloc_floats(n), *mask = tq_alloc_floats(n), *out = tq_alloc_floats(n), *relu = tq_alloc_floats(n);
  float *din_ref = tq_alloc_floats(n), *din = tq_alloc_floats(n), *tmp = tq_alloc_floats(n);
  float mean[64], inv[64], mm[64] = {0}, mv[64] = {0}, mean2[64], inv2[64], mm2[64] = {0}, mv2[64] = {0};
  float dg[64] = {0}, db[64] = {0}, dg2[64] = {0}, db2[64] = {0};
  TQ_ASSERT(c <= 64);
  tq_rng k1, k2;
  tq_rng_seed(&k1, 31), tq_rng_seed(&k2, 31);
  tq_batchnorm_relu_forward_train(relu, mean, inv, mm, mv, b.in, b.gamma, b.beta, rows, c, 0.99f, 1e-3f, relu_max);
  tq_dropout_forward(ref, mask, relu, n, 0.25f, &k1);
  uint64_t key = tq_rng_u64(&k2);
  tq_batchnorm_relu_forward_train_stats(out, mean2, inv2, mm2, mv2, b.in, NULL, b.gamma, b.beta, rows, c, 0.99f,
                                        1e-3f, relu_max, 0.25f, key);
  CHECK(memcmp(ref, out, n * sizeof(float)) == 0);
  CHECK(memcmp(mm, mm2, (size_t)c * sizeof(float)) == 0 && memcmp(inv, inv2, (size_t)c * sizeof(float)) == 0);
  tq_batchnorm_normalize_dropout(out, b.in, mean, inv, b.gamma, b.beta, rows, c, relu_max, 0.25f, key);
  CHECK(memcmp(ref, out, n * sizeof(float)) == 0);
  tq_dropout_backward(tmp, b.dout, mask, n);
  tq_batchnorm_relu_backward(din_ref, dg, db, tmp, b.in, mean, b.gamma, b.beta, inv, rows, c, relu_max);
  tq_batchnorm_relu_dropout_backward(din, dg2, db2, b.dout, b.in, mean, b.gamma, b.beta, inv, rows, c, relu_max, 0.25f,
                                     key);
  CHECK(memcmp(din_ref, din, n * sizeof(float)) == 0);
  CHECK(memcmp(dg, dg2, (size_t)c * sizeof(float)) == 0 && memcmp(db, db2, (size_t)c * sizeof(float)) == 0);
  int dropped = 0;
  for (size_t i = 0; i < n; i++) dropped += mask[i] == 0.0f;
  CHECK(dropped > 0 && dropped < (int)n);
  tq_free(ref), tq_free(mask), tq_free(out), tq_free(relu), tq_free(din_ref), tq_free(din), tq_free(tmp);
  bn_ctx_free(&b);
}

/* The round trip between two threads: a positive time with two, none with one or no trips. */
int main(void) {
  test_bn_stats_groups();
  test_bn_relu_dropout(37, 5, 0.0f);
  test_bn_relu_dropout(12500, 64, 0.0f); /* DS-CNN's: parallel, the 64-channel pass */
  test_bn_relu_dropout(3001, 16, 6.0f);
  test_bn_forward(37, 5, 0.0f);
  test_bn_forward(5000, 24, 1000.0f); /* many blocks, |mean| >> std */
  test_bn_forward(32 * 32 * 8, 16, 0.0f);
  test_bn_backward(12, 3);
  test_bn_backward(300, 4);
  test_bn_relu_fused(37, 5, 0.0f);
  test_bn_relu_fused(32 * 16 * 8, 16, 0.0f); /* parallel: many row blocks */
  test_bn_relu_fused(3000, 24, 6.0f);
  /* the passes specialised for 8, 16, 32 and 64 channels; ReLU and ReLU6; row counts not a
   * multiple of the 4-row groups */
  test_bn_forward(4099, 8, 10.0f);
  test_bn_forward(257, 64, 0.0f);
  test_bn_backward(1001, 16);
  test_bn_backward(4099, 32);
  test_bn_relu_fused(32 * 12 * 12 + 3, 8, 6.0f);
  test_bn_relu_fused(2051, 16, 0.0f);
  test_bn_relu_fused(1027, 32, 6.0f);
  test_bn_relu_fused(515, 64, 0.0f);
  test_bn_infer();
  TEST_MAIN_END();
}
