/* Bayesian optimisation over per-layer quantizer choices (the method of AutoQKeras' search, SPEC §5).
 * See the comment block "Model" below for the method and the reasons for each choice. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp_fit.h"
#include "tuner_internal.h"

/* Model.
 * A Gaussian process on the standardised scores with a constant mean and covariance
 *     σ²·( w_add·k_add(x,x') + (1 - w_add)·k_ard(x,x') + τ·δ(x,x') )
 * over encoded inputs: option k of dimension d sits at pos[d][k] in [0,1], by log2 of its value when the
 * values are bit-widths (4, 8, 16 bits -> 0, .5, 1), by rank otherwise.
 *   k_add(x,x') = (1/D) Σ_d κ(|x_d - x'_d| / ℓ_a)  — an additive kernel, one 1-D Matérn-5/2 per dimension
 *                 with a fixed ℓ_a = 0.5 (adjacent bit-widths correlate 0.52, 4 vs 16 bits 0.14);
 *   k_ard(x,x')  = Matérn-5/2 of r = sqrt(Σ_d (x_d - x'_d)² / ℓ_d²) — ARD, one lengthscale per dimension.
 * Why this kernel:
 *   - the dimensions are quantizer choices ordered by bits and the score responds to bits monotonically
 *     and smoothly (accuracy and size both grow with bits). The ordinal encoding lets the GP carry what it
 *     learned about 4 vs 8 bits over to 8 vs 16 bits; a Hamming/overlap kernel treats 4 vs 16 like 4 vs 8
 *     and needs far more trials (with two options, e.g. bias 16/31 bits, both coincide);
 *   - to first order the score is additive over layers: each layer's bits cost some accuracy and save some
 *     size, and the forgiving factor is a log of a sum. The additive component captures these per-layer
 *     main effects with O(D) effective parameters, which is what makes 100 dimensions learnable from tens of
 *     trials; a single stationary kernel over 100 dimensions cannot resolve a 0.1 % per-layer effect once a
 *     few sensitive layers dominate the variance of the scores;
 *   - the ARD Matérn component models interactions (accuracy collapsing when several layers are
 *     aggressive at once) and, through its lengthscales, which layers are sensitive; Matérn-5/2 rather than
 *     a squared exponential because accuracy can fall steeply at the 4-bit end.
 * The mixing weight w_add, ℓ_d and τ are fitted; σ² is profiled out (σ² = yᵀC⁻¹y/n).
 *
 * Output scale: scores are standardised (mean 0, sd 1 over the GP's points). A Gaussian-copula (rank)
 * transform and a log transform were tried on the synthetic objective of tests/test_tuner.c (20 dims,
 * 6 seeds, evaluations to come within 0.25 % of the optimum): standardised 43-54 noise-free, 48-91 with
 * observation noise, 45-61 with collapsing layers (a sensitive layer at 4 bits costing 70-90 % of the
 * accuracy); copula 42-89, 55-never, 47-97; log 42-45, 44-91, 45-90 but stuck >0.15 % short with collapses.
 * Standardised is the most consistent, so it is used; the heavy lower tail of collapsed trials is handled
 * by the ARD component (without it, the collapse case stalls at 99.3 % of the optimum).
 *
 * Fit: see gp_fit.c.
 *
 * Cost cap. The GP uses at most GP_MAX_POINTS observations: the best half by score plus the most recent
 * ones (O(n³) fit, O(n²) per acquisition evaluation); all observations still count for "never repeat",
 * for the incumbent and for the seeds of the local search.
 *
 * Pending trials (parallel workers): each is added to the GP as a fantasy observation at its posterior
 * mean ("kriging believer", Ginsbourger et al. 2010). That leaves the mean unchanged but collapses the
 * variance around pending points, so expected improvement there and next to them drops; the pending
 * configurations themselves are excluded outright.
 *
 * Acquisition: expected improvement over the best observed (standardised) score with ξ = 0.01, compared in log
 * space (stable far in the tail, so that it still ranks candidates when all EI underflow). The space is
 * far too large to enumerate (3^100), so EI is maximised over: all single-dimension mutations and a few
 * multi-dimension mutations of the best observed configurations, N_RANDOM_CAND uniform random
 * configurations, then best-improvement hill climbing over single-dimension mutations from the best few
 * candidates. Spaces of at most ENUM_CANDIDATES configurations are enumerated instead. Only free
 * configurations (not observed, pending or abandoned) can be chosen. */

