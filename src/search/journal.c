/* The search journal: one JSON line per trial, appended with one write() and fsync'd; loading with
 * torn-tail repair; replay into a fresh tuner; Pareto front and ranking of the trials. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "search/search_internal.h"

static const char *status_name(tq_trial_status s) {
  return s == TQ_TRIAL_OK ? "ok" : s == TQ_TRIAL_FAILED ? "failed" : "started";
}

void tq_trial_record_clear(tq_trial_record *r) {
  if (!r) return;
  free(r->choice);
  free(r->config);
  free(r->error);
  memset(r, 0, sizeof *r);
}

void tq_journal_free(tq_trial_record *r, int n) {
  if (!r) return;
  for (int i = 0; i < n; i++) tq_trial_record_clear(&r[i]);
  free(r);
}

void tq_json_add_exact(cJSON *o, const char *key, double v) {
  if (!isfinite(v)) return;
  char buf[40];
  snprintf(buf, sizeof buf, "%.17g", v);
  cJSON_AddRawToObject(o, key, buf);
}

static void add_num(cJSON *o, const char *k, double v) { tq_json_add_exact(o, k, v); }

char *tq_trial_record_json(const tq_trial_record *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "trial", r->trial);
  cJSON_AddStringToObject(o, "status", status_name(r->status));
  cJSON_AddNumberToObject(o, "rank", r->rank);
  cJSON *c = cJSON_AddArrayToObject(o, "choice");
  for (int d = 0; c && d < r->ndims; d++) cJSON_AddItemToArray(c, cJSON_CreateNumber(r->choice[d]));
  if (r->status != TQ_TRIAL_STARTED) {
    cJSON *cfg = r->config ? cJSON_Parse(r->config) : NULL;
    if (cfg) cJSON_AddItemToObject(o, "config", cfg);
    add_num(o, "trial_size", r->trial_size);
    add_num(o, "reference_size", r->reference_size);
    add_num(o, "delta", r->delta);
    if (r->status == TQ_TRIAL_OK) {
      add_num(o, "metric", r->metric);
      add_num(o, "score", r->score);
      add_num(o, "loss", r->loss);
    } else {
      cJSON_AddStringToObject(o, "error", r->error ? r->error : "");
    }
    add_num(o, "seconds", r->seconds);
  }
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return text;
}

tq_status tq_journal_append(const char *path, const tq_trial_record *r) {
  char *text = tq_trial_record_json(r);
  if (!text) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  size_t n = strlen(text);
  char *line = realloc(text, n + 2);
  if (!line) {
    free(text);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  line[n] = '\n';
  line[n + 1] = 0;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666);
  if (fd < 0) {
    free(line);
    return tq_fail(TQ_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
  }
  size_t done = 0;
  tq_status st = TQ_OK;
  while (done < n + 1) {
    ssize_t w = write(fd, line + done, n + 1 - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      st = tq_fail(TQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
      break;
    }
    done += (size_t)w;
  }
  if (!st && fsync(fd) != 0) st = tq_fail(TQ_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
  if (close(fd) != 0 && !st) st = tq_fail(TQ_ERR_IO, "%s: close failed: %s", path, strerror(errno));
  free(line);
  return st;
}

static int get_int(const cJSON *o, const char *k, int *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2e9) return 0;
  *out = (int)v->valuedouble;
  return 1;
}

static double get_num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Parses one line into r. Returns 1; 0 and a reason in why when the line is not a record; -1 when
 * memory ran out (not the line's fault: it must not be taken for a torn line and cut off). */
