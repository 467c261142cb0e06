/* The per-epoch layer statistics (tinyq/layer_stats.h) on a model whose numbers are known by hand:
 * a Dense kernel moved by a known Δw between two "epochs", its codes, its gradient, the warnings,
 * layers.csv and how a resume rewrites it, and the per-epoch checkpoint. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tinyq/layer_stats.h"
#include "tq_test.h"

/* quantized_bits(4,0,1,alpha=1): step 1/8, codes -7..7. The kernel goes from W0 to W1:
 *   W0 {0.5, 0.25, 0.3, 1.0}  codes {4, 2, 2, 7}
 *   W1 {0.5, 0,    0.4, 0.8}  codes {4, 0, 3, 6}   Δw {0, -0.25, 0.1, -0.2}
 * mean |Δw| 0.1375, max 0.25, ||ΔW||/||W0|| = sqrt(0.1125 / 1.4025), sparsity 1/4, zero codes 1/4,
 * 3 of 4 codes changed; W1 quantizes to {0.5, 0, 0.375, 0.75}: SQNR 10 log10(1.05 / 0.003125),
 * nothing clipped. The slot sees W0's four values: 18.8863 dB, a quarter clipped (test_quanterr). */
static const float W0[4] = {0.5f, 0.25f, 0.3f, 1.0f}, W1[4] = {0.5f, 0.0f, 0.4f, 0.8f};

static char *read_text(const char *path) {
  unsigned char *d = NULL;
  size_t n = 0;
  if (tq_read_file(path, &d, &n)) return NULL;
  char *s = realloc(d, n + 1);
  if (s) s[n] = 0;
  return s;
}

static int count_lines(const char *s) {
  int n = 0;
  for (; s && *s; s++) n += *s == '\n';
  return n;
}

static void check_kernel_row(const tq_layer_stat *r) {
  CHECK(!strcmp(r->layer, "dense") && !r->activation && r->epoch == 0);
  CHECK_NEAR(r->mean_abs_dw, 0.1375, 1e-7);
  CHECK_NEAR(r->max_abs_dw, 0.25, 1e-7);
  CHECK_NEAR(r->update_ratio, sqrt(0.1125 / 1.4025), 1e-6);
  CHECK_NEAR(r->sparsity, 0.25, 0);
  CHECK_NEAR(r->zero_codes, 0.25, 0);
  CHECK_NEAR(r->codes_changed, 0.75, 0);
  CHECK_NEAR(r->grad_norm, 5, 1e-9);
  CHECK_NEAR(r->sqnr_db, 10 * log10(1.05 / 0.003125), 1e-4);
  CHECK_NEAR(r->clip_fraction, 0, 0);
}

