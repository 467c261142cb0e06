/* Dense (Keras IO kernel layout): out (N,O) = in (N,I) · w (I,O) + b. Two GEMMs and a column sum;
 * OpenBLAS threads the GEMMs itself (they partition the output, so results are deterministic). */
#include <string.h>

#include "tinyq/kernels.h"

void tq_dense_forward(float *out, const float *in, const float *w, const float *b, int n, int in_dim,
                      int out_dim) {
  /* out: (N,O)  in: (N,I)  w: (I,O)  b: (O) or NULL */
  if (b)
    for (int i = 0; i < n; i++) memcpy(out + (size_t)i * out_dim, b, (size_t)out_dim * sizeof(float));
  tq_sgemm(0, 0, n, out_dim, in_dim, 1.0f, in, in_dim, w, out_dim, b ? 1.0f : 0.0f, out, out_dim);
}

void tq_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                       int n, int in_dim, int out_dim) {
  /* din: (N,I) overwritten   dw: (I,O) +=   db: (O) +=   dout: (N,O)  in: (N,I)  w: (I,O) */
  if (dw) tq_sgemm(1, 0, in_dim, out_dim, n, 1.0f, in, in_dim, dout, out_dim, 1.0f, dw, out_dim);
  if (db)
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out_dim; o++) db[o] += dout[(size_t)i * out_dim + o];
  if (din) tq_sgemm(0, 1, n, in_dim, out_dim, 1.0f, dout, out_dim, w, out_dim, 0.0f, din, in_dim);
}
