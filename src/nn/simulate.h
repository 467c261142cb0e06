/* Private to src/nn and src/deploy: the deployment simulation of the static-mode forward.
 * The integer lowering (src/deploy/lower.c) fuses each conv/dense/pool/add with the layers that
 * need no arithmetic of their own up to the activation slot that fixes its output's scale (a
 * "chain"), requantizes as the runtime does, and gives a chain without a slot a symmetric
 * power-of-two tensor. Both the lowering and the simulation follow chains and derive requantization
 * parameters with the functions below, so that the fake-quant model with static scales rounds the
 * same tensors the same way (README, "Integer deployment"). */
#ifndef TINYQ_NN_SIMULATE_H
#define TINYQ_NN_SIMULATE_H

#include "tinyq/model.h"

#define TQ_CHAIN_MAX 16

/* How the integer lowering treats a layer type (its row in the layer-type table). */
typedef enum {
  TQ_LOWER_NONE,       /* no integer lowering (yet) */
  TQ_LOWER_INPUT,      /* the model input: quantized by the input slot */
  TQ_LOWER_WEIGHTED,   /* Conv2D, DepthwiseConv2D, Dense: a requantizing operation */
  TQ_LOWER_POOL,       /* max, average and global average pools: a requantizing operation */
  TQ_LOWER_ADD,        /* a requantizing operation on two tensors */
  TQ_LOWER_MULTIPLY,   /* a feature map times a per-channel vector (squeeze-excite): requantizing */
  TQ_LOWER_ACTIVATION, /* ReLU, Activation: a clamp fused into a chain, or a requantization */
  TQ_LOWER_ALIAS,      /* Dropout, Flatten, Reshape: the input's tensor itself */
  TQ_LOWER_PAD,        /* ZeroPadding2D: a copy of the input's codes, its zero point (real 0) around */
  TQ_LOWER_FOLDED      /* BatchNormalization: only folded into the conv/dense before it */
} tq_lower_kind;

tq_lower_kind tq_layer_lowering(tq_layer_type t);

typedef struct {
  int slot;        /* the activation slot that ends the chain, or -1 */
  int last;        /* the last layer of the chain */
  int relu;        /* 0 none, 1 ReLU, 2 ReLU with a maximum (relu_max) */
  float relu_max;
  int members[TQ_CHAIN_MAX];
  int nmembers;
} tq_chain;

/* The single consumer of layer j, or -1 (none or several). */
int tq_chain_next(const tq_model *m, int j);
/* The chain that starts at layer `start` (a conv/dense/pool/add, or an activation/ReLU that
 * requantizes a tensor: then the start's own ReLU or slot belongs to the chain). */
void tq_chain_follow(const tq_model *m, int start, tq_chain *c);
/* Width of the tensors without a quantizer of their own: 16 when any activation quantizer has more
 * than 8 bits, else 8. */
int tq_chain_implicit_bits(const tq_model *m);
/* The symmetric power-of-two tensor of a chain without a slot, from the calibrated range
 * [lo, hi] of its last layer. */
void tq_chain_implicit_params(float lo, float hi, int bits, tq_qstatic *q);
/* The output clamp in codes of a chain writing a tensor (zp, [qmin, qmax], scale): a fused ReLU
 * raises the minimum to zp, ReLU6 lowers the maximum to zp + rha(max / scale). */
void tq_chain_clamp(const tq_chain *c, int32_t zp, int32_t qmin, int32_t qmax, double scale,
                    int32_t *lo, int32_t *hi);

/* Requantization arithmetic shared by lowering and simulation. */
int tq_sim_is_po2(double s);
int tq_sim_log2(double s); /* exact for powers of two */
/* real = mult * 2^(-31-n), mult in [2^30, 2^31) (0 and n = 0 for real <= 0). */
void tq_sim_multiplier(double real, int32_t *mult, int *n);

/* ---- Lookup-table activations (sigmoid, swish): one table, read by the lowered operation and by
 * the simulation alike (the runtime's arithmetic, tq_rt.h "Lookup-table activations"). */
typedef struct {
  int wide;        /* 16-bit input: 257 entries interpolated over 256 segments of 2^k codes from
                      x_min; 8-bit input: t[x + 128], 256 entries */
  int32_t x_min, k;
  int16_t t[257];  /* output codes */
} tq_lut;

/* An Activation layer whose function has an integer lowering through a table. */
int tq_layer_is_lut(const tq_layer *l);
/* The table of act from input codes (scale, zero point, codes [in_min, in_max], stored in int16
 * when wide) to output codes (scale, zero point) clamped to [lo, hi]. 0 when the runtime's builder
 * refuses the parameters. */
int tq_lut_make(tq_lut *L, tq_act act, double in_scale, int32_t in_zp, int32_t in_min,
                int32_t in_max, int wide, double out_scale, int32_t out_zp, int32_t lo, int32_t hi);
/* The output code of input code x, as the runtime's tq_rt_lut_* kernels compute it. */
int32_t tq_lut_code(const tq_lut *L, int32_t x);
/* [*lo, *hi] becomes the range of act over it (what the activation quantizer after act sees). */
void tq_lut_range(tq_act act, float *lo, float *hi);

/* ---- The static-mode forward (forward.c), inference only */
/* Plans the simulation (tq_model_set_static): which layers start a lowered operation, the tensors
 * they read and write, which slots quantize the float input. */
void tq_sim_plan(tq_model *m);
/* A static activation slot on l->out (n values). Planned: the input slot as the runtime quantizes
 * float input, every other slot as a requantization (round half up, clamp); not planned: the
 * quantizer's own static rounding. */
tq_status tq_sim_slot(tq_layer *l, size_t n);
/* After the first layer of a lowered operation (l->sim.requant), batch of n samples: its output
 * recomputed as the runtime computes it — the integer accumulator (recovered from the float
 * result for conv/dense, exact from the input codes for pools, adds, multiplies and
 * requantizations), the runtime's requantization (rounding shifts or Q31 multipliers), the output
 * clamp; for sigmoid/swish the input codes through the lowering's table. */
tq_status tq_sim_requant(tq_model *m, tq_layer *l, int n);

#endif
