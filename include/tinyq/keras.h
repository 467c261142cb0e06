/* Importing Keras models: the architecture from Keras' model_config JSON (Functional or Sequential,
 * Keras 2.x serialization), the weights through a reader the caller supplies (tinyq import reads
 * them from an HDF5 file). The graph is built from the file, not matched against the zoo, and keeps
 * the file's layer names. Keras layouts (conv HWIO, depthwise HW·C·M, dense IO) are tinyq's own. */
#ifndef TINYQ_KERAS_H
#define TINYQ_KERAS_H

#include "tinyq/model.h"

typedef struct {
  void *ctx;
  /* Fills dst with weight `weight` (Keras' name without ":0": "kernel", "depthwise_kernel", "bias",
   * "gamma", "beta", "moving_mean", "moving_variance") of layer `layer`; the stored tensor must
   * have exactly the shape dims[0..rank). Fails with a message naming the weight. */
  tq_status (*read)(void *ctx, const char *layer, const char *weight, float *dst, int rank,
                    const int *dims);
  /* How many weights the file holds for `layer` (0 when none; -1 when it cannot tell). */
  int (*count)(void *ctx, const char *layer);
} tq_keras_weights;

/* Builds the model of `model_config` (the JSON text of the HDF5 root attribute), finalized for
 * parameters only (max batch 0: ready to save, summarise or load again), its weights read through
 * `w` (NULL: freshly initialised weights). `training_config` (may be NULL) supplies the loss.
 * A softmax at the model output (Dense(activation='softmax'), Activation('softmax'), Softmax) is
 * left to the loss as in tinyq's zoo and recorded in the metadata; *meta_json (caller frees with
 * tq_free) receives {"import": {...}} for tq_model_save. Errors start with `where` (the file).
 * Layers tinyq cannot represent are refused: "<where>: layer 'NAME' (CLASS): not supported". */
tq_status tq_keras_import(tq_model **out, char **meta_json, const char *model_config,
                          const char *training_config, const tq_keras_weights *w, const char *where);

/* 1 when a model file's metadata says its outputs are logits of a softmax the file's model ends
 * with (an import that dropped it, or a model trained with a cross-entropy loss). */
int tq_keras_meta_output_softmax(const char *meta_json);

#endif
