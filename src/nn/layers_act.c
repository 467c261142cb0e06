/* Layer types that normalise or activate channel by channel: BatchNormalization, ReLU,
 * Activation (rows of the layer-type table). Activation is also the activation-quantizer slot. */
#include <math.h>
#include <string.h>

#include "nn/layer_types.h"

/* ---- BatchNormalization: gamma, beta and moving statistics over the channels. Folded into the
 * conv/dense before it (QAT), it is an identity that shares that layer's buffers. */

static void batchnorm_count(const tq_layer *l, size_t *trainable, size_t *frozen, size_t *macs) {
  *trainable = *frozen = 2 * (size_t)l->in_shape.c;
  *macs = 0;
}

static tq_status batchnorm_alloc(tq_layer *l, tq_init init, tq_rng *rng) {
  (void)init, (void)rng;
  int c = l->in_shape.c;
  tq_status st;
  if ((st = tq_layer_param_alloc(&l->gamma, 1, &c, 1)) || (st = tq_layer_param_alloc(&l->beta, 1, &c, 1)) ||
      (st = tq_layer_param_alloc(&l->moving_mean, 1, &c, 0)) ||
      (st = tq_layer_param_alloc(&l->moving_var, 1, &c, 0)))
    return st;
  for (int i = 0; i < c; i++) l->gamma.value[i] = l->moving_var.value[i] = 1.0f;
  return TQ_OK;
}

/* aux: the normalised input (backward), or fused with its ReLU the batch mean (C);
 * aux2: 1 / sqrt(var + eps) per channel, then room for the batch statistics of the input as the
 * layer before may leave them (tq_bn_stats_sink) */
static void batchnorm_buffers(const tq_layer *l, size_t batch, tq_layer_buffers *b) {
  b->aux = batch * tq_shape_size(l->in_shape);
  b->aux2 = (size_t)l->in_shape.c +
            tq_batchnorm_stats_floats((int)(batch * l->in_shape.h * l->in_shape.w), l->in_shape.c);
}

float *tq_bn_stats_sink(tq_model *m, const tq_layer *l, int training) {
  const int i = (int)(l - m->layers);
  tq_layer *bn = NULL;
  if (l->folded_bn >= 0)
    bn = m->bn_stats_frozen ? NULL : &m->layers[l->folded_bn]; /* qat_bn.c normalises with batch statistics */
  else if (i + 1 < m->nlayers && m->layers[i + 1].type == TQ_L_BATCHNORM && m->layers[i + 1].ninputs == 1 &&
           m->layers[i + 1].inputs[0] == i && m->layers[i + 1].bn_folded_into < 0)
    bn = &m->layers[i + 1];
  if (!training || !bn || l->consumers != 1) return NULL;
  bn->bn_stats_given = 1;
  return bn->aux2 + bn->in_shape.c;
}

/* In training a batch norm whose only reader is a ReLU right after it runs the two as one pass
 * each way (tq_batchnorm_relu_*; a batch norm folded into its layer, qat_bn.c, while it trains
 * with batch statistics): the ReLU's output is written by the batch norm, whose own output is
 * never written, and the ReLU's passes do nothing. The ReLU layer, or NULL. */
tq_layer *tq_bn_fused_relu(tq_model *m, const tq_layer *bn) {
  int i = (int)(bn - m->layers);
  if (bn->type != TQ_L_BATCHNORM || (bn->bn_folded_into >= 0 && m->bn_stats_frozen) || bn->consumers != 1 ||
      i + 1 >= m->nlayers)
    return NULL;
  tq_layer *r = &m->layers[i + 1];
  return r->type == TQ_L_RELU && r->ninputs == 1 && r->inputs[0] == i ? r : NULL;
}

/* The Dropout right after such a ReLU, its only reader, dropping values one by one (DS-CNN's first
 * and last blocks): its draws are redrawn from a key (tq_batchnorm_relu_forward_train_stats), so the
 * batch norm writes the dropout's output and takes its gradient, and neither the ReLU's output nor a
 * mask is written. grad_plan.c keeps the dropout's gradient alive down to the batch norm's step. */
tq_layer *tq_relu_fused_dropout(tq_model *m, const tq_layer *relu) {
  int i = (int)(relu - m->layers);
  if (relu->type != TQ_L_RELU || relu->consumers != 1 || i + 1 >= m->nlayers) return NULL;
  tq_layer *d = &m->layers[i + 1];
  return d->type == TQ_L_DROPOUT && d->ninputs == 1 && d->inputs[0] == i && !d->dropout_per_sample &&
                 d->dropout_rate > 0.0f
             ? d
             : NULL;
}

