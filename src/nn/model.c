/* Model graph construction: Keras auto-naming, shape inference, parameter allocation, init. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"

static const char *const keras_class[TQ_L_COUNT] = {
    [TQ_L_INPUT] = "InputLayer",
    [TQ_L_CONV2D] = "Conv2D",
    [TQ_L_DEPTHWISE] = "DepthwiseConv2D",
    [TQ_L_DENSE] = "Dense",
    [TQ_L_BATCHNORM] = "BatchNormalization",
    [TQ_L_RELU] = "ReLU",
    [TQ_L_ACTIVATION] = "Activation",
    [TQ_L_MAXPOOL] = "MaxPooling2D",
    [TQ_L_AVGPOOL] = "AveragePooling2D",
    [TQ_L_GAP] = "GlobalAveragePooling2D",
    [TQ_L_ADD] = "Add",
    [TQ_L_MULTIPLY] = "Multiply",
    [TQ_L_FLATTEN] = "Flatten",
    [TQ_L_DROPOUT] = "Dropout",
    [TQ_L_ZEROPAD] = "ZeroPadding2D",
    [TQ_L_RESHAPE] = "Reshape",
};

/* Keras' default name stem per class (snake case of the class name). */
static const char *const keras_stem[TQ_L_COUNT] = {
    [TQ_L_INPUT] = "input",
    [TQ_L_CONV2D] = "conv2d",
    [TQ_L_DEPTHWISE] = "depthwise_conv2d",
    [TQ_L_DENSE] = "dense",
    [TQ_L_BATCHNORM] = "batch_normalization",
    [TQ_L_RELU] = "re_lu",
    [TQ_L_ACTIVATION] = "activation",
    [TQ_L_MAXPOOL] = "max_pooling2d",
    [TQ_L_AVGPOOL] = "average_pooling2d",
    [TQ_L_GAP] = "global_average_pooling2d",
    [TQ_L_ADD] = "add",
    [TQ_L_MULTIPLY] = "multiply",
    [TQ_L_FLATTEN] = "flatten",
    [TQ_L_DROPOUT] = "dropout",
    [TQ_L_ZEROPAD] = "zero_padding2d",
    [TQ_L_RESHAPE] = "reshape",
};

const char *tq_layer_type_name(tq_layer_type t) {
  return (t >= 0 && t < TQ_L_COUNT) ? keras_class[t] : "?";
}

tq_model *tq_model_new(const char *arch, tq_shape3 input) {
  tq_model *m = tq_alloc(sizeof *m);
  if (!m) return NULL;
  snprintf(m->arch, sizeof m->arch, "%s", arch);
  m->input = input;
  m->cap = 64;
  m->layers = tq_alloc(sizeof(tq_layer) * (size_t)m->cap);
  if (!m->layers) {
    tq_free(m);
    return NULL;
  }
  tq_layer *l = &m->layers[0];
  if (input.h < 1 || input.w < 1 || input.c < 1 || (double)input.h * input.w * input.c > TQ_MAX_SAMPLE_VALUES) {
    m->build_error = TQ_ERR_ARG;
    snprintf(m->build_msg, sizeof m->build_msg,
             "%s: input shape %dx%dx%d: each side must be >= 1 and a sample at most %d values", m->arch,
             input.h, input.w, input.c, TQ_MAX_SAMPLE_VALUES);
    tq_fail(TQ_ERR_ARG, "%s", m->build_msg);
  }
  l->type = TQ_L_INPUT;
  snprintf(l->name, sizeof l->name, "input_1"); /* Keras numbers Input layers from 1 */
  l->out_shape = input;
  l->bn_folded_into = l->folded_bn = -1;
  m->nlayers = 1;
  return m;
}

static int builder_error(tq_model *m, const char *fmt, const char *a, const char *b) {
  if (!m->build_error) {
    m->build_error = TQ_ERR_ARG;
    snprintf(m->build_msg, sizeof m->build_msg, fmt, a, b);
  }
  tq_fail(TQ_ERR_ARG, fmt, a, b);
  return -1;
}

