/* The model graph: named layers in creation (= topological) order, Keras auto-naming, parameters,
 * per-batch activation buffers, float forward/backward, and quantizer attachment points. */
#ifndef TINYQ_MODEL_H
#define TINYQ_MODEL_H

#include <stddef.h>

#include "tinyq/core.h"
#include "tinyq/kernels.h"
#include "tinyq/quant.h"

typedef enum {
  TQ_L_INPUT = 0,
  TQ_L_CONV2D,
  TQ_L_DEPTHWISE,
  TQ_L_DENSE,
  TQ_L_BATCHNORM,
  TQ_L_RELU,       /* keras.layers.ReLU (max_value optional: ReLU6) -> "re_lu" */
  TQ_L_ACTIVATION, /* keras.layers.Activation -> "activation"; linear = activation-quantizer slot */
  TQ_L_MAXPOOL,
  TQ_L_AVGPOOL,
  TQ_L_GAP,
  TQ_L_ADD,
  TQ_L_MULTIPLY,   /* channel-broadcast multiply (squeeze-excite) */
  TQ_L_FLATTEN,
  TQ_L_DROPOUT,
  TQ_L_ZEROPAD,
  TQ_L_RESHAPE,    /* keras.layers.Reshape: the same values in another (h, w, c) */
  TQ_L_COUNT       /* a new type needs its row in the layer-type table (src/nn/layer_types.c) */
} tq_layer_type;

typedef enum { TQ_ACT_LINEAR = 0, TQ_ACT_RELU, TQ_ACT_RELU6, TQ_ACT_SIGMOID, TQ_ACT_SWISH, TQ_ACT_SOFTMAX } tq_act;

typedef struct {
  int h, w, c; /* per-sample shape; vectors have h = w = 1 */
} tq_shape3;

static inline size_t tq_shape_size(tq_shape3 s) { return (size_t)s.h * s.w * s.c; }
/* The largest per-sample tensor a model may have: sizes are ints in the layer configuration,
 * so anything larger is refused when the layer is built, before any arithmetic can overflow. */
#define TQ_MAX_SAMPLE_VALUES 2147483647

typedef struct {
  float *value;
  float *grad;
  float *opt_m, *opt_v; /* optimizer state (Adam moments / SGD velocity in opt_m) */
  size_t size;
  int rank;
  int dims[4];
  int trainable;
} tq_param;

/* Deployment simulation of the static-mode forward (src/nn/simulate.c, planned by
 * tq_model_set_static): the integer lowering's rounding, where the fake-quant model has its own. */
typedef struct {
  int planned;       /* the plan covers this layer (off: static scales with QAT's own rounding) */
  int requant;       /* first layer of a lowered operation: its output is recomputed as the runtime
                        requantizes it into `out` (clamped to [lo, hi]) */
  int from_input;    /* activation slot: quantizes the float model input */
  int on_grid;       /* activation slot: its operation's requantization already wrote its codes */
  tq_qstatic in[2];  /* requant: the tensors of its inputs (step and zero point) */
  tq_qstatic out;    /* requant: the tensor the operation writes */
  int32_t lo, hi;    /* requant: output clamp in codes (fused ReLU / ReLU6 included) */
} tq_layer_sim;

