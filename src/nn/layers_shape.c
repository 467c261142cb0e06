/* The model input, the merges (Add, Multiply) and the layer types that move values without
 * weights: Flatten, Reshape, Dropout, ZeroPadding2D (rows of the layer-type table). */
#include <string.h>

#include "nn/layer_types.h"

/* ---- InputLayer: layer 0, its output is the batch itself (tq_model_forward copies it in) */

static tq_status input_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m, (void)l, (void)p;
  return TQ_OK;
}

static void input_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m, (void)l, (void)p; /* nobody needs the input's gradient */
}

const tq_layer_traits tq_layer_input = {
    .keras_class = "InputLayer", .stem = "input", .ninputs = 0, .rank = TQ_RANK_SHAPE, .lower = TQ_LOWER_INPUT,
    .forward = input_forward, .backward = input_backward};

/* ---- Add: two tensors of one shape */

static int same_shape(tq_shape3 a, tq_shape3 b) { return a.h == b.h && a.w == b.w && a.c == b.c; }

static int add_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  if (same_shape(l->in_shape, m->layers[l->inputs[1]].out_shape)) return 1;
  snprintf(why, n, "inputs have different shapes");
  return 0;
}

/* In training, fused with the ReLU after it when that is its only reader (tq_add_fused_relu): the
 * Add writes the ReLU's output and takes its gradient back through the ReLU's mask, one pass each
 * way instead of two. */
static tq_status add_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  tq_layer *relu = p->training ? tq_add_fused_relu(m, l) : NULL;
  if (relu)
    tq_add_relu_forward(relu->out, p->x, p->x2, p->out_n, relu->relu_max);
  else
    tq_add_forward(l->out, p->x, p->x2, p->out_n);
  return TQ_OK;
}

/* Backward follows a training forward: the fusion it took is the one tq_add_fused_relu still finds. */
static void add_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  tq_layer *relu = tq_add_fused_relu(m, l);
  if (relu) {
    tq_add_relu_backward(p->din[0], p->din[1], relu->dout, relu->out, p->out_n, relu->relu_max);
    return;
  }
  for (int k = 0; k < 2; k++)
    if (p->din[k]) memcpy(p->din[k], l->dout, p->out_n * sizeof(float));
}

const tq_layer_traits tq_layer_add = {
    .keras_class = "Add", .stem = "add", .ninputs = 2, .rank = TQ_RANK_INPUT, .lower = TQ_LOWER_ADD,
    .infer = add_infer, .forward = add_forward, .backward = add_backward};

/* ---- Multiply: a feature map times a (1, 1, C) vector channel by channel (squeeze-excite) */

static int multiply_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  tq_shape3 s = m->layers[l->inputs[1]].out_shape;
  if (s.h == 1 && s.w == 1 && s.c == l->in_shape.c) return 1;
  snprintf(why, n, "scale input must be (1,1,C) matching the feature map");
  return 0;
}

static tq_status multiply_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  tq_chanmul_forward(l->out, p->x, p->x2, p->n, l->in_shape.h * l->in_shape.w, l->in_shape.c);
  return TQ_OK;
}

static void multiply_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  tq_chanmul_backward(p->din[0], p->din[1], l->dout, p->x, p->x2, p->n, l->in_shape.h * l->in_shape.w,
                      l->in_shape.c);
}

const tq_layer_traits tq_layer_multiply = {
    .keras_class = "Multiply", .stem = "multiply", .ninputs = 2, .rank = TQ_RANK_INPUT,
    .lower = TQ_LOWER_MULTIPLY, .infer = multiply_infer, .forward = multiply_forward,
    .backward = multiply_backward};

/* ---- Flatten: (h, w, c) -> (1, 1, h * w * c), the same values in the same order (NHWC) */

static int flatten_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m;
  if (tq_shape_size(l->in_shape) > (size_t)TQ_MAX_SAMPLE_VALUES) {
    snprintf(why, n, "input too large to flatten");
    return 0;
  }
  l->out_shape = (tq_shape3){1, 1, (int)tq_shape_size(l->in_shape)};
  return 1;
}

