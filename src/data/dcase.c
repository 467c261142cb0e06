/* DCASE 2020 task 2 layout (SPEC §3): a machine folder's train/normal_id_XX_*.wav and
 * test/{normal,anomaly}_id_XX_*.wav as rows of 196 log-mel vectors per file; and the per-id AUC
 * and pAUC of per-file anomaly scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio_internal.h"
#include "tinyq/audio.h"
#include "tinyq/model.h"
#include "tinyq/train.h"

#define DCASE_MAX_SECONDS 60
#define DCASE_MAX_ID 9999
#define PAUC_MAX_FPR 0.1

typedef struct {
  char *path;
  int id, anomaly;
} dcase_file;

/* "normal_id_XX_..." or "anomaly_id_XX_...": the id and the kind; 0 when the name is neither. */
static int parse_name(const char *name, int *id, int *anomaly) {
  const char *p;
  if (strncmp(name, "normal_id_", 10) == 0) *anomaly = 0, p = name + 10;
  else if (strncmp(name, "anomaly_id_", 11) == 0) *anomaly = 1, p = name + 11;
  else return 0;
  int v = 0, digits = 0;
  for (; *p >= '0' && *p <= '9' && digits < 5; p++, digits++) v = 10 * v + (*p - '0');
  if (!digits || *p != '_' || v > DCASE_MAX_ID) return 0;
  *id = v;
  return 1;
}

static void files_free(dcase_file *f, int n) {
  for (int i = 0; i < n; i++) free(f[i].path);
  free(f);
}

static tq_status list_files(const char *machine_dir, int train, dcase_file **out, int *count) {
  char dir[4096], path[8192];
  *out = NULL;
  *count = 0;
  tq_status st = tq_path_join(dir, sizeof dir, machine_dir, train ? "train" : "test");
  char **names = NULL;
  int n = 0;
  if (!st) st = tq_dir_list(dir, 0, ".wav", &names, &n);
  if (!st && n == 0) st = tq_fail(TQ_ERR_FORMAT, "%s: no .wav files", dir);
  dcase_file *f = st ? NULL : calloc((size_t)n, sizeof *f);
  if (!st && !f) st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", dir);
  int kept = 0;
  for (int i = 0; !st && i < n; i++, kept++) {
    st = tq_path_join(path, sizeof path, dir, names[i]);
    if (st) break;
    if (!parse_name(names[i], &f[i].id, &f[i].anomaly))
      st = tq_fail(TQ_ERR_FORMAT, "%s: expected the name normal_id_XX_NNNNNNNN.wav%s", path,
                   train ? "" : " or anomaly_id_XX_NNNNNNNN.wav");
    else if (train && f[i].anomaly)
      st = tq_fail(TQ_ERR_FORMAT, "%s: an anomalous clip in train/ (training uses normal clips only)", path);
    else if (!(f[i].path = strdup(path)))
      st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", dir);
  }
  tq_dir_free(names, n);
  if (st) {
    files_free(f, kept);
    return st;
  }
  *out = f;
  *count = n;
  return TQ_OK;
}

static tq_status file_features(const tq_features *lm, const dcase_file *f, float *out) {
  tq_wav w;
  size_t need = tq_features_samples_min(lm);
  tq_status st = tq_wav_read(&w, f->path, tq_features_samples_used(lm), (size_t)DCASE_MAX_SECONDS * TQ_AUDIO_RATE);
  if (st) return st;
  if (w.n < need)
    st = tq_fail(TQ_ERR_FORMAT, "%s: %.2f s; a clip needs at least %.2f s (log-mel frames 50..249)", f->path,
                 (double)w.n / TQ_AUDIO_RATE, (double)need / TQ_AUDIO_RATE);
  if (!st) st = tq_features_compute(lm, w.x, w.n, out);
  tq_wav_free(&w);
  return st;
}

