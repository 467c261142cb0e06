/* The machine's measured multiply-add peak, for the training profile's "share of peak": independent
 * chains of x = x * a + b, as wide as this build's vectors (AVX-512 with -march=native on such a
 * CPU, SSE in the portable build), enough chains to hide the FMA latency. fmaf lets the compiler
 * emit fused multiply-adds where the target has them (ISO C mode does not contract a * x + b). */
#include <math.h>
#include <omp.h>

#include "tinyq/kernels.h"

/* 12 vector registers of chains: an AVX2 build with 16-lane chains needed 24 of its 16 ymm
 * registers, spilled, and measured two thirds of the peak its dense layers then exceeded. */
#if defined(__AVX512F__)
enum { CHAINS = 12, LANES = 16 };
#elif defined(__AVX__)
enum { CHAINS = 12, LANES = 8 };
#else
enum { CHAINS = 12, LANES = 4 };
#endif

static float run_chains(long iters, float a, float b) {
  float x[CHAINS * LANES];
  for (int j = 0; j < CHAINS * LANES; j++) x[j] = (float)j * 1e-3f;
  for (long it = 0; it < iters; it++)
    for (int j = 0; j < CHAINS * LANES; j++) x[j] = fmaf(x[j], a, b);
  float s = 0;
  for (int j = 0; j < CHAINS * LANES; j++) s += x[j];
  return s;
}

/* Per thread the best of short windows over `seconds`, summed over the threads: a peak is what
 * the cores can do when they get to run, and on a shared machine some windows go to other work. */
double tq_fma_peak_gflops(int threads, double seconds) {
  if (threads < 1) threads = 1;
  const long iters = 20000;
  double total = 0;
  volatile float sink = 0;
#pragma omp parallel num_threads(threads)
  {
    float s = run_chains(iters * 10, 0.999f, 1e-3f); /* clocks up */
    double best = 0, start = tq_now_seconds();
    do {
      double t0 = tq_now_seconds();
      s += run_chains(iters, 0.999f, 1e-3f);
      double g = 2.0 * CHAINS * LANES * (double)iters / (tq_now_seconds() - t0) * 1e-9;
      best = g > best ? g : best;
    } while (tq_now_seconds() - start < seconds);
#pragma omp atomic
    total += best;
#pragma omp atomic
    sink += s;
  }
  (void)sink;
  return total;
}
