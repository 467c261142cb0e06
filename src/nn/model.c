/* Model graph construction: Keras auto-naming, shape inference, parameter allocation, init. */
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_types.h"

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

static int builder_error(tq_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int builder_error(tq_model *m, const char *fmt, ...) {
  char msg[sizeof m->build_msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!m->build_error) {
    m->build_error = TQ_ERR_ARG;
    memcpy(m->build_msg, msg, sizeof msg);
  }
  tq_fail(TQ_ERR_ARG, "%s", msg);
  return -1;
}

tq_layer *tq_model_append_layer(tq_model *m, tq_layer_type type, int in, int in2, const tq_layer *config,
                                int *index) {
  const tq_layer_traits *tr = tq_layer_traits_of(type);
  *index = -1;
  if (m->build_error || m->finalized) return NULL;
  if (in < 0 || in >= m->nlayers || (in2 >= 0 && in2 >= m->nlayers) || (tr->ninputs == 2 && in2 < 0)) {
    builder_error(m, "%s: %s input refers to a layer that does not exist", m->arch, tr->stem);
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
  if (config)
    *l = *config;
  else
    memset(l, 0, sizeof *l);
  l->type = type;
  if (count == 0)
    snprintf(l->name, sizeof l->name, "%s", tr->stem);
  else
    snprintf(l->name, sizeof l->name, "%s_%d", tr->stem, count);
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

int tq_model_infer_layer(tq_model *m, int index) {
  tq_layer *l = &m->layers[index];
  const tq_layer_traits *tr = tq_layer_traits_of(l->type);
  char why[400];
  if (tr->infer && !tr->infer(m, l, why, sizeof why))
    return builder_error(m, "%s: %s: %s", m->arch, l->name, why);
  return index;
}

/* A builder: a layer of `type` with the configuration in `config`, its shape inferred. */
static int add(tq_model *m, tq_layer_type type, int in, int in2, const tq_layer *config) {
  int idx;
  return tq_model_append_layer(m, type, in, in2, config, &idx) ? tq_model_infer_layer(m, idx) : -1;
}

int tq_conv2d(tq_model *m, int in, int filters, int kh, int kw, int sh, int sw, tq_padding pad) {
  return add(m, TQ_L_CONV2D, in, -1,
             &(tq_layer){.filters = filters, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .padding = pad});
}

int tq_depthwise(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad, int multiplier) {
  return add(m, TQ_L_DEPTHWISE, in, -1,
             &(tq_layer){.multiplier = multiplier, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .padding = pad});
}

int tq_dense(tq_model *m, int in, int units) { return add(m, TQ_L_DENSE, in, -1, &(tq_layer){.units = units}); }

int tq_batchnorm(tq_model *m, int in) { return add(m, TQ_L_BATCHNORM, in, -1, NULL); }

int tq_relu(tq_model *m, int in, float max_value) {
  return add(m, TQ_L_RELU, in, -1, &(tq_layer){.relu_max = max_value});
}

int tq_activation(tq_model *m, int in, tq_act act) { return add(m, TQ_L_ACTIVATION, in, -1, &(tq_layer){.act = act}); }

int tq_maxpool(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad) {
  return add(m, TQ_L_MAXPOOL, in, -1, &(tq_layer){.kh = kh, .kw = kw, .sh = sh, .sw = sw, .padding = pad});
}

int tq_avgpool(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad) {
  return add(m, TQ_L_AVGPOOL, in, -1, &(tq_layer){.kh = kh, .kw = kw, .sh = sh, .sw = sw, .padding = pad});
}

int tq_gap(tq_model *m, int in) { return add(m, TQ_L_GAP, in, -1, NULL); }
int tq_add(tq_model *m, int a, int b) { return add(m, TQ_L_ADD, a, b, NULL); }
int tq_multiply(tq_model *m, int x, int s) { return add(m, TQ_L_MULTIPLY, x, s, NULL); }
int tq_flatten(tq_model *m, int in) { return add(m, TQ_L_FLATTEN, in, -1, NULL); }

int tq_dropout(tq_model *m, int in, float rate) {
  return add(m, TQ_L_DROPOUT, in, -1, &(tq_layer){.dropout_rate = rate});
}

int tq_dropout_per_sample(tq_model *m, int in, float rate) {
  return add(m, TQ_L_DROPOUT, in, -1, &(tq_layer){.dropout_rate = rate, .dropout_per_sample = 1});
}

int tq_zeropad(tq_model *m, int in, int top, int bottom, int left, int right) {
  return add(m, TQ_L_ZEROPAD, in, -1, &(tq_layer){.pad = {top, bottom, left, right}});
}

int tq_reshape(tq_model *m, int in, int h, int w, int c) {
  return add(m, TQ_L_RESHAPE, in, -1, &(tq_layer){.target = {h, w, c}});
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

static void param_free(tq_param *p) {
  tq_free(p->value);
  tq_free(p->grad);
  tq_free(p->opt_m);
  tq_free(p->opt_v);
  memset(p, 0, sizeof *p);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static void layer_buffers(const tq_layer *l, size_t batch, tq_layer_buffers *b) {
  const tq_layer_traits *tr = tq_layer_traits_of(l->type);
  if (tr->buffers) tr->buffers(l, batch, b);
}

tq_status tq_model_finalize(tq_model *m, int max_batch, tq_init init, uint64_t seed) {
  if (m->build_error) return tq_fail(m->build_error, "%s", m->build_msg);
  if (m->finalized) return tq_fail(TQ_ERR_ARG, "%s: model already finalized", m->arch);
  if (max_batch < 0) return tq_fail(TQ_ERR_ARG, "%s: batch size must be >= 1", m->arch);
  m->max_batch = max_batch;
  for (int i = 0; i < m->nlayers; i++) m->layers[i].consumers = 0;
  for (int i = 0; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    for (int k = 0; k < l->ninputs; k++) m->layers[l->inputs[k]].consumers++;
  }
  /* Activation memory first, before anything is allocated: a clear error naming the total
   * rather than a failure in the middle of some layer. */
  double act = 0, prm = 0, widest = 0, fixed = 0, scratch_most = 0;
  for (int i = 0; i < m->nlayers; i++) {
    const tq_layer *l = &m->layers[i];
    double out = (double)tq_shape_size(l->out_shape), in = (double)tq_shape_size(l->in_shape);
    tq_layer_buffers b = {0}, whole = {0};
    layer_buffers(l, 1, &b);
    act += out;
    act += (double)b.aux; /* saved state: BN's normalised input, a mask, an argmax */
    widest = in > widest ? in : widest;
    prm += (double)tq_layer_params(l);
    if (!max_batch) continue;
    layer_buffers(l, (size_t)max_batch, &whole); /* not per sample: aux2 and the scratch */
    fixed += (double)whole.aux2;
    scratch_most = (double)whole.scratch > scratch_most ? (double)whole.scratch : scratch_most;
  }
  act += 2.0 * widest; /* the shared gradient temporary (din_tmp) */
  act *= (double)max_batch * sizeof(float);
  act += (fixed + scratch_most) * sizeof(float);
  prm *= 4.0 * sizeof(float); /* value, gradient, two optimizer moments */
  /* The layers' gradients: shared buffers on one thread, when one per layer would be more than the
   * caches hold, or would not fit (grad_plan.c says why not always). */
  const double budget = (double)tq_mem_limit() - (double)tq_mem_in_use();
  int share = omp_get_max_threads() == 1;
  double grads = (double)tq_model_gradient_floats(m, share) * sizeof(float);
  if (!share && (grads > TQ_GRAD_SHARE_BYTES || act + grads + prm > budget)) {
    share = 1;
    grads = (double)tq_model_gradient_floats(m, 1) * sizeof(float);
  }
  act += grads;
  if (act + prm > budget) {
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
    /* Each layer draws its initial weights from its own stream: adding a layer elsewhere does not
     * change the others' initialisation. */
    tq_rng rng;
    tq_rng_derive(&rng, seed, (uint64_t)i + 1);
    const tq_layer_traits *tr = tq_layer_traits_of(l->type);
    tq_status st = tr->alloc_params ? tr->alloc_params(l, init, &rng) : TQ_OK;
    if (st) return tq_fail_prefix(st, "%s: %s", m->arch, l->name);
    if (max_batch == 0) continue; /* shapes and parameters only (summary) */
    size_t out = (size_t)max_batch * tq_shape_size(l->out_shape);
    size_t in = (size_t)max_batch * tq_shape_size(l->in_shape);
    l->out = tq_alloc_floats(out);
    if (!l->out) return tq_fail_prefix(TQ_ERR_MEMORY, "%s: %s", m->arch, l->name);
    l->geom.n = max_batch;
    tq_layer_buffers b = {0};
    layer_buffers(l, (size_t)max_batch, &b);
    scratch = max_sz(scratch, b.scratch);
    if (b.aux && !(l->aux = tq_alloc_floats(b.aux))) return TQ_ERR_MEMORY;
    if (b.aux2 && !(l->aux2 = tq_alloc_floats(b.aux2))) return TQ_ERR_MEMORY;
    din_tmp = max_sz(din_tmp, in * (l->ninputs > 1 ? 2 : 1));
    /* QAT's folded-BN batch statistics: 2 doubles and 2 floats per output channel */
    if (tq_layer_has_kernel(l))
      din_tmp = max_sz(din_tmp, 6 * (size_t)l->out_shape.c);
  }
  tq_status st = max_batch ? tq_model_plan_gradients(m, share) : TQ_OK;
  if (st) return st;
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
  tq_free(m->profile);
  for (int i = 0; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    param_free(&l->kernel);
    param_free(&l->bias);
    param_free(&l->gamma);
    param_free(&l->beta);
    param_free(&l->moving_mean);
    param_free(&l->moving_var);
    if (l->bn_folded_into < 0) tq_free(l->out); /* a folded batch norm's buffers are its layer's */
    tq_free(l->aux);
    tq_free(l->aux2);
    tq_free(l->aux3);
  }
  tq_model_free_gradients(m);
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

static void layer_count(const tq_layer *l, size_t *trainable, size_t *frozen, size_t *macs) {
  const tq_layer_traits *tr = tq_layer_traits_of(l->type);
  *trainable = *frozen = *macs = 0;
  if (tr->count) tr->count(l, trainable, frozen, macs);
}

size_t tq_layer_params(const tq_layer *l) {
  size_t trainable, frozen, macs;
  layer_count(l, &trainable, &frozen, &macs);
  return trainable + frozen;
}

size_t tq_layer_trainable_params(const tq_layer *l) {
  size_t trainable, frozen, macs;
  layer_count(l, &trainable, &frozen, &macs);
  return trainable;
}

size_t tq_layer_macs(const tq_layer *l) {
  size_t trainable, frozen, macs;
  layer_count(l, &trainable, &frozen, &macs);
  return macs;
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

/* One parallel region, each thread its share of every kernel (as tq_optimizer_step: the kernels are too
 * small to split one by one). */
void tq_model_l2_grad(tq_model *m) {
  size_t values = 0;
  for (int i = 0; i < m->nlayers; i++) values += m->layers[i].l2 > 0 ? m->layers[i].kernel.size : 0;
#pragma omp parallel if (values > 32768)
  {
    const size_t nt = (size_t)omp_get_num_threads(), th = (size_t)omp_get_thread_num();
    for (int i = 0; i < m->nlayers; i++) {
      tq_layer *l = &m->layers[i];
      if (l->l2 <= 0 || !l->kernel.size) continue;
      const float k = 2.0f * l->l2;
      const size_t a = l->kernel.size * th / nt, b = l->kernel.size * (th + 1) / nt;
      for (size_t j = a; j < b; j++) l->kernel.grad[j] += k * l->kernel.value[j];
    }
  }
}

/* As tq_model_l2_grad and tq_optimizer_step: each thread zeroes its share of every gradient. */
void tq_model_zero_grad(tq_model *m) {
  size_t values = 0;
  for (int i = 0; i < m->nlayers; i++)
    for (int k = 0; k < 6; k++) values += layer_param(&m->layers[i], k, NULL)->size;
#pragma omp parallel if (values > 32768)
  {
    const size_t nt = (size_t)omp_get_num_threads(), th = (size_t)omp_get_thread_num();
    for (int i = 0; i < m->nlayers; i++)
      for (int k = 0; k < 6; k++) {
        tq_param *p = layer_param(&m->layers[i], k, NULL);
        const size_t a = p->size * th / nt, b = p->size * (th + 1) / nt;
        if (p->grad && a < b) memset(p->grad + a, 0, (b - a) * sizeof(float));
      }
  }
}