const tq_layer_traits tq_layer_flatten = {
    .keras_class = "Flatten", .stem = "flatten", .ninputs = 1, .rank = TQ_RANK_FLAT, .lower = TQ_LOWER_ALIAS,
    .infer = flatten_infer, .forward = tq_layer_copy_forward, .backward = tq_layer_copy_backward};

/* ---- Reshape: the same values as a target (h, w, c) of the same size (Keras Reshape, e.g.
 * GlobalAveragePooling2D -> (1, 1, C) before a squeeze-excite's convolutions) */

static int reshape_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m;
  tq_shape3 t = l->target, s = l->in_shape;
  /* in double: a product of three ints may overflow size_t, and is exact up to 2^53 */
  if (t.h < 1 || t.w < 1 || t.c < 1 || (double)t.h * t.w * t.c != (double)tq_shape_size(s)) {
    snprintf(why, n, "target shape %dx%dx%d must have the %zu values of its input %dx%dx%d", t.h, t.w, t.c,
             tq_shape_size(s), s.h, s.w, s.c);
    return 0;
  }
  l->out_shape = t;
  return 1;
}

static void reshape_save(const tq_layer *l, cJSON *o) {
  int t[3] = {l->target.h, l->target.w, l->target.c};
  cJSON_AddItemToObject(o, "target_shape", cJSON_CreateIntArray(t, 3));
}

static const char *reshape_load(tq_layer *l, const cJSON *o) {
  int t[3];
  if (!tq_json_ints(o, "target_shape", t, 3)) return "target_shape missing";
  l->target = (tq_shape3){t[0], t[1], t[2]};
  return NULL;
}

const tq_layer_traits tq_layer_reshape = {
    .keras_class = "Reshape", .stem = "reshape", .ninputs = 1, .rank = TQ_RANK_MAP, .lower = TQ_LOWER_ALIAS,
    .infer = reshape_infer, .forward = tq_layer_copy_forward, .backward = tq_layer_copy_backward,
    .save = reshape_save, .load = reshape_load};

/* ---- Dropout: training zeroes inputs at `rate` and scales the rest (aux: the mask), or, per
 * sample (Keras noise_shape (None, 1, 1, 1)), whole samples (aux: one scale per sample) */

static int dropout_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m;
  if (l->dropout_rate >= 0.0f && l->dropout_rate < 1.0f) return 1;
  snprintf(why, n, "rate must be in [0, 1)");
  return 0;
}

static void dropout_buffers(const tq_layer *l, size_t batch, tq_layer_buffers *b) {
  b->aux = l->dropout_per_sample ? batch : batch * tq_shape_size(l->out_shape);
}

/* One draw per sample, in sample order: the same rng state gives the same samples dropped. */
static void sample_dropout_forward(tq_layer *l, const tq_layer_pass *p) {
  const float keep = 1.0f / (1.0f - l->dropout_rate);
  const size_t per = tq_shape_size(l->out_shape);
  for (int s = 0; s < p->n; s++) {
    float k = l->aux[s] = tq_rng_uniform(p->rng) >= l->dropout_rate ? keep : 0.0f;
    for (size_t i = (size_t)s * per; i < (size_t)(s + 1) * per; i++) l->out[i] = p->x[i] * k;
  }
}

static void sample_dropout_backward(tq_layer *l, const tq_layer_pass *p) {
  const size_t per = tq_shape_size(l->out_shape);
  for (int s = 0; s < p->n; s++)
    for (size_t i = (size_t)s * per; i < (size_t)(s + 1) * per; i++) p->din[0][i] = l->dout[i] * l->aux[s];
}

/* Run by the batch norm before its ReLU in training (tq_relu_fused_dropout): nothing left to do. */
static int dropout_fused(tq_model *m, const tq_layer *l) {
  if (l->ninputs != 1) return 0;
  const tq_layer *relu = &m->layers[l->inputs[0]];
  return relu->type == TQ_L_RELU && relu->ninputs == 1 && tq_bn_fused_relu(m, &m->layers[relu->inputs[0]]) == relu &&
         tq_relu_fused_dropout(m, relu) == l;
}

static tq_status dropout_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  if (p->training && dropout_fused(m, l)) return TQ_OK;
  if (!p->training || l->dropout_rate <= 0)
    tq_layer_copy_forward(m, l, p);
  else if (l->dropout_per_sample)
    sample_dropout_forward(l, p);
  else
    tq_dropout_forward(l->out, l->aux, p->x, p->out_n, l->dropout_rate, p->rng);
  return TQ_OK;
}

