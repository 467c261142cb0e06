/* Keras model_config JSON -> tinyq graph (see tinyq/keras.h). Reads Keras 2.x serialization:
 * Functional configs list layers with "inbound_nodes" [[["name", node, tensor, {}], ...]];
 * Sequential ones list layers in order. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/keras.h"

/* Sides and channel counts in a config beyond this are refused before any builder sees them: no
 * Keras model a microcontroller could run comes near, and the builders' own size checks then only
 * see numbers that multiply without overflow. */
#define KX_MAX_DIM (1 << 24)

typedef struct {
  const char *name, *cls;
  const cJSON *cfg;
  const char *in_names[2];
  int nin;
  int emitted;
  int out;   /* tinyq layer index of the layer's output (after a fused activation) */
  int main;  /* tinyq layer index holding the weights (-1: none) */
  int krank; /* Keras rank of the output tensor incl. batch: 4 for feature maps, 2 for vectors */
  int drop_softmax; /* output softmax left to the loss */
} kx_layer;

typedef struct {
  const char *where;
  kx_layer *L;
  int n;
  tq_model *m;
  int output; /* record of the model output */
  int output_softmax;
} kx_ctx;

static tq_status layer_fail(const kx_ctx *c, const kx_layer *l, tq_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tq_status layer_fail(const kx_ctx *c, const kx_layer *l, tq_status code, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return tq_fail(code, "%s: layer '%.100s' (%.64s): %s", c->where, l->name, l->cls, what);
}

static const cJSON *item(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* An integer in [lo, hi] at cfg[key]; JSON numbers are doubles, so 1e300 and 2.5 are refused
 * here instead of saturating in cJSON's valueint. */
static int num_int(const cJSON *v, long lo, long hi, int *out) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)lo && v->valuedouble <= (double)hi) ||
      v->valuedouble != floor(v->valuedouble))
    return 0;
  *out = (int)v->valuedouble;
  return 1;
}

static tq_status get_int(const kx_ctx *c, const kx_layer *l, const char *key, long lo, long hi, int *out) {
  if (!num_int(item(l->cfg, key), lo, hi, out))
    return layer_fail(c, l, TQ_ERR_FORMAT, "'%s' must be an integer in %ld..%ld", key, lo, hi);
  return TQ_OK;
}

/* A pair such as kernel_size or strides: [a, b] or a single integer. */
static tq_status get_pair(const kx_ctx *c, const kx_layer *l, const char *key, int *a, int *b) {
  const cJSON *v = item(l->cfg, key);
  if (num_int(v, 1, KX_MAX_DIM, a)) {
    *b = *a;
    return TQ_OK;
  }
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && num_int(cJSON_GetArrayItem(v, 0), 1, KX_MAX_DIM, a) &&
      num_int(cJSON_GetArrayItem(v, 1), 1, KX_MAX_DIM, b))
    return TQ_OK;
  return layer_fail(c, l, TQ_ERR_FORMAT, "'%s' must be two integers in 1..%d", key, KX_MAX_DIM);
}

static int get_bool(const kx_layer *l, const char *key, int dflt) {
  const cJSON *v = item(l->cfg, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static tq_status get_padding(const kx_ctx *c, const kx_layer *l, tq_padding *p) {
  const char *s = cJSON_GetStringValue(item(l->cfg, "padding"));
  if (s && !strcmp(s, "valid")) *p = TQ_PAD_VALID;
  else if (s && !strcmp(s, "same")) *p = TQ_PAD_SAME;
  else return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "padding '%.32s' not supported (valid or same)", s ? s : "?");
  return TQ_OK;
}

/* Options tinyq's layers do not have must be at their neutral value. */
static tq_status check_neutral(const kx_ctx *c, const kx_layer *l) {
  const char *df = cJSON_GetStringValue(item(l->cfg, "data_format"));
  if (df && strcmp(df, "channels_last"))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "data_format '%.32s' not supported (channels_last)", df);
  const cJSON *d = item(l->cfg, "dilation_rate");
  int a = 1, b = 1;
  if (d && !((num_int(d, 1, 1, &a)) || (cJSON_IsArray(d) && cJSON_GetArraySize(d) == 2 &&
                                       num_int(cJSON_GetArrayItem(d, 0), 1, 1, &a) &&
                                       num_int(cJSON_GetArrayItem(d, 1), 1, 1, &b))))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "dilation_rate other than 1 not supported");
  const cJSON *g = item(l->cfg, "groups");
  if (g && !num_int(g, 1, 1, &a))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "groups other than 1 not supported");
  return TQ_OK;
}

