/* The gradient buffers of the backward pass, shared between layers whose gradients are never alive
 * at the same time.
 *
 * Why: with one buffer per layer every backward step writes its input's gradient into memory no
 * step has touched since the last batch — tens of MB at DS-CNN's or MobileNet's batch sizes, far
 * beyond the caches — so each write first fetches the stale line from DRAM. Reused buffers are
 * still in cache. (A batch norm's forward into a cold buffer ran 2.7x slower than into a warm one,
 * DS-CNN's 12,500 x 64 at 2 threads.) It also halves the activation memory of training.
 *
 * When a gradient is alive, in backward steps (the steps run from the last layer down to 1):
 *   - from the highest step that writes it: a consumer's step, or through a consumer that hands its
 *     input on in training (forward.c, passes_through), that consumer's consumers (with several
 *     consumers, the first to run writes and the others add); from the start for the last
 *     layer's (copied in first) and for a layer nobody reads (zeroed first);
 *   - to the layer's own step, or the step before it for a ReLU that runs fused with the batch norm
 *     or Add before it (that step reads the ReLU's gradient, layers_act.c, layers_shape.c, qat_bn.c),
 *     or two steps before for a Dropout fused with such a ReLU and batch norm (the same files).
 * A batch norm folded into its layer during QAT (qat.c) shares the layer's gradient, so a layer whose
 * only reader is a batch norm keeps its gradient alive over the batch norm's writers too. The plan
 * is made once, at finalize, and holds in every state the model can later be put in: a linear
 * activation counts as handing its input on whether or not it gets a quantizer, and folding only
 * merges intervals this plan already joined.
 *
 * Where a gradient sits in its buffer: centred. The kernels split a batch over the threads in
 * contiguous shares (conv2d.c: static schedules), so with two threads the first writes the lower half
 * of every gradient and the second the upper half. Placed from the buffer's start, gradients of
 * different sizes put that boundary at different places, and the lines between them, written by one
 * core for one layer, are written by the other for the next: each moves between the cores' caches
 * (two threads trained DS-CNN 20 % slower with buffers shared that way than with one per layer, and
 * MobileNetV1 18 % slower when its two vCPUs did not share an L3). Centred, the boundary is the
 * buffer's middle for every occupant and each line stays with the core that wrote it. Measured on a
 * 2-vCPU AMD EPYC (Zen 4, AVX-512) against one buffer per layer, in one process, alternating blocks
 * of steps, each variant's model built first in turn (the first built ran up to 2 % faster):
 * MobileNetV1 float 1.04-1.15x when the vCPUs share an L3, 0.98-0.99x when they do not; DS-CNN
 * 1.05x and ResNet-8 1.01x when not; the FC-AutoEncoder, whose 4.7 MB of gradients the caches hold
 * anyway, about 0.97x. With more threads only the middle boundary stays put. So tq_model_finalize
 * shares when one buffer per layer would be more than TQ_GRAD_SHARE_BYTES, on one thread (a
 * search's ranks), and when one buffer per layer would not fit the memory limit; else each layer
 * keeps its own.
 *
 * Every backward kernel overwrites its din in full before it is read (the contract of the kernels'
 * din arguments), so sharing changes no value. A layer's dout holds its gradient during its own
 * backward step; after the backward pass it may hold another layer's. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "nn/model_internal.h"

typedef struct {
  int lo, hi; /* steps, inclusive; hi INT_MAX: alive from the start */
} live_range;

/* The structural part of forward.c's passes_through, for any quantizer the layer may get. */
static int may_pass_through(const tq_model *m, const tq_layer *l) {
  const int last = l == &m->layers[m->nlayers - 1];
  if (l->ninputs != 1 || (l->consumers < 1 && !last) || m->layers[l->inputs[0]].consumers != 1) return 0;
  return (l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR) || l->type == TQ_L_FLATTEN ||
         l->type == TQ_L_RESHAPE;
}

static int reads(const tq_layer *c, int j) {
  for (int k = 0; k < c->ninputs; k++)
    if (c->inputs[k] == j) return 1;
  return 0;
}

/* The highest step that may write layer j's gradient (consumers come after their inputs). */
static int last_writer(const tq_model *m, int j) {
  int hi = j;
  for (int c = j + 1; c < m->nlayers; c++) {
    if (!reads(&m->layers[c], j)) continue;
    int w = may_pass_through(m, &m->layers[c]) ? last_writer(m, c) : c;
    hi = w > hi ? w : hi;
  }
  return hi;
}

