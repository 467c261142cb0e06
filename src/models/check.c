/* What the zoo's builders share: the classifier head and the error check. */
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
