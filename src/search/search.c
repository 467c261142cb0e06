/* The mixed-precision search driver (SPEC §5): rank 0's coordinator (tuner, journal, results) and
 * the worker ranks. The settings live in settings.c and the trial evaluator in evaluator.c.
 *
 * Distribution (MPI, world of K ranks): rank 0 owns the tuner and the journal and hands one trial at a
 * time to every free rank. Rank 0 evaluates trials too, on a second thread, while its main thread
 * coordinates (suggestions, journal, printing: a few milliseconds per trial) — so K ranks evaluate K
 * trials at once and `mpirun -n 2` on two cores uses both. Waiting ranks poll every few milliseconds
 * instead of spinning in MPI. Only rank 0 reads or writes DIR; the data set and the --init file must be
 * readable by every rank.
 *
 * Resume: DIR/started.jsonl records every dispatched trial before it is handed out, DIR/trials.jsonl
 * every finished one (both fsync'd line by line). --resume replays the finished trials in order into a
 * fresh tuner with the same seed, adds the started-but-unfinished ones as pending and evaluates them
 * again first with the same choices: no finished trial is repeated, no interrupted one is lost, and in
 * a single process the suggestions are exactly those of an uninterrupted run. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "search/search_internal.h"
#include "tinyq/data.h"
#include "tinyq/qconfig.h"
#include "tinyq/train.h"
#include "tinyq/zoo.h"

/* ---- messages between rank 0 and the worker ranks -------------------------------------------- */

static char *outcome_json(int trial, const tq_trial_outcome *o) {
  cJSON *j = cJSON_CreateObject();
  if (!j) return NULL;
  cJSON_AddNumberToObject(j, "trial", trial);
  cJSON_AddBoolToObject(j, "ok", o->ok);
  if (o->ok) {
    tq_json_add_exact(j, "metric", o->metric);
    tq_json_add_exact(j, "loss", o->loss);
  } else {
    cJSON_AddStringToObject(j, "error", o->error);
  }
  tq_json_add_exact(j, "seconds", o->seconds);
  char *t = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return t;
}

static int outcome_parse(const char *text, int *trial, tq_trial_outcome *o) {
  memset(o, 0, sizeof *o);
  cJSON *j = cJSON_Parse(text);
  int ok = cJSON_IsObject(j) && tq_search_js_int(j, "trial", trial);
  if (ok) {
    o->ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"));
    tq_search_js_num(j, "seconds", &o->seconds);
    if (o->ok) ok = tq_search_js_num(j, "metric", &o->metric) && tq_search_js_num(j, "loss", &o->loss);
    else tq_search_js_str(j, "error", o->error, sizeof o->error);
  }
  cJSON_Delete(j);
  return ok;
}

static char *task_json(int trial, const int *choice, int ndims) {
  cJSON *j = cJSON_CreateObject();
  if (!j) return NULL;
  cJSON_AddNumberToObject(j, "trial", trial);
  cJSON *a = cJSON_AddArrayToObject(j, "choice");
  for (int d = 0; a && d < ndims; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber(choice[d]));
  char *t = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return t;
}

static int task_parse(const char *text, int ndims, int *trial, int *choice) {
  cJSON *j = cJSON_Parse(text);
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "choice");
  int ok = cJSON_IsObject(j) && tq_search_js_int(j, "trial", trial) && cJSON_IsArray(a) && cJSON_GetArraySize(a) == ndims;
  int d = 0;
  for (const cJSON *v = ok ? a->child : NULL; v; v = v->next) choice[d++] = (int)v->valuedouble;
  cJSON_Delete(j);
  return ok;
}

/* ---- rank 0's local worker thread (MPI runs) ----------------------------------------------------- */

typedef struct {
  const tq_evaluator *ev;
  int threads;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running;
  int has_task, has_result, stop;
  int trial;
  int *choice;
  tq_trial_outcome out;
} local_worker;

