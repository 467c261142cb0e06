/* Private to src/report: the sections a report collects, as cJSON. */
#ifndef TINYQ_REPORT_INTERNAL_H
#define TINYQ_REPORT_INTERNAL_H

#include <cjson/cJSON.h>

#include "tinyq/report.h"

struct tq_report {
  cJSON *root;     /* {"tinyq_report": 1, "title", "source", "sections": [...]} */
  cJSON *sections;
  int test;        /* evaluate training runs' models on their test sets */
};

/* A new section {"kind", "name" (the directory's last component), "path", "files": [...]} added
 * to r; NULL after recording an error. */
cJSON *tq_report_section(tq_report *r, const char *kind, const char *dir);
/* Adds name to the section's "files" when dir/name exists; returns 1 if it does. */
int tq_report_note_file(cJSON *section, const char *dir, const char *name);
/* "dir/name" into buf; an error when it does not fit. */
tq_status tq_report_path(char *buf, size_t n, const char *dir, const char *name);
int tq_report_file_exists(const char *dir, const char *name);

/* A CSV file with a header line as {"file", "columns": [...], "rows": [[...], ...]}: cells that
 * are numbers become JSON numbers (the same doubles: the page shows the file's values), "nan" and
 * infinities null, anything else strings. A row whose field count differs from the header's is
 * an error naming the file and line (a truncated file). */
tq_status tq_report_read_csv(const char *path, cJSON **out);

/* The model table: {"file", "arch", "params", "macs", "bytes", "layers": [{"name", "class",
 * "out": [h, w, c], "params", "macs", "kernel_q", "bias_q", "act_q", "kernel_bits",
 * "bias_bits", "act_bits", "bytes"}]} where bytes count parameters at their quantizer's bits
 * (32 without one; batch norms folded into a layer count nothing). */
cJSON *tq_report_model_table(const tq_model *m, const char *file);

/* The deployment plan {"arena_bytes", "weight_bytes", "ops": [...], "tensors": [...]}. */
cJSON *tq_report_plan_json(const tq_dmodel *d);

#endif
