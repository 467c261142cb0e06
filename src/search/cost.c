/* Bit-size cost and forgiving factor (SPEC §5). */
#include "tinyq/cost.h"

#include <math.h>
#include <string.h>

void tq_goal_defaults(tq_goal *g) {
  g->delta_p = 5.0;
  g->delta_n = 5.0;
  g->rate = 2.0;
  g->stress = 1.0;
  g->ref_bits = 16;
  g->ref_bias_bits = 31;
  g->input_bits = 8;
}

static int qbits(const tq_quantizer *q) { return q->kind == TQ_Q_NONE ? 32 : tq_quantizer_bits(q); }

void tq_size_stats_compute(const tq_model *m, const tq_goal *g, tq_size_stats *s) {
  memset(s, 0, sizeof *s);
  double in = (double)tq_shape_size(tq_model_input_shape(m));
  s->a_bits = s->a_ref = g->input_bits * in;
  for (int i = 1; i < tq_model_num_layers(m); i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR) {
      double size = (double)tq_shape_size(l->out_shape);
      s->a_bits += qbits(&l->act_q) * size;
      s->a_ref += g->ref_bits * size;
    } else if (tq_layer_has_kernel(l)) {
      double k = (double)l->kernel.size, b = (double)l->out_shape.c;
      s->p_bits += qbits(&l->kernel_q) * k + qbits(&l->bias_q) * b;
      s->p_ref += g->ref_bits * k + g->ref_bias_bits * b;
    }
  }
  s->trial = s->a_bits + s->p_bits;
  s->reference = (s->a_ref + s->p_ref) * g->stress;
  double dp = (s->trial < s->reference ? g->delta_p : g->delta_n) / 100.0;
  s->delta = dp * log(s->reference / s->trial) / log(g->rate);
}

double tq_forgiving_score(double metric, const tq_size_stats *s) { return metric * (1.0 + s->delta); }

static double pct(double a, double b) { return b > 0 ? 100.0 * (a / b - 1.0) : 0.0; }

/* Python prints floats like 2.0 and 0.05: the shortest repr, with ".0" for integral values. */
static void pyfloat(char *buf, size_t n, double v) {
  if (v == floor(v) && fabs(v) < 1e15)
    snprintf(buf, n, "%.1f", v);
  else
    snprintf(buf, n, "%.15g", v);
}

void tq_size_stats_print(FILE *out, const tq_model *m, const tq_goal *g, const tq_size_stats *s) {
  char dp[32], dn[32], rate[32];
  pyfloat(dp, sizeof dp, g->delta_p / 100.0);
  pyfloat(dn, sizeof dn, g->delta_n / 100.0);
  pyfloat(rate, sizeof rate, g->rate);
  fprintf(out, "stats: delta_p=%s delta_n=%s rate=%s trial_size=%.0f reference_size=%.0f\n", dp,
          dn, rate, s->trial, s->reference);
  fprintf(out, "       delta=%.2f%%\n", 100.0 * s->delta);
  fprintf(out, "       a_bits=%.0f/%.0f (%+.2f%%) p_bits=%.0f/%.0f (%+.2f%%)\n", s->a_bits, s->a_ref,
          pct(s->a_bits, s->a_ref), s->p_bits, s->p_ref, pct(s->p_bits, s->p_ref));
  fprintf(out, "       total=%.0f/%.0f (%+.2f%%)\n", s->trial, s->reference,
          pct(s->trial, s->reference));
  char kq[256], bq[256];
  for (int i = 1; i < tq_model_num_layers(m); i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR) {
      tq_quantizer_format(&l->act_q, kq, sizeof kq);
      fprintf(out, "%-20s %s\n", l->name, kq);
    } else if (tq_layer_has_kernel(l)) {
      tq_quantizer_format(&l->kernel_q, kq, sizeof kq);
      tq_quantizer_format(&l->bias_q, bq, sizeof bq);
      if (l->type == TQ_L_DENSE)
        fprintf(out, "%-20s u=%d %s %s\n", l->name, l->units, kq, bq);
      else if (l->type == TQ_L_CONV2D)
        fprintf(out, "%-20s f=%d %s %s\n", l->name, l->filters, kq, bq);
      else
        fprintf(out, "%-20s f=None %s %s\n", l->name, kq, bq);
    }
  }
}
