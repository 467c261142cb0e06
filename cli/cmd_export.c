/* tinyq export: lower a QAT model to integer arithmetic and generate dependency-free C. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "runtime_dir.h"
#include "static_scales.h"
#include "task.h"
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
    "  --plan         print the plan only, write nothing\n"
    "  --allow-divergence\n"
    "                 export even when the integer model disagrees with the fake-quant model on\n"
    "                 the calibration samples beyond the bounds (top-1 99.5 %, 99 % of output\n"
    "                 codes within one step); without it such an export is refused, writing nothing\n"
    "  --no-simulate  check against the fake-quant model with QAT's own rounding instead of the\n"
    "                 one that simulates the integer model (stricter: refuses when the lowering's\n"
    "                 rounding itself changes predictions)\n";

/* Removes a staging directory and the regular files in it (the emitter writes no subdirectories). */
static void remove_staging(const char *tmp) {
  DIR *dp = opendir(tmp);
  if (dp) {
    char p[4200];
    for (struct dirent *e; (e = readdir(dp));)
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
          snprintf(p, sizeof p, "%s/%s", tmp, e->d_name) < (int)sizeof p)
        remove(p);
    closedir(dp);
  }
  rmdir(tmp);
}

/* The export is written to a staging directory inside DIR, and its files are renamed into DIR
 * only once all of them are complete: a failure (a full disk) leaves DIR as it was instead of a
 * model.c without its runtime. Files of DIR that the export does not write are left alone. */
static tq_status emit_staged(const tq_dmodel *d, const char *dir) {
  struct stat sb;
  int created = stat(dir, &sb) != 0;
  if (!created && !S_ISDIR(sb.st_mode)) return tq_fail(TQ_ERR_IO, "%s: exists and is not a directory", dir);
  tq_status st = tq_mkdirs(dir);
  if (st) return st;
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s/.tinyq-export.XXXXXX", dir) >= (int)sizeof tmp)
    return tq_fail(TQ_ERR_IO, "%s: path too long", dir);
  if (!mkdtemp(tmp)) return tq_fail(TQ_ERR_IO, "%s: cannot create a staging directory: %s", dir, strerror(errno));
  st = tq_deploy_emit_c(d, tmp, tq_cli_runtime_dir());
  DIR *dp = st ? NULL : opendir(tmp);
  if (!st && !dp) st = tq_fail(TQ_ERR_IO, "%s: %s", tmp, strerror(errno));
  if (dp) {
    char from[4200], to[4200];
    for (struct dirent *e; !st && (e = readdir(dp));) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      if (snprintf(from, sizeof from, "%s/%s", tmp, e->d_name) >= (int)sizeof from ||
          snprintf(to, sizeof to, "%s/%s", dir, e->d_name) >= (int)sizeof to)
        st = tq_fail(TQ_ERR_IO, "%s: path too long", dir);
      else if (rename(from, to) != 0) st = tq_fail(TQ_ERR_IO, "%s: cannot move into place: %s", to, strerror(errno));
    }
    closedir(dp);
  }
  remove_staging(tmp);
  if (st && created) rmdir(dir); /* only if the failed export left it empty */
  return st;
}

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

/* The integer model against the fake-quant model (whose static-mode forward simulates the
 * lowering) on the calibration samples: 0, or the exit code of a refusal. */
static int check_agreement(tq_dmodel *d, tq_model *m, tq_dataset *calib, const char *data,
                           const char *scaling, int classify, const char *path, int allow) {
  if (!calib->n && data) {
    /* The scales came from the model file: check on the samples calibration would use. */
    if (tq_task_load_data(calib, data, 1, scaling) || tq_task_limit(calib, 512))
      return tq_cli_error("%s", tq_last_error());
  }
  if (!calib->n) {
    printf("agreement: not checked (no calibration data: give --data)\n");
    return 0;
  }
  if ((size_t)calib->h * calib->w * calib->c != tq_deploy_input_size(d))
    return tq_cli_error("%s: calibration samples have %d values, the model takes %zu", data,
                        calib->h * calib->w * calib->c, tq_deploy_input_size(d));
  tq_agreement a = {0};
  if (tq_deploy_agreement(&a, d, m, calib->x, calib->n, NULL, NULL)) {
    tq_agreement_free(&a);
    return tq_cli_error("%s: agreement check: %s", path, tq_last_error());
  }
  printf("agreement with the fake-quant model on %ld calibration samples:", a.samples);
  if (classify) printf(" top-1 %.2f %%,", 100.0 * a.top1_same / a.samples);
  printf(" output codes %.3f %% within one step (largest difference %ld)\n",
         100.0 * a.within1 / a.values, a.max_step);
  int rc = 0;
  if (!tq_agreement_ok(&a, classify)) {
    int first = tq_agreement_first_divergence(&a);
    const char *layer = first >= 0 ? a.tensors[first].op : "(none)";
    const char *tensor = first >= 0 ? a.tensors[first].name : "(none)";
    fflush(stdout);
    if (allow)
      fprintf(stderr, "tinyq: warning: %s: the integer model diverges from the fake-quant model "
                      "from layer %s (tensor %s) on; exported anyway (--allow-divergence)\n",
              path, layer, tensor);
    else
      rc = tq_cli_error("%s: the integer model diverges from the fake-quant model beyond the bounds "
                        "(top-1 %.1f %%, %.0f %% within one step) from layer %s (tensor %s) on; "
                        "nothing written (see tinyq eval --integer --compare; --allow-divergence "
                        "exports anyway)",
                        path, 100 * TQ_AGREE_MIN_TOP1, 100 * TQ_AGREE_MIN_WITHIN1, layer, tensor);
  }
  tq_agreement_free(&a);
  return rc;
}

int tq_cmd_export(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  tq_opt o[] = {{"out", 1, NULL},  {"static", 1, NULL}, {"range", 1, NULL},
                {"data", 1, NULL}, {"plan", 0, NULL},   {"scaling", 1, NULL},
                {"allow-divergence", 0, NULL}, {"no-simulate", 0, NULL}};
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
  tq_dataset calib = {0};
  char loss_buf[64];
  const char *loss = task_str(meta, "loss", loss_buf, sizeof loss_buf);
  tq_loss lk = TQ_LOSS_SPARSE_XENT;
  int classify = !(loss && tq_loss_parse(loss, &lk) == TQ_OK && lk == TQ_LOSS_MSE);
  rc = tq_cli_static_scales(m, spec, tq_args_get(o, no, "range"), data, scaling, &calib);
  if (!rc && tq_deploy_lower(&d, m)) rc = tq_cli_error("%s: %s", pos[0], tq_last_error());
  if (!rc) {
    tq_deploy_print_plan(d, stdout);
    if (tq_args_get(o, no, "no-simulate")) tq_model_set_deploy_simulation(m, 0);
    rc = check_agreement(d, m, &calib, data, scaling, classify, pos[0],
                         tq_args_get(o, no, "allow-divergence") != NULL);
  }
  if (!rc) {
    if (!plan_only) {
      if (emit_staged(d, dir)) {
        rc = tq_cli_error("%s", tq_last_error());
      } else {
        printf("wrote %s: model.h, model.c, main_host.c, Makefile, runtime sources "
               "(arena %zu bytes, weights %zu bytes)\n",
               dir, tq_deploy_arena_bytes(d), tq_deploy_weight_bytes(d));
      }
    }
  }
  tq_dataset_free(&calib);
  tq_deploy_free(d);
  tq_model_free(m);
  tq_free(meta);
  return rc;
}
