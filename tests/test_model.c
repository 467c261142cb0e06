/* Model graph: gradients through a residual graph against finite differences, Keras naming,
 * model-file round trip and every way a model file can be bad. */
#include <string.h>
#include <unistd.h>

#include "tinyq/model.h"
#include "tq_test.h"

static tq_model *tiny(int batch, uint64_t seed) {
  tq_model *m = tq_model_new("tiny", (tq_shape3){6, 6, 2});
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  int c = tq_conv2d(m, x, 3, 3, 3, 1, 1, TQ_PAD_SAME);
  c = tq_batchnorm(m, c);
  c = tq_relu(m, c, 0);
  int a = tq_conv2d(m, c, 4, 3, 3, 2, 2, TQ_PAD_SAME);
  a = tq_activation(m, a, TQ_ACT_SWISH);
  int s = tq_conv2d(m, c, 4, 1, 1, 2, 2, TQ_PAD_SAME);
  int y = tq_add(m, a, s);
  y = tq_relu(m, y, 6.0f);
  y = tq_gap(m, y);
  y = tq_dense(m, y, 3);
  tq_layer_set_l2(m, 1, 0.0f);
  CHECK(y > 0);
  CHECK(tq_model_finalize(m, batch, TQ_INIT_GLOROT_UNIFORM, seed) == TQ_OK);
  return m;
}

/* L = sum(out * r) */
static double loss_of(tq_model *m, const float *x, const float *r, int n) {
  const float *out = tq_model_forward(m, x, n, 1, NULL);
  double l = 0;
  for (int i = 0; i < n * 3; i++) l += (double)out[i] * r[i];
  return l;
}

static void check_gradients(void) {
  const int n = 3;
  tq_model *m = tiny(n, 7);
  tq_rng rng;
  tq_rng_seed(&rng, 3);
  float x[3 * 72], r[9];
  for (int i = 0; i < 3 * 72; i++) x[i] = tq_rng_normal(&rng);
  for (int i = 0; i < 9; i++) r[i] = tq_rng_normal(&rng);
  loss_of(m, x, r, n);
  tq_model_zero_grad(m);
  tq_model_backward(m, r, n);
  int np = tq_model_num_params(m), checked = 0;
  for (int p = 0; p < np; p++) {
    int li;
    const char *pname;
    tq_param *prm = tq_model_param(m, p, &li, &pname);
    if (!prm->trainable) continue;
    for (size_t j = 0; j < prm->size; j += 3) {
      float keep = prm->value[j];
      const float eps = 2e-3f;
      prm->value[j] = keep + eps;
      double lp = loss_of(m, x, r, n);
      prm->value[j] = keep - eps;
      double lm = loss_of(m, x, r, n);
      prm->value[j] = keep;
      double fd = (lp - lm) / (2 * eps), g = prm->grad[j];
      double tol = 2e-2 * (fabs(fd) + fabs(g)) + 2e-3;
      if (fabs(fd - g) > tol)
        fprintf(stderr, "layer %s %s[%zu]: backward %g, finite difference %g\n",
                tq_model_layer(m, li)->name, pname, j, g, fd);
      CHECK(fabs(fd - g) <= tol);
      checked++;
    }
  }
  CHECK(checked > 50);
  tq_model_free(m);
}

static void check_names(void) {
  tq_model *m = tiny(1, 1);
  CHECK(strcmp(tq_model_layer(m, 0)->name, "input_1") == 0);
  CHECK(tq_model_find(m, "conv2d") == 2);
  CHECK(tq_model_find(m, "conv2d_1") == 5);
  CHECK(tq_model_find(m, "conv2d_2") == 7);
  CHECK(tq_model_find(m, "activation_1") == 6);
  CHECK(tq_model_find(m, "re_lu_1") > 0);
  CHECK(tq_model_find(m, "dense") == tq_model_num_layers(m) - 1);
  CHECK_EQ_INT(tq_model_layer(m, tq_model_find(m, "add"))->ninputs, 2);
  tq_model_free(m);
}

static void check_builder_errors(void) {
  tq_model *m = tq_model_new("bad", (tq_shape3){4, 4, 1});
  int c = tq_conv2d(m, 0, 2, 5, 5, 1, 1, TQ_PAD_VALID); /* window larger than input */
  CHECK(c < 0);
  CHECK(strstr(tq_last_error(), "window larger") != NULL);
  CHECK(tq_model_finalize(m, 1, TQ_INIT_GLOROT_UNIFORM, 1) != TQ_OK);
  tq_model_free(m);
  m = tq_model_new("bad", (tq_shape3){4, 4, 1});
  int a = tq_conv2d(m, 0, 2, 3, 3, 1, 1, TQ_PAD_SAME);
  int b = tq_conv2d(m, 0, 3, 3, 3, 1, 1, TQ_PAD_SAME);
  CHECK(tq_add(m, a, b) < 0);
  CHECK(strstr(tq_last_error(), "different shapes") != NULL);
  tq_model_free(m);
}

