/* The mixed-precision search (SPEC §5): AutoQKeras search spaces, the trial journal, and the search
 * driver (one process, or several MPI ranks with rank 0 owning the tuner and the journal).
 *
 * Search space file (JSON):
 *   "quantization_config": {"kernel": {QSTR: bits, ...}, "bias": {...}, "activation": {...}}
 *       every group present and non-empty; QSTR a QKeras quantizer string (SPEC §1.4), bits > 0 its
 *       cost. The options of a group are ordered by cost ascending (file order on ties).
 *   "limit": {KEY: LIMIT, ...}  (optional)
 *       KEY a layer class (Dense, Conv2D, DepthwiseConv2D, Activation; Q-prefixed aliases accepted) or
 *       otherwise a POSIX extended regular expression over layer names (anchored only as written:
 *       "^conv2d_[12]$"). LIMIT a maximum bit cost (number, for every group) or a list:
 *         [kernel, bias] or [kernel, bias, activation] for conv/dense layers (the 3rd entry has no
 *         slot of its own there: tinyq's activation slots are separate Activation layers), [activation]
 *         for Activation. A pattern may match conv/dense layers and activation slots at once; then the
 *         list must have 3 entries and the 3rd limits the slots.
 *       The layers a pattern matches share ONE choice per group (one tuner dimension each for kernel,
 *       bias and/or activation). A layer matched by several patterns belongs to the first (file
 *       order); a pattern wins over a class key. Every pattern must own at least one layer.
 *   "goal": {"type": "bits", "params": {"delta_p", "delta_n", "rate", "stress", "input_bits",
 *       "ref_bits", "ref_bias_bits"}}  (optional; missing params keep tq_goal_defaults)
 * Unknown keys anywhere are errors.
 *
 * Dimensions, in model layer order: per conv/dense layer a kernel and a bias choice, per activation slot
 * (linear Activation layer) an activation choice; a pattern group contributes its dimensions where its
 * first layer stands. Options = the group's quantizers whose cost <= the limit. */
#ifndef TINYQ_SEARCH_H
#define TINYQ_SEARCH_H

#include <stdio.h>

#include "tinyq/cost.h"
#include "tinyq/model.h"
#include "tinyq/tuner.h"

/* ---- Search space ---------------------------------------------------------------------------- */

typedef enum { TQ_GROUP_KERNEL = 0, TQ_GROUP_BIAS, TQ_GROUP_ACTIVATION, TQ_GROUP_COUNT } tq_qgroup;

const char *tq_qgroup_name(tq_qgroup g); /* "kernel" | "bias" | "activation" */

typedef struct {
  const char *quantizer; /* as written in the space file */
  double cost;           /* its bit cost */
} tq_space_option;

typedef struct {
  tq_qgroup group;
  const char *label;        /* "conv2d/kernel", "activation_1", "/^conv2d_[12]$/kernel" */
  int noptions;             /* >= 1 */
  const tq_space_option *options; /* cost ascending */
  const float *values;      /* the costs, for tq_tuner_create */
  int nlayers;              /* layers sharing this choice (> 1 only for a pattern group) */
  const int *layers;        /* their model layer indices */
  int pattern;              /* index of the limit pattern that groups them, -1 = one layer */
} tq_space_dim;

typedef struct tq_space tq_space; /* opaque */

/* Parses a space file's text against a built, finalized model (it is not modified). source names the
 * file in error messages: "<source>: <entry>: <problem>". */
tq_status tq_space_create(tq_space **out, const char *json, const char *source, const tq_model *m);
void tq_space_free(tq_space *s);

int tq_space_ndims(const tq_space *s);
const tq_space_dim *tq_space_dim_get(const tq_space *s, int d);
/* counts[d] = dims[d].noptions; values[d] = dims[d].values (arrays of tq_space_ndims entries). */
void tq_space_counts(const tq_space *s, int *counts, const float **values);
/* The goal of the file ("goal"."params" over tq_goal_defaults); *given = 1 when the file has one. */
void tq_space_goal(const tq_space *s, tq_goal *goal, int *given);
/* The goal of a space file's text alone (no model needed): fields of *goal the file gives are
 * overwritten, the others kept; *given (may be NULL) = 1 when the file has a "goal". */
tq_status tq_space_read_goal(const char *json, const char *source, tq_goal *goal, int *given);
/* log10 of the number of configurations. */
double tq_space_log10_size(const tq_space *s);

/* The configuration of a choice vector (choice[d] in [0, noptions)) in the qconfig format of
 * tinyq/qconfig.h (keys = layer names, model layer order), malloc'd; NULL on a bad choice or out of
 * memory (error recorded). pretty: indented (files) or one line (journal). */
char *tq_space_config_json(const tq_space *s, const int *choice, int pretty);

/* ---- Trial journal ----------------------------------------------------------------------------- */

/* DIR/trials.jsonl holds one JSON object per finished trial (ok or failed), in the order rank 0
 * observed them; DIR/started.jsonl one object per dispatched trial ({"trial", "choice", "rank"}).
 * Each line is written with one write(), then fsync'd. A started trial without a finished record was
 * interrupted: --resume evaluates it again with the same choice. */
typedef enum { TQ_TRIAL_OK = 0, TQ_TRIAL_FAILED = 1, TQ_TRIAL_STARTED = 2 } tq_trial_status;

