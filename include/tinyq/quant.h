/* tinyq quantizers: QKeras semantics (SPEC §1), forward (fake-quant) + straight-through backward,
 * auto / auto_po2 scale search, static (deployment) parameters, integer codes, and the QKeras
 * quantizer-string parser and printer.
 *
 * Tensors are float32, row-major, last axis fastest (Keras layouts: Dense IO, Conv HWIO,
 * depthwise HW x C x multiplier, activations NHWC).
 *
 * Reduction groups (the "R" of SPEC §1.1): one scale is shared by the elements of a group.
 *   - rank 1 (a bias): one group, the whole tensor (scale_axis is ignored). quantized_bits with
 *     alpha='auto_po2' then refines per element, so it reports one scale per element.
 *   - rank >= 2, scale_axis None (-1): one group per index of the LAST axis (per output channel;
 *     a depthwise kernel (KH,KW,C,1) therefore has ONE group).
 *   - rank >= 2, scale_axis = k: one group per index of axis k (k = 0 on NHWC: per sample).
 *
 * Arithmetic (where SPEC's real-number formulas leave it open): scales are float32 values, as in
 * QKeras, and so are |y|/s ('auto') and featuremap's u = x/s + zp - 1.526e-5; the roundings
 * applied to them are exact (rne; rha = trunc + [frac >= 1/2], not float32 floor(v + 0.5f));
 * po2 is computed exactly from the bits (no log2 rounding error); codes wider than 24 bits
 * (31-bit biases) are computed in double. Results do not depend on the OpenMP thread count.
 * quantized_relu mixes qnoise with the clipped relu x_u (QKeras); binary/ternary have no qnoise.
 */
#ifndef TINYQ_QUANT_H
#define TINYQ_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "tinyq/core.h"

typedef enum {
  TQ_Q_NONE = 0,        /* no quantizer: identity, prints as "None"; a zeroed struct is NONE */
  TQ_Q_BITS,            /* quantized_bits */
  TQ_Q_BITS_FEATUREMAP, /* quantized_bits_featuremap (affine activation quantizer, SPEC §1.2) */
  TQ_Q_RELU,            /* quantized_relu */
  TQ_Q_PO2,             /* quantized_po2 */
  TQ_Q_BINARY,          /* binary */
  TQ_Q_TERNARY,         /* ternary */
  TQ_Q_COUNT            /* the number of kinds (not a kind) */
} tq_qkind;

typedef enum {
  TQ_ALPHA_NONE = 0, /* alpha=None */
  TQ_ALPHA_VALUE,    /* alpha=<number>: multiplies the output */
  TQ_ALPHA_AUTO,     /* alpha='auto' */
  TQ_ALPHA_AUTO_PO2  /* alpha='auto_po2' */
} tq_alpha_mode;

/* Bits of tq_quantizer.given: which arguments the user wrote (printing reproduces them). */
enum {
  TQ_ARG_BITS = 1u << 0,
  TQ_ARG_INTEGER = 1u << 1,
  TQ_ARG_SYMMETRIC = 1u << 2,
  TQ_ARG_KEEP_NEGATIVE = 1u << 3,
  TQ_ARG_ALPHA = 1u << 4,
  TQ_ARG_STOCHASTIC = 1u << 5, /* use_stochastic_rounding */
  TQ_ARG_SCALE_AXIS = 1u << 6,
  TQ_ARG_QNOISE = 1u << 7, /* qnoise_factor */
  TQ_ARG_USE_STE = 1u << 8,
  TQ_ARG_MAX_VALUE = 1u << 9,
  TQ_ARG_USE_01 = 1u << 10,
  TQ_ARG_THRESHOLD = 1u << 11,
  TQ_ARG_UNROLLS = 1u << 12 /* number_of_unrolls */
};

typedef struct tq_quantizer {
  tq_qkind kind;
  int bits;          /* BITS/FEATUREMAP/RELU/PO2; binary 1, ternary 2 */
  int integer;       /* BITS/FEATUREMAP/RELU */
  int symmetric;     /* BITS/FEATUREMAP (0/1; forced on in auto modes) */
  int keep_negative; /* BITS/FEATUREMAP (0/1) */
  tq_alpha_mode alpha_mode;
  float alpha;       /* when alpha_mode == TQ_ALPHA_VALUE */
  int stochastic;    /* use_stochastic_rounding (BITS fixed mode, RELU; ignored in auto modes) */
  int scale_axis;    /* -1 = None */
  float qnoise_factor; /* in [0, 1]; out = (1 - q) x + q xq */
  int use_ste;       /* 1: gradient 1; 0: gradient 1 - qnoise_factor */
  int has_max_value; /* PO2: max_value given and not None */
  float max_value;
  int use_01;        /* BINARY: {0, 1} instead of {-1, +1} */
  int has_threshold; /* TERNARY */
  float threshold;
  int number_of_unrolls; /* TERNARY auto modes (default 5) */
  /* tinyq's fix of the power-of-two scale floor (README, "Why flat po2 training collapsed"):
   * quantized_bits with alpha='auto_po2' searches its scale on x itself instead of on
   * x / 2^integer. The two are equal in exact arithmetic ('integer' cancels), but QKeras' po2()
   * adds 1e-7 to the scale of x / 2^integer, which floors the step at 2^integer * 2^-23: a
   * quantized_bits(31,31,1,alpha='auto_po2') bias has a step of 256 and rounds every bias below
   * 128 to 0. Second, per scale group, the refined po2 scale is replaced by the smallest power of
   * two that clips nothing when that has the smaller squared error (QKeras' refinement can clip a
   * channel's largest weights by up to half: 25 dB SQNR at 8 bits on ResNet-8's kernels instead
   * of 44). Layers set this (tq_layer_set_quantizers); strings and equality ignore it. */
  int po2_floor_fix;
  /* Printing only (not part of equality): */
  unsigned given;    /* TQ_ARG_* written explicitly */
  unsigned pybool;   /* TQ_ARG_* booleans written as True/False rather than 1/0 */
  int npositional;   /* how many leading arguments were written positionally */
} tq_quantizer;

