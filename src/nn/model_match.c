/* Weight transfer by structure: two models of the same network whose layer names differ (a Keras
 * import and the zoo model with the study's names and quantizer slots). */
#include <stdlib.h>

#include "nn/model_internal.h"

/* Layers that pass values through unchanged in float: the zoo's activation-quantizer slots (and
 * the import's input slot), dropout. Their counterpart is their input's. */
static int looked_through(const tq_layer *l) {
  return (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR) || l->type == TQ_L_DROPOUT;
}

/* The activation a ReLU or Activation layer computes (-1 for other layers, or another max_value):
 * Keras writes the same ReLU as ReLU() or Activation('relu'). */
static int activation_of(const tq_layer *l) {
  if (l->type == TQ_L_ACTIVATION) return (int)l->act;
  if (l->type != TQ_L_RELU) return -1;
  return l->relu_max == 0 ? (int)TQ_ACT_RELU : l->relu_max == 6 ? (int)TQ_ACT_RELU6 : -2;
}

static int same_kind(const tq_layer *a, const tq_layer *b) {
  int fa = activation_of(a), fb = activation_of(b);
  if (fa != -1 || fb != -1) return fa == fb && fa != -2;
  return a->type == b->type;
}

/* Layer j of src resolved through looked-through layers. */
static int resolve(const tq_model *src, int j) {
  while (j > 0 && looked_through(&src->layers[j])) j = src->layers[j].inputs[0];
  return j;
}

/* Whether src layer j reads the src layers `want` (as a set: Add and Multiply commute). */
static int reads(const tq_model *src, int j, const int *want, int n) {
  const tq_layer *s = &src->layers[j];
  if (s->ninputs != n) return 0;
  int a = resolve(src, s->inputs[0]), b = n > 1 ? resolve(src, s->inputs[1]) : -1;
  if (n == 1) return a == want[0];
  return (a == want[0] && b == want[1]) || (a == want[1] && b == want[0]);
}

/* The counterpart in src of dst layer d, whose inputs map to want[]: the first untaken layer of
 * the same kind reading them, one with the same parameter count first (a ResNet's main and
 * shortcut convolutions read the same tensor). -1 if none. */
static int counterpart(tq_layer *d, const tq_model *src, const int *want, const char *taken) {
  int any = -1;
  for (int j = 1; j < src->nlayers; j++) {
    tq_layer *s = &src->layers[j];
    if (taken[j] || looked_through(s) || !same_kind(d, s) || !reads(src, j, want, d->ninputs)) continue;
    if (tq_layer_param_values(s) == tq_layer_param_values(d)) return j;
    if (any < 0) any = j;
  }
  return any;
}

static tq_status walk(tq_model *dst, const tq_model *src, int *map, char *taken) {
  map[0] = 0;
  for (int i = 1; i < dst->nlayers; i++) {
    tq_layer *d = &dst->layers[i];
    if (looked_through(d)) {
      map[i] = map[d->inputs[0]];
      continue;
    }
    int want[2] = {map[d->inputs[0]], d->ninputs > 1 ? map[d->inputs[1]] : -1};
    int j = counterpart(d, src, want, taken);
    if (j < 0)
      return tq_fail(TQ_ERR_ARG, "layer %s (%s) has no counterpart in the source model", d->name,
                     tq_layer_type_name(d->type));
    tq_layer *s = &src->layers[j];
    tq_status st = tq_layer_param_values(d) || tq_layer_param_values(s) ? tq_layer_copy_params(d, s) : TQ_OK;
    if (st) return st;
    map[i] = j;
    taken[j] = 1;
  }
  for (int j = 1; j < src->nlayers; j++)
    if (!taken[j] && tq_layer_param_values(&src->layers[j]))
      return tq_fail(TQ_ERR_ARG, "the source model's layer %s (%s) has no counterpart here", src->layers[j].name,
                     tq_layer_type_name(src->layers[j].type));
  return TQ_OK;
}

tq_status tq_model_copy_weights_by_structure(tq_model *dst, const tq_model *src) {
  int *map = calloc((size_t)dst->nlayers, sizeof *map);
  char *taken = calloc((size_t)src->nlayers, 1);
  tq_status st = map && taken ? walk(dst, src, map, taken) : tq_fail(TQ_ERR_MEMORY, "out of memory");
  free(map);
  free(taken);
  return st;
}
