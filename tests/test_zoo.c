/* The zoo pins SPEC §2: parameter and MAC totals at the reference inputs, Keras layer names and
 * the activation-quantizer slots the study's configurations refer to. */
#include <string.h>

#include "tinyq/zoo.h"
#include "tq_test.h"

static tq_model *build_width(const char *name, tq_shape3 in, int classes, float width) {
  tq_model *m = NULL;
  tq_zoo_options o = {in, classes};
  CHECK(tq_zoo_build_width(&m, name, &o, width) == TQ_OK);
  CHECK(m && tq_model_finalize(m, 2, TQ_INIT_HE_NORMAL, 1) == TQ_OK);
  return m;
}

static tq_model *build(const char *name, tq_shape3 in, int classes) { return build_width(name, in, classes, 0); }

static tq_layer *layer(tq_model *m, const char *name) {
  int i = tq_model_find(m, name);
  CHECK(i > 0);
  return tq_model_layer(m, i < 0 ? 0 : i);
}

static int count_type(tq_model *m, tq_layer_type t) {
  int n = 0;
  for (int i = 0; i < tq_model_num_layers(m); i++) n += tq_model_layer(m, i)->type == t;
  return n;
}

static void check_slots(tq_model *m, int expected) {
  int slots = 0;
  for (int i = 0; i < tq_model_num_layers(m); i++) {
    tq_layer *l = tq_model_layer(m, i);
    if (l->type != TQ_L_ACTIVATION) continue;
    char want[32];
    if (slots == 0) snprintf(want, sizeof want, "activation");
    else snprintf(want, sizeof want, "activation_%d", slots);
    CHECK(strcmp(l->name, want) == 0);
    slots++;
  }
  CHECK_EQ_INT(slots, expected);
}

