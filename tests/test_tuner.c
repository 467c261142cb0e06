/* Tuner tests: API contracts (validation, no repeats, exhaustion, pending, abandon), determinism
 * (same seed → same sequence; journal replay → same next suggestion), the GP's linear algebra, and a
 * synthetic mixed-precision objective with a known optimum on which Bayesian optimisation must beat
 * random search. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "search/tuner_internal.h"
#include "tinyq/tuner.h"
#include "tq_test.h"

#define MAXD 128

/* ---- synthetic objective ------------------------------------------------------------------------
 * NDIM layers × 3 kernel choices (4, 8, 16 bits). Layer d has w[d] parameters (units) and sensitivity
 * s[d]; a few layers are very sensitive. metric = 0.9·exp(-Σ s_d·e(b_d)) with e(4) = 1, e(8) = 0.1,
 * e(16) = 0 (smooth, saturating in bits); size T = A + Σ w_d·b_d, reference R = A + 16·Σ w_d;
 * score = metric·(1 + 0.05·log2(R/T)) — the forgiving factor with delta = 5 %, rate = 2. */
#define SYN_D 20
static const int SYN_BITS[3] = {4, 8, 16};
static const double SYN_E[3] = {1.0, 0.1, 0.0};
typedef struct {
  int D;
  int w[MAXD];
  double s[MAXD];
  int A;
} synth;

static void synth_init(synth *p, int D) {
  p->D = D;
  int sum = 0;
  for (int d = 0; d < D; d++) {
    p->w[d] = 1 + (d * 5 + 3) % 8;
    p->s[d] = 0.0005 + 0.001 * ((d * 7 + 1) % 9); /* 0.0005 .. 0.0085: comparable to the size gain */
    if (d % 6 == 1) p->s[d] = 0.15 + 0.05 * (d % 4); /* the sensitive layers: 4 bits costs 14-26 % */
    sum += p->w[d];
  }
  p->A = sum;
}

static double synth_score(const synth *p, const int *c) {
  double S = 0;
  int T = p->A, R = p->A;
  for (int d = 0; d < p->D; d++) {
    S += p->s[d] * SYN_E[c[d]];
    T += p->w[d] * SYN_BITS[c[d]];
    R += p->w[d] * 16;
  }
  return 0.9 * exp(-S) * (1.0 + 0.05 * log2((double)R / T));
}

/* Exact optimum: for a fixed size T the score is maximal where S is minimal, so a knapsack DP over
 * sizes (min S for every reachable T) followed by a scan over T gives the global maximum. */
static double synth_optimum(const synth *p) {
  int tmax = 0, R = p->A;
  for (int d = 0; d < p->D; d++) tmax += p->w[d] * 16, R += p->w[d] * 16;
  double *cur = malloc(sizeof(double) * (size_t)(tmax + 1)), *nxt = malloc(sizeof(double) * (size_t)(tmax + 1));
  for (int t = 0; t <= tmax; t++) cur[t] = INFINITY;
  cur[0] = 0;
  for (int d = 0; d < p->D; d++) {
    for (int t = 0; t <= tmax; t++) nxt[t] = INFINITY;
    for (int t = 0; t <= tmax; t++) {
      if (!isfinite(cur[t])) continue;
      for (int k = 0; k < 3; k++) {
        int t2 = t + p->w[d] * SYN_BITS[k];
        double s2 = cur[t] + p->s[d] * SYN_E[k];
        if (t2 <= tmax && s2 < nxt[t2]) nxt[t2] = s2;
      }
    }
    double *tmp = cur;
    cur = nxt;
    nxt = tmp;
  }
  double best = -INFINITY;
  for (int t = 0; t <= tmax; t++)
    if (isfinite(cur[t])) {
      double v = 0.9 * exp(-cur[t]) * (1.0 + 0.05 * log2((double)R / (p->A + t)));
      if (v > best) best = v;
    }
  free(cur);
  free(nxt);
  return best;
}

static double synth_bruteforce(const synth *p) {
  int c[MAXD] = {0};
  double best = -INFINITY;
  for (;;) {
    double v = synth_score(p, c);
    if (v > best) best = v;
    int d = 0;
    while (d < p->D && ++c[d] == 3) c[d++] = 0;
    if (d == p->D) break;
  }
  return best;
}

/* A generic smooth objective for the contract tests. */
static double toy_score(const int *c, int D) {
  double s = 0;
  for (int d = 0; d < D; d++) s += (d % 3 == 0 ? 1.0 : 0.3) * c[d] - 0.05 * c[d] * c[d] * (d % 2);
  return s;
}

static int same(const int *a, const int *b, int D) { return memcmp(a, b, sizeof(int) * (size_t)D) == 0; }

