/* Quantizer maths shared by the fixed-step (fixed.c), data-dependent (scale.c) and static
 * (static.c) paths: QKeras' po2 and round-half-away, and the scale-group layout of a tensor. */
#include <math.h>

#include "quant/quant_internal.h"

/* po2(s) = 2^rne(log2(s + eps)), exactly: with s + eps = f 2^e, f in [0.5, 1), log2 = e - 1 +
 * log2(2f) and log2(2f) in [0, 1) rounds up iff 2f >= sqrt(2). sqrt(2) is irrational, so there are
 * no ties, and M_SQRT2 (the double just above sqrt(2)) decides the comparison exactly. */
double tq_po2(double s) {
  double v = s + TQ_QEPS;
  /* v >= 2^-1022 keeps the result 2^e inside the normal range of tq_po2_pos */
  if (!(v >= 2.2250738585072014e-308) || !isfinite(v)) return exp2(nearbyint(log2(v)));
  return tq_po2_pos(v);
}

double tq_rha(double v) {
  double a = floor(fabs(v) + 0.5);
  /* |v| + 0.5 is exact for |v| < 2^52; beyond that v is already an integer. */
  if (fabs(v) >= 4503599627370496.0) a = fabs(v);
  return v < 0 ? -a : a;
}

tq_status tq_qlayout_init(tq_qlayout *L, const int *dims, int rank, int keep_axis) {
  if (rank < 1 || !dims) return tq_fail(TQ_ERR_ARG, "quantizer input must have rank >= 1");
  size_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 1) return tq_fail(TQ_ERR_ARG, "quantizer input dimension %d is %d", i, dims[i]);
    n *= (size_t)dims[i];
  }
  L->n = n;
  if (rank == 1) {
    L->outer = 1, L->groups = 1, L->inner = n;
    return TQ_OK;
  }
  int k = keep_axis < 0 ? rank - 1 : keep_axis;
  if (k >= rank)
    return tq_fail(TQ_ERR_ARG, "scale_axis=%d is out of range for a rank-%d tensor", keep_axis, rank);
  size_t outer = 1, inner = 1;
  for (int i = 0; i < k; i++) outer *= (size_t)dims[i];
  for (int i = k + 1; i < rank; i++) inner *= (size_t)dims[i];
  L->outer = outer, L->groups = (size_t)dims[k], L->inner = inner;
  return TQ_OK;
}
