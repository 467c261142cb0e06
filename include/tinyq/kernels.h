/* Float kernels: forward/backward pairs over flat NHWC float32 arrays with Keras weight layouts.
 * Conventions (llm.c style): outputs first, then inputs, then sizes. Backward functions ACCUMULATE
 * into parameter gradients (dw, db, dgamma, ...) and OVERWRITE input gradients (din); any gradient
 * pointer may be NULL when that gradient is not needed. */
#ifndef TINYQ_KERNELS_H
#define TINYQ_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tinyq/core.h"

/* ---- GEMM: C (M,N) = alpha * op(A) op(B) + beta * C, row-major (thin wrapper over OpenBLAS). */
void tq_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

/* ---- Dense: out (N,O) = in (N,I) · w (I,O) + b (O). b may be NULL. scratch: NULL, or
 * tq_dense_scratch_floats(n, in_dim, out_dim) floats, with which O a multiple of 16 runs on Conv2D's
 * direct tiles (as a 1x1 convolution) instead of OpenBLAS. */
size_t tq_dense_scratch_floats(int n, int in_dim, int out_dim);
void tq_dense_forward(float *out, const float *in, const float *w, const float *b, int n, int in_dim,
                      int out_dim, float *scratch);
/* The same, also filling stats (tq_batchnorm_stats_floats(N, O) floats, or NULL) with
 * tq_batchnorm_stats of out (declared below), as tq_conv2d_forward_train_stats. */
void tq_dense_forward_stats(float *out, const float *in, const float *w, const float *b, int n, int in_dim,
                            int out_dim, float *scratch, float *stats);
void tq_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, int n, int in_dim, int out_dim, float *scratch);

/* ---- Convolution geometry. TensorFlow 'same': out = ceil(in/stride), total padding
 * max((out-1)*stride + k - in, 0), the extra row/column at the bottom/right. 'valid': no padding. */
typedef enum { TQ_PAD_VALID = 0, TQ_PAD_SAME = 1 } tq_padding;

typedef struct {
  int n, h, w, c;       /* input (N,H,W,C) */
  int kh, kw;           /* kernel window */
  int sh, sw;           /* strides */
  int oc;               /* output channels (conv: filters; depthwise: c * multiplier) */
  int oh, ow;           /* output height and width */
  int pad_top, pad_left;/* padding before; padding after is implied by oh/ow */
} tq_conv_shape;

/* Fills oh, ow, pad_top, pad_left from the rest. Returns TQ_ERR_ARG if the output would be empty. */
tq_status tq_conv_shape_init(tq_conv_shape *s, int n, int h, int w, int c, int kh, int kw, int sh,
                             int sw, int oc, tq_padding pad);

/* ---- Conv2D: in (N,H,W,C), w (KH,KW,C,OC) (Keras HWIO), b (OC) or NULL, out (N,OH,OW,OC).
 * scratch: at least tq_conv2d_scratch_floats(s) floats (im2col buffer), owned by the caller. */
size_t tq_conv2d_scratch_floats(const tq_conv_shape *s);
void tq_conv2d_forward(float *out, const float *in, const float *w, const float *b,
                       const tq_conv_shape *s, float *scratch);
void tq_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, const tq_conv_shape *s, float *scratch);
/* The training forward: tq_conv2d_forward, except that a 3x3 stride-1 'same' convolution with C and
 * OC multiples of 16 (C <= 128) and an even output size runs as Winograd F(2x2, 3x3), fewer
 * multiply-adds with slightly different rounding (a few ulp). The stride-1 din of tq_conv2d_backward
 * takes the same path; inference keeps the direct sum. */
void tq_conv2d_forward_train(float *out, const float *in, const float *w, const float *b,
                             const tq_conv_shape *s, float *scratch);
/* tq_conv2d_forward_train that also fills stats (tq_batchnorm_stats_floats(N*OH*OW, OC) floats) with
 * tq_batchnorm_stats of out, for the batch norm that reads it: on the direct path group by group
 * right after the group's pixels are computed, while they are in cache. */
void tq_conv2d_forward_train_stats(float *out, const float *in, const float *w, const float *b,
                                   const tq_conv_shape *s, float *scratch, float *stats);