static void *local_main(void *arg) {
  local_worker *w = arg;
  omp_set_num_threads(w->threads);
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->has_task && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->has_task) break;
    w->has_task = 0;
    int trial = w->trial;
    pthread_mutex_unlock(&w->mu);
    tq_trial_outcome o;
    tq_evaluate_trial(w->ev, trial, w->choice, &o);
    pthread_mutex_lock(&w->mu);
    w->out = o;
    w->has_result = 1;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* ---- rank 0: the coordinator --------------------------------------------------------------------- */

typedef struct {
  int busy;
  int trial;
  int *choice;
  tq_size_stats sz;
  double t0;
} slot_state;

typedef struct {
  const tq_search_comm *c;
  const tq_search_settings *s;
  tq_evaluator *ev;
  FILE *log;
  char out[1024];
  char trials_path[1100], started_path[1100], best_path[1100], pareto_path[1100];
  tq_tuner *tuner;
  int ndims;
  int *counts;
  tq_trial_record *recs; /* finished trials, journal order */
  int nrecs, caprecs;
  unsigned char *done;   /* done[t] for trial t in 1..trials */
  int ndone;             /* distinct finished trials <= trials */
  tq_trial_record *started;
  int nstarted;
  int *requeue;          /* indices into started[] to evaluate again */
  int nrequeue, requeue_pos;
  int next_trial;
  int exhausted;
  slot_state *slots;
  local_worker lw;
  int session_done;
  double session_t0;
  tq_status fatal;
} coordinator;

static void fmt_duration(char *buf, size_t n, double s) {
  if (!isfinite(s) || s < 0) {
    snprintf(buf, n, "?");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, n, "%lds", t);
}

static int best_index(const coordinator *co) {
  int idx;
  return tq_search_top(co->recs, co->nrecs, 1, &idx) ? idx : -1;
}

/* best.json and pareto.csv from the finished trials, written atomically. */
static tq_status write_results(coordinator *co) {
  int b = best_index(co);
  tq_status st = TQ_OK;
  if (b >= 0 && co->recs[b].config) {
    cJSON *cfg = cJSON_Parse(co->recs[b].config);
    char *text = cfg ? cJSON_Print(cfg) : NULL;
    cJSON_Delete(cfg);
    if (!text) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", co->best_path);
    size_t n = strlen(text);
    char *t2 = realloc(text, n + 2);
    if (!t2) {
      free(text);
      return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", co->best_path);
    }
    t2[n] = '\n';
    t2[n + 1] = 0;
    st = tq_write_file_atomic(co->best_path, t2, n + 1);
    free(t2);
    if (st) return st;
  }
  int *idx = malloc(sizeof(int) * (size_t)(co->nrecs ? co->nrecs : 1));
  if (!idx) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", co->pareto_path);
  int k = tq_search_pareto(co->recs, co->nrecs, idx);
  tq_atomic_file *f;
  st = tq_atomic_open(&f, co->pareto_path);
  if (!st) {
    FILE *fp = tq_atomic_stream(f);
    fprintf(fp, "trial,total_bits,metric,score\n");
    for (int i = 0; i < k; i++) {
      const tq_trial_record *r = &co->recs[idx[i]];
      fprintf(fp, "%d,%.0f,%.6f,%.6f\n", r->trial, r->trial_size, r->metric, r->score);
    }
    st = tq_atomic_commit(f);
  }
  free(idx);
  return st;
}

static tq_status push_record(coordinator *co, tq_trial_record *r) {
  if (co->nrecs == co->caprecs) {
    int cap = co->caprecs ? co->caprecs * 2 : 64;
    tq_trial_record *nr = realloc(co->recs, sizeof *nr * (size_t)cap);
    if (!nr) return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
    co->recs = nr;
    co->caprecs = cap;
  }
  co->recs[co->nrecs++] = *r;
  if (r->trial >= 1 && r->trial <= co->s->trials && !co->done[r->trial]) {
    co->done[r->trial] = 1;
    co->ndone++;
  }
  memset(r, 0, sizeof *r);
  return TQ_OK;
}