tq_status tq_dataset_load_dcase(tq_dataset *out, const char *machine_dir, int train_split,
                                tq_input_scaling scaling) {
  (void)scaling;
  memset(out, 0, sizeof *out);
  dcase_file *files;
  int n;
  tq_status st = list_files(machine_dir, train_split, &files, &n);
  if (st) return st;
  tq_features *lm = NULL;
  st = tq_features_create(&lm, TQ_FEATURES_LOGMEL);
  size_t per = (size_t)TQ_DCASE_VECTORS * 640;
  if (!st && !(out->x = tq_alloc_floats((size_t)n * per))) st = tq_fail_prefix(TQ_ERR_MEMORY, "dcase:%s", machine_dir);
  if (!st && !train_split && !(out->y = tq_alloc(sizeof(int) * (size_t)n * TQ_DCASE_VECTORS)))
    st = tq_fail_prefix(TQ_ERR_MEMORY, "dcase:%s", machine_dir);
  if (!st) {
    tq_first_error e = {n, TQ_OK, ""};
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
      tq_status fs = file_features(lm, &files[i], out->x + (size_t)i * per);
      if (fs) tq_first_error_note(&e, i, fs);
      for (int v = 0; out->y && v < TQ_DCASE_VECTORS; v++)
        out->y[(size_t)i * TQ_DCASE_VECTORS + v] = 2 * files[i].id + files[i].anomaly;
    }
    st = tq_first_error_raise(&e);
  }
  tq_features_free(lm);
  files_free(files, n);
  if (st) {
    tq_dataset_free(out);
    return st;
  }
  out->n = n * TQ_DCASE_VECTORS;
  out->h = 1;
  out->w = 1;
  out->c = 640;
  return TQ_OK;
}

/* Per-file scores and labels of one id, then its AUC and pAUC. */
static void score_id(tq_dcase_score *o, const float *file_score, const int *file_y, int files) {
  float *s = malloc(sizeof(float) * (size_t)files);
  int *lab = malloc(sizeof(int) * (size_t)files);
  int m = 0;
  for (int f = 0; s && lab && f < files; f++) {
    if (file_y[f] / 2 != o->id) continue;
    s[m] = file_score[f];
    lab[m] = file_y[f] & 1;
    o->anomalous += lab[m];
    m++;
  }
  o->normal = m - o->anomalous;
  o->auc = o->pauc = NAN;
  if (s && lab && o->normal && o->anomalous) {
    o->auc = tq_roc_auc(s, lab, m);
    o->pauc = tq_roc_pauc(s, lab, m, PAUC_MAX_FPR, 1);
  }
  free(s);
  free(lab);
}

tq_status tq_dcase_file_scores(const float *row_err, const int *y, int rows, float **score, int **fy) {
  *score = NULL, *fy = NULL;
  if (rows <= 0 || rows % TQ_DCASE_VECTORS)
    return tq_fail(TQ_ERR_ARG, "%d rows are not whole files of %d vectors", rows, TQ_DCASE_VECTORS);
  int files = rows / TQ_DCASE_VECTORS;
  float *s = malloc(sizeof(float) * (size_t)files);
  int *l = malloc(sizeof(int) * (size_t)files);
  tq_status st = s && l ? TQ_OK : tq_fail(TQ_ERR_MEMORY, "AUC of %d files: out of memory", files);
  for (int f = 0; !st && f < files; f++) {
    double sum = 0.0;
    l[f] = y[(size_t)f * TQ_DCASE_VECTORS];
    for (int v = 0; v < TQ_DCASE_VECTORS; v++) {
      sum += row_err[(size_t)f * TQ_DCASE_VECTORS + v];
      if (y[(size_t)f * TQ_DCASE_VECTORS + v] != l[f])
        st = tq_fail(TQ_ERR_ARG, "file %d: its %d vectors carry different labels", f, TQ_DCASE_VECTORS);
    }
    s[f] = (float)(sum / TQ_DCASE_VECTORS);
  }
  if (st) {
    free(s);
    free(l);
    return st;
  }
  *score = s, *fy = l;
  return TQ_OK;
}

tq_status tq_dcase_scores(const float *row_err, const int *y, int rows, tq_dcase_score *out,
                          int max_ids, int *n_ids) {
  *n_ids = 0;
  float *score;
  int *fy, files = rows / TQ_DCASE_VECTORS;
  tq_status st = tq_dcase_file_scores(row_err, y, rows, &score, &fy);
  if (st) return st;
  for (int f = 0; !st && f < files; f++) { /* ids in increasing order, each once */
    int id = fy[f] / 2, seen = 0, pos = *n_ids;
    for (int k = 0; k < *n_ids; k++) seen |= out[k].id == id;
    if (seen) continue;
    if (*n_ids == max_ids) {
      st = tq_fail(TQ_ERR_ARG, "more than %d machine ids", max_ids);
      break;
    }
    while (pos > 0 && out[pos - 1].id > id) out[pos] = out[pos - 1], pos--;
    out[pos] = (tq_dcase_score){.id = id};
    (*n_ids)++;
  }
  for (int k = 0; !st && k < *n_ids; k++) score_id(&out[k], score, fy, files);
  free(score);
  free(fy);
  return st;
}

