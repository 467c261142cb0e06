/* Optimizers, the L2 gradient and zeroing the gradients: Adam and SGD with momentum against Keras'
 * update rules written out value by value, over a model of tensors of every size, each split among
 * the threads (tq_optimizer_step): the same bits on 1, 2 and 3 threads, and the same as the plain
 * rules. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "tinyq/model.h"
#include "tinyq/train.h"
#include "tq_test.h"

/* Dense layers of 3 to 200 x 160 kernels: tensors of 1 to 32,000 values, 69,000 in all (more than
 * the 32,768 from which the update runs in parallel), so thread shares begin and end inside tensors. */
static tq_model *model_of_many_tensors(void) {
  tq_model *m = tq_model_new("many", (tq_shape3){1, 1, 3});
  int y = tq_dense(m, 0, 1);
  y = tq_dense(m, y, 200);
  y = tq_dense(m, y, 160);
  y = tq_dense(m, y, 17);
  y = tq_batchnorm(m, y);
  y = tq_dense(m, y, 150);
  y = tq_dense(m, y, 200);
  y = tq_dense(m, y, 5);
  CHECK(y > 0);
  tq_layer_set_l2(m, 3, 1e-3f);
  tq_layer_set_l2(m, 7, 5e-4f);
  CHECK(tq_model_finalize(m, 1, TQ_INIT_GLOROT_UNIFORM, 5) == TQ_OK);
  return m;
}

static size_t trainable_values(tq_model *m) {
  size_t v = 0;
  for (int i = 0; i < tq_model_num_params(m); i++) {
    tq_param *p = tq_model_param(m, i, NULL, NULL);
    v += p->trainable ? p->size : 0;
  }
  return v;
}

/* Every trainable value's gradient drawn at random, the same for the same seed. */
static void draw_gradients(tq_model *m, uint64_t seed) {
  tq_rng rng;
  tq_rng_seed(&rng, seed);
  for (int i = 0; i < tq_model_num_params(m); i++) {
    tq_param *p = tq_model_param(m, i, NULL, NULL);
    for (size_t j = 0; p->trainable && j < p->size; j++) p->grad[j] = tq_rng_normal(&rng) * 0.1f;
  }
}

/* Keras: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr_t m / (sqrt(v) + eps), lr_t with the
 * bias corrections folded in; SGD: vel = momentum vel - lr g; w += vel. */
static void reference_step(const tq_optimizer *o, float *w, const float *g, float *mt, float *vt, size_t n,
                           float lr, long step) {
  double t = (double)step;
  float lr_t = (float)(lr * sqrt(1.0 - pow(o->beta2, t)) / (1.0 - pow(o->beta1, t)));
  for (size_t i = 0; i < n; i++) {
    if (o->kind == TQ_OPT_ADAM) {
      mt[i] = o->beta1 * mt[i] + (1.0f - o->beta1) * g[i];
      vt[i] = o->beta2 * vt[i] + (1.0f - o->beta2) * g[i] * g[i];
      w[i] -= lr_t * mt[i] / (sqrtf(vt[i]) + o->eps);
    } else {
      mt[i] = o->momentum * mt[i] - lr * g[i];
      w[i] += mt[i];
    }
  }
}

/* Three steps of `name` on 1 and on 2 threads, and by the reference: every value equal. */
static void test_optimizer(const char *name) {
  tq_optimizer o;
  CHECK(tq_optimizer_parse(name, &o) == TQ_OK);
  tq_model *one = model_of_many_tensors(), *two = model_of_many_tensors();
  const int np = tq_model_num_params(one);
  CHECK(trainable_values(one) > 60000);
  /* the reference's copies of every trainable tensor: value, moment(s) */
  float *ref[3][64];
  CHECK(np <= 64);
  for (int i = 0; i < np; i++) {
    tq_param *p = tq_model_param(one, i, NULL, NULL);
    for (int k = 0; k < 3; k++) ref[k][i] = tq_alloc_floats(p->size);
    memcpy(ref[0][i], p->value, p->size * sizeof(float));
    memset(ref[1][i], 0, p->size * sizeof(float));
    memset(ref[2][i], 0, p->size * sizeof(float));
  }
  for (long step = 1; step <= 3; step++) {
    draw_gradients(one, (uint64_t)step);
    draw_gradients(two, (uint64_t)step);
    omp_set_num_threads(1);
    tq_optimizer_step(&o, one, 1e-2f, step);
    omp_set_num_threads(step == 2 ? 3 : 2);
    tq_optimizer_step(&o, two, 1e-2f, step);
    for (int i = 0; i < np; i++) {
      tq_param *p = tq_model_param(one, i, NULL, NULL);
      if (p->trainable) reference_step(&o, ref[0][i], p->grad, ref[1][i], ref[2][i], p->size, 1e-2f, step);
    }
  }
  int differ_threads = 0, differ_ref = 0;
  for (int i = 0; i < np; i++) {
    tq_param *p = tq_model_param(one, i, NULL, NULL), *q = tq_model_param(two, i, NULL, NULL);
    differ_threads += memcmp(p->value, q->value, p->size * sizeof(float)) != 0;
    differ_ref += memcmp(p->value, ref[0][i], p->size * sizeof(float)) != 0;
    for (int k = 0; k < 3; k++) tq_free(ref[k][i]);
  }
  CHECK_EQ_INT(differ_threads, 0);
  CHECK_EQ_INT(differ_ref, 0);
  tq_model_free(one);
  tq_model_free(two);
}