#define GP_MAX_POINTS 256
#define MAX_FANTASIES 128
#define EI_XI 0.01
#define N_RANDOM_CAND 1000
#define N_TOP_SEEDS 5
#define N_MUTANTS_PER_SEED 40
#define N_LS_STARTS 5
#define LS_MAX_STEPS 25
#define LS_MAX_EVALS 12000
#define ENUM_CANDIDATES 8192
#define KTAB_MAX (1 << 22)

/* ---- the additive kernel's per-dimension tables ------------------------------------------------ */

typedef struct {
  const double *pos;
  const int *counts;
  int maxcount;
  double *tab;  /* κ between options k, k' of dimension d at tab[off[d] + k*counts[d] + k'], or NULL */
  size_t *off;
} kappa_t;

static inline const double *kappa_row(const kappa_t *kp, int d, int k1) {
  return kp->tab ? kp->tab + kp->off[d] + (size_t)k1 * kp->counts[d] : NULL;
}

static inline double kappa(const kappa_t *kp, int d, int k1, int k2) {
  if (kp->tab) return kp->tab[kp->off[d] + (size_t)k1 * kp->counts[d] + k2];
  double df = kp->pos[(size_t)d * kp->maxcount + k1] - kp->pos[(size_t)d * kp->maxcount + k2];
  return tq_m52(fabs(df) / ADD_LENGTHSCALE);
}

/* ---- the fitted model and the acquisition ----------------------------------------------------- */

typedef struct {
  int n, D, maxcount;
  const double *pos; /* tuner's option positions */
  const int *counts;
  const int *active;
  const kappa_t *kp;
  const double *Xt; /* (D, n) training positions, transposed (column access for one-dimension updates) */
  const int *Ct;    /* (D, n) training option indices, transposed */
  const double *w;  /* (D) 1/ℓ² */
  double wa, deff_inv;
  const double *L;     /* (n, n) Cholesky of C */
  const double *alpha; /* (n) */
  double sigma2;       /* signal variance (standardised units) */
  double fbest;        /* incumbent (standardised) */
  double *k, *v;       /* (n) scratch */
  int evals;
} gp_model;

typedef struct {
  double logei, mu, var;
} acq_val;

static int acq_better(acq_val a, acq_val b) { return a.logei > b.logei || (a.logei == b.logei && a.mu > b.mu); }

/* log(z·Φ(z) + φ(z)), stable for very negative z. */
static double log_h(double z) {
  const double LOG_SQRT_2PI = 0.91893853320467274178;
  if (z > -5.0) {
    double phi = exp(-0.5 * z * z) / 2.50662827463100050242;
    double Phi = 0.5 * erfc(-z / 1.41421356237309504880);
    return log(z * Phi + phi);
  }
  double x = -z, tail;
  if (x < 40.0) {
    /* Mills ratio R(x) = Φ(-x)/φ(x) by its continued fraction; h/φ = 1 - x·R(x). */
    double cf = x;
    for (int k = 60; k >= 1; k--) cf = x + k / cf;
    tail = 1.0 - x / cf;
  } else {
    double i2 = 1.0 / (x * x);
    tail = i2 * (1.0 - 3.0 * i2 * (1.0 - 5.0 * i2 * (1.0 - 7.0 * i2)));
  }
  return -0.5 * x * x - LOG_SQRT_2PI + log(tail);
}

/* A point is described towards the training set by r2 (squared ARD distances) and sa (sums of κ). */
static acq_val acq_from(gp_model *m, const double *r2, const double *sa) {
  int n = m->n;
  double wa = m->wa * m->deff_inv, wm = 1.0 - m->wa;
  for (int i = 0; i < n; i++) m->k[i] = wa * sa[i] + wm * tq_m52(sqrt(r2[i] > 0 ? r2[i] : 0));
  acq_val a;
  a.mu = tq_dot(m->k, m->alpha, n);
  memcpy(m->v, m->k, sizeof(double) * (size_t)n);
  tq_chol_forward(m->L, n, m->v);
  double var = m->sigma2 * (1.0 - tq_dot(m->v, m->v, n));
  if (var < 1e-12 * m->sigma2) var = 1e-12 * m->sigma2;
  a.var = var;
  double s = sqrt(var), imp = a.mu - m->fbest - EI_XI;
  a.logei = log(s) + log_h(imp / s);
  m->evals++;
  return a;
}

