/* Per-layer quantization configurations (see tinyq/qconfig.h). */
#include "tinyq/qconfig.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void list_names(const tq_model *m, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 1; i < tq_model_num_layers(m) && o + 1 < n; i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (!tq_layer_has_kernel(l) && !tq_layer_has_act_quantizer(l)) continue;
    o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", l->name);
  }
}

static tq_status parse_q(tq_quantizer *q, const cJSON *v, const char *source, const char *key,
                         const char *field) {
  if (cJSON_IsNull(v)) {
    memset(q, 0, sizeof *q);
    return TQ_OK;
  }
  if (!cJSON_IsString(v))
    return tq_fail(TQ_ERR_FORMAT, "%s: \"%s\"%s%s: expected a quantizer string", source, key,
                   field ? "." : "", field ? field : "");
  if (tq_quantizer_parse(q, v->valuestring))
    return tq_fail_prefix(TQ_ERR_FORMAT, "%s: \"%s\"%s%s", source, key, field ? "." : "",
                          field ? field : "");
  return TQ_OK;
}

/* Applies one configuration value to layer i. */
static tq_status apply_value(tq_model *m, int i, const cJSON *v, const char *source,
                             const char *key) {
  tq_layer *l = tq_model_layer(m, i);
  if (tq_layer_has_act_quantizer(l)) {
    tq_quantizer q;
    if (cJSON_IsObject(v))
      return tq_fail(TQ_ERR_FORMAT,
                     "%s: \"%s\": %s is an activation slot: give one quantizer string, not "
                     "kernel/bias quantizers",
                     source, key, l->name);
    tq_status st = parse_q(&q, v, source, key, NULL);
    return st ? st : tq_layer_set_act_quantizer(m, i, &q);
  }
  if (!tq_layer_has_kernel(l))
    return tq_fail(TQ_ERR_ARG, "%s: \"%s\": layer %s (%s) has no kernel or bias to quantize",
                   source, key, l->name, tq_layer_type_name(l->type));
  if (!cJSON_IsObject(v))
    return tq_fail(TQ_ERR_FORMAT,
                   "%s: \"%s\": expected {\"kernel_quantizer\": ..., \"bias_quantizer\": ...}",
                   source, key);
  tq_quantizer kq = l->kernel_q, bq = l->bias_q;
  for (const cJSON *f = v->child; f; f = f->next) {
    tq_status st;
    if (!strcmp(f->string, "kernel_quantizer"))
      st = parse_q(&kq, f, source, key, f->string);
    else if (!strcmp(f->string, "bias_quantizer"))
      st = parse_q(&bq, f, source, key, f->string);
    else
      return tq_fail(TQ_ERR_FORMAT,
                     "%s: \"%s\": unknown field \"%s\" (expected kernel_quantizer, "
                     "bias_quantizer)",
                     source, key, f->string);
    if (st) return st;
  }
  tq_status st = tq_layer_set_quantizers(m, i, &kq, &bq);
  return st ? tq_fail_prefix(st, "%s", source) : TQ_OK;
}

tq_status tq_qconfig_apply_json(tq_model *m, const char *json, const char *source) {
  tq_status st = tq_json_text_check(json, strlen(json), source);
  if (st) return st;
  /* the whole text must be the object: "{} garbage" is a mistake, not a configuration */
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithOpts(json, &end, 0);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    at = at ? at : "";
    return tq_fail(TQ_ERR_FORMAT, "%s: not valid JSON (near \"%.*s\")", source, (int)strcspn(at, "\r\n") < 20 ? (int)strcspn(at, "\r\n") : 20, at);
  }
  end += strspn(end, " \t\r\n");
  if (*end) {
    cJSON_Delete(root);
    return tq_fail(TQ_ERR_FORMAT, "%s: text after the JSON object (near \"%.*s\")", source,
                   (int)strcspn(end, "\r\n") < 20 ? (int)strcspn(end, "\r\n") : 20, end);
  }
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return tq_fail(TQ_ERR_FORMAT, "%s: expected a JSON object of layer names or classes", source);
  }
  /* Classes first, then names, so a layer's own entry wins. */
  for (int pass = 0; pass < 2 && !st; pass++) {
    for (const cJSON *e = root->child; e && !st; e = e->next) {
      int cls = tq_layer_type_of_qclass(e->string);
      if (pass == 0 && cls >= 0) {
        for (int i = 1; i < tq_model_num_layers(m) && !st; i++)
          if ((int)tq_model_layer(m, i)->type == cls) st = apply_value(m, i, e, source, e->string);
      } else if (pass == 1 && cls < 0) {
        int i = tq_model_find(m, e->string);
        if (i < 0) {
          char names[4096];
          list_names(m, names, sizeof names);
          st = tq_fail(TQ_ERR_ARG, "%s: model %s has no layer \"%s\" (its layers: %s)", source,
                       tq_model_arch(m), e->string, names);
        } else {
          st = apply_value(m, i, e, source, e->string);
        }
      }
    }
  }
  cJSON_Delete(root);
  if (!st) tq_model_fold_all_bn(m);
  return st;
}

