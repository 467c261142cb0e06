/* What training, search and export wrote, gathered into one self-contained HTML page (tinyq
 * report), and the quantization error of a model as it stands (tinyq quanterr).
 *
 * A report is a list of sections, one per run directory; each section is the directory's files
 * parsed into JSON (numbers exactly as the files hold them) that the page embeds and draws. */
#ifndef TINYQ_REPORT_H
#define TINYQ_REPORT_H

#include "tinyq/deploy.h"
#include "tinyq/model.h"

typedef enum {
  TQ_RUN_NONE = 0, /* none of the files below */
  TQ_RUN_TRAIN,    /* tinyq train: log.csv (model.tqm, best.tqm, last.tqm, layers.csv) */
  TQ_RUN_SEARCH,   /* tinyq search: trials.jsonl (search.json, pareto.csv, best.json) */
  TQ_RUN_EXPORT    /* tinyq export: model.h written by it (model.c, runtime sources) */
} tq_run_kind;

/* What kind of run directory dir is (a search directory wins over the others). */
tq_run_kind tq_run_dir_kind(const char *dir);

typedef struct tq_report tq_report;
tq_report *tq_report_new(const char *title, const char *source);
void tq_report_free(tq_report *r);
int tq_report_num_sections(const tq_report *r);

/* Adds a training run: log.csv, the model table of model.tqm (else best.tqm, last.tqm) and
 * layers.csv when present. Errors name the file: a row with a wrong number of fields, a model
 * file that does not load. With tq_report_set_test on, that model is also evaluated on the test
 * split of the data it trained on (its file's task), which no file of the run records. */
void tq_report_set_test(tq_report *r, int on);
tq_status tq_report_add_train(tq_report *r, const char *dir);
/* Adds a search: every trial of trials.jsonl (a line that is not a whole JSON object is an error
 * naming the file and line), search.json's settings, pareto.csv, best.json's per-layer bits. */
tq_status tq_report_add_search(tq_report *r, const char *dir);
/* Adds an export directory: the static memory plan of d (tensor lifetimes over the operation
 * sequence, offsets, footprint), lowered from m (read from model_file). Fails when dir/model.h
 * announces another arena size: d is not what that directory was exported from. */
tq_status tq_report_add_export(tq_report *r, const char *dir, const tq_dmodel *d, const tq_model *m,
                               const char *model_file);
/* A training run or search directory, or a folder whose direct subdirectories are (sorted by
 * name). Export directories in a folder are skipped (their plan needs the model file: add them
 * with tq_report_add_export); *skipped_exports counts them. Fails when nothing was found. */
tq_status tq_report_add_dir(tq_report *r, const char *dir, int *skipped_exports);

/* The page's script, style and charting library (the program embeds them at build time). */
typedef struct {
  const char *chart_lib, *page_js, *css;
} tq_report_assets;
/* The report's data as JSON text (caller frees with free()). */
char *tq_report_json(const tq_report *r);
/* Writes the page atomically: the data as JSON inside the page, the assets inlined; it needs no
 * network and no other file. */
tq_status tq_report_write_html(const tq_report *r, const tq_report_assets *a, const char *path);

/* ---- Quantization error (tinyq quanterr) */
typedef struct {
  char layer[64];
  int index;            /* the layer's index in the model */
  int activation;       /* 0: the layer's folded kernel; 1: an activation slot on the data */
  char quantizer[160];
  int bits;
  size_t values;
  size_t groups;        /* scale groups (per output channel, per sample, ...) */
  double sqnr_db;       /* 10 log10(sum x^2 / sum (x - q(x))^2) over the whole tensor */
  double sqnr_min_db, sqnr_median_db; /* over the groups with a nonzero signal */
  double clip_fraction; /* values quantized more than half a step away: beyond the range */
  double step_min, step_max;
} tq_qerr_row;

/* Per-layer quantization error of m as it stands: every quantized kernel (folded with its batch
 * norm as QAT and deployment see it), and, when x holds n samples, every quantized activation slot
 * on them in inference mode (static scales when the model has them, with the fake-quant
 * rounding). *rows (tq_free) receives *nrows rows in layer order. */
tq_status tq_quanterr(tq_model *m, const float *x, int n, tq_qerr_row **rows, int *nrows);

#endif
