/* Pooling layer types: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D (rows of the
 * layer-type table). */
#include "nn/layer_types.h"

static int pool_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m;
  return tq_window_infer(l, l->in_shape.c, why, n);
}

static const char *pool_load(tq_layer *l, const cJSON *o) {
  return tq_window_load(l, o) ? NULL : "window missing";
}

/* ---- MaxPooling2D: aux holds each output's argmax for the backward pass */

static void maxpool_buffers(const tq_layer *l, size_t batch, tq_layer_buffers *b) {
  b->aux = batch * tq_shape_size(l->out_shape);
}

static tq_status maxpool_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  tq_maxpool_forward(l->out, (int32_t *)l->aux, p->x, &p->g);
  return TQ_OK;
}

static void maxpool_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  if (p->din[0]) tq_maxpool_backward(p->din[0], l->dout, (const int32_t *)l->aux, &p->g);
}

const tq_layer_traits tq_layer_maxpool = {
    .keras_class = "MaxPooling2D", .stem = "max_pooling2d", .ninputs = 1, .rank = TQ_RANK_MAP,
    .lower = TQ_LOWER_POOL, .infer = pool_infer, .buffers = maxpool_buffers, .forward = maxpool_forward,
    .backward = maxpool_backward, .save = tq_window_save, .load = pool_load};

/* ---- AveragePooling2D */

static tq_status avgpool_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  tq_avgpool_forward(l->out, p->x, &p->g);
  return TQ_OK;
}

static void avgpool_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  if (p->din[0]) tq_avgpool_backward(p->din[0], l->dout, &p->g);
}

const tq_layer_traits tq_layer_avgpool = {
    .keras_class = "AveragePooling2D", .stem = "average_pooling2d", .ninputs = 1, .rank = TQ_RANK_MAP,
    .lower = TQ_LOWER_POOL, .infer = pool_infer, .forward = avgpool_forward, .backward = avgpool_backward,
    .save = tq_window_save, .load = pool_load};

/* ---- GlobalAveragePooling2D: (h, w, c) -> (1, 1, c) */

static int gap_infer(const tq_model *m, tq_layer *l, char *why, size_t n) {
  (void)m, (void)why, (void)n;
  l->out_shape = (tq_shape3){1, 1, l->in_shape.c};
  return 1;
}

static tq_status gap_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  tq_gap_forward(l->out, p->x, p->n, l->in_shape.h * l->in_shape.w, l->in_shape.c);
  return TQ_OK;
}

static void gap_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p) {
  (void)m;
  if (p->din[0]) tq_gap_backward(p->din[0], l->dout, p->n, l->in_shape.h * l->in_shape.w, l->in_shape.c);
}

const tq_layer_traits tq_layer_gap = {
    .keras_class = "GlobalAveragePooling2D", .stem = "global_average_pooling2d", .ninputs = 1,
    .rank = TQ_RANK_FLAT, .lower = TQ_LOWER_POOL, .infer = gap_infer, .forward = gap_forward,
    .backward = gap_backward};
