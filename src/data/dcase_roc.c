/* ROC curves per machine id of a DCASE test split, as CSV for the report: the points where the
 * threshold passes each distinct file score, from (0, 0) to (1, 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tinyq/audio.h"
#include "tinyq/train.h"

typedef struct {
  float score;
  int anomaly;
} scored;

static int by_score_desc(const void *a, const void *b) {
  float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
  return (x < y) - (x > y);
}

/* One id's curve: files sorted by score, a point after each run of equal scores. */
static void id_curve(FILE *f, int id, scored *v, int n) {
  int pos = 0, neg = 0;
  float *s = malloc(sizeof(float) * (size_t)n);
  int *lab = malloc(sizeof(int) * (size_t)n);
  if (!s || !lab) {
    free(s), free(lab);
    return;
  }
  for (int i = 0; i < n; i++) s[i] = v[i].score, lab[i] = v[i].anomaly, pos += v[i].anomaly;
  neg = n - pos;
  double auc = tq_roc_auc(s, lab, n);
  free(s), free(lab);
  qsort(v, (size_t)n, sizeof *v, by_score_desc);
  fprintf(f, "%02d,0,0,%.6f\n", id, auc);
  int tp = 0, fp = 0;
  for (int i = 0; i < n; i++) {
    tp += v[i].anomaly, fp += !v[i].anomaly;
    if (i + 1 < n && v[i + 1].score == v[i].score) continue;
    fprintf(f, "%02d,%.6f,%.6f,%.6f\n", id, (double)fp / neg, (double)tp / pos, auc);
  }
}

tq_status tq_dcase_roc_write(const char *path, const float *row_err, const int *y, int rows) {
  float *score;
  int *label;
  tq_status st = tq_dcase_file_scores(row_err, y, rows, &score, &label);
  if (st) return st;
  int files = rows / TQ_DCASE_VECTORS;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  scored *v = malloc(sizeof(scored) * (size_t)files);
  if (!f || !v) st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  if (!st) {
    fprintf(f, "id,fpr,tpr,auc\n");
    for (int id = 0, done = 0; id <= 9999 && done < files; id++) {
      int n = 0, pos = 0;
      for (int i = 0; i < files; i++)
        if (label[i] / 2 == id) v[n].score = score[i], v[n].anomaly = label[i] & 1, pos += label[i] & 1, n++;
      done += n;
      if (pos && pos < n) id_curve(f, id, v, n);
    }
  }
  if (f && fclose(f) && !st) st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  if (!st) st = tq_write_file_atomic(path, text, len);
  free(text), free(v), free(score), free(label);
  return st;
}
