/* Search spaces: the study's file against ResNet-8 and DS-CNN (dimension and option counts, cost
 * order), limits, pattern groups sharing a dimension, configurations that qconfig accepts, the goal,
 * and every error path (each message names the file and the entry). */
#include <stdlib.h>
#include <string.h>

#include "tinyq/qconfig.h"
#include "tinyq/search.h"
#include "tinyq/zoo.h"
#include "tq_test.h"

static tq_model *model(const char *name) {
  tq_model *m = NULL;
  if (tq_zoo_build(&m, name, NULL) || tq_model_finalize(m, 1, tq_zoo_find(name)->init, 1)) {
    fprintf(stderr, "cannot build %s: %s\n", name, tq_last_error());
    exit(1);
  }
  return m;
}

static char *read_text(const char *path) {
  unsigned char *d;
  size_t n;
  if (tq_read_file(path, &d, &n)) {
    fprintf(stderr, "%s\n", tq_last_error());
    exit(1);
  }
  char *t = realloc(d, n + 1);
  t[n] = 0;
  return t;
}

static int has_kernel(const tq_layer *l) {
  return l->type == TQ_L_CONV2D || l->type == TQ_L_DEPTHWISE || l->type == TQ_L_DENSE;
}

static void count_layers(const tq_model *m, int *kern, int *slots) {
  *kern = *slots = 0;
  for (int i = 1; i < tq_model_num_layers(m); i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (has_kernel(l)) ++*kern;
    if (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR) ++*slots;
  }
}

static const tq_space_dim *find_dim(const tq_space *s, const char *label) {
  for (int d = 0; d < tq_space_ndims(s); d++)
    if (!strcmp(tq_space_dim_get(s, d)->label, label)) return tq_space_dim_get(s, d);
  return NULL;
}

static int dim_index(const tq_space *s, const char *label) {
  for (int d = 0; d < tq_space_ndims(s); d++)
    if (!strcmp(tq_space_dim_get(s, d)->label, label)) return d;
  return -1;
}

