/* Adam and SGD with momentum, as Keras implements them. */
#include <math.h>
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
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (size_t i = 0; i < n; i++) {
    mt[i] = b1 * mt[i] + (1.0f - b1) * g[i];
    vt[i] = b2 * vt[i] + (1.0f - b2) * g[i] * g[i];
    w[i] -= lr_t * mt[i] / (sqrtf(vt[i]) + eps);
  }
}

/* Keras SGD: velocity = momentum * velocity - lr * g; w += velocity. */
static void sgd_update(float *w, const float *g, float *vel, size_t n, float lr, float momentum) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (size_t i = 0; i < n; i++) {
    vel[i] = momentum * vel[i] - lr * g[i];
    w[i] += vel[i];
  }
}

void tq_optimizer_step(const tq_optimizer *o, tq_model *m, float lr, long step) {
  /* Keras folds the bias corrections into the step size. */
  double t = (double)step;
  float lr_t = (float)(lr * sqrt(1.0 - pow(o->beta2, t)) / (1.0 - pow(o->beta1, t)));
  int np = tq_model_num_params(m);
  for (int i = 0; i < np; i++) {
    tq_param *p = tq_model_param(m, i, NULL, NULL);
    if (!p->trainable) continue;
    if (o->kind == TQ_OPT_ADAM)
      adam_update(p->value, p->grad, p->opt_m, p->opt_v, p->size, lr_t, o->beta1, o->beta2,
                  o->eps);
    else
      sgd_update(p->value, p->grad, p->opt_m, p->size, lr, o->momentum);
  }
}
