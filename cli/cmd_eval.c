/* tinyq eval: loss and accuracy of a model file on a dataset split. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include <stdlib.h>

#include "static_scales.h"
#include "tinyq/deploy.h"
#include "task.h"

static const char *USAGE =
    "usage: tinyq eval MODEL_FILE --data SPEC [options]\n\n"
    "  --data SPEC       fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR (default: the training data)\n"
    "  --split S         test | train (test)\n"
    "  --scaling S       unit | raw | centered (default: as in training)\n"
    "  --loss L          default: as in training\n"
    "  --batch B         (100)\n"
    "  --static S        evaluate with static activation scales: ema (moving averages of QAT) or\n"
    "                    calib:N (calibrated on N training samples) (SPEC §6), rounding as the\n"
    "                    integer model does (tinyq export): the deployed model's accuracy\n"
    "  --range R         spec | full: how a range becomes a scale and zero point (spec)\n"
    "  --no-simulate     with static scales, round as the quantizers do in QAT instead of\n"
    "                    simulating the integer model's rounding (shows what the simulation\n"
    "                    changes; --compare then measures the difference)\n"
    "  --integer         run the integer-only lowering (the runtime kernels of tinyq export)\n"
    "  --compare         (with --integer) compare the integer model with the fake-quant model\n"
    "                    (same static scales) sample by sample and tensor by tensor: top-1\n"
    "                    agreement, output code steps, the first tensor more than one step apart;\n"
    "                    exit status 1 below the bounds (top-1 99.5 %, 99 % within one step)\n"
    "  --dump-inputs F   (with --integer) write the evaluated inputs as float32 to F\n"
    "  --dump-codes F    (with --integer) write each sample's output codes as a text line to F\n"
    "  --limit N         evaluate the first N samples only\n"
    "  --threads T       (2)\n";

static const char *task_str(const cJSON *task, const char *key) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, key));
}

static int spec_given(const tq_opt *o, int no) { return tq_args_get(o, no, "static") != NULL; }

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
                        const char *dump_inputs, const char *dump_codes, int compare) {
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
  int rc = 0;
  if (!codes || !outf || (dump_codes && !fc)) {
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
        for (size_t j = 0; j < k; j++) {
          double e = outf[(size_t)i * k + j] - x[(size_t)i * in + j];
          sq += e * e;
        }
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
  if (compare) rc = report_agreement(&agree, loss != TQ_LOSS_MSE, path);
done:
  tq_agreement_free(&agree);
  if (fc && fclose(fc) != 0 && !rc) rc = tq_cli_error("%s: write failed", dump_codes);
  free(codes);
  free(outf);
  tq_deploy_free(dm);
  return rc;
}

int tq_cmd_eval(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  tq_opt o[] = {{"data", 1, NULL},  {"split", 1, NULL}, {"scaling", 1, NULL},
                {"loss", 1, NULL},  {"batch", 1, NULL}, {"threads", 1, NULL},
                {"static", 1, NULL}, {"range", 1, NULL}, {"integer", 0, NULL},
                {"dump-inputs", 1, NULL}, {"dump-codes", 1, NULL}, {"limit", 1, NULL},
                {"compare", 0, NULL}, {"no-simulate", 0, NULL}};
  const int no = (int)(sizeof o / sizeof o[0]);
  const char *pos[1];
  int npos, rc = tq_args_parse("eval", argc, argv, o, no, pos, 1, &npos);
  if (rc) return rc;
  if (npos != 1) return tq_cli_usage_error("eval: expected one MODEL_FILE (see tinyq eval --help)");
  int batch = 100, threads = 2, limit = 0;
  if (tq_args_int(o, no, "batch", 1, 65536, &batch) || tq_args_int(o, no, "threads", 1, 256, &threads) ||
      tq_args_int(o, no, "limit", 1, 2147483647, &limit))
    return 2;
  omp_set_num_threads(threads);
  const char *split = tq_args_get(o, no, "split");
  if (split && strcmp(split, "test") && strcmp(split, "train"))
    return tq_cli_usage_error("--split: expected test or train, got '%s'", split);

  tq_model *m = NULL;
  char *meta = NULL;
  if (tq_model_load(pos[0], &m, &meta, batch)) return tq_cli_error("%s", tq_last_error());
  cJSON *root = cJSON_Parse(meta ? meta : "{}");
  const cJSON *task = cJSON_GetObjectItemCaseSensitive(root, "task");
  const char *data = tq_args_get(o, no, "data");
  const char *scaling = tq_args_get(o, no, "scaling");
  const char *loss_s = tq_args_get(o, no, "loss");
  if (!data) data = task_str(task, "data");
  if (!scaling) scaling = task_str(task, "scaling");
  if (!loss_s) loss_s = task_str(task, "loss");
  tq_loss loss = TQ_LOSS_SPARSE_XENT;
  tq_dataset d = {0};
  rc = 0;
  if (!data) {
    rc = tq_cli_usage_error("eval: --data is required (the model file does not name its data)");
  } else if (loss_s && tq_loss_parse(loss_s, &loss)) {
    rc = tq_cli_usage_error("--loss: %s", tq_last_error());
  } else if ((rc = tq_cli_static_scales(m, tq_args_get(o, no, "static"), tq_args_get(o, no, "range"),
                                        data, scaling, NULL))) {
    /* reported */
  } else if (tq_task_load_data(&d, data, split && !strcmp(split, "train"), scaling)) {
    rc = tq_cli_error("%s", tq_last_error());
  } else if (tq_task_limit(&d, limit)) {
    rc = tq_cli_error("%s", tq_last_error());
  } else if (tq_args_get(o, no, "no-simulate") && !tq_model_is_static(m) &&
             !tq_args_get(o, no, "integer")) {
    rc = tq_cli_usage_error("--no-simulate needs static scales (--static ema|calib:N)");
  } else if (tq_args_get(o, no, "compare") && !tq_args_get(o, no, "integer")) {
    rc = tq_cli_usage_error("--compare needs --integer");
  } else if (tq_args_get(o, no, "integer")) {
    if (!spec_given(o, no) && !tq_model_is_static(m) &&
        (rc = tq_cli_static_scales(m, "ema", tq_args_get(o, no, "range"), data, scaling, NULL))) {
      /* reported */
    } else {
      if (tq_args_get(o, no, "no-simulate")) tq_model_set_deploy_simulation(m, 0);
      rc = eval_integer(m, &d, loss, batch, pos[0], tq_args_get(o, no, "dump-inputs"),
                        tq_args_get(o, no, "dump-codes"), tq_args_get(o, no, "compare") != NULL);
    }
  } else {
    double l, a;
    if (tq_args_get(o, no, "no-simulate")) tq_model_set_deploy_simulation(m, 0);
    if (tq_evaluate(m, &d, loss, batch, &l, &a)) {
      rc = tq_cli_error("%s: %s", pos[0], tq_last_error());
    } else {
      printf("model: %s (%s%s%s)\ndata: %s, %s split, %d samples\n", pos[0], tq_model_arch(m),
             tq_model_is_quantized(m) ? ", quantized" : "",
             tq_model_is_static(m) ? ", static activation scales" : "", data, split ? split : "test", d.n);
      if (loss == TQ_LOSS_MSE)
        printf("loss: %.6f\n", l);
      else
        printf("loss: %.4f\naccuracy: %.4f\n", l, a);
    }
  }
  tq_dataset_free(&d);
  cJSON_Delete(root);
  tq_free(meta);
  tq_model_free(m);
  return rc;
}
