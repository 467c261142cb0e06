/* The Gaussian process's hyperparameter fit for the Bayesian suggestion (bayes.c has the model).
 * Fit (deterministic):
 *   1. a grid over an isotropic lengthscale ℓ = g·sqrt(D) (6 values of g in [0.1, 3]) × 4 noise ratios τ
 *      × 3 mixing weights w_add; each grid point is one Cholesky;
 *   2. from the best grid point, ARD_STEPS steps of iRprop- on (log ℓ_d, log τ, logit w_add) maximising the
 *      profiled log marginal likelihood plus a log-normal prior N(log ℓ_iso, ARD_PRIOR_SD²) on each ℓ_d
 *      (the isotropic fit is the prior's centre: dimensions the data say nothing about keep it).
 *   Gradient of the profiled likelihood: ½·tr(((n/q)·ααᵀ - C⁻¹)·∂C/∂θ), q = yᵀα, α = C⁻¹y.
 * Deterministic: no random numbers are drawn. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "gp_fit.h"
#include "tuner_internal.h"

#define N_LS_GRID 6
#define N_TAU_GRID 4
#define N_WADD_GRID 3
#define ARD_STEPS 15
#define ARD_PRIOR_SD 1.0
#define TAU_MIN 1e-6
#define TAU_MAX 1.0
#define LOGIT_MAX 6.0

/* Profiled log marginal likelihood (without constants) of ws->C; leaves the Cholesky factor in ws->C and
 * α in ws->alpha. -inf if not positive definite. */
double tq_gp_profiled_loglik(tq_gp_fit_ws *ws, double *q_out) {
  int n = ws->n;
  if (tq_chol(ws->C, n) != 0) return -INFINITY;
  memcpy(ws->alpha, ws->y, sizeof(double) * (size_t)n);
  tq_chol_forward(ws->C, n, ws->alpha);
  double q = tq_dot(ws->alpha, ws->alpha, n);
  tq_chol_backward(ws->C, n, ws->alpha);
  if (q < 1e-300) q = 1e-300;
  if (q_out) *q_out = q;
  return -0.5 * n * log(q / n) - 0.5 * tq_chol_logdet(ws->C, n);
}

/* C from θ; also fills R and w. */
void tq_gp_build_cov(tq_gp_fit_ws *ws, const double *theta) {
  int n = ws->n, D = ws->D;
  for (int d = 0; d < D; d++) ws->w[d] = ws->active[d] ? exp(-2.0 * theta[d]) : 0.0;
  double tau = exp(theta[TH_TAU(D)]), wa = tq_sigmoid(theta[TH_WADD(D)]);
  for (int i = 0; i < n; i++) {
    const double *xi = ws->X + (size_t)i * D;
    ws->R[(size_t)i * n + i] = 0;
    ws->C[(size_t)i * n + i] = 1.0 + tau;
    for (int j = 0; j < i; j++) {
      const double *xj = ws->X + (size_t)j * D;
      double s = 0;
      for (int d = 0; d < D; d++) {
        double df = xi[d] - xj[d];
        s += ws->w[d] * df * df;
      }
      double r = sqrt(s);
      ws->R[(size_t)i * n + j] = ws->R[(size_t)j * n + i] = r;
      double c = wa * ws->A[(size_t)i * n + j] + (1.0 - wa) * tq_m52(r);
      ws->C[(size_t)i * n + j] = ws->C[(size_t)j * n + i] = c;
    }
  }
}

/* Log posterior (profiled likelihood + log-normal prior on the lengthscales) and, if want_grad, its
 * gradient in ws->grad. Requires tq_gp_build_cov(theta) first. */
