/* libFuzzer target: --quant JSON configurations (src/nn/qconfig.c) applied to DS-CNN, the model
 * examples/dscnn_mpq_study.json configures. Invariants:
 *   - a rejected configuration gives a one-line error that starts with the source name;
 *   - an accepted one, written back out by tq_qconfig_to_json and applied to a fresh model, gives
 *     the same quantizers and the same batch-norm folding on every layer. */
#include "fuzz_common.h"
#include "tinyq/qconfig.h"
#include "tinyq/zoo.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  return 0;
}

/* max_batch 0: no activation buffers, only what the configuration touches. */
static tq_model *fresh_model(void) {
  tq_model *m = NULL;
  if (tq_zoo_build(&m, "dscnn", NULL) || tq_model_finalize(m, 0, tq_zoo_find("dscnn")->init, 1)) {
    fprintf(stderr, "fuzz: cannot build dscnn: %s\n", tq_last_error());
    abort();
  }
  return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *json = fuzz_text(data, size, 16384);
  if (!json) return 0;
  tq_model *m = fresh_model();
  tq_status st = tq_qconfig_apply_json(m, json, "fuzz.json");
  if (st != TQ_OK) {
    FUZZ_CHECK(strncmp(tq_last_error(), "fuzz.json: ", 11) == 0, "message without source: %s",
               tq_last_error());
    FUZZ_CHECK(!strchr(tq_last_error(), '\n'), "message of several lines: %s", tq_last_error());
    tq_model_free(m);
    free(json);
    return 0;
  }
  char *out = tq_qconfig_to_json(m);
  FUZZ_CHECK(out != NULL, "tq_qconfig_to_json failed: %s", tq_last_error());
  tq_model *m2 = fresh_model();
  FUZZ_CHECK(tq_qconfig_apply_json(m2, out, "written.json") == TQ_OK,
             "the written configuration is refused: %s\n%s", tq_last_error(), out);
  FUZZ_CHECK(tq_model_num_layers(m) == tq_model_num_layers(m2), "layer counts differ");
  for (int i = 1; i < tq_model_num_layers(m); i++) {
    const tq_layer *a = tq_model_layer_c(m, i), *b = tq_model_layer_c(m2, i);
    FUZZ_CHECK(tq_quantizer_equal(&a->kernel_q, &b->kernel_q) &&
                   tq_quantizer_equal(&a->bias_q, &b->bias_q) &&
                   tq_quantizer_equal(&a->act_q, &b->act_q),
               "layer %s: quantizers differ after the round trip\n%s", a->name, out);
    FUZZ_CHECK(a->folded_bn == b->folded_bn, "layer %s: folded_bn %d vs %d", a->name, a->folded_bn,
               b->folded_bn);
  }
  free(out);
  tq_model_free(m2);
  tq_model_free(m);
  free(json);
  return 0;
}
