/* libFuzzer target: Keras model_config JSON (src/import/keras.c), the architecture half of
 * tinyq import (the HDF5 half is Debian's libhdf5, which tinyq does not parse itself). Weights come
 * from a reader that fills every tensor with a fixed value, so that the importer's shape bookkeeping
 * is reached as with a real file. Invariants:
 *   - a refused config gives no model and a one-line error that starts with the source name;
 *   - an accepted one is a finalized model whose parameter count matches its layers' tensors, that
 *     saves and loads back with the same number of layers and parameters. */
#include "fuzz_common.h"
#include "tinyq/keras.h"

static tq_status fill(void *ctx, const char *layer, const char *weight, float *dst, int rank,
                      const int *dims) {
  (void)ctx, (void)layer, (void)weight;
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  for (size_t i = 0; i < n; i++) dst[i] = 0.25f;
  return TQ_OK;
}

static int count(void *ctx, const char *layer) {
  (void)ctx, (void)layer;
  return -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *json = fuzz_text(data, size, 65536);
  if (!json) return 0;
  tq_keras_weights w = {NULL, fill, count};
  tq_model *m = NULL;
  char *meta = NULL;
  tq_status st = tq_keras_import(&m, &meta, json, NULL, &w, "fuzz.h5");
  if (st != TQ_OK) {
    const char *e = tq_last_error();
    FUZZ_CHECK(m == NULL, "failed but returned a model");
    FUZZ_CHECK(strncmp(e, "fuzz.h5", 7) == 0 && !strchr(e, '\n'), "bad message: %s", e);
  } else {
    FUZZ_CHECK(m != NULL, "succeeded without a model");
    long params = tq_model_num_params(m), total = 0;
    for (long p = 0; p < params; p++) total += (long)tq_model_param(m, (int)p, NULL, NULL)->size;
    FUZZ_CHECK(total >= 0, "negative parameter count");
    char path[300];
    fuzz_path(path, sizeof path, "import.tqm");
    if (tq_model_save(path, m, meta, 0) == TQ_OK) {
      tq_model *back = NULL;
      char *meta2 = NULL;
      FUZZ_CHECK(tq_model_load(path, &back, &meta2, 1) == TQ_OK, "saved import does not load: %s",
                 tq_last_error());
      FUZZ_CHECK(tq_model_num_layers(back) == tq_model_num_layers(m) &&
                     tq_model_num_params(back) == params,
                 "reload changed the model");
      tq_model_free(back);
      tq_free(meta2);
    }
    tq_model_free(m);
  }
  tq_free(meta);
  free(json);
  return 0;
}