static double log_posterior(tq_gp_fit_ws *ws, const double *theta, double mu_prior, int want_grad) {
  int n = ws->n, D = ws->D;
  const double s2 = ARD_PRIOR_SD * ARD_PRIOR_SD;
  double q;
  double f = tq_gp_profiled_loglik(ws, &q);
  if (!isfinite(f)) return -INFINITY;
  for (int d = 0; d < D; d++)
    if (ws->active[d]) f -= 0.5 * (theta[d] - mu_prior) * (theta[d] - mu_prior) / s2;
  if (!want_grad) return f;
  tq_chol_inverse(ws->C, n, ws->Cinv, ws->work);
  /* W = (n/q) ααᵀ - C⁻¹.  ∂C_ij/∂log ℓ_d = (1-w_add)·g(r_ij)·w_d·Δ_ijd², g(r) = (5/3)(1+√5 r)e^{-√5 r};
   * ∂C/∂log τ = τ·I;  ∂C/∂logit w_add = w_add(1-w_add)·(A - K_ard). */
  double wa = tq_sigmoid(theta[TH_WADD(D)]);
  double *M = ws->work;
  double nq = n / q, trW = 0, gw = 0;
  for (int i = 0; i < n; i++) {
    trW += nq * ws->alpha[i] * ws->alpha[i] - ws->Cinv[(size_t)i * n + i];
    for (int j = 0; j < i; j++) {
      double r = ws->R[(size_t)i * n + j];
      double wij = nq * ws->alpha[i] * ws->alpha[j] - ws->Cinv[(size_t)i * n + j];
      double e = exp(-TQ_SQRT5 * r);
      M[(size_t)i * n + j] = wij * (1.0 - wa) * (5.0 / 3.0) * (1.0 + TQ_SQRT5 * r) * e;
      gw += wij * (ws->A[(size_t)i * n + j] - (1.0 + TQ_SQRT5 * r + (5.0 / 3.0) * r * r) * e);
    }
  }
  double *g = ws->grad;
  for (int d = 0; d < D; d++) g[d] = 0;
  for (int i = 0; i < n; i++) {
    const double *xi = ws->X + (size_t)i * D;
    for (int j = 0; j < i; j++) {
      const double *xj = ws->X + (size_t)j * D;
      double m = M[(size_t)i * n + j];
      for (int d = 0; d < D; d++) {
        double df = xi[d] - xj[d];
        g[d] += m * df * df; /* ½·Σ_{i≠j} = Σ_{i>j} */
      }
    }
  }
  for (int d = 0; d < D; d++) g[d] = ws->active[d] ? g[d] * ws->w[d] - (theta[d] - mu_prior) / s2 : 0.0;
  g[TH_TAU(D)] = 0.5 * exp(theta[TH_TAU(D)]) * trW;
  g[TH_WADD(D)] = wa * (1.0 - wa) * gw;
  return f;
}

/* Fit, step 1: a grid over an isotropic lengthscale × noise ratio × mixing weight (one Cholesky per
 * point); θ starts at the best point, every ℓ_d the isotropic one. Returns log ℓ_iso (the prior's
 * centre for step 2), or NAN if no grid point was positive definite. */
static double fit_grid(tq_gp_fit_ws *ws, int deff, double *theta) {
  const int n = ws->n, D = ws->D;
  double *D2 = ws->R; /* R holds the unscaled squared distances meanwhile */
  for (int i = 0; i < n; i++) {
    D2[(size_t)i * n + i] = 0;
    for (int j = 0; j < i; j++) {
      double s = 0;
      for (int d = 0; d < D; d++) {
        double df = ws->X[(size_t)i * D + d] - ws->X[(size_t)j * D + d];
        s += df * df;
      }
      D2[(size_t)i * n + j] = D2[(size_t)j * n + i] = s;
    }
  }
  static const double taus[N_TAU_GRID] = {1e-5, 1e-3, 1e-2, 0.1};
  static const double wadds[N_WADD_GRID] = {0.05, 0.5, 0.9};
  double best = -INFINITY, best_ls = 1, best_tau = 1e-3, best_wa = 0.5;
  for (int a = 0; a < N_LS_GRID; a++) {
    double ls = 0.1 * pow(30.0, (double)a / (N_LS_GRID - 1)) * sqrt((double)deff);
    double inv = 1.0 / (ls * ls);
    for (int c = 0; c < N_WADD_GRID; c++) {
      double wa = wadds[c];
      for (int b = 0; b < N_TAU_GRID; b++) {
        for (int i = 0; i < n; i++) {
          ws->C[(size_t)i * n + i] = 1.0 + taus[b];
          for (int j = 0; j < i; j++)
            ws->C[(size_t)i * n + j] = ws->C[(size_t)j * n + i] =
                wa * ws->A[(size_t)i * n + j] + (1.0 - wa) * tq_m52(sqrt(D2[(size_t)i * n + j] * inv));
        }
        double f = tq_gp_profiled_loglik(ws, NULL);
        if (f > best) {
          best = f;
          best_ls = ls;
          best_tau = taus[b];
          best_wa = wa;
        }
      }
    }
  }
  if (!isfinite(best)) return NAN;
  double mu = log(best_ls);
  for (int d = 0; d < D; d++) theta[d] = mu;
  theta[TH_TAU(D)] = log(best_tau);
  theta[TH_WADD(D)] = log(best_wa / (1.0 - best_wa));
  return mu;
}

/* Fit, step 2: ARD refinement, iRprop- on the log posterior (prior centre mu) from θ; θ ends at the
 * best point seen. Returns 0, -2 on allocation failure. */
