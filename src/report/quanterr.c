/* Quantization error of a model as it stands (tinyq quanterr): the SQNR of every quantized kernel
 * (folded with its batch norm, per scale group too: per output channel where scales are per
 * channel) and of every quantized activation slot on a batch of data, and how many values each
 * quantizer clips (quantized more than half a step away from themselves: beyond its range, as
 * auto_po2 does to a channel's largest weights). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/kernels.h"
#include "tinyq/report.h"

typedef struct {
  double sig, noise;
  size_t values, clipped;
  double *gsig, *gnoise; /* per scale group */
  size_t ngroups, used;  /* allocated; 1 + the highest group seen */
  double step_min, step_max;
} qerr_acc;

static tq_status acc_init(qerr_acc *a, size_t ngroups) {
  memset(a, 0, sizeof *a);
  a->ngroups = ngroups ? ngroups : 1;
  a->gsig = tq_alloc(sizeof(double) * a->ngroups);
  a->gnoise = tq_alloc(sizeof(double) * a->ngroups);
  a->step_min = INFINITY;
  if (!a->gsig || !a->gnoise) return tq_fail(TQ_ERR_MEMORY, "quanterr: out of memory");
  return TQ_OK;
}

static void acc_free(qerr_acc *a) {
  tq_free(a->gsig);
  tq_free(a->gnoise);
}

/* The scale group of flat index i of a tensor of shape dims (tq_quantizer_num_scales' groups). */
static size_t group_of(size_t i, const int *dims, int rank, int scale_axis, size_t nscales, size_t total) {
  if (nscales <= 1) return 0;
  if (nscales == total) return i; /* rank-1 auto_po2: one scale per element */
  int axis = scale_axis < 0 ? rank - 1 : scale_axis;
  size_t stride = 1;
  for (int k = axis + 1; k < rank; k++) stride *= (size_t)dims[k];
  return (i / stride) % (size_t)dims[axis];
}

/* Adds x against its quantized q; steps[g] is the step of group g (groups from group_offset on). */
static void acc_add(qerr_acc *a, const float *x, const float *q, const float *steps, size_t nsteps,
                    const int *dims, int rank, int scale_axis, size_t count, size_t group_offset) {
  for (size_t s = 0; s < nsteps; s++) {
    if (steps[s] < a->step_min) a->step_min = steps[s];
    if (steps[s] > a->step_max) a->step_max = steps[s];
  }
  for (size_t i = 0; i < count; i++) {
    size_t g = group_of(i, dims, rank, scale_axis, nsteps, count);
    double e = (double)x[i] - q[i], s2 = (double)x[i] * x[i];
    a->sig += s2;
    a->noise += e * e;
    size_t ga = group_offset + g < a->ngroups ? group_offset + g : a->ngroups - 1;
    if (ga >= a->used) a->used = ga + 1;
    a->gsig[ga] += s2;
    a->gnoise[ga] += e * e;
    /* half a step, and featuremap's 1.526e-5-code offset, are inside the range */
    a->clipped += fabs(e) > 0.5 * steps[nsteps > 1 ? g : 0] * (1 + 1e-4);
  }
  a->values += count;
}