/* Keras activation name -> tinyq activation; -1 when tinyq has none. */
static int act_of(const char *s) {
  static const struct {
    const char *name;
    tq_act act;
  } acts[] = {{"linear", TQ_ACT_LINEAR}, {"relu", TQ_ACT_RELU},     {"relu6", TQ_ACT_RELU6},
              {"sigmoid", TQ_ACT_SIGMOID}, {"swish", TQ_ACT_SWISH}, {"silu", TQ_ACT_SWISH},
              {"softmax", TQ_ACT_SOFTMAX}};
  for (size_t i = 0; s && i < sizeof acts / sizeof acts[0]; i++)
    if (!strcmp(s, acts[i].name)) return (int)acts[i].act;
  return -1;
}

/* The kernel L2 factor of a kernel_regularizer ({"class_name": "L2"|"L1L2", "config": {"l2": x}}),
 * so that training an import regularises as the original did; an L1 term is not supported. */
static tq_status get_l2(const kx_ctx *c, const kx_layer *l, const char *key, float *l2) {
  *l2 = 0;
  const cJSON *r = item(l->cfg, key);
  if (!r || cJSON_IsNull(r)) return TQ_OK;
  const char *cls = cJSON_GetStringValue(item(r, "class_name"));
  const cJSON *rc = item(r, "config");
  const cJSON *v2 = item(rc, "l2"), *v1 = item(rc, "l1");
  if (!cls || (strcmp(cls, "L2") && strcmp(cls, "L1L2") && strcmp(cls, "l2")) ||
      (v1 && !(cJSON_IsNumber(v1) && v1->valuedouble == 0)) ||
      (v2 && !(cJSON_IsNumber(v2) && v2->valuedouble >= 0 && v2->valuedouble < 1e6)))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "%s '%.32s' not supported (L2 only)", key, cls ? cls : "?");
  *l2 = v2 ? (float)v2->valuedouble : 0.0f;
  return TQ_OK;
}

static kx_layer *find(kx_ctx *c, const char *name) {
  for (int i = 0; i < c->n; i++)
    if (!strcmp(c->L[i].name, name)) return &c->L[i];
  return NULL;
}

/* Names the tinyq layer just built after its Keras layer (or a fused part of it). */
static tq_status name_layer(kx_ctx *c, const kx_layer *l, int idx, const char *suffix) {
  if (idx < 0) return layer_fail(c, l, TQ_ERR_FORMAT, "%s", tq_last_error());
  char name[128];
  snprintf(name, sizeof name, "%s%s%s", l->name, suffix ? "/" : "", suffix ? suffix : "");
  if (tq_layer_set_name(c->m, idx, name)) return layer_fail(c, l, TQ_ERR_FORMAT, "%s", tq_last_error());
  return TQ_OK;
}

/* The activation fused into a Conv2D/DepthwiseConv2D/Dense becomes a layer of its own named
 * "<layer>/<activation>" ('/' cannot occur in a Keras layer name, so it never collides). */
static tq_status fused_activation(kx_ctx *c, kx_layer *l, int idx) {
  const cJSON *a = item(l->cfg, "activation");
  const char *s = a ? cJSON_GetStringValue(a) : "linear";
  int act = act_of(s);
  if (act < 0) return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "activation '%.32s' not supported", s ? s : "?");
  l->out = idx;
  if (act == TQ_ACT_LINEAR) return TQ_OK;
  if (act == TQ_ACT_SOFTMAX && l == &c->L[c->output]) {
    l->drop_softmax = 1;
    return TQ_OK;
  }
  l->out = tq_activation(c->m, idx, (tq_act)act);
  return name_layer(c, l, l->out, s);
}

static tq_status map_input(kx_ctx *c, kx_layer *l, const cJSON *shape, const char *arch) {
  int n = cJSON_GetArraySize(shape), d[3];
  if (!cJSON_IsArray(shape) || (n != 2 && n != 4))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "input shape must be (batch, H, W, C) or (batch, N)");
  for (int i = 1; i < n; i++)
    if (!num_int(cJSON_GetArrayItem(shape, i), 1, KX_MAX_DIM, &d[i - 1]))
      return layer_fail(c, l, TQ_ERR_FORMAT, "input dimension %d must be an integer in 1..%d (not unknown)", i,
                        KX_MAX_DIM);
  tq_shape3 s = n == 4 ? (tq_shape3){d[0], d[1], d[2]} : (tq_shape3){1, 1, d[0]};
  if ((double)s.h * s.w * s.c > TQ_MAX_SAMPLE_VALUES)
    return layer_fail(c, l, TQ_ERR_FORMAT, "input shape %dx%dx%d has more than %d values per sample", s.h, s.w,
                      s.c, TQ_MAX_SAMPLE_VALUES);
  c->m = tq_model_new(arch, s);
  if (!c->m) return TQ_ERR_MEMORY;
  if (tq_model_num_layers(c->m) != 1 || tq_model_layer(c->m, 0)->out_shape.c != s.c)
    return layer_fail(c, l, TQ_ERR_FORMAT, "%s", tq_last_error());
  l->out = 0;
  l->krank = n;
  return TQ_OK;
}

