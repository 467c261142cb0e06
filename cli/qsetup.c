#include "qsetup.h"

#include "cli.h"

tq_status tq_qsetup_apply(tq_model *m, const char *quant, int flat, const char *alpha) {
  tq_status st = TQ_OK;
  if (quant) st = tq_qconfig_apply_file(m, quant);
  else if (flat) return tq_qconfig_apply_flat(m, flat, alpha);
  if (!st && alpha) {
    if (!quant) return tq_fail(TQ_ERR_ARG, "--alpha needs --quant or --flat");
    st = tq_qconfig_override_alpha(m, alpha);
  }
  return st;
}

int tq_qsetup_model(tq_model **m, const char *cmd, const char *file, const tq_model_opts *o, int batch) {
  *m = NULL;
  if (file) return tq_model_load(file, m, NULL, batch) ? tq_cli_error("%s", tq_last_error()) : 0;
  if (!o->model[0]) return tq_cli_usage_error("%s: give --model NAME or a MODEL_FILE", cmd);
  tq_zoo_options zo = {o->input, o->classes};
  tq_status st = tq_zoo_build_width(m, o->model, &zo, (float)o->width);
  if (!st) st = tq_model_finalize(*m, batch, tq_zoo_find(o->model)->init, 1);
  if (!st) st = tq_qsetup_apply(*m, o->quant[0] ? o->quant : NULL, o->flat, o->alpha[0] ? o->alpha : NULL);
  if (!st) return 0;
  tq_model_free(*m);
  *m = NULL;
  return tq_cli_error("%s", tq_last_error());
}
