#include "task.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const tq_recipe recipes[] = {
    /* Fashion-MNIST: 15 epochs with a slowly decaying Adam rate and small shifts reaches ~92 %. */
    {"resnet8", 15, 32, 1e-3f, "exp:0.9", "shift=0.1"},
    {"dscnn", 50, 100, 2.5e-4f, "constant", "none"},
    {"fc_autoencoder", 100, 100, 1e-3f, "constant", "none"},
    /* MLPerf Tiny VWW: Adam, batch 50, 0.001 for 20 epochs, 0.0005 for 10, 0.00025 for 20. */
    {"mobilenetv1", 50, 50, 1e-3f, "piecewise:0.001@20,0.0005@10,0.00025", "shift=0.05,flip"},
    /* The larger VWW networks: MobileNetV1's schedule at batch 32 (the study gives none of its own). */
    {"mobilenetv2", 50, 32, 1e-3f, "piecewise:0.001@20,0.0005@10,0.00025", "shift=0.05,flip"},
    {"efficientnetb0", 50, 32, 1e-3f, "piecewise:0.001@20,0.0005@10,0.00025", "shift=0.05,flip"},
};

/* A model file's own architecture (an imported Keras model) has no recipe of its own: it trains
 * with ResNet-8's, the general image classifier's. */
static const tq_recipe file_recipe = {"", 15, 32, 1e-3f, "exp:0.9", "shift=0.1"};

const tq_recipe *tq_recipe_for(const char *model) {
  if (!model || !*model) return &file_recipe;
  for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++)
    if (!strcmp(recipes[i].model, model)) return &recipes[i];
  tq_cli_error("model '%s' has no training recipe (add one to cli/task.c)", model);
  return NULL;
}

tq_status tq_recipe_schedule_for_lr(const tq_recipe *r, double lr, char *out, size_t n) {
  tq_schedule sch;
  tq_status st = tq_schedule_parse(r->schedule, &sch);
  if (st) return st;
  if (sch.kind != TQ_SCHED_PIECEWISE) {
    snprintf(out, n, "%s", r->schedule);
    return TQ_OK;
  }
  for (int i = 0; i < sch.npieces; i++) sch.lrs[i] = (float)(sch.lrs[i] * (lr / r->lr));
  tq_schedule_format(&sch, out, n);
  return TQ_OK;
}

tq_status tq_task_load_data(tq_dataset *d, const char *data, int train_split, const char *scaling) {
  tq_input_scaling sc = TQ_SCALE_UNIT;
  tq_status st = tq_dataset_parse_scaling(scaling && *scaling ? scaling : "unit", &sc);
  if (st) return st;
  return tq_dataset_load(d, data, train_split, sc);
}

void tq_task_setting(char *opt, size_t n, const char *meta, const char *key) {
  if (opt[0]) return;
  cJSON *root = cJSON_Parse(meta ? meta : "{}");
  const char *v = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "task"), key));
  if (v) snprintf(opt, n, "%s", v);
  cJSON_Delete(root);
}

tq_status tq_task_limit(tq_dataset *d, int limit) {
  if (limit <= 0 || limit >= d->n) return TQ_OK;
  tq_dataset s;
  tq_status st = tq_dataset_slice(&s, d, 0, limit);
  if (st) return st;
  tq_dataset_free(d);
  *d = s;
  return TQ_OK;
}
