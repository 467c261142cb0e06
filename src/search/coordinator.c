/* Rank 0's coordinator of the mixed-precision search (SPEC §5): it owns the tuner and the journals
 * and hands the trials out to the evaluators (worker.c); results.c writes what they found.
 *
 * Distribution (MPI, world of K ranks): rank 0 hands one trial at a time to every free rank. Rank 0
 * evaluates trials too, on a second thread, while its main thread coordinates (suggestions, journal,
 * printing: a few milliseconds per trial) — so K ranks evaluate K trials at once and `mpirun -n 2` on
 * two cores uses both. Waiting ranks poll every few milliseconds instead of spinning in MPI. Only rank 0
 * reads or writes DIR; the data set and the --init file must be readable by every rank.
 *
 * Resume: DIR/started.jsonl records every dispatched trial before it is handed out, DIR/trials.jsonl
 * every finished one (both fsync'd line by line). --resume replays the finished trials in order into a
 * fresh tuner with the same seed, adds the started-but-unfinished ones as pending and evaluates them
 * again first with the same choices: no finished trial is repeated, no interrupted one is lost, and in
 * a single process the suggestions are exactly those of an uninterrupted run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/search_internal.h"
#include "tinyq/qconfig.h"

/* What rank `r`'s evaluator is doing: slots[r]. */
typedef struct {
  int busy;
  int trial;
  int *choice;
  tq_size_stats sz;
  double t0;
} slot_state;

struct tq_coordinator {
  const tq_search_comm *c;
  const tq_search_settings *s;
  const tq_evaluator *ev;
  const tq_search_paths *p;
  FILE *log;
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
  tq_local_worker lw;
  int npareto;           /* trials in pareto.csv */
  int results_stale;     /* best.json and pareto.csv lack a finished trial */
  int sensitivity_stale; /* sensitivity.csv lacks the tuner's last GP fit */
  int session_done;
  double session_t0;
  tq_status fatal;
};

/* ---- the finished trials --------------------------------------------------------------------- */

