/* Minimal test harness: every check asserts a value; a failing check prints where and why. */
#ifndef TQ_TEST_H
#define TQ_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int tq_test_failures = 0;

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      tq_test_failures++;                                                       \
    }                                                                           \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
  do {                                                                                     \
    double a_ = (double)(a), b_ = (double)(b);                                             \
    if (!(fabs(a_ - b_) <= (tol)) || isnan(a_) || isnan(b_)) {                             \
      fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tol %g)\n", __FILE__, \
              __LINE__, #a, a_, #b, b_, (double)(tol));                                    \
      tq_test_failures++;                                                                  \
    }                                                                                      \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                  \
  do {                                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                                     \
    if (a_ != b_) {                                                                         \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %lld, %s = %lld\n", __FILE__, __LINE__, \
              #a, a_, #b, b_);                                                              \
      tq_test_failures++;                                                                   \
    }                                                                                       \
  } while (0)

#define TEST_MAIN_END()                                                  \
  do {                                                                   \
    if (tq_test_failures) {                                              \
      fprintf(stderr, "%d check(s) failed\n", tq_test_failures);        \
      return 1;                                                          \
    }                                                                    \
    printf("all checks passed\n");                                      \
    return 0;                                                            \
  } while (0)

/* Gradient checks: the objective is L = sum(dout * f(...)); its gradient is what backward returns
 * for dout. */
typedef double (*objective_fn)(void *ctx);

/* Central differences of f w.r.t. up to ~48 entries of x, against the analytic grad. */
static inline void check_grad(const char *what, float *x, const float *grad, size_t n, objective_fn f, void *ctx,
                       float eps) {
  size_t step = n > 48 ? n / 48 : 1;
  int bad = 0;
  for (size_t i = 0; i < n; i += step) {
    float keep = x[i];
    float hi = keep + eps, lo = keep - eps;
    x[i] = hi;
    double fp = f(ctx);
    x[i] = lo;
    double fm = f(ctx);
    x[i] = keep;
    double num = (fp - fm) / ((double)hi - lo);
    double tol = 1e-2 * fmax(fabs(num), fabs(grad[i])) + 2e-3;
    if (!(fabs(num - grad[i]) <= tol) && bad++ < 5)
      fprintf(stderr, "  %s[%zu]: analytic %.6g numeric %.6g\n", what, i, grad[i], num);
  }
  if (bad) {
    fprintf(stderr, "gradient check failed: %s (%d entries)\n", what, bad);
    tq_test_failures++;
  }
}

#endif