/* The study's space: every layer searchable, options in cost order. */
static void test_study(const char *study, const char *name, int want_kern, int want_slots) {
  tq_model *m = model(name);
  char *json = read_text(study);
  int kern, slots;
  count_layers(m, &kern, &slots);
  CHECK_EQ_INT(kern, want_kern);
  CHECK_EQ_INT(slots, want_slots);
  tq_space *s = NULL;
  tq_status st = tq_space_create(&s, json, study, m);
  if (st) fprintf(stderr, "%s\n", tq_last_error());
  CHECK(st == TQ_OK);
  if (st) goto done;
  CHECK_EQ_INT(tq_space_ndims(s), 2 * want_kern + want_slots);
  int nk = 0, nb = 0, na = 0;
  for (int d = 0; d < tq_space_ndims(s); d++) {
    const tq_space_dim *dim = tq_space_dim_get(s, d);
    CHECK_EQ_INT(dim->nlayers, 1);
    CHECK_EQ_INT(dim->pattern, -1);
    for (int k = 1; k < dim->noptions; k++) CHECK(dim->options[k - 1].cost <= dim->options[k].cost);
    for (int k = 0; k < dim->noptions; k++) CHECK_NEAR(dim->values[k], dim->options[k].cost, 0);
    if (dim->group == TQ_GROUP_KERNEL) {
      nk++;
      CHECK_EQ_INT(dim->noptions, 3);
      CHECK_NEAR(dim->options[0].cost, 4, 0);
      CHECK_NEAR(dim->options[2].cost, 16, 0);
      CHECK(!strcmp(dim->options[0].quantizer, "quantized_bits(4,4,1,alpha='auto')"));
      /* the bias dimension follows its kernel dimension */
      CHECK(d + 1 < tq_space_ndims(s) && tq_space_dim_get(s, d + 1)->group == TQ_GROUP_BIAS);
    } else if (dim->group == TQ_GROUP_BIAS) {
      nb++;
      CHECK_EQ_INT(dim->noptions, 2);
      CHECK(!strcmp(dim->options[1].quantizer, "quantized_bits(31,31,1,alpha='auto_po2')"));
    } else {
      na++;
      CHECK_EQ_INT(dim->noptions, 3);
    }
  }
  CHECK_EQ_INT(nk, want_kern);
  CHECK_EQ_INT(nb, want_kern);
  CHECK_EQ_INT(na, want_slots);
  CHECK(tq_space_dim_get(s, 0)->group == TQ_GROUP_ACTIVATION); /* the input slot comes first */
  CHECK(!strcmp(tq_space_dim_get(s, 0)->label, "activation"));
  CHECK(!strcmp(tq_space_dim_get(s, 1)->label, "conv2d/kernel"));
  CHECK_NEAR(tq_space_log10_size(s), want_kern * (0.47712125472 + 0.30102999566) + want_slots * 0.47712125472,
             1e-6);
  /* the goal of the file */
  tq_goal g;
  int given = 0;
  tq_space_goal(s, &g, &given);
  CHECK(given);
  CHECK_NEAR(g.delta_p, 5, 0);
  CHECK_NEAR(g.rate, 2, 0);
  CHECK_EQ_INT(g.ref_bits, 16);
  CHECK_EQ_INT(g.ref_bias_bits, 31);
  CHECK_EQ_INT(g.input_bits, 8);
  /* Every option at its most expensive = the reference model: size = reference, delta 0.
   * Every option at its cheapest: 4-bit kernels and activations, 16-bit biases. */
  int nd = tq_space_ndims(s);
  int *hi = malloc(sizeof(int) * nd), *lo = calloc(nd, sizeof(int));
  for (int d = 0; d < nd; d++) hi[d] = tq_space_dim_get(s, d)->noptions - 1;
  char *cfg = tq_space_config_json(s, hi, 1);
  CHECK(cfg != NULL);
  tq_model *q = model(name);
  CHECK(tq_qconfig_apply_json(q, cfg, "hi") == TQ_OK);
  tq_size_stats ss;
  tq_size_stats_compute(q, &g, &ss);
  CHECK_NEAR(ss.trial, ss.reference, 0);
  CHECK_NEAR(ss.delta, 0, 1e-12);
  free(cfg);
  cfg = tq_space_config_json(s, lo, 0);
  CHECK(cfg != NULL && !strchr(cfg, '\n'));
  CHECK(tq_qconfig_apply_json(q, cfg, "lo") == TQ_OK);
  for (int i = 1; i < tq_model_num_layers(q); i++) {
    const tq_layer *l = tq_model_layer_c(q, i);
    if (has_kernel(l)) {
      CHECK_EQ_INT(tq_quantizer_bits(&l->kernel_q), 4);
      CHECK_EQ_INT(tq_quantizer_bits(&l->bias_q), 16);
    } else if (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR) {
      CHECK_EQ_INT(tq_quantizer_bits(&l->act_q), 4);
      CHECK(l->act_q.kind == TQ_Q_BITS_FEATUREMAP);
    }
  }
  tq_size_stats_compute(q, &g, &ss);
  CHECK(ss.trial < ss.reference && ss.delta > 0);
  free(cfg);
  /* a bad choice is refused */
  lo[1] = 3;
  CHECK(tq_space_config_json(s, lo, 0) == NULL);
  CHECK(strstr(tq_last_error(), "conv2d/kernel") != NULL);
  free(hi);
  free(lo);
  tq_model_free(q);
done:
  tq_space_free(s);
  free(json);
  tq_model_free(m);
}

#define QC                                                                                         \
  "\"quantization_config\": {"                                                                     \
  "\"kernel\": {\"quantized_bits(16,16,1,alpha='auto')\": 16, \"quantized_bits(4,4,1,alpha='auto')\": 4," \
  " \"quantized_bits(8,8,1,alpha='auto')\": 8, \"quantized_bits(8,8,1)\": 8},"                     \
  "\"bias\": {\"quantized_bits(31,31,1,alpha='auto_po2')\": 31, \"quantized_bits(16,16,1,alpha='auto_po2')\": 16}," \
  "\"activation\": {\"quantized_bits_featuremap(8,8,1,1,alpha='auto_po2',scale_axis=0)\": 8,"     \
  " \"quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)\": 4,"                     \
  " \"quantized_relu(16,6)\": 16}}"