typedef struct tq_layer {
  tq_layer_type type;
  char name[64];
  int inputs[2];
  int ninputs;
  int consumers; /* how many layers read this layer's output */
  tq_shape3 in_shape, out_shape;

  /* configuration */
  int filters, units, multiplier; /* conv filters, dense units, depthwise multiplier */
  int kh, kw, sh, sw;
  tq_padding padding;
  int pad[4]; /* zero padding: top, bottom, left, right */
  tq_shape3 target; /* TQ_L_RESHAPE: the output shape */
  int use_bias;
  tq_act act;          /* TQ_L_ACTIVATION */
  float relu_max;      /* TQ_L_RELU: 0 = none, 6 = ReLU6 */
  float dropout_rate;
  int dropout_per_sample; /* TQ_L_DROPOUT: Keras noise_shape (None, 1, 1, 1): one draw per sample
                             drops or keeps the whole sample (EfficientNet's drop-connect) */
  float l2;            /* kernel L2 regularisation factor (Keras kernel_regularizer=l2(l2)) */
  float bn_momentum, bn_eps;
  tq_conv_shape geom;  /* for conv/depthwise/pool, with n = max batch */

  /* parameters (size 0 when absent) */
  tq_param kernel, bias, gamma, beta, moving_mean, moving_var;

  /* quantization (kind TQ_Q_NONE = float) */
  tq_quantizer kernel_q, bias_q, act_q;
  /* Static (deployment) quantization, SPEC §6: the range of this layer's output (activation
   * slots: of the quantizer's input), from calibration or from moving averages kept during QAT. */
  int has_range;
  float range_lo, range_hi;
  int ema_init;
  float ema_lo, ema_hi;
  int has_static;       /* activation slot: use qstatic instead of per-batch scales */
  tq_qstatic qstatic;
  tq_layer_sim sim;
  int bn_folded_into; /* BN layer: index of the conv/dense it is folded into during QAT, or -1 */
  int folded_bn;      /* conv/dense: index of the BN folded into it during QAT, or -1 */
  int bn_batch_stats; /* folded BN: the last training forward normalised with batch statistics */
  int bn_stats_given; /* BN: the layer before it left this forward's batch statistics in aux2 + C */
  uint64_t dropout_key; /* Dropout fused into the batch norm before its ReLU: this forward's draws */

  /* per-batch buffers, sized for the model's max batch */
  float *out;   /* (N, out_shape) */
  float *dout;  /* gradient w.r.t. out, during the layer's backward step (buffers are shared between
                   layers whose gradients are not alive at the same time) */
  float *aux;   /* layer-specific saved state: BN xhat, dropout mask, maxpool argmax, pre-quant input */
  float *aux2;  /* BN invstd, quantized kernel, ... */
  float *aux3;
} tq_layer;

typedef struct tq_model tq_model;

/* ---- Building. Each builder returns the new layer's index, or -1 after recording an error
 * (which also makes tq_model_finalize fail). `in` is a layer index. */
tq_model *tq_model_new(const char *arch, tq_shape3 input);
int tq_conv2d(tq_model *m, int in, int filters, int kh, int kw, int sh, int sw, tq_padding pad);
int tq_depthwise(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad, int multiplier);
int tq_dense(tq_model *m, int in, int units);
int tq_batchnorm(tq_model *m, int in);
int tq_relu(tq_model *m, int in, float max_value);
int tq_activation(tq_model *m, int in, tq_act act);
int tq_maxpool(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad);
int tq_avgpool(tq_model *m, int in, int kh, int kw, int sh, int sw, tq_padding pad);
int tq_gap(tq_model *m, int in);
int tq_add(tq_model *m, int a, int b);
int tq_multiply(tq_model *m, int x, int s);
int tq_flatten(tq_model *m, int in);
int tq_dropout(tq_model *m, int in, float rate);
/* Dropout with Keras' noise_shape (None, 1, 1, 1): in training each sample is zeroed at `rate` as a
 * whole, else scaled by 1 / (1 - rate) (drop-connect); an identity at inference. */
int tq_dropout_per_sample(tq_model *m, int in, float rate);
int tq_zeropad(tq_model *m, int in, int top, int bottom, int left, int right);
/* The same values as an h x w x c tensor (Keras Reshape): h * w * c must be the input's size. */
int tq_reshape(tq_model *m, int in, int h, int w, int c);
void tq_layer_set_l2(tq_model *m, int layer, float l2);
void tq_layer_set_bias(tq_model *m, int layer, int use_bias);
/* Gives a layer an explicit name instead of its Keras auto-name (imported models keep their
 * file's names): 1..63 printable ASCII characters, unique in the model. */
tq_status tq_layer_set_name(tq_model *m, int layer, const char *name);

typedef enum { TQ_INIT_GLOROT_UNIFORM = 0, TQ_INIT_HE_NORMAL } tq_init;
/* Allocates parameters and buffers for batches up to max_batch and initialises weights
 * (kernels with `init`, biases 0, BN gamma 1 beta 0 mean 0 var 1). max_batch 0: parameters
 * only, no activation buffers (summary, stats: shapes need no activations); such a model cannot
 * run. Fails with the memory it would need when that is over the limit (tq_mem_limit). */
tq_status tq_model_finalize(tq_model *m, int max_batch, tq_init init, uint64_t seed);
void tq_model_free(tq_model *m);