static void write_bytes(const char *path, const unsigned char *d, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(d, 1, n, f);
  fclose(f);
}

static void check_model_file(void) {
  char dir[] = "/tmp/tq_model_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256], bad[256];
  snprintf(path, sizeof path, "%s/m.tqm", dir);
  snprintf(bad, sizeof bad, "%s/bad.tqm", dir);
  tq_model *m = tiny(2, 11);
  tq_param *k = tq_model_param(m, 0, NULL, NULL);
  k->opt_m[0] = 0.25f;
  CHECK(tq_model_save(path, m, "{\"hello\":42}", 1) == TQ_OK);
  tq_model *l = NULL;
  char *meta = NULL;
  CHECK(tq_model_load(path, &l, &meta, 4) == TQ_OK);
  CHECK(l != NULL && meta != NULL && strstr(meta, "42") != NULL);
  if (l) {
    CHECK_EQ_INT(tq_model_num_layers(l), tq_model_num_layers(m));
    CHECK_EQ_INT(tq_model_params(l), tq_model_params(m));
    for (int p = 0; p < tq_model_num_params(m); p++) {
      tq_param *a = tq_model_param(m, p, NULL, NULL), *b = tq_model_param(l, p, NULL, NULL);
      CHECK(memcmp(a->value, b->value, a->size * 4) == 0);
    }
    CHECK(tq_model_param(l, 0, NULL, NULL)->opt_m[0] == 0.25f);
    /* Same outputs. */
    float x[72 * 2];
    for (int i = 0; i < 144; i++) x[i] = (float)(i % 7) - 3.0f;
    const float *o1 = tq_model_forward(m, x, 2, 0, NULL);
    float keep[6];
    memcpy(keep, o1, sizeof keep);
    const float *o2 = tq_model_forward(l, x, 2, 0, NULL);
    CHECK(memcmp(keep, o2, sizeof keep) == 0);
  }
  tq_model_free(l);
  tq_free(meta);

  unsigned char *data;
  size_t size;
  CHECK(tq_read_file(path, &data, &size) == TQ_OK);
  /* Truncated */
  write_bytes(bad, data, size - 10);
  CHECK(tq_model_load(bad, &l, NULL, 1) == TQ_ERR_FORMAT);
  CHECK(strstr(tq_last_error(), "bad.tqm") && strstr(tq_last_error(), "truncated"));
  write_bytes(bad, data, 12);
  CHECK(tq_model_load(bad, &l, NULL, 1) == TQ_ERR_FORMAT);
  /* Corrupted payload byte */
  data[size - 100] ^= 0x40;
  write_bytes(bad, data, size);
  CHECK(tq_model_load(bad, &l, NULL, 1) == TQ_ERR_FORMAT);
  CHECK(strstr(tq_last_error(), "checksum") != NULL);
  data[size - 100] ^= 0x40;
  /* Foreign file */
  const char *zip = "PK\3\4 this is a zip file, not a model";
  write_bytes(bad, (const unsigned char *)zip, strlen(zip));
  CHECK(tq_model_load(bad, &l, NULL, 1) == TQ_ERR_FORMAT);
  CHECK(strstr(tq_last_error(), "not a tinyq model file") != NULL);
  /* Future version */
  data[8] = 99;
  write_bytes(bad, data, size);
  CHECK(tq_model_load(bad, &l, NULL, 1) == TQ_ERR_FORMAT);
  CHECK(strstr(tq_last_error(), "version 99") != NULL);
  /* Missing file */
  CHECK(tq_model_load("/nonexistent/x.tqm", &l, NULL, 1) == TQ_ERR_IO);
  CHECK(strstr(tq_last_error(), "/nonexistent/x.tqm") != NULL);
  CHECK(l == NULL);
  /* Random byte flips are always caught (checksum) and never crash. */
  data[8] = 1;
  tq_rng rng;
  tq_rng_seed(&rng, 5);
  for (int it = 0; it < 200; it++) {
    size_t pos = tq_rng_below(&rng, (uint32_t)size);
    unsigned char keepb = data[pos];
    data[pos] ^= (unsigned char)(1 + tq_rng_below(&rng, 255));
    write_bytes(bad, data, size);
    CHECK(tq_model_load(bad, &l, NULL, 1) != TQ_OK);
    data[pos] = keepb;
  }
  free(data);
  /* A failed save never clobbers the good file: saving into a missing directory fails cleanly. */
  char nodir[300];
  snprintf(nodir, sizeof nodir, "%s/missing/m.tqm", dir);
  CHECK(tq_model_save(nodir, m, NULL, 0) == TQ_ERR_IO);
  tq_model_free(m);
  unlink(path);
  unlink(bad);
  rmdir(dir);
}

int main(void) {
  check_names();
  check_gradients();
  check_builder_errors();
  check_model_file();
  TEST_MAIN_END();
}
