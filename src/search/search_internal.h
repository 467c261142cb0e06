/* Internal to the search driver (src/search/search.c, coordinator.c, worker.c, results.c, evaluator.c,
 * settings.c, journal.c, lock.c, mpi_driver.c). Not a public header.
 *
 * Out of memory, everywhere in src/search: reported once, where the allocation fails, as
 * "WHERE: out of memory" with TQ_ERR_MEMORY — tq_fail after malloc, cJSON or strdup; tq_fail_prefix
 * after tq_alloc, which has already said how much and whether the --max-memory limit was reached.
 * Callers pass such a status up unchanged. */
#ifndef TINYQ_SEARCH_INTERNAL_H
#define TINYQ_SEARCH_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>

#include "tinyq/data.h"
#include "tinyq/search.h"
#include "tinyq/train.h"
#include "tinyq/zoo.h"

/* Adds a number that reads back bit-exactly ("%.17g"; cJSON's own printing may drop the last ulp,
 * and the tuner's replay depends on exact scores). Non-finite values are left out (JSON has none). */
void tq_json_add_exact(cJSON *o, const char *key, double v);

/* Messages between rank 0 and the worker ranks of a distributed search (mpi_driver.c). Every message
 * is a NUL-terminated JSON text. Without MPI (or in a world of one) the functions are never asked to
 * talk to another rank. */
enum { TQ_TAG_TASK = 11, TQ_TAG_STOP = 12, TQ_TAG_RESULT = 13 };

/* Rank 0: *text is sent to every rank (NULL: "no search, exit"). Others: *text receives a malloc'd
 * copy, or NULL when rank 0 gave up. */
tq_status tq_comm_bcast_text(const tq_search_comm *c, char **text);
/* Every rank says whether it is ready; returns 1 when all are, else 0 and *first_bad = the lowest rank
 * that is not. */
int tq_comm_all_ok(const tq_search_comm *c, int ok, int *first_bad);
/* Sends text (may be "") to rank dest with tag. Small messages: returns without waiting for dest. */
tq_status tq_comm_send(const tq_search_comm *c, int dest, int tag, const char *text);
/* Non-blocking: a message from src (-1 = any rank) with tag (-1 = any tag)? Returns 1 and fills
 * *from, *tag_out, *text (malloc'd), 0 when none is waiting, -1 on an MPI error. */
int tq_comm_poll(const tq_search_comm *c, int src, int tag, int *from, int *tag_out, char **text);
/* A warning on log when the ranks' OpenMP threads outnumber the cores this machine (or rank 0's binding)
 * gives them: oversubscribed threads spin in each other's way, many times slower than one thread. */
void tq_comm_check_threads(const tq_search_comm *c, int threads, FILE *log);
/* Sleeps (waiting ranks poll instead of spinning in MPI, which would take a core). */
void tq_comm_sleep_ms(int ms);

/* TQ_SEARCH_TRACE=1: a timestamped stderr line per phase (trace.c); the rank tags the lines. */
void tq_search_trace_rank(int rank);
void tq_search_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Small helpers shared by settings.c and the rest (JSON fields; 0 when absent or of the wrong type). */
void tq_search_copy(char *dst, size_t n, const char *src);
int tq_search_js_str(const cJSON *o, const char *k, char *dst, size_t n);
int tq_search_js_num(const cJSON *o, const char *k, double *dst);
int tq_search_js_int(const cJSON *o, const char *k, int *dst);

/* The trial evaluator (evaluator.c): what every rank needs to evaluate trials, prepared once. */
typedef struct {
  const tq_search_settings *s;
  const tq_zoo_entry *z;
  tq_zoo_options zo;
  tq_dataset train, val;   /* the trials' training subset and the full validation tail */
  tq_dataset auc_test;     /* --metric auc: the DCASE test folder (else empty) */
  int train_total;         /* samples of the training portion before the fraction */
  tq_model *float_model;   /* --init, or NULL */
  tq_model *stats_model;   /* batch-1 model for the size statistics (rank 0's main thread only) */
  tq_space *space;
  tq_train_config tc;
} tq_evaluator;

typedef struct {
  int ok;
  double metric, loss, seconds;
  char error[512];
} tq_trial_outcome;

/* Loads the data (the training subset and the validation tail), the float model, and resolves the
 * space against the model. space_source names the space in error messages. */
tq_status tq_evaluator_init(tq_evaluator *ev, const tq_search_settings *s,
                            const char *space_source);