static double sqnr_db(double sig, double noise) {
  if (noise <= 0) return INFINITY;
  return 10 * log10(sig / noise);
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void acc_finish(qerr_acc *a, tq_qerr_row *r) {
  r->values = a->values;
  r->groups = a->used;
  r->sqnr_db = a->sig > 0 ? sqnr_db(a->sig, a->noise) : NAN;
  r->clip_fraction = a->values ? (double)a->clipped / (double)a->values : 0;
  r->step_min = a->step_min;
  r->step_max = a->step_max;
  size_t k = 0;
  for (size_t g = 0; g < a->used; g++) /* groups with no signal have no SQNR */
    if (a->gsig[g] > 0) a->gsig[k++] = sqnr_db(a->gsig[g], a->gnoise[g]);
  r->sqnr_min_db = r->sqnr_median_db = NAN;
  if (k) {
    qsort(a->gsig, k, sizeof(double), compare_doubles);
    r->sqnr_min_db = a->gsig[0];
    r->sqnr_median_db = k % 2 ? a->gsig[k / 2] : 0.5 * (a->gsig[k / 2 - 1] + a->gsig[k / 2]);
  }
}

static void row_init(tq_qerr_row *r, const tq_model *m, const tq_layer *l, const tq_quantizer *q,
                     int activation) {
  memset(r, 0, sizeof *r);
  r->index = tq_model_find(m, l->name);
  snprintf(r->layer, sizeof r->layer, "%s", l->name);
  r->activation = activation;
  tq_quantizer_format(q, r->quantizer, sizeof r->quantizer);
  r->bits = tq_quantizer_bits(q);
}

static tq_status kernel_row(const tq_model *m, int li, tq_qerr_row *r) {
  const tq_layer *l = tq_model_layer_c(m, li);
  const tq_param *k = &l->kernel;
  size_t nsc = tq_quantizer_num_scales(&l->kernel_q, k->dims, k->rank);
  float *wf = tq_alloc_floats(k->size), *wq = tq_alloc_floats(k->size);
  float *bf = tq_alloc_floats((size_t)l->out_shape.c), *steps = tq_alloc_floats(nsc ? nsc : 1);
  qerr_acc a;
  tq_status st = acc_init(&a, nsc);
  if (!st && (!wf || !wq || !bf || !steps)) st = tq_fail(TQ_ERR_MEMORY, "quanterr: out of memory");
  if (!st) st = tq_layer_folded_weights(m, li, wf, bf);
  if (!st) st = tq_quantize_forward(&l->kernel_q, wq, steps, wf, k->dims, k->rank, 0, NULL);
  if (!st) {
    row_init(r, m, l, &l->kernel_q, 0);
    acc_add(&a, wf, wq, steps, nsc, k->dims, k->rank, l->kernel_q.scale_axis, k->size, 0);
    acc_finish(&a, r);
  }
  acc_free(&a);
  tq_free(wf);
  tq_free(wq);
  tq_free(bf);
  tq_free(steps);
  return st ? tq_fail_prefix(st, "%s: kernel", l->name) : TQ_OK;
}

/* The slots whose quantizer input this code can recompute from the layer's input. */
static int measurable_slot(const tq_layer *l) {
  return l->type == TQ_L_ACTIVATION && l->act_q.kind != TQ_Q_NONE &&
         (l->act == TQ_ACT_LINEAR || l->act == TQ_ACT_RELU || l->act == TQ_ACT_RELU6);
}

/* One batch of n samples through slot l: its quantizer's input recomputed from the input layer's
 * output, quantized as the model does (static parameters, or the dynamic per-batch scales). */
static tq_status slot_batch(const tq_model *m, const tq_layer *l, int n, int sample0, float *xin,
                            float *xq, float *steps, qerr_acc *a) {
  const tq_layer *src = tq_model_layer_c(m, l->inputs[0]);
  size_t per = tq_shape_size(l->out_shape), count = per * (size_t)n;
  memcpy(xin, src->out, count * sizeof(float));
  if (l->act == TQ_ACT_RELU) tq_relu_forward(xin, xin, count);
  if (l->act == TQ_ACT_RELU6) tq_relu_max_forward(xin, xin, count, 6.0f);
  int dims[4] = {n, l->out_shape.h, l->out_shape.w, l->out_shape.c};
  tq_status st;
  if (tq_model_is_static(m) && l->has_static) {
    st = tq_quantize_static(&l->act_q, &l->qstatic, xq, NULL, xin, count);
    steps[0] = l->qstatic.step;
    if (!st) acc_add(a, xin, xq, steps, 1, dims, 4, -1, count, 0);
  } else {
    size_t nsc = tq_quantizer_num_scales(&l->act_q, dims, 4);
    st = tq_quantize_forward(&l->act_q, xq, steps, xin, dims, 4, 0, NULL);
    /* per-sample scales (scale_axis 0) are groups sample0.. of the whole data */
    if (!st) acc_add(a, xin, xq, steps, nsc, dims, 4, l->act_q.scale_axis, count, nsc == (size_t)n ? (size_t)sample0 : 0);
  }
  return st;
}

static tq_status activation_rows(tq_model *m, const float *x, int n, tq_qerr_row *rows, int *nrows) {
  int nl = tq_model_num_layers(m), mb = tq_model_max_batch(m), first = *nrows;
  if (mb < 1) return tq_fail(TQ_ERR_ARG, "quanterr: the model was loaded without activation buffers");
  size_t per_in = tq_shape_size(tq_model_input_shape(m)), biggest = 1;
  qerr_acc *acc = tq_alloc(sizeof(qerr_acc) * (size_t)nl);
  if (!acc) return tq_fail(TQ_ERR_MEMORY, "quanterr: out of memory");
  tq_status st = TQ_OK;
  for (int i = 0; i < nl && !st; i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (!measurable_slot(l)) continue;
    int static_slot = tq_model_is_static(m) && l->has_static;
    /* dynamic scales: per sample (groups of the whole data) or per position/channel */
    size_t per = tq_shape_size(l->out_shape);
    st = acc_init(&acc[i], static_slot ? 1 : (size_t)n > per ? (size_t)n : per);
    if (tq_shape_size(l->out_shape) > biggest) biggest = tq_shape_size(l->out_shape);
  }
  float *xin = st ? NULL : tq_alloc_floats(biggest * (size_t)mb);
  float *xq = st ? NULL : tq_alloc_floats(biggest * (size_t)mb);
  float *steps = st ? NULL : tq_alloc_floats(biggest * (size_t)mb);
  if (!st && (!xin || !xq || !steps)) st = tq_fail(TQ_ERR_MEMORY, "quanterr: out of memory");
  /* The fake-quant rounding: with the deployment simulation a slot's input would already be on
   * the integer grid of the operation before it, and the slot would show no error of its own. */
  tq_model_set_deploy_simulation(m, 0);
  for (int s0 = 0; s0 < n && !st; s0 += mb) {
    int b = n - s0 < mb ? n - s0 : mb;
    if (!tq_model_forward(m, x + (size_t)s0 * per_in, b, 0, NULL)) st = TQ_ERR_NUMERIC;
    for (int i = 0; i < nl && !st; i++)
      if (measurable_slot(tq_model_layer_c(m, i)))
        st = slot_batch(m, tq_model_layer_c(m, i), b, s0, xin, xq, steps, &acc[i]);
  }
  for (int i = 0; i < nl; i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (!measurable_slot(l) || !acc[i].gsig) continue;
    if (!st) {
      row_init(&rows[*nrows], m, l, &l->act_q, 1);
      acc_finish(&acc[i], &rows[(*nrows)++]);
    }
    acc_free(&acc[i]);
  }
  tq_free(acc);
  tq_free(xin);
  tq_free(xq);
  tq_free(steps);
  if (st) *nrows = first;
  return st;
}

static int layer_order(const void *a, const void *b) {
  const tq_qerr_row *x = a, *y = b;
  return x->index != y->index ? (x->index > y->index) - (x->index < y->index) : x->activation - y->activation;
}

tq_status tq_quanterr(tq_model *m, const float *x, int n, tq_qerr_row **rows_out, int *nrows_out) {
  int nl = tq_model_num_layers(m), nrows = 0;
  tq_qerr_row *rows = tq_alloc(sizeof(tq_qerr_row) * (size_t)(2 * nl));
  if (!rows) return tq_fail(TQ_ERR_MEMORY, "quanterr: out of memory");
  tq_status st = TQ_OK;
  for (int i = 0; i < nl && !st; i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (l->kernel_q.kind != TQ_Q_NONE && l->kernel.size) st = kernel_row(m, i, &rows[nrows++]);
  }
  if (!st && x && n > 0) st = activation_rows(m, x, n, rows, &nrows);
  if (st) {
    tq_free(rows);
    return st;
  }
  qsort(rows, (size_t)nrows, sizeof *rows, layer_order);
  *rows_out = rows;
  *nrows_out = nrows;
  return TQ_OK;
}
