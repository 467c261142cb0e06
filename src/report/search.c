/* A search directory in the report: the trials of trials.jsonl, search.json's settings, the Pareto
 * front of pareto.csv, the per-layer bits of best.json and the GP's per-layer sensitivity of
 * sensitivity.csv. */
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"
#include "tinyq/quant.h"

/* The trial fields the page draws; the configuration stays in the file (and in best.json). */
static const char *const TRIAL_FIELDS[] = {"trial", "status", "rank", "metric", "score", "loss",
                                           "trial_size", "reference_size", "delta", "seconds"};
static const char *const SETTINGS[] = {"model", "data", "trials", "epochs", "train_fraction", "batch",
                                       "lr", "tuner", "seed", "init"};

static cJSON *pick(const cJSON *from, const char *const *keys, size_t n) {
  cJSON *o = cJSON_CreateObject();
  for (size_t i = 0; i < n; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, keys[i]);
    if (v) cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, 1));
  }
  return o;
}

/* A file of JSON text (no NUL byte or \u0000 that a parser would read differently). */
static tq_status read_json_text(const char *path, unsigned char **data, size_t *size) {
  tq_status st = tq_read_file(path, data, size);
  if (!st && (st = tq_json_text_check((const char *)*data, *size, path))) {
    free(*data);
    *data = NULL;
  }
  return st;
}

static tq_status read_json_file(const char *path, cJSON **out) {
  unsigned char *data = NULL;
  size_t size = 0;
  tq_status st = read_json_text(path, &data, &size);
  if (st) return st;
  *out = cJSON_ParseWithLength((const char *)data, size);
  free(data);
  if (!*out) return tq_fail(TQ_ERR_FORMAT, "%s: not valid JSON", path);
  return TQ_OK;
}

/* A finished trial has the numbers the page draws (a journal of another tinyq version may not). */
static tq_status check_ok_record(const cJSON *o, const char *path, int line) {
  static const char *const NEEDED[] = {"metric", "score", "trial_size", "reference_size"};
  if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "status")), "ok")) return TQ_OK;
  for (size_t i = 0; i < sizeof NEEDED / sizeof NEEDED[0]; i++)
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, NEEDED[i])))
      return tq_fail(TQ_ERR_FORMAT, "%s: line %d: a finished trial without a \"%s\" number (a journal of another "
                     "tinyq version?)", path, line, NEEDED[i]);
  return TQ_OK;
}

/* Every line of trials.jsonl into trials (the fields the page needs) and configs (each trial's
 * configuration, to find best.json among them). */
static tq_status read_trials(const char *path, cJSON *trials, cJSON *configs) {
  unsigned char *data = NULL;
  size_t size = 0;
  tq_status st = read_json_text(path, &data, &size);
  if (st) return st;
  const char *s = (const char *)data, *end = s + size;
  for (int line = 1; !st && s < end; line++) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    if (e > s) {
      cJSON *o = cJSON_ParseWithLength(s, (size_t)(e - s));
      const cJSON *trial = cJSON_GetObjectItemCaseSensitive(o, "trial");
      const cJSON *status = cJSON_GetObjectItemCaseSensitive(o, "status");
      if (!o || !nl)
        st = tq_fail(TQ_ERR_FORMAT, "%s: line %d is %s (cut short by a crash or kill? tinyq search "
                     "--resume repairs the journal)", path, line, o ? "not terminated" : "not a whole JSON object");
      else if (!cJSON_IsNumber(trial) || !cJSON_IsString(status))
        st = tq_fail(TQ_ERR_FORMAT, "%s: line %d has no \"trial\" number or \"status\": not a trial record", path, line);
      else
        st = check_ok_record(o, path, line);
      if (!st) {
        cJSON_AddItemToArray(trials, pick(o, TRIAL_FIELDS, sizeof TRIAL_FIELDS / sizeof TRIAL_FIELDS[0]));
        cJSON *cfg = cJSON_DetachItemFromObjectCaseSensitive(o, "config");
        cJSON_AddItemToArray(configs, cfg ? cfg : cJSON_CreateNull());
      }
      cJSON_Delete(o);
    }
    s = e + 1;
  }
  free(data);
  if (!st && !cJSON_GetArraySize(trials))
    st = tq_fail(TQ_ERR_FORMAT, "%s: no finished trial yet (an empty journal): nothing to report", path);
  return st;
}

