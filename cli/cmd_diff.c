/* tinyq diff: what training changed between two model files of one architecture — the
 * diagnostics behind the README's QAT notes: per-tensor update ratios and zeros, the share of
 * zero codes in the quantized kernels, and the drift of batch-norm moving statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "options.h"
#include "tinyq/layer_stats.h"
#include "tinyq/model.h"
#include "tinyq/quant.h"

static const char USAGE[] =
    "usage: tinyq diff BEFORE.tqm AFTER.tqm\n\n"
    "  Compares two model files of the same architecture (a float model and its QAT run, or two\n"
    "  checkpoints) layer by layer:\n"
    "    update   ||after - before|| / ||before|| of every trainable tensor (weight-update ratio)\n"
    "    zeros    share of exact zeros in the AFTER tensor\n"
    "    zero codes  share of a quantized kernel's values that quantize to 0 (AFTER's forward pass)\n"
    "    batch-norm drift  mean over channels of |log2(var_after / var_before)| and of\n"
    "             |mean_after - mean_before| / sd_before for the moving statistics";

typedef struct {
  char before[4096], after[4096];
} diff_opts;

static const tq_arg diff_args[] = {
    TQ_ARG_FILE(diff_opts, before, "BEFORE.tqm", "two model files"),
    TQ_ARG_FILE(diff_opts, after, "AFTER.tqm", "two model files"),
};


/* Same layers (names, types) and tensor sizes, in the same order. */
static int same_architecture(tq_model *a, tq_model *b, const char *pa, const char *pb) {
  int na = tq_model_num_layers(a), nb = tq_model_num_layers(b);
  if (na != nb)
    return tq_cli_error("diff: %s has %d layers, %s has %d: not the same architecture", pa, na, pb,
                        nb);
  for (int i = 0; i < na; i++) {
    const tq_layer *la = tq_model_layer(a, i), *lb = tq_model_layer(b, i);
    if (strcmp(la->name, lb->name) || la->type != lb->type)
      return tq_cli_error("diff: layer %d is %s in %s but %s in %s: not the same architecture", i,
                          la->name, pa, lb->name, pb);
  }
  if (tq_model_num_params(a) != tq_model_num_params(b))
    return tq_cli_error("diff: %s and %s have different parameter lists", pa, pb);
  for (int p = 0; p < tq_model_num_params(a); p++) {
    int li;
    const char *name;
    tq_param *x = tq_model_param(a, p, &li, &name), *y = tq_model_param(b, p, NULL, NULL);
    if (x->size != y->size)
      return tq_cli_error("diff: %s.%s has %zu values in %s but %zu in %s", tq_model_layer(a, li)->name,
                          name, x->size, pa, y->size, pb);
  }
  return 0;
}

static void print_tensors(tq_model *a, tq_model *b) {
  printf("%-28s %-16s %10s %10s %8s\n", "layer", "tensor", "values", "update", "zeros");
  for (int p = 0; p < tq_model_num_params(a); p++) {
    int li;
    const char *name;
    tq_param *x = tq_model_param(a, p, &li, &name), *y = tq_model_param(b, p, NULL, NULL);
    if (!x->trainable) continue;
    double zeros, r = tq_update_ratio(x->value, y->value, x->size, &zeros);
    printf("%-28s %-16s %10zu %10.4g %7.1f%%\n", tq_model_layer(a, li)->name, name, x->size, r,
           100 * zeros);
  }
}

/* The kernels AFTER's forward pass multiplies with (folded and quantized: layer->aux). */
static int print_zero_codes(tq_model *b) {
  int any = 0;
  for (int i = 0; i < tq_model_num_layers(b); i++) {
    const tq_layer *l = tq_model_layer(b, i);
    any |= l->aux && l->kernel_q.kind != TQ_Q_NONE;
  }
  if (!any) return 0;
  float *x = calloc(tq_shape_size(tq_model_input_shape(b)), sizeof(float));
  if (!x || !tq_model_forward(b, x, 1, 0, NULL)) {
    free(x);
    return tq_cli_error("diff: %s", tq_last_error());
  }
  free(x);
  printf("\n%-28s %6s %12s\n", "quantized kernel (after)", "bits", "zero codes");
  for (int i = 0; i < tq_model_num_layers(b); i++) {
    const tq_layer *l = tq_model_layer(b, i);
    if (!l->aux || l->kernel_q.kind == TQ_Q_NONE) continue;
    size_t z = 0;
    for (size_t k = 0; k < l->kernel.size; k++) z += l->aux[k] == 0.0f;
    printf("%-28s %6d %11.1f%%\n", l->name, tq_quantizer_bits(&l->kernel_q),
           100.0 * (double)z / (double)l->kernel.size);
  }
  return 0;
}

static void print_bn_drift(tq_model *a, tq_model *b) {
  int header = 0;
  for (int i = 0; i < tq_model_num_layers(a); i++) {
    const tq_layer *la = tq_model_layer(a, i), *lb = tq_model_layer(b, i);
    if (la->type != TQ_L_BATCHNORM || !la->moving_var.size) continue;
    if (!header) {
      printf("\n%-28s %22s %22s\n", "batch norm (moving stats)", "|log2 var ratio|", "|mean shift| / sd");
      header = 1;
    }
    double dv = 0, dm = 0;
    size_t c = la->moving_var.size;
    for (size_t k = 0; k < c; k++) {
      double va = la->moving_var.value[k], vb = lb->moving_var.value[k];
      dv += va > 0 && vb > 0 ? fabs(log2(vb / va)) : 0;
      dm += fabs((double)lb->moving_mean.value[k] - la->moving_mean.value[k]) / sqrt(va + la->bn_eps);
    }
    printf("%-28s %22.3f %22.3f\n", la->name, dv / (double)c, dm / (double)c);
  }
}

static int diff_run(void *settings) {
  const diff_opts *o = settings;
  const char *pos[2] = {o->before, o->after};
  int rc;
  tq_model *a = NULL, *b = NULL;
  if (tq_model_load(pos[0], &a, NULL, 1) || tq_model_load(pos[1], &b, NULL, 1)) {
    rc = tq_cli_error("%s", tq_last_error());
  } else if (!(rc = same_architecture(a, b, pos[0], pos[1]))) {
    printf("Changes from %s to %s\n", pos[0], pos[1]);
    print_tensors(a, b);
    rc = print_zero_codes(b);
    if (!rc) print_bn_drift(a, b);
  }
  tq_model_free(a);
  tq_model_free(b);
  return rc;
}

static const tq_command diff_cmd = {"diff", TQ_ARGS_OF(diff_args, USAGE), TQ_RUN(diff_opts, diff_run)};
int tq_cmd_diff(int argc, char **argv) { return tq_args_run(&diff_cmd, argc, argv); }