/* ---- One mapper per Keras class: builds the layer's tinyq layers from its config and sets its
 * output (l->out), weights layer (l->main) and Keras rank (l->krank, preset to its input's). */

static kx_layer *input_of(kx_ctx *c, const kx_layer *l, int k) { return find(c, l->in_names[k]); }

static tq_status map_conv(kx_ctx *c, kx_layer *l) {
  int dw = !strcmp(l->cls, "DepthwiseConv2D"), kh, kw, sh, sw, v = 0, idx;
  tq_padding pad = TQ_PAD_VALID;
  float l2;
  tq_status st;
  if ((st = check_neutral(c, l)) || (st = get_pair(c, l, "kernel_size", &kh, &kw)) ||
      (st = get_pair(c, l, "strides", &sh, &sw)) || (st = get_padding(c, l, &pad)) ||
      (st = get_int(c, l, dw ? "depth_multiplier" : "filters", 1, KX_MAX_DIM, &v)) ||
      (st = get_l2(c, l, dw ? "depthwise_regularizer" : "kernel_regularizer", &l2)))
    return st;
  int x = input_of(c, l, 0)->out;
  idx = dw ? tq_depthwise(c->m, x, kh, kw, sh, sw, pad, v) : tq_conv2d(c->m, x, v, kh, kw, sh, sw, pad);
  if ((st = name_layer(c, l, idx, NULL))) return st;
  tq_layer_set_bias(c->m, idx, get_bool(l, "use_bias", 1));
  tq_layer_set_l2(c->m, idx, l2);
  l->main = idx;
  l->krank = 4;
  return fused_activation(c, l, idx);
}

static tq_status map_dense(kx_ctx *c, kx_layer *l) {
  int v = 0;
  float l2;
  tq_status st;
  if ((st = get_int(c, l, "units", 1, KX_MAX_DIM, &v)) || (st = get_l2(c, l, "kernel_regularizer", &l2)))
    return st;
  int idx = tq_dense(c->m, input_of(c, l, 0)->out, v);
  if ((st = name_layer(c, l, idx, NULL))) return st;
  tq_layer_set_bias(c->m, idx, get_bool(l, "use_bias", 1));
  tq_layer_set_l2(c->m, idx, l2);
  l->main = idx;
  return fused_activation(c, l, idx);
}

static tq_status map_batchnorm(kx_ctx *c, kx_layer *l) {
  const cJSON *ax = item(l->cfg, "axis");
  if (cJSON_IsArray(ax) && cJSON_GetArraySize(ax) == 1) ax = cJSON_GetArrayItem(ax, 0);
  int a = 0;
  if (!num_int(ax, -1, 3, &a) || (a != -1 && a != l->krank - 1))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "normalising an axis other than the channels is not supported");
  const cJSON *eps = item(l->cfg, "epsilon"), *mom = item(l->cfg, "momentum");
  if ((eps && !(cJSON_IsNumber(eps) && eps->valuedouble > 0 && eps->valuedouble < 1)) ||
      (mom && !(cJSON_IsNumber(mom) && mom->valuedouble >= 0 && mom->valuedouble <= 1)))
    return layer_fail(c, l, TQ_ERR_FORMAT, "epsilon must be in (0, 1) and momentum in [0, 1]");
  int idx = tq_batchnorm(c->m, input_of(c, l, 0)->out);
  tq_status st = name_layer(c, l, idx, NULL);
  if (st) return st;
  tq_layer *bl = tq_model_layer(c->m, idx);
  if (eps) bl->bn_eps = (float)eps->valuedouble;
  if (mom) bl->bn_momentum = (float)mom->valuedouble;
  l->main = idx;
  l->out = idx;
  return TQ_OK;
}

static tq_status map_activation(kx_ctx *c, kx_layer *l) {
  int softmax = !strcmp(l->cls, "Softmax"), v, x = input_of(c, l, 0)->out;
  const char *s = softmax ? "softmax" : cJSON_GetStringValue(item(l->cfg, "activation"));
  int act = act_of(s);
  if (act < 0) return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "activation '%.32s' not supported", s ? s : "?");
  const cJSON *axis = item(l->cfg, "axis");
  if (softmax && axis && !(num_int(axis, -1, -1, &v) || num_int(axis, l->krank - 1, l->krank - 1, &v)))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "softmax over an axis other than the last is not supported");
  if (act == TQ_ACT_SOFTMAX && l == &c->L[c->output]) {
    l->drop_softmax = 1;
    l->out = x;
    return TQ_OK;
  }
  l->out = tq_activation(c->m, x, (tq_act)act);
  return name_layer(c, l, l->out, NULL);
}