static void dropout_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  if (dropout_fused(m, l)) return;
  if (!p->din[0] || l->dropout_rate <= 0)
    tq_layer_copy_backward(m, l, p);
  else if (l->dropout_per_sample)
    sample_dropout_backward(l, p);
  else
    tq_dropout_backward(p->din[0], l->dout, l->aux, p->out_n);
}

/* noise_shape only for per-sample dropout: files of element-wise dropout stay as they were. */
static void dropout_save(const tq_layer *l, cJSON *o) {
  cJSON_AddNumberToObject(o, "rate", l->dropout_rate);
  if (!l->dropout_per_sample) return;
  cJSON *ns = cJSON_AddArrayToObject(o, "noise_shape");
  cJSON_AddItemToArray(ns, cJSON_CreateNull());
  for (int i = 0; i < 3; i++) cJSON_AddItemToArray(ns, cJSON_CreateNumber(1));
}

static const char *dropout_load(tq_layer *l, const cJSON *o) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "rate");
  if (!cJSON_IsNumber(v)) return "rate missing";
  l->dropout_rate = (float)v->valuedouble;
  const cJSON *ns = cJSON_GetObjectItemCaseSensitive(o, "noise_shape");
  if (!ns) return NULL;
  int ok = cJSON_IsArray(ns) && cJSON_GetArraySize(ns) == 4 && cJSON_IsNull(cJSON_GetArrayItem(ns, 0));
  for (int i = 1; ok && i < 4; i++) ok = cJSON_GetArrayItem(ns, i)->valuedouble == 1.0;
  if (!ok) return "noise_shape must be [null, 1, 1, 1] (one draw per sample)";
  l->dropout_per_sample = 1;
  return NULL;
}

const tq_layer_traits tq_layer_dropout = {
    .keras_class = "Dropout", .stem = "dropout", .ninputs = 1, .rank = TQ_RANK_INPUT, .lower = TQ_LOWER_ALIAS,
    .infer = dropout_infer, .buffers = dropout_buffers, .forward = dropout_forward,
    .backward = dropout_backward, .save = dropout_save, .load = dropout_load};

/* ---- ZeroPadding2D: pad[] = top, bottom, left, right */

static int zeropad_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m;
  const int *p = l->pad;
  if (p[0] < 0 || p[1] < 0 || p[2] < 0 || p[3] < 0) {
    snprintf(why, n, "negative padding");
    return 0;
  }
  int64_t h = (int64_t)l->in_shape.h + p[0] + p[1], w = (int64_t)l->in_shape.w + p[2] + p[3];
  if ((double)h * w * l->in_shape.c > TQ_MAX_SAMPLE_VALUES) {
    snprintf(why, n, "padded output too large");
    return 0;
  }
  l->out_shape = (tq_shape3){(int)h, (int)w, l->in_shape.c};
  return 1;
}

static tq_status zeropad_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  tq_zeropad_forward(l->out, p->x, p->n, l->in_shape.h, l->in_shape.w, l->in_shape.c, l->pad[0], l->pad[1],
                     l->pad[2], l->pad[3]);
  return TQ_OK;
}

static void zeropad_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  if (p->din[0])
    tq_zeropad_backward(p->din[0], l->dout, p->n, l->in_shape.h, l->in_shape.w, l->in_shape.c, l->pad[0],
                        l->pad[1], l->pad[2], l->pad[3]);
}

static void zeropad_save(const tq_layer *l, cJSON *o) {
  cJSON_AddItemToObject(o, "padding", cJSON_CreateIntArray(l->pad, 4));
}

static const char *zeropad_load(tq_layer *l, const cJSON *o) {
  return tq_json_ints(o, "padding", l->pad, 4) ? NULL : "padding missing";
}

const tq_layer_traits tq_layer_zeropad = {
    .keras_class = "ZeroPadding2D", .stem = "zero_padding2d", .ninputs = 1, .rank = TQ_RANK_MAP,
    .lower = TQ_LOWER_PAD, .infer = zeropad_infer, .forward = zeropad_forward, .backward = zeropad_backward,
    .save = zeropad_save, .load = zeropad_load};
