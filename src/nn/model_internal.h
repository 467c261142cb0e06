/* Private to src/nn: the model struct. */
#ifndef TINYQ_NN_MODEL_INTERNAL_H
#define TINYQ_NN_MODEL_INTERNAL_H

#include "tinyq/model.h"

#define TQ_MAX_LAYERS 1024
/* One gradient buffer per layer above this many bytes: shared buffers instead (grad_plan.c). The
 * L3 a core of the README's machines reaches is 16-32 MB, and the step's activations compete for it. */
#define TQ_GRAD_SHARE_BYTES (16.0 * 1024 * 1024)

struct tq_model {
  char arch[64];
  tq_shape3 input;
  tq_layer *layers;
  int nlayers, cap;
  int max_batch;
  int finalized;
  tq_status build_error; /* sticky: the first builder error */
  char build_msg[512];
  float *scratch;        /* shared im2col / temp buffer */
  size_t scratch_floats;
  int use_static;         /* activation slots use their static parameters */
  int static_mode;        /* tq_range_mode they were computed with */
  int qkeras_po2_floor;   /* 1: QKeras' po2 scale floor (see quant.h po2_floor_fix) */
  int bn_stats_frozen;    /* QAT: folded batch norms keep their moving statistics */
  float *din_tmp;        /* temp for gradients into inputs with several consumers; QAT's
                            folded-BN statistics (forward only) */
  size_t din_tmp_floats;
  float **grad_bufs;     /* the layers' gradients (dout) point into these (grad_plan.c) */
  size_t *grad_buf_floats; /* their sizes */
  int ngrad_bufs;
  char *grad_opened;     /* per layer: its gradient has been written in this backward pass */
  char *grad_needed;     /* per layer: whether its gradient is needed at all (forward.c); shares
                          * grad_opened's allocation */
  tq_layer_profile *profile; /* per layer, while tq_model_profile is on (else NULL) */
  int bn_pre_off;            /* 1: batch norms write their ReLU's output even where the reader could
                                normalise as it reads (tq_bn_pre_reader): for tests and measurements */
};

/* Building (model.c): appends a layer of `type` reading `in` (and `in2` if >= 0), named with
 * Keras' per-stem counter, with the shape of its input and the configuration of `config` (NULL:
 * none yet); tq_model_infer_layer then infers its shape (the type's row, layer_types.h) and
 * returns its index, or -1 after recording the error (which makes tq_model_finalize fail). */
tq_layer *tq_model_append_layer(tq_model *m, tq_layer_type type, int in, int in2, const tq_layer *config,
                                int *index);
int tq_model_infer_layer(tq_model *m, int index);
/* Parameters without BN's moving statistics (the summary's "Trainable params"). */
size_t tq_layer_trainable_params(const tq_layer *l);

/* Gradient buffers (grad_plan.c): at finalize, every layer's dout is pointed into buffers shared by
 * layers whose gradients are never alive at the same time (share 1), or one per layer (0); freed
 * with the model. tq_model_gradient_floats: the floats they take (needs the consumer counts). */
tq_status tq_model_plan_gradients(tq_model *m, int share);
size_t tq_model_gradient_floats(const tq_model *m, int share);
void tq_model_free_gradients(tq_model *m);

/* QAT buffer aux3 of a conv/dense layer: folded kernel (ks) | folded bias (oc) | inv (oc) |
 * d(quantized kernel) (ks) | d(quantized bias) (oc) | d loss / d inv (oc doubles, 8-byte aligned) |
 * the moving statistics the fold used: 1/sqrt(var + eps) (oc) and mean (oc) — the backward pass
 * needs them as they were, and a training forward updates them. */
static inline size_t tq_qat_dinv_offset(size_t ks, size_t oc) {
  return (2 * ks + 3 * oc + 1) & ~(size_t)1;
}
static inline size_t tq_qat_fold_stats_offset(size_t ks, size_t oc) {
  return tq_qat_dinv_offset(ks, oc) + 2 * oc;
}
static inline size_t tq_qat_aux3_floats(size_t ks, size_t oc) {
  return tq_qat_fold_stats_offset(ks, oc) + 2 * oc;
}

/* QAT, folded batch norm with trained statistics (qat_bn.c): after the layer's forward, normalise
 * its output with batch statistics and update the moving ones; before its backward, the gradient
 * through that normalisation. */
void tq_folded_bn_forward_train(tq_model *m, tq_layer *l, int n, tq_rng *rng);
void tq_folded_bn_backward_train(tq_model *m, tq_layer *bn, int n);
/* The ReLU a batch norm runs fused with in training (layers_act.c), or NULL. */
tq_layer *tq_bn_fused_relu(tq_model *m, const tq_layer *bn);
/* The element-wise Dropout that runs fused with that ReLU and batch norm in training (layers_act.c):
 * the batch norm writes the dropout's output and takes its gradient; or NULL. */
tq_layer *tq_relu_fused_dropout(tq_model *m, const tq_layer *relu);
/* Where layer l's training forward may leave the batch statistics of its output (the floats of
 * tq_batchnorm_stats) for the batch norm that alone reads it, which then skips its own pass over
 * that output (layers_act.c, qat_bn.c); NULL when no batch norm will take them. Marks them given:
 * the caller must fill them in this forward. */
float *tq_bn_stats_sink(tq_model *m, const tq_layer *l, int training);
/* In training, the layer that applies a batch norm fused with its ReLU as it reads the ReLU's
 * output (forward.c), or NULL. */
tq_layer *tq_bn_pre_reader(tq_model *m, const tq_layer *bn);
/* The ReLU an Add runs fused with in training (layers_act.c), or NULL. */
tq_layer *tq_add_fused_relu(tq_model *m, const tq_layer *add);

/* Runs layer i alone in inference mode on the batch already in its inputs; 0 on error. */
int tq_model_forward_layer(tq_model *m, int i, int n);

/* The profile (profile.c): one pass of layer l over n samples took `seconds`. */
/* needed[j]: layer j's gradient is needed (it or a layer before it has trainable parameters). */
void tq_model_mark_needed_gradients(const tq_model *m, char *needed);
void tq_profile_add(tq_model *m, const tq_layer *l, int n, int backward, int input_grad, double seconds);

/* Weight transfer (modelfile.c): a layer's parameter count over its six tensors, and the copy of
 * src's parameters into d when the two agree in type and sizes (batch norm's epsilon too). */
size_t tq_layer_param_values(tq_layer *l);
tq_status tq_layer_copy_params(tq_layer *d, const tq_layer *src);

#endif