static tq_status map_relu(kx_ctx *c, kx_layer *l) {
  const cJSON *mx = item(l->cfg, "max_value"), *ns = item(l->cfg, "negative_slope"),
              *th = item(l->cfg, "threshold");
  if ((ns && !(cJSON_IsNumber(ns) && ns->valuedouble == 0)) || (th && !(cJSON_IsNumber(th) && th->valuedouble == 0)))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "negative_slope or threshold other than 0 not supported");
  if (mx && !cJSON_IsNull(mx) && !(cJSON_IsNumber(mx) && mx->valuedouble > 0 && mx->valuedouble < 1e30))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "max_value must be positive or null");
  l->out = tq_relu(c->m, input_of(c, l, 0)->out, cJSON_IsNumber(mx) ? (float)mx->valuedouble : 0.0f);
  return name_layer(c, l, l->out, NULL);
}

static tq_status map_pool(kx_ctx *c, kx_layer *l) {
  int kh, kw, sh, sw;
  tq_padding pad = TQ_PAD_VALID;
  tq_status st;
  if ((st = check_neutral(c, l)) || (st = get_pair(c, l, "pool_size", &kh, &kw)) || (st = get_padding(c, l, &pad)))
    return st;
  sh = kh, sw = kw; /* Keras: strides None means pool_size */
  if (item(l->cfg, "strides") && !cJSON_IsNull(item(l->cfg, "strides")) && (st = get_pair(c, l, "strides", &sh, &sw)))
    return st;
  int x = input_of(c, l, 0)->out;
  l->out = (l->cls[0] == 'M' ? tq_maxpool : tq_avgpool)(c->m, x, kh, kw, sh, sw, pad);
  l->krank = 4;
  return name_layer(c, l, l->out, NULL);
}

static tq_status map_global_pool(kx_ctx *c, kx_layer *l) {
  tq_status st = check_neutral(c, l);
  if (st) return st;
  int x = input_of(c, l, 0)->out;
  if (!strcmp(l->cls, "GlobalAveragePooling2D")) {
    l->out = tq_gap(c->m, x);
  } else { /* a max pool over the whole map gives the same (1, 1, C) */
    tq_shape3 s = tq_model_layer(c->m, x)->out_shape;
    l->out = tq_maxpool(c->m, x, s.h, s.w, s.h, s.w, TQ_PAD_VALID);
  }
  l->krank = get_bool(l, "keepdims", 0) ? 4 : 2;
  return name_layer(c, l, l->out, NULL);
}

static tq_status map_merge(kx_ctx *c, kx_layer *l) {
  if (l->nin != 2) return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "%d inputs not supported (2)", l->nin);
  int x = input_of(c, l, 0)->out, y = input_of(c, l, 1)->out, yrank = input_of(c, l, 1)->krank;
  if (!strcmp(l->cls, "Add")) {
    l->out = tq_add(c->m, x, y);
  } else {
    /* tinyq multiplies a feature map by a per-channel (1, 1, C) vector (squeeze-excite) */
    tq_shape3 sy = tq_model_layer(c->m, y)->out_shape;
    l->out = (sy.h == 1 && sy.w == 1) ? tq_multiply(c->m, x, y) : tq_multiply(c->m, y, x);
  }
  l->krank = l->krank > yrank ? l->krank : yrank;
  return name_layer(c, l, l->out, NULL);
}

static tq_status map_flatten(kx_ctx *c, kx_layer *l) {
  l->out = tq_flatten(c->m, input_of(c, l, 0)->out);
  l->krank = 2;
  return name_layer(c, l, l->out, NULL);
}

/* target_shape (h, w, c), or (c,) for 1 x 1 x c; one entry may be -1: what the input's size
 * leaves for it. */
static tq_status map_reshape(kx_ctx *c, kx_layer *l) {
  const cJSON *t = item(l->cfg, "target_shape");
  int n = cJSON_GetArraySize(t), d[3] = {1, 1, 1}, unknown = -1, x = input_of(c, l, 0)->out;
  if (!cJSON_IsArray(t) || (n != 1 && n != 3))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "target_shape must be (H, W, C) or (C,)");
  double known = 1;
  for (int i = 0; i < n; i++) {
    int *v = &d[3 - n + i];
    if (num_int(cJSON_GetArrayItem(t, i), -1, -1, v) && unknown < 0)
      unknown = 3 - n + i;
    else if (num_int(cJSON_GetArrayItem(t, i), 1, KX_MAX_DIM, v))
      known *= *v;
    else
      return layer_fail(c, l, TQ_ERR_FORMAT, "target_shape entries must be integers in 1..%d (one may be -1)",
                        KX_MAX_DIM);
  }
  size_t size = tq_shape_size(tq_model_layer(c->m, x)->out_shape);
  if (unknown >= 0) d[unknown] = fmod((double)size, known) == 0 ? (int)((double)size / known) : 0;
  l->out = tq_reshape(c->m, x, d[0], d[1], d[2]);
  l->krank = n + 1;
  return name_layer(c, l, l->out, NULL);
}