void tq_evaluator_free(tq_evaluator *ev);
/* Builds, initialises, configures, trains and evaluates one trial. Thread-safe against rank 0's
 * main thread (which only reads the shared evaluator and uses stats_model). */
void tq_evaluate_trial(const tq_evaluator *ev, int trial, const int *choice, tq_trial_outcome *o);

/* The wire format between rank 0 and the worker ranks (worker.c): a task is sent to rank `rank`; an
 * outcome received from a worker is parsed (1 when it is well-formed). */
tq_status tq_search_send_task(const tq_search_comm *c, int rank, int trial, const int *choice, int ndims);
int tq_search_parse_outcome(const char *text, int *trial, tq_trial_outcome *o);

/* Rank 0's own evaluation of trials (worker.c): inline in a world of one (a given trial is evaluated
 * by the take that asks for it, so the coordinator writes its derived files in between), on a second thread in an MPI world whose library allows it (rank 0's main thread keeps
 * coordinating), or none (rank 0 only coordinates). */
typedef enum { TQ_LOCAL_NONE = 0, TQ_LOCAL_INLINE, TQ_LOCAL_THREAD } tq_local_mode;
typedef struct {
  const tq_evaluator *ev;
  int ndims;
  tq_local_mode mode;
  int threads; /* OpenMP threads of the evaluation thread */
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int has_task, has_result, stop; /* under mu on a thread */
  int trial;
  int *choice;
  tq_trial_outcome out;
} tq_local_worker;

/* Prepared with mode none; tq_local_worker_start makes it evaluate (on_thread: on its own thread with
 * `threads` OpenMP threads, else inline). */
tq_status tq_local_worker_init(tq_local_worker *w, const tq_evaluator *ev, int ndims);
tq_status tq_local_worker_start(tq_local_worker *w, int threads, int on_thread);
void tq_local_worker_give(tq_local_worker *w, int trial, const int *choice);
/* 1 and *o when the given trial is done (a thread is waited for up to wait_ms; inline: evaluated
 * now), else 0. */
int tq_local_worker_take(tq_local_worker *w, int wait_ms, tq_trial_outcome *o);
void tq_local_worker_stop(tq_local_worker *w); /* joins the thread; mode none afterwards */
void tq_local_worker_free(tq_local_worker *w);

/* The files of a search directory. */
typedef struct {
  const char *dir;
  char settings[1100]; /* search.json */
  char trials[1100];   /* trials.jsonl: the finished trials */
  char started[1100];  /* started.jsonl: every trial handed out */
  char best[1100];     /* best.json */
  char pareto[1100];   /* pareto.csv */
  char sensitivity[1100]; /* sensitivity.csv: the GP's inverse lengthscales */
} tq_search_paths;
void tq_search_paths_init(tq_search_paths *p, const char *dir);

/* Rank 0's coordinator (coordinator.c). open: the tuner, the journals replayed on --resume, search.json
 * and the header lines; run: the trials, then the results and the summary. */
typedef struct tq_coordinator tq_coordinator;
tq_status tq_coordinator_open(tq_coordinator **out, const tq_search_comm *c, const tq_search_settings *s,
                              const tq_evaluator *ev, const tq_search_paths *p, int resume, FILE *log);
tq_status tq_coordinator_run(tq_coordinator *co, int threads);
void tq_coordinator_free(tq_coordinator *co); /* NULL is fine */

/* Results (results.c): the index of the best successful record or -1; best.json and pareto.csv from the
 * finished trials (*npareto: trials in pareto.csv); the closing summary. */
int tq_search_best(const tq_trial_record *recs, int n);
tq_status tq_search_write_results(const tq_search_paths *p, const tq_trial_record *recs, int n, int *npareto);
/* sensitivity.csv from the tuner's last GP fit (refit on every observation first when refit);
 * *written = 1 when there was a fit to write (a Bayesian tuner past its initial points). */
tq_status tq_search_write_sensitivity(const tq_search_paths *p, const tq_space *space, tq_tuner *t, int refit,
                                      int *written);
void tq_search_print_summary(FILE *log, const tq_search_paths *p, const tq_search_settings *s,
                             const tq_trial_record *recs, int n, int npareto);

/* Locks DIR/search.lock for this process (lock.c); returns the descriptor to keep open until the
 * journal is complete, or -1 with *st set ("search: DIR is in use by process N"). */
int tq_search_lock_dir(const char *dir, tq_status *st);

#endif
