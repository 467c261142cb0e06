/* An export directory in the report: the static memory plan of the lowered model (every tensor's
 * lifetime over the operation sequence and its arena offset) and the footprint. */
#include <stdlib.h>
#include <string.h>

#include "deploy/dmodel.h"
#include "report/report_internal.h"

/* The accumulator of an operation with weights (wbits: 4, 8 or 16; 0 for the others). */
static const char *acc_name(const dop *o) { return o->wbits ? (o->acc64 ? "int64" : "int32") : ""; }

static cJSON *op_json(const tq_dmodel *d, int k) {
  const dop *o = &d->ops[k];
  const dtensor *t = &d->t[o->out];
  const char *kernel = tq_dop_kernel_name(d, o);
  cJSON *j = cJSON_CreateObject();
  cJSON_AddNumberToObject(j, "index", k);
  cJSON_AddStringToObject(j, "layer", o->layer);
  cJSON_AddStringToObject(j, "kernel", kernel ? kernel : "?");
  cJSON_AddStringToObject(j, "output", t->name);
  int shape[3] = {t->h, t->w, t->c};
  cJSON_AddItemToObject(j, "shape", cJSON_CreateIntArray(shape, 3));
  cJSON_AddNumberToObject(j, "bytes", (double)(t->size * (size_t)(t->bits / 8)));
  cJSON_AddNumberToObject(j, "offset", (double)t->offset);
  cJSON_AddNumberToObject(j, "scale", t->scale);
  cJSON_AddNumberToObject(j, "zp", t->zp);
  cJSON_AddStringToObject(j, "acc", acc_name(o));
  cJSON_AddNumberToObject(j, "weight_bytes", (double)tq_dop_weight_bytes(d, o));
  return j;
}

cJSON *tq_report_plan_json(const tq_dmodel *d) {
  cJSON *p = cJSON_CreateObject(), *ops = cJSON_CreateArray(), *tensors = cJSON_CreateArray();
  cJSON_AddNumberToObject(p, "arena_bytes", (double)tq_deploy_arena_bytes(d));
  cJSON_AddNumberToObject(p, "weight_bytes", (double)tq_deploy_weight_bytes(d));
  for (int k = 0; k < d->nops; k++) cJSON_AddItemToArray(ops, op_json(d, k));
  for (int i = 0; i < d->nt; i++) {
    const dtensor *t = &d->t[i];
    if (t->first_op < 0) continue; /* not in the plan */
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", t->name);
    cJSON_AddNumberToObject(j, "bits", t->qbits);
    cJSON_AddNumberToObject(j, "bytes", (double)(t->size * (size_t)(t->bits / 8)));
    cJSON_AddNumberToObject(j, "offset", (double)t->offset);
    cJSON_AddNumberToObject(j, "first_op", t->first_op);
    /* the output is read by the caller after the last operation */
    cJSON_AddNumberToObject(j, "last_op", t->last_op < d->nops ? t->last_op : d->nops - 1);
    cJSON_AddItemToArray(tensors, j);
  }
  cJSON_AddItemToObject(p, "ops", ops);
  cJSON_AddItemToObject(p, "tensors", tensors);
  return p;
}

/* TQ_MODEL_ARENA_BYTES of dir/model.h, or -1. */
static long header_arena(const char *dir) {
  char p[4096], line[512];
  if (tq_report_path(p, sizeof p, dir, "model.h")) return -1;
  FILE *f = fopen(p, "r");
  if (!f) return -1;
  long v = -1;
  while (v < 0 && fgets(line, sizeof line, f))
    if (sscanf(line, "#define TQ_MODEL_ARENA_BYTES %ld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

tq_status tq_report_add_export(tq_report *r, const char *dir, const tq_dmodel *d, const tq_model *m,
                               const char *model_file) {
  long arena = header_arena(dir);
  if (arena < 0)
    return tq_fail(TQ_ERR_FORMAT, "%s/model.h: no TQ_MODEL_ARENA_BYTES: not a directory written by tinyq export", dir);
  if ((size_t)arena != tq_deploy_arena_bytes(d))
    return tq_fail(TQ_ERR_ARG,
                   "%s/model.h: arena of %ld bytes, but %s lowers to %zu bytes: not the model (or "
                   "--static scales) this directory was exported from",
                   dir, arena, model_file, tq_deploy_arena_bytes(d));
  cJSON *sec = tq_report_section(r, "export", dir);
  if (!sec) return TQ_ERR_MEMORY;
  static const char *const files[] = {"model.h", "model.c", "main_host.c", "Makefile"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) tq_report_note_file(sec, dir, files[i]);
  cJSON_AddStringToObject(sec, "model_file", model_file);
  cJSON_AddNumberToObject(sec, "header_arena", (double)arena);
  cJSON_AddItemToObject(sec, "plan", tq_report_plan_json(d));
  const char *slash = strrchr(model_file, '/');
  cJSON_AddItemToObject(sec, "model", tq_report_model_table(m, slash ? slash + 1 : model_file));
  return TQ_OK;
}