tq_status tq_qconfig_apply_file(tq_model *m, const char *path) {
  unsigned char *data;
  size_t size;
  tq_status st = tq_read_file(path, &data, &size);
  if (st) return st;
  char *text = realloc(data, size + 1);
  if (!text) {
    free(data);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  text[size] = 0;
  if ((st = tq_json_text_check(text, size, path))) {
    free(text);
    return st;
  }
  st = tq_qconfig_apply_json(m, text, path);
  free(text);
  return st;
}

static tq_status check_alpha(const char *alpha) {
  if (alpha && strcmp(alpha, "auto") && strcmp(alpha, "auto_po2"))
    return tq_fail(TQ_ERR_ARG, "alpha '%s': expected auto or auto_po2", alpha);
  return TQ_OK;
}

tq_status tq_qconfig_apply_flat(tq_model *m, int bits, const char *alpha) {
  if (bits < 2 || bits > 31) return tq_fail(TQ_ERR_ARG, "flat: bits %d outside 2..31", bits);
  tq_status st = check_alpha(alpha);
  if (st) return st;
  char kq[128], bq[128], aq[128], a[32] = "";
  if (alpha) snprintf(a, sizeof a, ",alpha='%s'", alpha);
  snprintf(kq, sizeof kq, "quantized_bits(%d,%d,1%s)", bits, bits, a);
  /* Fixed-mode quantized_bits(31,31,1) would round biases to even integers: biases always get
   * a scale, auto_po2 unless told otherwise. */
  snprintf(bq, sizeof bq, "quantized_bits(31,31,1,alpha='%s')", alpha ? alpha : "auto_po2");
  snprintf(aq, sizeof aq, "quantized_bits_featuremap(%d,%d,1,1,alpha='%s',scale_axis=0)", bits,
           bits, alpha ? alpha : "auto");
  char json[2048];
  snprintf(json, sizeof json,
           "{\"Dense\":{\"kernel_quantizer\":\"%s\",\"bias_quantizer\":\"%s\"},"
           "\"Conv2D\":{\"kernel_quantizer\":\"%s\",\"bias_quantizer\":\"%s\"},"
           "\"DepthwiseConv2D\":{\"kernel_quantizer\":\"%s\",\"bias_quantizer\":\"%s\"},"
           "\"Activation\":\"%s\"}",
           kq, bq, kq, bq, kq, bq, aq);
  return tq_qconfig_apply_json(m, json, "--flat");
}

static void override_q(tq_quantizer *q, tq_alpha_mode mode) {
  if (q->kind != TQ_Q_BITS && q->kind != TQ_Q_BITS_FEATUREMAP) return;
  if (q->kind == TQ_Q_BITS && q->bits == 1) return;
  q->alpha_mode = mode;
  q->symmetric = 1;
  q->given |= TQ_ARG_ALPHA;
}

tq_status tq_qconfig_override_alpha(tq_model *m, const char *alpha) {
  tq_status st = check_alpha(alpha);
  if (st || !alpha) return st;
  tq_alpha_mode mode = strcmp(alpha, "auto") ? TQ_ALPHA_AUTO_PO2 : TQ_ALPHA_AUTO;
  for (int i = 1; i < tq_model_num_layers(m); i++) {
    tq_layer *l = tq_model_layer(m, i);
    override_q(&l->kernel_q, mode);
    override_q(&l->bias_q, mode);
    override_q(&l->act_q, mode);
  }
  return TQ_OK;
}

char *tq_qconfig_to_json(const tq_model *m) {
  cJSON *root = cJSON_CreateObject();
  char buf[256];
  for (int i = 1; i < tq_model_num_layers(m); i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (tq_layer_has_act_quantizer(l) && l->act_q.kind) {
      tq_quantizer_format(&l->act_q, buf, sizeof buf);
      cJSON_AddStringToObject(root, l->name, buf);
    } else if (tq_layer_has_kernel(l) && (l->kernel_q.kind || l->bias_q.kind)) {
      cJSON *o = cJSON_AddObjectToObject(root, l->name);
      tq_quantizer_format(&l->kernel_q, buf, sizeof buf);
      if (l->kernel_q.kind) cJSON_AddStringToObject(o, "kernel_quantizer", buf);
      tq_quantizer_format(&l->bias_q, buf, sizeof buf);
      if (l->bias_q.kind) cJSON_AddStringToObject(o, "bias_quantizer", buf);
    }
  }
  char *out = cJSON_Print(root);
  cJSON_Delete(root);
  return out;
}

tq_status tq_qconfig_init_from(tq_model *m, const char *model_file) {
  tq_model *src = NULL;
  tq_status st = tq_model_load(model_file, &src, NULL, 1);
  if (st) return st;
  st = tq_model_copy_weights(m, src);
  tq_model_free(src);
  return st ? tq_fail_prefix(st, "%s", model_file) : TQ_OK;
}