/* Appends a layer reading `in` (and `in2` if >= 0), named with Keras' per-stem counter. */
static tq_layer *append(tq_model *m, tq_layer_type type, int in, int in2, int *index) {
  *index = -1;
  if (m->build_error || m->finalized) return NULL;
  if (in < 0 || in >= m->nlayers || (in2 >= 0 && in2 >= m->nlayers) ||
      ((type == TQ_L_ADD || type == TQ_L_MULTIPLY) && in2 < 0)) {
    builder_error(m, "%s: %s input refers to a layer that does not exist", m->arch,
                  keras_stem[type]);
    return NULL;
  }
  if (m->nlayers == m->cap) {
    if (m->cap >= TQ_MAX_LAYERS) {
      builder_error(m, "%s: %s", m->arch, "too many layers");
      return NULL;
    }
    tq_layer *nl = tq_alloc(sizeof(tq_layer) * (size_t)m->cap * 2);
    if (!nl) {
      builder_error(m, "%s: %s", m->arch, "out of memory");
      return NULL;
    }
    memcpy(nl, m->layers, sizeof(tq_layer) * (size_t)m->cap);
    tq_free(m->layers);
    m->layers = nl;
    m->cap *= 2;
  }
  int count = 0;
  for (int i = 0; i < m->nlayers; i++) count += (m->layers[i].type == type);
  tq_layer *l = &m->layers[m->nlayers];
  memset(l, 0, sizeof *l);
  l->type = type;
  if (count == 0)
    snprintf(l->name, sizeof l->name, "%s", keras_stem[type]);
  else
    snprintf(l->name, sizeof l->name, "%s_%d", keras_stem[type], count);
  l->inputs[0] = in;
  l->inputs[1] = in2;
  l->ninputs = in2 >= 0 ? 2 : 1;
  l->in_shape = m->layers[in].out_shape;
  l->out_shape = l->in_shape;
  l->use_bias = 1;
  l->bn_folded_into = l->folded_bn = -1;
  l->bn_momentum = 0.99f;
  l->bn_eps = 1e-3f;
  *index = m->nlayers++;
  return l;
}

static int window_layer(tq_model *m, tq_layer_type type, int in, int kh, int kw, int sh, int sw,
                        tq_padding pad, int oc) {
  int idx;
  tq_layer *l = append(m, type, in, -1, &idx);
  if (!l) return -1;
  tq_shape3 s = l->in_shape;
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1)
    return builder_error(m, "%s: %s: kernel size and strides must be >= 1", m->arch, l->name);
  if (pad == TQ_PAD_VALID && (kh > s.h || kw > s.w))
    return builder_error(m, "%s: %s: window larger than its input", m->arch, l->name);
  if (tq_conv_shape_init(&l->geom, 1, s.h, s.w, s.c, kh, kw, sh, sw, oc, pad) != TQ_OK) {
    char why[400];
    snprintf(why, sizeof why, "%.63s: %.320s", l->name, tq_last_error());
    return builder_error(m, "%s: %s", m->arch, why);
  }
  l->kh = kh;
  l->kw = kw;
  l->sh = sh;
  l->sw = sw;
  l->padding = pad;
  l->out_shape = (tq_shape3){l->geom.oh, l->geom.ow, oc};
  return idx;
}

int tq_conv2d(tq_model *m, int in, int filters, int kh, int kw, int sh, int sw, tq_padding pad) {
  if (filters < 1) return builder_error(m, "%s: %s: filters must be >= 1", m->arch, "conv2d");
  int idx = window_layer(m, TQ_L_CONV2D, in, kh, kw, sh, sw, pad, filters);
  if (idx >= 0) m->layers[idx].filters = filters;
  return idx;
}

int tq_depthwise(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad,
                 int multiplier) {
  if (multiplier < 1 || in < 0 || in >= m->nlayers)
    return builder_error(m, "%s: %s: bad depth multiplier or input", m->arch, "depthwise_conv2d");
  if ((int64_t)m->layers[in].out_shape.c * multiplier > TQ_MAX_SAMPLE_VALUES)
    return builder_error(m, "%s: %s: depth multiplier too large", m->arch, "depthwise_conv2d");
  int idx = window_layer(m, TQ_L_DEPTHWISE, in, kh, kw, sh, sw, pad,
                         m->layers[in].out_shape.c * multiplier);
  if (idx >= 0) m->layers[idx].multiplier = multiplier;
  return idx;
}