static tq_status map_dropout(kx_ctx *c, kx_layer *l) {
  const cJSON *r = item(l->cfg, "rate");
  if (!cJSON_IsNumber(r) || !(r->valuedouble >= 0 && r->valuedouble < 1))
    return layer_fail(c, l, TQ_ERR_FORMAT, "rate must be a number in [0, 1)");
  const cJSON *ns = item(l->cfg, "noise_shape");
  if (ns && !cJSON_IsNull(ns)) return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "noise_shape not supported");
  l->out = tq_dropout(c->m, input_of(c, l, 0)->out, (float)r->valuedouble);
  return name_layer(c, l, l->out, NULL);
}

/* padding: N, (H, W) for symmetric sides, or ((top, bottom), (left, right)) */
static tq_status map_zeropad(kx_ctx *c, kx_layer *l) {
  tq_status st = check_neutral(c, l);
  if (st) return st;
  const cJSON *p = item(l->cfg, "padding");
  int t = 0, b = 0, le = 0, r = 0;
  const cJSON *p0 = cJSON_GetArrayItem(p, 0), *p1 = cJSON_GetArrayItem(p, 1);
  int ok = num_int(p, 0, KX_MAX_DIM, &t) ? (b = le = r = t, 1) : 0;
  if (!ok && cJSON_IsArray(p) && cJSON_GetArraySize(p) == 2) {
    if (num_int(p0, 0, KX_MAX_DIM, &t) && num_int(p1, 0, KX_MAX_DIM, &le)) {
      b = t, r = le, ok = 1;
    } else if (cJSON_GetArraySize(p0) == 2 && cJSON_GetArraySize(p1) == 2) {
      ok = num_int(cJSON_GetArrayItem(p0, 0), 0, KX_MAX_DIM, &t) &&
           num_int(cJSON_GetArrayItem(p0, 1), 0, KX_MAX_DIM, &b) &&
           num_int(cJSON_GetArrayItem(p1, 0), 0, KX_MAX_DIM, &le) &&
           num_int(cJSON_GetArrayItem(p1, 1), 0, KX_MAX_DIM, &r);
    }
  }
  if (!ok) return layer_fail(c, l, TQ_ERR_FORMAT, "padding must be N, (H, W) or ((top, bottom), (left, right))");
  l->out = tq_zeropad(c->m, input_of(c, l, 0)->out, t, b, le, r);
  return name_layer(c, l, l->out, NULL);
}

/* The Keras classes tinyq reads: its own layer types' (tq_layer_type_name) and two it builds
 * from them (Softmax, GlobalMaxPooling2D). */
static const struct {
  const char *cls;
  tq_status (*map)(kx_ctx *c, kx_layer *l);
} mappers[] = {
    {"Conv2D", map_conv},
    {"DepthwiseConv2D", map_conv},
    {"Dense", map_dense},
    {"BatchNormalization", map_batchnorm},
    {"Activation", map_activation},
    {"Softmax", map_activation},
    {"ReLU", map_relu},
    {"MaxPooling2D", map_pool},
    {"AveragePooling2D", map_pool},
    {"GlobalAveragePooling2D", map_global_pool},
    {"GlobalMaxPooling2D", map_global_pool},
    {"Add", map_merge},
    {"Multiply", map_merge},
    {"Flatten", map_flatten},
    {"Reshape", map_reshape},
    {"Dropout", map_dropout},
    {"ZeroPadding2D", map_zeropad},
};

static tq_status map_layer(kx_ctx *c, kx_layer *l) {
  l->main = -1;
  l->krank = l->nin > 0 ? input_of(c, l, 0)->krank : 4;
  for (size_t i = 0; i < sizeof mappers / sizeof mappers[0]; i++)
    if (!strcmp(l->cls, mappers[i].cls)) return mappers[i].map(c, l);
  return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "not supported");
}

/* ---- Weights */

static tq_status read_param(kx_ctx *c, const kx_layer *l, const tq_keras_weights *w, const char *wname,
                            tq_param *p) {
  if (w->read(w->ctx, l->name, wname, p->value, p->rank, p->dims))
    return tq_fail_prefix(TQ_ERR_FORMAT, "%s: layer '%.100s' (%.64s)", c->where, l->name, l->cls);
  for (size_t i = 0; i < p->size; i++)
    if (!isfinite(p->value[i]))
      return layer_fail(c, l, TQ_ERR_FORMAT, "weight '%s' holds a value that is not finite", wname);
  return TQ_OK;
}

