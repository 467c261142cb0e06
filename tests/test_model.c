/* Model graph: gradients through a residual graph against finite differences, Keras naming,
 * model-file round trip and every way a model file can be bad; the layer-type table (this test
 * reads the private table, src/nn/layer_types.h) and Reshape, the type added through it, end to
 * end: shape inference, gradients in a squeeze-excite block, model file, summary, Keras import. */
#include <math.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "nn/layer_types.h"
#include "tinyq/keras.h"
#include "tinyq/model.h"
#include "tinyq/qconfig.h"
#include "tq_test.h"

/* fanout: a linear activation after the ReLU, read by both branches (as ResNet-8's): skipped in
 * training, its readers' gradients summed into the ReLU's (forward.c, passes_through). */
static tq_model *tiny_with(int batch, uint64_t seed, int fanout) {
  tq_model *m = tq_model_new("tiny", (tq_shape3){6, 6, 2});
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  int c = tq_conv2d(m, x, 3, 3, 3, 1, 1, TQ_PAD_SAME);
  c = tq_batchnorm(m, c);
  c = tq_relu(m, c, 0);
  if (fanout) c = tq_activation(m, c, TQ_ACT_LINEAR);
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

static tq_model *tiny(int batch, uint64_t seed) { return tiny_with(batch, seed, 0); }

/* L = sum(out * r) */
static double loss_of(tq_model *m, const float *x, const float *r, int n) {
  const float *out = tq_model_forward(m, x, n, 1, NULL);
  double l = 0;
  for (int i = 0; i < n * 3; i++) l += (double)out[i] * r[i];
  return l;
}

/* Every `stride`-th trainable parameter's gradient against central differences, for a model
 * with 3 outputs and `in_size` input values per sample. */
static void check_model_gradients(tq_model *m, int n, int in_size, int stride, int min_checked) {
  tq_rng rng;
  tq_rng_seed(&rng, 3);
  float x[3 * 72], r[9];
  TQ_ASSERT(n <= 3 && in_size <= 72);
  for (int i = 0; i < n * in_size; i++) x[i] = tq_rng_normal(&rng);
  for (int i = 0; i < n * 3; i++) r[i] = tq_rng_normal(&rng);
  loss_of(m, x, r, n);
  tq_model_zero_grad(m);
  tq_model_backward(m, r, n);
  int np = tq_model_num_params(m), checked = 0;
  for (int p = 0; p < np; p++) {
    int li;
    const char *pname;
    tq_param *prm = tq_model_param(m, p, &li, &pname);
    if (!prm->trainable) continue;
    for (size_t j = 0; j < prm->size; j += (size_t)stride) {
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
  CHECK(checked > min_checked);
}

static void check_gradients(void) {
  const int threads = omp_get_max_threads();
  for (int t = 1; t <= 2; t++) { /* shared gradient buffers on one thread, one per layer on two */
    omp_set_num_threads(t);
    for (int fanout = 0; fanout < 2; fanout++) {
      tq_model *m = tiny_with(3, 7, fanout);
      check_model_gradients(m, 3, 72, 3, 50);
      tq_model_free(m);
    }
  }
  omp_set_num_threads(threads);
}

/* Layers' gradients (src/nn/grad_plan.c): shared by a chain on one thread (a gradient is alive
 * from its consumer's backward step to its own: two buffers, three where a ReLU runs fused with the
 * batch norm before it), one per layer on two threads, shared again on two threads when one per
 * layer would not fit the memory limit. check_gradients checks the values through branches, the
 * fused ReLU and a layer handing its input on, on one thread and on two. */
/* NULL when it does not fit the memory limit */
static tq_model *chain_or_null(int batch) {
  tq_model *m = tq_model_new("chain", (tq_shape3){8, 8, 4});
  int x = 0;
  for (int i = 0; i < 6; i++) x = tq_relu(m, tq_batchnorm(m, tq_conv2d(m, x, 8, 3, 3, 1, 1, TQ_PAD_SAME)), 0);
  tq_dense(m, tq_flatten(m, x), 3);
  if (tq_model_finalize(m, batch, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK) return m;
  tq_model_free(m);
  return NULL;
}

static tq_model *chain(int batch) {
  tq_model *m = chain_or_null(batch);
  CHECK(m != NULL);
  return m;
}

static int gradient_buffer(const tq_model *m, const float *dout) {
  for (int b = 0; b < m->ngrad_bufs; b++) {
    uintptr_t lo = (uintptr_t)m->grad_bufs[b], p = (uintptr_t)dout;
    if (p >= lo && p < lo + m->grad_buf_floats[b] * sizeof(float)) return b;
  }
  return -1;
}

/* Every gradient lies in its buffer, centred to a cache line (grad_plan.c: two threads each keep
 * their half of every occupant); a batch norm computes its input's gradient in place over its ReLU's
 * (grad_plan.c, in_place_top: conv, BN and ReLU share one gradient), with one buffer per layer and
 * shared buffers alike; other neighbours never share a buffer (a step reads its own gradient while it
 * writes its input's). Returns how many buffers the layers use. */
static int distinct_gradients(tq_model *m) {
  int n = tq_model_num_layers(m), distinct = 0;
  for (int i = 0; i < n; i++) {
    const tq_layer *l = tq_model_layer(m, i);
    const int b = gradient_buffer(m, l->dout);
    const size_t need = (size_t)tq_model_max_batch(m) * tq_shape_size(l->out_shape);
    CHECK(b >= 0 && need <= m->grad_buf_floats[b]);
    const size_t below = (size_t)(l->dout - m->grad_bufs[b]), above = m->grad_buf_floats[b] - below - need;
    CHECK(below % 16 == 0 && below <= above + 2 && above <= below + 33);
    int seen = 0;
    for (int j = 0; j < i; j++) seen |= gradient_buffer(m, tq_model_layer(m, j)->dout) == b;
    distinct += !seen;
  }
  for (int i = 2; i < n; i++) {
    const tq_layer *l = tq_model_layer(m, i), *prev = tq_model_layer(m, i - 1);
    int chained = (l->type == TQ_L_BATCHNORM || (l->type == TQ_L_RELU && prev->type == TQ_L_BATCHNORM));
    CHECK((l->dout == prev->dout) == chained);
    CHECK((gradient_buffer(m, l->dout) == gradient_buffer(m, prev->dout)) == chained);
  }
  return distinct;
}

/* No product for a gradient nobody needs (forward.c, grad_needed): behind a parameter-free layer on
 * the input (a QAT input quantizer, here a ReLU) the conv leaves that layer's gradient unwritten;
 * the parameters' gradients stay right. Two threads: one gradient buffer per layer. */
static void check_unneeded_gradient(void) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(2);
  tq_model *m = tq_model_new("front", (tq_shape3){6, 6, 2});
  int x = tq_relu(m, 0, 0);
  int c = tq_conv2d(m, x, 4, 3, 3, 1, 1, TQ_PAD_SAME); /* no kink after it: clean differences */
  c = tq_gap(m, c);
  c = tq_dense(m, c, 3);
  tq_layer_set_l2(m, 2, 0.0f);
  CHECK(c > 0 && tq_model_finalize(m, 3, TQ_INIT_GLOROT_UNIFORM, 5) == TQ_OK);
  tq_layer *front = &m->layers[x];
  size_t n = 3 * tq_shape_size(front->out_shape);
  for (size_t i = 0; i < n; i++) front->dout[i] = NAN;
  check_model_gradients(m, 3, 72, 2, 40);
  size_t untouched = 0;
  for (size_t i = 0; i < n; i++) untouched += isnan(front->dout[i]);
  CHECK(untouched == n);
  tq_model_free(m);
  omp_set_num_threads(threads);
}

static void check_gradient_buffers(void) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  tq_model *m = chain(16);
  CHECK(tq_model_num_layers(m) == 21 && distinct_gradients(m) <= 3);
  tq_model_free(m);
  omp_set_num_threads(2);
  m = chain(16);
  CHECK(distinct_gradients(m) == 9); /* the input, six conv-BN-ReLU chains, flatten, dense */
  tq_model_free(m);
  /* batch 1280: one buffer per layer would be 19.7 MB, over TQ_GRAD_SHARE_BYTES: shared, centred */
  m = chain(1280);
  CHECK(tq_model_gradient_floats(m, 0) * sizeof(float) > TQ_GRAD_SHARE_BYTES);
  CHECK(distinct_gradients(m) <= 3);
  tq_model_free(m);
  /* batch 256: outputs 256 x (8x8x4 + 18 x 8x8x8 + 512 + 3) floats = 10.2 MB, the batch norms'
   * saved state 3.1 MB, parameters a few KB; gradients one per layer (but the in-place chains) 3.9
   * MB, shared 1.05 MB. Lowering the limit in 128 KB steps from what the first takes: some limit
   * builds the model with shared buffers before none fits at all (here the first: finalize's
   * estimate counts the scratch too). */
  size_t limit = tq_mem_limit(), live = tq_mem_in_use();
  m = chain(256);
  size_t need = tq_mem_in_use() - live;
  CHECK(distinct_gradients(m) == 9);
  tq_model_free(m);
  int shared_at = -1;
  for (int k = 0; k < 64 && shared_at < 0; k++) {
    tq_mem_set_limit(live + need - (size_t)k * 131072);
    if (!(m = chain_or_null(256))) break;
    if (distinct_gradients(m) <= 3)
      shared_at = k;
    tq_model_free(m);
  }
  CHECK(shared_at >= 0);
  tq_mem_set_limit(limit);
  omp_set_num_threads(threads);
}

/* Linear activation slots (grad_plan.c, in_place_top; forward.c, passes_through): on two threads a
 * slot read alone by its reader takes its input's gradient in place, after a conv-BN-ReLU chain or
 * after any layer, and a linear last layer is skipped in training (the loss reads its input's
 * output). Float gradients against central differences on one and two threads; float and QAT
 * parameter gradients bit for bit the same as with shared buffers (no chains). */
static tq_model *slots(int batch) {
  tq_model *m = tq_model_new("slots", (tq_shape3){1, 1, 12});
  int x = 0;
  for (int i = 0; i < 2; i++) x = tq_relu(m, tq_batchnorm(m, tq_dense(m, tq_activation(m, x, TQ_ACT_LINEAR), 16 >> i)), 0);
  x = tq_activation(m, tq_dense(m, tq_activation(m, x, TQ_ACT_LINEAR), 3), TQ_ACT_LINEAR);
  CHECK(x == tq_model_num_layers(m) - 1);
  CHECK(tq_model_finalize(m, batch, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK); /* 7: a ReLU kink within eps */
  return m;
}

/* the trainable parameters' gradients after one training step into grads; returns their count */
static size_t slot_grads(tq_model *m, int qat, float *grads) {
  if (qat) { /* as the benchmark's QAT: every slot, kernel and bias quantized, batch norms folded */
    CHECK(tq_qconfig_apply_flat(m, 8, "auto") == TQ_OK);
    CHECK(tq_model_layer(m, 3)->type == TQ_L_BATCHNORM && tq_model_layer(m, 3)->bn_folded_into == 2);
  }
  float x[3 * 12], r[9];
  tq_rng rng;
  tq_rng_seed(&rng, 5);
  for (int i = 0; i < 36; i++) x[i] = tq_rng_normal(&rng);
  for (int i = 0; i < 9; i++) r[i] = tq_rng_normal(&rng);
  const float *out = tq_model_forward(m, x, 3, 1, NULL);
  CHECK(out != NULL);
  /* float: the last layer hands on its input's buffer; QAT: it quantizes into its own */
  const int last = tq_model_num_layers(m) - 1;
  CHECK((out == tq_model_layer(m, last - 1)->out) == !qat);
  tq_model_zero_grad(m);
  tq_model_backward(m, r, 3);
  size_t k = 0;
  for (int p = 0; p < tq_model_num_params(m); p++) {
    tq_param *prm = tq_model_param(m, p, NULL, NULL);
    if (prm->trainable) memcpy(grads + k, prm->grad, prm->size * sizeof(float)), k += prm->size;
  }
  return k;
}

static void check_slot_chains(void) {
  const int threads = omp_get_max_threads();
  for (int t = 1; t <= 2; t++) {
    omp_set_num_threads(t);
    tq_model *m = slots(3);
    check_model_gradients(m, 3, 12, 2, 100);
    tq_model_free(m);
  }
  omp_set_num_threads(2);
  tq_model *m = slots(3);
  const int n = tq_model_num_layers(m);
  for (int i = 1; i < n; i++) { /* each slot shares its input's gradient, the dense after it its own */
    const tq_layer *l = tq_model_layer(m, i), *prev = tq_model_layer(m, i - 1);
    if (l->type == TQ_L_ACTIVATION) CHECK(l->dout == prev->dout);
    if (l->type == TQ_L_DENSE) CHECK(l->dout != prev->dout);
  }
  tq_model_free(m);
  for (int qat = 0; qat < 2; qat++) {
    size_t np = 0;
    m = slots(3);
    for (int p = 0; p < tq_model_num_params(m); p++) np += tq_model_param(m, p, NULL, NULL)->size;
    float *chained = tq_alloc_floats(np), *shared = tq_alloc_floats(np);
    size_t k = slot_grads(m, qat, chained);
    tq_model_free(m);
    m = slots(3);
    tq_model_free_gradients(m);
    CHECK(tq_model_plan_gradients(m, 1) == TQ_OK);
    CHECK(tq_model_layer(m, 2)->dout != tq_model_layer(m, 1)->dout); /* chains when shared too */
    CHECK(tq_model_layer(m, 1)->dout == tq_model_layer(m, 0)->dout && tq_model_layer(m, 5)->dout == tq_model_layer(m, 2)->dout);
    CHECK(slot_grads(m, qat, shared) == k);
    tq_model_free(m);
    CHECK(k > 100 && memcmp(chained, shared, k * sizeof(float)) == 0);
    tq_free(chained), tq_free(shared);
  }
  omp_set_num_threads(threads);
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

/* ---- The layer-type table, and Reshape */

static void check_rows(void) {
  for (int t = 0; t < TQ_L_COUNT; t++) {
    const tq_layer_traits *r = tq_layer_traits_of((tq_layer_type)t);
    CHECK(r->keras_class && r->stem && r->forward && r->backward);
    CHECK(r->ninputs == (t == TQ_L_INPUT ? 0 : t == TQ_L_ADD || t == TQ_L_MULTIPLY ? 2 : 1));
    if (t > 0) CHECK_EQ_INT(tq_layer_type_of_class(r->keras_class), t);
    /* a type with a kernel counts, allocates and saves it */
    if (r->has_kernel) CHECK(r->count && r->alloc_params && r->save && r->load && r->infer);
    /* what is saved is loaded */
    CHECK(!r->save == !r->load);
    for (int u = 0; u < t; u++) CHECK(strcmp(tq_layer_traits_of((tq_layer_type)u)->stem, r->stem) != 0);
  }
  CHECK_EQ_INT(tq_layer_type_of_qclass("QConv2D"), TQ_L_CONV2D);
  CHECK_EQ_INT(tq_layer_type_of_qclass("DepthwiseConv2D"), TQ_L_DEPTHWISE);
  CHECK_EQ_INT(tq_layer_type_of_qclass("QActivation"), TQ_L_ACTIVATION);
  CHECK_EQ_INT(tq_layer_type_of_qclass("Reshape"), -1);
  CHECK_EQ_INT(tq_layer_type_of_qclass("QReLU"), -1);
  CHECK(strcmp(tq_layer_type_name(TQ_L_RESHAPE), "Reshape") == 0);
}

/* input 4x4x3 -> conv 2 -> squeeze-excite (GAP, Reshape (1,1,2), 1x1 conv, sigmoid, Multiply)
 * -> Flatten -> Reshape (2,4,4) -> Flatten -> Dense 3 */
static tq_model *se_model(int batch) {
  tq_model *m = tq_model_new("se", (tq_shape3){4, 4, 3});
  int x = tq_conv2d(m, 0, 2, 3, 3, 1, 1, TQ_PAD_SAME);
  int s = tq_gap(m, x);
  s = tq_reshape(m, s, 1, 1, 2);
  s = tq_conv2d(m, s, 2, 1, 1, 1, 1, TQ_PAD_VALID);
  s = tq_activation(m, s, TQ_ACT_SIGMOID);
  int y = tq_reshape(m, tq_flatten(m, tq_multiply(m, x, s)), 2, 4, 4);
  y = tq_dense(m, tq_flatten(m, y), 3);
  CHECK(y > 0);
  CHECK(tq_model_finalize(m, batch, TQ_INIT_GLOROT_UNIFORM, 5) == TQ_OK);
  return m;
}

static void check_reshape_shapes(void) {
  tq_model *m = se_model(2);
  const tq_layer *r = tq_model_layer(m, tq_model_find(m, "reshape"));
  CHECK(r->type == TQ_L_RESHAPE && r->out_shape.h == 1 && r->out_shape.w == 1 && r->out_shape.c == 2);
  r = tq_model_layer(m, tq_model_find(m, "reshape_1"));
  CHECK(r->out_shape.h == 2 && r->out_shape.w == 4 && r->out_shape.c == 4);
  CHECK_EQ_INT(tq_layer_params(r), 0);
  CHECK_EQ_INT(tq_layer_macs(r), 0);
  tq_model_free(m);
  /* the element count must match */
  m = tq_model_new("bad", (tq_shape3){2, 2, 2});
  CHECK(tq_reshape(m, 0, 3, 1, 1) < 0);
  CHECK(strstr(tq_last_error(), "target shape 3x1x1 must have the 8 values of its input 2x2x2") != NULL);
  CHECK(tq_model_finalize(m, 1, TQ_INIT_GLOROT_UNIFORM, 1) != TQ_OK);
  tq_model_free(m);
  m = tq_model_new("bad", (tq_shape3){2, 2, 2});
  CHECK(tq_reshape(m, 0, 8, 0, 1) < 0);
  tq_model_free(m);
}

/* Backward through the reshapes (copies) and the squeeze-excite. */
static void check_reshape_gradients(void) {
  tq_model *m = se_model(2);
  check_model_gradients(m, 2, 48, 2, 40);
  tq_model_free(m);
}

static char *summary_of(const tq_model *m) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  tq_model_summary(m, f);
  fclose(f);
  return text;
}

static void check_reshape_file_and_summary(void) {
  char dir[] = "/tmp/tq_layers_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/se.tqm", dir);
  tq_model *m = se_model(2), *l = NULL;
  CHECK(tq_model_save(path, m, NULL, 0) == TQ_OK);
  CHECK(tq_model_load(path, &l, NULL, 2) == TQ_OK);
  if (l) {
    const tq_layer *r = tq_model_layer(l, tq_model_find(l, "reshape_1"));
    CHECK(r->type == TQ_L_RESHAPE && r->out_shape.h == 2 && r->out_shape.w == 4 && r->out_shape.c == 4);
    float x[2 * 48], keep[6];
    for (int i = 0; i < 96; i++) x[i] = (float)(i % 5) - 2.0f;
    memcpy(keep, tq_model_forward(m, x, 2, 0, NULL), sizeof keep);
    CHECK(memcmp(keep, tq_model_forward(l, x, 2, 0, NULL), sizeof keep) == 0);
  }
  char *s = summary_of(m);
  CHECK(strstr(s, " reshape (Reshape)") != NULL);
  CHECK(strstr(s, "(None, 1, 1, 2)") != NULL);
  CHECK(strstr(s, "(None, 2, 4, 4)") != NULL);
  free(s);
  tq_model_free(l);
  tq_model_free(m);
  unlink(path);
  rmdir(dir);
}

/* EfficientNet's squeeze-excite: GlobalAveragePooling2D -> Reshape((1, 1, C)) -> 1x1 convs ->
 * Multiply; and a rank-1 target with -1 (1 x 1 x everything). */
#define KX_LAYER(cls, name, cfg, inbound)                                                              \
  "{\"class_name\":\"" cls "\",\"name\":\"" name "\",\"config\":{\"name\":\"" name "\"" cfg "},"       \
  "\"inbound_nodes\":[" inbound "]}"
#define KX_IN(a) "[[\"" a "\",0,0,{}]]"

static const char *se_config(const char *target) {
  static char buf[4096];
  snprintf(buf, sizeof buf,
           "{\"class_name\":\"Functional\",\"config\":{\"name\":\"se\",\"layers\":["
           KX_LAYER("InputLayer", "input_1", ",\"batch_input_shape\":[null,4,4,3]", "") ","
           KX_LAYER("Conv2D", "conv", ",\"filters\":2,\"kernel_size\":[3,3],\"strides\":[1,1],"
                    "\"padding\":\"same\",\"activation\":\"relu\"", KX_IN("input_1")) ","
           KX_LAYER("GlobalAveragePooling2D", "se_squeeze", "", KX_IN("conv")) ","
           KX_LAYER("Reshape", "se_reshape", ",\"target_shape\":%s", KX_IN("se_squeeze")) ","
           KX_LAYER("Conv2D", "se_expand", ",\"filters\":2,\"kernel_size\":[1,1],\"strides\":[1,1],"
                    "\"padding\":\"same\",\"activation\":\"sigmoid\"", KX_IN("se_reshape")) ","
           KX_LAYER("Multiply", "se_excite", "", "[[\"conv\",0,0,{}],[\"se_expand\",0,0,{}]]") ","
           KX_LAYER("Reshape", "flat", ",\"target_shape\":[-1]", KX_IN("se_excite")) ","
           KX_LAYER("Dense", "out", ",\"units\":3,\"activation\":\"softmax\"", KX_IN("flat"))
           "],\"input_layers\":[[\"input_1\",0,0]],\"output_layers\":[[\"out\",0,0]]}}",
           target);
  return buf;
}

static void check_reshape_import(void) {
  tq_model *m = NULL;
  CHECK(tq_keras_import(&m, NULL, se_config("[1,1,2]"), NULL, NULL, "se.h5") == TQ_OK);
  if (m) {
    const tq_layer *r = tq_model_layer(m, tq_model_find(m, "se_reshape"));
    CHECK(r->type == TQ_L_RESHAPE && r->out_shape.h == 1 && r->out_shape.w == 1 && r->out_shape.c == 2);
    r = tq_model_layer(m, tq_model_find(m, "flat"));
    CHECK(r->type == TQ_L_RESHAPE && r->out_shape.h == 1 && r->out_shape.w == 1 && r->out_shape.c == 32);
    CHECK(tq_model_layer(m, tq_model_find(m, "se_excite"))->type == TQ_L_MULTIPLY);
  }
  tq_model_free(m);
  m = NULL;
  CHECK(tq_keras_import(&m, NULL, se_config("[1,-1,2]"), NULL, NULL, "se.h5") == TQ_OK);
  tq_model_free(m);
  m = NULL;
  CHECK(tq_keras_import(&m, NULL, se_config("[2,2,2]"), NULL, NULL, "se.h5") != TQ_OK);
  CHECK(strstr(tq_last_error(), "se.h5: layer 'se_reshape' (Reshape):") != NULL);
  CHECK(strstr(tq_last_error(), "target shape 2x2x2 must have the 2 values") != NULL);
  CHECK(m == NULL);
  CHECK(tq_keras_import(&m, NULL, se_config("[1,2]"), NULL, NULL, "se.h5") == TQ_ERR_UNSUPPORTED);
  CHECK(strstr(tq_last_error(), "target_shape must be (H, W, C) or (C,)") != NULL);
  CHECK(tq_keras_import(&m, NULL, se_config("[-1,-1,2]"), NULL, NULL, "se.h5") == TQ_ERR_FORMAT);
  CHECK(strstr(tq_last_error(), "one may be -1") != NULL);
}

/* Weight transfer: by name, every layer with parameters needs its namesake; by structure, names
 * do not matter, quantizer slots and dropout are looked through, ReLU() = Activation('relu'), and
 * two convolutions reading the same tensor are told apart by their sizes. */
static tq_model *branchy(int slots, int keras_relu) {
  tq_model *m = tq_model_new("b", (tq_shape3){6, 6, 2});
  int x = slots ? tq_activation(m, 0, TQ_ACT_LINEAR) : 0;
  int a, b;
  if (keras_relu) { /* the 1x1 shortcut first, as a Keras file may list it: it is conv2d there */
    b = tq_conv2d(m, x, 4, 1, 1, 1, 1, TQ_PAD_SAME);
    a = tq_conv2d(m, x, 4, 3, 3, 1, 1, TQ_PAD_SAME);
  } else {
    a = tq_conv2d(m, x, 4, 3, 3, 1, 1, TQ_PAD_SAME);
    b = tq_conv2d(m, x, 4, 1, 1, 1, 1, TQ_PAD_SAME);
  }
  int r = keras_relu ? tq_activation(m, tq_add(m, b, a), TQ_ACT_RELU) : tq_relu(m, tq_add(m, a, b), 0);
  if (slots) r = tq_activation(m, r, TQ_ACT_LINEAR);
  tq_dense(m, tq_flatten(m, tq_dropout(m, tq_batchnorm(m, r), 0.1f)), 3);
  CHECK(tq_model_finalize(m, 1, TQ_INIT_GLOROT_UNIFORM, keras_relu ? 7 : 8) == TQ_OK);
  return m;
}

static void check_weight_transfer(void) {
  tq_model *zoo = branchy(1, 0), *file = branchy(0, 1), *other = branchy(0, 0);
  CHECK(tq_model_copy_weights(zoo, file) != TQ_OK); /* by name: conv2d is 3x3 here, 1x1 there */
  CHECK(tq_model_copy_weights_by_structure(zoo, file) == TQ_OK);
  for (int i = 1; i < tq_model_num_layers(zoo); i++) {
    const tq_layer *z = tq_model_layer_c(zoo, i);
    if (!z->kernel.size && !z->gamma.size) continue;
    int j = -1; /* its counterpart: the file's layer of the same type and kernel size */
    for (int k = 1; k < tq_model_num_layers(file); k++) {
      const tq_layer *f = tq_model_layer_c(file, k);
      if (f->type == z->type && f->kernel.size == z->kernel.size) j = k;
    }
    CHECK(j > 0 && !memcmp(z->kernel.value ? z->kernel.value : z->gamma.value,
                           tq_model_layer_c(file, j)->kernel.value ? tq_model_layer_c(file, j)->kernel.value
                                                                   : tq_model_layer_c(file, j)->gamma.value,
                           (z->kernel.size ? z->kernel.size : z->gamma.size) * sizeof(float)));
  }
  tq_model *small = tq_model_new("s", (tq_shape3){6, 6, 2});
  tq_dense(small, tq_flatten(small, tq_conv2d(small, 0, 4, 3, 3, 1, 1, TQ_PAD_SAME)), 3);
  CHECK(tq_model_finalize(small, 1, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
  CHECK(tq_model_copy_weights_by_structure(small, other) != TQ_OK); /* other has more layers */
  CHECK(strstr(tq_last_error(), "has no counterpart"));
  CHECK(tq_model_copy_weights_by_structure(other, small) != TQ_OK);
  CHECK(tq_model_copy_weights(other, small) != TQ_OK); /* by name: other's conv2d_1 is not in small */
  CHECK(strstr(tq_last_error(), "conv2d_1 (Conv2D, with parameters) is not in the source model"));
  tq_model_free(zoo), tq_model_free(file), tq_model_free(other), tq_model_free(small);
}

/* The profile counts every layer's passes and their work: 2 flop per MAC forward, 4 backward for
 * layers with a kernel (input and kernel gradients), 2 for the others; nothing once it is off. */
static void check_profile(void) {
  tq_model *m = branchy(1, 0);
  CHECK(tq_model_layer_profile(m, 1) == NULL);
  CHECK(tq_model_profile(m, 1) == TQ_OK);
  float x[72], dout[3];
  for (int i = 0; i < 72; i++) x[i] = 0.01f * (float)i;
  tq_rng rng;
  tq_rng_seed(&rng, 3); /* dropout draws in training */
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < 3; i++) dout[i] = 1.0f;
    CHECK(tq_model_forward(m, x, 1, 1, &rng) != NULL);
    tq_model_zero_grad(m);
    tq_model_backward(m, dout, 1);
  }
  /* backward: the kernel's gradient, and the input's unless no input needs one (the convs on the input) */
  char needed[64] = {0};
  double total = 0;
  int skipped = 0;
  CHECK(tq_model_num_layers(m) <= 64);
  for (int i = 1; i < tq_model_num_layers(m); i++) {
    const tq_layer_profile *p = tq_model_layer_profile(m, i);
    const tq_layer *l = tq_model_layer_c(m, i);
    double macs = (double)tq_layer_macs(l);
    int input_grad = 0;
    for (int k = 0; k < l->ninputs; k++) input_grad |= needed[l->inputs[k]];
    needed[i] = input_grad || tq_layer_trainable_params(l) > 0;
    skipped += tq_layer_has_kernel(l) && !input_grad;
    CHECK(p && p->forward_calls == 2 && p->backward_calls == 2 && p->forward_s >= 0 && p->backward_s >= 0);
    CHECK(p->forward_flop == 2 * 2 * macs);
    CHECK(p->backward_flop == (tq_layer_has_kernel(l) + input_grad) * 2 * 2 * macs);
    total += p->forward_flop + p->backward_flop;
  }
  CHECK(skipped == 2 && total == 2 * tq_model_step_flop(m, 1)); /* both convs read the input */
  CHECK(tq_model_profile(m, 0) == TQ_OK && tq_model_layer_profile(m, 1) == NULL);
  tq_model_free(m);
}

int main(void) {
  check_rows();
  check_names();
  check_gradients();
  check_gradient_buffers();
  check_slot_chains();
  check_unneeded_gradient();
  check_builder_errors();
  check_model_file();
  check_reshape_shapes();
  check_reshape_gradients();
  check_reshape_file_and_summary();
  check_reshape_import();
  check_weight_transfer();
  check_profile();
  TEST_MAIN_END();
}