/* Size statistics of a choice (and its stats block when out != NULL). */
static tq_status choice_stats(coordinator *co, const int *choice, tq_size_stats *sz, FILE *out) {
  char *cfg = tq_space_config_json(co->ev->space, choice, 0);
  if (!cfg) return TQ_ERR_MEMORY;
  tq_status st = tq_qconfig_apply_json(co->ev->stats_model, cfg, "configuration");
  free(cfg);
  if (st) return st;
  tq_size_stats_compute(co->ev->stats_model, &co->s->goal, sz);
  if (out) tq_size_stats_print(out, co->ev->stats_model, &co->s->goal, sz);
  return TQ_OK;
}

/* The next trial to hand out: an interrupted one first, else a new suggestion. Returns 1 (trial and
 * choice filled, *how says where it came from), 0 when there is nothing left to start. */
static int next_task(coordinator *co, int rank, int *trial, int *choice, const char **how) {
  while (co->requeue_pos < co->nrequeue) {
    const tq_trial_record *r = &co->started[co->requeue[co->requeue_pos++]];
    if (r->trial > co->s->trials) continue;
    *trial = r->trial;
    memcpy(choice, r->choice, sizeof(int) * (size_t)co->ndims);
    *how = "interrupted before, evaluated again";
    return 1;
  }
  if (co->exhausted || co->next_trial > co->s->trials) return 0;
  tq_status st = tq_tuner_suggest(co->tuner, choice);
  if (st == TQ_ERR_UNSUPPORTED) {
    co->exhausted = 1;
    fprintf(co->log, "search space exhausted: every configuration has been tried\n");
    return 0;
  }
  if (st) {
    co->fatal = st;
    return 0;
  }
  tq_tuner_info info;
  tq_tuner_last_info(co->tuner, &info);
  *how = info.used_gp ? "Gaussian process" : "random";
  *trial = co->next_trial++;
  tq_trial_record r = {.trial = *trial, .status = TQ_TRIAL_STARTED, .rank = rank, .ndims = co->ndims, .choice = choice};
  if ((st = tq_journal_append(co->started_path, &r))) {
    co->fatal = st;
    return 0;
  }
  return 1;
}

static tq_status dispatch(coordinator *co, int rank) {
  slot_state *sl = &co->slots[rank];
  const char *how = "";
  if (!next_task(co, rank, &sl->trial, sl->choice, &how)) return co->fatal;
  tq_size_stats sz;
  fprintf(co->log, "\n== trial %d/%d on rank %d (%s)\n", sl->trial, co->s->trials, rank, how);
  tq_status st = choice_stats(co, sl->choice, &sz, co->log);
  fflush(co->log);
  if (st) return co->fatal = st;
  sl->sz = sz;
  sl->busy = 1;
  sl->t0 = tq_now_seconds();
  if (rank == 0 && co->c->size == 1) { /* single process: evaluate right here */
    tq_evaluate_trial(co->ev, sl->trial, sl->choice, &co->lw.out);
    co->lw.has_result = 1;
  } else if (rank == 0) {
    pthread_mutex_lock(&co->lw.mu);
    co->lw.trial = sl->trial;
    memcpy(co->lw.choice, sl->choice, sizeof(int) * (size_t)co->ndims);
    co->lw.has_task = 1;
    pthread_cond_broadcast(&co->lw.cv);
    pthread_mutex_unlock(&co->lw.mu);
  } else {
    char *msg = task_json(sl->trial, sl->choice, co->ndims);
    st = msg ? tq_comm_send(co->c, rank, TQ_TAG_TASK, msg) : TQ_ERR_MEMORY;
    free(msg);
    if (st) return co->fatal = st;
  }
  return TQ_OK;
}

