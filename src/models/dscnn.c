/* DS-CNN (small) of MLPerf Tiny (keyword spotting): conv 64 10x4 stride 2, four depthwise-
 * separable blocks, average pool, dense; dropout 0.2 / 0.4 as the reference. Activation-quantizer
 * slots before every conv, the pool and the dense, and after the dense (12 slots, SPEC §2). */
#include "models/zoo_internal.h"

tq_model *tq_build_dscnn(tq_shape3 input, int classes) {
  tq_model *m = tq_model_new("dscnn", input);
  if (!m) return NULL;
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  x = tq_conv2d(m, x, 64, 10, 4, 2, 2, TQ_PAD_SAME);
  x = tq_batchnorm(m, x);
  x = tq_relu(m, x, 0);
  x = tq_dropout(m, x, 0.2f);
  for (int b = 0; b < 4; b++) {
    x = tq_activation(m, x, TQ_ACT_LINEAR);
    x = tq_depthwise(m, x, 3, 3, 1, 1, TQ_PAD_SAME, 1);
    x = tq_batchnorm(m, x);
    x = tq_relu(m, x, 0);
    x = tq_activation(m, x, TQ_ACT_LINEAR);
    x = tq_conv2d(m, x, 64, 1, 1, 1, 1, TQ_PAD_SAME);
    x = tq_batchnorm(m, x);
    x = tq_relu(m, x, 0);
  }
  x = tq_dropout(m, x, 0.4f);
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  return tq_zoo_check(m, tq_zoo_classifier_head(m, x, classes));
}
