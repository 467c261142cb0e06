/* Private to src/deploy: the integer graph. */
#ifndef TINYQ_DEPLOY_DMODEL_H
#define TINYQ_DEPLOY_DMODEL_H

#include "tinyq/deploy.h"
#include "tq_rt.h"

typedef struct {
  char name[64];   /* the layer whose output it is */
  int bits;        /* storage: 8 (int8_t) or 16 (int16_t) */
  int qbits;       /* the quantizer's bits (4-bit codes are stored in int8) */
  double scale;    /* real = scale * (code - zp) */
  int32_t zp, qmin, qmax;
  int po2;         /* scale is a power of two */
  int h, w, c;
  size_t size;     /* elements per sample */
  int first_op, last_op;
  size_t offset;   /* in the arena (batch 1) */
} dtensor;

/* The operations of the integer graph; each runs one runtime kernel (exec.c's table lists them). */
typedef enum {
  D_QUANTIZE, /* float input -> codes */
  D_CONV,
  D_DW,
  D_DENSE,
  D_AVGPOOL,
  D_MAXPOOL,
  D_GAP,
  D_ADD,
  D_REQUANT,
  D_PAD, /* zero padding: the input's codes inside, its zero point around */
  D_LUT, /* sigmoid/swish through a table (w: int8 for 8-bit in and out, else int16 entries) */
  D_MUL, /* feature map times a per-channel vector (squeeze-excite), requantized */
  D_COUNT
} dop_kind;

typedef struct {
  dop_kind kind;
  char layer[64];
  int in0, in1, out;
  tq_rt_conv_geom geom; /* n = 1; conv, depthwise, pools, pad; GAP, MUL: in_h, in_w, in_c */
  int in_dim, out_dim;  /* dense */
  int wbits;            /* conv, depthwise, dense: 4, 8, 16; 0 for the other operations */
  void *w;              /* packed codes in the runtime's layout */
  size_t w_bytes;
  int acc64;
  void *bias;           /* int32_t or int64_t (acc64), folded with the input zero point */
  int channels;         /* requantization channels */
  int32_t *mult;
  int8_t *shift;
  tq_rt_requant rq;
  tq_rt_add_params add;
  int32_t lut_min, lut_k; /* LUT with 16-bit input: the interpolation window (tq_rt_lut_s16_*) */
} dop;

struct tq_dmodel {
  char arch[64];
  dtensor *t;
  int nt, cap_t;
  dop *ops;
  int nops, cap_ops;
  int input, output;   /* tensor ids */
  size_t in_size;      /* float input elements per sample */
  size_t arena;
};

/* The one out-of-memory error of src/deploy: "<where>: out of memory" (where: a layer, tensor or model). */
static inline tq_status tq_deploy_oom(const char *where) {
  return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", where);
}

/* The runtime kernel name of an operation (e.g. "tq_rt_conv2d_s8_s8w_s8"), or NULL when the runtime
 * has none for its operand types (tq_deploy_lower refuses such an operation). */
const char *tq_dop_kernel_name(const tq_dmodel *d, const dop *o);
/* The bytes of an operation's weights, biases and requantization tables (tq_deploy_weight_bytes
 * sums them). */
size_t tq_dop_weight_bytes(const tq_dmodel *d, const dop *o);
/* Runs n samples through the graph into bufs (d->nt pointers, each malloc'ed here, also on error;
 * the caller frees them): every tensor's codes, for the agreement check. */
tq_status tq_deploy_exec(tq_dmodel *d, const float *x, int n, void **bufs);
/* Code i of tensor t in bufs (int8 or int16 storage). */
int32_t tq_dtensor_code(const tq_dmodel *d, void *const *bufs, int t, size_t i);
/* Liveness-based arena offsets for batch 1. */
tq_status tq_deploy_plan(tq_dmodel *d);

#endif
