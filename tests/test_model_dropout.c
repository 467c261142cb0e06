/* The training graph's dropout and batch-norm paths: drop-connect (per-sample dropout), the batch
 * statistics a convolution leaves for the batch norm after it, and Conv -> BN -> ReLU -> Dropout run
 * as one pass each way: values against the separate kernels, gradients against central
 * differences, on one thread and two. */
#include <math.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "nn/layer_types.h"
#include "tinyq/model.h"
#include "tq_test.h"

/* Drop-connect (Dropout with noise_shape (None, 1, 1, 1)): whole samples dropped or scaled by
 * 1 / (1 - rate) in training, the gradient against central differences with the same draws (the rng
 * reseeded for every forward), an identity at inference, and the model file keeps it. */
static double drop_loss(tq_model *m, const float *x, const float *r, int n) {
  tq_rng rng;
  tq_rng_seed(&rng, 5);
  const float *out = tq_model_forward(m, x, n, 1, &rng);
  double l = 0;
  for (int i = 0; i < n * 3; i++) l += (double)out[i] * r[i];
  return l;
}

static void check_sample_dropout(void) {
  tq_model *m = tq_model_new("drop", (tq_shape3){2, 2, 3});
  int c = tq_conv2d(m, 0, 4, 1, 1, 1, 1, TQ_PAD_SAME);
  int d = tq_dropout_per_sample(m, c, 0.5f);
  int y = tq_dense(m, tq_flatten(m, tq_add(m, d, tq_conv2d(m, 0, 4, 1, 1, 1, 1, TQ_PAD_SAME))), 3);
  CHECK(y > 0 && tq_model_finalize(m, 4, TQ_INIT_GLOROT_UNIFORM, 2) == TQ_OK);
  enum { N = 4 };
  tq_rng rng;
  tq_rng_seed(&rng, 9);
  float x[N * 12], r[N * 3];
  for (int i = 0; i < N * 12; i++) x[i] = tq_rng_normal(&rng);
  for (int i = 0; i < N * 3; i++) r[i] = tq_rng_normal(&rng);
  drop_loss(m, x, r, N);
  const tq_layer *dl = tq_model_layer(m, d), *cl = tq_model_layer(m, c);
  int dropped = 0, kept = 0;
  for (int s = 0; s < N; s++)
    for (int i = 0; i < 16; i++) {
      float want = dl->aux[s] == 0.0f ? 0.0f : 2.0f * cl->out[s * 16 + i];
      CHECK(dl->aux[s] == 0.0f || dl->aux[s] == 2.0f);
      CHECK(fabsf(dl->out[s * 16 + i] - want) < 1e-6f);
      dropped += i == 0 && dl->aux[s] == 0.0f;
      kept += i == 0 && dl->aux[s] != 0.0f;
    }
  CHECK(dropped > 0 && kept > 0); /* this seed drops some samples and keeps others */
  tq_model_zero_grad(m);
  tq_model_backward(m, r, N);
  int checked = 0;
  for (int p = 0; p < tq_model_num_params(m); p++) {
    tq_param *prm = tq_model_param(m, p, NULL, NULL);
    for (size_t j = 0; j < prm->size; j++, checked++) {
      float keep = prm->value[j];
      prm->value[j] = keep + 1e-2f;
      double lp = drop_loss(m, x, r, N);
      prm->value[j] = keep - 1e-2f;
      double lm = drop_loss(m, x, r, N);
      prm->value[j] = keep;
      double fd = (lp - lm) / 2e-2, g = prm->grad[j];
      CHECK(fabs(fd - g) <= 1e-2 * (fabs(fd) + fabs(g)) + 1e-3);
    }
  }
  CHECK(checked > 60);
  /* the dropped samples' first conv gets no gradient from them: covered by the check above; at
   * inference the layer is an identity */
  tq_model_forward(m, x, N, 0, NULL);
  for (int i = 0; i < N * 16; i++) CHECK(dl->out[i] == cl->out[i]);
  char path[] = "/tmp/tq_drop_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  tq_model *back = NULL;
  CHECK(tq_model_save(path, m, "{}", 0) == TQ_OK && tq_model_load(path, &back, NULL, 1) == TQ_OK);
  const tq_layer *bl = tq_model_layer(back, tq_model_find(back, "dropout"));
  CHECK(bl->dropout_per_sample && bl->dropout_rate == 0.5f);
  unlink(path);
  tq_model_free(back);
  tq_model_free(m);
}