static acq_val acq_full(gp_model *m, const int *choice, double *r2, double *sa) {
  int n = m->n;
  for (int i = 0; i < n; i++) r2[i] = sa[i] = 0;
  for (int d = 0; d < m->D; d++) {
    if (!m->active[d]) continue;
    double wd = m->w[d];
    double p = m->pos[(size_t)d * m->maxcount + choice[d]];
    const double *col = m->Xt + (size_t)d * n;
    const int *ci = m->Ct + (size_t)d * n;
    const double *row = kappa_row(m->kp, d, choice[d]);
    for (int i = 0; i < n; i++) {
      double df = p - col[i];
      r2[i] += wd * df * df;
    }
    if (row)
      for (int i = 0; i < n; i++) sa[i] += row[ci[i]];
    else
      for (int i = 0; i < n; i++) sa[i] += kappa(m->kp, d, choice[d], ci[i]);
  }
  return acq_from(m, r2, sa);
}

/* base with dimension d set to option k, from base's r2/sa. */
static acq_val acq_neighbor(gp_model *m, const int *base, const double *r2, const double *sa, int d, int k,
                            double *r2n, double *san) {
  int n = m->n;
  double wd = m->w[d];
  double pn = m->pos[(size_t)d * m->maxcount + k], po = m->pos[(size_t)d * m->maxcount + base[d]];
  const double *col = m->Xt + (size_t)d * n;
  const int *ci = m->Ct + (size_t)d * n;
  const double *rn = kappa_row(m->kp, d, k), *ro = kappa_row(m->kp, d, base[d]);
  for (int i = 0; i < n; i++) {
    double a = pn - col[i], b = po - col[i];
    r2n[i] = r2[i] + wd * (a * a - b * b);
  }
  if (rn)
    for (int i = 0; i < n; i++) san[i] = sa[i] + rn[ci[i]] - ro[ci[i]];
  else
    for (int i = 0; i < n; i++) san[i] = sa[i] + kappa(m->kp, d, k, ci[i]) - kappa(m->kp, d, base[d], ci[i]);
  return acq_from(m, r2n, san);
}

/* The best free configurations seen so far: [0] is the answer, [0..nstart) seed the local search. */
typedef struct {
  const tq_tuner *t;
  int D;
  int nstart;
  int *choice; /* (N_LS_STARTS, D) */
  acq_val val[N_LS_STARTS];
} top_list;

static void offer(top_list *tl, const int *choice, acq_val a) {
  int D = tl->D;
  if (tl->nstart == N_LS_STARTS && !acq_better(a, tl->val[N_LS_STARTS - 1])) return;
  for (int i = 0; i < tl->nstart; i++)
    if (memcmp(tl->choice + (size_t)i * D, choice, sizeof(int) * (size_t)D) == 0) return;
  if (!tq_tuner_is_free(tl->t, choice)) return;
  int pos = tl->nstart < N_LS_STARTS ? tl->nstart : N_LS_STARTS - 1;
  while (pos > 0 && acq_better(a, tl->val[pos - 1])) {
    memcpy(tl->choice + (size_t)pos * D, tl->choice + (size_t)(pos - 1) * D, sizeof(int) * (size_t)D);
    tl->val[pos] = tl->val[pos - 1];
    pos--;
  }
  memcpy(tl->choice + (size_t)pos * D, choice, sizeof(int) * (size_t)D);
  tl->val[pos] = a;
  if (tl->nstart < N_LS_STARTS) tl->nstart++;
}

typedef struct {
  double score;
  int idx;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->idx - y->idx;
}

/* ---- the suggestion, phase by phase ----------------------------------------------------------- */

/* What one suggestion works on: the GP's m = n + np points (n observations, then np pending
 * fantasies), the fitted model and the acquisition's scratch. */
