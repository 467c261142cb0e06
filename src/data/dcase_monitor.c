/* The auto-encoder's AUC and pAUC per machine id after every training epoch, on the DCASE test
 * folder: the development set has no anomalous clips outside it, so this is the only place an AUC
 * can be measured while training. It is reported, never used to choose a checkpoint (best.tqm
 * follows the validation loss), so the test set does not leak into the model. */
#include <stdio.h>
#include <string.h>

#include "tinyq/audio.h"
#include "tinyq/model.h"

enum { MAX_IDS = 100 };

struct tq_dcase_monitor {
  const tq_dataset *test;
  int batch;
  char csv[4096];
  tq_epoch_callback next;
  void *next_ctx;
};

/* Appends the epoch's rows to the CSV (header when the file is new): epoch, id, auc, pauc, with
 * id "mean" for the mean over the ids where both are defined. */
static tq_status append_csv(const char *path, int epoch, const tq_dcase_score *s, int n) {
  FILE *f = fopen(path, "a");
  if (!f) return tq_fail(TQ_ERR_IO, "%s: cannot open for appending", path);
  if (ftell(f) == 0) fprintf(f, "epoch,id,auc,pauc\n");
  double auc = 0, pauc = 0;
  int defined = 0;
  for (int i = 0; i < n; i++) {
    fprintf(f, "%d,%02d,%.6f,%.6f\n", epoch + 1, s[i].id, s[i].auc, s[i].pauc);
    if (s[i].auc == s[i].auc) auc += s[i].auc, pauc += s[i].pauc, defined++;
  }
  if (defined) fprintf(f, "%d,mean,%.6f,%.6f\n", epoch + 1, auc / defined, pauc / defined);
  return fclose(f) ? tq_fail(TQ_ERR_IO, "%s: write failed", path) : TQ_OK;
}

static tq_status measure(void *ctx, tq_model *m, int epoch, const tq_epoch_metrics *metrics) {
  tq_dcase_monitor *mon = ctx;
  tq_dcase_score sc[MAX_IDS];
  int n = 0;
  tq_status st = tq_dcase_evaluate(m, mon->test, mon->batch, sc, MAX_IDS, &n);
  if (!st) {
    double auc = 0, pauc = 0;
    int defined = 0;
    for (int i = 0; i < n; i++)
      if (sc[i].auc == sc[i].auc) auc += sc[i].auc, pauc += sc[i].pauc, defined++;
    if (defined)
      printf("epoch %d: test AUC %.4f  pAUC %.4f  (mean over %d id%s; not used to choose best.tqm)\n", epoch + 1,
             auc / defined, pauc / defined, defined, defined == 1 ? "" : "s");
    else
      printf("epoch %d: test AUC undefined (no id has both normal and anomalous clips)\n", epoch + 1);
    fflush(stdout);
    if (mon->csv[0]) st = append_csv(mon->csv, epoch, sc, n);
  }
  if (!st && mon->next) st = mon->next(mon->next_ctx, m, epoch, metrics);
  return st;
}

tq_status tq_dcase_monitor_attach(tq_dcase_monitor **out, const tq_dataset *test, tq_train_config *c,
                                  const char *csv_path) {
  *out = NULL;
  if (!test->y) return tq_fail(TQ_ERR_ARG, "AUC per epoch needs the DCASE test split (labelled clips)");
  tq_dcase_monitor *mon = tq_alloc(sizeof *mon);
  if (!mon) return tq_fail(TQ_ERR_MEMORY, "AUC per epoch: out of memory");
  memset(mon, 0, sizeof *mon);
  mon->test = test;
  mon->batch = c->batch;
  if (csv_path && snprintf(mon->csv, sizeof mon->csv, "%s", csv_path) >= (int)sizeof mon->csv) {
    tq_free(mon);
    return tq_fail(TQ_ERR_ARG, "%s: path too long", csv_path);
  }
  mon->next = c->on_epoch;
  mon->next_ctx = c->on_epoch_ctx;
  c->on_epoch = measure;
  c->on_epoch_ctx = mon;
  *out = mon;
  return TQ_OK;
}

void tq_dcase_monitor_free(tq_dcase_monitor *mon) { tq_free(mon); }
