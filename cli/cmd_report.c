/* tinyq report: one self-contained HTML page (charts drawn by the vendored Chart.js, the run's
 * numbers embedded as JSON) for a training run, a search, an export or a folder of runs. */
#include <string.h>

#include "args.h"
#include "cli.h"
#include "options.h"
#include "report_assets.h" /* generated at build time by src/report/embed.cmake */
#include "static_scales.h"
#include "task.h"
#include "tinyq/report.h"

static const char USAGE[] =
    "usage: tinyq report DIR [--out FILE.html] [--title TEXT] [--test]\n"
    "       tinyq report EXPORT_DIR --model MODEL_FILE [--static S] [--range R] [--data D]\n\n"
    "  Writes one HTML file that opens offline, from disk, in any browser:\n"
    "    training run (log.csv): accuracy, loss and learning rate per epoch, per-layer statistics\n"
    "      (layers.csv), the model table with per-layer bits and weight memory;\n"
    "    search (trials.jsonl): score and accuracy per trial, bits against accuracy with the\n"
    "      Pareto front (pareto.csv), the best configuration's per-layer bits (best.json);\n"
    "    export directory (model.h of tinyq export): the static memory plan (tensor lifetimes over\n"
    "      the operations, arena use, weights per operation), lowered again from the model file it\n"
    "      was exported from (--model, with export's --static/--range/--data; checked against\n"
    "      model.h's arena size);\n"
    "    a folder of runs: each run, and training runs compared.\n"
    "  Each chart lists the numbers it draws under \"data\"; they are the files' numbers.\n";

typedef struct {
  char dir[4096], out[4096], title[1024], model[4096], static_spec[64], range[8], data[1024], scaling[16];
  int test;
} report_opts;

#define S report_opts
static const tq_arg report_args[] = {
    TQ_ARG_FILE(S, dir, "DIR", "one DIR"),
    {TQ_OPT_FLAG("test", S, test),
     .help = "also evaluate each training run's model on the test split of its data (no file of a run records "
             "it; the end-of-run point of the accuracy chart)"},
    {.name = "out", .type = TQ_ARG_STRING, .meta = "FILE", TQ_AT(S, out), .help = "default DIR/report.html"},
    {.name = "title", .type = TQ_ARG_STRING, .meta = "TEXT", TQ_AT(S, title),
     .help = "the page's title (default: tinyq report: DIR)"},
    {.name = "model", .type = TQ_ARG_STRING, .meta = "MODEL_FILE", TQ_AT(S, model),
     .help = "the model file an export directory was exported from (its plan is lowered again)"},
    {TQ_OPT_STATIC(S, static_spec), .help = "as tinyq export"},
    {TQ_OPT_RANGE(S, range), .flags = TQ_ARG_SAME_LINE},
    {TQ_OPT_DATA(S, data), .flags = TQ_ARG_SAME_LINE},
    {TQ_OPT_SCALING(S, scaling), .flags = TQ_ARG_SAME_LINE},
};
#undef S

/* Lowers the model as tinyq export does (same defaults) and adds the plan. */
static int add_export(tq_report *r, const char *dir, report_opts *o) {
  const char *path = o->model;
  if (!*path)
    return tq_cli_usage_error("report: %s is an export directory; give the model it was exported "
                              "from with --model MODEL_FILE (its plan is lowered again from it)", dir);
  tq_model *m = NULL;
  char *meta = NULL;
  if (tq_model_load(path, &m, &meta, 100)) return tq_cli_error("%s", tq_last_error());
  tq_task_setting(o->data, sizeof o->data, meta, "data");
  tq_task_setting(o->scaling, sizeof o->scaling, meta, "scaling");
  const char *data = o->data[0] ? o->data : NULL, *scaling = o->scaling[0] ? o->scaling : NULL;
  const char *spec = o->static_spec[0] ? o->static_spec : tq_model_is_static(m) ? NULL : "ema";
  tq_dmodel *d = NULL;
  int rc = tq_model_is_quantized(m) ? 0 : tq_cli_error("%s: a float model: nothing was exported from it", path);
  if (!rc) rc = tq_cli_static_scales(m, spec, o->range[0] ? o->range : NULL, data, scaling, NULL);
  if (!rc && tq_deploy_lower(&d, m)) rc = tq_cli_error("%s: %s", path, tq_last_error());
  if (!rc && tq_report_add_export(r, dir, d, m, path)) rc = tq_cli_error("%s", tq_last_error());
  tq_deploy_free(d);
  tq_model_free(m);
  tq_free(meta);
  return rc;
}

static int report_run(void *settings) {
  report_opts *o = settings;
  const char *dir = o->dir;
  char out[4096], title[4200];
  if (snprintf(out, sizeof out, "%s", o->out[0] ? o->out : dir) >= (int)sizeof out ||
      (!o->out[0] && snprintf(out, sizeof out, "%s/report.html", dir) >= (int)sizeof out))
    return tq_cli_usage_error("report: %s: path too long", dir);
  snprintf(title, sizeof title, "%s", o->title);
  if (!*title) snprintf(title, sizeof title, "tinyq report: %s", dir);
  tq_report *r = tq_report_new(title, dir);
  if (!r) return tq_cli_error("report: out of memory");
  int skipped = 0, rc = 0;
  tq_report_set_test(r, o->test);
  if (tq_run_dir_kind(dir) == TQ_RUN_EXPORT) rc = add_export(r, dir, o);
  else if (o->model[0]) rc = tq_cli_usage_error("report: --model is for an export directory; %s is not one", dir);
  else if (tq_report_add_dir(r, dir, &skipped)) rc = tq_cli_error("%s", tq_last_error());
  if (!rc && skipped)
    fprintf(stderr, "tinyq: warning: %s: %d export director%s left out (report one with tinyq report "
                    "EXPORT_DIR --model MODEL_FILE)\n", dir, skipped, skipped == 1 ? "y" : "ies");
  if (!rc && !tq_report_num_sections(r)) rc = tq_cli_error("%s: nothing to report", dir);
  const tq_report_assets assets = {(const char *)tq_asset_chart_umd_min_js, (const char *)tq_asset_report_js,
                                   (const char *)tq_asset_report_css};
  if (!rc && tq_report_write_html(r, &assets, out)) rc = tq_cli_error("%s", tq_last_error());
  if (!rc) printf("wrote %s (%d run%s)\n", out, tq_report_num_sections(r), tq_report_num_sections(r) == 1 ? "" : "s");
  tq_report_free(r);
  return rc;
}

static const tq_command report_cmd = {"report", TQ_ARGS_OF(report_args, USAGE), TQ_RUN(report_opts, report_run)};
int tq_cmd_report(int argc, char **argv) { return tq_args_run(&report_cmd, argc, argv); }
