/* The report's model table: per layer its shape, size, quantizers, bits and weight memory. */
#include <string.h>

#include "report/report_internal.h"
#include "tinyq/cost.h"

static void add_quantizer(cJSON *o, const char *key, const char *bits_key, const tq_quantizer *q) {
  if (q->kind == TQ_Q_NONE) return;
  char buf[256];
  tq_quantizer_format(q, buf, sizeof buf);
  cJSON_AddStringToObject(o, key, buf);
  cJSON_AddNumberToObject(o, bits_key, tq_quantizer_bits(q));
}

/* Bytes of the layer's parameters at their bits: kernel and bias at their quantizers' (32-bit
 * float without one), everything else float; a batch norm folded into its conv/dense is part of
 * that layer's kernel and bias after deployment and counts nothing. */
static double layer_bytes(const tq_layer *l) {
  if (l->type == TQ_L_BATCHNORM && l->bn_folded_into >= 0) return 0;
  double bits = (double)l->kernel.size * tq_quantizer_bits(&l->kernel_q) +
                (double)l->bias.size * tq_quantizer_bits(&l->bias_q);
  bits += 32.0 * (double)(l->gamma.size + l->beta.size + l->moving_mean.size + l->moving_var.size);
  return bits / 8;
}

static cJSON *layer_row(const tq_layer *l) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "class", tq_layer_type_name(l->type));
  int shape[3] = {l->out_shape.h, l->out_shape.w, l->out_shape.c};
  cJSON_AddItemToObject(o, "out", cJSON_CreateIntArray(shape, 3));
  cJSON_AddNumberToObject(o, "params", (double)tq_layer_params(l));
  cJSON_AddNumberToObject(o, "macs", (double)tq_layer_macs(l));
  add_quantizer(o, "kernel_q", "kernel_bits", &l->kernel_q);
  add_quantizer(o, "bias_q", "bias_bits", &l->bias_q);
  add_quantizer(o, "act_q", "act_bits", &l->act_q);
  cJSON_AddNumberToObject(o, "bytes", layer_bytes(l));
  return o;
}

cJSON *tq_report_model_table(const tq_model *m, const char *file) {
  cJSON *o = cJSON_CreateObject(), *layers = cJSON_CreateArray();
  cJSON_AddStringToObject(o, "file", file);
  cJSON_AddStringToObject(o, "arch", tq_model_arch(m));
  cJSON_AddNumberToObject(o, "params", (double)tq_model_params(m));
  cJSON_AddNumberToObject(o, "macs", (double)tq_model_macs(m));
  double bytes = 0;
  for (int i = 0; i < tq_model_num_layers(m); i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    bytes += layer_bytes(l);
    cJSON_AddItemToArray(layers, layer_row(l));
  }
  cJSON_AddNumberToObject(o, "bytes", bytes);
  /* AutoQKeras' size (SPEC §5) against the study's 16-bit reference, as tinyq stats prints it. */
  tq_goal g;
  tq_goal_defaults(&g);
  tq_size_stats s;
  tq_size_stats_compute(m, &g, &s);
  cJSON_AddNumberToObject(o, "trial_bits", s.trial);
  cJSON_AddNumberToObject(o, "reference_bits", s.reference);
  cJSON_AddItemToObject(o, "layers", layers);
  return o;
}
