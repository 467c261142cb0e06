/* Static activation scales for deployment (SPEC §6): ranges from calibration samples or from the
 * moving averages of QAT, then fixed scales and zero points per activation slot. */
#include <math.h>
#include <string.h>

#include "nn/model_internal.h"
#include "nn/simulate.h"

static void range_of(const float *v, size_t n, float *lo, float *hi) {
  float a = v[0], b = v[0];
  for (size_t i = 1; i < n; i++) {
    a = v[i] < a ? v[i] : a;
    b = v[i] > b ? v[i] : b;
  }
  *lo = a;
  *hi = b;
}

/* A model already on static scales calibrates its other tensors on what those scales make of the
 * data, as deployed (a network trained on them, --freeze-ranges, computes something else with
 * per-batch scales); the simulation of the tensors being calibrated cannot run meanwhile, so the
 * slots round as the fake-quant model does, and the plan is made again from the new ranges. */
tq_status tq_model_calibrate(tq_model *m, const float *x, int n) {
  if (n < 1) return tq_fail(TQ_ERR_ARG, "calibration needs at least one sample");
  int saved = m->use_static;
  if (saved) tq_model_set_deploy_simulation(m, 0);
  for (int i = 0; i < m->nlayers; i++) m->layers[i].has_range = 0;
  size_t in = tq_shape_size(m->input);
  for (int s = 0; s < n; s += m->max_batch) {
    int b = n - s < m->max_batch ? n - s : m->max_batch;
    /* Slots record the range of their quantizer's input: run each slot's producer first. */
    memcpy(m->layers[0].out, x + (size_t)s * in, (size_t)b * in * sizeof(float));
    for (int i = 0; i < m->nlayers; i++) {
      tq_layer *l = &m->layers[i];
      const float *v;
      size_t count;
      if (i > 0 && tq_layer_has_act_quantizer(l) && l->act_q.kind != TQ_Q_NONE) {
        v = m->layers[l->inputs[0]].out;
        count = (size_t)b * tq_shape_size(l->in_shape);
      } else {
        v = NULL;
        count = 0;
      }
      float lo = 0, hi = 0;
      if (v) range_of(v, count, &lo, &hi);
      /* A sigmoid/swish quantizes the function's output: the range it maps its input's to. */
      if (v && tq_layer_is_lut(l)) tq_lut_range(l->act, &lo, &hi);
      if (i > 0 && !tq_model_forward_layer(m, i, b)) {
        if (saved) tq_model_set_deploy_simulation(m, 1);
        return tq_fail_prefix(TQ_ERR_ARG, "calibration");
      }
      if (!v) range_of(l->out, (size_t)b * tq_shape_size(l->out_shape), &lo, &hi);
      if (!l->has_range) {
        l->range_lo = lo;
        l->range_hi = hi;
        l->has_range = 1;
      } else {
        l->range_lo = lo < l->range_lo ? lo : l->range_lo;
        l->range_hi = hi > l->range_hi ? hi : l->range_hi;
      }
    }
  }
  if (saved) tq_model_set_deploy_simulation(m, 1);
  return TQ_OK;
}

tq_status tq_model_ranges_from_ema(tq_model *m) {
  for (int i = 1; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    if (!tq_layer_has_act_quantizer(l) || l->act_q.kind == TQ_Q_NONE) continue;
    if (!l->ema_init)
      return tq_fail(TQ_ERR_ARG,
                     "%s: no moving-average range (the model was not trained with quantization)",
                     l->name);
    l->range_lo = l->ema_lo;
    l->range_hi = l->ema_hi;
    l->has_range = 1;
  }
  return TQ_OK;
}

tq_status tq_model_set_static(tq_model *m, int enable, tq_range_mode mode) {
  if (!enable) {
    m->use_static = 0;
    return TQ_OK;
  }
  for (int i = 1; i < m->nlayers; i++) {
    tq_layer *l = &m->layers[i];
    if (!tq_layer_has_act_quantizer(l) || l->act_q.kind == TQ_Q_NONE) continue;
    if (!l->has_range)
      return tq_fail(TQ_ERR_ARG, "%s: no calibrated range for static quantization", l->name);
    tq_status st = tq_quantizer_static_params(&l->act_q, l->range_lo, l->range_hi, mode, &l->qstatic);
    if (st) return tq_fail_prefix(st, "%s", l->name);
    l->has_static = 1;
  }
  m->use_static = 1;
  m->static_mode = (int)mode;
  tq_sim_plan(m);
  return TQ_OK;
}

int tq_model_is_static(const tq_model *m) { return m->use_static; }

void tq_model_set_deploy_simulation(tq_model *m, int on) {
  if (on) {
    tq_sim_plan(m);
    return;
  }
  for (int i = 0; i < m->nlayers; i++) memset(&m->layers[i].sim, 0, sizeof m->layers[i].sim);
}