static int fit_ard(tq_gp_fit_ws *ws, int deff, double mu, double *theta) {
  const int D = ws->D, NP = D + 2;
  double lo[3] = {log(0.02), log(TAU_MIN), -LOGIT_MAX}, hi[3] = {log(50.0 * sqrt((double)deff)), log(TAU_MAX), LOGIT_MAX};
  double *step = tq_alloc(sizeof(double) * (size_t)NP * 3);
  if (!step) return -2;
  double *prev = step + NP, *best_theta = prev + NP;
  for (int p = 0; p < NP; p++) step[p] = 0.25, prev[p] = 0;
  memcpy(best_theta, theta, sizeof(double) * (size_t)NP);
  double best_post = -INFINITY;
  for (int it = 0; it <= ARD_STEPS; it++) {
    tq_gp_build_cov(ws, theta);
    double f = log_posterior(ws, theta, mu, it < ARD_STEPS);
    if (!isfinite(f)) {
      /* numerically singular: back off to the best point with smaller steps */
      memcpy(theta, best_theta, sizeof(double) * (size_t)NP);
      for (int p = 0; p < NP; p++) step[p] *= 0.5, prev[p] = 0;
      continue;
    }
    if (f > best_post) {
      best_post = f;
      memcpy(best_theta, theta, sizeof(double) * (size_t)NP);
    }
    if (it == ARD_STEPS) break;
    for (int p = 0; p < NP; p++) {
      double g = ws->grad[p];
      if (g * prev[p] > 0) step[p] = fmin(step[p] * 1.2, 1.0);
      else if (g * prev[p] < 0) {
        step[p] = fmax(step[p] * 0.5, 1e-3);
        g = 0;
      }
      prev[p] = g;
      if (g > 0) theta[p] += step[p];
      else if (g < 0) theta[p] -= step[p];
      int kind = p < D ? 0 : p - D + 1;
      if (theta[p] < lo[kind]) theta[p] = lo[kind];
      if (theta[p] > hi[kind]) theta[p] = hi[kind];
    }
  }
  memcpy(theta, best_theta, sizeof(double) * (size_t)NP);
  tq_free(step);
  return 0;
}

/* Fits θ. Returns 0; -1 if no grid point was positive definite; -2 on allocation failure. */
int tq_gp_fit_hyper(tq_gp_fit_ws *ws, double *theta) {
  int deff = 0;
  for (int d = 0; d < ws->D; d++) deff += ws->active[d];
  if (deff < 1) deff = 1;
  double mu = fit_grid(ws, deff, theta);
  if (isnan(mu)) return -1;
  return fit_ard(ws, deff, mu, theta);
}

/* ---- self-check for the tests ----------------------------------------------------------------- */

double tq_bayes_gradient_check(int n, int D, uint64_t seed) {
  tq_rng r;
  tq_rng_seed(&r, seed);
  int NP = D + 2;
  double *buf = tq_alloc(sizeof(double) * ((size_t)n * D + n + 5 * (size_t)n * n + n + 3 * (size_t)NP + D));
  int *act = tq_alloc(sizeof(int) * (size_t)D);
  if (!buf || !act) {
    tq_free(buf);
    tq_free(act);
    return INFINITY;
  }
  double *X = buf, *y = X + (size_t)n * D, *A = y + n, *C = A + (size_t)n * n, *R = C + (size_t)n * n,
         *Ci = R + (size_t)n * n, *W = Ci + (size_t)n * n, *al = W + (size_t)n * n, *g = al + n, *th = g + NP,
         *an = th + NP, *w = an + NP;
  for (int d = 0; d < D; d++) act[d] = 1;
  for (int i = 0; i < n * D; i++) X[i] = 0.5 * tq_rng_below(&r, 3);
  double mean = 0;
  for (int i = 0; i < n; i++) {
    double s = 0;
    for (int d = 0; d < D; d++) s += (d + 1) * X[i * D + d] * X[i * D + d];
    y[i] = s - X[i * D] * X[i * D + (D > 1)] + 0.1 * tq_rng_normal(&r);
    mean += y[i] / n;
  }
  for (int i = 0; i < n; i++) y[i] -= mean;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int d = 0; d < D; d++) s += tq_m52(fabs(X[i * D + d] - X[j * D + d]) / ADD_LENGTHSCALE);
      A[(size_t)i * n + j] = s / D;
    }
  tq_gp_fit_ws ws = {.n = n, .D = D, .X = X, .y = y, .active = act, .A = A, .C = C, .R = R, .Cinv = Ci, .work = W,
               .alpha = al, .grad = g, .w = w};
  for (int p = 0; p < D; p++) th[p] = 0.3 * tq_rng_normal(&r);
  th[TH_TAU(D)] = log(0.02);
  th[TH_WADD(D)] = 0.4;
  const double mu = 0.1;
  tq_gp_build_cov(&ws, th);
  log_posterior(&ws, th, mu, 1);
  memcpy(an, g, sizeof(double) * (size_t)NP);
  double worst = 0;
  for (int p = 0; p < NP; p++) {
    const double h = 1e-5;
    double keep = th[p];
    th[p] = keep + h;
    tq_gp_build_cov(&ws, th);
    double fp = log_posterior(&ws, th, mu, 0);
    th[p] = keep - h;
    tq_gp_build_cov(&ws, th);
    double fm = log_posterior(&ws, th, mu, 0);
    th[p] = keep;
    double num = (fp - fm) / (2 * h);
    double err = fabs(num - an[p]) / fmax(1.0, fabs(num));
    if (!(err <= worst)) worst = err; /* NaN propagates as a failure */
  }
  tq_free(buf);
  tq_free(act);
  return worst;
}
