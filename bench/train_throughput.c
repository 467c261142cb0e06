/* Training throughput of tinyq against PyTorch (Debian's python3-torch, BENCHMARKING.md's
 * environment), same model, batch, input and thread count (--threads, 2), measured alternately in one run.
 * Prints samples/s (median, min-max) for both, and the ratio, for float training and for QAT.
 *
 *   train_throughput [--seconds S] [--rounds R] [--models resnet8,dscnn,fc_autoencoder,mobilenetv1,...]
 *                    [--modes float,qat] [--threads T] [--no-torch] [--profile]
 * --profile: after the rounds, the per-layer profile of each model and mode (one more run of
 * --seconds with the profile on: time, GFLOP/s and share per layer and pass) against this build's
 * measured multiply-add peak on the same threads.
 *
 * Each row ends with the ceiling: the samples/s of a step whose direct products (tq_model_step_flop)
 * all run at that peak, and its ratio to PyTorch's median. A target ratio above it cannot be met by
 * doing the same arithmetic faster, on this machine, against this PyTorch run (Winograd, which
 * ResNet-8's 3x3 convolutions use, does fewer multiplies: there the ceiling is not one).
 *
 * Each model's rows are followed by its rounds: per round and mode the tinyq/PyTorch ratio and the
 * two threads' round trip measured just before each side (tq_thread_round_trip_ns). On a shared
 * machine whose two vCPUs sometimes share an L3 (~55 ns) and sometimes do not (170 ns and more),
 * a ratio means something only next to that state; the line ends with the median ratio of the rounds
 * run wholly in each state.
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/kernels.h"
#include "tinyq/qconfig.h"
#include "tinyq/train.h"
#include "tinyq/zoo.h"

typedef struct {
  const char *name;
  tq_shape3 input;
  int classes, batch;
} bench_model;

/* The PyTorch side builds the model of the same name in bench/torch_models.py, whose input_shape and
 * num_classes must agree with this table (its --check compares the parameter counts with tinyq's). */
