/* Private to src/nn: the layer-type table, the way ggml keeps type_traits. One row per
 * tq_layer_type says what the type is (Keras class, auto-name stem, inputs, whether it carries a
 * kernel or an activation quantizer, how Keras prints its rank, how the integer lowering treats
 * it) and what it does (shape inference, parameter and MAC counts, parameters, buffers, forward,
 * backward, its configuration in the model file). Building, finalizing, running, saving, loading
 * and summarising a model look a layer's type up here instead of switching on it.
 *
 * A row is defined next to its functions in the file of its family (layers_weighted.c,
 * layers_pool.c, layers_act.c, layers_shape.c); layer_types.c indexes the rows by type. */
#ifndef TINYQ_NN_LAYER_TYPES_H
#define TINYQ_NN_LAYER_TYPES_H

#include <cjson/cJSON.h>

#include "nn/model_internal.h"
#include "nn/simulate.h"

/* One forward or backward pass of a layer over a batch. */
typedef struct {
  int n;              /* samples */
  const float *x;     /* the first input's output, n x in_shape */
  const float *x2;    /* the second input's output (merges), else NULL */
  size_t in_n, out_n; /* values in the batch's input and output */
  tq_conv_shape g;    /* the layer's window geometry for n samples */
  int training;       /* forward: batch statistics, dropout, stochastic rounding */
  tq_rng *rng;
  float *din[2];      /* backward: where the gradient of each input goes (NULL: nobody needs it) */
  /* training: x is the input of a batch norm + ReLU this layer applies as it reads
   * (tq_bn_pre_reader), with pre's statistics; else has_pre is 0 */
  int has_pre;
  tq_bn_relu_pre pre;
} tq_layer_pass;

/* Buffers beyond a layer's output and gradient, in floats, for `batch` samples. */
typedef struct {
  size_t aux, aux2; /* the layer's own (tq_layer.aux, aux2) */
  size_t scratch;   /* the model's shared scratch, during the layer's passes */
} tq_layer_buffers;

/* How Keras prints a layer's output in model.summary(). */
typedef enum {
  TQ_RANK_MAP,   /* (None, H, W, C) */
  TQ_RANK_FLAT,  /* (None, C) */
  TQ_RANK_INPUT, /* as its first input */
  TQ_RANK_SHAPE  /* flat when H = W = 1 (the model input) */
} tq_layer_rank;

typedef struct {
  const char *keras_class; /* "Conv2D": model files and the summary name the type so */
  const char *stem;        /* Keras' auto-name prefix: "conv2d", then "conv2d_1", ... */
  int ninputs;             /* 1; 2 for merges; 0 for the model input */
  int has_kernel;          /* kernel and optional bias with their quantizers, use_bias and l2; a
                              batch norm reading only it may be folded into it */
  int act_slot;            /* an activation-quantizer slot */
  tq_layer_rank rank;
  tq_lower_kind lower;
  /* out_shape (and geom) from in_shape and the configuration; 0 with a one-line reason in
   * why[0..n) when they do not fit. */
  int (*infer)(const tq_model *m, tq_layer *l, char *why, size_t n);
  /* Parameters (trainable; non-trainable: BN's moving statistics) and multiply-accumulates of
   * one sample. NULL: none. */
  void (*count)(const tq_layer *l, size_t *trainable, size_t *frozen, size_t *macs);
  /* Allocates the parameters (tq_layer_param_alloc) and initialises them. NULL: none. */
  tq_status (*alloc_params)(tq_layer *l, tq_init init, tq_rng *rng);
  /* NULL: none. */
  void (*buffers)(const tq_layer *l, size_t batch, tq_layer_buffers *b);
  tq_status (*forward)(tq_model *m, tq_layer *l, const tq_layer_pass *p);
  void (*backward)(tq_model *m, tq_layer *l, const tq_layer_pass *p);
  /* The configuration in the model file's layer entry (NULL: none), and back into a layer just
   * appended: NULL on success, else what is missing or wrong. */
  void (*save)(const tq_layer *l, cJSON *o);
  const char *(*load)(tq_layer *l, const cJSON *o);
} tq_layer_traits;

/* The row of a type. */
const tq_layer_traits *tq_layer_traits_of(tq_layer_type t);
/* The type a model file names by its class, or -1 (the model input is no entry of the file). */
int tq_layer_type_of_class(const char *keras_class);

/* The rows (layers_*.c). */
extern const tq_layer_traits tq_layer_input, tq_layer_conv2d, tq_layer_depthwise, tq_layer_dense,
    tq_layer_batchnorm, tq_layer_relu, tq_layer_activation, tq_layer_maxpool, tq_layer_avgpool,
    tq_layer_gap, tq_layer_add, tq_layer_multiply, tq_layer_flatten, tq_layer_dropout,
    tq_layer_zeropad, tq_layer_reshape;

/* ---- Shared by the rows (layer_types.c) */
tq_status tq_layer_param_alloc(tq_param *p, int rank, const int *dims, int trainable);
/* Window layers (convolutions, pools): geom and out_shape with oc output channels. */
int tq_window_infer(tq_layer *l, int oc, char *why, size_t n);
void tq_window_save(const tq_layer *l, cJSON *o);
int tq_window_load(tq_layer *l, const cJSON *o);
/* Integers of a model file's layer entry: 0 when absent or not numbers. */
int tq_json_int(const cJSON *o, const char *key, int *out);
int tq_json_ints(const cJSON *o, const char *key, int *out, int n);
/* Passes of layers that move values without arithmetic: output = input, din = dout. */
tq_status tq_layer_copy_forward(tq_model *m, tq_layer *l, const tq_layer_pass *p);
void tq_layer_copy_backward(tq_model *m, tq_layer *l, const tq_layer_pass *p);

#endif