static tq_status load_weights(kx_ctx *c, const tq_keras_weights *w) {
  for (int i = 0; i < c->n; i++) {
    kx_layer *l = &c->L[i];
    const char *names[4] = {0};
    tq_param *ps[4] = {0};
    int k = 0;
    if (l->main >= 0) {
      tq_layer *t = tq_model_layer(c->m, l->main);
      if (t->type == TQ_L_BATCHNORM) {
        /* center=False / scale=False store no beta / gamma: they stay 0 / 1 */
        if (get_bool(l, "scale", 1)) names[k] = "gamma", ps[k++] = &t->gamma;
        if (get_bool(l, "center", 1)) names[k] = "beta", ps[k++] = &t->beta;
        names[k] = "moving_mean", ps[k++] = &t->moving_mean;
        names[k] = "moving_variance", ps[k++] = &t->moving_var;
      } else {
        names[k] = t->type == TQ_L_DEPTHWISE ? "depthwise_kernel" : "kernel", ps[k++] = &t->kernel;
        if (t->use_bias) names[k] = "bias", ps[k++] = &t->bias;
      }
    }
    int have = w->count(w->ctx, l->name);
    if (have >= 0 && have != k)
      return layer_fail(c, l, TQ_ERR_FORMAT, "the file holds %d weight%s for it, the layer has %d", have,
                        have == 1 ? "" : "s", k);
    for (int j = 0; j < k; j++) {
      tq_status st = read_param(c, l, w, names[j], ps[j]);
      if (st) return st;
    }
  }
  return TQ_OK;
}

/* ---- The config */

static tq_status node_name(const kx_ctx *c, const kx_layer *l, const cJSON *e, const char **out) {
  int ni, ti;
  if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) < 3 || !cJSON_IsString(cJSON_GetArrayItem(e, 0)) ||
      !num_int(cJSON_GetArrayItem(e, 1), 0, 0, &ni) || !num_int(cJSON_GetArrayItem(e, 2), 0, 0, &ti))
    return layer_fail(c, l, TQ_ERR_UNSUPPORTED,
                      "inbound node not understood (Keras 2.x [name, 0, 0, {}] expected; shared layers and "
                      "multi-output layers are not supported)");
  *out = cJSON_GetArrayItem(e, 0)->valuestring;
  return TQ_OK;
}

/* A [name, node, tensor] reference of input_layers / output_layers: a list of one, or the bare triple. */
static const char *io_name(const cJSON *cfg, const char *key) {
  const cJSON *a = item(cfg, key);
  if (cJSON_IsArray(a) && cJSON_GetArraySize(a) == 1) a = cJSON_GetArrayItem(a, 0);
  if (cJSON_IsArray(a) && cJSON_GetArraySize(a) == 3 && cJSON_IsString(cJSON_GetArrayItem(a, 0)))
    return cJSON_GetArrayItem(a, 0)->valuestring;
  return NULL;
}

static tq_status parse_layers(kx_ctx *c, const cJSON *layers, int functional) {
  int n = cJSON_GetArraySize(layers);
  if (n < 1) return tq_fail(TQ_ERR_FORMAT, "%s: model_config has no layers", c->where);
  if (n > 1024)
    return tq_fail(TQ_ERR_UNSUPPORTED, "%s: model_config has %d layers, more than tinyq's 1024", c->where, n);
  c->L = tq_alloc(sizeof(kx_layer) * (size_t)(n + 1));
  if (!c->L) return TQ_ERR_MEMORY;
  for (int i = 0; i < n; i++) {
    const cJSON *e = cJSON_GetArrayItem(layers, i);
    kx_layer *l = &c->L[c->n];
    l->cls = cJSON_GetStringValue(item(e, "class_name"));
    l->cfg = item(e, "config");
    l->name = cJSON_GetStringValue(item(e, "name"));
    if (!l->name) l->name = cJSON_GetStringValue(item(l->cfg, "name"));
    if (!l->cls || !cJSON_IsObject(l->cfg) || !l->name)
      return tq_fail(TQ_ERR_FORMAT, "%s: model_config: layer %d lacks class_name, name or config", c->where, i);
    if (find(c, l->name)) return tq_fail(TQ_ERR_FORMAT, "%s: model_config: two layers named '%.100s'", c->where, l->name);
    c->n++;
    l->main = l->out = -1;
    if (functional) {
      const cJSON *nodes = item(e, "inbound_nodes");
      int nn = cJSON_GetArraySize(nodes);
      if (!cJSON_IsArray(nodes) || nn > 1)
        return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "used %d times: shared layers are not supported", nn);
      const cJSON *node = nn ? cJSON_GetArrayItem(nodes, 0) : NULL;
      if (node && !cJSON_IsArray(node))
        return layer_fail(c, l, TQ_ERR_UNSUPPORTED,
                          "inbound node not understood (Keras 2.x format expected, as Keras 2 HDF5 files have)");
      int k = node ? cJSON_GetArraySize(node) : 0;
      if (k > 2) return layer_fail(c, l, TQ_ERR_UNSUPPORTED, "%d inputs not supported (at most 2)", k);
      for (int j = 0; j < k; j++) {
        tq_status st = node_name(c, l, cJSON_GetArrayItem(node, j), &l->in_names[j]);
        if (st) return st;
      }
      l->nin = k;
    } else if (c->n > 1) {
      l->in_names[0] = c->L[c->n - 2].name;
      l->nin = 1;
    }
  }
  return TQ_OK;
}