static tq_tuner *make(tq_tuner_kind kind, int D, int count, uint64_t seed) {
  int counts[MAXD];
  for (int d = 0; d < D; d++) counts[d] = count;
  tq_tuner *t = NULL;
  tq_status st = tq_tuner_create(&t, kind, D, counts, NULL, seed);
  CHECK(st == TQ_OK);
  return t;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_names_and_validation(void) {
  tq_tuner_kind k;
  CHECK(tq_tuner_parse_kind("bayesian", &k) == TQ_OK && k == TQ_TUNER_BAYESIAN);
  CHECK(tq_tuner_parse_kind("Random", &k) == TQ_OK && k == TQ_TUNER_RANDOM);
  CHECK(tq_tuner_parse_kind("grid", &k) == TQ_ERR_ARG);
  CHECK(strstr(tq_last_error(), "grid") != NULL);
  CHECK(tq_tuner_parse_kind("bayes", &k) == TQ_ERR_ARG);
  CHECK(strstr(tq_tuner_describe(TQ_TUNER_BAYESIAN), "Gaussian process") != NULL);
  CHECK(strstr(tq_tuner_describe(TQ_TUNER_RANDOM), "random") != NULL);
  CHECK(strcmp(tq_tuner_kind_name(TQ_TUNER_BAYESIAN), "bayesian") == 0);

  tq_tuner *t = NULL;
  int counts[3] = {3, 0, 2};
  CHECK(tq_tuner_create(&t, TQ_TUNER_BAYESIAN, 3, counts, NULL, 1) == TQ_ERR_ARG && t == NULL);
  CHECK(tq_tuner_create(&t, TQ_TUNER_BAYESIAN, 0, counts, NULL, 1) == TQ_ERR_ARG);
  CHECK(tq_tuner_create(&t, (tq_tuner_kind)7, 1, counts, NULL, 1) == TQ_ERR_ARG);
  counts[1] = 3;
  float v0[3] = {4, 8, 16}, v2[2] = {16, 31};
  const float *vals[3] = {v0, NULL, v2};
  CHECK(tq_tuner_create(&t, TQ_TUNER_BAYESIAN, 3, counts, vals, 1) == TQ_OK);
  /* positions: log2 of bits for dims with values, rank otherwise */
  CHECK_NEAR(t->pos[0 * t->maxcount + 1], 0.5, 1e-12);
  CHECK_NEAR(t->pos[1 * t->maxcount + 1], 0.5, 1e-12);
  CHECK_NEAR(t->pos[2 * t->maxcount + 1], 1.0, 1e-12);
  int bad[3] = {0, 3, 0}, ok[3] = {2, 2, 1};
  CHECK(tq_tuner_observe(t, bad, 1.0) == TQ_ERR_ARG);
  CHECK(tq_tuner_observe(t, ok, NAN) == TQ_ERR_ARG);
  CHECK(tq_tuner_observe(t, ok, INFINITY) == TQ_ERR_ARG);
  CHECK_EQ_INT(tq_tuner_num_observed(t), 0);
  CHECK_EQ_INT(tq_tuner_best(t, NULL, NULL), 0);
  CHECK(tq_tuner_observe(t, ok, 0.5) == TQ_OK);
  int ok2[3] = {1, 0, 0}, b[3];
  double bs;
  CHECK(tq_tuner_observe(t, ok2, 0.7) == TQ_OK);
  CHECK(tq_tuner_observe(t, ok, 0.6) == TQ_OK); /* repeat observation is kept */
  CHECK_EQ_INT(tq_tuner_num_observed(t), 3);
  CHECK_EQ_INT(tq_tuner_best(t, b, &bs), 1);
  CHECK(same(b, ok2, 3));
  CHECK_NEAR(bs, 0.7, 0);
  tq_tuner_free(t);
}

static void test_linalg(void) {
  enum { N = 7 };
  double A[N * N], L[N * N], inv[N * N], work[N * N];
  /* SPD: B Bᵀ + I with a fixed B */
  double B[N * N];
  for (int i = 0; i < N * N; i++) B[i] = sin(1.0 + 3.0 * i);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = i == j ? 1.0 : 0.0;
      for (int k = 0; k < N; k++) s += B[i * N + k] * B[j * N + k];
      A[i * N + j] = s;
    }
  memcpy(L, A, sizeof(A));
  CHECK_EQ_INT(tq_chol(L, N), 0);
  double maxerr = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += L[i * N + k] * L[j * N + k];
      maxerr = fmax(maxerr, fabs(s - A[i * N + j]));
      if (j > i) CHECK(L[i * N + j] == 0.0);
    }
  CHECK_NEAR(maxerr, 0, 1e-12);
  tq_chol_inverse(L, N, inv, work);
  maxerr = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += inv[i * N + k] * A[k * N + j];
      maxerr = fmax(maxerr, fabs(s - (i == j)));
    }
  CHECK_NEAR(maxerr, 0, 1e-10);
  /* solve A x = b */
  double b[N], x[N];
  for (int i = 0; i < N; i++) b[i] = x[i] = i - 2.5;
  tq_chol_forward(L, N, x);
  tq_chol_backward(L, N, x);
  maxerr = 0;
  for (int i = 0; i < N; i++) {
    double s = 0;
    for (int k = 0; k < N; k++) s += A[i * N + k] * x[k];
    maxerr = fmax(maxerr, fabs(s - b[i]));
  }
  CHECK_NEAR(maxerr, 0, 1e-11);
  /* log det against the product of the Cholesky pivots computed by hand for a 2×2 */
  double A2[4] = {4, 2, 2, 3};
  CHECK_EQ_INT(tq_chol(A2, 2), 0);
  CHECK_NEAR(A2[0], 2.0, 1e-15);
  CHECK_NEAR(A2[2], 1.0, 1e-15);
  CHECK_NEAR(A2[3], sqrt(2.0), 1e-15);
  CHECK_NEAR(tq_chol_logdet(A2, 2), log(8.0), 1e-14);
  double notpd[4] = {1, 2, 2, 1};
  CHECK_EQ_INT(tq_chol(notpd, 2), -1);
  /* the hyperparameter gradient (lengthscales, noise, additive weight) against finite differences */
  double g1 = tq_bayes_gradient_check(25, 5, 1), g2 = tq_bayes_gradient_check(40, 12, 2);
  printf("GP log-posterior gradient vs finite differences: max relative error %.2e, %.2e\n", g1, g2);
  CHECK_NEAR(g1, 0, 1e-5);
  CHECK_NEAR(g2, 0, 1e-5);
}

