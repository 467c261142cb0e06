/* Per-layer quantization configurations, as QKeras' model_quantize dictionary: keys are layer
 * names or layer classes (Dense, Conv2D, DepthwiseConv2D, Activation; QDense, QConv2D,
 * QDepthwiseConv2D, QActivation accepted as aliases); a layer's own name wins over its class.
 * Kernel layers take {"kernel_quantizer": "...", "bias_quantizer": "..."}; activation slots take
 * one quantizer string. Applying a configuration folds batch norm into the quantized layers. */
#ifndef TINYQ_QCONFIG_H
#define TINYQ_QCONFIG_H

#include "tinyq/model.h"

/* source names the origin in error messages (a file path). */
tq_status tq_qconfig_apply_json(tq_model *m, const char *json, const char *source);
tq_status tq_qconfig_apply_file(tq_model *m, const char *path);
/* Flat preset: every kernel and activation slot at `bits`, biases at 31 bits; alpha NULL keeps
 * QKeras' defaults (kernels train as auto_po2, activations 'auto'), else "auto" | "auto_po2". */
tq_status tq_qconfig_apply_flat(tq_model *m, int bits, const char *alpha);
/* Replaces the alpha of every quantized_bits / quantized_bits_featuremap ("auto" | "auto_po2"). */
tq_status tq_qconfig_override_alpha(tq_model *m, const char *alpha);
/* The model's quantizers as a configuration JSON (keys = layer names), malloc'd. */
char *tq_qconfig_to_json(const tq_model *m);
/* Loads a float model file and copies its weights into m (layers matched by name). */
tq_status tq_qconfig_init_from(tq_model *m, const char *model_file);

#endif
