/* What a search leaves besides its journals: best.json (the best trial's configuration, ready for
 * `tinyq train --quant`), pareto.csv (the trials no other beats in both bits and metric) and the
 * closing summary. Both files are rewritten atomically after every finished trial, so an interrupted
 * search still has them. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"

int tq_search_best(const tq_trial_record *recs, int n) {
  int idx;
  return tq_search_top(recs, n, 1, &idx) ? idx : -1;
}

/* The configuration of the best trial, pretty-printed, with a final newline. */
static tq_status write_best(const char *path, const tq_trial_record *best) {
  cJSON *cfg = cJSON_Parse(best->config);
  char *text = cfg ? cJSON_Print(cfg) : NULL;
  cJSON_Delete(cfg);
  if (!text) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  tq_atomic_file *f;
  tq_status st = tq_atomic_open(&f, path);
  if (!st) {
    fprintf(tq_atomic_stream(f), "%s\n", text);
    st = tq_atomic_commit(f);
  }
  free(text);
  return st;
}

static tq_status write_pareto(const char *path, const tq_trial_record *recs, int n, int *npareto) {
  int *idx = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!idx) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  int k = tq_search_pareto(recs, n, idx);
  tq_atomic_file *f;
  tq_status st = tq_atomic_open(&f, path);
  if (!st) {
    FILE *fp = tq_atomic_stream(f);
    fprintf(fp, "trial,total_bits,metric,score\n");
    for (int i = 0; i < k; i++) {
      const tq_trial_record *r = &recs[idx[i]];
      fprintf(fp, "%d,%.0f,%.6f,%.6f\n", r->trial, r->trial_size, r->metric, r->score);
    }
    st = tq_atomic_commit(f);
  }
  free(idx);
  if (!st) *npareto = k;
  return st;
}

tq_status tq_search_write_results(const tq_search_paths *p, const tq_trial_record *recs, int n, int *npareto) {
  int b = tq_search_best(recs, n);
  tq_status st;
  if (b >= 0 && recs[b].config && (st = write_best(p->best, &recs[b]))) return st;
  return write_pareto(p->pareto, recs, n, npareto);
}

tq_status tq_search_write_sensitivity(const tq_search_paths *p, const tq_space *space, tq_tuner *t, int refit,
                                      int *written) {
  *written = 0;
  if (refit && tq_tuner_refit(t) < 0) return TQ_ERR_MEMORY; /* the message says why */
  if (!tq_tuner_lengthscales(t)) return TQ_OK;
  int n = tq_space_ndims(space);
  const char **names = malloc(sizeof(char *) * 2 * (size_t)n);
  if (!names) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", p->sensitivity);
  for (int d = 0; d < n; d++) {
    const tq_space_dim *dim = tq_space_dim_get(space, d);
    names[d] = dim->label;
    names[n + d] = tq_qgroup_name(dim->group);
  }
  tq_status st = tq_tuner_write_sensitivity(t, p->sensitivity, names, names + n);
  free(names);
  *written = st == TQ_OK;
  return st;
}

void tq_search_print_summary(FILE *L, const tq_search_paths *p, const tq_search_settings *s,
                             const tq_trial_record *recs, int n, int npareto) {
  int idx[5];
  int k = tq_search_top(recs, n, 5, idx);
  int failed = 0;
  for (int i = 0; i < n; i++) failed += recs[i].status == TQ_TRIAL_FAILED;
  fprintf(L, "\nsearch %s: %d trials finished (%d failed)\n", p->dir, n, failed);
  if (!k) {
    fprintf(L, "no successful trial: no best.json\n");
    return;
  }
  fprintf(L, "top %d trials by score:\n", k);
  fprintf(L, "  %4s %6s %10s %10s %9s %14s %10s\n", "#", "trial", "score", "metric", "delta", "total_bits",
          "vs ref");
  for (int i = 0; i < k; i++) {
    const tq_trial_record *r = &recs[idx[i]];
    fprintf(L, "  %4d %6d %10.4f %10.4f %8.2f%% %14.0f %+9.2f%%\n", i + 1, r->trial, r->score, r->metric,
            100.0 * r->delta, r->trial_size, 100.0 * (r->trial_size / r->reference_size - 1.0));
  }
  fprintf(L, "best configuration: %s (trial %d)\n", p->best, recs[idx[0]].trial);
  fprintf(L, "Pareto front (bits vs metric): %s (%d trials)\n", p->pareto, npareto);
  fprintf(L, "journal: %s\n", p->trials);
  char width[32] = "";
  if (s->width > 0) snprintf(width, sizeof width, " --width %g", s->width);
  fprintf(L, "retrain it: tinyq train --model %s%s --data %s --quant %s --alpha auto_po2%s%s\n", s->model, width,
          s->data, p->best, s->init[0] ? " --init " : "", s->init);
}
