/* Agreement between the integer graph and the fake-quantized model with the same static scales,
 * tensor by tensor: the check behind `tinyq eval --integer --compare` and `tinyq export`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/dmodel.h"

static int argmax_codes(const int32_t *c, size_t k) {
  size_t best = 0;
  for (size_t j = 1; j < k; j++)
    if (c[j] > c[best]) best = j;
  return (int)best;
}

static tq_status init_tensors(tq_agreement *a, const tq_dmodel *d) {
  if (a->tensors) return a->ntensors == d->nt ? TQ_OK : tq_fail(TQ_ERR_ARG, "agreement: another model");
  a->tensors = calloc((size_t)d->nt, sizeof *a->tensors);
  if (!a->tensors) return tq_deploy_oom(d->arch);
  a->ntensors = d->nt;
  for (int t = 0; t < d->nt; t++) snprintf(a->tensors[t].name, sizeof a->tensors[t].name, "%s", d->t[t].name);
  for (int k = 0; k < d->nops; k++)
    snprintf(a->tensors[d->ops[k].out].op, sizeof a->tensors[0].op, "%s", d->ops[k].layer);
  return TQ_OK;
}

/* Compares one batch (n <= the model's max batch). */
static tq_status compare_batch(tq_agreement *a, tq_dmodel *d, tq_model *m, const float *x, int n,
                               void **bufs, int32_t *fq_out, int32_t *out_codes, float *out_float) {
  if (!tq_model_forward(m, x, n, 0, NULL)) return tq_fail_prefix(TQ_ERR_ARG, "fake-quant forward");
  tq_status st = tq_deploy_exec(d, x, n, bufs);
  if (st) return st;
  for (int t = 0; t < d->nt; t++) {
    const dtensor *T = &d->t[t];
    int li = tq_model_find(m, T->name);
    if (li < 0) return tq_fail(TQ_ERR_ARG, "%s: a lowered tensor without a layer", T->name);
    const float *v = tq_model_layer_c(m, li)->out;
    size_t count = (size_t)n * T->size;
    tq_agree_tensor *at = &a->tensors[t];
    for (size_t i = 0; i < count; i++) {
      double q = tq_rha((double)v[i] / T->scale) + T->zp;
      double diff = fabs(q - tq_dtensor_code(d, bufs, t, i));
      long step = diff > 2e9 ? 2000000000L : (long)diff;
      at->beyond1 += step > 1;
      if (step > at->max_step) at->max_step = step;
      if (t == d->output) {
        int32_t c = tq_dtensor_code(d, bufs, t, i);
        if (out_codes) out_codes[i] = c;
        if (out_float) out_float[i] = (float)T->scale * (float)(c - T->zp);
        fq_out[i] = (int32_t)fmax(fmin(q, 2147483647.0), -2147483648.0);
        a->within1 += step <= 1;
        if (step > a->max_step) a->max_step = step;
      }
    }
    at->values += (long)count;
  }
  size_t k = d->t[d->output].size;
  int32_t *ci = malloc(sizeof(int32_t) * k);
  if (!ci) return tq_deploy_oom(d->arch);
  for (int i = 0; i < n; i++) {
    for (size_t j = 0; j < k; j++) ci[j] = tq_dtensor_code(d, bufs, d->output, (size_t)i * k + j);
    a->top1_same += argmax_codes(ci, k) == argmax_codes(fq_out + (size_t)i * k, k);
  }
  free(ci);
  a->values += (long)((size_t)n * k);
  a->samples += n;
  return TQ_OK;
}

tq_status tq_deploy_agreement(tq_agreement *a, tq_dmodel *d, tq_model *m, const float *x, int n,
                              int32_t *out_codes, float *out_float) {
  tq_status st = init_tensors(a, d);
  if (st) return st;
  if (!tq_model_is_static(m))
    return tq_fail(TQ_ERR_ARG, "agreement: the model must use its static activation scales");
  int mb = tq_model_max_batch(m);
  void **bufs = calloc((size_t)d->nt, sizeof(void *));
  int32_t *fq = malloc(sizeof(int32_t) * d->t[d->output].size * (size_t)mb);
  if (!bufs || !fq) st = tq_deploy_oom(d->arch);
  for (int s = 0; s < n && !st; s += mb) {
    int b = n - s < mb ? n - s : mb;
    size_t o = (size_t)s * d->t[d->output].size;
    st = compare_batch(a, d, m, x + (size_t)s * d->in_size, b, bufs, fq,
                       out_codes ? out_codes + o : NULL, out_float ? out_float + o : NULL);
    for (int t = 0; t < d->nt; t++) {
      free(bufs[t]);
      bufs[t] = NULL;
    }
  }
  free(bufs);
  free(fq);
  return st;
}

int tq_agreement_first_divergence(const tq_agreement *a) {
  for (int t = 0; t < a->ntensors; t++)
    if (a->tensors[t].beyond1) return t;
  return -1;
}

int tq_agreement_ok(const tq_agreement *a, int classify) {
  if (a->samples == 0) return 1;
  if (classify && a->top1_same < TQ_AGREE_MIN_TOP1 * a->samples) return 0;
  return a->within1 >= TQ_AGREE_MIN_WITHIN1 * a->values;
}

void tq_agreement_free(tq_agreement *a) {
  free(a->tensors);
  memset(a, 0, sizeof *a);
}
