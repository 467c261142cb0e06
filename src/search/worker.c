/* The evaluating side of a distributed search (SPEC §5): what rank 0 and the worker ranks say to each
 * other about a trial, the worker ranks' loop, and rank 0's own evaluation thread.
 *
 * Wire format: rank 0 sends a task {"trial": T, "choice": [..]} (tag TQ_TAG_TASK) or an empty stop
 * message (TQ_TAG_STOP); a worker answers with the outcome {"trial": T, "ok": .., "metric", "loss" or
 * "error", "seconds"} (TQ_TAG_RESULT). Numbers are written exactly (tq_json_add_exact), so a score
 * computed on rank 0 from a worker's metric is the one a single process computes. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "search/search_internal.h"

/* ---- the messages ---------------------------------------------------------------------------- */

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

int tq_search_parse_outcome(const char *text, int *trial, tq_trial_outcome *o) {
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

tq_status tq_search_send_task(const tq_search_comm *c, int rank, int trial, const int *choice, int ndims) {
  cJSON *j = cJSON_CreateObject();
  char *text = NULL;
  if (j) {
    cJSON_AddNumberToObject(j, "trial", trial);
    cJSON *a = cJSON_AddArrayToObject(j, "choice");
    for (int d = 0; a && d < ndims; d++) cJSON_AddItemToArray(a, cJSON_CreateNumber(choice[d]));
    text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
  }
  if (!text) return tq_fail(TQ_ERR_MEMORY, "search: trial %d for rank %d: out of memory", trial, rank);
  tq_status st = tq_comm_send(c, rank, TQ_TAG_TASK, text);
  free(text);
  return st;
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

/* ---- rank 0's own evaluation ----------------------------------------------------------------- */

tq_status tq_local_worker_init(tq_local_worker *w, const tq_evaluator *ev, int ndims) {
  memset(w, 0, sizeof *w);
  w->ev = ev;
  w->ndims = ndims;
  w->mode = TQ_LOCAL_NONE;
  w->choice = malloc(sizeof(int) * (size_t)ndims);
  return w->choice ? TQ_OK : tq_fail(TQ_ERR_MEMORY, "search: out of memory");
}

static void *local_main(void *arg) {
  tq_local_worker *w = arg;
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

tq_status tq_local_worker_start(tq_local_worker *w, int threads, int on_thread) {
  if (!on_thread) {
    w->mode = TQ_LOCAL_INLINE;
    return TQ_OK;
  }
  w->threads = threads;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->th, NULL, local_main, w) != 0) {
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return tq_fail(TQ_ERR_MEMORY, "search: cannot start rank 0's evaluation thread");
  }
  w->mode = TQ_LOCAL_THREAD;
  return TQ_OK;
}

void tq_local_worker_give(tq_local_worker *w, int trial, const int *choice) {
  if (w->mode == TQ_LOCAL_INLINE) { /* a world of one: evaluated by the take */
    w->trial = trial;
    memcpy(w->choice, choice, sizeof(int) * (size_t)w->ndims);
    w->has_task = 1;
    return;
  }
  pthread_mutex_lock(&w->mu);
  w->trial = trial;
  memcpy(w->choice, choice, sizeof(int) * (size_t)w->ndims);
  w->has_task = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

int tq_local_worker_take(tq_local_worker *w, int wait_ms, tq_trial_outcome *o) {
  if (w->mode != TQ_LOCAL_THREAD) {
    if (w->mode == TQ_LOCAL_INLINE && w->has_task) {
      w->has_task = 0;
      tq_evaluate_trial(w->ev, w->trial, w->choice, &w->out);
      w->has_result = 1;
    }
    int got = w->has_result;
    *o = w->out;
    w->has_result = 0;
    return got;
  }
  int got = 0;
  pthread_mutex_lock(&w->mu);
  if (!w->has_result) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += wait_ms * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&w->cv, &w->mu, &ts);
  }
  if (w->has_result) {
    got = 1;
    *o = w->out;
    w->has_result = 0;
  }
  pthread_mutex_unlock(&w->mu);
  return got;
}

void tq_local_worker_stop(tq_local_worker *w) {
  if (w->mode != TQ_LOCAL_THREAD) return;
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->th, NULL);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  w->mode = TQ_LOCAL_NONE;
}

void tq_local_worker_free(tq_local_worker *w) {
  tq_local_worker_stop(w);
  free(w->choice);
  w->choice = NULL;
}

/* ---- ranks > 0 ------------------------------------------------------------------------------- */

/* Evaluates the tasks rank 0 sends until it says stop. Waiting is polling with a short sleep (see
 * mpi_driver.c): a blocking receive would spin and take the core a trial trains on. */
static tq_status serve_tasks(const tq_search_comm *c, const tq_evaluator *ev) {
  int ndims = tq_space_ndims(ev->space);
  int *choice = malloc(sizeof(int) * (size_t)ndims);
  tq_status st = choice ? TQ_OK : tq_fail(TQ_ERR_MEMORY, "rank %d: out of memory", c->rank);
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
    tq_evaluate_trial(ev, trial, choice, &o);
    char *res = outcome_json(trial, &o);
    st = res ? tq_comm_send(c, 0, TQ_TAG_RESULT, res) : tq_fail(TQ_ERR_MEMORY, "rank %d: out of memory", c->rank);
    free(res);
  }
  free(choice);
  return st;
}

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
  st = serve_tasks(c, &ev);
  tq_evaluator_free(&ev);
  tq_search_settings_free(&s);
  return st;
}