int tq_dense(tq_model *m, int in, int units) {
  int idx;
  tq_layer *l = append(m, TQ_L_DENSE, in, -1, &idx);
  if (!l) return -1;
  if (units < 1) return builder_error(m, "%s: %s: units must be >= 1", m->arch, l->name);
  if (l->in_shape.h != 1 || l->in_shape.w != 1)
    return builder_error(m, "%s: %s: input must be flat (add a Flatten layer)", m->arch, l->name);
  l->units = units;
  l->out_shape = (tq_shape3){1, 1, units};
  return idx;
}

int tq_batchnorm(tq_model *m, int in) {
  int idx;
  return append(m, TQ_L_BATCHNORM, in, -1, &idx) ? idx : -1;
}

int tq_relu(tq_model *m, int in, float max_value) {
  int idx;
  tq_layer *l = append(m, TQ_L_RELU, in, -1, &idx);
  if (l) l->relu_max = max_value;
  return l ? idx : -1;
}

int tq_activation(tq_model *m, int in, tq_act act) {
  int idx;
  tq_layer *l = append(m, TQ_L_ACTIVATION, in, -1, &idx);
  if (l) l->act = act;
  return l ? idx : -1;
}

int tq_maxpool(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad) {
  if (in < 0 || in >= m->nlayers) return builder_error(m, "%s: %s: bad input", m->arch, "pool");
  return window_layer(m, TQ_L_MAXPOOL, in, kh, kw, sh, sw, pad, m->layers[in].out_shape.c);
}

int tq_avgpool(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad) {
  if (in < 0 || in >= m->nlayers) return builder_error(m, "%s: %s: bad input", m->arch, "pool");
  return window_layer(m, TQ_L_AVGPOOL, in, kh, kw, sh, sw, pad, m->layers[in].out_shape.c);
}

int tq_gap(tq_model *m, int in) {
  int idx;
  tq_layer *l = append(m, TQ_L_GAP, in, -1, &idx);
  if (l) l->out_shape = (tq_shape3){1, 1, l->in_shape.c};
  return l ? idx : -1;
}

static int same_shape(tq_shape3 a, tq_shape3 b) { return a.h == b.h && a.w == b.w && a.c == b.c; }

int tq_add(tq_model *m, int a, int b) {
  int idx;
  tq_layer *l = append(m, TQ_L_ADD, a, b, &idx);
  if (!l) return -1;
  if (!same_shape(m->layers[a].out_shape, m->layers[b].out_shape))
    return builder_error(m, "%s: %s: inputs have different shapes", m->arch, l->name);
  return idx;
}

int tq_multiply(tq_model *m, int x, int s) {
  int idx;
  tq_layer *l = append(m, TQ_L_MULTIPLY, x, s, &idx);
  if (!l) return -1;
  tq_shape3 ss = m->layers[s].out_shape;
  if (ss.h != 1 || ss.w != 1 || ss.c != l->in_shape.c)
    return builder_error(m, "%s: %s: scale input must be (1,1,C) matching the feature map",
                         m->arch, l->name);
  return idx;
}

int tq_flatten(tq_model *m, int in) {
  int idx;
  tq_layer *l = append(m, TQ_L_FLATTEN, in, -1, &idx);
  if (!l) return -1;
  if (tq_shape_size(l->in_shape) > (size_t)TQ_MAX_SAMPLE_VALUES)
    return builder_error(m, "%s: %s: input too large to flatten", m->arch, l->name);
  l->out_shape = (tq_shape3){1, 1, (int)tq_shape_size(l->in_shape)};
  return idx;
}