typedef struct {
  int trial;                /* 1-based index, in dispatch order */
  tq_trial_status status;
  int rank;                 /* MPI rank that evaluated it (0 single-process) */
  int ndims;
  int *choice;              /* option index per dimension */
  char *config;             /* the configuration object, one-line JSON (NULL in started records) */
  char *error;              /* failed trials: why */
  double trial_size, reference_size, delta; /* bits (SPEC §5) */
  double metric;            /* accuracy, or 1/(1+loss^10) for the MSE autoencoder */
  double score;             /* metric * (1 + delta) */
  double loss;              /* validation loss */
  double seconds;           /* wall time of the trial */
} tq_trial_record;

/* The record as one line of JSON (no newline), malloc'd. */
char *tq_trial_record_json(const tq_trial_record *r);
/* Appends the record's line to path (O_APPEND, one write, fsync). */
tq_status tq_journal_append(const char *path, const tq_trial_record *r);
/* Reads a journal. A missing file is an empty journal. A torn last line (no newline, or not valid
 * JSON: a write cut by a crash) is ignored and *torn set; with repair it is also cut off the file so
 * that later appends start on a fresh line. A bad line anywhere else is an error naming the file and
 * line. Every record must have ndims choices within counts (counts may be NULL: no range check).
 * The caller frees the records with tq_journal_free. */
tq_status tq_journal_load(const char *path, int ndims, const int *counts, int repair,
                          tq_trial_record **out, int *n, int *torn);
void tq_journal_free(tq_trial_record *r, int n);
void tq_trial_record_clear(tq_trial_record *r); /* frees the record's arrays and strings */

/* Replays a journal into a fresh tuner (same kind and seed as the original run): finished records in
 * order (observe / forget_pending), then every started record without a finished one, in start order,
 * as pending. *interrupted (may be NULL) receives the indices into started[] of those trials
 * (caller frees with free()), *ninterrupted their count. */
tq_status tq_search_replay(tq_tuner *t, const tq_trial_record *finished, int nfinished,
                           const tq_trial_record *started, int nstarted, int **interrupted,
                           int *ninterrupted);

/* The Pareto front of the successful trials: minimise trial_size, maximise metric. Writes indices into
 * r[] of the non-dominated trials, sorted by bits ascending (a trial equal in both to an earlier one
 * is left out), into idx (room for n). Returns their count. */
int tq_search_pareto(const tq_trial_record *r, int n, int *idx);
/* Indices of the successful trials by score descending (ties: lower trial index first), up to k. */
int tq_search_top(const tq_trial_record *r, int n, int k, int *idx);

/* ---- The search ------------------------------------------------------------------------------ */

typedef struct {
  char model[64];           /* zoo name */
  char data[1024];          /* dataset spec (tq_dataset_load) */
  char scaling[16];         /* unit | raw | centered */
  char init[1024];          /* float model file for weight transfer, "" = none */
  char space_file[1024];    /* where the space came from (information) */
  char *space_json;         /* the space file's text (owned) */
  int trials;               /* trial indices 1..trials are run */
  int epochs;               /* per trial */
  double train_fraction;    /* of the training portion (after the validation tail), in (0, 1] */
  int train_limit;          /* keep only the first N samples of the training split (0 = all) */
  long max_steps;           /* per epoch (0 = all) */
  int batch;
  double lr;
  char schedule[256], optimizer[16], augment[128];
  tq_tuner_kind tuner;
  int seed;
  int initial_points;       /* Bayesian random start (0 = the tuner's default) */
  tq_goal goal;
  double width;             /* the zoo model's width multiplier (0: its default) */
  char metric[16];          /* "" = the study's (accuracy, or 1/(1 + loss^10) for an auto-encoder);
                               "auc" = mean AUC per machine id on a DCASE test folder */
} tq_search_settings;

void tq_search_settings_init(tq_search_settings *s);  /* zero + defaults (no space) */
void tq_search_settings_free(tq_search_settings *s);  /* frees space_json */
/* The content of DIR/search.json: every setting and a copy of the space file. */
char *tq_search_settings_json(const tq_search_settings *s);
tq_status tq_search_settings_parse(tq_search_settings *s, const char *json, const char *source);

/* The processes taking part: one, or an MPI world. */
typedef struct {
  int rank, size;
  int mpi;          /* MPI_Init was called (launched by mpirun) */
  int threaded;     /* MPI granted MPI_THREAD_FUNNELED: rank 0 evaluates trials too */
} tq_search_comm;

/* Joins the MPI world when the program was started by an MPI launcher (Open MPI, PMI/PMIx
 * environment) and tinyq was built with MPI; otherwise (or with TQ_NO_MPI=1 in the environment)
 * rank 0 of a world of one. */
tq_status tq_search_comm_init(tq_search_comm *c);
void tq_search_comm_finalize(tq_search_comm *c);

/* Rank 0 of the search: directory `out` must not hold a search yet (resume = 0), or must hold one
 * (resume = 1: s is the settings read from its search.json, possibly with more trials). Writes
 * search.json, runs the trials (handing them to the other ranks too), and keeps trials.jsonl,
 * started.jsonl, best.json and pareto.csv up to date; prints the stats block and a progress line per
 * trial and a summary at the end. threads = OpenMP threads per rank. */
tq_status tq_search_run(const tq_search_comm *c, const tq_search_settings *s, const char *out,
                        int resume, int threads, FILE *log);
/* Ranks > 0: receive the settings from rank 0 and evaluate the trials it hands out until it says
 * stop. Returns TQ_OK, or an error when the search could not start. */
tq_status tq_search_worker(const tq_search_comm *c);
/* Rank 0 gave up before tq_search_run (bad arguments): tells the other ranks to exit. */
void tq_search_abort_workers(const tq_search_comm *c);

#endif
