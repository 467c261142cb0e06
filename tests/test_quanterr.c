/* tq_quanterr on a model whose quantization error is known by hand. */
#include <string.h>

#include "tinyq/report.h"
#include "tq_test.h"

/* quantized_bits(4,0,1,alpha=1): step 1/8, codes -7..7 (range ±0.875). On {0.5, 0.25, 0.3, 1.0}
 * it gives {0.5, 0.25, 0.25, 0.875}: errors 0, 0, 0.05 and 0.125 (clipped: more than half a step),
 * so SQNR = 10 log10(1.4025 / 0.018125) = 18.8863 dB and a quarter of the values clip. */
static const float VALUES[4] = {0.5f, 0.25f, 0.3f, 1.0f};
static const double SIGNAL = 0.25 + 0.0625 + 0.09 + 1.0, NOISE = 0.0025 + 0.015625;

static void check_known(const tq_qerr_row *r, size_t values) {
  CHECK_NEAR(r->sqnr_db, 10 * log10(SIGNAL / NOISE), 1e-4);
  CHECK_NEAR(r->sqnr_min_db, r->sqnr_db, 1e-4);
  CHECK_NEAR(r->clip_fraction, 0.25, 1e-12);
  CHECK_NEAR(r->step_min, 0.125, 0);
  CHECK_NEAR(r->step_max, 0.125, 0);
  CHECK_EQ_INT(r->values, values);
  CHECK_EQ_INT(r->bits, 4);
}

int main(void) {
  tq_model *m = tq_model_new("qerr", (tq_shape3){1, 1, 4});
  int slot = tq_activation(m, 0, TQ_ACT_LINEAR);
  int dense = tq_dense(m, slot, 1);
  CHECK(tq_model_finalize(m, 2, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1,alpha=1)") == TQ_OK);
  CHECK(tq_layer_set_quantizers(m, dense, &q, NULL) == TQ_OK);
  CHECK(tq_layer_set_act_quantizer(m, slot, &q) == TQ_OK);
  memcpy(tq_model_layer(m, dense)->kernel.value, VALUES, sizeof VALUES); /* Dense IO: 4 x 1 */

  /* kernels only */
  tq_qerr_row *rows = NULL;
  int n = 0;
  CHECK(tq_quanterr(m, NULL, 0, &rows, &n) == TQ_OK);
  CHECK_EQ_INT(n, 1);
  if (n == 1) {
    CHECK(!strcmp(rows[0].layer, "dense") && !rows[0].activation);
    CHECK_EQ_INT(rows[0].groups, 1);
    check_known(&rows[0], 4);
  }
  tq_free(rows);

  /* the activation slot on 3 samples (the model runs batches of 2), each the same four values */
  float x[12];
  for (int s = 0; s < 3; s++) memcpy(x + 4 * s, VALUES, sizeof VALUES);
  CHECK(tq_quanterr(m, x, 3, &rows, &n) == TQ_OK);
  CHECK_EQ_INT(n, 2);
  if (n == 2) {
    CHECK(!strcmp(rows[0].layer, "activation") && rows[0].activation); /* layer order */
    check_known(&rows[0], 12);
    CHECK(!strcmp(rows[1].layer, "dense") && !rows[1].activation);
  }
  tq_free(rows);

  /* per-channel groups: a second output channel that quantizes exactly is a group of its own */
  tq_model *m2 = tq_model_new("qerr2", (tq_shape3){1, 1, 4});
  int d2 = tq_dense(m2, 0, 2);
  CHECK(tq_model_finalize(m2, 1, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
  CHECK(tq_layer_set_quantizers(m2, d2, &q, NULL) == TQ_OK);
  float *k = tq_model_layer(m2, d2)->kernel.value; /* (4, 2): channel = index % 2 */
  for (int i = 0; i < 4; i++) {
    k[2 * i] = VALUES[i];
    k[2 * i + 1] = 0.125f * (float)(i + 1);
  }
  CHECK(tq_quanterr(m2, NULL, 0, &rows, &n) == TQ_OK);
  if (n == 1) {
    /* fixed quantized_bits has one step for the tensor: one group; the exact channel adds signal */
    CHECK_EQ_INT(rows[0].groups, 1);
    CHECK_NEAR(rows[0].sqnr_db, 10 * log10((SIGNAL + 0.015625 * 30) / NOISE), 1e-4);
    CHECK_NEAR(rows[0].clip_fraction, 0.125, 1e-12);
  }
  tq_free(rows);
  /* 'auto' scales are per output channel: two groups */
  tq_quantizer qa;
  CHECK(tq_quantizer_parse(&qa, "quantized_bits(4,0,1,alpha='auto')") == TQ_OK);
  CHECK(tq_layer_set_quantizers(m2, d2, &qa, NULL) == TQ_OK);
  CHECK(tq_quanterr(m2, NULL, 0, &rows, &n) == TQ_OK);
  if (n == 1) {
    CHECK_EQ_INT(rows[0].groups, 2);
    CHECK(rows[0].sqnr_min_db <= rows[0].sqnr_median_db && rows[0].step_min < rows[0].step_max);
  }
  tq_free(rows);
  tq_model_free(m2);
  tq_model_free(m);
  TEST_MAIN_END();
}