/* A finished trial: journal, tuner, results, progress line. */
static void finish(coordinator *co, int rank, const tq_trial_outcome *o) {
  slot_state *sl = &co->slots[rank];
  sl->busy = 0;
  if (co->fatal) return;
  tq_trial_record r = {0};
  r.trial = sl->trial;
  r.rank = rank;
  r.ndims = co->ndims;
  r.choice = malloc(sizeof(int) * (size_t)co->ndims);
  r.config = tq_space_config_json(co->ev->space, sl->choice, 0);
  if (!r.choice || !r.config) {
    tq_trial_record_clear(&r);
    co->fatal = tq_fail(TQ_ERR_MEMORY, "search: out of memory");
    return;
  }
  memcpy(r.choice, sl->choice, sizeof(int) * (size_t)co->ndims);
  r.trial_size = sl->sz.trial;
  r.reference_size = sl->sz.reference;
  r.delta = sl->sz.delta;
  r.seconds = o->seconds;
  if (o->ok) {
    r.status = TQ_TRIAL_OK;
    r.metric = o->metric;
    r.loss = o->loss;
    r.score = tq_forgiving_score(o->metric, &sl->sz);
  } else {
    r.status = TQ_TRIAL_FAILED;
    r.metric = r.score = r.loss = NAN;
    r.error = strdup(o->error);
  }
  tq_status st = tq_journal_append(co->trials_path, &r);
  if (!st) {
    if (r.status == TQ_TRIAL_OK) st = tq_tuner_observe(co->tuner, r.choice, r.score);
    else tq_tuner_forget_pending(co->tuner, r.choice);
  }
  int trial = r.trial;
  double score = r.score, metric = r.metric, loss = r.loss, delta = r.delta;
  if (!st) st = push_record(co, &r);
  tq_trial_record_clear(&r);
  if (!st) st = write_results(co);
  if (st) {
    co->fatal = st;
    return;
  }
  co->session_done++;
  double el = tq_now_seconds() - co->session_t0;
  char eta[32];
  fmt_duration(eta, sizeof eta, el / co->session_done * (co->s->trials - co->ndone));
  int b = best_index(co);
  char best[96] = "none yet";
  if (b >= 0) snprintf(best, sizeof best, "%.4f (trial %d)", co->recs[b].score, co->recs[b].trial);
  if (o->ok)
    fprintf(co->log,
            "trial %d/%d done on rank %d in %.1f s: score %.4f = metric %.4f x (1 %+.4f) (val loss %.4f) | "
            "best %s | %d/%d done, ETA %s\n",
            trial, co->s->trials, rank, o->seconds, score, metric, delta, loss, best, co->ndone, co->s->trials,
            co->ndone >= co->s->trials ? "0s" : eta);
  else
    fprintf(co->log, "trial %d/%d FAILED on rank %d after %.1f s: %s | best %s | %d/%d done, ETA %s\n", trial,
            co->s->trials, rank, o->seconds, o->error, best, co->ndone, co->s->trials,
            co->ndone >= co->s->trials ? "0s" : eta);
  fflush(co->log);
}

/* Waits until some busy slot reports (polling). */
static void wait_one(coordinator *co) {
  int waited_ms = 0;
  for (;;) {
    if (co->slots[0].busy) {
      tq_trial_outcome o;
      int got = 0;
      if (co->c->size == 1) {
        got = co->lw.has_result;
        o = co->lw.out;
        co->lw.has_result = 0;
      } else {
        pthread_mutex_lock(&co->lw.mu);
        if (!co->lw.has_result) {
          struct timespec ts;
          clock_gettime(CLOCK_REALTIME, &ts);
          ts.tv_nsec += 10 * 1000000L;
          if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
          }
          pthread_cond_timedwait(&co->lw.cv, &co->lw.mu, &ts);
          waited_ms += 10;
        }
        if (co->lw.has_result) {
          got = 1;
          o = co->lw.out;
          co->lw.has_result = 0;
        }
        pthread_mutex_unlock(&co->lw.mu);
      }
      if (got) {
        finish(co, 0, &o);
        return;
      }
    }
    if (co->c->size > 1) {
      int from = -1, tag = -1;
      char *text = NULL;
      int r = tq_comm_poll(co->c, -1, TQ_TAG_RESULT, &from, &tag, &text);
      if (r < 0) {
        co->fatal = TQ_ERR_IO;
        for (int k = 1; k < co->c->size; k++) co->slots[k].busy = 0;
        return;
      }
      if (r > 0) {
        tq_trial_outcome o;
        int trial = 0;
        if (from <= 0 || from >= co->c->size || !co->slots[from].busy || !outcome_parse(text, &trial, &o) ||
            trial != co->slots[from].trial) {
          free(text);
          co->fatal = tq_fail(TQ_ERR_FORMAT, "search: unexpected message from rank %d", from);
          if (from > 0 && from < co->c->size) co->slots[from].busy = 0;
          return;
        }
        free(text);
        finish(co, from, &o);
        return;
      }
      if (!co->slots[0].busy) {
        tq_comm_sleep_ms(waited_ms < 1000 ? 5 : 20);
        waited_ms += 5;
      }
    }
  }
}