static int parse_record(tq_trial_record *r, const char *line, size_t len, int ndims, const int *counts,
                        char *why, size_t nwhy) {
  memset(r, 0, sizeof *r);
  cJSON *o = cJSON_ParseWithLength(line, len);
  if (!o || !cJSON_IsObject(o)) {
    snprintf(why, nwhy, "not a JSON object");
    cJSON_Delete(o);
    return 0;
  }
  int ok = 0;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
  const cJSON *ch = cJSON_GetObjectItemCaseSensitive(o, "choice");
  if (!get_int(o, "trial", &r->trial) || r->trial < 1) {
    snprintf(why, nwhy, "no valid \"trial\"");
    goto done;
  }
  if (!get_int(o, "rank", &r->rank)) r->rank = 0;
  if (!cJSON_IsString(st)) {
    snprintf(why, nwhy, "no \"status\"");
    goto done;
  }
  if (!strcmp(st->valuestring, "ok")) r->status = TQ_TRIAL_OK;
  else if (!strcmp(st->valuestring, "failed")) r->status = TQ_TRIAL_FAILED;
  else if (!strcmp(st->valuestring, "started")) r->status = TQ_TRIAL_STARTED;
  else {
    snprintf(why, nwhy, "unknown status \"%s\"", st->valuestring);
    goto done;
  }
  if (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) != ndims) {
    snprintf(why, nwhy, "\"choice\" is not a list of %d option indices", ndims);
    goto done;
  }
  r->ndims = ndims;
  r->choice = malloc(sizeof(int) * (size_t)(ndims ? ndims : 1));
  if (!r->choice) {
    ok = -1;
    goto done;
  }
  int d = 0;
  for (const cJSON *v = ch->child; v; v = v->next, d++) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        (counts && v->valuedouble >= counts[d]) || v->valuedouble > 1e9) {
      snprintf(why, nwhy, "choice %d is not an option index of dimension %d", d + 1, d + 1);
      goto done;
    }
    r->choice[d] = (int)v->valuedouble;
  }
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(o, "config");
  if (cJSON_IsObject(cfg) && !(r->config = cJSON_PrintUnformatted(cfg))) {
    ok = -1;
    goto done;
  }
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(o, "error");
  if (cJSON_IsString(err) && !(r->error = strdup(err->valuestring))) {
    ok = -1;
    goto done;
  }
  r->trial_size = get_num(o, "trial_size");
  r->reference_size = get_num(o, "reference_size");
  r->delta = get_num(o, "delta");
  r->metric = get_num(o, "metric");
  r->score = get_num(o, "score");
  r->loss = get_num(o, "loss");
  r->seconds = get_num(o, "seconds");
  if (r->status == TQ_TRIAL_OK && !isfinite(r->score)) {
    snprintf(why, nwhy, "a successful trial without a finite \"score\"");
    goto done;
  }
  ok = 1;
done:
  cJSON_Delete(o);
  if (ok != 1) tq_trial_record_clear(r);
  return ok;
}

tq_status tq_journal_load(const char *path, int ndims, const int *counts, int repair, tq_trial_record **out,
                          int *n, int *torn) {
  *out = NULL;
  *n = 0;
  if (torn) *torn = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) return TQ_OK;
    return tq_fail(TQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  }
  fclose(f);
  unsigned char *data;
  size_t size;
  tq_status st = tq_read_file(path, &data, &size);
  if (st) return st;
  const char *text = (const char *)data;
  int cap = 16, count = 0;
  tq_trial_record *recs = calloc((size_t)cap, sizeof *recs);
  if (!recs) {
    free(data);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  size_t pos = 0, good_end = 0;
  int lineno = 0, cut = 0;
  while (pos < size) {
    lineno++;
    const char *nl = memchr(text + pos, '\n', size - pos);
    size_t len = nl ? (size_t)(nl - (text + pos)) : size - pos;
    int last = !nl || pos + len + 1 >= size;
    /* blank lines (e.g. a lone newline) carry nothing */
    int blank = 1;
    for (size_t i = 0; i < len; i++)
      if (text[pos + i] != ' ' && text[pos + i] != '\r' && text[pos + i] != '\t') blank = 0;
    if (!blank) {
      char why[160];
      tq_trial_record r;
      int ok = nl ? parse_record(&r, text + pos, len, ndims, counts, why, sizeof why) : 0;
      if (ok < 0) {
        st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
        goto fail;
      }
      if (!ok) {
        if (last) { /* a write cut short by a crash */
          cut = 1;
          break;
        }
        if (!nl) snprintf(why, sizeof why, "no newline");
        st = tq_fail(TQ_ERR_FORMAT, "%s: line %d: %s (the journal is damaged before its last line)", path,
                     lineno, why);
        goto fail;
      }
      if (count == cap) {
        tq_trial_record *nr = realloc(recs, sizeof *recs * (size_t)cap * 2);
        if (!nr) {
          tq_trial_record_clear(&r);
          st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
          goto fail;
        }
        memset(nr + cap, 0, sizeof *recs * (size_t)cap);
        recs = nr;
        cap *= 2;
      }
      recs[count++] = r;
    }
    pos += len + (nl ? 1 : 0);
    if (nl) good_end = pos;
  }
  if (cut) {
    if (torn) *torn = 1;
    if (repair && truncate(path, (off_t)good_end) != 0) {
      st = tq_fail(TQ_ERR_IO, "%s: cannot cut the torn last line: %s", path, strerror(errno));
      goto fail;
    }
  }
  free(data);
  *out = recs;
  *n = count;
  return TQ_OK;
fail:
  free(data);
  tq_journal_free(recs, count);
  return st;
}

