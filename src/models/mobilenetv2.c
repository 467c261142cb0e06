/* MobileNetV2 of Keras applications (tf.keras.applications.MobileNetV2, include_top with `classes`
 * outputs): its layer names (Conv1, bn_Conv1, Conv1_relu, expanded_conv_depthwise, block_1_expand,
 * block_1_pad, ..., Conv_1, out_relu, predictions), ReLU6, batch norms with momentum 0.999,
 * convolutions without bias, ZeroPadding2D + valid before every stride-2 depthwise, and its channel
 * rounding for the width multiplier. The study's activation-quantizer slots (SPEC §2) sit before
 * every conv, the global pool and the dense and after the dense; a block's input slot also feeds its
 * residual add. */
#include <math.h>

#include "models/zoo_internal.h"

/* expansion, output filters (before the width), stride of the 17 inverted-residual blocks */
static const int blocks[17][3] = {{1, 16, 1},  {6, 24, 2},  {6, 24, 1},  {6, 32, 2},  {6, 32, 1},  {6, 32, 1},
                                  {6, 64, 2},  {6, 64, 1},  {6, 64, 1},  {6, 64, 1},  {6, 96, 1},  {6, 96, 1},
                                  {6, 96, 1},  {6, 160, 2}, {6, 160, 1}, {6, 160, 1}, {6, 320, 1}};

static int slot(tq_model *m, int x) { return tq_activation(m, x, TQ_ACT_LINEAR); }

static int bn(tq_model *m, int x, const char *prefix, const char *name) {
  int b = tq_zoo_name(m, tq_batchnorm(m, x), "%s%s", prefix, name);
  if (b >= 0) tq_model_layer(m, b)->bn_momentum = 0.999f;
  return b;
}

static int relu6(tq_model *m, int x, const char *prefix, const char *name) {
  return tq_zoo_name(m, tq_relu(m, x, 6.0f), "%s%s", prefix, name);
}

/* A convolution without bias (depthwise when filters is 0). */
static int conv(tq_model *m, int x, int filters, int k, int stride, tq_padding pad, const char *prefix,
                const char *name) {
  int c = filters ? tq_conv2d(m, x, filters, k, k, stride, stride, pad)
                  : tq_depthwise(m, x, k, k, stride, stride, pad, 1);
  tq_layer_set_bias(m, c, 0);
  return tq_zoo_name(m, c, "%s%s", prefix, name);
}

/* Keras' imagenet_utils.correct_pad for a 3x3 stride-2 window: the extra row and column of an even
 * side go at the bottom and right, as TensorFlow's "same". */
static int correct_pad(tq_model *m, int x, const char *prefix) {
  if (x < 0) return -1;
  tq_shape3 s = tq_model_layer(m, x)->out_shape;
  return tq_zoo_name(m, tq_zeropad(m, x, s.h % 2, 1, s.w % 2, 1), "%spad", prefix);
}

/* Keras' _inverted_res_block; x is the slot that quantizes the block's input. */
static int inverted_residual(tq_model *m, int x, int expansion, int filters, int stride, int id) {
  if (x < 0) return -1;
  char p[32];
  snprintf(p, sizeof p, id ? "block_%d_" : "expanded_conv_", id);
  int in_c = tq_model_layer(m, x)->out_shape.c, y = x;
  if (id) {
    y = conv(m, y, expansion * in_c, 1, 1, TQ_PAD_SAME, p, "expand");
    y = slot(m, relu6(m, bn(m, y, p, "expand_BN"), p, "expand_relu"));
  }
  if (stride == 2) y = correct_pad(m, y, p);
  y = conv(m, y, 0, 3, stride, stride == 2 ? TQ_PAD_VALID : TQ_PAD_SAME, p, "depthwise");
  y = slot(m, relu6(m, bn(m, y, p, "depthwise_BN"), p, "depthwise_relu"));
  y = bn(m, conv(m, y, filters, 1, 1, TQ_PAD_SAME, p, "project"), p, "project_BN");
  if (in_c == filters && stride == 1) y = tq_zoo_name(m, tq_add(m, x, y), "%sadd", p);
  return y;
}

tq_model *tq_build_mobilenetv2(tq_shape3 input, int classes, float width) {
  tq_model *m = tq_model_new("mobilenetv2", input);
  if (!m) return NULL;
  double alpha = round(width * 100.0) / 100.0; /* the decimal the user wrote, as Python reads it */
  int x = slot(m, 0);
  x = conv(m, x, tq_zoo_divisible8(32 * alpha), 3, 2, TQ_PAD_SAME, "", "Conv1");
  x = slot(m, relu6(m, bn(m, x, "", "bn_Conv1"), "", "Conv1_relu"));
  for (int b = 0; b < 17; b++) {
    int filters = tq_zoo_divisible8((int)(blocks[b][1] * alpha));
    x = slot(m, inverted_residual(m, x, blocks[b][0], filters, blocks[b][2], b));
  }
  x = conv(m, x, alpha > 1.0 ? tq_zoo_divisible8(1280 * alpha) : 1280, 1, 1, TQ_PAD_SAME, "", "Conv_1");
  x = slot(m, relu6(m, bn(m, x, "", "Conv_1_bn"), "", "out_relu"));
  x = slot(m, tq_gap(m, x));
  x = slot(m, tq_zoo_name(m, tq_dense(m, x, classes), "predictions"));
  return tq_zoo_check(m, x);
}