static void coordinator_free(coordinator *co) {
  tq_tuner_free(co->tuner);
  tq_journal_free(co->recs, co->nrecs);
  tq_journal_free(co->started, co->nstarted);
  free(co->requeue);
  free(co->done);
  free(co->counts);
  if (co->slots)
    for (int r = 0; r < co->c->size; r++) free(co->slots[r].choice);
  free(co->slots);
  free(co->lw.choice);
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void print_summary(coordinator *co) {
  FILE *L = co->log;
  int idx[5];
  int k = tq_search_top(co->recs, co->nrecs, 5, idx);
  int failed = 0;
  for (int i = 0; i < co->nrecs; i++) failed += co->recs[i].status == TQ_TRIAL_FAILED;
  fprintf(L, "\nsearch %s: %d trials finished (%d failed)\n", co->out, co->nrecs, failed);
  if (!k) {
    fprintf(L, "no successful trial: no best.json\n");
    return;
  }
  fprintf(L, "top %d trials by score:\n", k);
  fprintf(L, "  %4s %6s %10s %10s %9s %14s %10s\n", "#", "trial", "score", "metric", "delta", "total_bits",
          "vs ref");
  for (int i = 0; i < k; i++) {
    const tq_trial_record *r = &co->recs[idx[i]];
    fprintf(L, "  %4d %6d %10.4f %10.4f %8.2f%% %14.0f %+9.2f%%\n", i + 1, r->trial, r->score, r->metric,
            100.0 * r->delta, r->trial_size, 100.0 * (r->trial_size / r->reference_size - 1.0));
  }
  int *pi = malloc(sizeof(int) * (size_t)co->nrecs);
  int np = pi ? tq_search_pareto(co->recs, co->nrecs, pi) : 0;
  free(pi);
  fprintf(L, "best configuration: %s (trial %d)\n", co->best_path, co->recs[idx[0]].trial);
  fprintf(L, "Pareto front (bits vs metric): %s (%d trials)\n", co->pareto_path, np);
  fprintf(L, "journal: %s\n", co->trials_path);
  fprintf(L, "retrain it: tinyq train --model %s --data %s --quant %s --alpha auto_po2%s%s\n", co->s->model,
          co->s->data, co->best_path, co->s->init[0] ? " --init " : "", co->s->init);
}

/* Rank 0's setup after the settings are known: journals, tuner, search.json. */
static tq_status coordinator_setup(coordinator *co, int resume) {
  const tq_search_settings *s = co->s;
  co->ndims = tq_space_ndims(co->ev->space);
  co->counts = malloc(sizeof(int) * (size_t)co->ndims);
  const float **values = malloc(sizeof(float *) * (size_t)co->ndims);
  co->done = calloc((size_t)s->trials + 1, 1);
  co->slots = calloc((size_t)co->c->size, sizeof(slot_state));
  co->lw.choice = malloc(sizeof(int) * (size_t)co->ndims);
  if (!co->counts || !values || !co->done || !co->slots || !co->lw.choice) {
    free(values);
    return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  }
  for (int r = 0; r < co->c->size; r++)
    if (!(co->slots[r].choice = malloc(sizeof(int) * (size_t)co->ndims))) {
      free(values);
      return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
    }
  tq_space_counts(co->ev->space, co->counts, values);
  tq_status st = tq_tuner_create(&co->tuner, s->tuner, co->ndims, co->counts, values, (uint64_t)s->seed);
  free(values);
  if (st) return st;
  if (s->initial_points > 0 && (st = tq_tuner_set_initial_points(co->tuner, s->initial_points))) return st;
  int torn1 = 0, torn2 = 0;
  tq_trial_record *fin = NULL;
  int nfin = 0;
  if (resume) {
    if ((st = tq_journal_load(co->trials_path, co->ndims, co->counts, 1, &fin, &nfin, &torn1))) return st;
    if ((st = tq_journal_load(co->started_path, co->ndims, co->counts, 1, &co->started, &co->nstarted, &torn2))) {
      tq_journal_free(fin, nfin);
      return st;
    }
    st = tq_search_replay(co->tuner, fin, nfin, co->started, co->nstarted, &co->requeue, &co->nrequeue);
    int maxt = 0;
    for (int i = 0; i < nfin; i++) maxt = fin[i].trial > maxt ? fin[i].trial : maxt;
    for (int i = 0; i < co->nstarted; i++) maxt = co->started[i].trial > maxt ? co->started[i].trial : maxt;
    co->next_trial = maxt + 1;
    for (int i = 0; i < nfin && !st; i++) st = push_record(co, &fin[i]);
    tq_journal_free(fin, nfin);
    if (st) return st;
  } else {
    co->next_trial = 1;
    if ((st = tq_mkdirs(co->out))) return st;
  }
  char *json = tq_search_settings_json(s);
  char path[1100];
  snprintf(path, sizeof path, "%s/search.json", co->out);
  st = json ? tq_write_file_atomic(path, json, strlen(json)) : tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  free(json);
  if (st) return st;
  FILE *L = co->log;
  if (resume) {
    fprintf(L, "Resuming search %s: %d of %d trials finished, %d interrupted (evaluated again first)%s\n",
            co->out, co->ndone, s->trials, co->nrequeue,
            torn1 || torn2 ? "; a torn last journal line was cut off" : "");
  }
  fprintf(L,
          "Search %s on %s: %s tuner, seed %d, %d trials x %d epochs on %d of %d training samples "
          "(fraction %g), %d validation samples\n",
          s->model, s->data, tq_tuner_kind_name(s->tuner), s->seed, s->trials, s->epochs, co->ev->train.n,
          co->ev->train_total, s->train_fraction, co->ev->val.n);
  fprintf(L, "space %s: %d dimensions, %.3g configurations (10^%.1f); goal: delta_p %g%%, delta_n %g%%, rate %g, "
          "stress %g, reference %d/%d bits, input %d bits\n",
          s->space_file[0] ? s->space_file : "(embedded)", co->ndims, pow(10, tq_space_log10_size(co->ev->space)),
          tq_space_log10_size(co->ev->space), s->goal.delta_p, s->goal.delta_n, s->goal.rate, s->goal.stress,
          s->goal.ref_bits, s->goal.ref_bias_bits, s->goal.input_bits);
  int evaluators = co->c->size - (co->c->size > 1 && !co->c->threaded ? 1 : 0);
  fprintf(L, "%d rank%s (%d evaluating trials at once), weights from %s\n", co->c->size,
          co->c->size > 1 ? "s" : "", evaluators, s->init[0] ? s->init : "the zoo initialiser");
  fflush(L);
  return TQ_OK;
}

static void stop_workers(coordinator *co) {
  for (int r = 1; r < co->c->size; r++) tq_comm_send(co->c, r, TQ_TAG_STOP, "");
  if (co->lw.running) {
    pthread_mutex_lock(&co->lw.mu);
    co->lw.stop = 1;
    pthread_cond_broadcast(&co->lw.cv);
    pthread_mutex_unlock(&co->lw.mu);
    pthread_join(co->lw.th, NULL);
    pthread_mutex_destroy(&co->lw.mu);
    pthread_cond_destroy(&co->lw.cv);
    co->lw.running = 0;
  }
}

/* Cheap checks before any data is loaded: the model and the space (against the model at its
 * reference shape: the layers do not depend on the input shape), the training options. */
static tq_status precheck(const tq_search_settings *s, const char *space_source) {
  const tq_zoo_entry *z = tq_zoo_find(s->model);
  tq_model *m = NULL;
  tq_status st = tq_zoo_build(&m, s->model, NULL);
  if (!st && z) st = tq_model_finalize(m, 1, z->init, 1);
  tq_space *sp = NULL;
  if (!st) st = tq_space_create(&sp, s->space_json, space_source, m);
  tq_space_free(sp);
  tq_model_free(m);
  if (st) return st;
  tq_train_config tc;
  tq_input_scaling sc;
  if ((st = tq_schedule_parse(s->schedule, &tc.schedule)) || (st = tq_optimizer_parse(s->optimizer, &tc.optimizer)) ||
      (st = tq_augment_parse(s->augment, &tc.augment)) || (st = tq_dataset_parse_scaling(s->scaling, &sc)))
    return st;
  return TQ_OK;
}

void tq_search_abort_workers(const tq_search_comm *c) {
  if (c->rank != 0 || c->size <= 1) return;
  char *none = NULL;
  tq_comm_bcast_text(c, &none);
}

tq_status tq_search_run(const tq_search_comm *c, const tq_search_settings *s, const char *out, int resume,
                        int threads, FILE *log) {
  coordinator co;
  memset(&co, 0, sizeof co);
  co.c = c;
  co.s = s;
  co.log = log ? log : stdout;
  tq_search_copy(co.out, sizeof co.out, out);
  snprintf(co.trials_path, sizeof co.trials_path, "%s/trials.jsonl", out);
  snprintf(co.started_path, sizeof co.started_path, "%s/started.jsonl", out);
  snprintf(co.best_path, sizeof co.best_path, "%s/best.json", out);
  snprintf(co.pareto_path, sizeof co.pareto_path, "%s/pareto.csv", out);
  char search_json[1100], space_source[1200];
  snprintf(search_json, sizeof search_json, "%s/search.json", out);
  tq_status st = TQ_OK;
  int lock_fd = -1;
  /* 1. The directory: fresh or a search to resume; locked before anything in it is read. */
  if (resume && file_exists(search_json)) lock_fd = tq_search_lock_dir(out, &st);
  if (st) {
    tq_search_abort_workers(c);
    return st;
  }
  if (!resume && (file_exists(search_json) || file_exists(co.trials_path)))
    st = tq_fail(TQ_ERR_ARG, "%s: the directory already holds a search (continue it with --resume %s, or "
                 "choose another --out)", out, out);
  if (resume && !file_exists(search_json))
    st = tq_fail(TQ_ERR_ARG, "%s: no search to resume (no search.json)", out);
  if (resume) snprintf(space_source, sizeof space_source, "%s (space)", search_json);
  else tq_search_copy(space_source, sizeof space_source, s->space_file[0] ? s->space_file : "search space");
  if (!st) st = precheck(s, space_source);
  if (!st && !resume && !(st = tq_mkdirs(out))) {
    lock_fd = tq_search_lock_dir(out, &st);
    if (!st && (file_exists(search_json) || file_exists(co.trials_path))) /* another run got here first */
      st = tq_fail(TQ_ERR_ARG, "%s: the directory already holds a search (continue it with --resume %s, or "
                   "choose another --out)", out, out);
  }
  if (st) {
    if (lock_fd >= 0) close(lock_fd);
    tq_search_abort_workers(c);
    return st;
  }
  /* 2. Every rank gets the settings and prepares its evaluator. */
  char *text = tq_search_settings_json(s);
  char thr[32];
  snprintf(thr, sizeof thr, "%d", threads);
  if (!text) {
    close(lock_fd);
    tq_search_abort_workers(c);
    return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  }
  st = tq_comm_bcast_text(c, &text);
  free(text);
  char *tp = thr;
  if (!st) st = tq_comm_bcast_text(c, &tp);
  if (st) {
    close(lock_fd);
    return st;
  }
  omp_set_num_threads(threads);
  tq_evaluator ev;
  st = tq_evaluator_init(&ev, s, space_source);
  if (!st) {
    co.ev = &ev;
    st = coordinator_setup(&co, resume);
  }
  int bad;
  if (!tq_comm_all_ok(c, st == TQ_OK, &bad)) {
    if (!st) st = tq_fail(TQ_ERR_IO, "rank %d could not start the search (see its message)", bad);
    goto done;
  }
  /* 3. The trials. */
  if (c->size > 1 && c->threaded) {
    co.lw.ev = &ev;
    co.lw.threads = threads;
    pthread_mutex_init(&co.lw.mu, NULL);
    pthread_cond_init(&co.lw.cv, NULL);
    if (pthread_create(&co.lw.th, NULL, local_main, &co.lw) != 0) {
      pthread_mutex_destroy(&co.lw.mu);
      pthread_cond_destroy(&co.lw.cv);
      co.fatal = tq_fail(TQ_ERR_MEMORY, "search: cannot start rank 0's evaluation thread");
    } else {
      co.lw.running = 1;
    }
  }
  co.session_t0 = tq_now_seconds();
  for (;;) {
    for (int r = 0; r < c->size && !co.fatal; r++) {
      if (co.slots[r].busy) continue;
      if (r == 0 && c->size > 1 && !co.lw.running) continue; /* pure coordinator */
      dispatch(&co, r);
      if (!co.slots[r].busy) break; /* nothing left to start */
    }
    int busy = 0;
    for (int r = 0; r < c->size; r++) busy += co.slots[r].busy;
    if (!busy) break;
    wait_one(&co);
  }
  stop_workers(&co);
  if (co.fatal) {
    st = co.fatal;
    goto done;
  }
  if ((st = write_results(&co))) goto done;
  print_summary(&co);
  fflush(co.log);
  if (best_index(&co) < 0) st = tq_fail(TQ_ERR_NUMERIC, "%s: no trial succeeded (see %s)", out, co.trials_path);
done:
  coordinator_free(&co);
  if (co.ev) tq_evaluator_free(&ev);
  close(lock_fd); /* last: the journal is complete before another process may take the directory */
  return st;
}

/* ---- ranks > 0 ---------------------------------------------------------------------------------- */

tq_status tq_search_worker(const tq_search_comm *c) {
  char *text = NULL, *thr = NULL;
  tq_status st = tq_comm_bcast_text(c, &text);
  if (st || !text) return st; /* rank 0 gave up: it says why */
  st = tq_comm_bcast_text(c, &thr);
  int threads = thr ? atoi(thr) : 1;
  free(thr);
  tq_search_settings s;
  if (!st) st = tq_search_settings_parse(&s, text, "settings from rank 0");
  free(text);
  if (st) {
    int bad;
    tq_comm_all_ok(c, 0, &bad);
    return st;
  }
  omp_set_num_threads(threads > 0 ? threads : 1);
  tq_evaluator ev;
  st = tq_evaluator_init(&ev, &s, s.space_file);
  int bad;
  int ok = tq_comm_all_ok(c, st == TQ_OK, &bad);
  if (st || !ok) {
    if (!st) tq_evaluator_free(&ev);
    tq_search_settings_free(&s);
    return st ? tq_fail_prefix(st, "rank %d", c->rank) : TQ_OK;
  }
  int ndims = tq_space_ndims(ev.space);
  int *choice = malloc(sizeof(int) * (size_t)ndims);
  if (!choice) st = tq_fail(TQ_ERR_MEMORY, "rank %d: out of memory", c->rank);
  int waited = 0;
  while (!st) {
    int from, tag;
    char *msg = NULL;
    int r = tq_comm_poll(c, 0, -1, &from, &tag, &msg);
    if (r < 0) {
      st = TQ_ERR_IO;
      break;
    }
    if (r == 0) {
      tq_comm_sleep_ms(waited < 1000 ? 2 : 20);
      waited += 2;
      continue;
    }
    waited = 0;
    if (tag == TQ_TAG_STOP) {
      free(msg);
      break;
    }
    int trial = 0;
    if (tag != TQ_TAG_TASK || !task_parse(msg, ndims, &trial, choice)) {
      free(msg);
      st = tq_fail(TQ_ERR_FORMAT, "rank %d: unexpected message from rank 0", c->rank);
      break;
    }
    free(msg);
    tq_trial_outcome o;
    tq_evaluate_trial(&ev, trial, choice, &o);
    char *res = outcome_json(trial, &o);
    st = res ? tq_comm_send(c, 0, TQ_TAG_RESULT, res) : tq_fail(TQ_ERR_MEMORY, "rank %d: out of memory", c->rank);
    free(res);
  }
  free(choice);
  tq_evaluator_free(&ev);
  tq_search_settings_free(&s);
  return st;
}
