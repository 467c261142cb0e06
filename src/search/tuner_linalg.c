/* Small dense linear algebra in double for the tuner's Gaussian process (n up to a few hundred).
 * Row-major; plain C with fixed summation order so results are bit-reproducible run to run. */
#include <math.h>
#include <string.h>

#include "tuner_internal.h"

double tq_dot(const double *a, const double *b, int n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; k++) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

/* Row-oriented Cholesky–Crout: L[i][j] = (A[i][j] - <L[i][0:j], L[j][0:j]>) / L[j][j]. Rows are contiguous,
 * so each inner product is a unit-stride dot. */
int tq_chol(double *a, int n) {
  for (int i = 0; i < n; i++) {
    double *li = a + (size_t)i * n;
    for (int j = 0; j < i; j++) {
      const double *lj = a + (size_t)j * n;
      li[j] = (li[j] - tq_dot(li, lj, j)) / lj[j];
    }
    double d = li[i] - tq_dot(li, li, i);
    if (!(d > 0.0) || !isfinite(d)) return -1;
    li[i] = sqrt(d);
    for (int j = i + 1; j < n; j++) li[j] = 0.0;
  }
  return 0;
}

void tq_chol_forward(const double *l, int n, double *b) {
  for (int i = 0; i < n; i++) {
    const double *li = l + (size_t)i * n;
    b[i] = (b[i] - tq_dot(li, b, i)) / li[i];
  }
}

void tq_chol_backward(const double *l, int n, double *b) {
  for (int i = n - 1; i >= 0; i--) {
    double s = b[i];
    for (int k = i + 1; k < n; k++) s -= l[(size_t)k * n + i] * b[k];
    b[i] = s / l[(size_t)i * n + i];
  }
}

/* A⁻¹ = L⁻ᵀ L⁻¹. work receives M = L⁻¹ stored transposed by rows: row i of work = column i of L⁻¹
 * (nonzero from index i on); then inv[i][j] = Σ_{k>=max(i,j)} M[i][k]·M[j][k]. */
void tq_chol_inverse(const double *l, int n, double *inv, double *work) {
  memset(work, 0, sizeof(double) * (size_t)n * n);
  /* Column i of L⁻¹: solve L x = e_i (x_k = 0 for k < i). */
  for (int i = 0; i < n; i++) {
    double *x = work + (size_t)i * n;
    x[i] = 1.0 / l[(size_t)i * n + i];
    for (int k = i + 1; k < n; k++) {
      const double *lk = l + (size_t)k * n;
      x[k] = -tq_dot(lk + i, x + i, k - i) / lk[k];
    }
  }
  for (int i = 0; i < n; i++) {
    for (int j = 0; j <= i; j++) {
      double v = tq_dot(work + (size_t)i * n + i, work + (size_t)j * n + i, n - i);
      inv[(size_t)i * n + j] = v;
      inv[(size_t)j * n + i] = v;
    }
  }
}

double tq_chol_logdet(const double *l, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += log(l[(size_t)i * n + i]);
  return 2.0 * s;
}
