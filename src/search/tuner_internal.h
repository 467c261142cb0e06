/* Internal to the tuner (src/search/tuner.c, bayes.c, tuner_linalg.c). Not a public header.
 *
 * Out of memory (the convention of src/search, see search_internal.h): the tuner allocates with
 * tq_alloc, which records how much and why; the first tuner function to see the failure puts its
 * name in front once (tq_fail_prefix: regrow, rehash, tq_tuner_create, tq_tuner_suggest for bayes.c),
 * and its callers pass the status (or -1) up unchanged. */
#ifndef TINYQ_TUNER_INTERNAL_H
#define TINYQ_TUNER_INTERNAL_H

#include <stdint.h>

#include "tinyq/core.h"
#include "tinyq/tuner.h"

/* Every distinct configuration the tuner has heard of is stored once in a registry (insert-only hash
 * table); observations and pending entries refer to it by index. */
typedef struct {
  uint64_t hash; /* content hash of the configuration (order-independent of registration) */
  int n_obs;     /* number of observations of it */
  int n_pending; /* outstanding suggestions of it */
  int abandoned; /* forgotten (failed) at least once: never suggested again */
} tq_tuner_cfg;

typedef struct {
  int cfg;      /* registry index */
  double score; /* as observed */
} tq_tuner_obs;

struct tq_tuner {
  tq_tuner_kind kind;
  int ndims;
  int *counts;    /* (ndims) */
  double *pos;    /* (ndims * maxcount): option k of dim d sits at pos[d*maxcount+k] in [0,1] */
  int maxcount;
  uint64_t seed;
  int n_initial;
  double log2_space; /* log2 of the number of configurations */
  double space;      /* number of configurations if <= 2^53, else 0 */

  /* registry */
  int *cfg_choice;     /* (cap_cfg * ndims) */
  tq_tuner_cfg *cfgs;  /* (cap_cfg) */
  int n_cfg, cap_cfg;
  int *table; /* open addressing: registry index or -1; size table_cap (power of two) */
  int table_cap;
  int n_blocked; /* distinct configurations that are observed, pending or abandoned */

  tq_tuner_obs *obs;
  int n_obs, cap_obs;
  int *pending; /* registry indices in the order they became pending */
  int n_pending, cap_pending;

  tq_tuner_info info;
  double *lengthscales; /* (ndims), valid when has_lengthscales */
  int has_lengthscales;
  double *main_effects; /* (ndims) the additive component's score range per dimension, same fit */
  int fit_points;             /* observations of the fit the lengthscales come from */
  double fit_additive_weight; /* its additive kernel weight w_add (the ARD component has 1 - w_add) */
  double fit_noise;           /* its noise ratio τ */
};

/* Hash of a configuration's content. */
uint64_t tq_tuner_hash_choice(const tq_tuner *t, const int *choice);
/* Registry index of choice, or -1. */
int tq_tuner_lookup(const tq_tuner *t, const int *choice, uint64_t h);
/* 1 if the configuration may be suggested (not observed, pending or abandoned). */
int tq_tuner_is_free(const tq_tuner *t, const int *choice);
/* Uniform random configuration that is free; returns 0 if none was found (space exhausted). */
int tq_tuner_random_free(const tq_tuner *t, tq_rng *rng, int *choice);
/* Enumerates configuration number idx (mixed radix, dim 0 fastest). */
void tq_tuner_unrank(const tq_tuner *t, uint64_t idx, int *choice);

/* Bayesian suggestion (bayes.c): fills choice with a free configuration; returns 0 if it found none
 * (the caller falls back to random), -1 on allocation failure (error recorded). */
int tq_bayes_suggest(tq_tuner *t, tq_rng *rng, int *choice);
/* The GP's hyperparameters fitted on the observations alone (no suggestion, no random numbers: the
 * trial sequence is unaffected), recorded as a suggestion records them. 1 when fitted, 0 when no GP
 * could be fitted, -1 on allocation failure (error recorded). */
int tq_bayes_fit(tq_tuner *t);
/* Test hook: largest relative error between the analytic gradient of the GP's log posterior (all
 * hyperparameters) and central finite differences, on random data with n points and D dimensions. */
double tq_bayes_gradient_check(int n, int D, uint64_t seed);

/* Dense linear algebra in double, row-major n×n (tuner_linalg.c). */
/* In-place Cholesky A = L·Lᵀ; L in the lower triangle (the strict upper triangle is zeroed).
 * Returns 0 on success, -1 if A is not numerically positive definite. */
int tq_chol(double *a, int n);
/* Solves L·x = b in place (L lower triangular from tq_chol). */
void tq_chol_forward(const double *l, int n, double *b);
/* Solves Lᵀ·x = b in place. */
void tq_chol_backward(const double *l, int n, double *b);
/* Inverse of A = L·Lᵀ into inv (n×n, full symmetric); work has n*n doubles. */
void tq_chol_inverse(const double *l, int n, double *inv, double *work);
/* log det A = 2 Σ log L_ii */
double tq_chol_logdet(const double *l, int n);
/* Dot product with four accumulators (fixed summation order: deterministic). */
double tq_dot(const double *a, const double *b, int n);

#endif