int tq_dropout(tq_model *m, int in, float rate) {
  int idx;
  tq_layer *l = append(m, TQ_L_DROPOUT, in, -1, &idx);
  if (!l) return -1;
  if (!(rate >= 0.0f && rate < 1.0f))
    return builder_error(m, "%s: %s: rate must be in [0, 1)", m->arch, l->name);
  l->dropout_rate = rate;
  return idx;
}

int tq_zeropad(tq_model *m, int in, int top, int bottom, int left, int right) {
  int idx;
  tq_layer *l = append(m, TQ_L_ZEROPAD, in, -1, &idx);
  if (!l) return -1;
  if (top < 0 || bottom < 0 || left < 0 || right < 0)
    return builder_error(m, "%s: %s: negative padding", m->arch, l->name);
  l->pad[0] = top;
  l->pad[1] = bottom;
  l->pad[2] = left;
  l->pad[3] = right;
  int64_t h = (int64_t)l->out_shape.h + top + bottom, w = (int64_t)l->out_shape.w + left + right;
  if ((double)h * w * l->out_shape.c > TQ_MAX_SAMPLE_VALUES)
    return builder_error(m, "%s: %s: padded output too large", m->arch, l->name);
  l->out_shape.h = (int)h;
  l->out_shape.w = (int)w;
  return idx;
}

void tq_layer_set_l2(tq_model *m, int layer, float l2) {
  if (layer >= 0 && layer < m->nlayers) m->layers[layer].l2 = l2;
}

void tq_layer_set_bias(tq_model *m, int layer, int use_bias) {
  if (layer >= 0 && layer < m->nlayers) m->layers[layer].use_bias = use_bias;
}

tq_status tq_layer_set_name(tq_model *m, int layer, const char *name) {
  if (layer < 0 || layer >= m->nlayers)
    return tq_fail(TQ_ERR_ARG, "%s: layer %d does not exist", m->arch, layer);
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof m->layers[0].name)
    return tq_fail(TQ_ERR_ARG, "%s: layer name '%.64s' must have 1 to %zu characters", m->arch, name,
                   sizeof m->layers[0].name - 1);
  /* Names end up in one-line messages, JSON headers and C comments: printable ASCII only. */
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e)
      return tq_fail(TQ_ERR_ARG, "%s: layer name '%.64s' has a character that is not printable ASCII",
                     m->arch, name);
  for (int i = 0; i < m->nlayers; i++)
    if (i != layer && strcmp(m->layers[i].name, name) == 0)
      return tq_fail(TQ_ERR_ARG, "%s: two layers named '%s'", m->arch, name);
  memcpy(m->layers[layer].name, name, n + 1);
  return TQ_OK;
}

/* ---- Parameters */