typedef struct {
  int D, n, np, p0, m; /* p0: the first pending entry used as a fantasy */
  ranked *rk;          /* (nobs) every observation by score, best first */
  int *sel;            /* (nobs) the observations in the GP, the first n */
  char *mark;          /* (nobs) */
  double *X, *Xt;      /* (m, D) encoded inputs, and transposed (D, m) */
  double *y;           /* (m) standardised scores, then the fantasies */
  double *A;           /* (m, m) additive correlation */
  double *C, *R, *Cinv, *work, *alpha, *grad, *theta, *w; /* the fit's workspace (tq_gp_fit_ws) */
  double *kb, *vb, *r2a, *saa, *r2b, *sab;                 /* (m) the acquisition's scratch */
  double *ktab;
  int *active, *cur, *cand, *tlc;
  int *CI, *Ct;        /* (m, D) option indices, and transposed (D, m) */
  size_t *koff;
  double *dbuf;
  int *ibuf;
  int deff;            /* dimensions with more than one option (at least 1) */
  double ysd;          /* the scores' standard deviation (the unit of y) */
  double *effect;      /* (D) the additive component's main effect per dimension, score units */
  kappa_t kp;
  tq_gp_fit_ws fit;
  gp_model gm;
} suggestion;

/* Phase 1. The observations the GP is fitted to: all, or the best half + the most recent when over
 * the cap. Fills sg->rk (the seeds of the local search) and sg->sel; returns 0 on allocation failure. */
static int select_points(suggestion *sg, const tq_tuner *t) {
  const int nobs = t->n_obs;
  sg->rk = tq_alloc(sizeof(ranked) * (size_t)nobs);
  sg->sel = tq_alloc(sizeof(int) * (size_t)nobs);
  sg->mark = tq_alloc((size_t)nobs);
  if (!sg->rk || !sg->sel || !sg->mark) return 0;
  ranked *rk = sg->rk;
  char *mark = sg->mark;
  for (int i = 0; i < nobs; i++) rk[i] = (ranked){t->obs[i].score, i};
  qsort(rk, (size_t)nobs, sizeof(ranked), cmp_ranked);
  if (nobs <= GP_MAX_POINTS) {
    for (int i = 0; i < nobs; i++) mark[i] = 1;
  } else {
    for (int i = 0; i < GP_MAX_POINTS / 2; i++) mark[rk[i].idx] = 1;
    int have = GP_MAX_POINTS / 2;
    for (int i = nobs - 1; i >= 0 && have < GP_MAX_POINTS; i--)
      if (!mark[i]) mark[i] = 1, have++;
  }
  int nsel = 0;
  for (int i = 0; i < nobs; i++)
    if (mark[i]) sg->sel[nsel++] = i;
  /* Pending fantasies: the most recent MAX_FANTASIES (older pending ones are still excluded). */
  sg->D = t->ndims;
  sg->n = nsel;
  sg->np = t->n_pending < MAX_FANTASIES ? t->n_pending : MAX_FANTASIES;
  sg->p0 = t->n_pending - sg->np;
  sg->m = sg->n + sg->np;
  return 1;
}

/* The arrays of the GP's m points; 0 on allocation failure. */
static int alloc_model(suggestion *sg, const tq_tuner *t) {
  const int D = sg->D, m = sg->m;
  size_t ktab_size = 0;
  for (int d = 0; d < D; d++) ktab_size += (size_t)t->counts[d] * t->counts[d];
  if (ktab_size > KTAB_MAX) ktab_size = 0;
  size_t nd = 2 * (size_t)m * D /* X, Xt */ + (size_t)m /* y */ + 5 * (size_t)m * m /* A C R Cinv work */ +
              (size_t)m /* alpha */ + 2 * (size_t)(D + 2) /* grad theta */ + (size_t)D /* w */ +
              6 * (size_t)m /* k v r2a saa r2b sab */ + (size_t)D /* effect */ + ktab_size;
  sg->dbuf = tq_alloc(sizeof(double) * nd);
  sg->ibuf = tq_alloc(sizeof(int) * ((size_t)D * (3 + N_LS_STARTS) + 2 * (size_t)m * D));
  sg->koff = tq_alloc(sizeof(size_t) * (size_t)D);
  if (!sg->dbuf || !sg->ibuf || !sg->koff) return 0;
  sg->X = sg->dbuf;
  sg->Xt = sg->X + (size_t)m * D;
  sg->y = sg->Xt + (size_t)m * D;
  sg->A = sg->y + m;
  sg->C = sg->A + (size_t)m * m;
  sg->R = sg->C + (size_t)m * m;
  sg->Cinv = sg->R + (size_t)m * m;
  sg->work = sg->Cinv + (size_t)m * m;
  sg->alpha = sg->work + (size_t)m * m;
  sg->grad = sg->alpha + m;
  sg->theta = sg->grad + (D + 2);
  sg->w = sg->theta + (D + 2);
  sg->kb = sg->w + D;
  sg->vb = sg->kb + m;
  sg->r2a = sg->vb + m;
  sg->saa = sg->r2a + m;
  sg->r2b = sg->saa + m;
  sg->sab = sg->r2b + m;
  sg->effect = sg->sab + m;
  sg->ktab = ktab_size ? sg->effect + D : NULL;
  sg->active = sg->ibuf;
  sg->cur = sg->active + D;
  sg->cand = sg->cur + D;
  sg->tlc = sg->cand + D;
  sg->CI = sg->tlc + (size_t)D * N_LS_STARTS;
  sg->Ct = sg->CI + (size_t)m * D;
  return 1;
}