/* ---- Construction, inspection -------------------------------------------------------------- */

/* A quantizer of `kind` with QKeras' default arguments (quantized_bits: bits 8, integer 0, ...;
 * featuremap: alpha 'auto', scale_axis 0; binary/ternary: alpha None). given = 0. */
void tq_quantizer_init(tq_quantizer *q, tq_qkind kind);
/* Checks every field (ranges, supported combinations); the forward functions call it too. */
tq_status tq_quantizer_validate(const tq_quantizer *q);
/* Bits of one stored code: bits (BITS/FEATUREMAP/RELU/PO2), 1 (binary), 2 (ternary), 32 (NONE). */
int tq_quantizer_bits(const tq_quantizer *q);
/* Same quantization parameters (given/npositional are ignored). */
int tq_quantizer_equal(const tq_quantizer *a, const tq_quantizer *b);
/* QKeras name: "quantized_bits", ..., "None". */
const char *tq_quantizer_name(tq_qkind kind);
/* SPEC §1.1 "inside a layer": a quantized_bits *kernel* quantizer with alpha None becomes
 * alpha='auto_po2' with symmetric on (binary/ternary with alpha None likewise become 'auto_po2',
 * as QKeras does). Kept as is: bits == 1 quantized_bits (its ±1 form has no auto mode), every
 * other kind and every quantizer that has an alpha. */
void tq_quantizer_as_kernel(tq_quantizer *q);

/* ---- Strings (SPEC §1.4) -------------------------------------------------------------------- */

/* Parses a QKeras quantizer string: `name` or `name(args)`, positional before keyword, values
 * int/float/True/False/None/'str'/"str", whitespace anywhere between tokens, a trailing comma is
 * allowed. On error returns TQ_ERR_FORMAT (and leaves *q untouched) with a message quoting the
 * string and naming the argument, e.g.
 *   quantizer "quantized_bits(4,x)": argument 2 (integer): expected an integer, got 'x'   */
tq_status tq_quantizer_parse(tq_quantizer *q, const char *str);
/* Writes the QKeras string of q (the arguments the user gave, in canonical order; for a
 * programmatic quantizer the non-default ones) into buf (always NUL-terminated when n > 0).
 * Returns the length the full string needs (like snprintf). Parsing the result gives a
 * quantizer equal to q. */
size_t tq_quantizer_format(const tq_quantizer *q, char *buf, size_t n);

/* ---- Forward and backward (training) -------------------------------------------------------- */

/* Number of scales tq_quantize_forward reports for a tensor of this shape (the group count; 1 for
 * quantizers with one global step; rank-1 auto_po2 quantized_bits: one per element; 0 for NONE). */
size_t tq_quantizer_num_scales(const tq_quantizer *q, const int *dims, int rank);

/* Fake-quantizes in (shape dims[0..rank-1]) into out. out may be the same pointer as in (no other
 * overlap). If scales != NULL it receives tq_quantizer_num_scales() values: the STEP of each group,
 * i.e. the real value of one integer code, xq = step * (code - zero_point):
 *   quantized_bits fixed: alpha * 2^integer / 2^(bits - keep_negative)  (bits=1 signed: alpha)
 *   quantized_bits auto:  2^integer * s   (QKeras' own "scale" attribute is s * 2^(bits-kn); see
 *                         tq_quantizer_qkeras_scale)
 *   featuremap: s;  quantized_relu: 2^integer / 2^bits;  binary/ternary: the scale (1 for alpha
 *   None);  quantized_po2: 1.
 * training != 0 enables stochastic rounding (needs rng); otherwise rng may be NULL.
 * Errors: TQ_ERR_ARG for an invalid quantizer, shape (rank < 1, a dim < 1, scale_axis >= rank)
 * or missing rng. */
tq_status tq_quantize_forward(const tq_quantizer *q, float *out, float *scales, const float *in,
                              const int *dims, int rank, int training, tq_rng *rng);
