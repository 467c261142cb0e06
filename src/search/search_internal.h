/* Internal to the search driver (src/search/search.c, evaluator.c, settings.c, journal.c,
 * mpi_driver.c). Not a public header. */
#ifndef TINYQ_SEARCH_INTERNAL_H
#define TINYQ_SEARCH_INTERNAL_H

#include <cjson/cJSON.h>

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
/* Sleeps (waiting ranks poll instead of spinning in MPI, which would take a core). */
void tq_comm_sleep_ms(int ms);

/* Small helpers shared by settings.c and search.c (JSON fields; 0 when absent or of the wrong type). */
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

/* Locks DIR/search.lock for this process (lock.c); returns the descriptor to keep open until the
 * journal is complete, or -1 with *st set ("search: DIR is in use by process N"). */
int tq_search_lock_dir(const char *dir, tq_status *st);

#endif