static void free_suggestion(suggestion *sg) {
  void *blocks[] = {sg->rk, sg->sel, sg->mark, sg->dbuf, sg->ibuf, sg->koff};
  for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) tq_free(blocks[i]);
}

/* Phase 2. The GP's inputs: the kernel tables, the encoded points, the standardised scores (the
 * incumbent in gm.fbest) and the additive correlation of all m points. */
static void prepare_inputs(suggestion *sg, const tq_tuner *t) {
  const int D = sg->D, mc = t->maxcount, n = sg->n, m = sg->m;
  sg->deff = 0;
  for (int d = 0; d < D; d++) sg->deff += sg->active[d] = t->counts[d] > 1;
  if (sg->deff < 1) sg->deff = 1;
  sg->kp = (kappa_t){.pos = t->pos, .counts = t->counts, .maxcount = mc, .tab = sg->ktab, .off = sg->koff};
  if (sg->ktab) {
    size_t o = 0;
    for (int d = 0; d < D; d++) {
      sg->koff[d] = o;
      for (int a = 0; a < t->counts[d]; a++)
        for (int b = 0; b < t->counts[d]; b++) {
          double df = t->pos[(size_t)d * mc + a] - t->pos[(size_t)d * mc + b];
          sg->ktab[o++] = tq_m52(fabs(df) / ADD_LENGTHSCALE);
        }
    }
  }
  for (int i = 0; i < m; i++) {
    int c = i < n ? t->obs[sg->sel[i]].cfg : t->pending[sg->p0 + i - n];
    const int *ch = t->cfg_choice + (size_t)c * D;
    memcpy(sg->CI + (size_t)i * D, ch, sizeof(int) * (size_t)D);
    for (int d = 0; d < D; d++) {
      sg->X[(size_t)i * D + d] = t->pos[(size_t)d * mc + ch[d]];
      sg->Xt[(size_t)d * m + i] = sg->X[(size_t)i * D + d];
      sg->Ct[(size_t)d * m + i] = ch[d];
    }
  }
  double ymean = 0, yvar = 0;
  for (int i = 0; i < n; i++) ymean += t->obs[sg->sel[i]].score;
  ymean /= n;
  for (int i = 0; i < n; i++) yvar += (t->obs[sg->sel[i]].score - ymean) * (t->obs[sg->sel[i]].score - ymean);
  yvar /= n;
  double ysd = sqrt(yvar);
  if (!(ysd > 1e-12 * (1.0 + fabs(ymean)))) ysd = 1.0;
  sg->ysd = ysd;
  for (int i = 0; i < n; i++) sg->y[i] = (t->obs[sg->sel[i]].score - ymean) / ysd;
  sg->gm.fbest = -INFINITY;
  for (int i = 0; i < n; i++)
    if (sg->y[i] > sg->gm.fbest) sg->gm.fbest = sg->y[i];
  const double dinv = 1.0 / sg->deff;
  for (int i = 0; i < m; i++) {
    sg->A[(size_t)i * m + i] = 1.0;
    for (int j = 0; j < i; j++) {
      double s = 0;
      for (int d = 0; d < D; d++)
        if (sg->active[d]) s += kappa(&sg->kp, d, sg->CI[(size_t)i * D + d], sg->CI[(size_t)j * D + d]);
      sg->A[(size_t)i * m + j] = sg->A[(size_t)j * m + i] = s * dinv;
    }
  }
}

/* Kriging believer: each pending configuration joins the GP as an observation at the posterior mean
 * of the observed-only GP. Returns 0 when the covariance of all m points is not positive definite
 * even with jitter. */
