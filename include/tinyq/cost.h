/* AutoQKeras' bit-size cost model and forgiving factor (SPEC §5). */
#ifndef TINYQ_COST_H
#define TINYQ_COST_H

#include <stdio.h>

#include "tinyq/model.h"

typedef struct {
  double delta_p, delta_n; /* percent, for trials smaller / larger than the reference */
  double rate;             /* size ratio that earns delta */
  double stress;           /* the reference size is multiplied by this */
  int ref_bits;            /* reference kernel and activation bits */
  int ref_bias_bits;       /* reference bias bits */
  int input_bits;          /* bits of the model input */
} tq_goal;

/* The study's settings: 5 %, 5 %, rate 2, stress 1, 16-bit reference, 31-bit biases, 8-bit input. */
void tq_goal_defaults(tq_goal *g);

typedef struct {
  double a_bits, p_bits;      /* trial */
  double a_ref, p_ref;        /* reference */
  double trial, reference;    /* totals (reference includes stress) */
  double delta;               /* forgiving factor (fraction, e.g. 0.0512) */
} tq_size_stats;

/* Trial T = a_bits + p_bits: a_bits = input_bits * input size + sum over activation slots of
 * bits * output size; p_bits = sum over conv/dense of kernel bits * kernel size + bias bits *
 * bias size (folded BN not counted). An unquantized slot or tensor counts as 32-bit float. */
void tq_size_stats_compute(const tq_model *m, const tq_goal *g, tq_size_stats *s);
/* score = metric * (1 + delta) */
double tq_forgiving_score(double metric, const tq_size_stats *s);
/* The AutoQKeras "stats:" block followed by one line per quantized layer. */
void tq_size_stats_print(FILE *out, const tq_model *m, const tq_goal *g, const tq_size_stats *s);

#endif
