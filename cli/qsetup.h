/* Quantization options shared by train, summary and stats. */
#ifndef TINYQ_CLI_QSETUP_H
#define TINYQ_CLI_QSETUP_H
#include "tinyq/qconfig.h"

static inline tq_status tq_qsetup_init_from(tq_model *m, const char *path) {
  return tq_qconfig_init_from(m, path);
}

/* --quant CONFIG or --flat BITS, then --alpha. */
static inline tq_status tq_qsetup_apply(tq_model *m, const char *quant, int flat,
                                        const char *alpha) {
  tq_status st = TQ_OK;
  if (quant) st = tq_qconfig_apply_file(m, quant);
  else if (flat) return tq_qconfig_apply_flat(m, flat, alpha);
  if (!st && alpha) {
    if (!quant) return tq_fail(TQ_ERR_ARG, "--alpha needs --quant or --flat");
    st = tq_qconfig_override_alpha(m, alpha);
  }
  return st;
}
#endif
