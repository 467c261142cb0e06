/* tinyq export: lower a QAT model to integer arithmetic and generate dependency-free C. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "options.h"
#include "runtime_dir.h"
#include "static_scales.h"
#include "task.h"
#include "tinyq/deploy.h"

static const char USAGE[] =
    "usage: tinyq export MODEL_FILE --out DIR [options]\n\n"
    "  Lowers a QAT model to integer-only arithmetic (power-of-two scales become shifts, free\n"
    "  scales fixed-point multipliers), plans one static arena by tensor liveness, and writes\n"
    "  DIR/model.h, model.c, main_host.c, the runtime sources and a Makefile.\n";

typedef struct {
  char file[4096], out[1024], static_spec[64], range[8], data[1024], scaling[16], frontend[8];
  int plan, allow_divergence, no_simulate;
} export_opts;

#define S export_opts
static const tq_arg export_args[] = {
    TQ_ARG_FILE(S, file, "MODEL_FILE", "one MODEL_FILE"),
    {.name = "out", .type = TQ_ARG_STRING, .meta = "DIR", TQ_AT(S, out), .help = "where the C sources go"},
    {TQ_OPT_STATIC(S, static_spec),
     .help = "ema (moving averages learned in QAT) | calib:N (N training samples); default: the scales stored in "
             "the model file, else ema"},
    {TQ_OPT_RANGE(S, range), .help = "how a range becomes scale and zero point (spec)"},
    {TQ_OPT_DATA(S, data), .help = "calibration data (default: the model's training data)"},
    {TQ_OPT_SCALING(S, scaling), .help = "pixel scaling of --data (default: the model's training scaling)"},
    {.name = "frontend", .type = TQ_ARG_ENUM, .meta = "mfcc|logmel", TQ_AT(S, frontend),
     .help = "also emit the PCM front-end as float C for the MCU (no double, no malloc, const tables, own real "
             "FFT): mfcc for a 49x10x1 keyword classifier (PCM -> class), logmel for the 640-value auto-encoder "
             "(PCM streamed -> anomaly score); tq_fe_*.c, API in model.h, make -f Makefile.frontend"},
    {TQ_OPT_FLAG("plan", S, plan), .help = "print the plan only, write nothing"},
    {TQ_OPT_FLAG("allow-divergence", S, allow_divergence),
     .help = "export even when the integer model disagrees with the fake-quant model on the calibration samples "
             "beyond the bounds (top-1 99.5 %, 99 % of output codes within one step); without it such an export is "
             "refused, writing nothing"},
    {TQ_OPT_FLAG("no-simulate", S, no_simulate),
     .help = "check against the fake-quant model with QAT's own rounding instead of the one that simulates the "
             "integer model (stricter: refuses when the lowering's rounding itself changes predictions)"},
};
#undef S


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
static tq_status emit_staged(const tq_dmodel *d, const char *dir, const tq_feature_kind *frontend) {
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
  if (!st && frontend) st = tq_deploy_emit_frontend(d, *frontend, tmp, tq_cli_runtime_dir());
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

/* Lowers, checks and (without --plan) writes the C sources. */
static int export_model(tq_model *m, const export_opts *o, int classify, const char *path) {
  tq_dmodel *d = NULL;
  tq_dataset calib = {0};
  const char *data = o->data[0] ? o->data : NULL, *scaling = o->scaling[0] ? o->scaling : NULL;
  const char *spec = o->static_spec[0] ? o->static_spec : tq_model_is_static(m) ? NULL : "ema";
  tq_feature_kind fe = o->frontend[0] && !strcmp(o->frontend, "logmel") ? TQ_FEATURES_LOGMEL : TQ_FEATURES_MFCC;
  int rc = tq_cli_static_scales(m, spec, o->range[0] ? o->range : NULL, data, scaling, &calib);
  if (!rc && tq_deploy_lower(&d, m)) rc = tq_cli_error("%s: %s", path, tq_last_error());
  if (!rc && o->frontend[0] && tq_deploy_frontend_check(d, fe)) rc = tq_cli_error("%s: %s", path, tq_last_error());
  if (!rc) {
    tq_deploy_print_plan(d, stdout);
    if (o->no_simulate) tq_model_set_deploy_simulation(m, 0);
    rc = check_agreement(d, m, &calib, data, scaling, classify, path, o->allow_divergence);
  }
  if (!rc && !o->plan) {
    if (emit_staged(d, o->out, o->frontend[0] ? &fe : NULL))
      rc = tq_cli_error("%s", tq_last_error());
    else
      printf("wrote %s: model.h, model.c, main_host.c, Makefile, runtime sources%s "
             "(arena %zu bytes, weights %zu bytes)\n",
             o->out, o->frontend[0] ? ", the PCM front-end (tq_fe_*, Makefile.frontend)" : "",
             tq_deploy_arena_bytes(d), tq_deploy_weight_bytes(d));
  }
  tq_dataset_free(&calib);
  tq_deploy_free(d);
  return rc;
}

static int export_run(void *settings) {
  export_opts *o = settings;
  if (!o->out[0] && !o->plan) return tq_cli_usage_error("export: --out DIR is required");
  tq_model *m = NULL;
  char *meta = NULL, loss[64] = "";
  if (tq_model_load(o->file, &m, &meta, 100)) return tq_cli_error("%s", tq_last_error());
  tq_task_setting(o->data, sizeof o->data, meta, "data");
  tq_task_setting(o->scaling, sizeof o->scaling, meta, "scaling");
  tq_task_setting(loss, sizeof loss, meta, "loss");
  tq_free(meta);
  tq_loss lk = TQ_LOSS_SPARSE_XENT;
  int classify = !(loss[0] && tq_loss_parse(loss, &lk) == TQ_OK && lk == TQ_LOSS_MSE);
  int rc = export_model(m, o, classify, o->file);
  tq_model_free(m);
  return rc;
}

static const tq_command export_cmd = {"export", TQ_ARGS_OF(export_args, USAGE), TQ_RUN(export_opts, export_run)};
int tq_cmd_export(int argc, char **argv) { return tq_args_run(&export_cmd, argc, argv); }
