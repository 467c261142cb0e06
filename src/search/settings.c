/* Search settings: defaults, and their JSON form (DIR/search.json), written with exact numbers. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"

/* ---- settings ------------------------------------------------------------------------------------ */

void tq_search_copy(char *dst, size_t n, const char *src) { snprintf(dst, n, "%s", src ? src : ""); }

void tq_search_settings_init(tq_search_settings *s) {
  memset(s, 0, sizeof *s);
  tq_search_copy(s->data, sizeof s->data, "fashion-mnist");
  tq_search_copy(s->scaling, sizeof s->scaling, "unit");
  tq_search_copy(s->schedule, sizeof s->schedule, "constant");
  tq_search_copy(s->optimizer, sizeof s->optimizer, "adam");
  tq_search_copy(s->augment, sizeof s->augment, "none");
  s->trials = 20;
  s->epochs = 1;
  s->train_fraction = 1.0;
  s->batch = 32;
  s->lr = 1e-3;
  s->tuner = TQ_TUNER_BAYESIAN;
  s->seed = 1;
  tq_goal_defaults(&s->goal);
}

void tq_search_settings_free(tq_search_settings *s) {
  free(s->space_json);
  s->space_json = NULL;
}

char *tq_search_settings_json(const tq_search_settings *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "tinyq_search", 1);
  cJSON_AddStringToObject(o, "model", s->model);
  cJSON_AddStringToObject(o, "data", s->data);
  cJSON_AddStringToObject(o, "scaling", s->scaling);
  cJSON_AddStringToObject(o, "init", s->init);
  cJSON_AddNumberToObject(o, "trials", s->trials);
  cJSON_AddNumberToObject(o, "epochs", s->epochs);
  tq_json_add_exact(o, "train_fraction", s->train_fraction);
  cJSON_AddNumberToObject(o, "train_limit", s->train_limit);
  cJSON_AddNumberToObject(o, "max_steps", (double)s->max_steps);
  cJSON_AddNumberToObject(o, "batch", s->batch);
  tq_json_add_exact(o, "lr", s->lr);
  cJSON_AddStringToObject(o, "schedule", s->schedule);
  cJSON_AddStringToObject(o, "optimizer", s->optimizer);
  cJSON_AddStringToObject(o, "augment", s->augment);
  cJSON_AddStringToObject(o, "tuner", tq_tuner_kind_name(s->tuner));
  cJSON_AddNumberToObject(o, "seed", s->seed);
  cJSON_AddNumberToObject(o, "initial_points", s->initial_points);
  if (s->metric[0]) cJSON_AddStringToObject(o, "metric", s->metric); /* absent: the study's metric */
  if (s->width > 0) tq_json_add_exact(o, "width", s->width);         /* absent: the model's default */
  cJSON *g = cJSON_AddObjectToObject(o, "goal");
  if (g) {
    tq_json_add_exact(g, "delta_p", s->goal.delta_p);
    tq_json_add_exact(g, "delta_n", s->goal.delta_n);
    tq_json_add_exact(g, "rate", s->goal.rate);
    tq_json_add_exact(g, "stress", s->goal.stress);
    cJSON_AddNumberToObject(g, "ref_bits", s->goal.ref_bits);
    cJSON_AddNumberToObject(g, "ref_bias_bits", s->goal.ref_bias_bits);
    cJSON_AddNumberToObject(g, "input_bits", s->goal.input_bits);
  }
  cJSON_AddStringToObject(o, "space_file", s->space_file);
  cJSON *space = s->space_json ? cJSON_Parse(s->space_json) : NULL;
  if (space) cJSON_AddItemToObject(o, "space", space);
  char *text = cJSON_Print(o);
  cJSON_Delete(o);
  return text;
}

int tq_search_js_str(const cJSON *o, const char *k, char *dst, size_t n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsString(v)) return 0;
  tq_search_copy(dst, n, v->valuestring);
  return 1;
}

int tq_search_js_num(const cJSON *o, const char *k, double *dst) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
  *dst = v->valuedouble;
  return 1;
}

int tq_search_js_int(const cJSON *o, const char *k, int *dst) {
  double d;
  if (!tq_search_js_num(o, k, &d) || d != floor(d) || fabs(d) > 2147483647.0) return 0;
  *dst = (int)d;
  return 1;
}

