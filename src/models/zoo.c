#include <string.h>

#include "models/zoo_internal.h"

static const tq_zoo_entry entries[] = {
    {"resnet8", "ResNet-8 (MLPerf Tiny image classification)", {32, 32, 3}, 10,
     TQ_LOSS_SPARSE_XENT, TQ_INIT_HE_NORMAL},
    {"dscnn", "DS-CNN small (MLPerf Tiny keyword spotting)", {49, 10, 1}, 12, TQ_LOSS_SPARSE_XENT,
     TQ_INIT_GLOROT_UNIFORM},
    {"fc_autoencoder", "FC-AutoEncoder (MLPerf Tiny anomaly detection)", {1, 1, 640}, 0,
     TQ_LOSS_MSE, TQ_INIT_GLOROT_UNIFORM},
    {"mobilenetv1", "MobileNetV1 0.25 (MLPerf Tiny visual wake words)", {96, 96, 3}, 2, TQ_LOSS_SPARSE_XENT,
     TQ_INIT_HE_NORMAL},
};

static tq_model *(*const builders[])(tq_shape3, int) = {tq_build_resnet8, tq_build_dscnn,
                                                        tq_build_fc_autoencoder, tq_build_mobilenetv1};

int tq_zoo_count(void) { return (int)(sizeof entries / sizeof entries[0]); }
const tq_zoo_entry *tq_zoo_get(int i) { return (i >= 0 && i < tq_zoo_count()) ? &entries[i] : NULL; }

const tq_zoo_entry *tq_zoo_find(const char *name) {
  for (int i = 0; i < tq_zoo_count(); i++)
    if (strcmp(entries[i].name, name) == 0) return &entries[i];
  return NULL;
}

tq_status tq_zoo_build(tq_model **out, const char *name, const tq_zoo_options *opt) {
  *out = NULL;
  int idx = -1;
  for (int i = 0; i < tq_zoo_count(); i++)
    if (strcmp(entries[i].name, name) == 0) idx = i;
  if (idx < 0) {
    char known[256] = "";
    for (int i = 0; i < tq_zoo_count(); i++) {
      strcat(known, i ? ", " : "");
      strcat(known, entries[i].name);
    }
    return tq_fail(TQ_ERR_ARG, "unknown model '%s' (known: %s)", name, known);
  }
  tq_shape3 in = entries[idx].input;
  int classes = entries[idx].classes;
  if (opt && opt->input.h > 0) in = opt->input;
  if (opt && opt->classes > 0) classes = opt->classes;
  if (in.h < 1 || in.w < 1 || in.c < 1)
    return tq_fail(TQ_ERR_ARG, "%s: bad input shape %dx%dx%d", name, in.h, in.w, in.c);
  tq_model *m = builders[idx](in, classes);
  /* the builders' messages already start with the model's name */
  if (!m) return strncmp(tq_last_error(), name, strlen(name)) ? tq_fail_prefix(TQ_ERR_ARG, "%s", name) : TQ_ERR_ARG;
  *out = m;
  return TQ_OK;
}
