/* Per-layer configurations: the study's files apply as they are; every mistake is an error
 * quoting the entry; flat presets, alpha override, BN folding, and the SPEC §5 cost model. */
#include <string.h>

#include "tinyq/cost.h"
#include "tinyq/qconfig.h"
#include "tinyq/zoo.h"
#include "tq_test.h"

static tq_model *model(const char *name) {
  tq_model *m = NULL;
  CHECK(tq_zoo_build(&m, name, NULL) == TQ_OK);
  CHECK(tq_model_finalize(m, 4, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
  return m;
}

static const tq_layer *layer(tq_model *m, const char *name) {
  int i = tq_model_find(m, name);
  CHECK(i >= 0);
  return tq_model_layer(m, i < 0 ? 0 : i);
}

static void expect_error(const char *model_name, const char *json, const char *needle) {
  tq_model *m = model(model_name);
  tq_status st = tq_qconfig_apply_json(m, json, "cfg.json");
  CHECK(st != TQ_OK);
  if (!strstr(tq_last_error(), needle) || !strstr(tq_last_error(), "cfg.json"))
    fprintf(stderr, "error '%s' lacks '%s'\n", tq_last_error(), needle);
  CHECK(strstr(tq_last_error(), needle) != NULL);
  tq_model_free(m);
}

int main(void) {
  char path[1024];
  const char *src = getenv("TQ_SRC");
  /* The study's DS-CNN configuration. */
  tq_model *m = model("dscnn");
  snprintf(path, sizeof path, "%s/examples/dscnn_mpq_study.json", src ? src : "..");
  CHECK(tq_qconfig_apply_file(m, path) == TQ_OK);
  const tq_layer *c1 = layer(m, "conv2d_1");
  CHECK_EQ_INT(tq_quantizer_bits(&c1->kernel_q), 4);
  CHECK_EQ_INT(tq_quantizer_bits(&c1->bias_q), 31);
  CHECK(c1->folded_bn >= 0);
  CHECK(layer(m, "batch_normalization_2")->bn_folded_into == tq_model_find(m, "conv2d_1"));
  CHECK_EQ_INT(tq_quantizer_bits(&layer(m, "activation_3")->act_q), 4);
  CHECK(layer(m, "activation_11")->act_q.kind == TQ_Q_BITS_FEATUREMAP);
  /* SPEC §5 cost, by hand: input 490 values at 8 bits; slots; kernels and biases. */
  tq_goal g;
  tq_goal_defaults(&g);
  tq_size_stats s;
  tq_size_stats_compute(m, &g, &s);
  double a_ref = 8 * 490 + 16 * (490 + 8 * 8000 + 8000 + 64 + 12);
  CHECK_NEAR(s.a_ref, a_ref, 0.5);
  double p_ref = 16 * (40 * 64 + 4 * (9 * 64 + 64 * 64) + 64 * 12) + 31 * (64 + 4 * (64 + 64) + 12);
  CHECK_NEAR(s.p_ref, p_ref, 0.5);
  CHECK(s.trial < s.reference);
  CHECK_NEAR(s.delta, 0.05 * log(s.reference / s.trial) / log(2.0), 1e-12);
  CHECK_NEAR(tq_forgiving_score(0.9, &s), 0.9 * (1 + s.delta), 1e-12);
  tq_model_free(m);

  /* The FC-AutoEncoder's. */
  m = model("fc_autoencoder");
  snprintf(path, sizeof path, "%s/examples/fc_autoencoder_mpq_study.json", src ? src : "..");
  CHECK(tq_qconfig_apply_file(m, path) == TQ_OK);
  CHECK(layer(m, "dense_9")->kernel_q.kind == TQ_Q_BITS);
  CHECK(layer(m, "activation_10")->act_q.kind == TQ_Q_BITS_FEATUREMAP);
  /* --alpha auto_po2 turns every alpha into auto_po2. */
  CHECK(tq_qconfig_override_alpha(m, "auto_po2") == TQ_OK);
  CHECK(layer(m, "dense_3")->kernel_q.alpha_mode == TQ_ALPHA_AUTO_PO2);
  CHECK(layer(m, "activation_4")->act_q.alpha_mode == TQ_ALPHA_AUTO_PO2);
  char *json = tq_qconfig_to_json(m);
  CHECK(json && strstr(json, "auto_po2"));
  /* The printed configuration applies again and gives the same quantizers. */
  tq_model *m2 = model("fc_autoencoder");
  CHECK(tq_qconfig_apply_json(m2, json, "roundtrip") == TQ_OK);
  for (int i = 0; i < tq_model_num_layers(m); i++) {
    const tq_layer *a = tq_model_layer(m, i), *b = tq_model_layer(m2, i);
    CHECK(tq_quantizer_equal(&a->kernel_q, &b->kernel_q));
    CHECK(tq_quantizer_equal(&a->bias_q, &b->bias_q));
    CHECK(tq_quantizer_equal(&a->act_q, &b->act_q));
  }
  free(json);
  tq_model_free(m2);
  tq_model_free(m);

  /* Class keys, name keys win; kernel alpha None trains as auto_po2. */
  m = model("resnet8");
  CHECK(tq_qconfig_apply_json(m,
                              "{\"Conv2D\": {\"kernel_quantizer\": \"quantized_bits(4,0,1)\"},"
                              " \"conv2d_3\": {\"kernel_quantizer\": \"quantized_bits(8,0,1)\"},"
                              " \"Activation\": \"quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)\"}",
                              "cfg.json") == TQ_OK);
  CHECK_EQ_INT(tq_quantizer_bits(&layer(m, "conv2d_2")->kernel_q), 4);
  CHECK_EQ_INT(tq_quantizer_bits(&layer(m, "conv2d_3")->kernel_q), 8);
  CHECK(layer(m, "conv2d_2")->kernel_q.alpha_mode == TQ_ALPHA_AUTO_PO2);
  CHECK(layer(m, "dense")->kernel_q.kind == TQ_Q_NONE);
  CHECK_EQ_INT(tq_quantizer_bits(&layer(m, "activation_9")->act_q), 8);
  /* The shortcut conv feeds an Add directly: nothing to fold. */
  CHECK(layer(m, "conv2d_5")->folded_bn < 0);
  CHECK(layer(m, "conv2d_4")->folded_bn >= 0);
  tq_model_free(m);

  /* Flat presets */
  m = model("dscnn");
  CHECK(tq_qconfig_apply_flat(m, 4, "auto_po2") == TQ_OK);
  CHECK_EQ_INT(tq_quantizer_bits(&layer(m, "dense")->kernel_q), 4);
  CHECK_EQ_INT(tq_quantizer_bits(&layer(m, "dense")->bias_q), 31);
  CHECK_EQ_INT(tq_quantizer_bits(&layer(m, "activation_5")->act_q), 4);
  CHECK(layer(m, "activation_5")->act_q.alpha_mode == TQ_ALPHA_AUTO_PO2);
  tq_model_free(m);
  m = model("dscnn");
  CHECK(tq_qconfig_apply_flat(m, 8, "bogus") == TQ_ERR_ARG);
  CHECK(strstr(tq_last_error(), "bogus") != NULL);
  tq_model_free(m);

  /* Every mistake is an error naming the entry. */
  expect_error("dscnn", "{\"conv2d_99\": {\"kernel_quantizer\": \"quantized_bits(4)\"}}",
               "no layer \"conv2d_99\"");
  expect_error("dscnn", "{\"conv2d_99\": {}}", "depthwise_conv2d_3"); /* lists the names */
  expect_error("dscnn", "{\"re_lu\": {\"kernel_quantizer\": \"quantized_bits(4)\"}}",
               "has no kernel");
  expect_error("dscnn", "{\"conv2d\": {\"kernel_quantizer\": \"quantized_bitz(4)\"}}",
               "quantized_bitz");
  expect_error("dscnn", "{\"conv2d\": {\"kernal_quantizer\": \"quantized_bits(4)\"}}",
               "unknown field \"kernal_quantizer\"");
  expect_error("dscnn", "{\"conv2d\": \"quantized_bits(4)\"}", "expected {");
  expect_error("dscnn", "{\"activation_3\": {\"kernel_quantizer\": \"quantized_bits(4)\"}}",
               "activation slot");
  expect_error("dscnn", "{\"conv2d\": {\"kernel_quantizer\": 4}}", "expected a quantizer string");
  expect_error("dscnn", "{\"conv2d\": {\"kernel_quantizer\": \"quantized_bits(4,", "not valid JSON");
  expect_error("dscnn", "[1,2]", "expected a JSON object");
  expect_error("dscnn",
               "{\"conv2d\": {\"kernel_quantizer\": "
               "\"quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)\"}}",
               "activation quantizer");
  TEST_MAIN_END();
}
