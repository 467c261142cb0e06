/* libFuzzer target: model files (src/nn/modelfile.c), through tq_model_load as `tinyq summary`
 * and `eval` call it. The input format (header JSON + payload, lengths and CRC filled in by the
 * harness, or raw bytes) is in modelfile_format.h. Invariants:
 *   - a refused file gives an error that starts with the file's path;
 *   - an accepted model prints its summary and runs a forward pass of one sample, which either
 *     returns an output or fails with a message (the payload's weights may be NaN) (small models:
 *     a header may describe any size, and tinyq's memory limit is set low here, 64 MiB);
 *   - it saves, and the saved file loads and saves again to the same bytes, with every layer's
 *     quantizers and every tensor bit for bit the same. */
#include "fuzz_common.h"
#include "modelfile_format.h"
#include "tinyq/model.h"

#define FORWARD_MAX_MACS 2000000 /* microseconds to a few milliseconds under ASan */

static FILE *devnull;
static char in_path[300], a_path[300], b_path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  /* A header may ask for any input size: a low budget keeps each input fast, and a request over
   * it must be a clean error, which is what the limit is for. */
  setenv("TINYQ_MAX_MEMORY", "64M", 1);
  devnull = fopen("/dev/null", "w");
  if (!devnull) abort();
  fuzz_path(in_path, sizeof in_path, "in.tqm");
  fuzz_path(a_path, sizeof a_path, "a.tqm");
  fuzz_path(b_path, sizeof b_path, "b.tqm");
  return 0;
}

static void same_models(const tq_model *a, const tq_model *b) {
  FUZZ_CHECK(tq_model_num_layers(a) == tq_model_num_layers(b), "layer counts differ");
  for (int i = 1; i < tq_model_num_layers(a); i++) {
    const tq_layer *x = tq_model_layer_c(a, i), *y = tq_model_layer_c(b, i);
    FUZZ_CHECK(x->type == y->type && strcmp(x->name, y->name) == 0, "layer %d: %s vs %s", i,
               x->name, y->name);
    FUZZ_CHECK(tq_quantizer_equal(&x->kernel_q, &y->kernel_q) &&
                   tq_quantizer_equal(&x->bias_q, &y->bias_q) &&
                   tq_quantizer_equal(&x->act_q, &y->act_q),
               "layer %s: quantizers differ after a save and load", x->name);
    FUZZ_CHECK(x->folded_bn == y->folded_bn, "layer %s: folded_bn differs", x->name);
  }
  FUZZ_CHECK(tq_model_num_params(a) == tq_model_num_params(b), "tensor counts differ");
  for (int i = 0; i < tq_model_num_params(a); i++) {
    int la, lb;
    const char *na, *nb;
    tq_param *p = tq_model_param((tq_model *)a, i, &la, &na);
    tq_param *q = tq_model_param((tq_model *)b, i, &lb, &nb);
    FUZZ_CHECK(p->size == q->size && la == lb && strcmp(na, nb) == 0, "tensor %d differs", i);
    FUZZ_CHECK(memcmp(p->value, q->value, p->size * sizeof(float)) == 0,
               "tensor %d (%s): values differ after a save and load", i, na);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 16)) return 0;
  if (size && data[0] == '{') {
    const uint8_t *nul = memchr(data, 0, size);
    size_t jlen = nul ? (size_t)(nul - data) : size;
    size_t plen = nul ? size - jlen - 1 : 0, fsize;
    unsigned char *file = mf_assemble(data, jlen, nul ? nul + 1 : NULL, plen, &fsize);
    if (!file) return 0;
    fuzz_write(in_path, file, fsize);
    free(file);
  } else {
    fuzz_write(in_path, data, size);
  }

  tq_model *m = NULL;
  char *meta = NULL;
  tq_status st = tq_model_load(in_path, &m, &meta, 1);
  if (st != TQ_OK) {
    FUZZ_CHECK(m == NULL, "refused but returned a model");
    FUZZ_CHECK(strncmp(tq_last_error(), in_path, strlen(in_path)) == 0,
               "message without the file: %s", tq_last_error());
    FUZZ_CHECK(!strchr(tq_last_error(), '\n'), "message of several lines: %s", tq_last_error());
    return 0;
  }

  tq_model_summary(m, devnull);
  if (tq_model_macs(m) <= FORWARD_MAX_MACS) {
    tq_shape3 s = tq_model_input_shape(m);
    size_t n = tq_shape_size(s);
    float *x = malloc(n * sizeof *x);
    FUZZ_CHECK(x != NULL, "out of memory for %zu inputs", n);
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    tq_rng r;
    tq_rng_seed(&r, 1);
    tq_clear_error();
    /* Weights come from the payload, NaN included: a forward pass may refuse them, with a reason. */
    const float *y = tq_model_forward(m, x, 1, 0, &r);
    FUZZ_CHECK(y != NULL || strcmp(tq_last_error(), "no error") != 0,
               "forward failed without a message");
    free(x);
  }

  /* A loaded model saves; that file loads to the same model and saves to the same bytes. */
  FUZZ_CHECK(tq_model_save(a_path, m, meta, 1) == TQ_OK, "save: %s", tq_last_error());
  tq_model *m2 = NULL;
  char *meta2 = NULL;
  FUZZ_CHECK(tq_model_load(a_path, &m2, &meta2, 1) == TQ_OK, "reload: %s", tq_last_error());
  same_models(m, m2);
  FUZZ_CHECK(tq_model_save(b_path, m2, meta2, 1) == TQ_OK, "second save: %s", tq_last_error());
  unsigned char *fa, *fb;
  size_t sa, sb;
  FUZZ_CHECK(tq_read_file(a_path, &fa, &sa) == TQ_OK && tq_read_file(b_path, &fb, &sb) == TQ_OK,
             "read back: %s", tq_last_error());
  FUZZ_CHECK(sa == sb && memcmp(fa, fb, sa) == 0, "saving the reloaded model gives other bytes");
  free(fa);
  free(fb);
  tq_free(meta2);
  tq_model_free(m2);
  tq_free(meta);
  tq_model_free(m);
  return 0;
}
