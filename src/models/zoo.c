#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/zoo_internal.h"

static const tq_zoo_entry entries[] = {
    {"resnet8", "ResNet-8 (MLPerf Tiny image classification)", {32, 32, 3}, 10,
     TQ_LOSS_SPARSE_XENT, TQ_INIT_HE_NORMAL, NULL, 0},
    {"dscnn", "DS-CNN small (MLPerf Tiny keyword spotting)", {49, 10, 1}, 12, TQ_LOSS_SPARSE_XENT,
     TQ_INIT_GLOROT_UNIFORM, NULL, 0},
    {"fc_autoencoder", "FC-AutoEncoder (MLPerf Tiny anomaly detection)", {1, 1, 640}, 0,
     TQ_LOSS_MSE, TQ_INIT_GLOROT_UNIFORM, NULL, 0},
    {"mobilenetv1", "MobileNetV1 0.25 (MLPerf Tiny visual wake words)", {96, 96, 3}, 2, TQ_LOSS_SPARSE_XENT,
     TQ_INIT_HE_NORMAL, NULL, 0},
    {"mobilenetv2", "MobileNetV2 (Keras applications; --width 0.35|0.5|0.75|1.0)", {96, 96, 3}, 2,
     TQ_LOSS_SPARSE_XENT, TQ_INIT_GLOROT_UNIFORM, "0.35, 0.5, 0.75, 1.0", 1.0f},
    {"efficientnetb0", "EfficientNet-B0 (Keras applications)", {96, 96, 3}, 2, TQ_LOSS_SPARSE_XENT,
     TQ_INIT_HE_NORMAL, NULL, 0},
};

/* One per entry: a builder with a width multiplier when the entry lists widths. */
static const struct {
  tq_model *(*build)(tq_shape3 input, int classes);
  tq_model *(*build_width)(tq_shape3 input, int classes, float width);
} builders[] = {{tq_build_resnet8, NULL},     {tq_build_dscnn, NULL}, {tq_build_fc_autoencoder, NULL},
                {tq_build_mobilenetv1, NULL}, {NULL, tq_build_mobilenetv2}, {tq_build_efficientnetb0, NULL}};
_Static_assert(sizeof builders / sizeof builders[0] == sizeof entries / sizeof entries[0],
               "one builder per zoo entry");

int tq_zoo_count(void) { return (int)(sizeof entries / sizeof entries[0]); }
const tq_zoo_entry *tq_zoo_get(int i) { return (i >= 0 && i < tq_zoo_count()) ? &entries[i] : NULL; }

const tq_zoo_entry *tq_zoo_find(const char *name) {
  for (int i = 0; i < tq_zoo_count(); i++)
    if (strcmp(entries[i].name, name) == 0) return &entries[i];
  return NULL;
}

/* The width to build with: the default for 0, else one of the list's. */
static tq_status pick_width(const tq_zoo_entry *z, float asked, float *width) {
  if (!z->widths) {
    *width = 0;
    return asked > 0 ? tq_fail(TQ_ERR_ARG, "%s has no width multiplier (--width is for mobilenetv2)", z->name)
                     : TQ_OK;
  }
  *width = z->width;
  if (asked <= 0) return TQ_OK;
  for (const char *p = z->widths; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
    float w = strtof(p, NULL);
    if (fabsf(w - asked) < 1e-6f) {
      *width = w;
      return TQ_OK;
    }
  }
  return tq_fail(TQ_ERR_ARG, "%s: width %g is not one of %s", z->name, asked, z->widths);
}

tq_status tq_zoo_build(tq_model **out, const char *name, const tq_zoo_options *opt) {
  return tq_zoo_build_width(out, name, opt, 0);
}

tq_status tq_zoo_build_width(tq_model **out, const char *name, const tq_zoo_options *opt, float asked) {
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
  float width;
  if (opt && opt->input.h > 0) in = opt->input;
  if (opt && opt->classes > 0) classes = opt->classes;
  if (in.h < 1 || in.w < 1 || in.c < 1)
    return tq_fail(TQ_ERR_ARG, "%s: bad input shape %dx%dx%d", name, in.h, in.w, in.c);
  tq_status st = pick_width(&entries[idx], asked, &width);
  if (st) return st;
  tq_model *m = builders[idx].build ? builders[idx].build(in, classes) : builders[idx].build_width(in, classes, width);
  /* the builders' messages already start with the model's name */
  if (!m) return strncmp(tq_last_error(), name, strlen(name)) ? tq_fail_prefix(TQ_ERR_ARG, "%s", name) : TQ_ERR_ARG;
  *out = m;
  return TQ_OK;
}