/* The same, and range[0], range[1] = the smallest and largest value of in (as a plain pass over it
 * would find them; QAT's moving range of an activation slot): from the quantizer's own pass when it
 * makes one (quantized_bits_featuremap), else by a pass here. */
tq_status tq_quantize_forward_range(const tq_quantizer *q, float *out, float *scales, const float *in,
                                    const int *dims, int rank, int training, tq_rng *rng, float range[2]);

/* Straight-through backward: din[i] = dout[i] * mask(in[i]), OVERWRITING din. din may alias dout
 * and/or in. mask: 1 with use_ste, else 1 - qnoise_factor; quantized_relu: that inside
 * (0, 2^integer - step], 0 outside; binary/ternary with alpha None: 1 - tanh(in)^2 (QKeras
 * differentiates through tanh there). `in` is the quantizer's input from the forward pass. */
void tq_quantize_backward(const tq_quantizer *q, float *din, const float *dout, const float *in,
                          size_t n);

/* QKeras' "scale" attribute from a step (quantized_bits auto modes: step * 2^(bits-kn) /
 * 2^integer; every other quantizer: the step itself). */
float tq_quantizer_qkeras_scale(const tq_quantizer *q, float step);
/* Whether QKeras' "scale" attribute differs from the step (quantized_bits auto modes). */
int tq_quantizer_has_qkeras_scale(const tq_quantizer *q);
/* Whether integer codes carry a zero point per group (featuremap; tq_quantize_codes fills
 * zero_points); for the other kinds the zero points are 0. */
int tq_quantizer_has_zero_point(const tq_quantizer *q);

/* ---- Integer codes and static (deployment) quantization ------------------------------------- */

/* Eval-mode quantization as integer codes: codes[i] (may be NULL), and per group steps[g] and
 * zero_points[g] (each may be NULL; num_scales entries) with
 *   forward(in)[i] == steps[g] * (codes[i] - zero_points[g])  bit-exactly (qnoise_factor 1).
 * Supported: quantized_bits (codes in [-(2^(b-kn)) + sym, 2^(b-kn) - 1]; auto: [-H, H]; bits=1
 * signed: -1/+1), featuremap ([-(2^(b-1)-1), 2^(b-1)-1]), quantized_relu ([0, 2^bits - 1]),
 * binary (-1/+1 or 0/1), ternary (-1/0/+1). quantized_po2 and NONE: TQ_ERR_UNSUPPORTED. */
tq_status tq_quantize_codes(const tq_quantizer *q, int32_t *codes, float *steps,
                            int32_t *zero_points, const float *in, const int *dims, int rank);

/* Static quantization parameters of an activation quantizer (one per tensor). */
typedef struct {
  float step;          /* real value of one code */
  int32_t zero_point;  /* code of real 0 */
  int32_t zmin, zmax;  /* code range */
} tq_qstatic;

typedef enum {
  /* The formulas of SPEC §1.2 with the batch's [min, max] replaced by the calibrated range:
   * s = 2 max(|lo|,|hi|) / (2^b - 2) (po2 for 'auto_po2'), zp = rha((hi aq - lo bq)/(hi - lo)).
   * Static evaluation then equals the dynamic forward of a batch whose range is [lo, hi]. */
  TQ_RANGE_SPEC = 0,
  /* The fix of SPEC §1.2's "known weakness" (half of the codes unused for non-negative data):
   * s = (hi - lo) / (2^b - 2) (for 'auto_po2' rounded UP to a power of two so that [lo, hi] still
   * fits), zp = clip(rha(aq - lo / s), aq, bq). Featuremap only; other kinds treat it as SPEC. */
  TQ_RANGE_FULL = 1
} tq_range_mode;

/* Static parameters from a calibrated (or moving-average) range lo <= hi, for quantized_bits
 * (fixed: the fixed step; auto: s = 2 max(|lo|,|hi|) / 2^integer / L, po2 for auto_po2),
 * quantized_bits_featuremap (see tq_range_mode) and quantized_relu (fixed step). */
tq_status tq_quantizer_static_params(const tq_quantizer *q, float lo, float hi, tq_range_mode mode,
                                     tq_qstatic *p);
/* Quantizes n values with static parameters p (rounding and clipping as the dynamic forward of
 * the same quantizer; featuremap: u = x/step + zp - 1.526e-5, z = clip(rha(u))): out (may alias
 * in, may be NULL) receives p->step * (z - zp) mixed with qnoise_factor, codes (may be NULL) z. */
tq_status tq_quantize_static(const tq_quantizer *q, const tq_qstatic *p, float *out,
                             int32_t *codes, const float *in, size_t n);

/* ---- Small helpers (exposed for tests and the deploy path) ----------------------------------- */

/* po2(s) = 2^rne(log2(s + 1e-7)) (SPEC §1). */
double tq_po2(double s);
/* rha(v) = sign(v) floor(|v| + 0.5), exact for every double. */
double tq_rha(double v);

#endif
