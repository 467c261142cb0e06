/* What the zoo's builders share: the classifier head, the error check, Keras applications' names
 * and channel rounding. */
#include <stdarg.h>
#include <stdio.h>

#include "models/zoo_internal.h"

tq_model *tq_zoo_check(tq_model *m, int last) {
  if (last < 0) {
    tq_model_free(m);
    return NULL;
  }
  return m;
}

int tq_zoo_classifier_head(tq_model *m, int x, int classes) {
  if (x >= 0) {
    tq_shape3 s = tq_model_layer(m, x)->out_shape;
    x = tq_avgpool(m, x, s.h, s.w, s.h, s.w, TQ_PAD_VALID);
  }
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  x = tq_flatten(m, x);
  x = tq_dense(m, x, classes);
  return tq_activation(m, x, TQ_ACT_LINEAR);
}

int tq_zoo_name(tq_model *m, int layer, const char *fmt, ...) {
  if (layer < 0) return -1;
  char name[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  return tq_layer_set_name(m, layer, name) ? -1 : layer;
}

int tq_zoo_divisible8(double v) {
  int r = (int)(v + 4) / 8 * 8;
  if (r < 8) r = 8;
  return r < 0.9 * v ? r + 8 : r;
}
