/* The quantizer kinds as a table (ggml's type_traits): what differs between quantized_bits,
 * quantized_relu, ... is one entry of tq_qkinds[] (kinds.c), its QKeras arguments included. The
 * public functions (quantizer.c) and the string parser and printer (parse.c) look kinds up there
 * and never switch on tq_qkind. */
#ifndef TINYQ_QUANT_KINDS_H
#define TINYQ_QUANT_KINDS_H

#include "quant/quant_internal.h"

/* ---- arguments: the fields of tq_quantizer behind the TQ_ARG_* bits -------------------------- */

typedef enum {
  TQ_QV_INT,       /* int field */
  TQ_QV_BOOL,      /* int field, 0 or 1 (True/False or 0/1) */
  TQ_QV_FLOAT,     /* float field */
  TQ_QV_OPT_FLOAT, /* None, or a float: an int field says which */
  TQ_QV_ALPHA,     /* None, a number, 'auto' or 'auto_po2' (alpha_mode and alpha) */
  TQ_QV_AXIS       /* None (-1) or an axis index */
} tq_qvalue;

typedef struct {
  const char *name; /* QKeras keyword */
  tq_qvalue type;
  size_t field;     /* offsetof the value: int (INT, BOOL, AXIS) or float (FLOAT, OPT_FLOAT) */
  size_t given;     /* OPT_FLOAT: offsetof its int "not None" flag */
  int bool_int;     /* BOOL: printed as 0/1 (QKeras' __str__) unless the user wrote True/False */
} tq_qarg;

#define TQ_QARG_COUNT 13 /* TQ_ARG_BITS = 1 << 0 .. TQ_ARG_UNROLLS = 1 << 12 */
extern const tq_qarg tq_qargs[]; /* [i]: the argument of bit 1u << i; TQ_QARG_COUNT entries */

const tq_qarg *tq_qarg_of(unsigned bit); /* one TQ_ARG_* bit */
/* Equality of the field behind one TQ_ARG_* bit (floats: NaN equals NaN). */
int tq_qarg_equal(const tq_quantizer *a, const tq_quantizer *b, unsigned bit);

static inline int tq_qarg_get_int(const tq_quantizer *q, const tq_qarg *a) {
  int v;
  memcpy(&v, (const char *)q + a->field, sizeof v);
  return v;
}
static inline float tq_qarg_get_float(const tq_quantizer *q, const tq_qarg *a) {
  float v;
  memcpy(&v, (const char *)q + a->field, sizeof v);
  return v;
}
static inline int tq_qarg_get_given(const tq_quantizer *q, const tq_qarg *a) {
  int v;
  memcpy(&v, (const char *)q + a->given, sizeof v);
  return v;
}
static inline void tq_qarg_set_int(tq_quantizer *q, const tq_qarg *a, int v) {
  memcpy((char *)q + a->field, &v, sizeof v);
}
static inline void tq_qarg_set_float(tq_quantizer *q, const tq_qarg *a, float v) {
  memcpy((char *)q + a->field, &v, sizeof v);
}
/* OPT_FLOAT: None (given 0, value 0) or a number. */
static inline void tq_qarg_set_opt(tq_quantizer *q, const tq_qarg *a, int given, float v) {
  memcpy((char *)q + a->given, &given, sizeof given);
  tq_qarg_set_float(q, a, given ? v : 0.0f);
}

/* ---- a kind's constructor arguments, in QKeras' order ---------------------------------------- */

/* The values a "fixed" argument accepts: only its QKeras default. */
typedef enum { TQ_QFX_FALSE, TQ_QFX_TRUE, TQ_QFX_ZERO, TQ_QFX_NONE, TQ_QFX_RND } tq_qfixed_value;