static int add_fantasies(suggestion *sg) {
  const int n = sg->n, m = sg->m, D = sg->D;
  const double wa = sg->gm.wa;
  for (int p = 0; p < sg->np; p++) {
    const double *xp = sg->X + (size_t)(n + p) * D;
    for (int i = 0; i < n; i++) {
      double s = 0;
      for (int d = 0; d < D; d++) {
        double df = xp[d] - sg->X[(size_t)i * D + d];
        s += sg->w[d] * df * df;
      }
      sg->kb[i] = wa * sg->A[(size_t)(n + p) * m + i] + (1.0 - wa) * tq_m52(sqrt(s));
    }
    sg->y[n + p] = tq_dot(sg->kb, sg->alpha, n);
  }
  sg->fit.n = m;
  sg->fit.A = sg->A;
  int ok = 0;
  for (double jitter = 0; jitter < 1e-2; jitter = jitter > 0 ? jitter * 10 : 1e-8) {
    tq_gp_build_cov(&sg->fit, sg->theta);
    for (int i = 0; i < m; i++) sg->C[(size_t)i * m + i] += jitter;
    if (tq_chol(sg->C, m) == 0) {
      ok = 1;
      break;
    }
  }
  if (!ok) return 0;
  memcpy(sg->alpha, sg->y, sizeof(double) * (size_t)m);
  tq_chol_forward(sg->C, m, sg->alpha);
  tq_chol_backward(sg->C, m, sg->alpha);
  return 1;
}

/* The additive component's part of the posterior mean is a sum of one function per dimension,
 * f_d(k) = (w_add/D_eff)·Σ_i α_i·κ(pos_d(k), x_id); its range over the dimension's options (in score
 * units) is how much the GP thinks that layer's choice alone moves the score. With the ARD lengthscales
 * (the interaction component's sensitivity) it is the per-layer sensitivity sensitivity.csv reports:
 * when the additive component explains the scores, the ARD lengthscales stay near their prior. */
static void main_effects(suggestion *sg, const tq_tuner *t) {
  const int D = sg->D, n = sg->n;
  const double scale = tq_sigmoid(sg->theta[TH_WADD(D)]) / sg->deff * sg->ysd;
  for (int d = 0; d < D; d++) {
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < t->counts[d] && sg->active[d]; k++) {
      double f = 0;
      for (int i = 0; i < n; i++) f += sg->alpha[i] * kappa(&sg->kp, d, k, sg->CI[(size_t)i * D + d]);
      lo = fmin(lo, f);
      hi = fmax(hi, f);
    }
    sg->effect[d] = sg->active[d] ? (hi - lo) * scale : 0.0;
  }
}

/* Phase 3. The hyperparameters fitted on the observations, the GP conditioned on them and then on
 * the pending fantasies. Returns 1; 0 when no GP could be fitted (the caller falls back to random);
 * -1 on allocation failure. */
static int fit_model(suggestion *sg, const tq_tuner *t) {
  const int n = sg->n, m = sg->m, D = sg->D;
  /* The fit works on the first n points with stride n. */
  double *Afit = sg->A, *Acompact = NULL;
  if (sg->np > 0) {
    Acompact = tq_alloc(sizeof(double) * (size_t)n * n);
    if (!Acompact) return -1;
    for (int i = 0; i < n; i++) memcpy(Acompact + (size_t)i * n, sg->A + (size_t)i * m, sizeof(double) * (size_t)n);
    Afit = Acompact;
  }
  sg->fit = (tq_gp_fit_ws){.n = n, .D = D, .X = sg->X, .y = sg->y, .active = sg->active, .A = Afit, .C = sg->C,
                     .R = sg->R, .Cinv = sg->Cinv, .work = sg->work, .alpha = sg->alpha, .grad = sg->grad,
                     .w = sg->w};
  int fr = tq_gp_fit_hyper(&sg->fit, sg->theta);
  double q = 0;
  int fitted = fr == 0;
  if (fitted) { /* the final model on the observations */
    tq_gp_build_cov(&sg->fit, sg->theta);
    fitted = isfinite(tq_gp_profiled_loglik(&sg->fit, &q));
  }
  tq_free(Acompact);
  if (fr == -2) return -1;
  if (!fitted) return 0;
  main_effects(sg, t); /* while alpha is that of the observations alone */
  double fbest = sg->gm.fbest;
  sg->gm = (gp_model){.n = n, .D = D, .maxcount = t->maxcount, .pos = t->pos, .counts = t->counts,
                      .active = sg->active, .kp = &sg->kp, .Xt = sg->Xt, .Ct = sg->Ct, .w = sg->w,
                      .wa = tq_sigmoid(sg->theta[TH_WADD(D)]), .deff_inv = 1.0 / sg->deff, .L = sg->C,
                      .alpha = sg->alpha, .sigma2 = q / n, .fbest = fbest, .k = sg->kb, .v = sg->vb};
  if (sg->np > 0 && !add_fantasies(sg)) return 0;
  sg->gm.n = m;
  return 1;
}

