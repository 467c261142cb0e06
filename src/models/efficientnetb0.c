/* EfficientNet-B0 of Keras applications (tf.keras.applications.EfficientNetB0, include_top with
 * `classes` outputs, without its Rescaling/Normalization input layers): its layer names (stem_conv,
 * block1a_dwconv, block1a_se_squeeze, ..., top_conv, avg_pool, top_dropout, predictions), swish,
 * squeeze-excite, ZeroPadding2D + valid before every stride-2 depthwise, convolutions without bias
 * outside the squeeze-excite, and drop-connect: the per-sample Dropout (blockXy_drop) before each
 * residual add, at 0.2 * block / 16. The activations fused into se_reduce (swish) and se_expand
 * (sigmoid) are layers of their own named as tinyq import names them ("block1a_se_reduce/swish").
 * The study's activation-quantizer slots (SPEC §2) sit before every conv, pool and the dense and
 * after the dense; a block's input slot also feeds its residual add, and the slot after the
 * depthwise's swish feeds both the squeeze and the excite. */
#include "models/zoo_internal.h"

typedef struct {
  tq_model *m;
  int slots; /* named activation, activation_1, ... in creation order, as Keras would name them:
                the swish Activation layers have names of their own and take no number */
} net;

/* kernel, repeats, filters in, filters out, expansion, stride of the 7 stages */
static const int stages[7][6] = {{3, 1, 32, 16, 1, 1},   {3, 2, 16, 24, 6, 2},  {5, 2, 24, 40, 6, 2},
                                 {3, 3, 40, 80, 6, 2},   {5, 3, 80, 112, 6, 1}, {5, 4, 112, 192, 6, 2},
                                 {3, 1, 192, 320, 6, 1}};
#define BLOCKS 16
#define DROP_CONNECT 0.2f

static int slot(net *n, int x) {
  int s = tq_activation(n->m, x, TQ_ACT_LINEAR);
  int k = n->slots++;
  return k ? tq_zoo_name(n->m, s, "activation_%d", k) : tq_zoo_name(n->m, s, "activation");
}

static int act(net *n, int x, tq_act a, const char *prefix, const char *name) {
  return tq_zoo_name(n->m, tq_activation(n->m, x, a), "%s%s", prefix, name);
}

/* A convolution without bias (depthwise when filters is 0), its batch norm and swish. */
static int conv_bn_swish(net *n, int x, int filters, int k, int stride, const char *p, const char *conv,
                         const char *bn, const char *swish) {
  tq_model *m = n->m;
  tq_padding pad = stride == 2 ? TQ_PAD_VALID : TQ_PAD_SAME;
  int c = filters ? tq_conv2d(m, x, filters, k, k, stride, stride, pad) : tq_depthwise(m, x, k, k, stride, stride, pad, 1);
  tq_layer_set_bias(m, c, 0);
  c = tq_zoo_name(m, tq_batchnorm(m, tq_zoo_name(m, c, "%s%s", p, conv)), "%s%s", p, bn);
  return swish ? act(n, c, TQ_ACT_SWISH, p, swish) : c;
}

/* Keras' imagenet_utils.correct_pad for a k x k stride-2 window (k odd). */
static int correct_pad(net *n, int x, int k, const char *p, const char *name) {
  if (x < 0) return -1;
  tq_shape3 s = tq_model_layer(n->m, x)->out_shape;
  int c = k / 2;
  return tq_zoo_name(n->m, tq_zeropad(n->m, x, c - 1 + s.h % 2, c, c - 1 + s.w % 2, c), "%s%s", p, name);
}

/* Squeeze-excite of the slot x (filters channels) with `reduced` channels in between. */
static int squeeze_excite(net *n, int x, int filters, int reduced, const char *p) {
  tq_model *m = n->m;
  int se = tq_zoo_name(m, tq_gap(m, x), "%sse_squeeze", p);
  se = slot(n, tq_zoo_name(m, tq_reshape(m, se, 1, 1, filters), "%sse_reshape", p));
  se = tq_zoo_name(m, tq_conv2d(m, se, reduced, 1, 1, 1, 1, TQ_PAD_SAME), "%sse_reduce", p);
  se = slot(n, act(n, se, TQ_ACT_SWISH, p, "se_reduce/swish"));
  se = tq_zoo_name(m, tq_conv2d(m, se, filters, 1, 1, 1, 1, TQ_PAD_SAME), "%sse_expand", p);
  se = act(n, se, TQ_ACT_SIGMOID, p, "se_expand/sigmoid");
  return tq_zoo_name(m, tq_multiply(m, x, se), "%sse_excite", p);
}

/* Keras' efficientnet.block (MBConv); x is the slot that quantizes the block's input. */
static int mbconv(net *n, int x, const int *stage, int stride, int filters_in, int b, const char *p) {
  if (x < 0) return -1;
  int k = stage[0], filters_out = stage[3], expand = stage[4], filters = filters_in * expand;
  int y = x;
  if (expand != 1) y = slot(n, conv_bn_swish(n, y, filters, 1, 1, p, "expand_conv", "expand_bn", "expand_activation"));
  if (stride == 2) y = correct_pad(n, y, k, p, "dwconv_pad");
  y = slot(n, conv_bn_swish(n, y, 0, k, stride, p, "dwconv", "bn", "activation"));
  int reduced = filters_in / 4 > 1 ? filters_in / 4 : 1;
  y = slot(n, squeeze_excite(n, y, filters, reduced, p));
  y = conv_bn_swish(n, y, filters_out, 1, 1, p, "project_conv", "project_bn", NULL);
  if (stride != 1 || filters_in != filters_out) return y;
  if (b > 0) y = tq_zoo_name(n->m, tq_dropout_per_sample(n->m, y, DROP_CONNECT * (float)b / BLOCKS), "%sdrop", p);
  return tq_zoo_name(n->m, tq_add(n->m, y, x), "%sadd", p);
}

tq_model *tq_build_efficientnetb0(tq_shape3 input, int classes) {
  net n = {tq_model_new("efficientnetb0", input), 0};
  if (!n.m) return NULL;
  int x = correct_pad(&n, slot(&n, 0), 3, "", "stem_conv_pad");
  x = slot(&n, conv_bn_swish(&n, x, 32, 3, 2, "", "stem_conv", "stem_bn", "stem_activation"));
  int b = 0;
  for (int s = 0; s < 7; s++)
    for (int r = 0; r < stages[s][1]; r++, b++) {
      char p[32]; /* "block7a_": room for any int, as gcc's -Wformat-truncation counts */
      snprintf(p, sizeof p, "block%d%c_", s + 1, 'a' + r);
      x = slot(&n, mbconv(&n, x, stages[s], r ? 1 : stages[s][5], r ? stages[s][3] : stages[s][2], b, p));
    }
  x = slot(&n, conv_bn_swish(&n, x, 1280, 1, 1, "", "top_conv", "top_bn", "top_activation"));
  x = tq_zoo_name(n.m, tq_gap(n.m, x), "avg_pool");
  x = slot(&n, tq_zoo_name(n.m, tq_dropout(n.m, x, 0.2f), "top_dropout"));
  x = slot(&n, tq_zoo_name(n.m, tq_dense(n.m, x, classes), "predictions"));
  return tq_zoo_check(n.m, x);
}