/* Plain-loop references, for tests. */
void tq_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b,
                           const tq_conv_shape *s);
void tq_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, const tq_conv_shape *s);

/* ---- DepthwiseConv2D: in (N,H,W,C), w (KH,KW,C,M) (Keras layout), b (C*M) or NULL,
 * out (N,OH,OW,C*M) with output channel c*M + m. s->oc must equal C*M. */
void tq_depthwise_forward(float *out, const float *in, const float *w, const float *b,
                          const tq_conv_shape *s);
/* The same, also filling stats (tq_batchnorm_stats_floats(N*OH*OW, OC) floats, or NULL) with
 * tq_batchnorm_stats of out, as tq_conv2d_forward_train_stats. */
void tq_depthwise_forward_stats(float *out, const float *in, const float *w, const float *b,
                                const tq_conv_shape *s, float *stats);
void tq_depthwise_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                           const float *w, const tq_conv_shape *s);

/* ---- Batch normalization over the last axis of (rows, C) (rows = N*H*W).
 * Training: normalise with batch statistics (biased variance), store xhat (rows,C) and invstd (C)
 * for backward, and update moving_mean/moving_var with momentum (Keras: moving = m*moving +
 * (1-m)*batch, the unbiased batch variance rows/(rows-1)). Inference uses moving statistics. */
void tq_batchnorm_forward_train(float *out, float *xhat, float *invstd, float *moving_mean,
                                float *moving_var, const float *in, const float *gamma,
                                const float *beta, int rows, int c, float momentum, float eps);
void tq_batchnorm_forward_infer(float *out, const float *in, const float *gamma, const float *beta,
                                const float *moving_mean, const float *moving_var, int rows, int c,
                                float eps);
void tq_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *xhat, const float *gamma, const float *invstd, int rows,
                           int c);
/* Batch norm fused with the ReLU after it (relu_max 0; ReLU6: 6): out = relu(batchnorm(in)), the
 * same values as the two passes. Keeps the batch mean and invstd (C each) instead of xhat; the
 * backward takes the ReLU's dout and the batch norm's input (and recomputes the rest). */
void tq_batchnorm_relu_forward_train(float *out, float *mean, float *invstd, float *moving_mean,
                                     float *moving_var, const float *in, const float *gamma,
                                     const float *beta, int rows, int c, float momentum, float eps,
                                     float relu_max);
void tq_batchnorm_relu_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                const float *in, const float *mean, const float *gamma,
                                const float *beta, const float *invstd, int rows, int c,
                                float relu_max);
/* The normalising pass of the two above, given the statistics: out = gamma*xhat + beta with
 * xhat = (in - mean)*invstd kept in xhat (unless NULL), or, relu, out = relu(...) (relu_max 0;
 * ReLU6: 6). gamma, beta: (C), not NULL. out may be in. */
void tq_batchnorm_normalize(float *out, float *xhat, const float *in, const float *mean,
                            const float *invstd, const float *gamma, const float *beta, int rows,
                            int c, int relu, float relu_max);
/* Per-channel mean and biased variance of in (rows, C), the reduction of the training forward:
 * parallel and bit-identical for any number of threads. */
void tq_batchnorm_moments(double *mean, double *var, const float *in, int rows, int c);
/* The same reduction in pieces, so that the layer writing a batch norm's input can gather it while
 * the values are in cache (tq_conv2d_forward_train_stats) and the batch norm skips its own pass over
 * them. The rows fall into fixed groups of tq_batchnorm_stats_group_rows(rows) rows (a multiple of
 * 24, a function of rows only; the last group may be shorter); group g's 3*C floats at
 * stats + 3*C*g are the per-channel sums of (x - its first row), of their squares, and that first
 * row. tq_batchnorm_stats computes every group; tq_batchnorm_moments_from_stats combines them in
 * group order. Any way of filling the groups gives the same bits. tq_batchnorm_stats_floats(rows, c)
 * is enough for any number of rows up to rows. */
