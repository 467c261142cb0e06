/* Losses with their gradients, accuracy, ROC AUC and partial AUC. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/train.h"

tq_status tq_loss_parse(const char *s, tq_loss *out) {
  if (!strcmp(s, "sparse_categorical_crossentropy") || !strcmp(s, "sparse_ce"))
    *out = TQ_LOSS_SPARSE_XENT;
  else if (!strcmp(s, "categorical_crossentropy") || !strcmp(s, "ce"))
    *out = TQ_LOSS_CATEGORICAL_XENT;
  else if (!strcmp(s, "mse") || !strcmp(s, "mean_squared_error"))
    *out = TQ_LOSS_MSE;
  else
    return tq_fail(TQ_ERR_ARG,
                   "unknown loss '%s' (expected sparse_categorical_crossentropy, "
                   "categorical_crossentropy or mse)",
                   s);
  return TQ_OK;
}

const char *tq_loss_name(tq_loss l) {
  switch (l) {
    case TQ_LOSS_SPARSE_XENT: return "sparse_categorical_crossentropy";
    case TQ_LOSS_CATEGORICAL_XENT: return "categorical_crossentropy";
    case TQ_LOSS_MSE: return "mse";
  }
  return "unknown";
}

static int argmax(const float *v, int k) {
  int best = 0;
  for (int j = 1; j < k; j++)
    if (v[j] > v[best]) best = j;
  return best;
}

float tq_loss_forward_backward(tq_loss loss, float *dout, float *probs, const float *out,
                               const int *labels, const float *target, int n, int k,
                               int *correct) {
  float l;
  int right = 0;
  if (loss == TQ_LOSS_MSE) {
    size_t count = (size_t)n * k;
    l = tq_mse_forward(out, target, count);
    if (dout) tq_mse_backward(dout, out, target, count);
  } else {
    /* Categorical CE with one-hot targets equals sparse CE on the label: one code path. */
    l = tq_softmax_xent_forward(probs, out, NULL, labels, n, k);
    if (dout) tq_softmax_xent_backward(dout, probs, NULL, labels, n, k);
    for (int i = 0; i < n; i++) right += argmax(out + (size_t)i * k, k) == labels[i];
  }
  if (correct) *correct = right;
  return l;
}

typedef struct {
  float s;
  int y;
} scored;

static int by_score_desc(const void *a, const void *b) {
  float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
  return (x < y) - (x > y);
}

/* ROC curve from scores sorted descending, ties grouped; returns the area up to max_fpr with
 * linear interpolation on the last segment (as scikit-learn's roc_auc_score(max_fpr=...)). */
static double roc_area(const float *scores, const int *labels, int n, double max_fpr) {
  scored *v = malloc(sizeof *v * (size_t)(n > 0 ? n : 1));
  if (!v) return NAN;
  int pos = 0, neg = 0;
  for (int i = 0; i < n; i++) {
    v[i].s = scores[i];
    v[i].y = labels[i] != 0;
    pos += v[i].y;
  }
  neg = n - pos;
  if (pos == 0 || neg == 0) {
    free(v);
    return NAN;
  }
  qsort(v, (size_t)n, sizeof *v, by_score_desc);
  double area = 0, fpr0 = 0, tpr0 = 0;
  int tp = 0, fp = 0;
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && v[j].s == v[i].s) {
      tp += v[j].y;
      fp += !v[j].y;
      j++;
    }
    double fpr = (double)fp / neg, tpr = (double)tp / pos;
    if (fpr >= max_fpr) {
      double t = fpr > fpr0 ? (max_fpr - fpr0) / (fpr - fpr0) : 0;
      double tpr_cut = tpr0 + t * (tpr - tpr0);
      area += (max_fpr - fpr0) * (tpr0 + tpr_cut) / 2;
      free(v);
      return area;
    }
    area += (fpr - fpr0) * (tpr + tpr0) / 2;
    fpr0 = fpr;
    tpr0 = tpr;
    i = j;
  }
  free(v);
  return area;
}

double tq_roc_auc(const float *scores, const int *labels, int n) {
  return roc_area(scores, labels, n, 1.0);
}

double tq_roc_pauc(const float *scores, const int *labels, int n, double max_fpr, int standardize) {
  double a = roc_area(scores, labels, n, max_fpr);
  if (!standardize) return a;
  /* McClish: map [min_area, max_area] = [max_fpr^2/2, max_fpr] onto [0.5, 1]. */
  double min_area = 0.5 * max_fpr * max_fpr, max_area = max_fpr;
  return 0.5 * (1 + (a - min_area) / (max_area - min_area));
}
