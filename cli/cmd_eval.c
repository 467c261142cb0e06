/* tinyq eval: loss and accuracy of a model file on a dataset split. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "static_scales.h"
#include "task.h"

static const char *USAGE =
    "usage: tinyq eval MODEL_FILE --data SPEC [options]\n\n"
    "  --data SPEC       fashion-mnist[:DIR] | mnist:DIR | cifar10:DIR (default: the training data)\n"
    "  --split S         test | train (test)\n"
    "  --scaling S       unit | raw | centered (default: as in training)\n"
    "  --loss L          default: as in training\n"
    "  --batch B         (100)\n"
    "  --static S        evaluate with static activation scales: ema (moving averages of QAT) or\n"
    "                    calib:N (calibrated on N training samples) (SPEC §6)\n"
    "  --range R         spec | full: how a range becomes a scale and zero point (spec)\n"
    "  --threads T       (2)\n";

static const char *task_str(const cJSON *task, const char *key) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, key));
}

int tq_cmd_eval(int argc, char **argv) {
  if (tq_args_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  tq_opt o[] = {{"data", 1, NULL},  {"split", 1, NULL}, {"scaling", 1, NULL},
                {"loss", 1, NULL},  {"batch", 1, NULL}, {"threads", 1, NULL},
                {"static", 1, NULL}, {"range", 1, NULL}};
  const int no = (int)(sizeof o / sizeof o[0]);
  const char *pos[1];
  int npos, rc = tq_args_parse("eval", argc, argv, o, no, pos, 1, &npos);
  if (rc) return rc;
  if (npos != 1) return tq_cli_usage_error("eval: expected one MODEL_FILE (see tinyq eval --help)");
  int batch = 100, threads = 2;
  if (tq_args_int(o, no, "batch", 1, 65536, &batch) || tq_args_int(o, no, "threads", 1, 256, &threads))
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
                                        data, scaling))) {
    /* reported */
  } else if (tq_task_load_data(&d, data, split && !strcmp(split, "train"), scaling)) {
    rc = tq_cli_error("%s", tq_last_error());
  } else {
    double l, a;
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