static const bench_model MODELS[] = {
    {"resnet8", {32, 32, 3}, 10, 32},
    {"dscnn", {49, 10, 1}, 12, 100},
    {"fc_autoencoder", {1, 1, 640}, 0, 512},
    {"mobilenetv1", {96, 96, 3}, 2, 32}, /* width 0.25 */
    {"mobilenetv2", {96, 96, 3}, 2, 32}, /* width 1.0 */
    {"efficientnetb0", {96, 96, 3}, 2, 32},
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

enum { ROUND_TRIPS = 20000 }; /* 1-10 ms */

/* A round trip below this: the two threads' cores share an L3 (50-65 ns on the README's AMD EPYC;
 * 300-520 ns when they do not, up to 2 us when a vCPU was descheduled). A one-socket Intel Xeon
 * answers in 100-190 ns whatever the placement (one L3 on a mesh): there the split below only
 * sorts the rounds by that number, so it prints the threshold with the states. */
#define SHARED_L3_NS 150.0

/* The median tinyq/PyTorch ratio of the rounds whose two sides both ran in one state (shared L3 or
 * not): a round whose state changed between its sides compares two machines. */
static void print_state_ratios(const double *a, const double *b, const double *rta, const double *rtb, int rounds) {
  for (int shared = 1; shared >= 0; shared--) {
    double ratio[50];
    int n = 0;
    for (int r = 0; r < rounds; r++)
      if (b[r] > 0 && (rta[r] < SHARED_L3_NS) == shared && (rtb[r] < SHARED_L3_NS) == shared)
        ratio[n++] = a[r] / b[r];
    if (n)
      printf("%s %s L3 (round trip %s %.0f ns): %.2fx (%d round%s)", shared ? ";" : ",",
             shared ? "shared" : "not shared", shared ? "<" : ">=", SHARED_L3_NS, median(ratio, n), n,
             n > 1 ? "s" : "");
  }
}

/* One line per mode: each round's tinyq samples/s (and ratio to PyTorch's) @ the round trips in
 * ns measured before each side (tq_thread_round_trip_ns), then the median ratio per state. */
static void print_rounds(const bench_model *bm, const int *on, int rounds, double a[2][50], double b[2][50],
                         double rta[2][50], double rtb[2][50]) {
  for (int qat = 0; qat < 2; qat++) {
    if (!on[qat]) continue;
    printf("  %s %s rounds: samples/s (x PyTorch) @ round trip ns before tinyq / before PyTorch:", bm->name,
           qat ? "qat" : "float");
    for (int r = 0; r < rounds; r++) {
      if (b[qat][r] > 0)
        printf(" %.0f (%.2fx) @%.0f/%.0f", a[qat][r], a[qat][r] / b[qat][r], rta[qat][r], rtb[qat][r]);
      else
        printf(" %.0f @%.0f/%.0f", a[qat][r], rta[qat][r], rtb[qat][r]);
    }
    print_state_ratios(a[qat], b[qat], rta[qat], rtb[qat], rounds);
    printf("\n");
  }
  fflush(stdout);
}

/* A tinyq training step exactly as tq_train takes it (forward, loss, backward, L2, Adam). */
static double tinyq_samples_per_s(tq_model *m, const bench_model *bm, tq_loss loss, double seconds,
                                  int warmup) {
  int n = bm->batch;
  size_t in = tq_shape_size(bm->input), out = tq_shape_size(tq_model_output_shape(m));
  float *x = tq_alloc_floats((size_t)n * in), *probs = tq_alloc_floats((size_t)n * out),
        *dout = tq_alloc_floats((size_t)n * out);
  int *y = tq_alloc(sizeof(int) * (size_t)n);
  tq_rng rng;
  tq_rng_seed(&rng, 0);
  for (size_t i = 0; i < (size_t)n * in; i++) x[i] = tq_rng_normal(&rng);
  for (int i = 0; i < n; i++) y[i] = bm->classes ? (int)tq_rng_below(&rng, (uint32_t)bm->classes) : 0;
  tq_optimizer opt;
  tq_optimizer_parse("adam", &opt);
  long step = 0, steps = 0;
  double t0 = 0;
  for (;;) {
    if (step == warmup) t0 = tq_now_seconds();
    const float *pred = tq_model_forward(m, x, n, 1, &rng);
    tq_loss_forward_backward(loss, dout, probs, pred, y, x, n, (int)out, NULL);
    tq_model_zero_grad(m);
    tq_model_backward(m, dout, n);
    tq_model_l2_grad(m);
    tq_optimizer_step(&opt, m, 1e-4f, ++step);
    if (step > warmup) {
      steps++;
      if (tq_now_seconds() - t0 >= seconds) break;
    }
  }
  double rate = (double)steps * n / (tq_now_seconds() - t0);
  tq_free(x);
  tq_free(probs);
  tq_free(dout);
  tq_free(y);
  return rate;
}

static double torch_samples_per_s(const bench_model *bm, const char *mode, double seconds,
                                  int threads) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "OPENBLAS_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=33554432 "
           "MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=268435456 /usr/bin/python3 "
           "%s/bench/torch_train_step.py --model %s --mode %s --batch %d --seconds %g --warmup 20 "
           "--threads %d 2>/dev/null",
           TQ_SOURCE_DIR, bm->name, mode, bm->batch, seconds, threads);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  char line[1024] = "";
  double rate = -1;
  while (fgets(line, sizeof line, p)) {
    const char *k = strstr(line, "\"samples_per_s\":");
    if (k) rate = atof(k + 16);
  }
  pclose(p);
  return rate;
}