/* ---- Inspection */
int tq_model_num_layers(const tq_model *m);
tq_layer *tq_model_layer(tq_model *m, int i);
const tq_layer *tq_model_layer_c(const tq_model *m, int i);
int tq_model_find(const tq_model *m, const char *name); /* -1 if absent */
const char *tq_model_arch(const tq_model *m);
tq_shape3 tq_model_input_shape(const tq_model *m);
tq_shape3 tq_model_output_shape(const tq_model *m);
int tq_model_max_batch(const tq_model *m);
const char *tq_layer_type_name(tq_layer_type t); /* Keras class name: "Conv2D", "ReLU", ... */
/* What a layer's type carries (its row in the layer-type table): a kernel and bias with their
 * quantizers (Conv2D, DepthwiseConv2D, Dense), or an activation quantizer (Activation). */
int tq_layer_has_kernel(const tq_layer *l);
int tq_layer_has_act_quantizer(const tq_layer *l);
/* The layer type a quantization configuration names by class: the Keras class of a type with
 * quantizers or its QKeras name ("Conv2D" or "QConv2D", "Activation" or "QActivation"); -1 for
 * any other text. */
int tq_layer_type_of_qclass(const char *cls);
size_t tq_layer_params(const tq_layer *l);       /* all parameters incl. BN moving statistics */
size_t tq_layer_macs(const tq_layer *l);
size_t tq_model_params(const tq_model *m);
size_t tq_model_macs(const tq_model *m);
/* All parameter tensors in a fixed order (layer order; kernel, bias, gamma, beta, mean, var). */
int tq_model_num_params(const tq_model *m);
tq_param *tq_model_param(tq_model *m, int i, int *layer_index, const char **param_name);
/* Keras-like model.summary() */
void tq_model_summary(const tq_model *m, FILE *out);

/* ---- Execution. x: (n, input shape). Returns the output buffer (n, output shape), owned by the
 * model. training: batch statistics in BN, dropout on, stochastic rounding on; then the returned
 * buffer may be another layer's (a last layer that only hands its input on is skipped): read the
 * output through the returned pointer. */
const float *tq_model_forward(tq_model *m, const float *x, int n, int training, tq_rng *rng);
/* Backward from the gradient w.r.t. the output (n, output shape); accumulates parameter grads. */
void tq_model_backward(tq_model *m, const float *dout, int n);
void tq_model_zero_grad(tq_model *m);
/* Sum of l2 * ||kernel||^2 over layers (the Keras regularisation loss) and its gradient added
 * into the kernel grads. */
float tq_model_l2_loss(const tq_model *m);
void tq_model_l2_grad(tq_model *m);

/* ---- Quantization-aware training (after tq_model_finalize).
 * Kernel/bias quantizers on a Conv2D, DepthwiseConv2D or Dense layer (either may be TQ_Q_NONE);
 * a kernel quantizer written with alpha None trains as auto_po2 (SPEC 1.1). */
tq_status tq_layer_set_quantizers(tq_model *m, int layer, const tq_quantizer *kernel_q,
                                  const tq_quantizer *bias_q);
/* QKeras' exact power-of-two scale floor instead of tinyq's fix (tinyq/quant.h, po2_floor_fix):
 * on for reproducing the study's collapse; applies to the model's current and later quantizers. */
void tq_model_set_qkeras_po2_floor(tq_model *m, int on);
/* QAT: while frozen, batch norms folded into conv/dense keep their moving statistics (the fold
 * uses them either way). Updating them from the quantized layer's own output lets quantization
 * error feed back into the fold; at 4 bits that drifts (README, "4-bit drift"). */
void tq_model_freeze_bn_stats(tq_model *m, int frozen);
int tq_model_qkeras_po2_floor(const tq_model *m);
/* The quantizer of an Activation layer (an activation-quantizer slot). */
tq_status tq_layer_set_act_quantizer(tq_model *m, int layer, const tq_quantizer *q);
/* Folds batch-norm layer `bn` into the conv/dense `layer` that feeds only it (SPEC 1.5). */
tq_status tq_model_fold_bn(tq_model *m, int layer, int bn);
/* Folds every BN that directly follows a conv/dense with no other consumer; returns the count. */
int tq_model_fold_all_bn(tq_model *m);
/* ---- Static activation scales (SPEC §6).
 * Calibration: runs n samples through the model (inference mode) and records every layer's
 * output range (slots: the quantizer's input range). */