tq_status tq_search_settings_parse(tq_search_settings *s, const char *json, const char *source) {
  tq_search_settings_init(s);
  cJSON *o = cJSON_Parse(json ? json : "");
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return tq_fail(TQ_ERR_FORMAT, "%s: not a tinyq search settings file (not a JSON object)", source);
  }
  const char *bad = NULL;
  int oom = 0;
  double d = 0;
  char tuner[32] = "";
  const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "goal");
  const cJSON *space = cJSON_GetObjectItemCaseSensitive(o, "space");
  if (!cJSON_GetObjectItemCaseSensitive(o, "tinyq_search")) bad = "tinyq_search";
  else if (!tq_search_js_str(o, "model", s->model, sizeof s->model)) bad = "model";
  else if (!tq_search_js_str(o, "data", s->data, sizeof s->data)) bad = "data";
  else if (!tq_search_js_str(o, "scaling", s->scaling, sizeof s->scaling)) bad = "scaling";
  else if (!tq_search_js_str(o, "init", s->init, sizeof s->init)) bad = "init";
  else if (!tq_search_js_int(o, "trials", &s->trials) || s->trials < 1) bad = "trials";
  else if (!tq_search_js_int(o, "epochs", &s->epochs) || s->epochs < 1) bad = "epochs";
  else if (!tq_search_js_num(o, "train_fraction", &s->train_fraction) || !(s->train_fraction > 0) ||
           s->train_fraction > 1)
    bad = "train_fraction";
  else if (!tq_search_js_int(o, "train_limit", &s->train_limit) || s->train_limit < 0) bad = "train_limit";
  else if (!tq_search_js_num(o, "max_steps", &d) || d < 0) bad = "max_steps";
  else if (!tq_search_js_int(o, "batch", &s->batch) || s->batch < 1) bad = "batch";
  else if (!tq_search_js_num(o, "lr", &s->lr) || !(s->lr > 0)) bad = "lr";
  else if (!tq_search_js_str(o, "schedule", s->schedule, sizeof s->schedule)) bad = "schedule";
  else if (!tq_search_js_str(o, "optimizer", s->optimizer, sizeof s->optimizer)) bad = "optimizer";
  else if (!tq_search_js_str(o, "augment", s->augment, sizeof s->augment)) bad = "augment";
  else if (!tq_search_js_str(o, "tuner", tuner, sizeof tuner) || tq_tuner_parse_kind(tuner, &s->tuner)) bad = "tuner";
  else if (!tq_search_js_int(o, "seed", &s->seed)) bad = "seed";
  else if (!tq_search_js_int(o, "initial_points", &s->initial_points) || s->initial_points < 0) bad = "initial_points";
  else if (cJSON_GetObjectItemCaseSensitive(o, "width") && (!tq_search_js_num(o, "width", &s->width) || !(s->width > 0)))
    bad = "width";
  else if (cJSON_GetObjectItemCaseSensitive(o, "metric") &&
           (!tq_search_js_str(o, "metric", s->metric, sizeof s->metric) || strcmp(s->metric, "auc")))
    bad = "metric";
  else if (!cJSON_IsObject(g) || !tq_search_js_num(g, "delta_p", &s->goal.delta_p) ||
           !tq_search_js_num(g, "delta_n", &s->goal.delta_n) || !tq_search_js_num(g, "rate", &s->goal.rate) ||
           !tq_search_js_num(g, "stress", &s->goal.stress) || !tq_search_js_int(g, "ref_bits", &s->goal.ref_bits) ||
           !tq_search_js_int(g, "ref_bias_bits", &s->goal.ref_bias_bits) || !tq_search_js_int(g, "input_bits", &s->goal.input_bits))
    bad = "goal";
  else if (!tq_search_js_str(o, "space_file", s->space_file, sizeof s->space_file)) bad = "space_file";
  else if (!cJSON_IsObject(space)) bad = "space";
  else if (!(s->space_json = cJSON_Print(space))) oom = 1;
  s->max_steps = (long)d;
  cJSON_Delete(o);
  if (bad || oom) {
    tq_search_settings_free(s);
    return oom ? tq_fail(TQ_ERR_MEMORY, "%s: out of memory", source)
               : tq_fail(TQ_ERR_FORMAT, "%s: missing or invalid \"%s\"", source, bad);
  }
  return TQ_OK;
}