int main(int argc, char **argv) {
  double seconds = 5;
  int rounds = 3, torch = 1, threads = 2, profile = 0;
  const char *models = "resnet8,dscnn,fc_autoencoder", *modes = "float,qat";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
    else if (!strcmp(argv[i], "--modes") && i + 1 < argc) modes = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-torch")) torch = 0;
    else if (!strcmp(argv[i], "--profile")) profile = 1;
    else {
      fprintf(stderr, "usage: train_throughput [--seconds S] [--rounds R] [--models LIST] "
                      "[--modes float,qat] [--threads T] [--no-torch] [--profile]\n");
      return 2;
    }
  }
  if (rounds < 1 || rounds > 50) rounds = 3;
  if (threads < 1 || threads > 64) threads = 2;
  omp_set_num_threads(threads);
  printf("threads %d, %d alternating rounds of %.0f s per side (median, min-max)\n", threads, rounds,
         seconds);
  double peak = tq_fma_peak_gflops(threads, 1.0);
  printf("measured multiply-add peak of this build on %d threads: %.1f GFLOP/s\n", threads, peak);
  printf("%-15s %-5s %5s | %-26s | %-26s | %-6s | %s\n", "model", "mode", "batch", "tinyq samples/s",
         "pytorch samples/s", "ratio", "ceiling samples/s = x PyTorch");
  /* Per model, every round measures each selected mode on both sides back to back, so that the
   * QAT/float time ratio is a median of ratios taken a few seconds apart (this shared machine's
   * speed drifts by 20 % over a minute). */
  for (size_t mi = 0; mi < sizeof MODELS / sizeof MODELS[0]; mi++) {
    const bench_model *bm = &MODELS[mi];
    if (!strstr(models, bm->name)) continue;
    tq_model *m[2] = {NULL, NULL};
    int on[2] = {strstr(modes, "float") != NULL, strstr(modes, "qat") != NULL};
    for (int qat = 0; qat < 2; qat++) {
      if (!on[qat]) continue;
      tq_zoo_options zo = {bm->input, bm->classes};
      if (tq_zoo_build(&m[qat], bm->name, &zo) ||
          tq_model_finalize(m[qat], bm->batch, tq_zoo_find(bm->name)->init, 1) ||
          (qat && tq_qconfig_apply_flat(m[qat], 8, "auto"))) {
        fprintf(stderr, "train_throughput: %s\n", tq_last_error());
        return 1;
      }
    }
    tq_loss loss = tq_zoo_find(bm->name)->loss;
    double a[2][50], b[2][50], pair[50], rta[2][50], rtb[2][50];
    for (int r = 0; r < rounds; r++)
      for (int qat = 0; qat < 2; qat++) {
        if (!on[qat]) continue;
        rta[qat][r] = tq_thread_round_trip_ns(ROUND_TRIPS);
        a[qat][r] = tinyq_samples_per_s(m[qat], bm, loss, seconds, 3);
        rtb[qat][r] = tq_thread_round_trip_ns(ROUND_TRIPS);
        b[qat][r] = torch ? torch_samples_per_s(bm, qat ? "qat" : "float", seconds, threads) : -1;
        if (qat && on[0]) pair[r] = a[0][r] / a[1][r];
      }
    double a0[2][50], b0[2][50]; /* the rounds in order, for print_rounds: median() sorts */
    memcpy(a0, a, sizeof a);
    memcpy(b0, b, sizeof b);
    for (int qat = 0; qat < 2; qat++) {
      if (!on[qat]) continue;
      double amin = a[qat][0], amax = amin, bmin = b[qat][0], bmax = bmin;
      for (int r = 1; r < rounds; r++) {
        amin = a[qat][r] < amin ? a[qat][r] : amin;
        amax = a[qat][r] > amax ? a[qat][r] : amax;
        bmin = b[qat][r] < bmin ? b[qat][r] : bmin;
        bmax = b[qat][r] > bmax ? b[qat][r] : bmax;
      }
      double am = median(a[qat], rounds), bmed = median(b[qat], rounds);
      char ta[64], tb[64] = "n/a", ratio[64] = "n/a", ceil[64];
      snprintf(ta, sizeof ta, "%.0f (%.0f-%.0f)", am, amin, amax);
      const double ceiling = peak * 1e9 / (tq_model_step_flop(m[qat], bm->batch) / bm->batch);
      snprintf(ceil, sizeof ceil, "%.0f", ceiling);
      if (bmed > 0) {
        snprintf(tb, sizeof tb, "%.0f (%.0f-%.0f)", bmed, bmin, bmax);
        snprintf(ratio, sizeof ratio, "%.2fx", am / bmed);
        snprintf(ceil, sizeof ceil, "%.0f = %.2fx", ceiling, ceiling / bmed);
      }
      printf("%-15s %-5s %5d | %-26s | %-26s | %-6s | ceiling %s", bm->name, qat ? "qat" : "float", bm->batch, ta,
             tb, ratio, ceil);
      if (qat && on[0]) printf("   (QAT time / float time: %.2f)", median(pair, rounds));
      printf("\n");
      fflush(stdout);
    }
    print_rounds(bm, on, rounds, a0, b0, rta, rtb);
    for (int qat = 0; profile && qat < 2; qat++) {
      if (!on[qat] || tq_model_profile(m[qat], 1)) continue;
      double rate = tinyq_samples_per_s(m[qat], bm, loss, seconds, 3);
      printf("\nprofile: %s %s, batch %d, %.0f samples/s\n", bm->name, qat ? "qat" : "float", bm->batch, rate);
      tq_model_profile_print(m[qat], stdout, peak);
      tq_model_profile(m[qat], 0);
    }
    tq_model_free(m[0]);
    tq_model_free(m[1]);
  }
  return 0;
}