size_t tq_batchnorm_stats_floats(int rows, int c);
int tq_batchnorm_stats_group_rows(int rows);
void tq_batchnorm_stats_group(float *stats, const float *in, int rows, int c, int group);
void tq_batchnorm_stats(float *stats, const float *in, int rows, int c);
void tq_batchnorm_moments_from_stats(double *mean, double *var, const float *stats, int rows, int c);
/* The training forwards above with the statistics of in given (NULL: computed from in). */
void tq_batchnorm_forward_train_stats(float *out, float *xhat, float *invstd, float *moving_mean,
                                      float *moving_var, const float *in, const float *stats,
                                      const float *gamma, const float *beta, int rows, int c,
                                      float momentum, float eps);
/* The ReLU one also takes the element-wise dropout after the ReLU (dropout_rate > 0): out is then
 * the dropout's output, with the draws tq_dropout_forward makes for the key tq_rng_u64 gives
 * (dropout_key), and tq_batchnorm_relu_dropout_backward takes the dropout's gradient, redrawing
 * them: no mask is stored, the same values as the three layers' passes. */
void tq_batchnorm_relu_forward_train_stats(float *out, float *mean, float *invstd, float *moving_mean,
                                           float *moving_var, const float *in, const float *stats,
                                           const float *gamma, const float *beta, int rows, int c,
                                           float momentum, float eps, float relu_max, float dropout_rate,
                                           uint64_t dropout_key);
void tq_batchnorm_relu_dropout_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                                        const float *in, const float *mean, const float *gamma,
                                        const float *beta, const float *invstd, int rows, int c,
                                        float relu_max, float dropout_rate, uint64_t dropout_key);
/* tq_batchnorm_normalize with relu, then the dropout's draws (as above). */
void tq_batchnorm_normalize_dropout(float *out, const float *in, const float *mean, const float *invstd,
                                    const float *gamma, const float *beta, int rows, int c, float relu_max,
                                    float dropout_rate, uint64_t dropout_key);

/* ---- A batch norm + ReLU applied by the layer that reads its output. In training, a
 * DepthwiseConv2D whose input is a batch norm fused with its ReLU may take the batch norm's input and
 * its statistics instead of the ReLU's output, and normalise rows and images as it reads them (forward
 * and weight gradient), so the normalised tensor is never written to memory and read back. The values
 * are those of the batch norm's pass (tq_batchnorm_normalize with relu): the same bits. scratch:
 * tq_depthwise_pre_floats(s) floats for the normalised rows, threads * per thread; a kernel runs on at
 * most scratch_floats / (its per-thread need) threads. */
typedef struct {
  const float *mean, *invstd, *gamma, *beta; /* (C), not NULL */
  float relu_max;                            /* 0: ReLU; > 0: the cap (ReLU6: 6) */
  float *scratch;
  size_t scratch_floats;
} tq_bn_relu_pre;
/* out[r*ldo + j] = relu(gamma*((in[r*ldi + c0 + j] - mean)*invstd) + beta) of channel c0 + j, for
 * rows [0, rows) and j < nc: the normalising pass on a block. */
void tq_bn_relu_pre_rows(float *out, size_t ldo, const float *in, size_t ldi, int rows, int c0, int nc,
                         const tq_bn_relu_pre *pre);
/* Whether the depthwise kernels of shape s take a pre-op, and the floats its scratch needs for
 * `threads`. */
int tq_depthwise_pre_ok(const tq_conv_shape *s);
size_t tq_depthwise_pre_floats(const tq_conv_shape *s, int threads);
/* tq_depthwise_forward_stats and tq_depthwise_backward of relu(batchnorm(in)) (tq_depthwise_pre_ok). */
void tq_depthwise_forward_pre(float *out, const float *in, const tq_bn_relu_pre *pre, const float *w,
                              const float *b, const tq_conv_shape *s, float *stats);
void tq_depthwise_backward_pre(float *din, float *dw, float *db, const float *dout, const float *in,
                               const tq_bn_relu_pre *pre, const float *w, const tq_conv_shape *s);

/* ---- Elementwise activations over n values. Backward uses the forward INPUT (in). */
void tq_relu_forward(float *out, const float *in, size_t n);
void tq_relu_backward(float *din, const float *dout, const float *in, size_t n);
/* ReLU with max_value (ReLU6: max_value = 6). */
void tq_relu_max_forward(float *out, const float *in, size_t n, float max_value);
void tq_relu_max_backward(float *din, const float *dout, const float *in, size_t n, float max_value);
void tq_sigmoid_forward(float *out, const float *in, size_t n);
void tq_sigmoid_backward(float *din, const float *dout, const float *in, size_t n);
void tq_swish_forward(float *out, const float *in, size_t n); /* x * sigmoid(x) */
void tq_swish_backward(float *din, const float *dout, const float *in, size_t n);

