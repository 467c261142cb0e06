/* Keras-like model.summary(): name (type), output shape, parameters, MACs, inputs, quantizers. */
#include <string.h>

#include "nn/layer_types.h"

static void thousands(char *buf, size_t n, size_t v) {
  char tmp[32];
  int len = snprintf(tmp, sizeof tmp, "%zu", v), o = 0;
  for (int i = 0; i < len && (size_t)o + 2 < n; i++) {
    if (i > 0 && (len - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = tmp[i];
  }
  buf[o] = 0;
}

/* Keras prints rank-2 tensors (after Flatten, Dense, GlobalAveragePooling2D, or a vector input)
 * as (None, C), and everything else as (None, H, W, C). */
static int is_flat(const tq_model *m, int i) {
  const tq_layer *l = &m->layers[i];
  switch (tq_layer_traits_of(l->type)->rank) {
    case TQ_RANK_FLAT: return 1;
    case TQ_RANK_MAP: return 0;
    case TQ_RANK_SHAPE: return l->out_shape.h == 1 && l->out_shape.w == 1;
    case TQ_RANK_INPUT: return is_flat(m, l->inputs[0]);
  }
  return 0;
}

static void shape_str(char *buf, size_t n, const tq_model *m, int i) {
  tq_shape3 s = m->layers[i].out_shape;
  if (is_flat(m, i))
    snprintf(buf, n, "(None, %d)", s.c);
  else
    snprintf(buf, n, "(None, %d, %d, %d)", s.h, s.w, s.c);
}

void tq_model_summary(const tq_model *m, FILE *out) {
  int any_q = 0;
  for (int i = 0; i < m->nlayers; i++) {
    const tq_layer *l = &m->layers[i];
    any_q |= l->kernel_q.kind || l->bias_q.kind || l->act_q.kind;
  }
  const char *rule = "____________________________________________________________________________"
                     "________________________";
  const char *dbl = "===================================================================="
                    "================================";
  fprintf(out, "Model: \"%s\"\n%s\n", m->arch, rule);
  fprintf(out, " %-44s %-22s %10s %12s  %s\n", "Layer (type)", "Output Shape", "Param #", "MACs",
          any_q ? "Connected to / quantizers" : "Connected to");
  fprintf(out, "%s\n", dbl);
  size_t total = 0, trainable = 0;
  for (int i = 0; i < m->nlayers; i++) {
    const tq_layer *l = &m->layers[i];
    char name[128], shape[48], params[32], macs[32], conn[160] = "";
    snprintf(name, sizeof name, "%s (%s)", l->name, tq_layer_type_name(l->type));
    shape_str(shape, sizeof shape, m, i);
    thousands(params, sizeof params, tq_layer_params(l));
    thousands(macs, sizeof macs, tq_layer_macs(l));
    for (int k = 0; k < l->ninputs && i > 0; k++) {
      strncat(conn, k ? ", " : "", sizeof conn - strlen(conn) - 1);
      strncat(conn, m->layers[l->inputs[k]].name, sizeof conn - strlen(conn) - 1);
    }
    fprintf(out, " %-44s %-22s %10s %12s  %s\n", name, shape, params, macs, conn);
    char q[160];
    if (l->kernel_q.kind) {
      tq_quantizer_format(&l->kernel_q, q, sizeof q);
      fprintf(out, " %-44s kernel: %s (%d bits)\n", "", q, tq_quantizer_bits(&l->kernel_q));
    }
    if (l->bias_q.kind) {
      tq_quantizer_format(&l->bias_q, q, sizeof q);
      fprintf(out, " %-44s bias:   %s (%d bits)\n", "", q, tq_quantizer_bits(&l->bias_q));
    }
    if (l->act_q.kind) {
      tq_quantizer_format(&l->act_q, q, sizeof q);
      fprintf(out, " %-44s act:    %s (%d bits)\n", "", q, tq_quantizer_bits(&l->act_q));
    }
    if (l->bn_folded_into >= 0)
      fprintf(out, " %-44s folded into %s\n", "", m->layers[l->bn_folded_into].name);
    total += tq_layer_params(l);
    trainable += tq_layer_trainable_params(l);
  }
  char a[32], b[32], c[32], d[32];
  thousands(a, sizeof a, total);
  thousands(b, sizeof b, trainable);
  thousands(c, sizeof c, total - trainable);
  thousands(d, sizeof d, tq_model_macs(m));
  fprintf(out, "%s\nTotal params: %s\nTrainable params: %s\nNon-trainable params: %s\n"
               "Total MACs: %s\n%s\n",
          dbl, a, b, c, d, rule);
}