static tq_status push_record(tq_coordinator *co, tq_trial_record *r) {
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

/* The journal record of the trial in `rank`'s slot from its outcome. */
static tq_status make_record(const tq_coordinator *co, int rank, const tq_trial_outcome *o, tq_trial_record *r) {
  const slot_state *sl = &co->slots[rank];
  memset(r, 0, sizeof *r);
  r->trial = sl->trial;
  r->rank = rank;
  r->ndims = co->ndims;
  r->choice = malloc(sizeof(int) * (size_t)co->ndims);
  r->config = tq_space_config_json(co->ev->space, sl->choice, 0);
  if (!r->choice || !r->config) {
    tq_trial_record_clear(r);
    return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  }
  memcpy(r->choice, sl->choice, sizeof(int) * (size_t)co->ndims);
  r->trial_size = sl->sz.trial;
  r->reference_size = sl->sz.reference;
  r->delta = sl->sz.delta;
  r->seconds = o->seconds;
  if (o->ok) {
    r->status = TQ_TRIAL_OK;
    r->metric = o->metric;
    r->loss = o->loss;
    r->score = tq_forgiving_score(o->metric, &sl->sz);
  } else {
    r->status = TQ_TRIAL_FAILED;
    r->metric = r->score = r->loss = NAN;
    r->error = strdup(o->error);
  }
  return TQ_OK;
}

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

/* The progress line of a finished trial r (the last record). */
static void report_trial(tq_coordinator *co, int rank, const tq_trial_outcome *o, const tq_trial_record *r) {
  co->session_done++;
  double el = tq_now_seconds() - co->session_t0;
  char eta[32];
  fmt_duration(eta, sizeof eta, el / co->session_done * (co->s->trials - co->ndone));
  int b = tq_search_best(co->recs, co->nrecs);
  char best[96] = "none yet";
  if (b >= 0) snprintf(best, sizeof best, "%.4f (trial %d)", co->recs[b].score, co->recs[b].trial);
  if (o->ok)
    fprintf(co->log,
            "trial %d/%d done on rank %d in %.1f s: score %.4f = metric %.4f x (1 %+.4f) (val loss %.4f) | "
            "best %s | %d/%d done, ETA %s\n",
            r->trial, co->s->trials, rank, o->seconds, r->score, r->metric, r->delta, r->loss, best, co->ndone,
            co->s->trials, co->ndone >= co->s->trials ? "0s" : eta);
  else
    fprintf(co->log, "trial %d/%d FAILED on rank %d after %.1f s: %s | best %s | %d/%d done, ETA %s\n", r->trial,
            co->s->trials, rank, o->seconds, o->error, best, co->ndone, co->s->trials,
            co->ndone >= co->s->trials ? "0s" : eta);
  fflush(co->log);
}

/* A finished trial: journal, tuner, progress line. best.json and pareto.csv follow once the free ranks
 * have their next trials (write_stale): they are derived from the journal, and their atomic writes
 * (two fsyncs) would otherwise keep a rank idle. */
static void finish(tq_coordinator *co, int rank, const tq_trial_outcome *o) {
  tq_search_trace("coordinator: trial %d from rank %d", co->slots[rank].trial, rank);
  co->slots[rank].busy = 0;
  if (co->fatal) return;
  tq_trial_record r;
  tq_status st = make_record(co, rank, o, &r);
  if (!st) st = tq_journal_append(co->p->trials, &r);
  if (!st) {
    if (r.status == TQ_TRIAL_OK) st = tq_tuner_observe(co->tuner, r.choice, r.score);
    else tq_tuner_forget_pending(co->tuner, r.choice);
  }
  if (!st) st = push_record(co, &r);
  tq_trial_record_clear(&r);
  co->results_stale = 1;
  if (st) {
    co->fatal = st;
    return;
  }
  report_trial(co, rank, o, &co->recs[co->nrecs - 1]);
  tq_search_trace("coordinator: trial %d recorded", co->recs[co->nrecs - 1].trial);
}

/* ---- handing out trials ---------------------------------------------------------------------- */

/* Size statistics of a choice, and its stats block in the log. */
static tq_status choice_stats(const tq_coordinator *co, const int *choice, tq_size_stats *sz) {
  char *cfg = tq_space_config_json(co->ev->space, choice, 0);
  if (!cfg) return TQ_ERR_MEMORY; /* the message says why */
  tq_status st = tq_qconfig_apply_json(co->ev->stats_model, cfg, "configuration");
  free(cfg);
  if (st) return st;
  tq_size_stats_compute(co->ev->stats_model, &co->s->goal, sz);
  tq_size_stats_print(co->log, co->ev->stats_model, &co->s->goal, sz);
  return TQ_OK;
}

/* The next trial to hand out: an interrupted one first, else a new suggestion. Returns 1 (trial and
 * choice filled, *how says where it came from), 0 when there is nothing left to start. */
static int next_task(tq_coordinator *co, int rank, int *trial, int *choice, const char **how) {
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
  co->sensitivity_stale |= info.used_gp; /* written by write_stale, after the hand-out */
  *trial = co->next_trial++;
  tq_trial_record r = {.trial = *trial, .status = TQ_TRIAL_STARTED, .rank = rank, .ndims = co->ndims, .choice = choice};
  if ((st = tq_journal_append(co->p->started, &r))) {
    co->fatal = st;
    return 0;
  }
  return 1;
}

static tq_status dispatch(tq_coordinator *co, int rank) {
  slot_state *sl = &co->slots[rank];
  const char *how = "";
  tq_search_trace("coordinator: suggest for rank %d", rank);
  if (!next_task(co, rank, &sl->trial, sl->choice, &how)) return co->fatal;
  tq_size_stats sz;
  fprintf(co->log, "\n== trial %d/%d on rank %d (%s)\n", sl->trial, co->s->trials, rank, how);
  tq_status st = choice_stats(co, sl->choice, &sz);
  fflush(co->log);
  if (st) return co->fatal = st;
  sl->sz = sz;
  sl->busy = 1;
  sl->t0 = tq_now_seconds();
  tq_search_trace("coordinator: trial %d to rank %d", sl->trial, rank);
  if (rank == 0) tq_local_worker_give(&co->lw, sl->trial, sl->choice);
  else if ((st = tq_search_send_task(co->c, rank, sl->trial, sl->choice, co->ndims))) return co->fatal = st;
  return TQ_OK;
}

/* The derived files, once every free rank has its trial: best.json and pareto.csv after a finished
 * trial, sensitivity.csv after a GP fit (every fit's lengthscales, so that an interrupted search has
 * them too; the tuner keeps its last fit, so writing it later writes the same file). */
static void write_stale(tq_coordinator *co) {
  tq_status st = TQ_OK;
  int written = 0;
  if (co->results_stale && !co->fatal) st = tq_search_write_results(co->p, co->recs, co->nrecs, &co->npareto);
  if (!st && co->sensitivity_stale && !co->fatal)
    st = tq_search_write_sensitivity(co->p, co->ev->space, co->tuner, 0, &written);
  co->results_stale = co->sensitivity_stale = 0;
  if (st && !co->fatal) co->fatal = st;
}

/* A result from a worker rank, if one is waiting: 1 when a trial finished (or the search failed), 0
 * when none is. */
static int take_from_ranks(tq_coordinator *co) {
  int from = -1, tag = -1;
  char *text = NULL;
  int r = tq_comm_poll(co->c, -1, TQ_TAG_RESULT, &from, &tag, &text);
  if (r < 0) {
    co->fatal = TQ_ERR_IO;
    for (int k = 1; k < co->c->size; k++) co->slots[k].busy = 0;
    return 1;
  }
  if (r == 0) return 0;
  tq_trial_outcome o;
  int trial = 0;
  if (from <= 0 || from >= co->c->size || !co->slots[from].busy || !tq_search_parse_outcome(text, &trial, &o) ||
      trial != co->slots[from].trial) {
    free(text);
    co->fatal = tq_fail(TQ_ERR_FORMAT, "search: unexpected message from rank %d", from);
    if (from > 0 && from < co->c->size) co->slots[from].busy = 0;
    return 1;
  }
  free(text);
  finish(co, from, &o);
  return 1;
}

/* Waits until some busy slot reports (polling every 2 ms: a worker rank idles until its result is
 * seen and its next trial sent). In a world of one, the local take evaluates the trial. */
static void wait_one(tq_coordinator *co) {
  int waited_ms = 0;
  for (;;) {
    tq_trial_outcome o;
    if (co->slots[0].busy && tq_local_worker_take(&co->lw, 2, &o)) {
      finish(co, 0, &o);
      return;
    }
    if (co->c->size > 1) {
      if (take_from_ranks(co)) return;
      if (!co->slots[0].busy) {
        tq_comm_sleep_ms(waited_ms < 1000 ? 2 : 20);
        waited_ms += 2;
      }
    }
  }
}

static void stop_workers(tq_coordinator *co) {
  for (int r = 1; r < co->c->size; r++) tq_comm_send(co->c, r, TQ_TAG_STOP, "");
  tq_local_worker_stop(&co->lw);
}

tq_status tq_coordinator_run(tq_coordinator *co, int threads) {
  const tq_search_comm *c = co->c;
  if (c->size == 1) tq_local_worker_start(&co->lw, threads, 0);
  else if (c->threaded) co->fatal = tq_local_worker_start(&co->lw, threads, 1);
  co->session_t0 = tq_now_seconds();
  for (;;) {
    for (int r = 0; r < c->size && !co->fatal; r++) {
      if (co->slots[r].busy) continue;
      if (r == 0 && co->lw.mode == TQ_LOCAL_NONE) continue; /* pure coordinator */
      dispatch(co, r);
      if (!co->slots[r].busy) break; /* nothing left to start */
    }
    write_stale(co);
    /* a world of one evaluates in wait_one: no trial the search could not record */
    if (co->fatal && co->lw.mode == TQ_LOCAL_INLINE) co->slots[0].busy = 0;
    int busy = 0;
    for (int r = 0; r < c->size; r++) busy += co->slots[r].busy;
    if (!busy) break;
    wait_one(co);
  }
  stop_workers(co);
  if (co->fatal) return co->fatal;
  tq_status st = tq_search_write_results(co->p, co->recs, co->nrecs, &co->npareto);
  if (st) return st;
  tq_search_print_summary(co->log, co->p, co->s, co->recs, co->nrecs, co->npareto);
  int written = 0; /* the lengthscales fitted on every finished trial */
  if ((st = tq_search_write_sensitivity(co->p, co->ev->space, co->tuner, 1, &written))) return st;
  if (written)
    fprintf(co->log, "per-layer sensitivity of the GP (main effect, 1/ARD lengthscale): %s\n", co->p->sensitivity);
  fflush(co->log);
  if (tq_search_best(co->recs, co->nrecs) < 0)
    return tq_fail(TQ_ERR_NUMERIC, "%s: no trial succeeded (see %s)", co->p->dir, co->p->trials);
  return TQ_OK;
}

/* ---- setting up ------------------------------------------------------------------------------ */

static tq_status alloc_state(tq_coordinator *co, const float ***values) {
  co->ndims = tq_space_ndims(co->ev->space);
  co->counts = malloc(sizeof(int) * (size_t)co->ndims);
  *values = malloc(sizeof(float *) * (size_t)co->ndims);
  co->done = calloc((size_t)co->s->trials + 1, 1);
  co->slots = calloc((size_t)co->c->size, sizeof(slot_state));
  if (!co->counts || !*values || !co->done || !co->slots) return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  for (int r = 0; r < co->c->size; r++)
    if (!(co->slots[r].choice = malloc(sizeof(int) * (size_t)co->ndims)))
      return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  return tq_local_worker_init(&co->lw, co->ev, co->ndims);
}

static tq_status create_tuner(tq_coordinator *co) {
  const float **values = NULL;
  tq_status st = alloc_state(co, &values);
  if (!st) {
    tq_space_counts(co->ev->space, co->counts, values);
    st = tq_tuner_create(&co->tuner, co->s->tuner, co->ndims, co->counts, values, (uint64_t)co->s->seed);
  }
  free(values);
  if (!st && co->s->initial_points > 0) st = tq_tuner_set_initial_points(co->tuner, co->s->initial_points);
  return st;
}

/* --resume: the journals back into the tuner; *torn when a torn last line was cut off either. */
static tq_status load_journals(tq_coordinator *co, int *torn) {
  int torn1 = 0, torn2 = 0;
  tq_trial_record *fin = NULL;
  int nfin = 0;
  tq_status st = tq_journal_load(co->p->trials, co->ndims, co->counts, 1, &fin, &nfin, &torn1);
  if (st) return st;
  if ((st = tq_journal_load(co->p->started, co->ndims, co->counts, 1, &co->started, &co->nstarted, &torn2))) {
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
  *torn = torn1 || torn2;
  return st;
}

static void print_header(const tq_coordinator *co, int resume, int torn) {
  const tq_search_settings *s = co->s;
  FILE *L = co->log;
  if (resume) {
    fprintf(L, "Resuming search %s: %d of %d trials finished, %d interrupted (evaluated again first)%s\n",
            co->p->dir, co->ndone, s->trials, co->nrequeue, torn ? "; a torn last journal line was cut off" : "");
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
}

/* After the settings are known: tuner, journals (replayed on --resume), search.json, the header. */
static tq_status setup(tq_coordinator *co, int resume) {
  tq_status st = create_tuner(co);
  if (st) return st;
  int torn = 0;
  if (resume) {
    if ((st = load_journals(co, &torn))) return st;
  } else {
    co->next_trial = 1;
    if ((st = tq_mkdirs(co->p->dir))) return st;
  }
  char *json = tq_search_settings_json(co->s);
  st = json ? tq_write_file_atomic(co->p->settings, json, strlen(json)) : tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  free(json);
  if (st) return st;
  print_header(co, resume, torn);
  return TQ_OK;
}

tq_status tq_coordinator_open(tq_coordinator **out, const tq_search_comm *c, const tq_search_settings *s,
                              const tq_evaluator *ev, const tq_search_paths *p, int resume, FILE *log) {
  tq_coordinator *co = calloc(1, sizeof *co);
  *out = co;
  if (!co) return tq_fail(TQ_ERR_MEMORY, "search: out of memory");
  co->c = c;
  co->s = s;
  co->ev = ev;
  co->p = p;
  co->log = log;
  return setup(co, resume);
}

void tq_coordinator_free(tq_coordinator *co) {
  if (!co) return;
  tq_local_worker_free(&co->lw);
  tq_tuner_free(co->tuner);
  tq_journal_free(co->recs, co->nrecs);
  tq_journal_free(co->started, co->nstarted);
  free(co->requeue);
  free(co->done);
  free(co->counts);
  if (co->slots)
    for (int r = 0; r < co->c->size; r++) free(co->slots[r].choice);
  free(co->slots);
  free(co);
}