/* An Add whose only reader is the ReLU right after it (ResNet-8's block ends) writes the ReLU's
 * output in training and takes its gradient back through the ReLU's mask (layers_shape.c). */
tq_layer *tq_add_fused_relu(tq_model *m, const tq_layer *add) {
  int i = (int)(add - m->layers);
  if (add->type != TQ_L_ADD || add->consumers != 1 || i + 1 >= m->nlayers) return NULL;
  tq_layer *r = &m->layers[i + 1];
  return r->type == TQ_L_RELU && r->ninputs == 1 && r->inputs[0] == i ? r : NULL;
}

static tq_status batchnorm_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  int rows = (int)(p->in_n / (size_t)l->in_shape.c);
  tq_layer *relu = p->training ? tq_bn_fused_relu(m, l) : NULL;
  /* the layer before computed the statistics of p->x in this forward (tq_bn_stats_sink) */
  const float *stats = l->bn_stats_given && p->training && l->bn_folded_into < 0 ? l->aux2 + l->in_shape.c : NULL;
  if (l->bn_folded_into < 0) l->bn_stats_given = 0;
  if (l->bn_folded_into >= 0)
    TQ_ASSERT(l->out == p->x); /* shares its layer's buffer (tq_model_fold_bn) */
  else if (relu) {
    tq_layer *drop = tq_relu_fused_dropout(m, relu);
    if (drop) drop->dropout_key = tq_rng_u64(p->rng); /* the draw tq_dropout_forward would make */
    /* a reader that normalises as it reads (tq_bn_pre_reader) takes the statistics only */
    float *out = drop ? drop->out : tq_bn_pre_reader(m, l) ? NULL : relu->out;
    tq_batchnorm_relu_forward_train_stats(out, l->aux, l->aux2, l->moving_mean.value,
                                          l->moving_var.value, p->x, stats, l->gamma.value, l->beta.value, rows,
                                          l->in_shape.c, l->bn_momentum, l->bn_eps, relu->relu_max,
                                          drop ? drop->dropout_rate : 0.0f, drop ? drop->dropout_key : 0);
  }
  else if (p->training)
    tq_batchnorm_forward_train_stats(l->out, l->aux, l->aux2, l->moving_mean.value, l->moving_var.value, p->x,
                                     stats, l->gamma.value, l->beta.value, rows, l->in_shape.c, l->bn_momentum,
                                     l->bn_eps);
  else
    tq_batchnorm_forward_infer(l->out, p->x, l->gamma.value, l->beta.value, l->moving_mean.value,
                               l->moving_var.value, rows, l->in_shape.c, l->bn_eps);
  return TQ_OK;
}

/* Backward follows a training forward: the fusion it took is the one tq_bn_fused_relu still finds. */
static void batchnorm_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  int rows = (int)(p->in_n / (size_t)l->in_shape.c);
  tq_layer *relu = tq_bn_fused_relu(m, l);
  if (l->bn_folded_into >= 0) {
    TQ_ASSERT(!p->din[0] || p->din[0] == l->dout); /* shares its layer's gradient buffer */
    if (l->bn_batch_stats) tq_folded_bn_backward_train(m, l, p->n);
  } else if (relu) {
    const tq_layer *drop = tq_relu_fused_dropout(m, relu);
    tq_batchnorm_relu_dropout_backward(p->din[0], l->gamma.grad, l->beta.grad, drop ? drop->dout : relu->dout, p->x,
                                       l->aux, l->gamma.value, l->beta.value, l->aux2, rows, l->in_shape.c,
                                       relu->relu_max, drop ? drop->dropout_rate : 0.0f,
                                       drop ? drop->dropout_key : 0);
  } else {
    tq_batchnorm_backward(p->din[0], l->gamma.grad, l->beta.grad, l->dout, l->aux, l->gamma.value, l->aux2,
                          rows, l->in_shape.c);
  }
}

/* Written only when not Keras' defaults, as imported models may have. */
static void batchnorm_save(const tq_layer *l, cJSON *o) {
  if (l->bn_eps != 1e-3f) cJSON_AddNumberToObject(o, "epsilon", l->bn_eps);
  if (l->bn_momentum != 0.99f) cJSON_AddNumberToObject(o, "momentum", l->bn_momentum);
}

static const char *batchnorm_load(tq_layer *l, const cJSON *o) {
  const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "epsilon");
  const cJSON *mom = cJSON_GetObjectItemCaseSensitive(o, "momentum");
  if ((eps && !(cJSON_IsNumber(eps) && eps->valuedouble > 0 && eps->valuedouble < 1e30)) ||
      (mom && !(cJSON_IsNumber(mom) && mom->valuedouble >= 0 && mom->valuedouble <= 1)))
    return "epsilon must be a positive float, momentum in [0, 1]";
  if (eps) l->bn_eps = (float)eps->valuedouble;
  if (mom) l->bn_momentum = (float)mom->valuedouble;
  return NULL;
}

