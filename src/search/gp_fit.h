/* Internal to the tuner: the Gaussian process's kernel pieces and its hyperparameter fit (gp_fit.c),
 * shared with the Bayesian suggestion (bayes.c). Not a public header. */
#ifndef TQ_GP_FIT_H
#define TQ_GP_FIT_H

#include <math.h>

/* The additive kernel's fixed 1-D lengthscale over option positions in [0,1]. */
#define ADD_LENGTHSCALE 0.5

/* Matérn-5/2 correlation of a scaled distance r. */
#define TQ_SQRT5 2.23606797749978969641
static inline double tq_m52(double r) { return (1.0 + TQ_SQRT5 * r + (5.0 / 3.0) * r * r) * exp(-TQ_SQRT5 * r); }
static inline double tq_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* θ = (log ℓ_0 .. log ℓ_{D-1}, log τ, logit w_add) */
#define TH_TAU(D) (D)
#define TH_WADD(D) ((D) + 1)

typedef struct {
  int n, D;
  const double *X;   /* (n, D) encoded inputs */
  const double *y;   /* (n) standardised scores */
  const int *active; /* (D) 1 if the dimension has more than one option */
  const double *A;   /* (n, n) additive correlation */
  double *C;         /* (n, n) the covariance / σ², then its Cholesky factor */
  double *R;         /* (n, n) ARD scaled distances r_ij */
  double *Cinv;      /* (n, n) */
  double *work;      /* (n, n) */
  double *alpha;     /* (n) */
  double *grad;      /* (D + 2) */
  double *w;         /* (D) 1/ℓ_d² */
} tq_gp_fit_ws;

/* Profiled log marginal likelihood (without constants) of ws->C; leaves the Cholesky factor in ws->C and
 * α in ws->alpha. -inf if not positive definite. */
double tq_gp_profiled_loglik(tq_gp_fit_ws *ws, double *q_out);
/* C from θ; also fills R and w. */
void tq_gp_build_cov(tq_gp_fit_ws *ws, const double *theta);

/* Fits θ (starting values ignored). Returns 0; -1 if no grid point was positive definite; -2 on allocation
 * failure. */
int tq_gp_fit_hyper(tq_gp_fit_ws *ws, double *theta);

#endif