tq_status tq_model_calibrate(tq_model *m, const float *x, int n);
/* Uses the moving-average ranges kept during QAT (momentum 0.99 over training batches). */
tq_status tq_model_ranges_from_ema(tq_model *m);
/* Fixes every activation slot's scale and zero point from its range (tq_quantizer_static_params)
 * and switches the model to static activation quantization (static = 1) or back (0). */
tq_status tq_model_set_static(tq_model *m, int enable, tq_range_mode mode);
int tq_model_is_static(const tq_model *m);
/* Static mode simulates every rounding of the integer lowering (tq_deploy_lower) — on from
 * tq_model_set_static. Off: the static scales with the fake-quant model's own rounding, which is
 * what QAT trains; for showing what the simulation changes. */
void tq_model_set_deploy_simulation(tq_model *m, int on);

/* The folded (batch norm applied, SPEC 1.5), not yet quantized kernel (kernel.size floats) and
 * bias (output-channel floats) of a conv/dense layer, as QAT feeds them to its quantizers. */
tq_status tq_layer_folded_weights(const tq_model *m, int layer, float *kernel, float *bias);

/* True when any layer carries a quantizer. */
int tq_model_is_quantized(const tq_model *m);

/* ---- Model file (versioned, self-describing, little-endian, CRC-32 checked).
 * Layout: "TINYQMDL" | u32 version | u32 header bytes | header JSON (architecture: every layer
 * with its type, inputs, configuration and quantizers; `meta_json` from the caller; tensor
 * table) | u64 payload bytes | payload (float32 tensors, optimizer moments when with_opt) |
 * u32 CRC-32 of everything before it. Written to a temporary file, then renamed. */
#define TQ_MODEL_FILE_VERSION 1
tq_status tq_model_save(const char *path, const tq_model *m, const char *meta_json, int with_opt);
/* Rebuilds the graph from the file, finalizes it for max_batch, loads the tensors (and optimizer
 * state when present). *meta_json (caller frees with tq_free) receives the caller's metadata. */
tq_status tq_model_load(const char *path, tq_model **out, char **meta_json, int max_batch);
/* ---- Where training time goes: wall time of every layer's forward and backward passes while the
 * profile is on, with the floating-point operations they did (2 per MAC forward; backward 2 per
 * MAC for the kernel's gradient, when the layer has one, and 2 for the input's, when it is needed:
 * not for the first conv or dense layer). */
typedef struct {
  double forward_s, backward_s;
  double forward_flop, backward_flop;
  long forward_calls, backward_calls;
} tq_layer_profile;
tq_status tq_model_profile(tq_model *m, int enable); /* enabling starts from zero */
const tq_layer_profile *tq_model_layer_profile(const tq_model *m, int layer); /* NULL when off */
/* The table: per layer (and pass) ms per call, GFLOP/s, share of the profiled time, and the share
 * of peak_gflops (the machine's measured FMA peak; 0 leaves that column out). */
void tq_model_profile_print(const tq_model *m, FILE *f, double peak_gflops);
/* The floating-point operations of one training step on n samples, counted as the profile counts
 * them (the direct products; Winograd does fewer multiplies): with the machine's FMA peak, the
 * step time no implementation of the same arithmetic can beat. */
double tq_model_step_flop(const tq_model *m, int n);

/* Copies parameters layer by layer (matched by name) from src to dst: the QAT initialisation
 * from a float model. Every dst layer with parameters needs its namesake in src, of the same type
 * and parameter shapes (batch norm's epsilon comes along; its momentum, a training setting, stays). */
tq_status tq_model_copy_weights(tq_model *dst, const tq_model *src);
/* The same, matched by structure rather than by name (an import mapped onto a zoo model): the
 * graphs are walked together from the input, a layer's counterpart being the one of the same kind
 * that reads the counterparts of its inputs; linear activations (quantizer slots) and dropout are
 * looked through. Every layer with parameters on either side must find its counterpart. */
tq_status tq_model_copy_weights_by_structure(tq_model *dst, const tq_model *src);

#endif