const tq_layer_traits tq_layer_batchnorm = {
    .keras_class = "BatchNormalization", .stem = "batch_normalization", .ninputs = 1, .rank = TQ_RANK_INPUT,
    .lower = TQ_LOWER_FOLDED, .count = batchnorm_count, .alloc_params = batchnorm_alloc,
    .buffers = batchnorm_buffers, .forward = batchnorm_forward, .backward = batchnorm_backward,
    .save = batchnorm_save, .load = batchnorm_load};

/* ---- ReLU: max(x, 0), capped at relu_max when that is > 0 (ReLU6) */

/* A ReLU fused into the batch norm or Add before it (tq_bn_fused_relu, tq_add_fused_relu) has nothing
 * left to do in training. */
static int relu_fused(tq_model *m, const tq_layer *l) {
  if (l->ninputs != 1) return 0;
  const tq_layer *in = &m->layers[l->inputs[0]];
  return tq_bn_fused_relu(m, in) == l || tq_add_fused_relu(m, in) == l;
}

static tq_status relu_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  if (p->training && relu_fused(m, l)) return TQ_OK;
  if (l->relu_max > 0)
    tq_relu_max_forward(l->out, p->x, p->out_n, l->relu_max);
  else
    tq_relu_forward(l->out, p->x, p->out_n);
  return TQ_OK;
}

static void relu_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  if (!p->din[0] || relu_fused(m, l)) return;
  if (l->relu_max > 0)
    tq_relu_max_backward(p->din[0], l->dout, p->x, p->out_n, l->relu_max);
  else
    tq_relu_backward(p->din[0], l->dout, p->x, p->out_n);
}

static void relu_save(const tq_layer *l, cJSON *o) { cJSON_AddNumberToObject(o, "max_value", l->relu_max); }

static const char *relu_load(tq_layer *l, const cJSON *o) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "max_value");
  /* A float that is not finite would be saved as null and lost (found by fuzz/fuzz_modelfile.c). */
  if (!cJSON_IsNumber(v) || !isfinite((float)v->valuedouble)) return "max_value is not a finite float";
  l->relu_max = (float)v->valuedouble;
  return NULL;
}

const tq_layer_traits tq_layer_relu = {
    .keras_class = "ReLU", .stem = "re_lu", .ninputs = 1, .rank = TQ_RANK_INPUT, .lower = TQ_LOWER_ACTIVATION,
    .forward = relu_forward, .backward = relu_backward, .save = relu_save, .load = relu_load};

/* ---- Activation: an activation function, then the activation quantizer when it has one. */

static const char *const act_names[] = {"linear", "relu", "relu6", "sigmoid", "swish", "softmax"};

/* Softmax normalises rows; it is applied (and differentiated) by the activation layer itself. */
static void act_forward(tq_act act, float *out, const float *in, size_t n) {
  switch (act) {
    case TQ_ACT_RELU: tq_relu_forward(out, in, n); break;
    case TQ_ACT_RELU6: tq_relu_max_forward(out, in, n, 6.0f); break;
    case TQ_ACT_SIGMOID: tq_sigmoid_forward(out, in, n); break;
    case TQ_ACT_SWISH: tq_swish_forward(out, in, n); break;
    case TQ_ACT_LINEAR:
    case TQ_ACT_SOFTMAX:
      if (out != in) memcpy(out, in, n * sizeof(float));
      break;
  }
}

static void act_backward(tq_act act, float *din, const float *dout, const float *in, size_t n) {
  switch (act) {
    case TQ_ACT_RELU: tq_relu_backward(din, dout, in, n); break;
    case TQ_ACT_RELU6: tq_relu_max_backward(din, dout, in, n, 6.0f); break;
    case TQ_ACT_SIGMOID: tq_sigmoid_backward(din, dout, in, n); break;
    case TQ_ACT_SWISH: tq_swish_backward(din, dout, in, n); break;
    case TQ_ACT_LINEAR:
    case TQ_ACT_SOFTMAX:
      if (din != dout) memcpy(din, dout, n * sizeof(float));
      break;
  }
}

/* Moving average (momentum 0.99) of the batch range of a slot's input, kept during QAT so that
 * deployment can use learned static scales (SPEC §6). */
static void track_ema(tq_layer *l, const float range[2]) {
  if (!l->ema_init) {
    l->ema_lo = range[0];
    l->ema_hi = range[1];
    l->ema_init = 1;
  } else {
    l->ema_lo = 0.99f * l->ema_lo + 0.01f * range[0];
    l->ema_hi = 0.99f * l->ema_hi + 0.01f * range[1];
  }
}

