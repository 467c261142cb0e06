/* The model zoo (SPEC §2): architectures with Keras layer names and the study's
 * activation-quantizer slots (linear Activation layers named activation, activation_1, ...). */
#ifndef TINYQ_ZOO_H
#define TINYQ_ZOO_H

#include "tinyq/model.h"
#include "tinyq/train.h" /* tq_loss: a model's natural loss */

typedef struct {
  tq_shape3 input; /* 0 = the model's reference input */
  int classes;     /* 0 = the model's reference class count */
} tq_zoo_options;

typedef struct {
  const char *name;        /* CLI name: resnet8, dscnn, ... */
  const char *description;
  tq_shape3 input;         /* reference input */
  int classes;             /* reference classes (0 for the autoencoder) */
  tq_loss loss;            /* natural loss */
  tq_init init;            /* kernel initialiser */
  const char *widths;      /* the width multipliers it takes ("0.35, 0.5, ..."); NULL: none */
  float width;             /* its default width multiplier */
} tq_zoo_entry;

int tq_zoo_count(void);
const tq_zoo_entry *tq_zoo_get(int i);
const tq_zoo_entry *tq_zoo_find(const char *name);
/* Builds (but does not finalize) the named model. Error lists the known names. */
tq_status tq_zoo_build(tq_model **out, const char *name, const tq_zoo_options *opt);
/* The same with a width multiplier, one of the entry's widths (0: its default). A width for a model
 * without one is an error. */
tq_status tq_zoo_build_width(tq_model **out, const char *name, const tq_zoo_options *opt, float width);

#endif