/* A batch norm that alone reads a conv takes its training statistics from the conv's forward
 * (tq_bn_stats_sink): the conv leaves tq_batchnorm_stats of its output in the batch norm's buffer,
 * and the batch norm's output and moving statistics have the bits of the separate passes. Then the
 * same model with a second reader of the conv: no statistics are left. */
static void check_bn_stats_from_conv(void) {
  enum { B = 32, HW = 36, C = 16 };
  for (int second_reader = 0; second_reader < 2; second_reader++) {
    tq_model *m = tq_model_new("bnstats", (tq_shape3){6, 6, 8});
    int c = tq_conv2d(m, 0, C, 1, 1, 1, 1, TQ_PAD_SAME);
    int b = tq_batchnorm(m, c);
    int r = tq_relu(m, b, 0);
    if (second_reader) r = tq_add(m, r, c);
    int y = tq_dense(m, tq_gap(m, r), 3);
    CHECK(y > 0);
    CHECK(tq_model_finalize(m, B, TQ_INIT_GLOROT_UNIFORM, 5) == TQ_OK);
    tq_rng rng;
    tq_rng_seed(&rng, 11);
    float *x = tq_alloc_floats((size_t)B * HW * 8), *want = tq_alloc_floats((size_t)B * HW * C);
    for (int i = 0; i < B * HW * 8; i++) x[i] = tq_rng_normal(&rng) + 3.0f;
    tq_layer *conv = tq_model_layer(m, c), *bn = tq_model_layer(m, b), *relu = tq_model_layer(m, b + 1);
    /* 19 samples: 684 rows in 29 groups of 24, more than the full batch's 24 groups of 48 */
    for (int n = 19; n <= B; n += B - 19) {
      const int rows = n * HW, gr = tq_batchnorm_stats_group_rows(rows);
      float mm[C], mv[C], mean[C], inv[C];
      memcpy(mm, bn->moving_mean.value, sizeof mm);
      memcpy(mv, bn->moving_var.value, sizeof mv);
      size_t ns = (size_t)3 * C * ((rows + gr - 1) / gr);
      float *sink = bn->aux2 + C, *stats = tq_alloc_floats(ns);
      for (size_t i = 0; i < ns; i++) sink[i] = NAN;
      tq_model_forward(m, x, n, 1, &rng);
      CHECK(!bn->bn_stats_given); /* taken */
      tq_batchnorm_stats(stats, conv->out, rows, C);
      int left = memcmp(stats, sink, ns * sizeof(float)) == 0;
      CHECK(left == !second_reader);
      tq_batchnorm_relu_forward_train(want, mean, inv, mm, mv, conv->out, bn->gamma.value, bn->beta.value, rows, C,
                                      bn->bn_momentum, bn->bn_eps, 0.0f);
      CHECK(memcmp(want, relu->out, (size_t)rows * C * sizeof(float)) == 0);
      CHECK(memcmp(mm, bn->moving_mean.value, sizeof mm) == 0 && memcmp(mv, bn->moving_var.value, sizeof mv) == 0);
      tq_free(stats);
    }
    tq_free(x), tq_free(want);
    tq_model_free(m);
  }
}

/* Conv -> BN -> ReLU -> Dropout: in training the batch norm runs the ReLU and the dropout (their
 * forward and backward do nothing, no mask is written), the dropout's output is the ReLU's times
 * tq_dropout_forward's draws for the same key, and the gradients match central differences with the
 * draws fixed, on one thread (shared gradient buffers: the dropout's gradient must live down to the
 * batch norm's step) and on two. A second reader of the ReLU keeps the dropout unfused; so does a
 * rate of 0 (variant 2), whose copy is in place in the gradient buffer the chain shares. */
