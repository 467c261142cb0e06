/* What train, eval and search share: loading a dataset split for a model, the task metadata
 * stored in model files, and the per-model default recipes. */
#ifndef TINYQ_CLI_TASK_H
#define TINYQ_CLI_TASK_H

#include "tinyq/train.h"

typedef struct {
  const char *model;
  int epochs, batch;
  float lr;
  const char *schedule;
  const char *augment;
} tq_recipe;

/* The default recipe of a zoo model (tinyq train without options); model NULL or "": a model
 * file's own architecture. NULL, with the error printed, for a model without one. */
const tq_recipe *tq_recipe_for(const char *model);
/* A piecewise schedule holds absolute rates, so --lr alone would change nothing: the recipe's
 * schedule with every rate scaled by lr / the recipe's rate, into out (others unchanged). */
tq_status tq_recipe_schedule_for_lr(const tq_recipe *r, double lr, char *out, size_t n);

/* Loads split `train_split` of `data` (spec as tq_dataset_load) with scaling (NULL or "": unit);
 * prints nothing. */
tq_status tq_task_load_data(tq_dataset *d, const char *data, int train_split, const char *scaling);
/* A setting of a model file's training task (the "task" object of its metadata, as train writes
 * it) into opt when opt is empty (the option was not given). */
void tq_task_setting(char *opt, size_t n, const char *meta, const char *key);
/* Keeps the first `limit` samples (limit <= 0: all). */
tq_status tq_task_limit(tq_dataset *d, int limit);

#endif
