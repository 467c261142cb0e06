/* Static memory plan: every tensor lives from the operation that writes it to the last one that
 * reads it; each tensor, in some order, takes the lowest offset that does not overlap a tensor
 * alive at the same time (first fit). The order decides the arena: largest first (TFLite Micro's
 * greedy-by-size) is good but not optimal on a chain like MobileNetV1's first blocks, where it
 * leaves a hole of a quarter of the peak. So the planner starts from that order and, while the
 * arena is above the lower bound (the largest sum of tensors alive at one operation), improves
 * the order by a seeded local search: move one tensor elsewhere in the order, keep the move if the
 * arena does not grow. Deterministic: the same model always gets the same plan. */
#include <stdlib.h>
#include <string.h>

#include "deploy/dmodel.h"
#include "tinyq/core.h"

enum { PLAN_SEED = 0x706c616e, PLAN_WORK = 40 * 1000 * 1000 };

static size_t bytes_of(const dtensor *t) { return t->size * (size_t)(t->bits / 8); }
static size_t aligned_bytes(const dtensor *t) { return (bytes_of(t) + 7) & ~(size_t)7; }
static int alive_together(const dtensor *a, const dtensor *b) {
  return !(a->last_op < b->first_op || b->last_op < a->first_op);
}

static void set_lifetimes(tq_dmodel *d) {
  for (int i = 0; i < d->nt; i++) d->t[i].first_op = d->t[i].last_op = -1;
  for (int k = 0; k < d->nops; k++) {
    const dop *o = &d->ops[k];
    int ins[2] = {o->in0, o->in1};
    for (int j = 0; j < 2; j++)
      if (ins[j] >= 0) d->t[ins[j]].last_op = k;
    if (d->t[o->out].first_op < 0) d->t[o->out].first_op = k;
    if (d->t[o->out].last_op < k) d->t[o->out].last_op = k;
  }
  if (d->output >= 0) d->t[d->output].last_op = d->nops; /* read by the caller after the run */
}

/* No plan can be smaller than the bytes alive during the busiest operation. */
static size_t lower_bound(const tq_dmodel *d, const int *order, int n) {
  size_t best = 0;
  for (int k = 0; k <= d->nops; k++) {
    size_t sum = 0;
    for (int i = 0; i < n; i++) {
      const dtensor *t = &d->t[order[i]];
      if (t->first_op <= k && k <= t->last_op) sum += aligned_bytes(t);
    }
    if (sum > best) best = sum;
  }
  return best;
}

/* First fit in the given order; offsets[i] belongs to order[i]. Returns the arena size. */
static size_t place(const tq_dmodel *d, const int *order, int n, size_t *offsets) {
  size_t arena = 0;
  for (int i = 0; i < n; i++) {
    const dtensor *t = &d->t[order[i]];
    size_t size = aligned_bytes(t), offset = 0;
    for (int moved = 1; moved;) {
      moved = 0;
      for (int j = 0; j < i; j++) {
        const dtensor *u = &d->t[order[j]];
        size_t usize = aligned_bytes(u);
        if (alive_together(t, u) && offset < offsets[j] + usize && offsets[j] < offset + size) {
          offset = offsets[j] + usize;
          moved = 1;
        }
      }
    }
    offsets[i] = offset;
    if (offset + size > arena) arena = offset + size;
  }
  return arena;
}

static void sort_by_size(const tq_dmodel *d, int *order, int n) {
  for (int i = 1; i < n; i++) { /* insertion sort by size, descending; stable */
    int v = order[i], j = i - 1;
    while (j >= 0 && bytes_of(&d->t[order[j]]) < bytes_of(&d->t[v])) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = v;
  }
}

/* Moves order[from] to position `to`, shifting the ones between. */
static void move_entry(int *order, int from, int to) {
  int v = order[from];
  if (from < to) memmove(order + from, order + from + 1, sizeof(int) * (size_t)(to - from));
  else memmove(order + to + 1, order + to, sizeof(int) * (size_t)(from - to));
  order[to] = v;
}

static size_t improve_order(const tq_dmodel *d, int *best, int n, size_t arena, size_t bound,
                            int *trial, size_t *offsets) {
  long long per_plan = (long long)n * n + 1;
  long long iterations = PLAN_WORK / per_plan;
  tq_rng rng;
  tq_rng_seed(&rng, PLAN_SEED);
  for (long long it = 0; it < iterations && arena > bound && n > 1; it++) {
    memcpy(trial, best, sizeof(int) * (size_t)n);
    int from = (int)(tq_rng_u64(&rng) % (uint64_t)n), to = (int)(tq_rng_u64(&rng) % (uint64_t)n);
    if (from == to) continue;
    move_entry(trial, from, to);
    size_t a = place(d, trial, n, offsets);
    if (a <= arena) { /* equal moves too: they walk the plateaus between improvements */
      arena = a;
      memcpy(best, trial, sizeof(int) * (size_t)n);
    }
  }
  return arena;
}

tq_status tq_deploy_plan(tq_dmodel *d) {
  set_lifetimes(d);
  size_t count = (size_t)(d->nt ? d->nt : 1);
  int *order = malloc(sizeof(int) * count), *trial = malloc(sizeof(int) * count);
  size_t *offsets = malloc(sizeof(size_t) * count);
  if (!order || !trial || !offsets) {
    free(order);
    free(trial);
    free(offsets);
    return tq_deploy_oom(d->arch);
  }
  int n = 0;
  for (int i = 0; i < d->nt; i++)
    if (d->t[i].first_op >= 0) order[n++] = i;
  sort_by_size(d, order, n);
  size_t arena = place(d, order, n, offsets);
  size_t bound = lower_bound(d, order, n);
  if (arena > bound) improve_order(d, order, n, arena, bound, trial, offsets);
  d->arena = place(d, order, n, offsets);
  for (int i = 0; i < n; i++) d->t[order[i]].offset = offsets[i];
  free(order);
  free(trial);
  free(offsets);
  return TQ_OK;
}