/* Options sorted by cost (file order on ties), class limits, list forms. */
static void test_order_and_limits(void) {
  tq_model *m = model("resnet8");
  tq_space *s = NULL;
  const char *json = "{" QC ", \"limit\": {\"Conv2D\": [8, 16, 4], \"Activation\": [4], \"Dense\": 16}}";
  CHECK(tq_space_create(&s, json, "order.json", m) == TQ_OK);
  if (!s) {
    fprintf(stderr, "%s\n", tq_last_error());
    tq_model_free(m);
    return;
  }
  const tq_space_dim *d = find_dim(s, "conv2d_3/kernel");
  CHECK(d != NULL);
  if (d) { /* 4, 8 (auto), 8 (fixed, later in the file); 16 is over the limit */
    CHECK_EQ_INT(d->noptions, 3);
    CHECK(!strcmp(d->options[0].quantizer, "quantized_bits(4,4,1,alpha='auto')"));
    CHECK(!strcmp(d->options[1].quantizer, "quantized_bits(8,8,1,alpha='auto')"));
    CHECK(!strcmp(d->options[2].quantizer, "quantized_bits(8,8,1)"));
  }
  d = find_dim(s, "conv2d_3/bias");
  CHECK(d && d->noptions == 1 && d->options[0].cost == 16);
  d = find_dim(s, "dense/kernel"); /* a number limits every group */
  CHECK(d && d->noptions == 4 && d->options[3].cost == 16);
  d = find_dim(s, "dense/bias");
  CHECK(d && d->noptions == 1);
  d = find_dim(s, "activation_4"); /* [4]: the Activation limit */
  CHECK(d && d->noptions == 1 && d->options[0].cost == 4);
  CHECK_EQ_INT(tq_space_ndims(s), 30);
  tq_goal g;
  int given = 1;
  tq_space_goal(s, &g, &given);
  CHECK(!given);
  CHECK_EQ_INT(g.ref_bits, 16); /* defaults */
  tq_space_free(s);
  tq_model_free(m);
}

/* Layers matched by one pattern share one dimension per group. */
static void test_pattern_groups(void) {
  tq_model *m = model("resnet8");
  tq_space *s = NULL;
  const char *json = "{" QC ", \"limit\": {\"^conv2d_[12]$\": [8, 31], \"^(conv2d_[34]|activation_[45])$\": [16, 16, 8],"
                     " \"conv2d_1\": 4, \"Conv2D\": [4, 16]}}";
  tq_status st = tq_space_create(&s, json, "groups.json", m);
  /* "conv2d_1" also matches conv2d_1 (and conv2d_1x names) but every layer it matches belongs to the
   * first pattern: an error (it would own nothing). */
  CHECK(st != TQ_OK && strstr(tq_last_error(), "groups.json") && strstr(tq_last_error(), "\"conv2d_1\"") &&
        strstr(tq_last_error(), "earlier pattern"));
  json = "{" QC ", \"limit\": {\"^conv2d_[12]$\": [8, 31], \"^(conv2d_[34]|activation_[45])$\": [16, 16, 8],"
         " \"Conv2D\": [4, 16]}}";
  st = tq_space_create(&s, json, "groups.json", m);
  if (st) fprintf(stderr, "%s\n", tq_last_error());
  CHECK(st == TQ_OK);
  if (s) {
    /* 30 dims - (conv2d_1, conv2d_2 share 2) - (conv2d_3, conv2d_4: 2 shared; activation_4, _5: 1) */
    CHECK_EQ_INT(tq_space_ndims(s), 30 - 2 - 2 - 1);
    const tq_space_dim *k = find_dim(s, "/^conv2d_[12]$/kernel");
    CHECK(k && k->nlayers == 2 && k->pattern == 0 && k->noptions == 3);
    CHECK(k && !strcmp(tq_model_layer_c(m, k->layers[0])->name, "conv2d_1") &&
          !strcmp(tq_model_layer_c(m, k->layers[1])->name, "conv2d_2"));
    const tq_space_dim *b = find_dim(s, "/^conv2d_[12]$/bias");
    CHECK(b && b->nlayers == 2 && b->noptions == 2);
    CHECK(find_dim(s, "conv2d_1/kernel") == NULL && find_dim(s, "conv2d_2/bias") == NULL);
    const tq_space_dim *a = find_dim(s, "/^(conv2d_[34]|activation_[45])$/activation");
    CHECK(a && a->nlayers == 2 && a->noptions == 2 && a->options[1].cost == 8);
    const tq_space_dim *k2 = find_dim(s, "/^(conv2d_[34]|activation_[45])$/kernel");
    CHECK(k2 && k2->nlayers == 2 && k2->noptions == 4);
    /* the group stands where its first layer stands: after activation_1 */
    CHECK_EQ_INT(dim_index(s, "/^conv2d_[12]$/kernel"), dim_index(s, "activation_1") + 1);
    /* a class limit still applies to the others */
    const tq_space_dim *c6 = find_dim(s, "conv2d_6/kernel");
    CHECK(c6 && c6->noptions == 1);
    /* the configuration gives the grouped layers the same quantizers */
    int nd = tq_space_ndims(s);
    int *ch = calloc(nd, sizeof(int));
    ch[dim_index(s, "/^conv2d_[12]$/kernel")] = 2;
    ch[dim_index(s, "/^(conv2d_[34]|activation_[45])$/activation")] = 1;
    char *cfg = tq_space_config_json(s, ch, 0);
    tq_model *q = model("resnet8");
    CHECK(cfg && tq_qconfig_apply_json(q, cfg, "groups") == TQ_OK);
    const tq_layer *l1 = tq_model_layer_c(q, tq_model_find(q, "conv2d_1"));
    const tq_layer *l2 = tq_model_layer_c(q, tq_model_find(q, "conv2d_2"));
    CHECK(tq_quantizer_equal(&l1->kernel_q, &l2->kernel_q) && tq_quantizer_bits(&l1->kernel_q) == 8);
    CHECK(l1->kernel_q.alpha_mode == TQ_ALPHA_NONE || l1->kernel_q.alpha_mode == TQ_ALPHA_AUTO_PO2);
    const tq_layer *a4 = tq_model_layer_c(q, tq_model_find(q, "activation_4"));
    const tq_layer *a5 = tq_model_layer_c(q, tq_model_find(q, "activation_5"));
    CHECK(tq_quantizer_bits(&a4->act_q) == 8 && tq_quantizer_bits(&a5->act_q) == 8);
    free(cfg);
    free(ch);
    tq_model_free(q);
    tq_space_free(s);
  }
  tq_model_free(m);
}

