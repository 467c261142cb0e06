/* tinyq export: lower a QAT model to integer arithmetic and generate dependency-free C. */
#include <cjson/cJSON.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "static_scales.h"
#include "tinyq/deploy.h"

static const char *USAGE =
    "usage: tinyq export MODEL_FILE --out DIR [options]\n\n"
    "  Lowers a QAT model to integer-only arithmetic (power-of-two scales become shifts, free\n"
    "  scales fixed-point multipliers), plans one static arena by tensor liveness, and writes\n"
    "  DIR/model.h, model.c, main_host.c, the runtime sources and a Makefile.\n\n"
    "  --static S     ema (moving averages learned in QAT) | calib:N (N training samples);\n"
    "                 default: the scales stored in the model file, else ema\n"
    "  --range R      spec | full: how a range becomes scale and zero point (spec)\n"
    "  --data D       calibration data (default: the model's training data)\n"
    "  --plan         print the plan only, write nothing\n";

#ifndef TQ_RUNTIME_DIR
#define TQ_RUNTIME_DIR "runtime"
#endif

static const char *task_str(const char *meta, const char *key, char *buf, size_t n) {
  cJSON *root = cJSON_Parse(meta ? meta : "{}");
  const char *v = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "task"), key));
  const char *r = NULL;
  if (v && *v) {
    snprintf(buf, n, "%s", v);
    r = buf;
  }
  cJSON_Delete(root);
  return r;
}

int tq_cmd_export(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  tq_opt o[] = {{"out", 1, NULL},  {"static", 1, NULL}, {"range", 1, NULL},
                {"data", 1, NULL}, {"plan", 0, NULL},   {"scaling", 1, NULL}};
  const int no = (int)(sizeof o / sizeof o[0]);
  const char *pos[1];
  int npos, rc = tq_args_parse("export", argc, argv, o, no, pos, 1, &npos);
  if (rc) return rc;
  if (npos != 1) return tq_cli_usage_error("export: expected one MODEL_FILE (see tinyq export --help)");
  const char *dir = tq_args_get(o, no, "out");
  int plan_only = tq_args_get(o, no, "plan") != NULL;
  if (!dir && !plan_only) return tq_cli_usage_error("export: --out DIR is required");
  tq_model *m = NULL;
  char *meta = NULL;
  if (tq_model_load(pos[0], &m, &meta, 100)) return tq_cli_error("%s", tq_last_error());
  char data_buf[1024], scaling_buf[64];
  const char *data = tq_args_get(o, no, "data");
  const char *scaling = tq_args_get(o, no, "scaling");
  if (!data) data = task_str(meta, "data", data_buf, sizeof data_buf);
  if (!scaling) scaling = task_str(meta, "scaling", scaling_buf, sizeof scaling_buf);
  const char *spec = tq_args_get(o, no, "static");
  if (!spec && !tq_model_is_static(m)) spec = "ema";
  tq_dmodel *d = NULL;
  rc = tq_cli_static_scales(m, spec, tq_args_get(o, no, "range"), data, scaling);
  if (!rc && tq_deploy_lower(&d, m)) rc = tq_cli_error("%s: %s", pos[0], tq_last_error());
  if (!rc) {
    tq_deploy_print_plan(d, stdout);
    if (!plan_only) {
      if (tq_deploy_emit_c(d, dir, TQ_RUNTIME_DIR)) {
        rc = tq_cli_error("%s", tq_last_error());
      } else {
        printf("wrote %s: model.h, model.c, main_host.c, Makefile, runtime sources "
               "(arena %zu bytes, weights %zu bytes)\n",
               dir, tq_deploy_arena_bytes(d), tq_deploy_weight_bytes(d));
      }
    }
  }
  tq_deploy_free(d);
  tq_model_free(m);
  tq_free(meta);
  return rc;
}
