/* The layer-type table (layer_types.h): the rows indexed by type, the look-ups the rest of
 * tinyq makes, and helpers the rows share. */
#include <string.h>

#include "nn/layer_types.h"

/* A new tq_layer_type fails here until its row is listed below. */
_Static_assert(TQ_L_COUNT == 16, "a new layer type needs its row in layer_types.c");

static const tq_layer_traits *const rows[TQ_L_COUNT] = {
    [TQ_L_INPUT] = &tq_layer_input,
    [TQ_L_CONV2D] = &tq_layer_conv2d,
    [TQ_L_DEPTHWISE] = &tq_layer_depthwise,
    [TQ_L_DENSE] = &tq_layer_dense,
    [TQ_L_BATCHNORM] = &tq_layer_batchnorm,
    [TQ_L_RELU] = &tq_layer_relu,
    [TQ_L_ACTIVATION] = &tq_layer_activation,
    [TQ_L_MAXPOOL] = &tq_layer_maxpool,
    [TQ_L_AVGPOOL] = &tq_layer_avgpool,
    [TQ_L_GAP] = &tq_layer_gap,
    [TQ_L_ADD] = &tq_layer_add,
    [TQ_L_MULTIPLY] = &tq_layer_multiply,
    [TQ_L_FLATTEN] = &tq_layer_flatten,
    [TQ_L_DROPOUT] = &tq_layer_dropout,
    [TQ_L_ZEROPAD] = &tq_layer_zeropad,
    [TQ_L_RESHAPE] = &tq_layer_reshape,
};

const tq_layer_traits *tq_layer_traits_of(tq_layer_type t) {
  TQ_ASSERT(t >= 0 && t < TQ_L_COUNT && rows[t]);
  return rows[t];
}

const char *tq_layer_type_name(tq_layer_type t) {
  return (t >= 0 && t < TQ_L_COUNT) ? rows[t]->keras_class : "?";
}

int tq_layer_type_of_class(const char *keras_class) {
  for (int t = 1; t < TQ_L_COUNT; t++)
    if (strcmp(rows[t]->keras_class, keras_class) == 0) return t;
  return -1;
}

int tq_layer_has_kernel(const tq_layer *l) { return tq_layer_traits_of(l->type)->has_kernel; }

int tq_layer_has_act_quantizer(const tq_layer *l) { return tq_layer_traits_of(l->type)->act_slot; }

int tq_layer_type_of_qclass(const char *cls) {
  const char *bare = cls[0] == 'Q' ? cls + 1 : cls; /* QKeras: QConv2D, QActivation, ... */
  for (int t = 0; t < TQ_L_COUNT; t++)
    if ((rows[t]->has_kernel || rows[t]->act_slot) && strcmp(rows[t]->keras_class, bare) == 0) return t;
  return -1;
}

tq_lower_kind tq_layer_lowering(tq_layer_type t) { return tq_layer_traits_of(t)->lower; }

/* ---- Shared by the rows */

tq_status tq_layer_param_alloc(tq_param *p, int rank, const int *dims, int trainable) {
  size_t size = 1;
  for (int i = 0; i < rank; i++) {
    p->dims[i] = dims[i];
    size *= (size_t)dims[i];
  }
  p->rank = rank;
  p->size = size;
  p->trainable = trainable;
  p->value = tq_alloc_floats(size);
  if (!p->value) return TQ_ERR_MEMORY;
  if (trainable) {
    p->grad = tq_alloc_floats(size);
    p->opt_m = tq_alloc_floats(size);
    p->opt_v = tq_alloc_floats(size);
    if (!p->grad || !p->opt_m || !p->opt_v) return TQ_ERR_MEMORY;
  }
  return TQ_OK;
}

int tq_window_infer(tq_layer *l, int oc, char *why, size_t n) {
  tq_shape3 s = l->in_shape;
  if (l->kh < 1 || l->kw < 1 || l->sh < 1 || l->sw < 1) {
    snprintf(why, n, "kernel size and strides must be >= 1");
    return 0;
  }
  if (l->padding == TQ_PAD_VALID && (l->kh > s.h || l->kw > s.w)) {
    snprintf(why, n, "window larger than its input");
    return 0;
  }
  if (tq_conv_shape_init(&l->geom, 1, s.h, s.w, s.c, l->kh, l->kw, l->sh, l->sw, oc, l->padding) != TQ_OK) {
    snprintf(why, n, "%.320s", tq_last_error());
    return 0;
  }
  l->out_shape = (tq_shape3){l->geom.oh, l->geom.ow, oc};
  return 1;
}

void tq_window_save(const tq_layer *l, cJSON *o) {
  int w[5] = {l->kh, l->kw, l->sh, l->sw, (int)l->padding};
  cJSON_AddItemToObject(o, "window", cJSON_CreateIntArray(w, 5));
}

int tq_window_load(tq_layer *l, const cJSON *o) {
  int w[5];
  if (!tq_json_ints(o, "window", w, 5)) return 0;
  l->kh = w[0];
  l->kw = w[1];
  l->sh = w[2];
  l->sw = w[3];
  l->padding = (tq_padding)w[4];
  return 1;
}

int tq_json_int(const cJSON *o, const char *key, int *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v)) return 0;
  *out = v->valueint;
  return 1;
}

int tq_json_ints(const cJSON *o, const char *key, int *out, int n) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return 0;
  for (int i = 0; i < n; i++) {
    const cJSON *v = cJSON_GetArrayItem(a, i);
    if (!cJSON_IsNumber(v)) return 0;
    out[i] = v->valueint;
  }
  return 1;
}

tq_status tq_layer_copy_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  memcpy(l->out, p->x, p->out_n * sizeof(float));
  return TQ_OK;
}

void tq_layer_copy_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  /* in place when the gradients share a buffer (grad_plan.c's in-place chains: a dropout of rate 0) */
  if (p->din[0] && p->din[0] != l->dout) memcpy(p->din[0], l->dout, p->out_n * sizeof(float));
}
