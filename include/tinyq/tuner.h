/* tinyq tuner: proposes per-layer quantizer choices for the mixed-precision search (SPEC §5).
 *
 * The search space is a product of ndims discrete dimensions; dimension d has counts[d] options whose
 * index order is meaningful (ordinal: e.g. increasing bit-width). Two methods:
 *   TQ_TUNER_RANDOM    uniform random configurations, never repeating one already seen;
 *   TQ_TUNER_BAYESIAN  Gaussian-process Bayesian optimisation (additive + ARD Matern-5/2 kernel over
 *                      log-bit/rank encoded options, expected improvement, kriging believer for pending
 *                      trials); the method and its reasons are documented in src/search/bayes.c.
 *
 * Determinism: a suggestion is a pure function of (seed, the observations in order, the outstanding
 * suggestions in order, the set of abandoned configurations). Nothing else — in particular not how many
 * suggestions were made before — influences it. Hence:
 *   - two tuners with the same seed fed the same results propose the same sequence;
 *   - resuming from a journal = create with the same seed, replay tq_tuner_observe() (and
 *     tq_tuner_forget_pending() for failed trials, tq_tuner_add_pending() for trials still running)
 *     in the original order; the next suggestion is then identical to the uninterrupted run's.
 *     Scores must come back bit-identical: journal them with "%.17g" (or as hex floats), not rounded.
 *
 * Not thread-safe: one tuner is driven by one thread (the MPI driver's rank 0).
 */
#ifndef TINYQ_TUNER_H
#define TINYQ_TUNER_H

#include <stdint.h>

#include "tinyq/core.h"

typedef enum { TQ_TUNER_RANDOM = 0, TQ_TUNER_BAYESIAN = 1 } tq_tuner_kind;

typedef struct tq_tuner tq_tuner; /* opaque */

/* Limits accepted by tq_tuner_create. */
#define TQ_TUNER_MAX_DIMS 10000
#define TQ_TUNER_MAX_OPTIONS 65536

/* ndims >= 1 dimensions; counts[d] >= 1 options each. values may be NULL, and values[d] may be NULL:
 * otherwise values[d][k] is a numeric value of option k (e.g. its bits). The Bayesian kernel places the
 * options of a dimension on [0,1]: by log2(value) when all values of the dimension are positive and
 * strictly increasing (4,8,16 bits -> 0, 0.5, 1), otherwise by rank k/(counts[d]-1). The arrays are
 * copied. */
tq_status tq_tuner_create(tq_tuner **out, tq_tuner_kind kind, int ndims, const int *counts,
                          const float *const *values, uint64_t seed);
void tq_tuner_free(tq_tuner *t);

/* Number of purely random suggestions before the Gaussian process is used (Bayesian only; observed +
 * pending count toward it). Default max(5, min(20, ndims/2)). Set before the first suggestion;
 * changing it later changes later suggestions (it is part of the configuration, not of the history). */
tq_status tq_tuner_set_initial_points(tq_tuner *t, int n);

/* Proposes the next configuration, choice[d] in [0, counts[d]), and records it as pending.
 * Never returns a configuration that was observed, is pending or was abandoned, as long as another one
 * remains. When none remains, returns TQ_ERR_UNSUPPORTED ("search space exhausted") and leaves choice
 * unchanged; tq_tuner_exhausted() tells beforehand. Several suggestions may be outstanding at once
 * (parallel workers): pending configurations are excluded and, for the Bayesian method, enter the GP as
 * fantasies at the posterior mean (kriging believer), which removes the exploration bonus around them. */
tq_status tq_tuner_suggest(tq_tuner *t, int *choice);

/* Records a result (higher score = better; must be finite). If the configuration is pending, one pending
 * entry is cleared. A configuration that was never suggested may be observed too (journal replay,
 * a user-provided starting point); observing the same configuration twice keeps both results. */