/* Phase 4a. Small spaces: every free configuration is a candidate. */
static void offer_all(suggestion *sg, const tq_tuner *t, top_list *tl) {
  for (uint64_t idx = 0; idx < (uint64_t)t->space; idx++) {
    tq_tuner_unrank(t, idx, sg->cand);
    if (tq_tuner_is_free(t, sg->cand)) offer(tl, sg->cand, acq_full(&sg->gm, sg->cand, sg->r2a, sg->saa));
  }
}

/* Phase 4b. The best distinct observed configurations: all their single mutations, a few multiple. */
static void offer_mutations_of_best(suggestion *sg, const tq_tuner *t, tq_rng *rng, top_list *tl) {
  const int D = sg->D;
  int *cand = sg->cand;
  int nseeds = 0;
  for (int i = 0; i < t->n_obs && nseeds < N_TOP_SEEDS; i++) {
    int dup = 0;
    for (int j = 0; j < i && !dup; j++) dup = t->obs[sg->rk[j].idx].cfg == t->obs[sg->rk[i].idx].cfg;
    if (dup) continue;
    nseeds++;
    const int *seed = t->cfg_choice + (size_t)t->obs[sg->rk[i].idx].cfg * D;
    acq_full(&sg->gm, seed, sg->r2a, sg->saa);
    for (int d = 0; d < D; d++)
      for (int k = 0; k < t->counts[d]; k++) {
        if (k == seed[d]) continue;
        acq_val a = acq_neighbor(&sg->gm, seed, sg->r2a, sg->saa, d, k, sg->r2b, sg->sab);
        if (tl->nstart < N_LS_STARTS || acq_better(a, tl->val[N_LS_STARTS - 1])) {
          memcpy(cand, seed, sizeof(int) * (size_t)D);
          cand[d] = k;
          offer(tl, cand, a);
        }
      }
    for (int r = 0; r < N_MUTANTS_PER_SEED; r++) {
      memcpy(cand, seed, sizeof(int) * (size_t)D);
      int nm = 2 + (int)tq_rng_below(rng, 3);
      for (int j = 0; j < nm; j++) {
        int d = (int)tq_rng_below(rng, (uint32_t)D);
        cand[d] = (int)tq_rng_below(rng, (uint32_t)t->counts[d]);
      }
      offer(tl, cand, acq_full(&sg->gm, cand, sg->r2a, sg->saa));
    }
  }
}

/* Phase 4c. Uniform random configurations. */
static void offer_random(suggestion *sg, const tq_tuner *t, tq_rng *rng, top_list *tl) {
  for (int r = 0; r < N_RANDOM_CAND; r++) {
    for (int d = 0; d < sg->D; d++) sg->cand[d] = (int)tq_rng_below(rng, (uint32_t)t->counts[d]);
    offer(tl, sg->cand, acq_full(&sg->gm, sg->cand, sg->r2a, sg->saa));
  }
}

/* Phase 5. Hill climbing from each of the best candidates so far (best improvement over single-
 * dimension mutations to free configurations). Returns 0, -1 on allocation failure. */