int main(void) {
  tq_model *m = build("resnet8", (tq_shape3){32, 32, 3}, 10);
  CHECK_EQ_INT(tq_model_params(m), 78666);
  CHECK_EQ_INT(tq_model_macs(m), 12501632);
  CHECK_EQ_INT(count_type(m, TQ_L_CONV2D), 9);
  CHECK(tq_model_find(m, "conv2d_8") > 0);
  CHECK(tq_model_find(m, "add_2") > 0);
  CHECK(tq_model_find(m, "batch_normalization_6") > 0);
  CHECK(tq_model_find(m, "re_lu_6") > 0);
  CHECK_EQ_INT(tq_model_output_shape(m).c, 10);
  /* The stage-2 shortcut (1x1, stride 2) is created after the main path's two convolutions. */
  int sc = tq_model_find(m, "conv2d_5");
  CHECK(sc > 0 && tq_model_layer(m, sc)->kh == 1 && tq_model_layer(m, sc)->sh == 2);
  check_slots(m, 10);
  tq_model_free(m);

  /* ResNet-8 takes its input shape from the data: 28x28x1 for Fashion-MNIST. */
  m = build("resnet8", (tq_shape3){28, 28, 1}, 10);
  CHECK_EQ_INT(tq_model_params(m), 78666 - 16 * 3 * 9 + 16 * 1 * 9);
  tq_layer *pool = tq_model_layer(m, tq_model_find(m, "average_pooling2d"));
  CHECK_EQ_INT(pool->in_shape.h, 7);
  CHECK_EQ_INT(pool->out_shape.h, 1);
  tq_model_free(m);

  m = build("dscnn", (tq_shape3){49, 10, 1}, 12);
  CHECK_EQ_INT(tq_model_params(m), 24908);
  CHECK_EQ_INT(tq_model_macs(m), 2656768);
  check_slots(m, 12);
  tq_layer *c0 = tq_model_layer(m, tq_model_find(m, "conv2d"));
  CHECK_EQ_INT(c0->out_shape.h, 25);
  CHECK_EQ_INT(c0->out_shape.w, 5);
  CHECK_EQ_INT(c0->geom.pad_top, 4);
  CHECK_EQ_INT(c0->geom.pad_left, 1);
  /* Slot order as in examples/dscnn_mpq_study.json. */
  CHECK(tq_model_find(m, "activation_1") < tq_model_find(m, "depthwise_conv2d"));
  CHECK(tq_model_find(m, "activation_2") < tq_model_find(m, "conv2d_1"));
  CHECK(tq_model_find(m, "activation_9") < tq_model_find(m, "average_pooling2d"));
  CHECK(tq_model_find(m, "activation_10") < tq_model_find(m, "dense"));
  CHECK(tq_model_find(m, "activation_11") == tq_model_num_layers(m) - 1);
  tq_model_free(m);

  m = build("fc_autoencoder", (tq_shape3){1, 1, 640}, 0);
  CHECK_EQ_INT(tq_model_params(m), 269992);
  CHECK_EQ_INT(tq_model_macs(m), 264192);
  size_t dense_params = 0;
  for (int i = 0; i < tq_model_num_layers(m); i++)
    if (tq_model_layer(m, i)->type == TQ_L_DENSE) dense_params += tq_layer_params(tq_model_layer(m, i));
  CHECK_EQ_INT(dense_params, 265864);
  check_slots(m, 11);
  CHECK(tq_model_find(m, "dense_9") > 0);
  CHECK_EQ_INT(tq_model_output_shape(m).c, 640);
  tq_model_free(m);

  /* MobileNetV1 0.25 of MLPerf Tiny VWW: the names of the Keras reference (its weights load by
   * name from tinyq import vww_96.h5), a slot before every conv, the pool and the dense, and after
   * the dense. */
  m = build("mobilenetv1", (tq_shape3){96, 96, 3}, 2);
  CHECK_EQ_INT(tq_model_params(m), 221794);
  CHECK_EQ_INT(tq_model_macs(m), 7489664);
  CHECK_EQ_INT(count_type(m, TQ_L_DEPTHWISE), 13);
  CHECK_EQ_INT(count_type(m, TQ_L_CONV2D), 14);
  check_slots(m, 30);
  CHECK(tq_model_find(m, "depthwise_conv2d_12") > 0);
  CHECK(tq_model_find(m, "batch_normalization_26") > 0);
  CHECK(tq_model_find(m, "re_lu_26") > 0);
  CHECK_EQ_INT(tq_model_layer(m, tq_model_find(m, "conv2d_13"))->out_shape.c, 256);
  CHECK_EQ_INT(tq_model_layer(m, tq_model_find(m, "conv2d_13"))->out_shape.h, 3);
  CHECK_EQ_INT(tq_model_layer(m, tq_model_find(m, "average_pooling2d"))->kh, 3);
  CHECK(tq_model_find(m, "activation_28") < tq_model_find(m, "dense"));
  CHECK(tq_model_find(m, "activation_29") == tq_model_num_layers(m) - 1);
  tq_model_free(m);

  /* MobileNetV2 as Keras applications builds it: the parameters of tf.keras.applications.
   * MobileNetV2((96, 96, 3), alpha, classes=2, weights=None) (its no-top totals + 1280 * 2 + 2;
   * SPEC §2 pins 0.35 and 1.0), MACs 10.66 M and 55.0 M as SPEC §2, the first conv 32 * alpha
   * rounded to 8, the last 1280 for every alpha <= 1. */
  static const struct {
    float width;
    int params, macs, first, last_project;
  } v2[] = {{0.35f, 412770, 10656688, 16, 112}, {0.5f, 708786, 17608000, 16, 160},
            {0.75f, 1384626, 38168032, 24, 240}, {1.0f, 2260546, 55011712, 32, 320}};
  for (int i = 0; i < 4; i++) {
    m = build_width("mobilenetv2", (tq_shape3){96, 96, 3}, 2, v2[i].width);
    CHECK_EQ_INT(tq_model_params(m), v2[i].params);
    CHECK_EQ_INT(tq_model_macs(m), v2[i].macs);
    CHECK_EQ_INT(layer(m, "Conv1")->out_shape.c, v2[i].first);
    CHECK_EQ_INT(layer(m, "block_16_project")->out_shape.c, v2[i].last_project);
    CHECK_EQ_INT(layer(m, "Conv_1")->out_shape.c, 1280);
    tq_model_free(m);
  }
  m = build("mobilenetv2", (tq_shape3){96, 96, 3}, 2); /* the default width: 1.0 */
  CHECK_EQ_INT(tq_model_params(m), 2260546);
  check_slots(m, 55);
  CHECK_EQ_INT(count_type(m, TQ_L_ADD), 10);
  CHECK_EQ_INT(count_type(m, TQ_L_ZEROPAD), 4);
  CHECK(!layer(m, "Conv1")->use_bias && !layer(m, "block_16_project")->use_bias);
  CHECK(layer(m, "predictions")->use_bias);
  CHECK(layer(m, "bn_Conv1")->bn_momentum == 0.999f && layer(m, "Conv_1_bn")->bn_momentum == 0.999f);
  CHECK(layer(m, "out_relu")->relu_max == 6.0f && layer(m, "block_5_depthwise_relu")->relu_max == 6.0f);
  CHECK(tq_model_find(m, "block_1_add") < 0 && tq_model_find(m, "block_13_add") < 0);
  /* Stride 2: ZeroPadding2D ((0, 1), (0, 1)) on the even side, then a valid 3x3 window. */
  tq_layer *pad = layer(m, "block_1_pad"), *dw = layer(m, "block_1_depthwise");
  CHECK(pad->pad[0] == 0 && pad->pad[1] == 1 && pad->pad[2] == 0 && pad->pad[3] == 1);
  CHECK(dw->padding == TQ_PAD_VALID && dw->sh == 2 && dw->out_shape.h == 24);
  CHECK(layer(m, "block_13_pad")->in_shape.h == 6 && layer(m, "block_13_depthwise")->out_shape.h == 3);
  /* The add reads the slot that quantizes the block's input (as the block's expand conv does). */
  tq_layer *add = layer(m, "block_2_add");
  CHECK(add->inputs[0] == layer(m, "block_2_expand")->inputs[0]);
  CHECK(add->inputs[1] == tq_model_find(m, "block_2_project_BN"));
  CHECK(tq_model_find(m, "activation_53") == tq_model_find(m, "predictions") - 1);
  CHECK(tq_model_find(m, "activation_54") == tq_model_num_layers(m) - 1);
  tq_model_free(m);
  tq_model *w = NULL;
  CHECK(tq_zoo_build_width(&w, "mobilenetv2", NULL, 0.4f) == TQ_ERR_ARG && !w);
  CHECK(strstr(tq_last_error(), "0.35, 0.5, 0.75, 1.0") != NULL);
  CHECK(tq_zoo_build_width(&w, "resnet8", NULL, 0.5f) == TQ_ERR_ARG && !w);
  CHECK(strstr(tq_zoo_find("mobilenetv2")->widths, "0.35") && !tq_zoo_find("resnet8")->widths);

  /* EfficientNet-B0 as Keras applications builds it, without its Rescaling and Normalization input
   * layers: Keras' model.summary() counts 4,052,133 = these 4,052,126 + the Normalization layer's
   * 7 non-trainable values (mean and variance of 3 channels, and the count). */
  m = build("efficientnetb0", (tq_shape3){96, 96, 3}, 2);
  CHECK_EQ_INT(tq_model_params(m), 4052133 - 7);
  CHECK_EQ_INT(tq_model_macs(m), 71143392);
  CHECK_EQ_INT(count_type(m, TQ_L_MULTIPLY), 16);
  CHECK_EQ_INT(count_type(m, TQ_L_ADD), 9);
  CHECK_EQ_INT(count_type(m, TQ_L_ZEROPAD), 5); /* stem + 4 stride-2 stages */
  CHECK(layer(m, "stem_activation")->act == TQ_ACT_SWISH);
  CHECK(layer(m, "block1a_se_expand/sigmoid")->act == TQ_ACT_SIGMOID);
  CHECK_EQ_INT(layer(m, "block1a_se_reduce")->out_shape.c, 8);
  CHECK_EQ_INT(layer(m, "block6d_se_reduce")->out_shape.c, 48);
  CHECK_EQ_INT(layer(m, "block7a_project_conv")->out_shape.c, 320);
  CHECK(!layer(m, "stem_conv")->use_bias && layer(m, "block1a_se_reduce")->use_bias);
  pad = layer(m, "block3a_dwconv_pad"); /* 5x5 stride 2 on 24x24: ((1, 2), (1, 2)) */
  CHECK(pad->pad[0] == 1 && pad->pad[1] == 2 && pad->pad[2] == 1 && pad->pad[3] == 2);
  CHECK_EQ_INT(layer(m, "block3a_dwconv")->out_shape.h, 12);
  /* drop-connect: 0.2 * block / 16 before each residual add, one draw per sample */
  CHECK(tq_model_find(m, "block1a_drop") < 0 && tq_model_find(m, "block2a_drop") < 0);
  tq_layer *drop = layer(m, "block2b_drop");
  CHECK(drop->dropout_per_sample && drop->dropout_rate == 0.2f * 2 / 16);
  CHECK(layer(m, "block6d_drop")->dropout_rate == 0.2f * 14 / 16);
  CHECK(!layer(m, "top_dropout")->dropout_per_sample && layer(m, "top_dropout")->dropout_rate == 0.2f);
  add = layer(m, "block2b_add"); /* Keras: add([x, inputs]) */
  CHECK(add->inputs[0] == tq_model_find(m, "block2b_drop"));
  CHECK(add->inputs[1] == layer(m, "block2b_expand_conv")->inputs[0]);
  tq_layer *excite = layer(m, "block1a_se_excite");
  CHECK(excite->inputs[0] == layer(m, "block1a_se_squeeze")->inputs[0]);
  CHECK(excite->inputs[1] == tq_model_find(m, "block1a_se_expand/sigmoid"));
  /* the slots: named in creation order, the swish/sigmoid layers named after Keras */
  CHECK(tq_model_find(m, "activation") == 1 && tq_model_find(m, "activation_99") == tq_model_num_layers(m) - 1);
  CHECK(tq_model_find(m, "activation_100") < 0);
  tq_model_free(m);

  /* Unknown names are errors that list the known ones. */
  tq_model *bad = NULL;
  CHECK(tq_zoo_build(&bad, "resnet9", NULL) == TQ_ERR_ARG);
  CHECK(strstr(tq_last_error(), "resnet8") != NULL);
  CHECK(bad == NULL);
  TEST_MAIN_END();
}