static void check_fused_dropout(void) {
  const int threads = omp_get_max_threads();
  for (int t = 1; t <= 2; t++)
    for (int variant = 0; variant < 3; variant++) {
      const int second_reader = variant == 1;
      omp_set_num_threads(t);
      tq_model *m = tq_model_new("bnreludrop", (tq_shape3){2, 2, 3});
      int c = tq_conv2d(m, 0, 16, 1, 1, 1, 1, TQ_PAD_SAME);
      int b = tq_batchnorm(m, c);
      int r = tq_relu(m, b, 0);
      int d = tq_dropout(m, r, variant == 2 ? 0.0f : 0.3f);
      int f = second_reader ? tq_add(m, d, r) : d;
      int y = tq_dense(m, tq_flatten(m, f), 3);
      CHECK(y > 0 && tq_model_finalize(m, 4, TQ_INIT_GLOROT_UNIFORM, 2) == TQ_OK);
      enum { N = 4 };
      tq_rng rng;
      tq_rng_seed(&rng, 9);
      float x[N * 12], r3[N * 3], mask[N * 64], want[N * 64];
      for (int i = 0; i < N * 12; i++) x[i] = tq_rng_normal(&rng);
      for (int i = 0; i < N * 3; i++) r3[i] = tq_rng_normal(&rng);
      tq_layer *dl = tq_model_layer(m, d), *rl = tq_model_layer(m, r);
      for (int i = 0; i < N * 64; i++) dl->aux[i] = 7.0f;
      drop_loss(m, x, r3, N);
      /* the dropout's draws: the key drop_loss's generator gives first */
      tq_rng_seed(&rng, 5);
      if (variant == 1) {
        CHECK(dl->aux[0] != 7.0f); /* unfused: the mask was written */
      } else if (variant == 2) {
        CHECK(memcmp(dl->out, rl->out, sizeof want) == 0); /* rate 0: a copy */
      } else {
        for (int i = 0; i < N * 64; i++) CHECK(dl->aux[i] == 7.0f);
        float relu_out[N * 64];
        tq_layer *bl = tq_model_layer(m, b);
        float mean[16], inv[16], mm[16], mv[16];
        tq_batchnorm_relu_forward_train(relu_out, mean, inv, mm, mv, tq_model_layer(m, c)->out, bl->gamma.value,
                                        bl->beta.value, N * 4, 16, 0.99f, 1e-3f, 0.0f);
        tq_dropout_forward(want, mask, relu_out, N * 64, 0.3f, &rng);
        CHECK(memcmp(want, dl->out, sizeof want) == 0);
        int dropped = 0;
        for (int i = 0; i < N * 64; i++) dropped += mask[i] == 0.0f && relu_out[i] > 0.0f;
        CHECK(dropped > 0);
      }
      tq_model_zero_grad(m);
      tq_model_backward(m, r3, N);
      int checked = 0;
      for (int p = 0; p < tq_model_num_params(m); p++) {
        tq_param *prm = tq_model_param(m, p, NULL, NULL);
        if (!prm->trainable) continue;
        for (size_t j = 0; j < prm->size; j += 3, checked++) {
          float keep = prm->value[j];
          prm->value[j] = keep + 2e-3f; /* small: a ReLU input near 0 must not cross it */
          double lp = drop_loss(m, x, r3, N);
          prm->value[j] = keep - 2e-3f;
          double lm = drop_loss(m, x, r3, N);
          prm->value[j] = keep;
          double fd = (lp - lm) / 4e-3, g = prm->grad[j];
          if (!(fabs(fd - g) <= 2e-2 * (fabs(fd) + fabs(g)) + 2e-3))
            fprintf(stderr, "fused dropout (%d threads, variant %d): param %d[%zu] %g vs %g\n", t, variant, p, j,
                    g, fd);
          CHECK(fabs(fd - g) <= 2e-2 * (fabs(fd) + fabs(g)) + 2e-3);
        }
      }
      CHECK(checked > 50);
      tq_model_free(m);
    }
  omp_set_num_threads(threads);
}

int main(void) {
  check_bn_stats_from_conv();
  check_fused_dropout();
  check_sample_dropout();
  TEST_MAIN_END();
}