tq_status tq_tuner_observe(tq_tuner *t, const int *choice, double score);

/* Declares a running trial that this tuner did not suggest itself (resume: trials started but not
 * finished before the interruption, in the order they were started). */
tq_status tq_tuner_add_pending(tq_tuner *t, const int *choice);

/* Abandons a configuration (failed trial, e.g. non-finite loss): clears one pending entry if there is one
 * and marks the configuration so that it is never suggested again (it can still be observed or added as
 * pending explicitly). Also valid for a configuration that is not pending (journal replay of a failure). */
void tq_tuner_forget_pending(tq_tuner *t, const int *choice);

/* Best observation so far (the first one on ties). Returns 1 and fills choice/score (either may be NULL),
 * or 0 when nothing was observed. */
int tq_tuner_best(const tq_tuner *t, int *choice, double *score);

int tq_tuner_ndims(const tq_tuner *t);
tq_tuner_kind tq_tuner_get_kind(const tq_tuner *t);
int tq_tuner_num_observed(const tq_tuner *t);
int tq_tuner_num_pending(const tq_tuner *t);
/* 1 when every configuration has been observed, is pending or was abandoned. */
int tq_tuner_exhausted(const tq_tuner *t);

/* What the last suggestion did (for logs; has no influence on later suggestions). */
typedef struct {
  int used_gp;            /* 0: random (initial phase or random tuner), 1: GP + expected improvement */
  int gp_points;          /* observations in the GP (at most 256: the best half + the most recent) */
  int pending_points;     /* pending fantasies added to the GP (at most 128, the most recent) */
  int candidates;         /* acquisition evaluations */
  double noise;           /* fitted noise variance τ, relative to the signal variance */
  double additive_weight; /* fitted weight of the additive kernel component, in (0,1) */
  double log_ei;          /* log expected improvement of the suggestion (standardised score units) */
  double pred_mean;       /* GP mean of the suggestion (standardised score units) */
  double pred_sd;         /* GP predictive standard deviation (same units) */
  double seconds;         /* wall time of the suggestion */
} tq_tuner_info;
void tq_tuner_last_info(const tq_tuner *t, tq_tuner_info *info);
/* Fitted ARD lengthscales of the last GP suggestion, one per dimension (encoded [0,1] units; small =
 * the score is sensitive to that dimension), or NULL if the GP has not been used yet. Valid until the next
 * suggestion or tq_tuner_free. */
const double *tq_tuner_lengthscales(const tq_tuner *t);
/* Fits the GP's hyperparameters on every observation without suggesting anything (the trial sequence
 * is unchanged), so that tq_tuner_lengthscales reflects them all (e.g. at the end of a search).
 * Bayesian tuner with at least 2 observations and the initial points observed: 1 when fitted, else 0;
 * -1 when out of memory (error recorded). */
int tq_tuner_refit(tq_tuner *t);
/* The per-dimension sensitivity of the last fit as CSV, written atomically to path:
 * dim,name,group,options,lengthscale,sensitivity,main_effect,points,ard_weight — one row per dimension
 * in order: sensitivity = 1/lengthscale of the ARD (interaction) component (0 for a dimension with one
 * option, whose lengthscale is inf); main_effect the additive component's range of the posterior mean
 * over the dimension's options, in score units (what the layer's choice alone does to the score);
 * points the observations fitted; ard_weight the ARD component's weight 1 - w_add. names/groups
 * (ndims each) label the rows. An error when there is no fit yet. */
tq_status tq_tuner_write_sensitivity(const tq_tuner *t, const char *path, const char *const *names,
                                     const char *const *groups);

/* One-line description of the method. */
const char *tq_tuner_describe(tq_tuner_kind kind);
/* "bayesian" | "random" (case-insensitive). */
tq_status tq_tuner_parse_kind(const char *s, tq_tuner_kind *out);
const char *tq_tuner_kind_name(tq_tuner_kind kind);

#endif
