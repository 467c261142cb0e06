/* Attaching quantizers to layers and folding batch norm for quantization-aware training. */
#include <math.h>
#include <string.h>

#include "nn/model_internal.h"

/* aux = quantized kernel, aux2 = quantized bias, aux3: see tq_qat_aux3_floats. */
static tq_status ensure_qat_buffers(tq_layer *l) {
  if (l->aux) return TQ_OK;
  size_t ks = l->kernel.size, oc = (size_t)l->out_shape.c;
  l->aux = tq_alloc_floats(ks);
  l->aux2 = tq_alloc_floats(oc);
  l->aux3 = tq_alloc_floats(tq_qat_aux3_floats(ks, oc));
  if (!l->aux || !l->aux2 || !l->aux3) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", l->name);
  return TQ_OK;
}

tq_status tq_layer_set_quantizers(tq_model *m, int layer, const tq_quantizer *kernel_q,
                                  const tq_quantizer *bias_q) {
  TQ_ASSERT(m->finalized && layer >= 0 && layer < m->nlayers);
  tq_layer *l = &m->layers[layer];
  if (!tq_layer_has_kernel(l))
    return tq_fail(TQ_ERR_ARG, "layer %s (%s) has no kernel or bias to quantize", l->name,
                   tq_layer_type_name(l->type));
  tq_quantizer k = kernel_q ? *kernel_q : (tq_quantizer){0};
  tq_quantizer b = bias_q ? *bias_q : (tq_quantizer){0};
  if (k.kind == TQ_Q_BITS_FEATUREMAP || b.kind == TQ_Q_BITS_FEATUREMAP)
    return tq_fail(TQ_ERR_ARG,
                   "layer %s: quantized_bits_featuremap is an activation quantizer, not a "
                   "kernel or bias quantizer",
                   l->name);
  if (k.kind != TQ_Q_NONE) tq_quantizer_as_kernel(&k);
  k.po2_floor_fix = b.po2_floor_fix = !m->qkeras_po2_floor;
  l->kernel_q = k;
  l->bias_q = b;
  return ensure_qat_buffers(l);
}

tq_status tq_layer_set_act_quantizer(tq_model *m, int layer, const tq_quantizer *q) {
  TQ_ASSERT(m->finalized && layer >= 0 && layer < m->nlayers);
  tq_layer *l = &m->layers[layer];
  if (!tq_layer_has_act_quantizer(l))
    return tq_fail(TQ_ERR_ARG, "layer %s (%s) is not an activation-quantizer slot", l->name,
                   tq_layer_type_name(l->type));
  if (l->act == TQ_ACT_SOFTMAX && q->kind != TQ_Q_NONE)
    return tq_fail(TQ_ERR_ARG, "layer %s: a softmax activation cannot be quantized", l->name);
  l->act_q = *q;
  return TQ_OK;
}

tq_status tq_model_fold_bn(tq_model *m, int layer, int bn) {
  if (layer < 1 || layer >= m->nlayers || bn < 1 || bn >= m->nlayers)
    return tq_fail(TQ_ERR_ARG, "batch-norm folding: layer index out of range");
  tq_layer *l = &m->layers[layer], *b = &m->layers[bn];
  if (!tq_layer_has_kernel(l) || b->type != TQ_L_BATCHNORM || b->inputs[0] != layer || l->consumers != 1)
    return tq_fail(TQ_ERR_ARG, "cannot fold %s into %s: it must be the only layer reading it",
                   b->name, l->name);
  l->folded_bn = bn;
  b->bn_folded_into = layer;
  /* Folded, the batch norm is an identity: it shares the layer's output and gradient buffers
   * instead of copying them twice a step (the gradient plan, grad_plan.c, kept the layer's
   * gradient alive for the batch norm's writers). */
  tq_free(b->out);
  b->out = l->out;
  b->dout = l->dout;
  return ensure_qat_buffers(l);
}

int tq_model_fold_all_bn(tq_model *m) {
  int count = 0;
  for (int i = 1; i < m->nlayers; i++) {
    tq_layer *b = &m->layers[i];
    if (b->type != TQ_L_BATCHNORM || b->bn_folded_into >= 0) continue;
    tq_layer *l = &m->layers[b->inputs[0]];
    if (tq_layer_has_kernel(l) && l->consumers == 1 && l->folded_bn < 0 &&
        tq_model_fold_bn(m, b->inputs[0], i) == TQ_OK)
      count++;
  }
  return count;
}

void tq_model_freeze_bn_stats(tq_model *m, int frozen) { m->bn_stats_frozen = frozen != 0; }

void tq_model_set_qkeras_po2_floor(tq_model *m, int on) {
  m->qkeras_po2_floor = on;
  for (int i = 0; i < m->nlayers; i++) {
    m->layers[i].kernel_q.po2_floor_fix = !on;
    m->layers[i].bias_q.po2_floor_fix = !on;
  }
}

int tq_model_qkeras_po2_floor(const tq_model *m) { return m->qkeras_po2_floor; }

int tq_model_is_quantized(const tq_model *m) {
  for (int i = 0; i < m->nlayers; i++) {
    const tq_layer *l = &m->layers[i];
    if (l->kernel_q.kind || l->bias_q.kind || l->act_q.kind) return 1;
  }
  return 0;
}

tq_status tq_layer_folded_weights(const tq_model *m, int layer, float *kernel, float *bias) {
  const tq_layer *l = &m->layers[layer];
  if (!tq_layer_has_kernel(l)) return tq_fail(TQ_ERR_ARG, "layer %s has no kernel", l->name);
  size_t ks = l->kernel.size, oc = (size_t)l->out_shape.c;
  const tq_layer *bn = l->folded_bn >= 0 ? &m->layers[l->folded_bn] : NULL;
  for (size_t c = 0; c < oc; c++) {
    float b = l->bias.size ? l->bias.value[c] : 0.0f;
    if (bn) {
      float inv = bn->gamma.value[c] / sqrtf(bn->moving_var.value[c] + bn->bn_eps);
      bias[c] = inv * (b - bn->moving_mean.value[c]) + bn->beta.value[c];
    } else {
      bias[c] = b;
    }
  }
  for (size_t i = 0; i < ks; i++) {
    float inv = 1.0f;
    if (bn) {
      size_t c = i % oc;
      inv = bn->gamma.value[c] / sqrtf(bn->moving_var.value[c] + bn->bn_eps);
    }
    kernel[i] = l->kernel.value[i] * inv;
  }
  return TQ_OK;
}