/* expect_error: creation fails and the message names the file and contains `what`. */
static void expect_error(tq_model *m, const char *json, const char *what) {
  tq_space *s = NULL;
  tq_status st = tq_space_create(&s, json, "bad.json", m);
  const char *e = tq_last_error();
  int ok = st != TQ_OK && s == NULL && strncmp(e, "bad.json: ", 10) == 0 && strstr(e, what) && !strchr(e, '\n');
  if (!ok) fprintf(stderr, "expected an error with '%s' for %s\n  got: %s\n", what, json, st ? e : "(success)");
  CHECK(ok);
  tq_space_free(s);
}

static void test_errors(void) {
  tq_model *m = model("resnet8");
  expect_error(m, "{\"quantization_config\": ", "not valid JSON");
  expect_error(m, "[1, 2]", "expected a JSON object");
  expect_error(m, "{\"limit\": {}}", "missing \"quantization_config\"");
  expect_error(m, "{\"quantization_config\": {\"kernel\": {\"quantized_bits(4,4,1)\": 4}, \"activation\": "
                  "{\"quantized_bits(4,4,1)\": 4}}}",
               "missing group \"bias\"");
  expect_error(m, "{\"quantization_config\": {\"weights\": {}}}", "unknown group \"weights\"");
  expect_error(m, "{\"quantization_config\": {\"kernel\": {}, \"bias\": {\"quantized_bits(4)\": 4}, "
                  "\"activation\": {\"quantized_bits(4)\": 4}}}",
               "quantization_config.kernel: no quantizers");
  expect_error(m, "{\"quantization_config\": {\"kernel\": {\"quantized_bitz(4,4,1)\": 4}, \"bias\": "
                  "{\"quantized_bits(4)\": 4}, \"activation\": {\"quantized_bits(4)\": 4}}}",
               "quantized_bitz");
  expect_error(m, "{\"quantization_config\": {\"kernel\": {\"quantized_bits(4,4,1)\": \"4\"}, \"bias\": "
                  "{\"quantized_bits(4)\": 4}, \"activation\": {\"quantized_bits(4)\": 4}}}",
               "bit cost");
  expect_error(m, "{\"quantization_config\": {\"kernel\": {\"quantized_bits(4,4,1)\": 0}, \"bias\": "
                  "{\"quantized_bits(4)\": 4}, \"activation\": {\"quantized_bits(4)\": 4}}}",
               "bit cost");
  expect_error(m, "{\"quantization_config\": {\"kernel\": {\"quantized_bits_featuremap(4,4,1,1)\": 4}, \"bias\": "
                  "{\"quantized_bits(4)\": 4}, \"activation\": {\"quantized_bits(4)\": 4}}}",
               "activation quantizer");
  expect_error(m, "{\"quantization_config\": {\"kernel\": {\"quantized_bits(4)\": 4, \"quantized_bits(4)\": 5}, "
                  "\"bias\": {\"quantized_bits(4)\": 4}, \"activation\": {\"quantized_bits(4)\": 4}}}",
               "listed twice");
  /* a good quantization_config, then what is wrong: {QC, <extra>} */
  static const struct {
    const char *extra, *want;
  } bad[] = {
      {"\"limits\": {}", "unknown key \"limits\""},
      /* limits */
      {"\"limit\": {\"^conv9$\": 8}", "limit \"^conv9$\": the pattern matches no layer"},
      {"\"limit\": {\"^batch_normalization$\": 8}", "matches no layer"},
      {"\"limit\": {\"conv2d(\": 8}", "regular expression"},
      {"\"limit\": {\"Conv2D\": [2, 31]}", "the choice list of conv2d is empty"},
      {"\"limit\": {\"Activation\": 3}", "no activation quantizer costs <= 3"},
      {"\"limit\": {\"Conv2D\": [8, 16, 8, 4]}", "4 entries"},
      {"\"limit\": {\"Conv2D\": [8]}", "one-element list"},
      {"\"limit\": {\"Activation\": [8, 8, 8]}", "Activation limit"},
      {"\"limit\": {\"Conv2D\": \"8\"}", "expected a number or a list"},
      {"\"limit\": {\"Conv2D\": [8, -1]}", "positive"},
      {"\"limit\": [8]", "limit: expected an object"},
      /* model/space mismatch: the list's shape does not fit the layers the pattern matches */
      {"\"limit\": {\"^conv2d_1$\": [8]}", "matches conv/dense layers of model resnet8"},
      {"\"limit\": {\"^activation_[12]$\": [8, 16]}", "matches activation slots of model resnet8"},
      /* goal */
      {"\"goal\": {\"type\": \"energy\"}", "goal.type: \"energy\" is not supported"},
      {"\"goal\": {\"params\": {\"delta\": 5}}", "unknown parameter \"delta\""},
      {"\"goal\": {\"params\": {\"rate\": 1}}", "goal.params.rate"},
      {"\"goal\": {\"params\": {\"ref_bits\": 8.5}}", "goal.params.ref_bits"},
      {"\"goal\": {\"weights\": 1}", "goal: unknown key \"weights\""},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char json[2048];
    snprintf(json, sizeof json, "{" QC ", %s}", bad[i].extra);
    expect_error(m, json, bad[i].want);
  }
  tq_model_free(m);
}

static void test_read_goal(void) {
  tq_goal g;
  tq_goal_defaults(&g);
  int given = 0;
  CHECK(tq_space_read_goal("{\"goal\": {\"params\": {\"delta_p\": 8, \"ref_bits\": 8}}}", "g.json", &g, &given) ==
        TQ_OK);
  CHECK(given);
  CHECK_NEAR(g.delta_p, 8, 0);
  CHECK_NEAR(g.delta_n, 5, 0); /* kept */
  CHECK_EQ_INT(g.ref_bits, 8);
  CHECK(tq_space_read_goal("{}", "g.json", &g, &given) == TQ_OK && !given);
  CHECK(tq_space_read_goal("{", "g.json", &g, &given) != TQ_OK && strstr(tq_last_error(), "g.json"));
}

int main(void) {
  const char *src = getenv("TQ_SRC");
  char study[4096];
  snprintf(study, sizeof study, "%s/examples/search_space_study.json", src ? src : "..");
  test_study(study, "resnet8", 10, 10);
  test_study(study, "dscnn", 10, 12);
  test_order_and_limits();
  test_pattern_groups();
  test_errors();
  test_read_goal();
  TEST_MAIN_END();
}
