/* Forward and backward through the model graph, float or fake-quantized (QAT): each layer's pass
 * is its type's (layer_types.h); here, the order, the batch geometry and where gradients go. */
#include <omp.h>
#include <string.h>

#include "nn/layer_types.h"

/* In training, a layer that only hands its input on unchanged (a linear Activation without a
 * quantizer, Flatten, Reshape) is skipped when it is its input's only reader: its readers read its
 * input's buffer and write the gradient straight into its input's (with several readers, as for
 * any layer read twice: the first writes, the others add; ResNet-8's linear activations feed a conv
 * and the residual add). The last layer too: the loss reads its input's output (tq_model_forward
 * returns it) and its gradient goes to its input (the FC-AutoEncoder's linear output: two copies
 * of 512 x 640 floats a step); not one nobody reads. Inference keeps every layer's output
 * (calibration, statistics). */
static int passes_through(const tq_model *m, const tq_layer *l) {
  const int last = l == &m->layers[m->nlayers - 1];
  if (l->ninputs != 1 || (l->consumers < 1 && !last) || m->layers[l->inputs[0]].consumers != 1) return 0;
  return (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR && l->act_q.kind == TQ_Q_NONE) ||
         l->type == TQ_L_FLATTEN || l->type == TQ_L_RESHAPE;
}

/* The layer whose buffers stand for input k of l. */
static tq_layer *source_of(tq_model *m, const tq_layer *l, int k, int training) {
  tq_layer *src = &m->layers[l->inputs[k]];
  while (training && passes_through(m, src)) src = &m->layers[src->inputs[0]];
  return src;
}

/* The layer whose buffers stand for the model's output: the last, or in training what it hands on. */
static tq_layer *output_layer(tq_model *m, int training) {
  tq_layer *last = &m->layers[m->nlayers - 1];
  return training && m->nlayers > 1 && passes_through(m, last) ? source_of(m, last, 0, 1) : last;
}

/* A batch norm fused with its ReLU (tq_bn_fused_relu) need not write the ReLU's output when its one
 * reader, through layers that hand it on, is a DepthwiseConv2D whose kernels take the batch norm + ReLU
 * as a pre-op (tq_bn_relu_pre): the depthwise conv normalises the rows its windows read and the images
 * its weight gradient reads as it goes, from the batch norm's input, and the normalised tensor never
 * goes to memory and back. The values are the same, bit for bit. MobileNetV1's steps are 6-10 % faster
 * while the two threads share an L3 too small for the step's tensors, as fast while they do not (the
 * README's Benchmarks). A pointwise conv normalising chunks of its input before its tiles was slower
 * than the pass it saved when the tensors fit the caches (a chunk waits for memory that the direct
 * tiles, reading the input in place, overlap with their multiply-adds). The reader, or NULL. */
tq_layer *tq_bn_pre_reader(tq_model *m, const tq_layer *bn) {
  if (m->bn_pre_off || bn->bn_folded_into >= 0) return NULL;
  tq_layer *relu = tq_bn_fused_relu(m, bn);
  if (!relu || tq_relu_fused_dropout(m, relu) || relu->consumers != 1) return NULL;
  for (int j = (int)(relu - m->layers) + 1; j < m->nlayers; j++) {
    tq_layer *r = &m->layers[j];
    if (r->ninputs < 1 || source_of(m, r, 0, 1) != relu || passes_through(m, r)) continue;
    if (r->ninputs != 1 || r->folded_bn >= 0) return NULL;
    return r->type == TQ_L_DEPTHWISE && tq_depthwise_pre_ok(&r->geom) ? r : NULL;
  }
  return NULL;
}

/* The pre-op of l's input (tq_bn_pre_reader), if l takes one: p->x becomes the batch norm's input. */
static void pass_pre(tq_model *m, const tq_layer *l, tq_layer_pass *p) {
  tq_layer *relu = source_of(m, l, 0, 1);
  tq_layer *bn = relu->type == TQ_L_RELU && relu->ninputs == 1 ? &m->layers[relu->inputs[0]] : NULL;
  if (!bn || tq_bn_pre_reader(m, bn) != l) return;
  p->has_pre = 1;
  p->x = source_of(m, bn, 0, 1)->out;
  p->pre = (tq_bn_relu_pre){bn->aux, bn->aux2, bn->gamma.value, bn->beta.value, relu->relu_max, m->scratch,
                            m->scratch_floats};
}

static tq_layer_pass pass_of(tq_model *m, const tq_layer *l, int n, int training) {
  tq_layer_pass p;
  memset(&p, 0, sizeof p);
  p.n = n;
  p.x = l->ninputs ? source_of(m, l, 0, training)->out : NULL;
  p.x2 = l->ninputs > 1 ? source_of(m, l, 1, training)->out : NULL;
  p.in_n = (size_t)n * tq_shape_size(l->in_shape);
  p.out_n = (size_t)n * tq_shape_size(l->out_shape);
  p.g = l->geom;
  p.g.n = n;
  p.training = training;
  if (training && l->ninputs == 1 && l->type == TQ_L_DEPTHWISE) pass_pre(m, l, &p);
  return p;
}

static tq_status layer_forward(tq_model *m, tq_layer *l, int n, int training, tq_rng *rng) {
  tq_layer_pass p = pass_of(m, l, n, training);
  p.rng = rng;
  double t0 = m->profile ? tq_now_seconds() : 0;
  tq_status st = training && passes_through(m, l) ? TQ_OK : tq_layer_traits_of(l->type)->forward(m, l, &p);
  if (!st && l->sim.requant && m->use_static && !training) st = tq_sim_requant(m, l, n);
  if (m->profile) tq_profile_add(m, l, n, 0, 0, tq_now_seconds() - t0);
  return st;
}

