/* The per-layer training profile: wall time and floating-point work of each layer's passes. */
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"

tq_status tq_model_profile(tq_model *m, int enable) {
  tq_free(m->profile);
  m->profile = NULL;
  if (!enable) return TQ_OK;
  m->profile = tq_alloc(sizeof(tq_layer_profile) * (size_t)m->nlayers);
  if (!m->profile) return tq_fail(TQ_ERR_MEMORY, "profile of %d layers: out of memory", m->nlayers);
  memset(m->profile, 0, sizeof(tq_layer_profile) * (size_t)m->nlayers);
  return TQ_OK;
}

const tq_layer_profile *tq_model_layer_profile(const tq_model *m, int layer) {
  return m->profile && layer >= 0 && layer < m->nlayers ? &m->profile[layer] : NULL;
}

/* The backward's products: the kernel's gradient, and the input's when some input needs it (the
 * first conv or dense layer skips it, forward.c). */
static double backward_flop(const tq_layer *l, double flop, int input_grad) {
  return (tq_layer_has_kernel(l) ? flop : 0.0) + (input_grad ? flop : 0.0);
}

void tq_profile_add(tq_model *m, const tq_layer *l, int n, int backward, int input_grad, double seconds) {
  tq_layer_profile *p = &m->profile[l - m->layers];
  double flop = 2.0 * (double)tq_layer_macs(l) * n;
  if (backward) {
    p->backward_s += seconds;
    p->backward_flop += backward_flop(l, flop, input_grad);
    p->backward_calls++;
  } else {
    p->forward_s += seconds;
    p->forward_flop += flop;
    p->forward_calls++;
  }
}

double tq_model_step_flop(const tq_model *m, int n) {
  char *needed = calloc((size_t)m->nlayers, 1);
  if (!needed) return 0;
  tq_model_mark_needed_gradients(m, needed);
  double total = 0;
  for (int j = 1; j < m->nlayers; j++) {
    const tq_layer *l = &m->layers[j];
    int input_grad = 0;
    for (int k = 0; k < l->ninputs; k++) input_grad |= needed[l->inputs[k]];
    double flop = 2.0 * (double)tq_layer_macs(l) * n;
    total += flop + backward_flop(l, flop, input_grad);
  }
  free(needed);
  return total;
}

static void print_pass(FILE *f, double s, double flop, long calls, double total, double peak) {
  if (!calls) {
    fprintf(f, " %9s %8s %6s", "", "", "");
    if (peak > 0) fprintf(f, " %6s", "");
    return;
  }
  double gf = s > 0 ? flop / s * 1e-9 : 0;
  fprintf(f, " %9.3f %8.2f %5.1f%%", 1e3 * s / calls, gf, total > 0 ? 100.0 * s / total : 0);
  if (peak > 0) fprintf(f, " %5.1f%%", 100.0 * gf / peak);
}

void tq_model_profile_print(const tq_model *m, FILE *f, double peak_gflops) {
  if (!m->profile) return;
  double total = 0, flop = 0;
  for (int i = 1; i < m->nlayers; i++) {
    total += m->profile[i].forward_s + m->profile[i].backward_s;
    flop += m->profile[i].forward_flop + m->profile[i].backward_flop;
  }
  const char *peak_col = peak_gflops > 0 ? "  peak" : "";
  fprintf(f, "%-28s %-20s | %9s %8s %6s%s | %9s %8s %6s%s\n", "layer", "type", "fwd ms", "GFLOP/s", "time",
          peak_col, "bwd ms", "GFLOP/s", "time", peak_col);
  for (int i = 1; i < m->nlayers; i++) {
    const tq_layer *l = &m->layers[i];
    const tq_layer_profile *p = &m->profile[i];
    fprintf(f, "%-28.28s %-20.20s |", l->name, tq_layer_type_name(l->type));
    print_pass(f, p->forward_s, p->forward_flop, p->forward_calls, total, peak_gflops);
    fprintf(f, " |");
    print_pass(f, p->backward_s, p->backward_flop, p->backward_calls, total, peak_gflops);
    fputc('\n', f);
  }
  fprintf(f, "profiled: %.3f s in the layers' passes, %.2f GFLOP/s overall", total, total > 0 ? flop / total * 1e-9 : 0);
  if (peak_gflops > 0) fprintf(f, " (%.1f%% of the measured FMA peak, %.1f GFLOP/s)", 100.0 * flop / total * 1e-9 / peak_gflops, peak_gflops);
  fprintf(f, "\n");
}
