/* tinyq eval: loss and accuracy of a model file on a dataset split. */
#include <omp.h>
#include <string.h>

#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "options.h"
#include "static_scales.h"
#include "tinyq/audio.h"
#include "tinyq/deploy.h"
#include "task.h"

static const char USAGE[] =
    "usage: tinyq eval MODEL_FILE --data SPEC [options]\n";

typedef struct {
  char file[4096], data[1024], split[8], scaling[16], loss[64], static_spec[64], range[8], dump_inputs[1024],
      dump_codes[1024], dump_pcm[1024];
  int batch, threads, limit, integer, compare, no_simulate;
} eval_opts;

#define S eval_opts
static const tq_arg eval_args[] = {
    TQ_ARG_FILE(S, file, "MODEL_FILE", "one MODEL_FILE"),
    {TQ_OPT_DATA(S, data), .help = "{datasets} (default: the training data)"},
    {.name = "split", .type = TQ_ARG_ENUM, .meta = "test|train", .def = "test", TQ_AT(S, split)},
    {TQ_OPT_SCALING(S, scaling), .help = "unit | raw | centered (default: as in training)"},
    {.name = "loss", .type = TQ_ARG_STRING, .meta = "L", TQ_AT(S, loss), .help = "default: as in training"},
    {TQ_OPT_BATCH(S, batch), .def = "100"},
    {TQ_OPT_STATIC(S, static_spec),
     .help = "evaluate with static activation scales: ema (moving averages of QAT) or calib:N (calibrated on N "
             "training samples) (SPEC §6), rounding as the integer model does (tinyq export): the deployed "
             "model's accuracy"},
    {TQ_OPT_RANGE(S, range), .help = "how a range becomes a scale and zero point (spec)"},
    {TQ_OPT_FLAG("no-simulate", S, no_simulate),
     .help = "with static scales, round as the quantizers do in QAT instead of simulating the integer model's "
             "rounding (shows what the simulation changes; --compare then measures the difference)"},
    {TQ_OPT_FLAG("integer", S, integer), .help = "run the integer-only lowering (the runtime kernels of tinyq export)"},
    {TQ_OPT_FLAG("compare", S, compare),
     .help = "(with --integer) compare the integer model with the fake-quant model (same static scales) sample "
             "by sample and tensor by tensor: top-1 agreement, output code steps, the first tensor more than one "
             "step apart; exit status 1 below the bounds (top-1 99.5 %, 99 % within one step)"},
    {.name = "dump-inputs", .type = TQ_ARG_STRING, .meta = "F", TQ_AT(S, dump_inputs),
     .help = "(with --integer) write the evaluated inputs as float32 to F"},
    {.name = "dump-codes", .type = TQ_ARG_STRING, .meta = "F", TQ_AT(S, dump_codes),
     .help = "(with --integer) write each sample's output codes as a text line to F"},
    {.name = "dump-pcm", .type = TQ_ARG_STRING, .meta = "F", TQ_AT(S, dump_pcm),
     .help = "(speech-commands: data) write the 16 kHz PCM each evaluated row's features are computed from to F: "
             "16,000 int16 little-endian samples a row (a word clip zero-padded, a silence row's cut of noise), "
             "the rows of --dump-inputs and --dump-codes; input for tinyq export --frontend mfcc's pcm_test"},
    {.name = "limit", .type = TQ_ARG_INT, .meta = "N", .min = 1, .max = 2147483647, TQ_AT(S, limit),
     .help = "evaluate the first N samples only"},
    {TQ_OPT_THREADS(S, threads), .def = "2"},
};
#undef S


static const char *given(const char *s) { return s[0] ? s : NULL; }

#define KWS_PREFIX "speech-commands:"

/* --dump-pcm: the clips behind the evaluated rows (the split's first n), indexed again as loaded. */
static int dump_pcm(const char *data, int train_split, int n, const char *path) {
  tq_kws_set *s = NULL;
  tq_status st = tq_kws_open(&s, data + strlen(KWS_PREFIX), train_split);
  if (!st) st = tq_kws_write_pcm(s, n, path);
  tq_kws_close(s);
  return st ? tq_cli_error("--dump-pcm: %s", tq_last_error()) : 0;
}

