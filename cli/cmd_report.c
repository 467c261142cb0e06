/* tinyq report: one self-contained HTML page (charts drawn by the vendored Chart.js, the run's
 * numbers embedded as JSON) for a training run, a search, an export or a folder of runs. */
#include <cjson/cJSON.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "report_assets.h" /* generated at build time by src/report/embed.cmake */
#include "static_scales.h"
#include "tinyq/report.h"

static const char *USAGE =
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
    "  Each chart lists the numbers it draws under \"data\"; they are the files' numbers.\n\n"
    "  --test         also evaluate each training run's model on the test split of its data\n"
    "                 (no file of a run records it; the end-of-run point of the accuracy chart)\n"
    "  --out FILE     default DIR/report.html\n"
    "  --title TEXT   the page's title (default: tinyq report: DIR)\n";

static const char *task_field(const cJSON *meta, const char *key, char *buf, size_t n) {
  const char *v = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(meta, "task"), key));
  if (!v || !*v) return NULL;
  snprintf(buf, n, "%s", v);
  return buf;
}

/* Lowers the model as tinyq export does (same defaults) and adds the plan. */
static int add_export(tq_report *r, const char *dir, const tq_opt *o, int no) {
  const char *path = tq_args_get(o, no, "model");
  if (!path)
    return tq_cli_usage_error("report: %s is an export directory; give the model it was exported "
                              "from with --model MODEL_FILE (its plan is lowered again from it)", dir);
  tq_model *m = NULL;
  char *meta = NULL;
  if (tq_model_load(path, &m, &meta, 100)) return tq_cli_error("%s", tq_last_error());
  cJSON *mj = cJSON_Parse(meta ? meta : "{}");
  char data_buf[1024], scaling_buf[64];
  const char *data = tq_args_get(o, no, "data"), *scaling = tq_args_get(o, no, "scaling");
  if (!data) data = task_field(mj, "data", data_buf, sizeof data_buf);
  if (!scaling) scaling = task_field(mj, "scaling", scaling_buf, sizeof scaling_buf);
  cJSON_Delete(mj);
  const char *spec = tq_args_get(o, no, "static");
  if (!spec && !tq_model_is_static(m)) spec = "ema";
  tq_dmodel *d = NULL;
  int rc = tq_model_is_quantized(m) ? 0 : tq_cli_error("%s: a float model: nothing was exported from it", path);
  if (!rc) rc = tq_cli_static_scales(m, spec, tq_args_get(o, no, "range"), data, scaling, NULL);
  if (!rc && tq_deploy_lower(&d, m)) rc = tq_cli_error("%s: %s", path, tq_last_error());
  if (!rc && tq_report_add_export(r, dir, d, m, path)) rc = tq_cli_error("%s", tq_last_error());
  tq_deploy_free(d);
  tq_model_free(m);
  tq_free(meta);
  return rc;
}

int tq_cmd_report(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  tq_opt o[] = {{"out", 1, NULL},   {"title", 1, NULL}, {"model", 1, NULL},  {"static", 1, NULL},
                {"range", 1, NULL}, {"data", 1, NULL},  {"scaling", 1, NULL}, {"test", 0, NULL}};
  const int no = (int)(sizeof o / sizeof o[0]);
  const char *pos[1];
  int npos, rc = tq_args_parse("report", argc, argv, o, no, pos, 1, &npos);
  if (rc) return rc;
  if (npos != 1) return tq_cli_usage_error("report: expected one DIR (see tinyq report --help)");
  const char *dir = pos[0];
  char out[4096], title[4200];
  const char *out_arg = tq_args_get(o, no, "out");
  if (snprintf(out, sizeof out, "%s", out_arg ? out_arg : dir) >= (int)sizeof out ||
      (!out_arg && snprintf(out, sizeof out, "%s/report.html", dir) >= (int)sizeof out))
    return tq_cli_usage_error("report: %s: path too long", dir);
  snprintf(title, sizeof title, "%s", tq_args_get(o, no, "title") ? tq_args_get(o, no, "title") : "");
  if (!*title) snprintf(title, sizeof title, "tinyq report: %s", dir);
  tq_report *r = tq_report_new(title, dir);
  if (!r) return tq_cli_error("report: out of memory");
  int skipped = 0;
  tq_report_set_test(r, tq_args_get(o, no, "test") != NULL);
  if (tq_run_dir_kind(dir) == TQ_RUN_EXPORT) rc = add_export(r, dir, o, no);
  else if (tq_args_get(o, no, "model")) rc = tq_cli_usage_error("report: --model is for an export directory; %s is not one", dir);
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