/* The model's input and output layers: a Functional config names them; a Sequential one runs from
 * its first layer (an InputLayer, or one made for the first layer's batch_input_shape) to its last. */
static tq_status find_io(kx_ctx *c, const cJSON *cfg, int functional, kx_layer **in_out) {
  kx_layer *in = NULL;
  if (functional) {
    const char *iname = io_name(cfg, "input_layers"), *oname = io_name(cfg, "output_layers");
    kx_layer *o = oname ? find(c, oname) : NULL;
    in = iname ? find(c, iname) : NULL;
    if (!in || !o || strcmp(in->cls, "InputLayer") || in->nin)
      return tq_fail(TQ_ERR_UNSUPPORTED, "%s: model_config must have exactly one input layer and one output layer",
                     c->where);
    c->output = (int)(o - c->L);
  } else {
    c->output = c->n - 1;
    in = &c->L[0];
    if (strcmp(in->cls, "InputLayer")) { /* a Sequential model without InputLayer: the input is implicit */
      memmove(c->L + 1, c->L, sizeof(kx_layer) * (size_t)c->n);
      c->n++;
      c->output++;
      memset(in, 0, sizeof *in);
      in->name = "input_1";
      in->cls = "InputLayer";
      in->cfg = c->L[1].cfg;
      c->L[1].in_names[0] = in->name;
      c->L[1].nin = 1;
    }
  }
  for (int i = 0; i < c->n; i++)
    if (&c->L[i] != in && !strcmp(c->L[i].cls, "InputLayer"))
      return tq_fail(TQ_ERR_UNSUPPORTED, "%s: model_config has more than one input layer", c->where);
  *in_out = in;
  return TQ_OK;
}

/* The model, its input and the input's activation-quantizer slot. */
static tq_status emit_input(kx_ctx *c, kx_layer *in, const cJSON *cfg) {
  const cJSON *shape = item(in->cfg, "batch_input_shape");
  if (!shape)
    return tq_fail(TQ_ERR_FORMAT, "%s: model_config: input layer '%.100s' has no batch_input_shape", c->where,
                   in->name);
  /* The model's Keras name ("functional_1", "sequential", ...) becomes its architecture name. */
  const char *arch = cJSON_GetStringValue(item(cfg, "name"));
  if (!arch || !*arch || strlen(arch) > 63) arch = "keras";
  tq_status st;
  if ((st = map_input(c, in, shape, arch)) || (st = name_layer(c, in, 0, NULL))) return st;
  /* The study's activation-quantizer slot at the model input (a linear Activation, the identity in
   * float): QAT quantizes the input there, and the integer model needs its input quantized. Keras
   * has no such layer, so it is named after the input: "<input>/quantizer". */
  in->out = tq_activation(c->m, 0, TQ_ACT_LINEAR);
  if ((st = name_layer(c, in, in->out, "quantizer"))) return st;
  in->emitted = 1;
  return TQ_OK;
}

/* Layers in dependency order: Keras lists them topologically, but a config is a file anyone can
 * edit, so each pass emits what has all its inputs and a pass without progress is an error. */