static int quantizer_bits(const cJSON *v) {
  tq_quantizer q;
  if (!cJSON_IsString(v) || tq_quantizer_parse(&q, v->valuestring)) return 0;
  return tq_quantizer_bits(&q);
}

/* best.json (a --quant configuration: layer -> quantizer, or -> {kernel_quantizer,
 * bias_quantizer}) as per-layer bits, in the file's order; "trial": the trial it came from. */
static tq_status add_best(cJSON *sec, const char *dir, const cJSON *trials, const cJSON *configs) {
  char p[4096];
  cJSON *best = NULL;
  tq_status st = tq_report_path(p, sizeof p, dir, "best.json");
  if (!st) st = read_json_file(p, &best);
  if (st) return st;
  cJSON *o = cJSON_CreateObject(), *layers = cJSON_CreateArray();
  cJSON_AddStringToObject(o, "file", "best.json");
  for (const cJSON *e = best->child; e; e = e->next) {
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "name", e->string ? e->string : "");
    int kb = quantizer_bits(cJSON_GetObjectItemCaseSensitive(e, "kernel_quantizer"));
    int bb = quantizer_bits(cJSON_GetObjectItemCaseSensitive(e, "bias_quantizer"));
    int ab = cJSON_IsString(e) ? quantizer_bits(e) : 0;
    if (kb) cJSON_AddNumberToObject(l, "kernel_bits", kb); else cJSON_AddNullToObject(l, "kernel_bits");
    if (bb) cJSON_AddNumberToObject(l, "bias_bits", bb); else cJSON_AddNullToObject(l, "bias_bits");
    if (ab) cJSON_AddNumberToObject(l, "activation_bits", ab); else cJSON_AddNullToObject(l, "activation_bits");
    cJSON_AddItemToArray(layers, l);
  }
  cJSON_AddItemToObject(o, "layers", layers);
  int i = 0;
  for (const cJSON *c = configs->child; c; c = c->next, i++)
    if (cJSON_Compare(c, best, 1)) {
      cJSON *t = cJSON_GetArrayItem(trials, i);
      cJSON_AddItemToObject(o, "trial", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "trial"), 0));
      break;
    }
  cJSON_Delete(best);
  cJSON_AddItemToObject(sec, "best", o);
  return TQ_OK;
}

/* dir/name, if it exists, as the section's key (a parsed CSV); TQ_OK when it does not exist. */
static tq_status add_csv(cJSON *sec, const char *dir, const char *name, const char *key) {
  char p[4096];
  cJSON *csv = NULL;
  tq_status st = TQ_OK;
  if (tq_report_note_file(sec, dir, name) && !(st = tq_report_path(p, sizeof p, dir, name)) &&
      !(st = tq_report_read_csv(p, &csv)))
    cJSON_AddItemToObject(sec, key, csv);
  return st;
}

tq_status tq_report_add_search(tq_report *r, const char *dir) {
  cJSON *sec = tq_report_section(r, "search", dir);
  if (!sec) return TQ_ERR_MEMORY;
  char p[4096];
  cJSON *trials = cJSON_CreateArray(), *configs = cJSON_CreateArray(), *settings = NULL;
  cJSON_AddItemToObject(sec, "trials", trials);
  tq_status st = tq_report_path(p, sizeof p, dir, "trials.jsonl");
  if (!st) st = read_trials(p, trials, configs);
  tq_report_note_file(sec, dir, "trials.jsonl");
  if (!st && tq_report_note_file(sec, dir, "search.json") &&
      !(st = tq_report_path(p, sizeof p, dir, "search.json")) && !(st = read_json_file(p, &settings))) {
    cJSON_AddItemToObject(sec, "settings", pick(settings, SETTINGS, sizeof SETTINGS / sizeof SETTINGS[0]));
    cJSON_Delete(settings);
  }
  if (!st) st = add_csv(sec, dir, "pareto.csv", "pareto");
  if (!st && tq_report_note_file(sec, dir, "best.json")) st = add_best(sec, dir, trials, configs);
  if (!st) st = add_csv(sec, dir, "sensitivity.csv", "sensitivity"); /* a Bayesian search past its initial points */
  cJSON_Delete(configs);
  return st;
}