tq_status tq_dcase_row_errors(struct tq_model *m, const tq_dataset *test, int batch, float **out) {
  *out = NULL;
  size_t k = (size_t)test->h * test->w * test->c;
  tq_shape3 in = tq_model_input_shape(m), o = tq_model_output_shape(m);
  if (!test->y || tq_shape_size(in) != k || tq_shape_size(o) != k)
    return tq_fail(TQ_ERR_ARG, "AUC needs a DCASE test split and an auto-encoder of %zu values", k);
  if (batch > tq_model_max_batch(m)) batch = tq_model_max_batch(m);
  float *err = tq_alloc_floats((size_t)(test->n ? test->n : 1));
  if (!err) return tq_fail_prefix(TQ_ERR_MEMORY, "AUC");
  for (int i = 0; i < test->n; i += batch) {
    int n = test->n - i < batch ? test->n - i : batch;
    const float *x = test->x + (size_t)i * k, *y = tq_model_forward(m, x, n, 0, NULL);
    if (!y) {
      tq_free(err);
      return tq_fail_prefix(TQ_ERR_ARG, "AUC: rows %d..%d", i, i + n - 1);
    }
    for (int r = 0; r < n; r++) {
      double e = 0.0;
      for (size_t j = 0; j < k; j++) {
        double d = (double)y[(size_t)r * k + j] - x[(size_t)r * k + j];
        e += d * d;
      }
      err[i + r] = (float)(e / (double)k);
    }
  }
  *out = err;
  return TQ_OK;
}

tq_status tq_dcase_evaluate(struct tq_model *m, const tq_dataset *test, int batch, tq_dcase_score *out,
                            int max_ids, int *n_ids) {
  *n_ids = 0;
  float *err;
  tq_status st = tq_dcase_row_errors(m, test, batch, &err);
  if (!st) st = tq_dcase_scores(err, test->y, test->n, out, max_ids, n_ids);
  tq_free(err);
  return st;
}

void tq_dcase_print(FILE *f, const tq_dcase_score *s, int n_ids) {
  double auc = 0.0, pauc = 0.0;
  int defined = 0;
  for (int i = 0; i < n_ids; i++) {
    if (isnan(s[i].auc)) {
      fprintf(f, "id %02d: AUC undefined (%d normal, %d anomalous files: both kinds are needed)\n", s[i].id,
              s[i].normal, s[i].anomalous);
      continue;
    }
    fprintf(f, "id %02d: AUC %.4f  pAUC %.4f  (%d normal, %d anomalous files)\n", s[i].id, s[i].auc, s[i].pauc,
            s[i].normal, s[i].anomalous);
    auc += s[i].auc;
    pauc += s[i].pauc;
    defined++;
  }
  if (defined) fprintf(f, "mean over %d id%s: AUC %.4f  pAUC %.4f\n", defined, defined == 1 ? "" : "s", auc / defined, pauc / defined);
  else fprintf(f, "AUC undefined for every id: the test folder needs normal and anomalous clips\n");
}

tq_status tq_dcase_report(struct tq_model *m, const tq_dataset *d, int batch, const char *roc_csv) {
  if (!d->y) {
    printf("AUC undefined on the training split (normal clips only)\n");
    return TQ_OK;
  }
  tq_dcase_score sc[100];
  int ids = 0;
  float *err;
  tq_status st = tq_dcase_row_errors(m, d, batch, &err);
  if (!st) st = tq_dcase_scores(err, d->y, d->n, sc, 100, &ids);
  if (!st) tq_dcase_print(stdout, sc, ids);
  if (!st && roc_csv) st = tq_dcase_roc_write(roc_csv, err, d->y, d->n);
  tq_free(err);
  fflush(stdout);
  return st;
}
