#ifndef TINYQ_MODELS_ZOO_INTERNAL_H
#define TINYQ_MODELS_ZOO_INTERNAL_H
#include "tinyq/zoo.h"

/* Each builder returns an unfinalized model, or NULL with the error recorded. */
tq_model *tq_build_resnet8(tq_shape3 input, int classes);
tq_model *tq_build_dscnn(tq_shape3 input, int classes);
tq_model *tq_build_fc_autoencoder(tq_shape3 input, int classes);
tq_model *tq_build_mobilenetv1(tq_shape3 input, int classes);
tq_model *tq_build_mobilenetv2(tq_shape3 input, int classes, float width);
tq_model *tq_build_efficientnetb0(tq_shape3 input, int classes);

/* The MLPerf Tiny classifier head on the feature map x: average pooling over the whole map, an
 * activation-quantizer slot, flatten, dense with `classes` units and the output's quantizer
 * slot. Returns the last layer (negative after an error, as the layer builders). */
int tq_zoo_classifier_head(tq_model *m, int x, int classes);

/* Gives `layer` the name printf(fmt, ...) (the explicit names of Keras applications); returns the
 * layer, or -1 as the layer builders after an error (also when `layer` is already -1). */
int tq_zoo_name(tq_model *m, int layer, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Keras applications' _make_divisible(v, 8): v rounded to the nearest multiple of 8, at least 8
 * and not below 90 % of v (channel counts of width-scaled models). */
int tq_zoo_divisible8(double v);

/* Builders record errors in the model; this frees it and returns NULL when one happened. */
tq_model *tq_zoo_check(tq_model *m, int last);
#endif