/* Sequential run: n trials on toy_score; returns the suggestions in seq (n × D). */
static void run_seq(tq_tuner *t, int D, int n, int *seq) {
  for (int i = 0; i < n; i++) {
    int *c = seq + (size_t)i * D;
    CHECK(tq_tuner_suggest(t, c) == TQ_OK);
    CHECK(tq_tuner_observe(t, c, toy_score(c, D)) == TQ_OK);
  }
}

static void test_reproducible(tq_tuner_kind kind) {
  enum { D = 30, N = 30 };
  int *a = calloc((size_t)N * D, sizeof(int)), *b = calloc((size_t)N * D, sizeof(int)), *c = calloc((size_t)N * D, sizeof(int));
  tq_tuner *t1 = make(kind, D, 3, 42), *t2 = make(kind, D, 3, 42), *t3 = make(kind, D, 3, 43);
  run_seq(t1, D, N, a);
  run_seq(t2, D, N, b);
  run_seq(t3, D, N, c);
  CHECK(memcmp(a, b, sizeof(int) * N * D) == 0);
  CHECK(memcmp(a, c, sizeof(int) * N * D) != 0);
  /* no repeats */
  int dups = 0;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < i; j++) dups += same(a + i * D, a + j * D, D);
  CHECK_EQ_INT(dups, 0);
  if (kind == TQ_TUNER_BAYESIAN) {
    tq_tuner_info info;
    tq_tuner_last_info(t1, &info);
    CHECK_EQ_INT(info.used_gp, 1);
    CHECK_EQ_INT(info.gp_points, N - 1);
    CHECK(info.candidates > 1000);
    CHECK(tq_tuner_lengthscales(t1) != NULL);
    /* toy_score depends on every dimension; dims 0,3,6.. (weight 1) matter more than the others */
    const double *ls = tq_tuner_lengthscales(t1);
    double strong = 0, weak = 0;
    for (int d = 0; d < D; d++) {
      if (d % 3 == 0) strong += log(ls[d]) / (D / 3);
      else weak += log(ls[d]) / (D - D / 3);
    }
    printf("toy lengthscales: mean log ℓ strong dims %.3f, weak dims %.3f; noise %.2g\n", strong, weak, info.noise);
    CHECK(strong < weak);
  }
  tq_tuner_free(t1);
  tq_tuner_free(t2);
  tq_tuner_free(t3);
  free(a);
  free(b);
  free(c);
}

/* A small space (2·3·2 = 12 configurations) is exhausted without repeats, abandoned configurations are
 * never proposed again, and exhaustion is reported as an error. */