int tq_model_forward_layer(tq_model *m, int i, int n) {
  return layer_forward(m, &m->layers[i], n, 0, NULL) == TQ_OK;
}

/* A batch is megabytes of floats, cold in cache: one thread copying it kept the other idle (2.4 % of
 * a MobileNetV1 step). Each thread copies the share of the batch that its kernels read next. */
static void copy_floats_parallel(float *dst, const float *src, size_t len) {
  if (len < 65536) {
    memcpy(dst, src, len * sizeof(float));
    return;
  }
#pragma omp parallel
  {
    const size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
    const size_t a = len * t / nt & ~(size_t)15, b = t + 1 == nt ? len : len * (t + 1) / nt & ~(size_t)15;
    memcpy(dst + a, src + a, (b - a) * sizeof(float));
  }
}

const float *tq_model_forward(tq_model *m, const float *x, int n, int training, tq_rng *rng) {
  TQ_ASSERT(m->finalized && n >= 1 && n <= m->max_batch);
  copy_floats_parallel(m->layers[0].out, x, (size_t)n * tq_shape_size(m->input));
  for (int i = 1; i < m->nlayers; i++)
    if (layer_forward(m, &m->layers[i], n, training, rng) != TQ_OK) return NULL;
  return output_layer(m, training)->out;
}

/* ---- Backward */

/* Backward follows a training forward, and skips the same layers (passes_through). */

/* din for input k of layer l: written directly when l is the input's only consumer, else into a
 * temporary that is then added. Returns the buffer to write. */
static float *din_target(tq_model *m, tq_layer *l, int k, int *accumulate) {
  tq_layer *src = source_of(m, l, k, 1);
  *accumulate = 0;
  if (!m->grad_needed[src - m->layers]) return NULL; /* see tq_model_mark_needed_gradients */
  /* the first consumer to get there writes, the others add (its gradient buffer is shared with
   * other layers until then, grad_plan.c). The readers that write src's gradient are those of l's
   * input: src itself, or the top of the chain that passes src's buffer on (in a chain only the
   * top may have several readers). */
  char *opened = &m->grad_opened[src - m->layers];
  if (m->layers[l->inputs[k]].consumers <= 1 || !*opened) {
    *opened = 1;
    return src->dout;
  }
  *accumulate = 1;
  return m->din_tmp + (size_t)k * (m->din_tmp_floats / 2);
}

static void din_finish(tq_model *m, tq_layer *l, int k, float *buf, int accumulate, int n) {
  if (!buf || !accumulate) return;
  tq_layer *src = source_of(m, l, k, 1);
  float *dst = src->dout;
  size_t count = (size_t)n * tq_shape_size(src->out_shape);
  for (size_t i = 0; i < count; i++) dst[i] += buf[i];
}

static void layer_backward(tq_model *m, tq_layer *l, int n) {
  tq_layer_pass p = pass_of(m, l, n, 1);
  int acc[2] = {0, 0};
  double t0 = m->profile ? tq_now_seconds() : 0;
  int input_grad = 0;
  if (!passes_through(m, l)) {
    for (int k = 0; k < l->ninputs; k++) input_grad |= (p.din[k] = din_target(m, l, k, &acc[k])) != NULL;
    tq_layer_traits_of(l->type)->backward(m, l, &p);
    /* the second input first: sums into a shared gradient keep their order */
    for (int k = l->ninputs - 1; k >= 0; k--) din_finish(m, l, k, p.din[k], acc[k], n);
  }
  if (m->profile) tq_profile_add(m, l, n, 1, input_grad, tq_now_seconds() - t0);
}

/* A layer's gradient is needed when the layer, or a layer before it, has trainable parameters:
 * nobody needs the input's, nor that of a QAT input quantizer on it, whose reader (the first conv
 * or dense layer) then skips its input-gradient product (the FC-AutoEncoder's first dense layer:
 * 512 x 640 x 128 multiply-adds a step). */
void tq_model_mark_needed_gradients(const tq_model *m, char *needed) {
  for (int j = 0; j < m->nlayers; j++) {
    const tq_layer *l = &m->layers[j];
    needed[j] = tq_layer_trainable_params(l) > 0;
    for (int k = 0; k < l->ninputs; k++) needed[j] |= needed[l->inputs[k]];
  }
}

void tq_model_backward(tq_model *m, const float *dout, int n) {
  TQ_ASSERT(m->finalized && n >= 1 && n <= m->max_batch);
  tq_model_mark_needed_gradients(m, m->grad_needed);
  /* A layer nobody reads gets no gradient: zero (the buffers are shared, grad_plan.c). */
  tq_layer *last = &m->layers[m->nlayers - 1];
  memset(m->grad_opened, 0, (size_t)m->nlayers);
  for (int i = 0; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    if (l->consumers == 0 && l != last) memset(l->dout, 0, (size_t)n * tq_shape_size(l->out_shape) * sizeof(float));
  }
  memcpy(output_layer(m, 1)->dout, dout, (size_t)n * tq_shape_size(last->out_shape) * sizeof(float));
  for (int i = m->nlayers - 1; i >= 1; i--) layer_backward(m, &m->layers[i], n);
}