int main(void) {
  /* the statistic functions alone */
  tq_layer_stat row;
  double zeros;
  tq_layer_stat_kernel(&row, W0, W1, 4);
  CHECK_NEAR(row.mean_abs_dw, 0.1375, 1e-7);
  CHECK_NEAR(row.update_ratio, tq_update_ratio(W0, W1, 4, &zeros), 0);
  CHECK_NEAR(zeros, 0.25, 0);
  CHECK_NEAR(tq_update_ratio(W1, W1, 4, &zeros), 0, 0);
  float z[2] = {0, 0}, one[2] = {0, 1};
  CHECK(isinf(tq_update_ratio(z, one, 2, &zeros)) && tq_update_ratio(z, z, 2, &zeros) == 0);

  tq_model *m = tq_model_new("lstats", (tq_shape3){1, 1, 4});
  int slot = tq_activation(m, 0, TQ_ACT_LINEAR);
  int dense = tq_dense(m, slot, 1);
  CHECK(tq_model_finalize(m, 2, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1,alpha=1)") == TQ_OK);
  CHECK(tq_layer_set_quantizers(m, dense, &q, NULL) == TQ_OK);
  CHECK(tq_layer_set_act_quantizer(m, slot, &q) == TQ_OK);
  tq_layer *l = tq_model_layer(m, dense);
  memcpy(l->kernel.value, W0, sizeof W0);

  char dir[] = "/tmp/tq_lstats_XXXXXX", csv[64], ckpt[64];
  CHECK(mkdtemp(dir) != NULL);
  snprintf(csv, sizeof csv, "%s/layers.csv", dir);
  snprintf(ckpt, sizeof ckpt, "%s/epoch-001.tqm", dir);
  float probe[12];
  for (int s = 0; s < 3; s++) memcpy(probe + 4 * s, W0, sizeof W0);
  FILE *log = tmpfile();
  tq_layer_stats_options o = {.stats = 1, .save_every = 1, .probe_x = probe, .probe_n = 3, .log = log};
  tq_layer_stats *s = NULL;
  CHECK(tq_layer_stats_create(&s, m, dir, 0, &o) == TQ_OK);
  if (!s) return 1;

  /* epoch 0: the known move, a known gradient */
  memcpy(l->kernel.value, W1, sizeof W1);
  const float grad[4] = {3, 4, 0, 0};
  memcpy(l->kernel.grad, grad, sizeof grad);
  CHECK(tq_layer_stats_epoch(s, m, 0, NULL) == TQ_OK);
  int n = 0;
  const tq_layer_stat *rows = tq_layer_stats_rows(s, &n);
  CHECK_EQ_INT(n, 2);
  if (n == 2) {
    check_kernel_row(&rows[0]);
    CHECK(!strcmp(rows[1].layer, "activation") && rows[1].activation);
    CHECK_NEAR(rows[1].sqnr_db, 18.8863, 1e-4);
    CHECK_NEAR(rows[1].clip_fraction, 0.25, 0);
    CHECK(isnan(rows[1].mean_abs_dw) && isnan(rows[1].codes_changed));
  }
  CHECK(access(ckpt, F_OK) == 0);

  /* epoch 1: nothing moves (vanish), epoch 2: the kernel triples (explode) */
  CHECK(tq_layer_stats_epoch(s, m, 1, NULL) == TQ_OK);
  rows = tq_layer_stats_rows(s, &n);
  CHECK(n == 2 && rows[0].max_abs_dw == 0 && rows[0].codes_changed == 0 && rows[0].epoch == 1);
  for (int i = 0; i < 4; i++) l->kernel.value[i] *= 3;
  CHECK(tq_layer_stats_epoch(s, m, 2, NULL) == TQ_OK);
  rows = tq_layer_stats_rows(s, &n);
  CHECK(n == 2 && fabs(rows[0].update_ratio - 2) < 1e-6);
  char text[512] = {0};
  rewind(log);
  size_t got = fread(text, 1, sizeof text - 1, log);
  text[got] = 0;
  CHECK(strstr(text, "epoch 2: warning: updates vanish (every |dw| < 0.0001, or no code changed) in dense (max |dw| 0, "
                    "no code changed)\n") != NULL);
  CHECK(strstr(text, "epoch 3: warning: updates explode (||dW||/||W|| > 1) in dense (2)\n") != NULL);
  CHECK(!strstr(text, "epoch 1:"));
  tq_layer_stats_free(s);

  /* layers.csv: a header and two rows per epoch; a resume at epoch 1 keeps epoch 0's rows only */
  char *full = read_text(csv);
  CHECK(full && !strncmp(full, "epoch,layer,tensor,sparsity,zero_codes,mean_abs_dw,max_abs_dw,update_ratio,", 75));
  CHECK_EQ_INT(count_lines(full), 1 + 3 * 2);
  CHECK(full && strstr(full, "\n0,dense,kernel,0.25,0.25,0.1375,0.25,0.283221,0.75,5,25.2634,0\n"));
  CHECK(full && strstr(full, "\n0,activation,activation,nan,nan,nan,nan,nan,nan,nan,18.8862,0.25\n"));
  o.save_every = 0;
  CHECK(tq_layer_stats_create(&s, m, dir, 1, &o) == TQ_OK);
  tq_layer_stats_free(s);
  char *kept = read_text(csv); /* not rewritten until an epoch ends */
  CHECK(kept && full && !strcmp(kept, full));
  CHECK(tq_layer_stats_create(&s, m, dir, 1, &o) == TQ_OK);
  CHECK(s && tq_layer_stats_epoch(s, m, 1, NULL) == TQ_OK);
  tq_layer_stats_free(s);
  char *resumed = read_text(csv);
  CHECK_EQ_INT(count_lines(resumed), 1 + 2 * 2);
  CHECK(resumed && full && !strncmp(resumed, full, strlen(full) - strlen(strstr(full, "\n1,")) + 1));

  free(full);
  free(kept);
  free(resumed);
  fclose(log);
  remove(csv);
  remove(ckpt);
  rmdir(dir);
  tq_model_free(m);
  TEST_MAIN_END();
}
