/* FC-AutoEncoder of MLPerf Tiny (anomaly detection): 640 -> 4x128 -> 8 -> 4x128 -> 640, each
 * hidden Dense followed by BN and ReLU; activation-quantizer slots before every Dense and after
 * the last (11 slots, SPEC §2). */
#include "models/zoo_internal.h"

tq_model *tq_build_fc_autoencoder(tq_shape3 input, int classes) {
  (void)classes;
  static const int units[9] = {128, 128, 128, 128, 8, 128, 128, 128, 128};
  tq_model *m = tq_model_new("fc_autoencoder", input);
  if (!m) return NULL;
  int x = 0;
  if (input.h != 1 || input.w != 1) x = tq_flatten(m, x);
  for (int i = 0; i < 9; i++) {
    x = tq_activation(m, x, TQ_ACT_LINEAR);
    x = tq_dense(m, x, units[i]);
    x = tq_batchnorm(m, x);
    x = tq_relu(m, x, 0);
  }
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  x = tq_dense(m, x, (int)tq_shape_size(input));
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  return tq_zoo_check(m, x);
}