/* ---- Softmax + cross-entropy, fused. logits (N,K); labels either one-hot/soft targets (N,K)
 * (targets != NULL) or class indices (N) (targets == NULL). probs (N,K) output.
 * Returns the mean loss over the batch. Backward: dlogits = (probs - target) / N * scale. */
float tq_softmax_xent_forward(float *probs, const float *logits, const float *targets,
                              const int *labels, int n, int k);
void tq_softmax_xent_backward(float *dlogits, const float *probs, const float *targets,
                              const int *labels, int n, int k);
void tq_softmax_forward(float *probs, const float *logits, int n, int k);
/* MSE: mean over all n*k values. dpred = 2 (pred - target) / (n*k). */
float tq_mse_forward(const float *pred, const float *target, size_t count);
void tq_mse_backward(float *dpred, const float *pred, const float *target, size_t count);

/* ---- Pooling (NHWC), window (kh,kw), strides, padding as in tq_conv_shape (oc == c).
 * Max pool stores the argmax flat input index per output in `argmax` (N*OH*OW*C int32).
 * Average pool 'same' divides by the number of valid (non-padded) inputs, as Keras does. */
void tq_maxpool_forward(float *out, int32_t *argmax, const float *in, const tq_conv_shape *s);
void tq_maxpool_backward(float *din, const float *dout, const int32_t *argmax,
                         const tq_conv_shape *s);
void tq_avgpool_forward(float *out, const float *in, const tq_conv_shape *s);
void tq_avgpool_backward(float *din, const float *dout, const tq_conv_shape *s);
/* Global average pool: in (N,H,W,C) -> out (N,C). */
void tq_gap_forward(float *out, const float *in, int n, int hw, int c);
void tq_gap_backward(float *din, const float *dout, int n, int hw, int c);

/* ---- Add: out = a + b (n values); backward copies dout to both. */
void tq_add_forward(float *out, const float *a, const float *b, size_t n);
/* Add fused with the ReLU after it (relu_max > 0: capped), as training runs a residual block's
 * end: out = relu(a + b), value for value what the two kernels give; backward from the ReLU's
 * output: da = db = dout where 0 < out (< relu_max), else 0 (da, db may be NULL). */
void tq_add_relu_forward(float *out, const float *a, const float *b, size_t n, float relu_max);
void tq_add_relu_backward(float *da, float *db, const float *dout, const float *out, size_t n, float relu_max);
/* ---- Channel-broadcast multiply (squeeze-excite): x (N,HW,C) * s (N,C) -> out (N,HW,C). */
void tq_chanmul_forward(float *out, const float *x, const float *s, int n, int hw, int c);
void tq_chanmul_backward(float *dx, float *ds, const float *dout, const float *x, const float *s,
                         int n, int hw, int c);

/* ---- Zero padding: in (N,H,W,C) -> out (N,H+top+bottom,W+left+right,C). */
void tq_zeropad_forward(float *out, const float *in, int n, int h, int w, int c, int top,
                        int bottom, int left, int right);
void tq_zeropad_backward(float *din, const float *dout, int n, int h, int w, int c, int top,
                         int bottom, int left, int right);

/* ---- Dropout (inverted): mask[i] = 0 or 1/(1-rate) drawn from rng; out = in * mask. */
void tq_dropout_forward(float *out, float *mask, const float *in, size_t n, float rate, tq_rng *rng);
void tq_dropout_backward(float *din, const float *dout, const float *mask, size_t n);

/* The measured multiply-add peak of this build's vector code on `threads` threads, in GFLOP/s
 * (2 per fused multiply-add), timed for at least `seconds` (src/kernels/fma_peak.c). */
double tq_fma_peak_gflops(int threads, double seconds);
/* Mean time in ns for a value to go from one thread to another and back through one cache line,
 * over `trips` round trips of two threads (0 with fewer than two threads or processors);
 * src/kernels/round_trip.c. */
double tq_thread_round_trip_ns(int trips);

#endif
