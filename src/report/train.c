/* A training run directory in the report: log.csv (Keras CSVLogger columns), the model table of
 * its model file, the task it trained on, layers.csv (tinyq train --layer-stats) and roc.csv (an
 * auto-encoder trained on dcase: data). */
#include <stdlib.h>

#include "report/report_internal.h"
#include "tinyq/train.h"

/* model.tqm is the run's result; an interrupted run has only its checkpoints. */
static const char *const MODEL_FILES[] = {"model.tqm", "best.tqm", "last.tqm"};

void tq_report_set_test(tq_report *r, int on) { r->test = on; }

/* {"file", "data", "samples", "loss", "accuracy" (null for mse)} of the model at path on the test
 * split of its task's data. */
static tq_status add_test(cJSON *sec, const char *path, const char *file, const cJSON *task) {
  const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "data"));
  const char *scaling = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "scaling"));
  const char *loss_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "loss"));
  if (!data) return tq_fail(TQ_ERR_FORMAT, "%s: no task data recorded: cannot find its test set", path);
  tq_loss loss = TQ_LOSS_SPARSE_XENT;
  tq_input_scaling sc = TQ_SCALE_UNIT;
  tq_status st = loss_name ? tq_loss_parse(loss_name, &loss) : TQ_OK;
  if (!st && scaling) st = tq_dataset_parse_scaling(scaling, &sc);
  tq_model *m = NULL;
  tq_dataset d = {0};
  double l = 0, a = 0;
  if (!st) st = tq_model_load(path, &m, NULL, 100);
  if (!st) st = tq_dataset_load(&d, data, 0, sc);
  if (!st && tq_shape_size(tq_model_input_shape(m)) != (size_t)d.h * d.w * d.c)
    st = tq_fail(TQ_ERR_ARG, "%s: test samples of %s have %d values, the model takes %zu", path, data,
                 d.h * d.w * d.c, tq_shape_size(tq_model_input_shape(m)));
  if (!st) st = tq_evaluate(m, &d, loss, 100, &l, &a);
  if (!st) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "file", file);
    cJSON_AddStringToObject(t, "data", data);
    cJSON_AddNumberToObject(t, "samples", d.n);
    cJSON_AddNumberToObject(t, "loss", l);
    if (loss == TQ_LOSS_MSE) cJSON_AddNullToObject(t, "accuracy");
    else cJSON_AddNumberToObject(t, "accuracy", a);
    cJSON_AddItemToObject(sec, "test", t);
  }
  tq_dataset_free(&d);
  tq_model_free(m);
  return st;
}

static tq_status add_model(cJSON *sec, const char *dir, int test) {
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
    return test ? add_test(sec, p, MODEL_FILES[i], task) : TQ_OK;
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
  cJSON *roc = NULL; /* an auto-encoder on dcase: the test folder's ROC per machine id */
  if (tq_report_note_file(sec, dir, "roc.csv")) {
    if ((st = tq_report_path(p, sizeof p, dir, "roc.csv")) || (st = tq_report_read_csv(p, &roc))) return st;
  }
  cJSON_AddItemToObject(sec, "roc", roc ? roc : cJSON_CreateNull());
  for (size_t i = 0; i < sizeof MODEL_FILES / sizeof MODEL_FILES[0]; i++)
    tq_report_note_file(sec, dir, MODEL_FILES[i]);
  return add_model(sec, dir, r->test);
}