static void test_exhaustion(tq_tuner_kind kind) {
  int counts[3] = {2, 3, 2};
  tq_tuner *t = NULL;
  CHECK(tq_tuner_create(&t, kind, 3, counts, NULL, 5) == TQ_OK);
  tq_tuner_set_initial_points(t, 3);
  int seen[12] = {0}, c[3];
  CHECK(tq_tuner_suggest(t, c) == TQ_OK);
  int abandoned = c[0] + 2 * (c[1] + 3 * c[2]);
  tq_tuner_forget_pending(t, c);
  CHECK_EQ_INT(tq_tuner_num_pending(t), 0);
  seen[abandoned] = 1;
  for (int i = 0; i < 11; i++) {
    CHECK(!tq_tuner_exhausted(t));
    CHECK(tq_tuner_suggest(t, c) == TQ_OK);
    int idx = c[0] + 2 * (c[1] + 3 * c[2]);
    CHECK(idx != abandoned);
    CHECK_EQ_INT(seen[idx], 0);
    seen[idx] = 1;
    CHECK(tq_tuner_observe(t, c, c[0] - 0.3 * c[1] + 0.1 * c[2]) == TQ_OK);
  }
  CHECK(tq_tuner_exhausted(t));
  int before[3] = {c[0], c[1], c[2]};
  CHECK(tq_tuner_suggest(t, c) == TQ_ERR_UNSUPPORTED);
  CHECK(strstr(tq_last_error(), "exhausted") != NULL);
  CHECK(same(c, before, 3));
  tq_tuner_free(t);
}

/* k outstanding suggestions are distinct, differ from every observation, and the Bayesian tuner puts
 * them into the GP as fantasies. */
static void test_pending(tq_tuner_kind kind) {
  enum { D = 20, N0 = 15, K = 8 };
  tq_tuner *t = make(kind, D, 3, 9);
  int hist[N0 * D], out[K * D];
  run_seq(t, D, N0, hist);
  for (int i = 0; i < K; i++) {
    CHECK(tq_tuner_suggest(t, out + i * D) == TQ_OK);
    CHECK_EQ_INT(tq_tuner_num_pending(t), i + 1);
    if (kind == TQ_TUNER_BAYESIAN) {
      tq_tuner_info info;
      tq_tuner_last_info(t, &info);
      CHECK_EQ_INT(info.used_gp, 1);
      CHECK_EQ_INT(info.pending_points, i);
    }
  }
  int dups = 0;
  for (int i = 0; i < K; i++) {
    for (int j = 0; j < i; j++) dups += same(out + i * D, out + j * D, D);
    for (int j = 0; j < N0; j++) dups += same(out + i * D, hist + j * D, D);
  }
  CHECK_EQ_INT(dups, 0);
  /* Finishing them in another order clears the pending list. */
  for (int i = K - 1; i >= 0; i--) CHECK(tq_tuner_observe(t, out + i * D, toy_score(out + i * D, D)) == TQ_OK);
  CHECK_EQ_INT(tq_tuner_num_pending(t), 0);
  CHECK_EQ_INT(tq_tuner_num_observed(t), N0 + K);
  tq_tuner_free(t);
}

/* A run with parallel workers (suggestions outstanding, finished out of order, one failure) is
 * interrupted; a new tuner fed the journal (observations in order, the failure, the trials still running)
 * makes the same next suggestion as the uninterrupted tuner. */
static void test_replay(tq_tuner_kind kind) {
  enum { D = 25, W = 3, ROUNDS = 12 };
  tq_tuner *t = make(kind, D, 3, 2024);
  int jc[200][D], jkind[200]; /* journal: 0 = observed, 1 = failed */
  double js[200];
  int nj = 0;
  int run[W][D];
  for (int w = 0; w < W; w++) CHECK(tq_tuner_suggest(t, run[w]) == TQ_OK);
  for (int r = 0; r < ROUNDS; r++) {
    int w = (r * 2 + 1) % W; /* a worker finishes */
    memcpy(jc[nj], run[w], sizeof(run[w]));
    if (r == 5) {
      tq_tuner_forget_pending(t, run[w]);
      jkind[nj] = 1;
      js[nj++] = 0;
    } else {
      double s = toy_score(run[w], D);
      CHECK(tq_tuner_observe(t, run[w], s) == TQ_OK);
      jkind[nj] = 0;
      js[nj++] = s;
    }
    CHECK(tq_tuner_suggest(t, run[w]) == TQ_OK); /* and takes a new trial */
  }
  /* interrupted here: W trials are running; the pending order is the order they were started */
  int pend[W][D];
  CHECK_EQ_INT(tq_tuner_num_pending(t), W);
  for (int i = 0; i < W; i++) memcpy(pend[i], t->cfg_choice + (size_t)t->pending[i] * D, sizeof(pend[i]));
  int next_a[D], next_b[D];
  CHECK(tq_tuner_suggest(t, next_a) == TQ_OK);

  tq_tuner *u = make(kind, D, 3, 2024);
  for (int i = 0; i < nj; i++) {
    if (jkind[i]) tq_tuner_forget_pending(u, jc[i]);
    else CHECK(tq_tuner_observe(u, jc[i], js[i]) == TQ_OK);
  }
  for (int i = 0; i < W; i++) CHECK(tq_tuner_add_pending(u, pend[i]) == TQ_OK);
  CHECK(tq_tuner_suggest(u, next_b) == TQ_OK);
  CHECK(same(next_a, next_b, D));
  if (kind == TQ_TUNER_BAYESIAN) {
    tq_tuner_info ia, ib;
    tq_tuner_last_info(t, &ia);
    tq_tuner_last_info(u, &ib);
    CHECK_EQ_INT(ia.used_gp, 1);
    CHECK(ia.log_ei == ib.log_ei);
  }
  /* The failed configuration is never proposed again. */
  int failed[D];
  for (int i = 0; i < nj; i++)
    if (jkind[i]) memcpy(failed, jc[i], sizeof(failed));
  CHECK(!tq_tuner_is_free(u, failed));

  /* Sequential replay too: uninterrupted run vs observations replayed. */
  tq_tuner *s1 = make(kind, D, 3, 77), *s2 = make(kind, D, 3, 77);
  int hist[20 * D];
  run_seq(s1, D, 20, hist);
  for (int i = 0; i < 20; i++) CHECK(tq_tuner_observe(s2, hist + i * D, toy_score(hist + i * D, D)) == TQ_OK);
  CHECK(tq_tuner_suggest(s1, next_a) == TQ_OK);
  CHECK(tq_tuner_suggest(s2, next_b) == TQ_OK);
  CHECK(same(next_a, next_b, D));
  tq_tuner_free(t);
  tq_tuner_free(u);
  tq_tuner_free(s1);
  tq_tuner_free(s2);
}

