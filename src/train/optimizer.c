/* Adam and SGD with momentum, as Keras implements them. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "tinyq/train.h"

tq_status tq_optimizer_parse(const char *s, tq_optimizer *out) {
  memset(out, 0, sizeof *out);
  out->beta1 = 0.9f;
  out->beta2 = 0.999f;
  out->eps = 1e-7f;
  out->momentum = 0.9f;
  if (strcmp(s, "adam") == 0) {
    out->kind = TQ_OPT_ADAM;
  } else if (strcmp(s, "sgd") == 0) {
    out->kind = TQ_OPT_SGD;
  } else {
    return tq_fail(TQ_ERR_ARG, "unknown optimizer '%s' (expected adam or sgd)", s);
  }
  return TQ_OK;
}

static void adam_update(float *w, const float *g, float *mt, float *vt, size_t n, float lr_t,
                        float b1, float b2, float eps) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    mt[i] = b1 * mt[i] + (1.0f - b1) * g[i];
    vt[i] = b2 * vt[i] + (1.0f - b2) * g[i] * g[i];
    w[i] -= lr_t * mt[i] / (sqrtf(vt[i]) + eps);
  }
}

/* Keras SGD: velocity = momentum * velocity - lr * g; w += velocity. */
static void sgd_update(float *w, const float *g, float *vel, size_t n, float lr, float momentum) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    vel[i] = momentum * vel[i] - lr * g[i];
    w[i] += vel[i];
  }
}

/* Values [a, b) of p. */
static void update(const tq_optimizer *o, tq_param *p, size_t a, size_t b, float lr, float lr_t) {
  if (o->kind == TQ_OPT_ADAM)
    adam_update(p->value + a, p->grad + a, p->opt_m + a, p->opt_v + a, b - a, lr_t, o->beta1, o->beta2, o->eps);
  else
    sgd_update(p->value + a, p->grad + a, p->opt_m + a, b - a, lr, o->momentum);
}

void tq_optimizer_step(const tq_optimizer *o, tq_model *m, float lr, long step) {
  /* Keras folds the bias corrections into the step size. */
  double t = (double)step;
  float lr_t = (float)(lr * sqrt(1.0 - pow(o->beta2, t)) / (1.0 - pow(o->beta1, t)));
  const int total = tq_model_num_params(m);
  tq_param **ps = tq_alloc(sizeof(tq_param *) * (size_t)(total > 0 ? total : 1));
  TQ_ASSERT(ps != NULL);
  int np = 0;
  size_t values = 0;
  for (int i = 0; i < total; i++) {
    tq_param *p = tq_model_param(m, i, NULL, NULL);
    if (p->trainable) ps[np++] = p, values += p->size;
  }
  /* One parallel region (a parallel loop per tensor left a MobileNet's hundred small tensors to one
   * core: Adam was 0.5 ms of its 18 ms step), in which each thread takes its contiguous share of every
   * tensor: the share tq_model_zero_grad and tq_model_l2_grad give it, and the rows of K whose weight
   * gradient a large convolution's thread wrote (conv2d_wgrad.c, tile groups), so that it updates
   * values still in its own core's cache. Taking the tensors end to end in one share per thread
   * instead moved half of them between the cores: MobileNetV1 1.01x, ResNet-8 1.02x, the
   * FC-AutoEncoder 1.03x faster this way (2-vCPU AMD EPYC Zen 4). Value by value: the same results
   * for any split. */
#pragma omp parallel if (values > 32768)
  {
    const size_t nt = (size_t)omp_get_num_threads(), th = (size_t)omp_get_thread_num();
    for (int i = 0; i < np; i++) {
      const size_t a = ps[i]->size * th / nt, b = ps[i]->size * (th + 1) / nt;
      if (a < b) update(o, ps[i], a, b, lr, lr_t);
    }
  }
  tq_free(ps);
}