static tq_status emit_layers(kx_ctx *c) {
  for (int done_n = 1, progress = 1; done_n < c->n && progress;) {
    progress = 0;
    for (int i = 0; i < c->n; i++) {
      kx_layer *l = &c->L[i];
      if (l->emitted) continue;
      int ready = 1;
      for (int j = 0; j < l->nin; j++) {
        kx_layer *s = find(c, l->in_names[j]);
        if (!s) return layer_fail(c, l, TQ_ERR_FORMAT, "its input '%.100s' is not a layer of the model", l->in_names[j]);
        ready &= s->emitted;
      }
      if (!ready) continue;
      if (l->nin == 0) return layer_fail(c, l, TQ_ERR_FORMAT, "has no input");
      tq_status st = map_layer(c, l);
      if (st) return st;
      l->emitted = 1;
      done_n++;
      progress = 1;
    }
    if (!progress && done_n < c->n)
      for (int i = 0; i < c->n; i++)
        if (!c->L[i].emitted) return layer_fail(c, &c->L[i], TQ_ERR_FORMAT, "its inputs form a cycle");
  }
  if (c->L[c->output].out != tq_model_num_layers(c->m) - 1)
    return tq_fail(TQ_ERR_UNSUPPORTED,
                   "%s: output layer '%.100s' is not the end of the graph (layers that do not lead to it are not "
                   "supported)",
                   c->where, c->L[c->output].name);
  return TQ_OK;
}

/* {"import": {format, source, output_softmax, loss}} for the model file (tq_alloc'd). */
static tq_status import_meta(const kx_ctx *c, const cJSON *tc, char **meta_json) {
  cJSON *meta = cJSON_CreateObject();
  cJSON *im = cJSON_AddObjectToObject(meta, "import");
  cJSON_AddStringToObject(im, "format", "keras-hdf5");
  const char *base = strrchr(c->where, '/');
  cJSON_AddStringToObject(im, "source", base ? base + 1 : c->where);
  if (c->L[c->output].drop_softmax) cJSON_AddBoolToObject(im, "output_softmax", 1);
  const char *loss = cJSON_GetStringValue(item(tc, "loss"));
  if (loss) cJSON_AddStringToObject(im, "loss", loss);
  char *s = cJSON_PrintUnformatted(meta);
  cJSON_Delete(meta);
  if (!s) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", c->where);
  size_t len = strlen(s) + 1;
  *meta_json = tq_alloc(len);
  if (*meta_json) memcpy(*meta_json, s, len);
  free(s);
  return *meta_json ? TQ_OK : TQ_ERR_MEMORY;
}

tq_status tq_keras_import(tq_model **out, char **meta_json, const char *model_config,
                          const char *training_config, const tq_keras_weights *w, const char *where) {
  *out = NULL;
  if (meta_json) *meta_json = NULL;
  kx_ctx c = {.where = where};
  tq_status st = TQ_OK;
  cJSON *root = cJSON_Parse(model_config);
  cJSON *tc = training_config ? cJSON_Parse(training_config) : NULL;
  const char *mcls = cJSON_GetStringValue(item(root, "class_name"));
  const cJSON *cfg = item(root, "config");
  int functional = mcls && (!strcmp(mcls, "Functional") || !strcmp(mcls, "Model"));
  /* Keras 2.4 nests Sequential layers in {"name", "layers"}; older Keras wrote the list itself. */
  const cJSON *layers = cJSON_IsArray(cfg) ? cfg : item(cfg, "layers");
  kx_layer *in = NULL;
  if (!root)
    st = tq_fail(TQ_ERR_FORMAT, "%s: model_config is not valid JSON", where);
  else if (!mcls || (!functional && strcmp(mcls, "Sequential")))
    st = tq_fail(TQ_ERR_UNSUPPORTED, "%s: model class '%.64s' not supported (Functional or Sequential)", where,
                 mcls ? mcls : "?");
  else if (!cJSON_IsArray(layers))
    st = tq_fail(TQ_ERR_FORMAT, "%s: model_config has no layer list", where);
  if (!st) st = parse_layers(&c, layers, functional);
  if (!st) st = find_io(&c, cfg, functional, &in);
  if (!st) st = emit_input(&c, in, cfg);
  if (!st) st = emit_layers(&c);
  if (!st && (st = tq_model_finalize(c.m, 0, TQ_INIT_GLOROT_UNIFORM, 1))) st = tq_fail_prefix(st, "%s", where);
  if (!st && w) st = load_weights(&c, w);
  if (!st && meta_json) st = import_meta(&c, tc, meta_json);
  cJSON_Delete(root);
  cJSON_Delete(tc);
  tq_free(c.L);
  if (st) {
    tq_model_free(c.m);
    return st;
  }
  *out = c.m;
  return TQ_OK;
}

int tq_keras_meta_output_softmax(const char *meta_json) {
  cJSON *root = cJSON_Parse(meta_json ? meta_json : "");
  int r = 0;
  const cJSON *im = item(root, "import"), *task = item(root, "task");
  const char *loss = cJSON_GetStringValue(item(task, "loss"));
  if (im)
    r = cJSON_IsTrue(item(im, "output_softmax"));
  if (loss) /* trained by tinyq: the loss says whether the outputs are logits */
    r = !strcmp(loss, "sparse_categorical_crossentropy") || !strcmp(loss, "categorical_crossentropy");
  cJSON_Delete(root);
  return r;
}