/* ---- synthetic benchmark ---------------------------------------------------------------------- */

typedef struct {
  int evals_to_target; /* budget + 1 when not reached */
  double best;         /* best true score after the budget */
  double best_early;   /* best after the first EARLY evaluations */
} run_result;

#define EARLY 40

/* workers > 1: that many trials run at once; each finished trial (the oldest) is observed and a new one
 * suggested while the others are still pending. */
static run_result bench_run(tq_tuner_kind kind, const synth *p, uint64_t seed, int budget, double target,
                            int workers) {
  int counts[MAXD];
  float bits[3] = {4, 8, 16};
  const float *vals[MAXD];
  for (int d = 0; d < p->D; d++) counts[d] = 3, vals[d] = bits;
  tq_tuner *t = NULL;
  CHECK(tq_tuner_create(&t, kind, p->D, counts, vals, seed) == TQ_OK);
  run_result r = {budget + 1, -INFINITY, -INFINITY};
  int run[8][MAXD], c[MAXD];
  for (int w = 0; w < workers - 1; w++) CHECK(tq_tuner_suggest(t, run[w]) == TQ_OK);
  for (int i = 1; i <= budget; i++) {
    if (workers > 1) {
      CHECK(tq_tuner_suggest(t, run[workers - 1]) == TQ_OK);
      CHECK_EQ_INT(tq_tuner_num_pending(t), workers);
      memcpy(c, run[0], sizeof(c));
      memmove(run[0], run[1], sizeof(run[0]) * (size_t)(workers - 1));
    } else {
      CHECK(tq_tuner_suggest(t, c) == TQ_OK);
    }
    double s = synth_score(p, c);
    CHECK(tq_tuner_observe(t, c, s) == TQ_OK);
    if (s > r.best) r.best = s;
    if (i <= EARLY) r.best_early = r.best;
    if (s >= target && r.evals_to_target > budget) r.evals_to_target = i;
  }
  tq_tuner_free(t);
  return r;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void test_synthetic(void) {
  synth p;
  /* the DP optimum agrees with brute force on a 10-dimension instance */
  synth_init(&p, 10);
  CHECK_NEAR(synth_optimum(&p), synth_bruteforce(&p), 1e-12);
  synth_init(&p, SYN_D);
  double opt = synth_optimum(&p);
  double target = opt * (1.0 - 0.0025);
  /* sanity: all-16 and all-4 are far from the optimum */
  int c[MAXD];
  for (int d = 0; d < SYN_D; d++) c[d] = 2;
  double all16 = synth_score(&p, c);
  for (int d = 0; d < SYN_D; d++) c[d] = 0;
  double all4 = synth_score(&p, c);
  printf("synthetic: %d dims x {4,8,16} bits, 3^%d configurations; optimum %.6f, target %.6f (-0.25%%), "
         "all-16 %.6f, all-4 %.6f\n", SYN_D, SYN_D, opt, target, all16, all4);
  CHECK(all16 < target && all4 < target);

#if defined(__SANITIZE_ADDRESS__)
  enum { SEEDS = 2, BUDGET = 100 }; /* the sanitizer pass checks memory, not the statistics: keep it short */
#else
  enum { SEEDS = 5, BUDGET = 100 };
#endif
  int eb[SEEDS], er[SEEDS], bayes_reached = 0, bayes_ge = 0;
  double sum_b = 0, sum_r = 0, sum_be = 0, sum_re = 0;
  for (int s = 0; s < SEEDS; s++) {
    double t0 = tq_now_seconds();
    run_result b = bench_run(TQ_TUNER_BAYESIAN, &p, 1000 + s, BUDGET, target, 1);
    double t1 = tq_now_seconds();
    run_result r = bench_run(TQ_TUNER_RANDOM, &p, 1000 + s, BUDGET, target, 1);
    eb[s] = b.evals_to_target;
    er[s] = r.evals_to_target;
    bayes_reached += b.evals_to_target <= BUDGET;
    bayes_ge += b.best >= r.best;
    sum_b += b.best, sum_r += r.best, sum_be += b.best_early, sum_re += r.best_early;
    char bs[16], rs[16];
    snprintf(bs, sizeof bs, b.evals_to_target <= BUDGET ? "%d" : ">%d", b.evals_to_target <= BUDGET ? b.evals_to_target : BUDGET);
    snprintf(rs, sizeof rs, r.evals_to_target <= BUDGET ? "%d" : ">%d", r.evals_to_target <= BUDGET ? r.evals_to_target : BUDGET);
    printf("synthetic seed %d: evaluations to target: bayesian %s, random %s | best after %d: bayesian %.6f "
           "(%.3f%% of opt), random %.6f (%.3f%%) | after %d: %.6f vs %.6f | bayesian %.1f s\n",
           1000 + s, bs, rs, BUDGET, b.best, 100 * b.best / opt, r.best, 100 * r.best / opt, EARLY, b.best_early,
           r.best_early, t1 - t0);
  }
  qsort(eb, SEEDS, sizeof(int), cmp_int);
  qsort(er, SEEDS, sizeof(int), cmp_int);
  printf("synthetic: median evaluations to target over %d seeds: bayesian %d, random %s%d; mean best after %d: "
         "bayesian %.6f, random %.6f\n", SEEDS, eb[SEEDS / 2], er[SEEDS / 2] > BUDGET ? ">" : "",
         er[SEEDS / 2] > BUDGET ? BUDGET : er[SEEDS / 2], BUDGET, sum_b / SEEDS, sum_r / SEEDS);
  /* Bayesian reaches within 0.25% of the optimum in (nearly) every seed, clearly faster than random
   * (which, sampling 150 of 3.5e9 configurations, essentially never does), and is ahead at the end for
   * every seed. A GP that had stopped learning (random suggestions) fails all of these. */
  CHECK(bayes_reached >= SEEDS - 1);
  CHECK(eb[SEEDS / 2] < er[SEEDS / 2]);
  CHECK(eb[SEEDS / 2] <= BUDGET * 2 / 3);
  CHECK_EQ_INT(bayes_ge, SEEDS);
  CHECK(sum_b > sum_r);
  CHECK(sum_be >= sum_re - 0.002 * SEEDS); /* not behind early on (the first points are random for both) */

  /* Four parallel workers (three suggestions always pending, kriging believer): still converges. */
  run_result pw = bench_run(TQ_TUNER_BAYESIAN, &p, 1000, BUDGET, target, 4);
  printf("synthetic seed 1000, 4 parallel workers: bayesian reached target at evaluation %d, best %.6f (%.3f%%)\n",
         pw.evals_to_target, pw.best, 100 * pw.best / opt);
  CHECK(pw.evals_to_target <= BUDGET);
}

/* Cost of one suggestion with 60 dimensions at 60 and 1000 observations, and 100 dimensions at 1000
 * (printed for the README). */
static void test_timing(void) {
  const int cases[3][2] = {{60, 60}, {60, 1000}, {100, 1000}};
  for (int ci = 0; ci < 3; ci++) {
    int D = cases[ci][0], nobs = cases[ci][1];
#if defined(__SANITIZE_ADDRESS__)
    if (nobs > 100) continue; /* too slow to be meaningful under the sanitizers */
#endif
    tq_tuner *t = make(TQ_TUNER_BAYESIAN, D, 3, 3);
    tq_rng rng;
    tq_rng_seed(&rng, 99);
    int c[MAXD];
    for (int i = 0; i < nobs; i++) {
      for (int d = 0; d < D; d++) c[d] = (int)tq_rng_below(&rng, 3);
      double s = toy_score(c, D) + 0.1 * tq_rng_normal(&rng);
      CHECK(tq_tuner_observe(t, c, s) == TQ_OK);
    }
    double t0 = tq_now_seconds();
    CHECK(tq_tuner_suggest(t, c) == TQ_OK);
    double dt = tq_now_seconds() - t0;
    tq_tuner_info info;
    tq_tuner_last_info(t, &info);
    CHECK_EQ_INT(info.used_gp, 1);
    CHECK_EQ_INT(info.gp_points, nobs < 256 ? nobs : 256);
    CHECK(tq_tuner_is_free(t, c) == 0); /* it is pending now */
    printf("timing: %d dims, %d observations: suggest %.3f s (GP on %d points, %d acquisition evaluations, "
           "noise %.3g, additive weight %.2f)\n", D, nobs, dt, info.gp_points, info.candidates, info.noise,
           info.additive_weight);
    CHECK(dt < (nobs < 100 ? 5.0 : 30.0)); /* generous: shared machines; the README quotes the printed figure */
    tq_tuner_free(t);
  }
}

/* Degenerate inputs: constant scores, dimensions with a single option, a one-configuration space. */
static void test_degenerate(void) {
  int counts[6] = {3, 1, 2, 1, 3, 4};
  tq_tuner *t = NULL;
  CHECK(tq_tuner_create(&t, TQ_TUNER_BAYESIAN, 6, counts, NULL, 11) == TQ_OK);
  int seen[24][6], c[6];
  for (int i = 0; i < 24; i++) {
    CHECK(tq_tuner_suggest(t, c) == TQ_OK);
    CHECK(c[1] == 0 && c[3] == 0);
    for (int j = 0; j < i; j++) CHECK(!same(seen[j], c, 6));
    memcpy(seen[i], c, sizeof(c));
    CHECK(tq_tuner_observe(t, c, 0.5) == TQ_OK); /* constant objective */
  }
  tq_tuner_info info;
  tq_tuner_last_info(t, &info);
  CHECK_EQ_INT(info.used_gp, 1);
  const double *ls = tq_tuner_lengthscales(t);
  CHECK(ls != NULL && isinf(ls[1]) && isfinite(ls[0]));
  tq_tuner_free(t);

  int one[2] = {1, 1};
  CHECK(tq_tuner_create(&t, TQ_TUNER_BAYESIAN, 2, one, NULL, 11) == TQ_OK);
  CHECK(tq_tuner_suggest(t, c) == TQ_OK && c[0] == 0 && c[1] == 0);
  CHECK(tq_tuner_exhausted(t));
  CHECK(tq_tuner_suggest(t, c) == TQ_ERR_UNSUPPORTED);
  tq_tuner_forget_pending(t, c); /* abandoned: still exhausted */
  CHECK(tq_tuner_exhausted(t));
  CHECK(tq_tuner_add_pending(t, c) == TQ_OK); /* explicit re-run of an abandoned configuration is allowed */
  CHECK(tq_tuner_observe(t, c, 1.0) == TQ_OK);
  CHECK_EQ_INT(tq_tuner_num_pending(t), 0);
  tq_tuner_free(t);
}

/* The exported sensitivity: on an objective of one dimension only, that dimension gets the shortest
 * lengthscale; sensitivity.csv holds the tuner's exact values; a refit changes no suggestion. */
static void test_sensitivity(void) {
  enum { D = 6, N = 20, HOT = 2 };
  static const double LEVEL[3] = {0.2, 0.8, 0.9}; /* 4, 8, 16 bits of the one layer that matters */
  tq_tuner *t = make(TQ_TUNER_BAYESIAN, D, 3, 7), *twin = make(TQ_TUNER_BAYESIAN, D, 3, 7);
  CHECK_EQ_INT(tq_tuner_refit(t), 0); /* nothing observed: no fit */
  int c[D], c2[D];
  for (int i = 0; i < N; i++) {
    CHECK(tq_tuner_suggest(t, c) == TQ_OK);
    CHECK(tq_tuner_observe(t, c, LEVEL[c[HOT]]) == TQ_OK);
    CHECK(tq_tuner_add_pending(twin, c) == TQ_OK);
    CHECK(tq_tuner_observe(twin, c, LEVEL[c[HOT]]) == TQ_OK);
  }
  CHECK_EQ_INT(tq_tuner_refit(t), 1);
  const double *ls = tq_tuner_lengthscales(t);
  int shortest = 0;
  for (int d = 1; d < D; d++)
    if (ls[d] < ls[shortest]) shortest = d;
  const double *eff = t->main_effects;
  printf("one-dimension objective (dimension %d matters; score 0.2/0.8/0.9 at its 3 options): lengthscale,"
         " main effect:", HOT);
  for (int d = 0; d < D; d++) printf(" %.3g,%.3g", ls[d], eff[d]);
  printf("; ARD weight %.3f\n", 1 - t->fit_additive_weight);
  CHECK_EQ_INT(shortest, HOT);
  CHECK(eff[HOT] > 0.5 && eff[HOT] < 0.8); /* the true range is 0.7 */
  for (int d = 0; d < D; d++)
    if (d != HOT) CHECK(eff[d] < 0.05 * eff[HOT]);
  /* the refit drew no random numbers and changed no state: the twin suggests the same */
  CHECK(tq_tuner_suggest(t, c) == TQ_OK && tq_tuner_suggest(twin, c2) == TQ_OK);
  CHECK(same(c, c2, D));
  CHECK_EQ_INT(tq_tuner_refit(t), 1); /* pending suggestions stay out of the fit */
  double keep[D], keep_eff[D];
  memcpy(keep, tq_tuner_lengthscales(t), sizeof keep);
  memcpy(keep_eff, t->main_effects, sizeof keep_eff);
  /* the file: a row per dimension with exactly these values */
  const char *names[D] = {"conv2d/kernel", "conv2d/bias", "act,ivation", "d3", "d4", "d5"};
  const char *groups[D] = {"kernel", "bias", "activation", "kernel", "bias", "activation"};
  char path[] = "/tmp/tq_sensitivity_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(tq_tuner_write_sensitivity(t, path, names, groups) == TQ_OK);
  FILE *f = fopen(path, "r");
  char line[512];
  CHECK(f && fgets(line, sizeof line, f));
  CHECK(strcmp(line, "dim,name,group,options,lengthscale,sensitivity,main_effect,points,ard_weight\n") == 0);
  for (int d = 0; d < D && f; d++) {
    char name[64], group[64];
    int dim = -1, options = 0, points = 0;
    double l = 0, sens = 0, effect = 0, ard = 0;
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK_EQ_INT(sscanf(line, "%d,%63[^,],%63[^,],%d,%lf,%lf,%lf,%d,%lf", &dim, name, group, &options, &l, &sens,
                        &effect, &points, &ard), 9);
    CHECK_EQ_INT(dim, d);
    CHECK(strcmp(name, d == HOT ? "act;ivation" : names[d]) == 0); /* no comma inside a field */
    CHECK(strcmp(group, groups[d]) == 0);
    CHECK_EQ_INT(options, 3);
    CHECK(l == keep[d] && sens == 1.0 / keep[d] && effect == keep_eff[d]);
    CHECK_EQ_INT(points, N);
    CHECK(ard > 0 && ard < 1);
  }
  if (f) fclose(f);
  close(fd);
  unlink(path);
  tq_tuner *r = make(TQ_TUNER_RANDOM, D, 3, 7);
  CHECK(tq_tuner_write_sensitivity(r, path, names, groups) == TQ_ERR_ARG); /* no GP: nothing to write */
  tq_tuner_free(r);
  tq_tuner_free(t);
  tq_tuner_free(twin);
}

/* The random tuner under several ranks: its i-th suggestion does not depend on which earlier trials
 * have reported, in what order, or with what scores (cli_search_mpi's "same seed" runs depend on
 * it: trial 3 went to whichever rank finished first). */
static void test_random_order_free(void) {
  enum { D = 12 };
  int c[3][D], x[D], y[D], z[D];
  tq_tuner *a = make(TQ_TUNER_RANDOM, D, 3, 9), *b = make(TQ_TUNER_RANDOM, D, 3, 9), *p = make(TQ_TUNER_RANDOM, D, 3, 9);
  for (int i = 0; i < 3; i++) {
    CHECK(tq_tuner_suggest(a, c[i]) == TQ_OK);
    CHECK(tq_tuner_suggest(b, x) == TQ_OK && same(x, c[i], D));
    CHECK(tq_tuner_suggest(p, x) == TQ_OK);
  }
  CHECK(tq_tuner_observe(a, c[0], 0.1) == TQ_OK && tq_tuner_observe(a, c[1], 0.2) == TQ_OK); /* 1 then 2 */
  CHECK(tq_tuner_observe(b, c[1], 0.9) == TQ_OK);                                           /* 2 alone */
  CHECK(tq_tuner_suggest(a, x) == TQ_OK && tq_tuner_suggest(b, y) == TQ_OK && tq_tuner_suggest(p, z) == TQ_OK);
  CHECK(same(x, y, D) && same(x, z, D)); /* p: nothing reported yet */
  tq_tuner_free(a), tq_tuner_free(b), tq_tuner_free(p);
}

int main(void) {
  test_names_and_validation();
  test_random_order_free();
  test_linalg();
  for (int k = 0; k < 2; k++) {
    tq_tuner_kind kind = k ? TQ_TUNER_BAYESIAN : TQ_TUNER_RANDOM;
    test_reproducible(kind);
    test_exhaustion(kind);
    test_pending(kind);
    test_replay(kind);
  }
  test_degenerate();
  test_sensitivity();
  test_synthetic();
  test_timing();
  TEST_MAIN_END();
}