tq_status tq_search_replay(tq_tuner *t, const tq_trial_record *finished, int nfinished,
                           const tq_trial_record *started, int nstarted, int **interrupted, int *ninterrupted) {
  if (interrupted) *interrupted = NULL;
  if (ninterrupted) *ninterrupted = 0;
  for (int i = 0; i < nfinished; i++) {
    const tq_trial_record *r = &finished[i];
    if (r->ndims != tq_tuner_ndims(t))
      return tq_fail(TQ_ERR_ARG, "replay: trial %d has %d choices, the space has %d dimensions", r->trial,
                     r->ndims, tq_tuner_ndims(t));
    if (r->status == TQ_TRIAL_OK) {
      tq_status st = tq_tuner_observe(t, r->choice, r->score);
      if (st) return tq_fail_prefix(st, "replay: trial %d", r->trial);
    } else if (r->status == TQ_TRIAL_FAILED) {
      tq_tuner_forget_pending(t, r->choice);
    }
  }
  int *list = malloc(sizeof(int) * (size_t)(nstarted ? nstarted : 1));
  if (!list) return tq_fail(TQ_ERR_MEMORY, "replay: out of memory");
  int k = 0;
  for (int i = 0; i < nstarted; i++) {
    const tq_trial_record *s = &started[i];
    int done = 0;
    for (int j = 0; j < nfinished && !done; j++) done = finished[j].trial == s->trial;
    for (int j = 0; j < k && !done; j++) done = started[list[j]].trial == s->trial; /* started twice */
    if (done) continue;
    if (s->ndims != tq_tuner_ndims(t)) {
      free(list);
      return tq_fail(TQ_ERR_ARG, "replay: started trial %d has %d choices, the space has %d dimensions",
                     s->trial, s->ndims, tq_tuner_ndims(t));
    }
    tq_status st = tq_tuner_add_pending(t, s->choice);
    if (st) {
      free(list);
      return tq_fail_prefix(st, "replay: trial %d", s->trial);
    }
    list[k++] = i;
  }
  if (interrupted) *interrupted = list;
  else free(list);
  if (ninterrupted) *ninterrupted = k;
  return TQ_OK;
}

int tq_search_pareto(const tq_trial_record *r, int n, int *idx) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (r[i].status != TQ_TRIAL_OK || !isfinite(r[i].trial_size) || !isfinite(r[i].metric)) continue;
    int dominated = 0;
    for (int j = 0; j < n && !dominated; j++) {
      if (j == i || r[j].status != TQ_TRIAL_OK || !isfinite(r[j].trial_size) || !isfinite(r[j].metric))
        continue;
      int le = r[j].trial_size <= r[i].trial_size && r[j].metric >= r[i].metric;
      int strict = r[j].trial_size < r[i].trial_size || r[j].metric > r[i].metric;
      if (le && (strict || j < i)) dominated = 1; /* equal in both: the earlier one stays */
    }
    if (!dominated) idx[k++] = i;
  }
  for (int a = 1; a < k; a++) { /* insertion sort by bits, then trial */
    int v = idx[a], b = a;
    while (b > 0 && (r[idx[b - 1]].trial_size > r[v].trial_size ||
                     (r[idx[b - 1]].trial_size == r[v].trial_size && r[idx[b - 1]].trial > r[v].trial))) {
      idx[b] = idx[b - 1];
      b--;
    }
    idx[b] = v;
  }
  return k;
}

static int better(const tq_trial_record *a, const tq_trial_record *b) {
  return a->score > b->score || (a->score == b->score && a->trial < b->trial);
}

int tq_search_top(const tq_trial_record *r, int n, int k, int *idx) {
  int m = 0; /* idx[0..m) holds the best so far, best first */
  for (int i = 0; i < n; i++) {
    if (r[i].status != TQ_TRIAL_OK || k <= 0) continue;
    if (m == k && !better(&r[i], &r[idx[k - 1]])) continue;
    int b = m < k ? m++ : k - 1;
    while (b > 0 && better(&r[i], &r[idx[b - 1]])) {
      idx[b] = idx[b - 1];
      b--;
    }
    idx[b] = i;
  }
  return m;
}
