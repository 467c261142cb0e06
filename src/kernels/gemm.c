/* GEMM: the one place tinyq touches BLAS. Row-major C (M,N) = alpha * op(A) op(B) + beta * C.
 * OpenBLAS (OpenMP build) threads a call by itself when called outside a parallel region and runs
 * single-threaded inside one, so callers may either hand it one big product or split the work into
 * per-thread pieces. Either way each element of C is owned by one thread and summed over k in a
 * fixed order, so the result is identical run to run for a given thread count. */
#include <cblas.h>

#include "tinyq/kernels.h"

void tq_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    /* BLAS would only scale C; do it here so that empty products never reach cblas' argument
     * checks (which print and return rather than report). beta == 0 overwrites, as in BLAS. */
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}
