/* How far apart the two threads of a training step are: the time for a value written by one
 * thread to be seen by the other and answered, through one cache line. On the shared 2-vCPU
 * machines of the README it is bimodal — about 55 ns when both vCPUs sit on cores of one L3,
 * 170-520 ns when they sit on two (or one is preempted) — and training throughput moves with it
 * (MobileNetV1 float: about 1,800 vs 1,100-1,400 samples/s), so benchmarks print it next to
 * their figures. */
#include <omp.h>
#include <stdatomic.h>

#include "tinyq/kernels.h"

double tq_thread_round_trip_ns(int trips) {
  /* with one processor each hand-over would wait for the scheduler: no measure of caches */
  if (trips < 1 || omp_get_max_threads() < 2 || omp_get_num_procs() < 2) return 0.0;
  static _Alignas(64) atomic_long token; /* one line, touched only here */
  double elapsed = 0.0;
  atomic_store(&token, 0);
#pragma omp parallel num_threads(2)
  {
    const int me = omp_get_thread_num();
#pragma omp barrier
    const double t0 = omp_get_wtime();
    for (long i = 0; i < trips; i++) {
      /* thread 0 turns 2i into 2i + 1, thread 1 turns 2i + 1 into 2i + 2 */
      const long want = 2 * i + me;
      while (atomic_load_explicit(&token, memory_order_acquire) != want) {
      }
      atomic_store_explicit(&token, want + 1, memory_order_release);
    }
    if (me == 0) elapsed = omp_get_wtime() - t0;
  }
  return elapsed / trips * 1e9;
}
