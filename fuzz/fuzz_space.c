/* libFuzzer target: AutoQKeras search-space files (src/search/space.c) against ResNet-8, the model
 * examples/search_space_study.json was written for. Invariants:
 *   - a rejected space gives no space and a one-line error that starts with the source name;
 *   - an accepted one has dimensions with >= 1 option each, costs ascending, valid layer indices,
 *     a finite size, and its cheapest and dearest configurations are accepted by qconfig on a
 *     fresh model (what a search trial does with them);
 *   - the goal reader agrees with the space about whether the file has a goal. */
#include <math.h>

#include "fuzz_common.h"
#include "tinyq/qconfig.h"
#include "tinyq/search.h"
#include "tinyq/zoo.h"

static tq_model *model;

static tq_model *build(void) {
  tq_model *m = NULL;
  if (tq_zoo_build(&m, "resnet8", NULL) ||
      tq_model_finalize(m, 0, tq_zoo_find("resnet8")->init, 1)) {
    fprintf(stderr, "fuzz: cannot build resnet8: %s\n", tq_last_error());
    abort();
  }
  return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  model = build(); /* tq_space_create does not modify it */
  return 0;
}

static void check_config(tq_space *s, const int *choice) {
  char *cfg = tq_space_config_json(s, choice, 0);
  FUZZ_CHECK(cfg != NULL, "no configuration for a valid choice: %s", tq_last_error());
  tq_model *m = build();
  FUZZ_CHECK(tq_qconfig_apply_json(m, cfg, "trial") == TQ_OK,
             "qconfig refuses the space's configuration: %s\n%s", tq_last_error(), cfg);
  tq_model_free(m);
  free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *json = fuzz_text(data, size, 16384);
  if (!json) return 0;
  tq_space *s = NULL;
  tq_status st = tq_space_create(&s, json, "fuzz.json", model);
  tq_goal goal;
  int goal_given = 0;
  tq_goal_defaults(&goal);
  tq_status gst = tq_space_read_goal(json, "fuzz.json", &goal, &goal_given);
  if (st != TQ_OK) {
    const char *e = tq_last_error();
    FUZZ_CHECK(s == NULL, "failed but returned a space");
    FUZZ_CHECK(strncmp(e, "fuzz.json: ", 11) == 0 && !strchr(e, '\n'), "bad message: %s", e);
    free(json);
    return 0;
  }
  int nd = tq_space_ndims(s);
  FUZZ_CHECK(nd >= 1, "%d dimensions", nd);
  int *lo = calloc((size_t)nd, sizeof(int)), *hi = calloc((size_t)nd, sizeof(int));
  FUZZ_CHECK(lo && hi, "out of memory");
  for (int d = 0; d < nd; d++) {
    const tq_space_dim *dim = tq_space_dim_get(s, d);
    FUZZ_CHECK(dim->noptions >= 1 && dim->nlayers >= 1, "dimension %s: %d options, %d layers",
               dim->label, dim->noptions, dim->nlayers);
    for (int k = 0; k < dim->noptions; k++) {
      FUZZ_CHECK(dim->values[k] == (float)dim->options[k].cost, "dimension %s: value %d",
                 dim->label, k);
      FUZZ_CHECK(k == 0 || dim->options[k - 1].cost <= dim->options[k].cost,
                 "dimension %s: costs not ascending", dim->label);
    }
    for (int k = 0; k < dim->nlayers; k++)
      FUZZ_CHECK(dim->layers[k] >= 1 && dim->layers[k] < tq_model_num_layers(model),
                 "dimension %s: layer index %d", dim->label, dim->layers[k]);
    hi[d] = dim->noptions - 1;
  }
  double l10 = tq_space_log10_size(s);
  FUZZ_CHECK(isfinite(l10) && l10 >= 0, "log10 size %g", l10);
  int bad[1] = {-1};
  FUZZ_CHECK(tq_space_config_json(s, bad, 0) == NULL, "a choice of -1 gives a configuration");
  check_config(s, lo);
  check_config(s, hi);
  tq_goal g2;
  int given2 = 0;
  tq_space_goal(s, &g2, &given2);
  FUZZ_CHECK(gst == TQ_OK && given2 == goal_given, "goal reader: %d, given %d vs %d", gst,
             goal_given, given2);
  FUZZ_CHECK(g2.delta_p == goal.delta_p && g2.delta_n == goal.delta_n && g2.rate == goal.rate &&
                 g2.stress == goal.stress && g2.ref_bits == goal.ref_bits &&
                 g2.ref_bias_bits == goal.ref_bias_bits && g2.input_bits == goal.input_bits,
             "the goal reader and the space disagree");
  free(lo);
  free(hi);
  tq_space_free(s);
  free(json);
  return 0;
}