static live_range range_of(const tq_model *m, int j) {
  const tq_layer *l = &m->layers[j];
  live_range r = {j, j};
  if (j == m->nlayers - 1 || l->consumers == 0) {
    r.hi = INT_MAX;
  } else {
    r.hi = last_writer(m, j);
    for (int b = j + 1; b < m->nlayers; b++) /* the batch norm that may be folded into j */
      if (m->layers[b].type == TQ_L_BATCHNORM && reads(&m->layers[b], j) && tq_layer_has_kernel(l)) {
        int w = m->layers[b].consumers >= 1 && b != m->nlayers - 1 ? last_writer(m, b) : INT_MAX;
        r.hi = w > r.hi ? w : r.hi;
      }
  }
  if (l->type == TQ_L_RELU && l->ninputs == 1 && l->inputs[0] == j - 1 &&
      (m->layers[j - 1].type == TQ_L_BATCHNORM || m->layers[j - 1].type == TQ_L_ADD))
    r.lo = j - 1;
  /* a Dropout that may run fused with the ReLU and batch norm before it (layers_act.c): read by the
   * batch norm's step */
  if (l->type == TQ_L_DROPOUT && l->ninputs == 1 && l->inputs[0] == j - 1 && j >= 2 &&
      m->layers[j - 1].type == TQ_L_RELU && m->layers[j - 1].ninputs == 1 && m->layers[j - 1].inputs[0] == j - 2 &&
      m->layers[j - 2].type == TQ_L_BATCHNORM)
    r.lo = j - 2;
  return r;
}

/* Chains whose gradients are taken in place, planned as one gradient (with one buffer per layer and
 * with shared buffers alike):
 *   - a batch norm over its input's (or over that of the ReLU, and dropout, that may run fused with
 *     it, layers_act.c): the layer before it, read by it alone, the batch norm, and such a ReLU and
 *     dropout get the top one's buffer. The batch norm's backward then overwrites the gradient it
 *     has just read instead of writing a buffer no pass has touched since the last batch, whose
 *     lines come from DRAM first; a ReLU or dropout that does not run fused (QAT with frozen
 *     statistics, a second reader) maps its gradient in place just as well;
 *   - a linear Activation read alone, after such a chain or any layer: its gradient is its input's
 *     (no quantizer, the last layer or a quantizer slot: straight through) or its input's times an
 *     elementwise STE mask, so the copy of a whole batch's gradient (the FC-AutoEncoder's eleven
 *     slots in QAT, its 512 x 640 output) becomes no pass or one pass in place.
 * The chain's gradients are alive one after the other (each up to the step that reads it, which
 * writes the next), so one buffer holds them all. Returns the top of the chain whose bottom is
 * layer j, or j. */
static int in_place_top(const tq_model *m, int j) {
  const int n = m->nlayers;
  int top = j;
  const tq_layer *bn = j + 1 < n ? &m->layers[j + 1] : NULL;
  if (bn && m->layers[j].consumers == 1 && bn->type == TQ_L_BATCHNORM && bn->ninputs == 1 && bn->inputs[0] == j &&
      bn->consumers >= 1) {
    top = j + 1;
    const tq_layer_type chain[2] = {TQ_L_RELU, TQ_L_DROPOUT};
    for (int k = 0; k < 2 && top + 1 < n; k++) {
      const tq_layer *next = &m->layers[top + 1];
      if (m->layers[top].consumers != 1 || next->type != chain[k] || next->ninputs != 1 || next->inputs[0] != top)
        break;
      top++;
    }
  }
  const tq_layer *slot = top + 1 < n ? &m->layers[top + 1] : NULL;
  if (slot && m->layers[top].consumers == 1 && slot->type == TQ_L_ACTIVATION && slot->act == TQ_ACT_LINEAR &&
      slot->ninputs == 1 && slot->inputs[0] == top && (slot->consumers >= 1 || top + 1 == n - 1))
    top++;
  return top;
}

/* Layers in the order their gradients come alive: highest hi first, then highest index. */
typedef struct {
  live_range r;
  int layer;
} planned;

static int by_opening(const void *a, const void *b) {
  const planned *x = a, *y = b;
  if (x->r.hi != y->r.hi) return x->r.hi > y->r.hi ? -1 : 1;
  return y->layer - x->layer;
}

/* The chain (in_place_top, taken transitively: a chain's top may be the bottom of the next chain up)
 * each layer's gradient belongs to, named by its highest layer; and each layer's floats (a chain's
 * gradients are of one shape: a layer, its batch norm, ReLU, dropout, linear slot). */
static void chain_units(const tq_model *m, int *unit, size_t *need) {
  for (int j = m->nlayers - 1; j >= 0; j--) {
    unit[j] = j;
    need[j] = (size_t)m->max_batch * tq_shape_size(m->layers[j].out_shape);
    const int top = in_place_top(m, j);
    for (int k = j; top > j && k <= top; k++) unit[k] = unit[top];
  }
  for (int j = 0; j < m->nlayers; j++) /* one shape: taken in place, at one place in the buffer */
    TQ_ASSERT(need[j] == need[unit[j]]);
}

typedef struct {
  planned *order;
  int *buf_of, *free_below, *unit;
  size_t *size, *need;
} plan_ws;

static int ws_init(plan_ws *w, int n) {
  w->order = calloc((size_t)n, sizeof *w->order);
  w->buf_of = calloc((size_t)n, sizeof *w->buf_of);
  w->free_below = calloc((size_t)n, sizeof *w->free_below);
  w->unit = calloc((size_t)n, sizeof *w->unit);
  w->size = calloc((size_t)n, sizeof *w->size);
  w->need = calloc((size_t)n, sizeof *w->need);
  return w->order && w->buf_of && w->free_below && w->unit && w->size && w->need;
}

