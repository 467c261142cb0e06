/* Integer deployment (SPEC §6): lowering a QAT model with static activation scales to an integer
 * graph executed by the runtime (runtime/tq_rt.h), a liveness-based static memory plan, integer
 * evaluation inside tinyq, and C code generation. */
#ifndef TINYQ_DEPLOY_H
#define TINYQ_DEPLOY_H

#include <stdio.h>

#include "tinyq/audio.h"
#include "tinyq/model.h"

typedef struct tq_dmodel tq_dmodel; /* the integer graph */

/* Lowers m (which must use static activation scales, tq_model_set_static) to integer operations.
 * Tensors that have no activation quantizer of their own (e.g. a convolution feeding a residual
 * Add) get a symmetric power-of-two scale from their calibrated range (tq_model_calibrate) at the
 * width of the model's activations (8 bits when every activation quantizer has at most 8). m's
 * static-mode forward simulates every rounding of the result (src/nn/simulate.h: the same chains,
 * tensors and requantization parameters), so tq_deploy_agreement measures float rounding only.
 * Errors name the layer and the reason (unsupported layer, bit-width beyond the runtime,
 * float-only activation, missing calibration). */
tq_status tq_deploy_lower(tq_dmodel **out, const tq_model *m);
void tq_deploy_free(tq_dmodel *d);

/* Runs n samples (float input, the model's input layout) through the integer graph with the same
 * runtime kernels the generated code calls. out_codes (n * output size) receives the output
 * codes, out_float (may be NULL) their dequantized values. */
tq_status tq_deploy_run(tq_dmodel *d, const float *x, int n, int32_t *out_codes, float *out_float);

/* ---- Agreement of the integer graph with the fake-quantized model (simulated = deployed).
 * The model's static-mode forward simulates every rounding and clamp of the lowering, so both
 * sides should produce the same codes up to float rounding at ties. Each lowered tensor is compared
 * with the output of the layer it is named after (the fake-quant value v as the code
 * zp + rha(v / scale)); the output tensor also by the argmax of its codes (first maximum). */
typedef struct {
  char name[64];   /* the tensor: the layer whose output it is */
  char op[64];     /* the layer of the operation that writes it */
  long values;     /* compared values */
  long beyond1;    /* values more than one code step apart */
  long max_step;   /* largest difference in codes */
} tq_agree_tensor;

typedef struct {
  long samples, top1_same; /* predictions (argmax of the output codes) that agree */
  long values, within1;    /* output values, and those at most one step apart */
  long max_step;           /* largest output code difference */
  int ntensors;
  tq_agree_tensor *tensors; /* in operation order */
} tq_agreement;

/* The bounds the project promises (README, "Integer deployment"): top-1 agreement and output values
 * within one step. */
#define TQ_AGREE_MIN_TOP1 0.995
#define TQ_AGREE_MIN_WITHIN1 0.99

/* Adds n samples (x: the model's input layout) to a (zero-initialised the first time). m must be
 * the model d was lowered from, still in static mode; its forward runs in batches of its max
 * batch. out_codes / out_float (each may be NULL) receive the integer model's output as
 * tq_deploy_run gives it, so that a caller needs no second integer run. */
tq_status tq_deploy_agreement(tq_agreement *a, tq_dmodel *d, tq_model *m, const float *x, int n,
                              int32_t *out_codes, float *out_float);
/* Index in a->tensors of the first tensor (in operation order) with a value more than one step
 * apart, or -1. */
int tq_agreement_first_divergence(const tq_agreement *a);
/* 1 when a meets the bounds: top-1 (only when classify) and within one step. */
int tq_agreement_ok(const tq_agreement *a, int classify);
void tq_agreement_free(tq_agreement *a);

size_t tq_deploy_input_size(const tq_dmodel *d);
size_t tq_deploy_output_size(const tq_dmodel *d);
size_t tq_deploy_arena_bytes(const tq_dmodel *d);  /* static arena of the generated code (batch 1) */
size_t tq_deploy_weight_bytes(const tq_dmodel *d); /* weights, biases and requantization tables */
/* The plan: one line per operation (kernel, output tensor, type, scale, accumulator width,
 * arena offsets), then arena and weight totals. */
void tq_deploy_print_plan(const tq_dmodel *d, FILE *out);

/* Writes model.h, model.c, main_host.c (a test driver), the runtime sources and a Makefile into
 * dir (created if missing). runtime_dir: where runtime/ sources are. All files are written to
 * temporaries first: an error leaves nothing partial. */
tq_status tq_deploy_emit_c(const tq_dmodel *d, const char *dir, const char *runtime_dir);

/* tinyq export --frontend: the PCM front-end of kind (MFCC for a 49x10x1 classifier, log-mel for
 * an auto-encoder of 640 values) as single-precision C for the MCU, added to an export that
 * tq_deploy_emit_c wrote into dir: tables, API in model.h, sources from runtime_dir/frontend,
 * Makefile.frontend. tq_deploy_frontend_check refuses (one line) a model whose shapes do not fit. */
tq_status tq_deploy_frontend_check(const tq_dmodel *d, tq_feature_kind kind);
tq_status tq_deploy_emit_frontend(const tq_dmodel *d, tq_feature_kind kind, const char *dir, const char *runtime_dir);

#endif
