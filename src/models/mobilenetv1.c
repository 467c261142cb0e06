/* MobileNetV1 of MLPerf Tiny (visual wake words): width 0.25 (8 filters in the first conv), 96x96
 * RGB, 13 depthwise-separable blocks, average pool, dense. Names as Keras auto-names the MLPerf
 * reference (conv2d, depthwise_conv2d, batch_normalization, dense), so that its trained weights
 * (tinyq import vww_96.h5) load by name; its Activation('relu') layers are ReLU layers (re_lu) here,
 * with the study's activation-quantizer slots before every conv, the pool and the dense and after
 * the dense (30 slots, SPEC §2). Kernels: He-normal, L2 1e-4, as the reference. */
#include "models/zoo_internal.h"

static int conv_bn_relu(tq_model *m, int x, int depthwise, int filters, int k, int stride) {
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  int c = depthwise ? tq_depthwise(m, x, k, k, stride, stride, TQ_PAD_SAME, 1)
                    : tq_conv2d(m, x, filters, k, k, stride, stride, TQ_PAD_SAME);
  tq_layer_set_l2(m, c, 1e-4f);
  return tq_relu(m, tq_batchnorm(m, c), 0);
}

tq_model *tq_build_mobilenetv1(tq_shape3 input, int classes) {
  /* pointwise filters and depthwise strides of the 13 blocks */
  static const int filters[13] = {16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256};
  static const int strides[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
  tq_model *m = tq_model_new("mobilenetv1", input);
  if (!m) return NULL;
  int x = conv_bn_relu(m, 0, 0, 8, 3, 2);
  for (int b = 0; b < 13; b++) {
    x = conv_bn_relu(m, x, 1, 0, 3, strides[b]);
    x = conv_bn_relu(m, x, 0, filters[b], 1, 1);
  }
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  return tq_zoo_check(m, tq_zoo_classifier_head(m, x, classes));
}