static tq_status param_alloc(tq_param *p, int rank, const int *dims, int trainable) {
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

static void param_free(tq_param *p) {
  tq_free(p->value);
  tq_free(p->grad);
  tq_free(p->opt_m);
  tq_free(p->opt_v);
  memset(p, 0, sizeof *p);
}

/* Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); He normal: truncated normal with
 * stddev sqrt(2 / fan_in) (Keras truncates at two standard deviations). Fans as Keras computes
 * them: receptive field times input/output channels. */
static void init_kernel(tq_param *p, float fan_in, float fan_out, tq_init init, tq_rng *rng) {
  if (init == TQ_INIT_HE_NORMAL) {
    float sd = sqrtf(2.0f / fan_in) / 0.87962566103423978f; /* truncation variance fix */
    for (size_t i = 0; i < p->size; i++) {
      float z;
      do z = tq_rng_normal(rng);
      while (fabsf(z) > 2.0f);
      p->value[i] = sd * z;
    }
  } else {
    float a = sqrtf(6.0f / (fan_in + fan_out));
    for (size_t i = 0; i < p->size; i++) p->value[i] = a * (2.0f * tq_rng_uniform(rng) - 1.0f);
  }
}

static tq_status layer_alloc_params(tq_layer *l, tq_init init, tq_rng *rng) {
  tq_status st = TQ_OK;
  int cin = l->in_shape.c;
  switch (l->type) {
    case TQ_L_CONV2D: {
      int d[4] = {l->kh, l->kw, cin, l->filters};
      if ((st = param_alloc(&l->kernel, 4, d, 1))) return st;
      float rf = (float)(l->kh * l->kw);
      init_kernel(&l->kernel, rf * cin, rf * l->filters, init, rng);
      if (l->use_bias && (st = param_alloc(&l->bias, 1, &l->filters, 1))) return st;
      break;
    }
    case TQ_L_DEPTHWISE: {
      int d[4] = {l->kh, l->kw, cin, l->multiplier};
      if ((st = param_alloc(&l->kernel, 4, d, 1))) return st;
      float rf = (float)(l->kh * l->kw);
      /* Keras computes depthwise fans from the (kh, kw, cin, mult) shape: rf*cin, rf*mult. */
      init_kernel(&l->kernel, rf * cin, rf * l->multiplier, init, rng);
      int oc = cin * l->multiplier;
      if (l->use_bias && (st = param_alloc(&l->bias, 1, &oc, 1))) return st;
      break;
    }
    case TQ_L_DENSE: {
      int d[2] = {cin, l->units};
      if ((st = param_alloc(&l->kernel, 2, d, 1))) return st;
      init_kernel(&l->kernel, (float)cin, (float)l->units, init, rng);
      if (l->use_bias && (st = param_alloc(&l->bias, 1, &l->units, 1))) return st;
      break;
    }
    case TQ_L_BATCHNORM: {
      int c = l->in_shape.c;
      if ((st = param_alloc(&l->gamma, 1, &c, 1)) || (st = param_alloc(&l->beta, 1, &c, 1)) ||
          (st = param_alloc(&l->moving_mean, 1, &c, 0)) ||
          (st = param_alloc(&l->moving_var, 1, &c, 0)))
        return st;
      for (int i = 0; i < c; i++) l->gamma.value[i] = l->moving_var.value[i] = 1.0f;
      break;
    }
    default:
      break;
  }
  return TQ_OK;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

tq_status tq_model_finalize(tq_model *m, int max_batch, tq_init init, uint64_t seed) {
  if (m->build_error) return tq_fail(m->build_error, "%s", m->build_msg);
  if (m->finalized) return tq_fail(TQ_ERR_ARG, "%s: model already finalized", m->arch);
  if (max_batch < 0) return tq_fail(TQ_ERR_ARG, "%s: batch size must be >= 1", m->arch);
  m->max_batch = max_batch;
  /* Activation memory first, before anything is allocated: a clear error naming the total
   * rather than a failure in the middle of some layer. */
  double act = 0, prm = 0, widest = 0;
  for (int i = 0; i < m->nlayers; i++) {
    const tq_layer *l = &m->layers[i];
    double out = (double)tq_shape_size(l->out_shape), in = (double)tq_shape_size(l->in_shape);
    act += 2.0 * out; /* output and its gradient */
    if (l->type == TQ_L_BATCHNORM) act += in; /* saved normalised input */
    if (l->type == TQ_L_DROPOUT || l->type == TQ_L_MAXPOOL) act += out; /* mask / argmax */
    widest = in > widest ? in : widest;
    prm += (double)tq_layer_params(l);
  }
  act += 2.0 * widest; /* the shared gradient temporary (din_tmp) */
  act *= (double)max_batch * sizeof(float);
  prm *= 4.0 * sizeof(float); /* value, gradient, two optimizer moments */
  if (act + prm > (double)tq_mem_limit() - (double)tq_mem_in_use()) {
    char a[32], p[32], lim[32], acts[80] = "";
    tq_format_size(a, sizeof a, act);
    tq_format_size(p, sizeof p, prm);
    tq_format_size(lim, sizeof lim, (double)tq_mem_limit());
    if (max_batch) snprintf(acts, sizeof acts, "%s of activations (batch %d) and ", a, max_batch);
    return tq_fail(TQ_ERR_MEMORY,
                   "%s: needs about %s%s of parameters, over the memory limit of %s (a smaller input "
                   "or batch, or a larger --max-memory)",
                   m->arch, acts, p, lim);
  }
  size_t scratch = 0, din_tmp = 0;
  for (int i = 0; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    for (int k = 0; k < l->ninputs; k++) m->layers[l->inputs[k]].consumers++;
  }
  for (int i = 0; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    /* Each layer draws its initial weights from its own stream: adding a layer elsewhere does not
     * change the others' initialisation. */
    tq_rng rng;
    tq_rng_derive(&rng, seed, (uint64_t)i + 1);
    tq_status st = layer_alloc_params(l, init, &rng);
    if (st) return tq_fail_prefix(st, "%s: %s", m->arch, l->name);
    if (max_batch == 0) continue; /* shapes and parameters only (summary) */
    size_t out = (size_t)max_batch * tq_shape_size(l->out_shape);
    size_t in = (size_t)max_batch * tq_shape_size(l->in_shape);
    l->out = tq_alloc_floats(out);
    l->dout = tq_alloc_floats(out);
    if (!l->out || !l->dout) return tq_fail_prefix(TQ_ERR_MEMORY, "%s: %s", m->arch, l->name);
    l->geom.n = max_batch;
    size_t aux = 0, aux2 = 0;
    switch (l->type) {
      case TQ_L_CONV2D:
        scratch = max_sz(scratch, tq_conv2d_scratch_floats(&l->geom));
        break;
      case TQ_L_BATCHNORM:
        aux = in;
        aux2 = (size_t)l->in_shape.c;
        break;
      case TQ_L_DROPOUT:
      case TQ_L_MAXPOOL:
        aux = out;
        break;
      case TQ_L_ACTIVATION:
        /* The backward of a quantized non-linear activation recomputes its output in scratch
         * (forward.c): Keras imports quantize Activation('relu') layers themselves. */
        if (l->act != TQ_ACT_LINEAR && l->act != TQ_ACT_SOFTMAX) scratch = max_sz(scratch, out);
        break;
      default:
        break;
    }
    if (aux && !(l->aux = tq_alloc_floats(aux))) return TQ_ERR_MEMORY;
    if (aux2 && !(l->aux2 = tq_alloc_floats(aux2))) return TQ_ERR_MEMORY;
    din_tmp = max_sz(din_tmp, in * (l->ninputs > 1 ? 2 : 1));
    /* QAT's folded-BN batch statistics: 2 doubles and 2 floats per output channel */
    if (l->type == TQ_L_CONV2D || l->type == TQ_L_DEPTHWISE || l->type == TQ_L_DENSE)
      din_tmp = max_sz(din_tmp, 6 * (size_t)l->out_shape.c);
  }
  m->scratch_floats = scratch;
  m->din_tmp_floats = din_tmp;
  m->scratch = tq_alloc_floats(max_sz(scratch, 1));
  m->din_tmp = tq_alloc_floats(max_sz(din_tmp, 1));
  if (!m->scratch || !m->din_tmp) return TQ_ERR_MEMORY;
  m->finalized = 1;
  return TQ_OK;
}

void tq_model_free(tq_model *m) {
  if (!m) return;
  for (int i = 0; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    param_free(&l->kernel);
    param_free(&l->bias);
    param_free(&l->gamma);
    param_free(&l->beta);
    param_free(&l->moving_mean);
    param_free(&l->moving_var);
    if (l->bn_folded_into < 0) { /* a folded batch norm's buffers are its layer's */
      tq_free(l->out);
      tq_free(l->dout);
    }
    tq_free(l->aux);
    tq_free(l->aux2);
    tq_free(l->aux3);
  }
  tq_free(m->layers);
  tq_free(m->scratch);
  tq_free(m->din_tmp);
  tq_free(m);
}

/* ---- Inspection */

int tq_model_num_layers(const tq_model *m) { return m->nlayers; }
tq_layer *tq_model_layer(tq_model *m, int i) { return &m->layers[i]; }
const tq_layer *tq_model_layer_c(const tq_model *m, int i) { return &m->layers[i]; }
const char *tq_model_arch(const tq_model *m) { return m->arch; }
tq_shape3 tq_model_input_shape(const tq_model *m) { return m->input; }
tq_shape3 tq_model_output_shape(const tq_model *m) { return m->layers[m->nlayers - 1].out_shape; }
int tq_model_max_batch(const tq_model *m) { return m->max_batch; }

int tq_model_find(const tq_model *m, const char *name) {
  for (int i = 0; i < m->nlayers; i++)
    if (strcmp(m->layers[i].name, name) == 0) return i;
  return -1;
}

size_t tq_layer_params(const tq_layer *l) {
  int cin = l->in_shape.c;
  size_t bias = l->use_bias;
  switch (l->type) {
    case TQ_L_CONV2D:
      return (size_t)l->kh * l->kw * cin * l->filters + bias * l->filters;
    case TQ_L_DEPTHWISE:
      return (size_t)l->kh * l->kw * cin * l->multiplier + bias * cin * l->multiplier;
    case TQ_L_DENSE:
      return (size_t)cin * l->units + bias * l->units;
    case TQ_L_BATCHNORM:
      return 4 * (size_t)cin;
    default:
      return 0;
  }
}

size_t tq_layer_macs(const tq_layer *l) {
  size_t pos = (size_t)l->out_shape.h * l->out_shape.w;
  switch (l->type) {
    case TQ_L_CONV2D:
      return pos * l->filters * l->kh * l->kw * l->in_shape.c;
    case TQ_L_DEPTHWISE:
      return pos * l->out_shape.c * l->kh * l->kw;
    case TQ_L_DENSE:
      return (size_t)l->in_shape.c * l->units;
    default:
      return 0;
  }
}

size_t tq_model_params(const tq_model *m) {
  size_t s = 0;
  for (int i = 0; i < m->nlayers; i++) s += tq_layer_params(&m->layers[i]);
  return s;
}

size_t tq_model_macs(const tq_model *m) {
  size_t s = 0;
  for (int i = 0; i < m->nlayers; i++) s += tq_layer_macs(&m->layers[i]);
  return s;
}

static tq_param *layer_param(tq_layer *l, int k, const char **name) {
  static const char *const names[6] = {"kernel", "bias", "gamma", "beta", "moving_mean",
                                       "moving_variance"};
  tq_param *ps[6] = {&l->kernel, &l->bias, &l->gamma, &l->beta, &l->moving_mean, &l->moving_var};
  if (name) *name = names[k];
  return ps[k];
}

int tq_model_num_params(const tq_model *m) {
  int n = 0;
  for (int i = 0; i < m->nlayers; i++)
    for (int k = 0; k < 6; k++) n += layer_param(&m->layers[i], k, NULL)->size > 0;
  return n;
}

tq_param *tq_model_param(tq_model *m, int index, int *layer_index, const char **param_name) {
  int n = 0;
  for (int i = 0; i < m->nlayers; i++)
    for (int k = 0; k < 6; k++) {
      tq_param *p = layer_param(&m->layers[i], k, param_name);
      if (p->size == 0) continue;
      if (n++ == index) {
        if (layer_index) *layer_index = i;
        return p;
      }
    }
  return NULL;
}

float tq_model_l2_loss(const tq_model *m) {
  double s = 0;
  for (int i = 0; i < m->nlayers; i++) {
    const tq_layer *l = &m->layers[i];
    if (l->l2 <= 0 || !l->kernel.size) continue;
    double t = 0;
    for (size_t j = 0; j < l->kernel.size; j++) t += (double)l->kernel.value[j] * l->kernel.value[j];
    s += l->l2 * t;
  }
  return (float)s;
}

void tq_model_l2_grad(tq_model *m) {
  for (int i = 0; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    if (l->l2 <= 0 || !l->kernel.size) continue;
    float k = 2.0f * l->l2;
    for (size_t j = 0; j < l->kernel.size; j++) l->kernel.grad[j] += k * l->kernel.value[j];
  }
}

void tq_model_zero_grad(tq_model *m) {
  for (int i = 0; i < m->nlayers; i++)
    for (int k = 0; k < 6; k++) {
      tq_param *p = layer_param(&m->layers[i], k, NULL);
      if (p->grad) memset(p->grad, 0, p->size * sizeof(float));
    }
}
