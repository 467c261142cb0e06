/* ResNet-8 of MLPerf Tiny (image classification), with the study's activation-quantizer slots:
 * activation (input) -> conv2d -> BN -> re_lu -> activation_1 -> 3 residual stages -> avg pool ->
 * dense. Kernels: He-normal, L2 1e-4, as the MLPerf reference. */
#include "models/zoo_internal.h"

static int conv_bn(tq_model *m, int x, int filters, int k, int stride) {
  int c = tq_conv2d(m, x, filters, k, k, stride, stride, TQ_PAD_SAME);
  tq_layer_set_l2(m, c, 1e-4f);
  return tq_batchnorm(m, c);
}

/* Two 3x3 convolutions; a 1x1 strided convolution on the shortcut when the shape changes
 * (created after the main path, as the Keras reference code creates it). */
static int residual_stage(tq_model *m, int x, int filters, int stride, int project) {
  int y = conv_bn(m, x, filters, 3, stride);
  y = tq_relu(m, y, 0);
  y = tq_activation(m, y, TQ_ACT_LINEAR);
  y = conv_bn(m, y, filters, 3, 1);
  int shortcut = x;
  if (project) {
    shortcut = tq_conv2d(m, x, filters, 1, 1, stride, stride, TQ_PAD_SAME);
    tq_layer_set_l2(m, shortcut, 1e-4f);
  }
  int s = tq_add(m, y, shortcut);
  s = tq_relu(m, s, 0);
  return tq_activation(m, s, TQ_ACT_LINEAR);
}

tq_model *tq_build_resnet8(tq_shape3 input, int classes) {
  tq_model *m = tq_model_new("resnet8", input);
  if (!m) return NULL;
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  x = conv_bn(m, x, 16, 3, 1);
  x = tq_relu(m, x, 0);
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  x = residual_stage(m, x, 16, 1, 0);
  x = residual_stage(m, x, 32, 2, 1);
  x = residual_stage(m, x, 64, 2, 1);
  return tq_zoo_check(m, tq_zoo_classifier_head(m, x, classes));
}