static void ws_free(plan_ws *w) {
  free(w->order), free(w->buf_of), free(w->free_below), free(w->unit), free(w->size), free(w->need);
}

/* Each layer's buffer (buf_of) and each buffer's floats (size), a chain at a time, its gradients
 * alive from the first to open to the last to close; returns the buffer count. share 0: one buffer
 * per chain. */
static int plan(const tq_model *m, int share, plan_ws *w) {
  const int n = m->nlayers;
  int nbuf = 0, nunits = 0;
  chain_units(m, w->unit, w->need);
  for (int j = 0; j < n; j++)
    if (w->unit[j] == j) w->order[nunits++] = (planned){range_of(m, j), j};
  for (int i = 0; i < nunits; i++) /* the chain's members below its top */
    for (int k = 0; k < w->order[i].layer; k++) {
      if (w->unit[k] != w->order[i].layer) continue;
      const live_range r = range_of(m, k);
      live_range *u = &w->order[i].r;
      u->lo = r.lo < u->lo ? r.lo : u->lo;
      u->hi = r.hi > u->hi ? r.hi : u->hi;
    }
  qsort(w->order, (size_t)nunits, sizeof *w->order, by_opening);
  for (int i = 0; i < nunits; i++) {
    const planned *p = &w->order[i];
    const size_t need = w->need[p->layer];
    /* a buffer whose occupants are all done before this chain opens: the smallest that holds it, else
     * the largest (which grows) */
    int pick = -1;
    for (int b = 0; share && b < nbuf; b++) {
      if (w->free_below[b] <= p->r.hi) continue;
      if (pick < 0) {
        pick = b;
        continue;
      }
      int fits = w->size[b] >= need, pick_fits = w->size[pick] >= need;
      if (fits != pick_fits ? fits : fits ? w->size[b] < w->size[pick] : w->size[b] > w->size[pick]) pick = b;
    }
    if (pick < 0) w->size[pick = nbuf++] = 0;
    if (w->size[pick] < need) w->size[pick] = need;
    w->free_below[pick] = p->r.lo;
    w->buf_of[p->layer] = pick;
  }
  for (int j = 0; j < n; j++) w->buf_of[j] = w->buf_of[w->unit[j]];
  for (int j = 0; j < n; j++) /* every gradient fits its buffer */
    TQ_ASSERT(w->size[w->buf_of[j]] >= (size_t)m->max_batch * tq_shape_size(m->layers[j].out_shape));
  return nbuf;
}

size_t tq_model_gradient_floats(const tq_model *m, int share) {
  plan_ws w;
  size_t total = 0;
  if (ws_init(&w, m->nlayers)) {
    int nbuf = plan(m, share, &w);
    for (int b = 0; b < nbuf; b++) total += w.size[b];
  } else {
    total = SIZE_MAX;
  }
  ws_free(&w);
  return total;
}

tq_status tq_model_plan_gradients(tq_model *m, int share) {
  plan_ws w;
  tq_status st = ws_init(&w, m->nlayers) ? TQ_OK : TQ_ERR_MEMORY;
  int nbuf = st ? 0 : plan(m, share, &w);
  if (!st && !(m->grad_bufs = calloc((size_t)nbuf + 1, sizeof *m->grad_bufs))) st = TQ_ERR_MEMORY;
  if (!st && !(m->grad_opened = calloc(2 * (size_t)m->nlayers, 1))) st = TQ_ERR_MEMORY;
  if (!st) m->grad_needed = m->grad_opened + m->nlayers;
  for (int b = 0; !st && b < nbuf; b++, m->ngrad_bufs++)
    if (!(m->grad_bufs[b] = tq_alloc_floats(w.size[b] ? w.size[b] : 1))) st = TQ_ERR_MEMORY;
  if (!st && !(m->grad_buf_floats = calloc((size_t)nbuf + 1, sizeof *m->grad_buf_floats))) st = TQ_ERR_MEMORY;
  for (int b = 0; !st && b < nbuf; b++) m->grad_buf_floats[b] = w.size[b];
  for (int j = 0; !st && j < m->nlayers; j++) {
    /* centred (see the top), at a cache line: the buffers are line-aligned */
    const size_t need = (size_t)m->max_batch * tq_shape_size(m->layers[j].out_shape), have = w.size[w.buf_of[j]];
    m->layers[j].dout = m->grad_bufs[w.buf_of[j]] + ((have / 2 - need / 2) & ~(size_t)15);
  }
  ws_free(&w);
  return st ? tq_fail_prefix(st, "%s: gradient buffers", m->arch) : TQ_OK;
}

void tq_model_free_gradients(tq_model *m) {
  for (int b = 0; b < m->ngrad_bufs; b++) tq_free(m->grad_bufs[b]);
  free(m->grad_bufs);
  free(m->grad_buf_floats);
  free(m->grad_opened);
  m->grad_bufs = NULL;
  m->grad_buf_floats = NULL;
  m->grad_opened = m->grad_needed = NULL;
  m->ngrad_bufs = 0;
}