typedef struct {
  unsigned arg;           /* the TQ_ARG_* bit it sets; 0: an argument tinyq supports only at its
                           * QKeras default (checked, then dropped) */
  const char *name;       /* arg == 0: its keyword (else tq_qargs' name) */
  tq_qfixed_value fixed;  /* arg == 0: the values that mean the default */
  const char *fixed_text; /* arg == 0: the default as QKeras writes it */
  double lo, hi;          /* INT, AXIS, FLOAT, OPT_FLOAT: the accepted range */
  int auto_only;          /* ALPHA: only 'auto' or 'auto_po2' (featuremap) */
  double def;             /* the default: a number; None is -1 for AXIS, NAN for OPT_FLOAT; for
                           * ALPHA a tq_alpha_mode (TQ_ALPHA_NONE or TQ_ALPHA_AUTO) */
} tq_qparam;

static inline const char *tq_qparam_name(const tq_qparam *p) {
  return p->arg ? tq_qarg_of(p->arg)->name : p->name;
}

/* ---- the kinds ------------------------------------------------------------------------------- */

/* Special results of group_axis (the others are an axis for tq_qlayout_init, -1 the last). */
#define TQ_QGROUPS_ONE (-2)     /* one step for the whole tensor */
#define TQ_QGROUPS_ELEMENT (-3) /* one step per element */

typedef struct {
  const char *name; /* QKeras class name: what the parser matches and the printer writes */
  int bare;         /* written as the bare name, never called (None) */
  const tq_qparam *params; /* constructor arguments in QKeras' order */
  int nparams;
  int npos;                /* how many leading params may be given positionally */
  int print_npos;          /* printer, quantizer built in code: at most this many positional */
  unsigned print_always;   /* printer, quantizer built in code: TQ_ARG_* always written */
  int code_bits;     /* bits of a code when the kind has no bits argument (else 0: q->bits) */
  int zero_point;    /* its codes carry a zero point per group (tq_quantize_codes fills them) */
  int has_codes;     /* tq_quantize_codes supports it */
  /* Checks beyond the ranges every kind shares; NULL: none. nm is the kind's name. */
  tq_status (*validate)(const tq_quantizer *q, const char *nm);
  /* Scale groups of a rank-`rank` tensor: an axis for tq_qlayout_init or TQ_QGROUPS_*; NULL: the
   * kind reports no scales (None). */
  int (*group_axis)(const tq_quantizer *q, int rank);
  /* Whether use_stochastic_rounding takes effect when training; NULL: never. */
  int (*stochastic)(const tq_quantizer *q);
  /* Forward (r->out) and integer codes (r->codes), steps and zero points. */
  tq_status (*apply)(const tq_qrun *r);
  /* Straight-through backward: din = dout * mask(in) (see tq_quantize_backward). */
  void (*backward)(const tq_quantizer *q, float *din, const float *dout, const float *in,
                   size_t n);
  /* Static (deployment) form; NULL: the kind has none. */
  tq_status (*static_params)(const tq_quantizer *q, float lo, float hi, tq_range_mode mode,
                             tq_qstatic *p);
  tq_status (*quantize_static)(const tq_quantizer *q, const tq_qstatic *p, float *out,
                               int32_t *codes, const float *in, size_t n);
  /* SPEC §1.1 inside a layer, for alpha None; NULL: kept as is. */
  void (*as_kernel)(tq_quantizer *q);
  /* QKeras' "scale" attribute from a step: returns 1 and sets *scale where it differs from the
   * step, else 0; NULL: always the step. */
  int (*qkeras_scale)(const tq_quantizer *q, float step, float *scale);
} tq_qkind_traits;

extern const tq_qkind_traits tq_qkinds[]; /* [kind]; TQ_Q_COUNT entries (checked in kinds.c) */

/* The entry of a kind; an unknown kind (only a corrupted struct has one) reads as None. */
static inline const tq_qkind_traits *tq_qkind_get(tq_qkind kind) {
  return (unsigned)kind < (unsigned)TQ_Q_COUNT ? &tq_qkinds[kind] : &tq_qkinds[TQ_Q_NONE];
}

/* TQ_ARG_* bits that are parameters of `kind` (the fields equality and printing look at). */
unsigned tq_qrelevant(tq_qkind kind);

#endif