/* The agreement report of --compare; returns the exit code (1 below the bounds). */
static int report_agreement(const tq_agreement *a, int classify, const char *path) {
  printf("agreement of the integer model with the fake-quant model (%ld samples):\n", a->samples);
  if (classify)
    printf("  top-1: %.2f %% (%ld of %ld predictions differ)\n", 100.0 * a->top1_same / a->samples,
           a->samples - a->top1_same, a->samples);
  printf("  output codes: %.3f %% within one step, largest difference %ld step%s\n",
         100.0 * a->within1 / a->values, a->max_step, a->max_step == 1 ? "" : "s");
  printf("  %-26s %-22s %12s %10s %9s\n", "tensor", "written by", "values", ">1 step", "max step");
  for (int t = 0; t < a->ntensors; t++) {
    const tq_agree_tensor *at = &a->tensors[t];
    if (!at->values) continue;
    printf("  %-26s %-22s %12ld %9.4f%% %9ld\n", at->name, at->op, at->values,
           100.0 * at->beyond1 / at->values, at->max_step);
  }
  int first = tq_agreement_first_divergence(a);
  if (first >= 0)
    printf("first divergence beyond one step: %s (written by %s)\n", a->tensors[first].name,
           a->tensors[first].op);
  else
    printf("no tensor more than one step apart\n");
  fflush(stdout);
  if (tq_agreement_ok(a, classify)) return 0;
  return tq_cli_error("%s: the integer lowering changes %s beyond the bound (%.1f %% top-1, %.0f %% "
                      "within one step); first diverging layer: %s",
                      path, classify ? "predictions" : "outputs", 100 * TQ_AGREE_MIN_TOP1,
                      100 * TQ_AGREE_MIN_WITHIN1, first >= 0 ? a->tensors[first].op : "(none)");
}

/* Integer evaluation: the lowered model over the dataset; accuracy from the output codes. */
static int eval_integer(tq_model *m, const tq_dataset *d, tq_loss loss, int batch, const char *path,
                        const char *dump_inputs, const char *dump_codes, int compare, int dcase) {
  tq_dmodel *dm = NULL;
  if (tq_deploy_lower(&dm, m)) return tq_cli_error("%s: %s", path, tq_last_error());
  size_t in = tq_deploy_input_size(dm), k = tq_deploy_output_size(dm);
  if ((size_t)d->h * d->w * d->c != in) {
    tq_deploy_free(dm);
    return tq_cli_error("data samples have %d values, the model takes %zu", d->h * d->w * d->c, in);
  }
  int32_t *codes = malloc(sizeof(int32_t) * k * (size_t)batch);
  float *outf = malloc(sizeof(float) * k * (size_t)batch);
  FILE *fc = dump_codes ? fopen(dump_codes, "w") : NULL;
  /* DCASE: each row's mean squared reconstruction error, for AUC per machine id */
  float *row_err = dcase && d->y ? malloc(sizeof(float) * (size_t)d->n) : NULL;
  int rc = 0;
  if (!codes || !outf || (dump_codes && !fc) || (dcase && d->y && !row_err)) {
    rc = tq_cli_error("%s: cannot open for writing", dump_codes ? dump_codes : "memory");
    goto done;
  }
  if (dump_inputs && tq_write_file_atomic(dump_inputs, d->x, sizeof(float) * in * (size_t)d->n)) {
    rc = tq_cli_error("%s", tq_last_error());
    goto done;
  }
  long right = 0;
  double sq = 0;
  tq_agreement agree = {0};
  for (int s = 0; s < d->n; s += batch) {
    int n = d->n - s < batch ? d->n - s : batch;
    const float *x = d->x + (size_t)s * in;
    if (compare ? tq_deploy_agreement(&agree, dm, m, x, n, codes, outf)
                : tq_deploy_run(dm, x, n, codes, outf)) {
      rc = tq_cli_error("%s: %s", path, tq_last_error());
      goto done;
    }
    for (int i = 0; i < n; i++) {
      const int32_t *c = codes + (size_t)i * k;
      if (fc)
        for (size_t j = 0; j < k; j++) fprintf(fc, j ? " %d" : "%d", (int)c[j]);
      if (fc) fputc('\n', fc);
      if (loss == TQ_LOSS_MSE) {
        double row = 0;
        for (size_t j = 0; j < k; j++) {
          double e = outf[(size_t)i * k + j] - x[(size_t)i * in + j];
          row += e * e;
        }
        sq += row;
        if (row_err) row_err[s + i] = (float)(row / (double)k);
      } else {
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
          if (c[j] > c[best]) best = j;
        right += (int)best == d->y[s + i];
      }
    }
  }
  printf("model: %s (%s, integer-only: %zu-byte arena, %zu bytes of weights)\n", path,
         tq_model_arch(m), tq_deploy_arena_bytes(dm), tq_deploy_weight_bytes(dm));
  printf("data: %d samples\n", d->n);
  if (loss == TQ_LOSS_MSE)
    printf("loss: %.6f\n", sq / ((double)d->n * k));
  else
    printf("accuracy: %.4f\n", (double)right / d->n);
  if (row_err) {
    tq_dcase_score sc[100];
    int ids = 0;
    if (tq_dcase_scores(row_err, d->y, d->n, sc, 100, &ids)) rc = tq_cli_error("%s: %s", path, tq_last_error());
    else tq_dcase_print(stdout, sc, ids);
  }
  if (compare && !rc) rc = report_agreement(&agree, loss != TQ_LOSS_MSE, path);
done:
  free(row_err);
  tq_agreement_free(&agree);
  if (fc && fclose(fc) != 0 && !rc) rc = tq_cli_error("%s: write failed", dump_codes);
  free(codes);
  free(outf);
  tq_deploy_free(dm);
  return rc;
}

