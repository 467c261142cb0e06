/* A training run directory in the report: log.csv (Keras CSVLogger columns), the model table of
 * its model file, the task it trained on, and layers.csv (tinyq train --layer-stats). */
#include <stdlib.h>

#include "report/report_internal.h"

/* model.tqm is the run's result; an interrupted run has only its checkpoints. */
static const char *const MODEL_FILES[] = {"model.tqm", "best.tqm", "last.tqm"};

static tq_status add_model(cJSON *sec, const char *dir) {
  for (size_t i = 0; i < sizeof MODEL_FILES / sizeof MODEL_FILES[0]; i++) {
    if (!tq_report_file_exists(dir, MODEL_FILES[i])) continue;
    char p[4096];
    tq_status st = tq_report_path(p, sizeof p, dir, MODEL_FILES[i]);
    tq_model *m = NULL;
    char *meta = NULL;
    if (!st) st = tq_model_load(p, &m, &meta, 0);
    if (st) return st;
    cJSON_AddItemToObject(sec, "model", tq_report_model_table(m, MODEL_FILES[i]));
    cJSON *mj = meta ? cJSON_Parse(meta) : NULL;
    cJSON *task = cJSON_DetachItemFromObjectCaseSensitive(mj, "task");
    cJSON_AddItemToObject(sec, "task", task ? task : cJSON_CreateNull());
    cJSON_Delete(mj);
    tq_free(meta);
    tq_model_free(m);
    return TQ_OK;
  }
  cJSON_AddNullToObject(sec, "model");
  cJSON_AddNullToObject(sec, "task");
  return TQ_OK;
}

tq_status tq_report_add_train(tq_report *r, const char *dir) {
  cJSON *sec = tq_report_section(r, "train", dir);
  if (!sec) return TQ_ERR_MEMORY;
  char p[4096];
  cJSON *log = NULL, *layers = NULL;
  tq_status st = tq_report_path(p, sizeof p, dir, "log.csv");
  if (!st) st = tq_report_read_csv(p, &log);
  if (st) return st;
  cJSON_AddItemToObject(sec, "log", log);
  tq_report_note_file(sec, dir, "log.csv");
  if (tq_report_note_file(sec, dir, "layers.csv")) {
    if ((st = tq_report_path(p, sizeof p, dir, "layers.csv")) || (st = tq_report_read_csv(p, &layers)))
      return st;
  }
  cJSON_AddItemToObject(sec, "layer_stats", layers ? layers : cJSON_CreateNull());
  for (size_t i = 0; i < sizeof MODEL_FILES / sizeof MODEL_FILES[0]; i++)
    tq_report_note_file(sec, dir, MODEL_FILES[i]);
  return add_model(sec, dir);
}
