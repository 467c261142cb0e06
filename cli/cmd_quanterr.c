/* tinyq quanterr: per-layer quantization error of a model as it stands (README, "auto_po2 clips
 * large weights": that diagnosis as a command). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "options.h"
#include "static_scales.h"
#include "task.h"
#include "tinyq/report.h"

static const char USAGE[] =
    "usage: tinyq quanterr MODEL_FILE [--data D] [--samples N] [--static S] [--csv FILE]\n\n"
    "  The quantization error of every quantized layer of the model as it stands:\n"
    "    kernel      the folded kernel (batch norm applied, as QAT and deployment see it)\n"
    "                against its quantized values\n"
    "    activation  each activation-quantizer slot's input against its output, on the first N\n"
    "                test samples of the data (inference mode, the fake-quant rounding)\n"
    "  SQNR = 10 log10(sum x^2 / sum (x - q(x))^2) in dB over the tensor, and its minimum and\n"
    "  median over the scale groups (per output channel where scales are per channel, per sample\n"
    "  for featuremap scales); clipped: the share of values quantized more than half a step away,\n"
    "  i.e. beyond the quantizer's range (auto_po2 clipping a channel's largest weights).\n";

typedef struct {
  char file[4096], data[1024], static_spec[64], range[8], scaling[16], csv[4096];
  int samples;
} qerr_opts;

#define S qerr_opts
static const tq_arg quanterr_args[] = {
    TQ_ARG_FILE(S, file, "MODEL_FILE", "one MODEL_FILE"),
    {TQ_OPT_DATA(S, data), .help = "dataset (default: the model's own, from its file)"},
    {.name = "samples", .type = TQ_ARG_INT, .meta = "N", .min = 1, .max = 100000, .def = "256", TQ_AT(S, samples),
     .help = "test samples for the activations"},
    {TQ_OPT_STATIC(S, static_spec),
     .help = "ema | calib:N: static activation scales as deployment uses them (default: the model's stored ones, "
             "else per-batch scales)"},
    {TQ_OPT_RANGE(S, range), .help = "(spec)"},
    {TQ_OPT_SCALING(S, scaling), .help = "unit | raw | centered (default: the model's own)"},
    {.name = "csv", .type = TQ_ARG_STRING, .meta = "FILE", TQ_AT(S, csv), .help = "also write the table as CSV"},
};
#undef S

static void print_db(FILE *f, double v) {
  if (isnan(v)) fprintf(f, " %9s", "-");
  else if (isinf(v)) fprintf(f, " %9s", "exact");
  else fprintf(f, " %9.2f", v);
}

static void print_table(const tq_qerr_row *rows, int n) {
  printf("%-24s %-10s %4s %9s %7s %9s %9s %9s %9s  %-22s %s\n", "layer", "tensor", "bits", "values",
         "groups", "SQNR dB", "min dB", "median dB", "clipped", "steps", "quantizer");
  for (int i = 0; i < n; i++) {
    const tq_qerr_row *r = &rows[i];
    char steps[64];
    snprintf(steps, sizeof steps, r->step_min == r->step_max ? "%.4g" : "%.4g..%.4g", r->step_min, r->step_max);
    printf("%-24s %-10s %4d %9zu %7zu", r->layer, r->activation ? "activation" : "kernel", r->bits,
           r->values, r->groups);
    print_db(stdout, r->sqnr_db);
    print_db(stdout, r->sqnr_min_db);
    print_db(stdout, r->sqnr_median_db);
    printf(" %8.3f%%  %-22s %s\n", 100 * r->clip_fraction, steps, r->quantizer);
  }
}

static void csv_num(FILE *f, double v) {
  if (isnan(v)) fputs(",", f);
  else if (isinf(v)) fputs(",inf", f);
  else fprintf(f, ",%.6g", v);
}

static int write_csv(const char *path, const tq_qerr_row *rows, int n) {
  tq_atomic_file *af = NULL;
  if (tq_atomic_open(&af, path)) return tq_cli_error("%s", tq_last_error());
  FILE *f = tq_atomic_stream(af);
  fputs("layer,tensor,bits,values,groups,sqnr_db,sqnr_min_db,sqnr_median_db,clip_fraction,step_min,step_max,quantizer\n", f);
  for (int i = 0; i < n; i++) {
    const tq_qerr_row *r = &rows[i];
    fprintf(f, "%s,%s,%d,%zu,%zu", r->layer, r->activation ? "activation" : "kernel", r->bits, r->values, r->groups);
    csv_num(f, r->sqnr_db);
    csv_num(f, r->sqnr_min_db);
    csv_num(f, r->sqnr_median_db);
    csv_num(f, r->clip_fraction);
    csv_num(f, r->step_min);
    csv_num(f, r->step_max);
    fprintf(f, ",\"%s\"\n", r->quantizer); /* quantizer strings hold commas, never double quotes */
  }
  if (tq_atomic_commit(af)) return tq_cli_error("%s", tq_last_error());
  return 0;
}

/* The first n test samples of data (the model's input shape). */
static int load_samples(tq_dataset *d, const char *data, const char *scaling, int n, const tq_model *m) {
  if (tq_task_load_data(d, data, 0, scaling) || tq_task_limit(d, n))
    return tq_cli_error("%s", tq_last_error());
  tq_shape3 in = tq_model_input_shape(m);
  if (d->h * d->w * d->c != in.h * in.w * in.c)
    return tq_cli_error("%s: samples are %dx%dx%d, the model takes %dx%dx%d", data, d->h, d->w, d->c,
                        in.h, in.w, in.c);
  return 0;
}

static int qerr_run(void *settings) {
  qerr_opts *o = settings;
  const char *path = o->file;
  tq_model *m = NULL;
  char *meta = NULL;
  if (tq_model_load(path, &m, &meta, o->samples < 128 ? o->samples : 128)) return tq_cli_error("%s", tq_last_error());
  tq_task_setting(o->data, sizeof o->data, meta, "data");
  tq_task_setting(o->scaling, sizeof o->scaling, meta, "scaling");
  const char *data = o->data[0] ? o->data : NULL, *scaling = o->scaling;
  tq_dataset d = {0};
  tq_qerr_row *rows = NULL;
  int nrows = 0, rc = 0;
  if (!tq_model_is_quantized(m)) rc = tq_cli_error("%s: a float model: nothing is quantized", path);
  if (!rc)
    rc = tq_cli_static_scales(m, o->static_spec[0] ? o->static_spec : NULL, o->range[0] ? o->range : NULL, data,
                              scaling, NULL);
  if (!rc && data) rc = load_samples(&d, data, scaling, o->samples, m);
  if (!rc && tq_quanterr(m, d.x, d.n, &rows, &nrows)) rc = tq_cli_error("%s: %s", path, tq_last_error());
  if (!rc) {
    printf("Quantization error of %s (kernels folded with their batch norms", path);
    if (d.n) printf("; activations on %d test samples of %s, %s scales)\n", d.n, data, tq_model_is_static(m) ? "static" : "per-batch");
    else printf("; no data: kernels only)\n");
    print_table(rows, nrows);
    if (o->csv[0]) rc = write_csv(o->csv, rows, nrows);
  }
  tq_free(rows);
  tq_dataset_free(&d);
  tq_model_free(m);
  tq_free(meta);
  return rc;
}

static const tq_command quanterr_cmd = {"quanterr", TQ_ARGS_OF(quanterr_args, USAGE), TQ_RUN(qerr_opts, qerr_run)};
int tq_cmd_quanterr(int argc, char **argv) { return tq_args_run(&quanterr_cmd, argc, argv); }