/* The fake-quant (or float) model over the dataset. */
static int eval_model(tq_model *m, const tq_dataset *d, const eval_opts *o, tq_loss loss, const char *path) {
  double l, a;
  if (tq_evaluate(m, d, loss, o->batch, &l, &a)) return tq_cli_error("%s: %s", path, tq_last_error());
  printf("model: %s (%s%s%s)\ndata: %s, %s split, %d samples\n", path, tq_model_arch(m),
         tq_model_is_quantized(m) ? ", quantized" : "", tq_model_is_static(m) ? ", static activation scales" : "",
         o->data, o->split, d->n);
  if (loss == TQ_LOSS_MSE)
    printf("loss: %.6f\n", l);
  else
    printf("loss: %.4f\naccuracy: %.4f\n", l, a);
  if (loss == TQ_LOSS_MSE && !strncmp(o->data, "dcase:", 6) && tq_dcase_report(m, d, o->batch, NULL))
    return tq_cli_error("%s: %s", path, tq_last_error());
  return 0;
}

/* After the model file is read: its task fills in what the options leave open. */
static int eval_file(tq_model *m, eval_opts *o, const char *path) {
  tq_loss loss = TQ_LOSS_SPARSE_XENT;
  tq_dataset d = {0};
  int rc = 0;
  if (!o->data[0]) {
    rc = tq_cli_usage_error("eval: --data is required (the model file does not name its data)");
  } else if (o->loss[0] && tq_loss_parse(o->loss, &loss)) {
    rc = tq_cli_usage_error("--loss: %s", tq_last_error());
  } else if ((rc = tq_cli_static_scales(m, given(o->static_spec), given(o->range), o->data, o->scaling, NULL))) {
    /* reported */
  } else if (o->dump_pcm[0] && strncmp(o->data, KWS_PREFIX, strlen(KWS_PREFIX))) {
    rc = tq_cli_usage_error("--dump-pcm needs speech-commands: data (the rows of %s are not PCM clips)", o->data);
  } else if (tq_task_load_data(&d, o->data, !strcmp(o->split, "train"), o->scaling) || tq_task_limit(&d, o->limit)) {
    rc = tq_cli_error("%s", tq_last_error());
  } else if (o->no_simulate && !tq_model_is_static(m) && !o->integer) {
    rc = tq_cli_usage_error("--no-simulate needs static scales (--static ema|calib:N)");
  } else if (o->compare && !o->integer) {
    rc = tq_cli_usage_error("--compare needs --integer");
  } else if (o->integer && !o->static_spec[0] && !tq_model_is_static(m) &&
             (rc = tq_cli_static_scales(m, "ema", given(o->range), o->data, o->scaling, NULL))) {
    /* reported */
  } else if (o->dump_pcm[0] && (rc = dump_pcm(o->data, !strcmp(o->split, "train"), d.n, o->dump_pcm))) {
    /* reported */
  } else {
    if (o->no_simulate) tq_model_set_deploy_simulation(m, 0);
    rc = o->integer ? eval_integer(m, &d, loss, o->batch, path, given(o->dump_inputs), given(o->dump_codes),
                                   o->compare, loss == TQ_LOSS_MSE && !strncmp(o->data, "dcase:", 6))
                    : eval_model(m, &d, o, loss, path);
  }
  tq_dataset_free(&d);
  return rc;
}

static int eval_run(void *settings) {
  eval_opts *o = settings;
  omp_set_num_threads(o->threads);
  tq_model *m = NULL;
  char *meta = NULL;
  if (tq_model_load(o->file, &m, &meta, o->batch)) return tq_cli_error("%s", tq_last_error());
  tq_task_setting(o->data, sizeof o->data, meta, "data");
  tq_task_setting(o->scaling, sizeof o->scaling, meta, "scaling");
  tq_task_setting(o->loss, sizeof o->loss, meta, "loss");
  tq_free(meta);
  int rc = eval_file(m, o, o->file);
  tq_model_free(m);
  return rc;
}

static const tq_command eval_cmd = {"eval", TQ_ARGS_OF(eval_args, USAGE), TQ_RUN(eval_opts, eval_run)};
int tq_cmd_eval(int argc, char **argv) { return tq_args_run(&eval_cmd, argc, argv); }
