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

#endif
