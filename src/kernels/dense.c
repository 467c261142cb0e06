/* Dense (Keras IO kernel layout): out (N,O) = in (N,I) · w (I,O) + b.
 *
 * A dense layer is a 1x1 convolution over N pixels of 1x1xI, and when O is a multiple of 16 it runs
 * on Conv2D's direct register tiles (conv2d.c): in the FC-AutoEncoder's training step (batch 512,
 * 640/128 wide) that is 5-7 % faster than OpenBLAS, whose packing copies were a fifth of the step's
 * time. Other widths (and callers without scratch) take two OpenBLAS GEMMs and a column sum. Either
 * way each output value is summed by one thread in a fixed order: results are the same for any
 * thread count. */
#include <string.h>

#include "tinyq/kernels.h"

/* The 1x1 convolution a dense layer is, when the direct tiles apply. */
static int dense_conv_shape(tq_conv_shape *g, int n, int in_dim, int out_dim) {
  return out_dim % 16 == 0 && tq_conv_shape_init(g, n, 1, 1, in_dim, 1, 1, 1, 1, out_dim, TQ_PAD_VALID) == TQ_OK;
}

size_t tq_dense_scratch_floats(int n, int in_dim, int out_dim) {
  tq_conv_shape g;
  return dense_conv_shape(&g, n, in_dim, out_dim) ? tq_conv2d_scratch_floats(&g) : 0;
}

void tq_dense_forward_stats(float *out, const float *in, const float *w, const float *b, int n, int in_dim,
                            int out_dim, float *scratch, float *stats) {
  /* out: (N,O)  in: (N,I)  w: (I,O)  b: (O) or NULL  scratch: tq_dense_scratch_floats or NULL
   * stats: NULL, or tq_batchnorm_stats of out */
  tq_conv_shape g;
  if (scratch && dense_conv_shape(&g, n, in_dim, out_dim)) {
    /* a 1x1 convolution never takes the Winograd path: the forward_train of a dense layer is its forward */
    tq_conv2d_forward_train_stats(out, in, w, b, &g, scratch, stats);
    return;
  }
  if (b)
    for (int i = 0; i < n; i++) memcpy(out + (size_t)i * out_dim, b, (size_t)out_dim * sizeof(float));
  tq_sgemm(0, 0, n, out_dim, in_dim, 1.0f, in, in_dim, w, out_dim, b ? 1.0f : 0.0f, out, out_dim);
  if (stats) tq_batchnorm_stats(stats, out, n, out_dim);
}

void tq_dense_forward(float *out, const float *in, const float *w, const float *b, int n, int in_dim,
                      int out_dim, float *scratch) {
  tq_dense_forward_stats(out, in, w, b, n, in_dim, out_dim, scratch, NULL);
}

void tq_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                       int n, int in_dim, int out_dim, float *scratch) {
  /* din: (N,I) overwritten or NULL  dw: (I,O) += or NULL  db: (O) += or NULL  dout: (N,O)  in: (N,I)
   * w: (I,O)  scratch: tq_dense_scratch_floats or NULL */
  tq_conv_shape g;
  if (scratch && dense_conv_shape(&g, n, in_dim, out_dim)) {
    tq_conv2d_backward(din, dw, db, dout, in, w, &g, scratch);
    return;
  }
  if (dw) tq_sgemm(1, 0, in_dim, out_dim, n, 1.0f, in, in_dim, dout, out_dim, 1.0f, dw, out_dim);
  if (db)
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out_dim; o++) db[o] += dout[(size_t)i * out_dim + o];
  if (din) tq_sgemm(0, 1, n, in_dim, out_dim, 1.0f, dout, out_dim, w, out_dim, 0.0f, din, in_dim);
}
