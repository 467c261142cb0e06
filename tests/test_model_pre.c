/* A batch norm + ReLU applied by its reader (forward.c, tq_bn_pre_reader): which batch norms of a
 * MobileNet-like graph hand their ReLU to the depthwise conv after them, that they then never write
 * the ReLU's output, and that training takes the same steps, bit for bit, as with every batch norm
 * writing its output (the model's bn_pre_off), on 1 and 2 threads. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/layer_types.h"
#include "tinyq/model.h"
#include "tinyq/train.h"
#include "tq_test.h"

enum { N = 6, HW = 16, CLASSES = 3 };

typedef struct {
  tq_model *m;
  int bn[6];   /* the batch norms, in order */
  int shared;  /* the ReLU read by two layers */
} net;

/* stem conv -> BN -> ReLU6 -> (a linear activation) -> depthwise -> BN -> ReLU -> pointwise -> BN -> ReLU
 * -> depthwise s2 -> BN -> ReLU -> pointwise -> BN -> ReLU read by a pointwise conv and the Add after
 * it -> BN -> ReLU -> dropout -> GAP -> dense. */
static net build(uint64_t seed) {
  net t;
  tq_model *m = t.m = tq_model_new("mini_mobilenet", (tq_shape3){HW, HW, 3});
  int y = tq_conv2d(m, 0, 8, 3, 3, 2, 2, TQ_PAD_SAME);
  y = tq_relu(m, t.bn[0] = tq_batchnorm(m, y), 6.0f);
  y = tq_activation(m, y, TQ_ACT_LINEAR);
  y = tq_depthwise(m, y, 3, 3, 1, 1, TQ_PAD_SAME, 1);
  y = tq_relu(m, t.bn[1] = tq_batchnorm(m, y), 0.0f);
  y = tq_conv2d(m, y, 16, 1, 1, 1, 1, TQ_PAD_SAME);
  y = tq_relu(m, t.bn[2] = tq_batchnorm(m, y), 0.0f);
  y = tq_depthwise(m, y, 3, 3, 2, 2, TQ_PAD_SAME, 1);
  y = tq_relu(m, t.bn[3] = tq_batchnorm(m, y), 0.0f);
  y = tq_conv2d(m, y, 16, 1, 1, 1, 1, TQ_PAD_SAME);
  t.shared = y = tq_relu(m, t.bn[4] = tq_batchnorm(m, y), 0.0f);
  y = tq_add(m, tq_conv2d(m, y, 16, 1, 1, 1, 1, TQ_PAD_SAME), y);
  y = tq_relu(m, t.bn[5] = tq_batchnorm(m, y), 0.0f);
  y = tq_dropout(m, y, 0.25f);
  y = tq_dense(m, tq_gap(m, y), CLASSES);
  CHECK(y > 0);
  CHECK(tq_model_finalize(m, N, TQ_INIT_GLOROT_UNIFORM, seed) == TQ_OK);
  tq_layer *bn = tq_model_layer(m, t.bn[0]); /* wide enough for ReLU6 to cap */
  for (int c = 0; c < bn->in_shape.c; c++) bn->gamma.value[c] = 8.0f;
  return t;
}

/* The readers: the depthwise convs after the first and third batch norms; not the pointwise convs
 * after the second and fourth, nor the batch norm whose ReLU has two readers, nor the one with a
 * dropout after its ReLU. */
static void check_readers(void) {
  net t = build(3);
  for (int i = 0; i < 6; i++) {
    tq_layer *r = tq_bn_pre_reader(t.m, tq_model_layer(t.m, t.bn[i]));
    if (i == 0 || i == 2)
      CHECK(r != NULL && r->type == TQ_L_DEPTHWISE);
    else
      CHECK(r == NULL);
  }
  t.m->bn_pre_off = 1;
  CHECK(tq_bn_pre_reader(t.m, tq_model_layer(t.m, t.bn[0])) == NULL);
  tq_model_free(t.m);
}

/* Three Adam steps; the parameters and moving statistics after them. */
static void train_steps(net *t, float *params, size_t cap) {
  tq_rng rng;
  tq_rng_seed(&rng, 21);
  float x[N * HW * HW * 3], probs[N * CLASSES], dout[N * CLASSES];
  int y[N];
  for (int i = 0; i < N * HW * HW * 3; i++) x[i] = tq_rng_normal(&rng);
  for (int i = 0; i < N; i++) y[i] = i % CLASSES;
  tq_optimizer opt;
  CHECK(tq_optimizer_parse("adam", &opt) == TQ_OK);
  for (int step = 1; step <= 3; step++) {
    const float *pred = tq_model_forward(t->m, x, N, 1, &rng);
    CHECK(pred != NULL);
    tq_loss_forward_backward(TQ_LOSS_SPARSE_XENT, dout, probs, pred, y, NULL, N, CLASSES, NULL);
    tq_model_zero_grad(t->m);
    tq_model_backward(t->m, dout, N);
    tq_optimizer_step(&opt, t->m, 1e-2f, step);
  }
  size_t at = 0;
  for (int i = 0; i < tq_model_num_params(t->m); i++) {
    tq_param *p = tq_model_param(t->m, i, NULL, NULL);
    TQ_ASSERT(at + p->size <= cap);
    memcpy(params + at, p->value, p->size * sizeof(float));
    at += p->size;
  }
}

static void check_same_training(int threads) {
  omp_set_num_threads(threads);
  enum { CAP = 8192 };
  static float with[CAP], without[CAP];
  net a = build(7), b = build(7);
  b.m->bn_pre_off = 1;
  /* the first ReLU's output, never written when its reader applies it */
  tq_layer *relu = tq_model_layer(a.m, a.bn[0] + 1);
  const size_t relu_n = (size_t)N * tq_shape_size(relu->out_shape);
  for (size_t i = 0; i < relu_n; i++) relu->out[i] = NAN;
  train_steps(&a, with, CAP);
  train_steps(&b, without, CAP);
  CHECK(isnan(relu->out[0]) && isnan(relu->out[relu_n - 1]));
  CHECK(!isnan(tq_model_layer(b.m, b.bn[0] + 1)->out[0]));
  CHECK(tq_model_params(a.m) < CAP);
  CHECK(memcmp(with, without, tq_model_params(a.m) * sizeof(float)) == 0);
  /* and they trained: the first kernel moved */
  net c = build(7);
  CHECK(memcmp(tq_model_param(c.m, 0, NULL, NULL)->value, with, 8 * sizeof(float)) != 0);
  tq_model_free(a.m), tq_model_free(b.m), tq_model_free(c.m);
}

int main(void) {
  const int threads = omp_get_max_threads();
  check_readers();
  check_same_training(1);
  check_same_training(2);
  omp_set_num_threads(threads);
  TEST_MAIN_END();
}