/* The L2 term's gradient, 2 * l2 * w added to every kernel value of the layers that have one,
 * nothing to the others, the same on 1 and 2 threads. */
static void test_l2_gradient(void) {
  tq_model *m = model_of_many_tensors();
  draw_gradients(m, 9);
  const int np = tq_model_num_params(m);
  float *before[64];
  for (int i = 0; i < np; i++) {
    tq_param *p = tq_model_param(m, i, NULL, NULL);
    before[i] = tq_alloc_floats(p->size);
    memcpy(before[i], p->grad ? p->grad : p->value, p->size * sizeof(float));
  }
  for (int threads = 1; threads <= 2; threads++) {
    for (int i = 0; i < np; i++) {
      tq_param *p = tq_model_param(m, i, NULL, NULL);
      if (p->grad) memcpy(p->grad, before[i], p->size * sizeof(float));
    }
    omp_set_num_threads(threads);
    tq_model_l2_grad(m);
    int wrong = 0, changed = 0;
    for (int i = 0; i < np; i++) {
      int layer;
      const char *what;
      tq_param *p = tq_model_param(m, i, &layer, &what);
      if (!p->grad) continue;
      float k = layer == 3 ? 2.0f * 1e-3f : layer == 7 ? 2.0f * 5e-4f : 0.0f;
      int kernel = strcmp(what, "kernel") == 0;
      for (size_t j = 0; j < p->size; j++) {
        float want = kernel && k > 0 ? before[i][j] + k * p->value[j] : before[i][j];
        wrong += memcmp(&want, &p->grad[j], sizeof want) != 0;
        changed += p->grad[j] != before[i][j];
      }
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK(changed > 60000); /* layers 3 and 7: 200 x 160 and 150 x 200 kernels */
  }
  for (int i = 0; i < np; i++) tq_free(before[i]);
  tq_model_free(m);
}

/* Every gradient, frozen statistics aside, zero after tq_model_zero_grad on 1, 2 and 3 threads (a
 * thread's share of each tensor: one left out would keep its -1s); the values untouched. */
static void test_zero_grad(void) {
  tq_model *m = model_of_many_tensors();
  for (int threads = 1; threads <= 3; threads++) {
    omp_set_num_threads(threads);
    size_t zero = 0, all = 0, values_kept = 0, values = 0;
    for (int i = 0; i < tq_model_num_params(m); i++) {
      tq_param *p = tq_model_param(m, i, NULL, NULL);
      for (size_t j = 0; p->grad && j < p->size; j++) p->grad[j] = -1.0f;
    }
    tq_model_zero_grad(m);
    for (int i = 0; i < tq_model_num_params(m); i++) {
      tq_param *p = tq_model_param(m, i, NULL, NULL);
      for (size_t j = 0; j < p->size; j++) {
        if (p->grad) all++, zero += p->grad[j] == 0.0f && !signbit(p->grad[j]);
        values++, values_kept += p->value[j] != -1.0f;
      }
    }
    CHECK(all > 60000 && zero == all);
    CHECK(values_kept == values);
  }
  tq_model_free(m);
}

int main(void) {
  test_zero_grad();
  test_optimizer("adam");
  test_optimizer("sgd");
  test_l2_gradient();
  TEST_MAIN_END();
}