static int hill_climb(suggestion *sg, const tq_tuner *t, top_list *tl) {
  const int D = sg->D;
  gp_model *gm = &sg->gm;
  int *cur = sg->cur;
  const int evals0 = gm->evals, nstarts = tl->nstart;
  int *starts = tq_alloc(sizeof(int) * (size_t)D * (nstarts > 0 ? nstarts : 1));
  if (!starts) return -1;
  memcpy(starts, tl->choice, sizeof(int) * (size_t)D * nstarts);
  for (int s = 0; s < nstarts && gm->evals - evals0 < LS_MAX_EVALS; s++) {
    memcpy(cur, starts + (size_t)s * D, sizeof(int) * (size_t)D);
    acq_val va = acq_full(gm, cur, sg->r2a, sg->saa);
    for (int step = 0; step < LS_MAX_STEPS && gm->evals - evals0 < LS_MAX_EVALS; step++) {
      int bd = -1, bk = -1;
      acq_val bv = va;
      for (int d = 0; d < D; d++)
        for (int k = 0; k < t->counts[d]; k++) {
          if (k == cur[d]) continue;
          acq_val a = acq_neighbor(gm, cur, sg->r2a, sg->saa, d, k, sg->r2b, sg->sab);
          if (!acq_better(a, bv)) continue;
          int old = cur[d];
          cur[d] = k;
          int is_free = tq_tuner_is_free(t, cur);
          cur[d] = old;
          if (is_free) bv = a, bd = d, bk = k;
        }
      if (bd < 0) break;
      cur[bd] = bk;
      va = acq_full(gm, cur, sg->r2a, sg->saa); /* recompute exactly (no drift from incremental updates) */
      offer(tl, cur, va);
    }
  }
  tq_free(starts);
  return 0;
}

/* The fitted hyperparameters the tuner reports (sensitivity.csv): an ARD lengthscale per dimension
 * (infinite where the dimension has one option), the observations fitted, the kernel mixture. */
static void record_fit(const suggestion *sg, tq_tuner *t) {
  const int D = sg->D;
  for (int d = 0; d < D; d++) t->lengthscales[d] = sg->active[d] ? exp(sg->theta[d]) : INFINITY;
  t->has_lengthscales = 1;
  t->fit_points = sg->n;
  t->fit_additive_weight = tq_sigmoid(sg->theta[TH_WADD(D)]);
  t->fit_noise = exp(sg->theta[TH_TAU(D)]);
  memcpy(t->main_effects, sg->effect, sizeof(double) * (size_t)D);
}

/* Phase 6. The choice: the best candidate, and what the tuner reports about it. */
static void choose(const suggestion *sg, tq_tuner *t, const top_list *tl, int *choice) {
  const int D = sg->D;
  memcpy(choice, tl->choice, sizeof(int) * (size_t)D);
  t->info.used_gp = 1;
  t->info.gp_points = sg->n;
  t->info.pending_points = sg->np;
  t->info.candidates = sg->gm.evals;
  t->info.noise = exp(sg->theta[TH_TAU(D)]);
  t->info.additive_weight = sg->gm.wa;
  t->info.log_ei = tl->val[0].logei;
  t->info.pred_mean = tl->val[0].mu;
  t->info.pred_sd = sqrt(tl->val[0].var);
  record_fit(sg, t);
}

int tq_bayes_suggest(tq_tuner *t, tq_rng *rng, int *choice) {
  suggestion sg;
  memset(&sg, 0, sizeof sg);
  int result = -1;
  if (!select_points(&sg, t) || !alloc_model(&sg, t)) goto done;
  prepare_inputs(&sg, t);
  if ((result = fit_model(&sg, t)) <= 0) goto done;
  /* Expected improvement maximised over free configurations. */
  top_list tl = {.t = t, .D = sg.D, .nstart = 0, .choice = sg.tlc};
  if (t->space > 0 && t->space <= ENUM_CANDIDATES) {
    offer_all(&sg, t, &tl);
  } else {
    offer_mutations_of_best(&sg, t, rng, &tl);
    offer_random(&sg, t, rng, &tl);
    if ((result = hill_climb(&sg, t, &tl)) < 0) goto done;
  }
  result = tl.nstart > 0;
  if (result) choose(&sg, t, &tl, choice);
done:
  free_suggestion(&sg);
  return result;
}

int tq_bayes_fit(tq_tuner *t) {
  suggestion sg;
  memset(&sg, 0, sizeof sg);
  int result = -1;
  if (select_points(&sg, t)) {
    sg.np = 0; /* the observations only: pending trials would only enter as fantasies after the fit */
    sg.p0 = t->n_pending;
    sg.m = sg.n;
    if (alloc_model(&sg, t)) {
      prepare_inputs(&sg, t);
      if ((result = fit_model(&sg, t)) > 0) record_fit(&sg, t);
    }
  }
  free_suggestion(&sg);
  return result;
}