/* The backward of a quantized non-linear activation recomputes its output in scratch. */
static void activation_buffers(const tq_layer *l, size_t batch, tq_layer_buffers *b) {
  if (l->act != TQ_ACT_LINEAR && l->act != TQ_ACT_SOFTMAX) b->scratch = batch * tq_shape_size(l->out_shape);
}

/* The quantizer of the slot on src (its activation's output; a linear slot's input itself, which
 * spares the copy): into l->out. */
static tq_status activation_quantize(tq_model *m, tq_layer *l, const tq_layer_pass *p, const float *src) {
  /* Once static, the ranges stay those the scales came from (--static ema reproduces them). */
  const int track = p->training && !(m->use_static && l->has_static);
  float range[2];
  tq_status st;
  if (m->use_static && l->has_static && !p->training) {
    if (src != l->out) memcpy(l->out, src, p->out_n * sizeof(float));
    st = tq_sim_slot(l, p->out_n); /* rounds as the integer model (simulate.h) */
  } else if (m->use_static && l->has_static) {
    st = tq_quantize_static(&l->act_q, &l->qstatic, l->out, NULL, src, p->out_n);
  } else {
    tq_shape3 s = l->out_shape;
    int dims[4] = {p->n, s.h, s.w, s.c};
    /* the range for the moving average from the quantizer's own min/max pass when it has one */
    st = tq_quantize_forward_range(&l->act_q, l->out, NULL, src, dims, 4, p->training, p->rng,
                                   track ? range : NULL);
    if (!st && track) track_ema(l, range);
  }
  return st ? tq_fail_prefix(st, "%s: activation quantizer", l->name) : TQ_OK;
}

static tq_status activation_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  if (l->act == TQ_ACT_SOFTMAX) {
    tq_softmax_forward(l->out, p->x, (int)(p->out_n / (size_t)l->out_shape.c), l->out_shape.c);
    return TQ_OK;
  }
  if (l->act_q.kind == TQ_Q_NONE) {
    act_forward(l->act, l->out, p->x, p->out_n);
    return TQ_OK;
  }
  if (l->act == TQ_ACT_LINEAR) return activation_quantize(m, l, p, p->x);
  act_forward(l->act, l->out, p->x, p->out_n);
  return activation_quantize(m, l, p, l->out);
}

/* din = p * (dout - sum(dout * p)) per row */
static void softmax_backward(const tq_layer *l, float *din, size_t out_n) {
  int k = l->out_shape.c, rows = (int)(out_n / (size_t)k);
  for (int r = 0; r < rows; r++) {
    const float *p = l->out + (size_t)r * k, *d = l->dout + (size_t)r * k;
    double s = 0;
    for (int j = 0; j < k; j++) s += (double)d[j] * p[j];
    for (int j = 0; j < k; j++) din[(size_t)r * k + j] = p[j] * (d[j] - (float)s);
  }
}

static void activation_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  float *din = p->din[0];
  if (!din) return;
  if (l->act == TQ_ACT_SOFTMAX) {
    softmax_backward(l, din, p->out_n);
  } else if (l->act_q.kind == TQ_Q_NONE) {
    act_backward(l->act, din, l->dout, p->x, p->out_n);
  } else if (l->act == TQ_ACT_LINEAR) {
    /* The quantizer's STE mask is taken on its own input: for a linear slot that is x itself. */
    tq_quantize_backward(&l->act_q, din, l->dout, p->x, p->out_n);
  } else { /* ... else the activation's output, recomputed */
    float *tmp = m->scratch;
    act_forward(l->act, tmp, p->x, p->out_n);
    tq_quantize_backward(&l->act_q, tmp, l->dout, tmp, p->out_n);
    act_backward(l->act, din, tmp, p->x, p->out_n);
  }
}

static void activation_save(const tq_layer *l, cJSON *o) {
  cJSON_AddStringToObject(o, "activation", act_names[l->act]);
}

static const char *activation_load(tq_layer *l, const cJSON *o) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "activation"));
  for (int a = 0; s && a < (int)(sizeof act_names / sizeof *act_names); a++)
    if (strcmp(act_names[a], s) == 0) {
      l->act = (tq_act)a;
      return NULL;
    }
  return "unknown activation";
}

const tq_layer_traits tq_layer_activation = {
    .keras_class = "Activation", .stem = "activation", .ninputs = 1, .act_slot = 1, .rank = TQ_RANK_INPUT,
    .lower = TQ_LOWER_ACTIVATION, .buffers = activation_buffers, .forward = activation_forward,
    .backward = activation_backward, .save = activation_save, .load = activation_load};
