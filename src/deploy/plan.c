/* Static memory plan: every tensor lives from the operation that writes it to the last one that
 * reads it; tensors are placed largest first at the lowest offset that does not overlap a tensor
 * alive at the same time (greedy by size, as TFLite Micro's planner). */
#include <stdlib.h>

#include "deploy/dmodel.h"

static size_t bytes_of(const dtensor *t) { return t->size * (size_t)(t->bits / 8); }

tq_status tq_deploy_plan(tq_dmodel *d) {
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
  int *order = malloc(sizeof(int) * (size_t)(d->nt ? d->nt : 1));
  int *placed = malloc(sizeof(int) * (size_t)(d->nt ? d->nt : 1));
  if (!order || !placed) {
    free(order);
    free(placed);
    return tq_deploy_oom(d->arch);
  }
  int n = 0;
  for (int i = 0; i < d->nt; i++)
    if (d->t[i].first_op >= 0) order[n++] = i;
  for (int i = 1; i < n; i++) { /* insertion sort by size, descending; stable */
    int v = order[i], j = i - 1;
    while (j >= 0 && bytes_of(&d->t[order[j]]) < bytes_of(&d->t[v])) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = v;
  }
  size_t arena = 0;
  int np = 0;
  for (int i = 0; i < n; i++) {
    dtensor *t = &d->t[order[i]];
    size_t size = (bytes_of(t) + 7) & ~(size_t)7, offset = 0;
    for (;;) {
      int moved = 0;
      for (int j = 0; j < np; j++) {
        const dtensor *u = &d->t[placed[j]];
        int alive = !(u->last_op < t->first_op || t->last_op < u->first_op);
        size_t usize = (bytes_of(u) + 7) & ~(size_t)7;
        if (alive && offset < u->offset + usize && u->offset < offset + size) {
          offset = u->offset + usize;
          moved = 1;
        }
      }
      if (!moved) break;
    }
    t->offset = offset;
    placed[np++] = order[i];
    if (offset + size > arena) arena = offset + size;
  }
  d->arena = arena;
  free(order);
  free(placed);
  return TQ_OK;
}
