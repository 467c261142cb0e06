/* Data-dependent scales (SPEC §1.1 auto modes, §1.2 featuremap, binary/ternary auto).
 *
 * Layout: the tensor is (outer, groups, inner) (quant_internal.h). With inner == 1 (one scale per
 * last-axis channel: Dense IO, Conv HWIO) a pass walks rows of `groups` channels and keeps
 * per-channel arrays, so every loop is contiguous and vectorises over the channels; with
 * inner > 1 (scale_axis = 0: per sample) a group is a set of contiguous segments.
 *
 * Arithmetic: codes that fit in 24 bits (bits <= 24) are computed in float32, like QKeras (the
 * scale is a float32 tensor there too), but with exact roundings: rha(v) = trunc(v) + [frac >= .5]
 * instead of floor(v + 0.5f), which float32 gets wrong just below .5. Wider codes use double.
 * Sums for the auto_po2 refinement accumulate exact float*float products in double, in a fixed
 * order. Passes whose result does not depend on the order (elementwise, min/max) run in parallel
 * (OpenMP) on large tensors, so results are the same for every thread count. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math") /* vectorise floor/trunc and compares; no result changes */
#endif
#include <math.h>
#include <string.h>

#include "quant/quant_internal.h"


#if defined(__GNUC__)
#define TQ_VEC 1
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4))); /* unaligned loads */
#define VSEL(m, a, b) ((v8f)(((v8i)(a) & (m)) | ((v8i)(b) & ~(m))))
#else
#define TQ_VEC 0
#endif

/* ---- short rows ----------------------------------------------------------------------------- */

/* With inner == 1 a row holds one value per group. Rows shorter than 64 (a depthwise kernel has
 * one group; an NHWC activation with C = 8 has eight) are processed k at a time as one row of
 * k*G values, with the per-group arrays repeated k times. */
static size_t row_pack(const tq_qlayout *L) {
  if (L->groups >= 64) return 1;
  size_t k = (64 + L->groups - 1) / L->groups;
  return k < L->outer ? k : L->outer;
}

/* dst[j] = src[j % G] for j < k*G (dst may be src: then the first copy is already there) */
static void repeat_f(float *dst, const float *src, size_t G, size_t k) {
  for (size_t r = dst == src ? 1 : 0; r < k; r++) memcpy(dst + r * G, src, G * sizeof *dst);
}
static void repeat_d(double *dst, const double *src, size_t G, size_t k) {
  for (size_t r = dst == src ? 1 : 0; r < k; r++) memcpy(dst + r * G, src, G * sizeof *dst);
}

/* ---- reductions ------------------------------------------------------------------------------ */

static float seg_absmax(const float *s, size_t n) {
  size_t i = 0;
  float m = 0.0f;
#if TQ_VEC
  v8f m0 = {0}, m1 = {0};
  for (; i + 16 <= n; i += 16) {
    v8f a = (v8f)(*(const v8fu *)(s + i)), b = (v8f)(*(const v8fu *)(s + i + 8));
    a = (v8f)((v8i)a & 0x7fffffff);
    b = (v8f)((v8i)b & 0x7fffffff);
    v8i ga = a > m0, gb = b > m1;
    m0 = VSEL(ga, a, m0);
    m1 = VSEL(gb, b, m1);
  }
  for (int l = 0; l < 8; l++) {
    m = m0[l] > m ? m0[l] : m;
    m = m1[l] > m ? m1[l] : m;
  }
#endif
  for (; i < n; i++) {
    float a = fabsf(s[i]);
    m = a > m ? a : m;
  }
  return m;
}

/* min and max of the segment after flushing |x| < flush to 0. */
static void seg_minmax(const float *s, size_t n, float flush, float *lo, float *hi) {
  size_t i = 0;
  float a = INFINITY, b = -INFINITY;
#if TQ_VEC
  v8f l0 = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
  v8f h0 = -l0, l1 = l0, h1 = h0;
  for (; i + 16 <= n; i += 16) {
    v8f x = (v8f)(*(const v8fu *)(s + i)), y = (v8f)(*(const v8fu *)(s + i + 8));
    v8f ax = (v8f)((v8i)x & 0x7fffffff), ay = (v8f)((v8i)y & 0x7fffffff);
    x = (v8f)((v8i)x & ~(ax < flush));
    y = (v8f)((v8i)y & ~(ay < flush));
    l0 = VSEL(x < l0, x, l0);
    h0 = VSEL(x > h0, x, h0);
    l1 = VSEL(y < l1, y, l1);
    h1 = VSEL(y > h1, y, h1);
  }
  for (int k = 0; k < 8; k++) {
    a = l0[k] < a ? l0[k] : a;
    a = l1[k] < a ? l1[k] : a;
    b = h0[k] > b ? h0[k] : b;
    b = h1[k] > b ? h1[k] : b;
  }
#endif
  for (; i < n; i++) {
    float v = fabsf(s[i]) < flush ? 0.0f : s[i];
    a = v < a ? v : a;
    b = v > b ? v : b;
  }
  *lo = a, *hi = b;
}

/* Chunks of rows for the inner == 1 reductions: a fixed count (not the thread count), so the
 * combination order is fixed too (min/max do not care anyway). */
static size_t row_chunks(const tq_qlayout *L) {
  if (L->n < TQ_QPAR_MIN) return 1;
  return L->outer < 16 ? L->outer : 16;
}

/* Pieces of at most this many values per contiguous segment (inner > 1): a per-tensor scale has one
 * segment, the whole batch's activations (DS-CNN: 800,000 values), which one thread walked alone
 * while the other waited. Min, max and the elementwise apply passes give the same result in any
 * split. */
#define SEG_PIECE 16384
static size_t seg_pieces(const tq_qlayout *L) {
  return L->n >= TQ_QPAR_MIN ? (L->inner + SEG_PIECE - 1) / SEG_PIECE : 1;
}
/* Piece c of segment k (P pieces each): [*b, *e). */
static void seg_piece(const tq_qlayout *L, size_t k, size_t c, size_t P, size_t *b, size_t *e) {
  size_t len = (L->inner + P - 1) / P;
  *b = k * L->inner + c * len;
  *e = k * L->inner + ((c + 1) * len < L->inner ? (c + 1) * len : L->inner);
  if (*b > *e) *b = *e;
}

void tq_group_absmax(const tq_qlayout *L, const float *x, float *amax) {
  size_t G = L->groups, I = L->inner, K = L->outer * G;
  for (size_t g = 0; g < G; g++) amax[g] = 0.0f;
  if (I > 1) {
    const size_t P = seg_pieces(L), KP = K * P;
    float *seg = KP > G ? tq_alloc_floats(KP) : NULL;
    if (!seg) { /* one segment per group, or no memory: serial */
      for (size_t k = 0; k < K; k++) {
        float m = seg_absmax(x + k * I, I);
        if (m > amax[k % G]) amax[k % G] = m;
      }
      return;
    }
#pragma omp parallel for schedule(static) if (L->n >= TQ_QPAR_MIN)
    for (size_t kc = 0; kc < KP; kc++) {
      size_t b, e;
      seg_piece(L, kc / P, kc % P, P, &b, &e);
      seg[kc] = seg_absmax(x + b, e - b);
    }
    for (size_t kc = 0; kc < KP; kc++)
      if (seg[kc] > amax[kc / P % G]) amax[kc / P % G] = seg[kc];
    tq_free(seg);
    return;
  }
  /* rows packed k at a time into rows of W = k*G; chunks of packed rows in parallel */
  size_t k = row_pack(L), W = k * G, R = L->outer / k, rem = L->outer - R * k;
  size_t C = row_chunks(L);
  if (C > R) C = R ? R : 1;
  float *part = tq_alloc_floats(C * W);
  if (!part) { /* no memory: plain rows */
    for (size_t o = 0; o < L->outer; o++)
      for (size_t g = 0; g < G; g++) {
        float a = fabsf(x[o * G + g]);
        amax[g] = a > amax[g] ? a : amax[g];
      }
    return;
  }
#pragma omp parallel for schedule(static) if (C > 1)
  for (size_t c = 0; c < C; c++) {
    float *m = part + c * W;
    size_t r0 = R * c / C, r1 = R * (c + 1) / C;
    for (size_t r = r0; r < r1; r++) {
      const float *row = x + r * W;
      for (size_t j = 0; j < W; j++) {
        float a = fabsf(row[j]);
        m[j] = a > m[j] ? a : m[j];
      }
    }
  }
  for (size_t c = 0; c < C; c++)
    for (size_t j = 0; j < W; j++) amax[j % G] = part[c * W + j] > amax[j % G] ? part[c * W + j] : amax[j % G];
  for (size_t o = R * k; o < R * k + rem; o++)
    for (size_t g = 0; g < G; g++) {
      float a = fabsf(x[o * G + g]);
      amax[g] = a > amax[g] ? a : amax[g];
    }
  tq_free(part);
}

void tq_group_minmax(const tq_qlayout *L, const float *x, float flush, float *lo, float *hi) {
  size_t G = L->groups, I = L->inner, K = L->outer * G;
  for (size_t g = 0; g < G; g++) lo[g] = INFINITY, hi[g] = -INFINITY;
  if (I > 1) {
    const size_t P = seg_pieces(L), KP = K * P;
    float *seg = tq_alloc_floats(2 * KP);
    if (!seg) {
      for (size_t k = 0; k < K; k++) {
        float a, b;
        seg_minmax(x + k * I, I, flush, &a, &b);
        if (a < lo[k % G]) lo[k % G] = a;
        if (b > hi[k % G]) hi[k % G] = b;
      }
      return;
    }
#pragma omp parallel for schedule(static) if (L->n >= TQ_QPAR_MIN)
    for (size_t kc = 0; kc < KP; kc++) {
      size_t b, e;
      seg_piece(L, kc / P, kc % P, P, &b, &e);
      seg_minmax(x + b, e - b, flush, &seg[kc], &seg[KP + kc]);
    }
    for (size_t kc = 0; kc < KP; kc++) {
      size_t g = kc / P % G;
      if (seg[kc] < lo[g]) lo[g] = seg[kc];
      if (seg[KP + kc] > hi[g]) hi[g] = seg[KP + kc];
    }
    tq_free(seg);
    return;
  }
  size_t k = row_pack(L), W = k * G, R = L->outer / k;
  size_t C = row_chunks(L);
  if (C > R) C = R ? R : 1;
  float *part = tq_alloc_floats(2 * C * W);
  size_t done = 0;
  if (part) {
#pragma omp parallel for schedule(static) if (C > 1)
    for (size_t c = 0; c < C; c++) {
      float *a = part + 2 * c * W, *b = a + W;
      for (size_t j = 0; j < W; j++) a[j] = INFINITY, b[j] = -INFINITY;
      size_t r0 = R * c / C, r1 = R * (c + 1) / C;
      for (size_t r = r0; r < r1; r++) {
        const float *row = x + r * W;
        for (size_t j = 0; j < W; j++) {
          float v = fabsf(row[j]) < flush ? 0.0f : row[j];
          a[j] = v < a[j] ? v : a[j];
          b[j] = v > b[j] ? v : b[j];
        }
      }
    }
    for (size_t c = 0; c < C; c++)
      for (size_t j = 0; j < W; j++) {
        float a = part[2 * c * W + j], b = part[2 * c * W + W + j];
        lo[j % G] = a < lo[j % G] ? a : lo[j % G];
        hi[j % G] = b > hi[j % G] ? b : hi[j % G];
      }
    tq_free(part);
    done = R * k;
  }
  for (size_t o = done; o < L->outer; o++)
    for (size_t g = 0; g < G; g++) {
      float v = fabsf(x[o * G + g]) < flush ? 0.0f : x[o * G + g];
      lo[g] = v < lo[g] ? v : lo[g];
      hi[g] = v > hi[g] ? v : hi[g];
    }
}

/* ---- quantized_bits auto / auto_po2 ---------------------------------------------------------- */

/* Refinement sums syz[g] = sum |y| z, szz[g] = sum z^2 with z = min(rha(|y| / s), H),
 * y = x / 2^integer; inv[g] = 1/s[g] exactly (s a power of two). */
static void refine_pass(const tq_qlayout *L, const float *x, float inv_mi, double H,
                        const double *inv, double *syz, double *szz, float *invf) {
  size_t G = L->groups, I = L->inner;
  for (size_t g = 0; g < G; g++) syz[g] = 0, szz[g] = 0;
  if (I == 1 && H < 8388608.0) {
    /* float codes; exact float products summed in double per position of a packed row, then
     * folded per group (a fixed order) */
    size_t k = row_pack(L), W = k * G, R = L->outer / k;
    double *acc = tq_alloc(sizeof(double) * 2 * W);
    if (acc) {
      double *ayz = acc, *azz = acc + W;
      const float Hf = (float)H;
      for (size_t g = 0; g < G; g++) invf[g] = (float)inv[g];
      repeat_f(invf, invf, G, k);
      for (size_t o = 0; o < L->outer;) {
        size_t w = o + k <= L->outer ? W : G; /* a packed row, or one leftover row */
        const float *r = x + o * G;
        for (size_t j = 0; j < w; j++) {
          float a = fabsf(r[j] * inv_mi);
          float z = rha_pos(a * invf[j]);
          z = z < Hf ? z : Hf;
          ayz[j] += (double)a * (double)z;
          azz[j] += (double)z * (double)z;
        }
        o += w / G;
      }
      (void)R;
      for (size_t j = 0; j < W; j++) syz[j % G] += ayz[j], szz[j % G] += azz[j];
      tq_free(acc);
      return;
    }
  }
  for (size_t o = 0; o < L->outer; o++)
    for (size_t g = 0; g < G; g++) {
      const float *s = x + (o * G + g) * I;
      double ig = inv[g], t1 = 0, t2 = 0;
      for (size_t i = 0; i < I; i++) {
        double a = fabs((double)s[i] * (double)inv_mi);
        double z = floor(a * ig + 0.5);
        z = z < H ? z : H;
        t1 += a * z;
        t2 += z * z;
      }
      syz[g] += t1;
      szz[g] += t2;
    }
}

typedef struct {
  const float *x;
  float *out;
  int32_t *codes;
  float inv_mi, Hf, qn;
  double inv_mi_d, H;
  const float *divf, *step;
  const double *divd;
  int po2, wide, exact;
} auto_apply;

/* Elements [b, e) of one row (I == 1: groups g0.. with stride 1) or one segment (one group). */
static void auto_apply_run(const auto_apply *A, size_t b, size_t e, size_t g, int per_elem_group) {
  const float *x = A->x;
#define GRP(i) (per_elem_group ? g + ((i) - b) : g)
  if (A->wide) {
    for (size_t i = b; i < e; i++) {
      double z = auto_code_d(x[i], A->inv_mi_d, A->H, A->divd[GRP(i)], A->po2);
      if (A->codes) A->codes[i] = tq_qsat32(z);
      if (A->out) A->out[i] = tq_qmix(x[i], (float)((double)A->step[GRP(i)] * z), A->qn, A->exact);
    }
    return;
  }
  if (A->codes)
    for (size_t i = b; i < e; i++)
      A->codes[i] = (int32_t)auto_code_f(x[i], A->inv_mi, A->Hf, A->divf[GRP(i)], A->po2);
  if (!A->out) return;
  if (A->exact) {
    for (size_t i = b; i < e; i++)
      A->out[i] = A->step[GRP(i)] * auto_code_f(x[i], A->inv_mi, A->Hf, A->divf[GRP(i)], A->po2) + 0.0f;
  } else {
    for (size_t i = b; i < e; i++)
      A->out[i] = tq_qmix(x[i], A->step[GRP(i)] * auto_code_f(x[i], A->inv_mi, A->Hf, A->divf[GRP(i)], A->po2),
                          A->qn, 0);
  }
#undef GRP
}

static void auto_apply_all(const tq_qlayout *L, const auto_apply *A, float *tmp_f, double *tmp_d) {
  size_t G = L->groups, I = L->inner;
  if (I == 1) {
    /* rows packed k at a time (the group arrays repeated), leftover rows one by one */
    size_t k = row_pack(L), W = k * G, R = L->outer / k;
    auto_apply P = *A;
    if (k > 1) {
      repeat_f(tmp_f, A->divf, G, k), repeat_f(tmp_f + W, A->step, G, k);
      repeat_d(tmp_d, A->divd, G, k);
      P.divf = tmp_f, P.step = tmp_f + W, P.divd = tmp_d;
    }
#pragma omp parallel for schedule(static) if (L->n >= TQ_QPAR_MIN)
    for (size_t r = 0; r < R; r++) auto_apply_run(&P, r * W, r * W + W, 0, 1);
    for (size_t o = R * k; o < L->outer; o++) auto_apply_run(A, o * G, o * G + G, 0, 1);
  } else {
    const size_t K = L->outer * G, P = seg_pieces(L);
#pragma omp parallel for schedule(static) if (L->n >= TQ_QPAR_MIN)
    for (size_t kc = 0; kc < K * P; kc++) {
      size_t b, e;
      seg_piece(L, kc / P, kc % P, P, &b, &e);
      auto_apply_run(A, b, e, kc / P % G, 0);
    }
  }
}

/* Rank-1 auto_po2 (a bias): step 1 over the whole tensor, the refinement per element (SPEC
 * §1.1); biases are short. */
static tq_status bits_auto_per_element(const tq_qrun *r, const tq_qlayout *L, double H,
                                       double mi) {
  const float *in = r->in;
  const double inv_mi = 1.0 / mi;
  const float qn = r->q->qnoise_factor;
  const int exact = qn == 1.0f;
  float amax;
  tq_group_absmax(L, in, &amax);
  double s0 = tq_po2(2.0 * ((double)amax * inv_mi) / (2 * H));
  for (size_t i = 0; i < L->n; i++) {
    float xv = in[i];
    double y = (double)xv * inv_mi, a = fabs(y), s = s0;
    for (int it = 0; it < 5; it++) {
      double z = floor(a / s + 0.5);
      z = z < H ? z : H;
      s = tq_po2_pos((a * z) / (z * z + TQ_QEPS) + TQ_QEPS); /* the argument is >= 1e-7 */
    }
    double z = floor(a / s + 0.5);
    z = z < H ? z : H;
    z = y < 0 ? -z : z;
    float sf = (float)(mi * s);
    if (r->steps) r->steps[i] = sf;
    if (r->codes) r->codes[i] = (int32_t)z;
    if (r->out) r->out[i] = tq_qmix(xv, (float)((double)sf * z), qn, exact);
  }
  return TQ_OK;
}

/* The per-group search of quantized_bits auto modes: G scales s, the refinement sums, and per
 * position of a packed row (W values) the inverse scales and their float divisors. */
typedef struct {
  const tq_qlayout *L;
  const float *in;
  double H, inv_mi;
  double *s, *syz, *szz, *inv; /* G, G, G, W */
  float *amax, *divf;          /* G, W */
} auto_search;

/* auto_po2 (SPEC §1.1): s = po2(s), then five rounds of s = po2(mean(|y| z) / mean(z^2)). */
static void po2_refine(auto_search *A) {
  const size_t G = A->L->groups;
  double cnt = (double)(A->L->outer * A->L->inner);
  for (size_t g = 0; g < G; g++) A->s[g] = tq_po2(A->s[g]);
  for (int it = 0; it < 5; it++) {
    for (size_t g = 0; g < G; g++) A->inv[g] = 1.0 / A->s[g];
    refine_pass(A->L, A->in, (float)A->inv_mi, A->H, A->inv, A->syz, A->szz, A->divf);
    for (size_t g = 0; g < G; g++)
      A->s[g] = tq_po2((A->syz[g] / cnt) / (A->szz[g] / cnt + TQ_QEPS));
  }
}

/* tinyq (README, "auto_po2 clips large weights"): the refinement minimises the error of the many
 * small values and may clip a group's largest ones by up to half; keep the refined scale only
 * where its squared error, sum(y^2) - 2 s sum(yz) + s^2 sum(z^2), is below that of the smallest
 * power of two that clips nothing. (Without memory for it the refined scale stays.) */
static void po2_keep_unclipped(auto_search *A) {
  const size_t G = A->L->groups;
  const double Lv = 2 * A->H;
  double *s = A->s, *syz = A->syz, *szz = A->szz, *inv = A->inv;
  double *e = tq_alloc(sizeof(double) * 2 * G);
  if (!e) return;
  for (size_t g = 0; g < G; g++) inv[g] = 1.0 / s[g];
  refine_pass(A->L, A->in, (float)A->inv_mi, A->H, inv, syz, szz, A->divf);
  for (size_t g = 0; g < G; g++) {
    e[g] = s[g] * (s[g] * szz[g] - 2.0 * syz[g]);
    double c = 2.0 * ((double)A->amax[g] * A->inv_mi) / Lv;
    e[G + g] = c > 0 ? exp2(ceil(log2(c))) : s[g];
    inv[g] = 1.0 / e[G + g];
  }
  refine_pass(A->L, A->in, (float)A->inv_mi, A->H, inv, syz, szz, A->divf);
  for (size_t g = 0; g < G; g++) {
    double c = e[G + g], ec = c * (c * szz[g] - 2.0 * syz[g]);
    if (ec < e[g]) s[g] = c;
  }
  tq_free(e);
}

/* tinyq: a group whose values are all below 2^-32 of the tensor's largest (a channel that training
 * or a folded batch norm has all but switched off, ~1e-30 in MLPerf's vww_96.h5) takes the step of
 * the largest group, so its codes are 0. QKeras would give it a step of ~1e-32, which puts the
 * integer model's bias beyond any accumulator while changing the float output by ~1e-30. An all-zero
 * group keeps QKeras' step (0, or 2^-23 with auto_po2): the QKeras vectors pin it. */
static void dead_groups_take_largest_step(const float *amax, double *s, size_t G) {
  size_t top = 0;
  for (size_t g = 1; g < G; g++)
    if (amax[g] > amax[top]) top = g;
  const double dead_below = ldexp((double)amax[top], -32);
  for (size_t g = 0; g < G; g++)
    if (amax[g] > 0 && (double)amax[g] < dead_below) s[g] = s[top];
}

tq_status tq_quant_bits_auto(const tq_qrun *r) {
  const tq_quantizer *q = r->q;
  tq_qlayout L;
  tq_status st = tq_qlayout_init(&L, r->dims, r->rank, q->scale_axis);
  if (st) return st;
  const int po2 = q->alpha_mode == TQ_ALPHA_AUTO_PO2;
  const double H = exp2(q->bits - 1) - 1, Lv = 2 * H;
  const double mi = (po2 && q->po2_floor_fix) ? 1.0 : exp2(q->integer), inv_mi = 1.0 / mi;
  const float qn = q->qnoise_factor;
  const int exact = qn == 1.0f, wide = q->bits > 24;
  if (r->rank == 1 && po2) return bits_auto_per_element(r, &L, H, mi);

  size_t G = L.groups, W = row_pack(&L) * G; /* W: a packed row (see row_pack) */
  double *buf = tq_alloc(sizeof(double) * (3 * G + W));
  float *fb = tq_alloc_floats(2 * G + 2 * W);
  if (!buf || !fb) {
    tq_free(buf);
    tq_free(fb);
    return TQ_ERR_MEMORY;
  }
  auto_search A = {&L, r->in, H, inv_mi, buf, buf + G, buf + 2 * G, buf + 3 * G, fb, fb + 2 * G};
  double *s = A.s, *inv = A.inv;
  float *amax = A.amax, *stepf = fb + G, *divf = A.divf;
  tq_group_absmax(&L, r->in, amax);
  for (size_t g = 0; g < G; g++) s[g] = 2.0 * ((double)amax[g] * inv_mi) / Lv;
  if (po2) po2_refine(&A);
  if (po2 && q->po2_floor_fix) po2_keep_unclipped(&A);
  if (G > 1) dead_groups_take_largest_step(amax, s, G);
  for (size_t g = 0; g < G; g++) {
    float sf = (float)s[g]; /* the scale as a float32 tensor (QKeras) */
    stepf[g] = (float)(mi * (double)sf);
    if (po2) inv[g] = 1.0 / (double)sf;            /* exact: sf is a power of two */
    else inv[g] = sf > 0 ? (double)sf : INFINITY;  /* divisor; all-zero group -> z = 0 */
    divf[g] = (float)inv[g];
    if (r->steps) r->steps[g] = stepf[g];
  }
  auto_apply P = {r->in, r->out, r->codes, (float)inv_mi, (float)H, qn, inv_mi, H, divf, stepf,
                  inv, po2, wide, exact};
  float *tmp_f = tq_alloc_floats(2 * W);
  double *tmp_d = tq_alloc(sizeof(double) * W);
  if (!tmp_f || !tmp_d) {
    tq_free(tmp_f), tq_free(tmp_d), tq_free(buf), tq_free(fb);
    return TQ_ERR_MEMORY;
  }
  auto_apply_all(&L, &P, tmp_f, tmp_d);
  tq_free(tmp_f), tq_free(tmp_d);
  tq_free(buf);
  tq_free(fb);
  return TQ_OK;
}

/* ---- quantized_bits_featuremap -------------------------------------------------------------- */

typedef struct {
  const float *x;
  float *out;
  int32_t *codes;
  const float *s, *sdiv, *zp; /* step; divisor s (1 for s = 0), or 1/s when po2; zero point */
  float aq, bq, qn;
  double aqd, bqd; /* the code range exactly: as floats, +-(2^31 - 1) round to +-2^31 */
  int wide, exact, po2;
} fm_apply;

/* One contiguous run [b, e): per_elem_group: element i belongs to group g + (i - b) (a packed
 * row); else all to group g. Fields are copied to restrict locals so that the loops vectorise. */
static void fm_apply_run(const fm_apply *A, size_t b, size_t e, size_t g, int per_elem_group) {
  const float *restrict x = A->x;
  float *restrict out = A->out;
  int32_t *restrict codes = A->codes;
  const float *restrict S = A->s, *restrict D = A->sdiv, *restrict Z = A->zp;
  const float aq = A->aq, bq = A->bq, qn = A->qn;
  const size_t st = per_elem_group ? 1 : 0; /* group index = g + st * (i - b) */
  if (A->wide) {
    for (size_t i = b; i < e; i++) {
      size_t k = g + st * (i - b);
      float v = fm_flush(x[i]);
      float sd = A->po2 ? 1.0f / D[k] : D[k];
      double z = fm_code_d(v, sd, Z[k], A->aqd, A->bqd);
      if (codes) codes[i] = tq_qsat32(z);
      if (out) out[i] = tq_qmix(v, (float)((double)S[k] * (z - Z[k])), qn, A->exact);
    }
    return;
  }
#define FM_LOOPS(CODE)                                                                     \
  do {                                                                                     \
    if (codes)                                                                             \
      for (size_t i = b; i < e; i++) {                                                     \
        size_t k = g + st * (i - b);                                                       \
        codes[i] = (int32_t)CODE(fm_flush(x[i]), D[k], Z[k], aq, bq);                      \
      }                                                                                    \
    if (out && A->exact)                                                                   \
      for (size_t i = b; i < e; i++) {                                                     \
        size_t k = g + st * (i - b);                                                       \
        out[i] = S[k] * (CODE(fm_flush(x[i]), D[k], Z[k], aq, bq) - Z[k]) + 0.0f;          \
      }                                                                                    \
    else if (out)                                                                          \
      for (size_t i = b; i < e; i++) {                                                     \
        size_t k = g + st * (i - b);                                                       \
        float v = fm_flush(x[i]);                                                          \
        out[i] = tq_qmix(v, S[k] * (CODE(v, D[k], Z[k], aq, bq) - Z[k]), qn, 0);           \
      }                                                                                    \
  } while (0)
  if (A->po2) FM_LOOPS(fm_code_fm);
  else FM_LOOPS(fm_code_f);
#undef FM_LOOPS
}

tq_status tq_quant_featuremap(const tq_qrun *r) {
  const tq_quantizer *q = r->q;
  float *steps = r->steps;
  int32_t *zps = r->zero_points;
  tq_qlayout L;
  tq_status st = tq_qlayout_init(&L, r->dims, r->rank, q->scale_axis);
  if (st) return st;
  size_t G = L.groups, I = L.inner;
  const double bq = exp2(q->bits - 1) - 1, aq = -bq;
  const int po2 = q->alpha_mode == TQ_ALPHA_AUTO_PO2;
  float *fb = tq_alloc_floats(5 * G);
  if (!fb) return TQ_ERR_MEMORY;
  float *lo = fb, *hi = fb + G, *sf = fb + 2 * G, *sdiv = fb + 3 * G, *zpf = fb + 4 * G;
  /* The groups' raw extremes, then flushed: flushing is monotone (|x| < TQ_FM_FLUSH to 0), so the
   * flushed extremes are the raw ones flushed, and the raw ones give the tensor's range too. */
  tq_group_minmax(&L, r->in, 0.0f, lo, hi);
  if (r->range) {
    r->range[0] = INFINITY, r->range[1] = -INFINITY;
    for (size_t g = 0; g < G; g++) {
      if (lo[g] < r->range[0]) r->range[0] = lo[g];
      if (hi[g] > r->range[1]) r->range[1] = hi[g];
    }
  }
  for (size_t g = 0; g < G; g++) lo[g] = fm_flush(lo[g]), hi[g] = fm_flush(hi[g]);
  for (size_t g = 0; g < G; g++) {
    double l = lo[g], h = hi[g];
    double s = 2.0 * fmax(fabs(l), fabs(h)) / (bq - aq);
    if (po2) s = tq_po2(s);
    double zp = h == l ? 0.0 : tq_rha((h * aq - l * bq) / (h - l));
    sf[g] = (float)s;
    sdiv[g] = po2 ? 1.0f / sf[g] : (sf[g] > 0 ? sf[g] : 1.0f); /* po2: s >= 2^-23, 1/s exact */
    zpf[g] = (float)zp;
    if (steps) steps[g] = sf[g];
    /* The zero point the codes and the forward use: the float one (QKeras computes in float32),
     * which differs from zp above 2^24 (found by fuzz/fuzz_quant_parse.c). */
    if (zps) zps[g] = tq_qsat32(zpf[g]);
  }
  fm_apply A = {r->in, r->out, r->codes, sf, sdiv, zpf, (float)aq, (float)bq, q->qnoise_factor, aq, bq,
                q->bits > 24, q->qnoise_factor == 1.0f, po2};
  if (I == 1) {
    size_t k = row_pack(&L), W = k * G, R = L.outer / k;
    float *rep = k > 1 ? tq_alloc_floats(3 * W) : NULL;
    fm_apply P = A;
    if (rep) {
      repeat_f(rep, sf, G, k), repeat_f(rep + W, sdiv, G, k), repeat_f(rep + 2 * W, zpf, G, k);
      P.s = rep, P.sdiv = rep + W, P.zp = rep + 2 * W;
    } else {
      k = 1, W = G, R = L.outer;
    }
#pragma omp parallel for schedule(static) if (L.n >= TQ_QPAR_MIN)
    for (size_t r = 0; r < R; r++) fm_apply_run(&P, r * W, r * W + W, 0, 1);
    for (size_t o = R * k; o < L.outer; o++) fm_apply_run(&A, o * G, o * G + G, 0, 1);
    tq_free(rep);
  } else {
    const size_t K = L.outer * G, P = seg_pieces(&L);
#pragma omp parallel for schedule(static) if (L.n >= TQ_QPAR_MIN)
    for (size_t kc = 0; kc < K * P; kc++) {
      size_t b, e;
      seg_piece(&L, kc / P, kc % P, P, &b, &e);
      fm_apply_run(&A, b, e, kc / P % G, 0);
    }
  }
  tq_free(fb);
  return TQ_OK;
}

/* ---- binary / ternary auto ------------------------------------------------------------------- */

/* QKeras _get_scale: mean(x q) / (mean(q q) + eps), po2 for 'auto_po2'. */
static double get_scale(int po2, double sxq, double sqq, double cnt) {
  double s = (sxq / cnt) / (sqq / cnt + TQ_QEPS);
  return po2 ? tq_po2(s) : s;
}

/* binary's code: 1 for x >= 0, else neg (-1, or 0 with use_01). */
static inline double binary_code(float x, double neg) { return x >= 0.0f ? 1.0 : neg; }

/* ternary's code: sign(x) [rne(x / scale) != 0] (QKeras: |scale rne(x/scale)| >= scale/2);
 * scale 0 -> 0. */
static inline double ternary_code(float x, double scale) {
  if (!(scale > 0)) return 0.0;
  double r = nearbyint((double)x / scale);
  return r != 0 ? (x > 0 ? 1.0 : -1.0) : 0.0;
}

/* The sums of _get_scale per channel: sxq[g] = sum x k, sqq[g] = sum k^2 over the group, with
 * k = code(x, par[g]), accumulated in double in element order. */
static inline void code_sums(const tq_qlayout *L, const float *in, double (*code)(float, double),
                             const double *par, double *sxq, double *sqq) {
  size_t G = L->groups, I = L->inner;
  memset(sxq, 0, sizeof(double) * G);
  memset(sqq, 0, sizeof(double) * G);
  for (size_t o = 0; o < L->outer; o++)
    for (size_t g = 0; g < G; g++) {
      const float *s = in + (o * G + g) * I;
      for (size_t i = 0; i < I; i++) {
        double k = code(s[i], par[g]);
        sxq[g] += (double)s[i] * k;
        sqq[g] += k * k;
      }
    }
}

/* codes k = code(x, par[g]) and out = step[g] * k. */
static inline void code_apply(const tq_qlayout *L, const tq_qrun *r, double (*code)(float, double),
                              const double *par, const float *step) {
  size_t G = L->groups, I = L->inner;
  for (size_t o = 0; o < L->outer; o++)
    for (size_t g = 0; g < G; g++) {
      size_t base = (o * G + g) * I;
      for (size_t i = 0; i < I; i++) {
        double k = code(r->in[base + i], par[g]);
        if (r->codes) r->codes[base + i] = (int32_t)k;
        if (r->out) r->out[base + i] = step[g] * (float)k + 0.0f;
      }
    }
}

/* Per channel (the last axis): codes from the sign, one _get_scale. */
tq_status tq_quant_binary_auto(const tq_qrun *r) {
  tq_qlayout L;
  tq_status st = tq_qlayout_init(&L, r->dims, r->rank, -1);
  if (st) return st;
  size_t G = L.groups;
  double *buf = tq_alloc(sizeof(double) * 3 * G);
  float *step = tq_alloc_floats(G);
  if (!buf || !step) {
    tq_free(buf), tq_free(step);
    return TQ_ERR_MEMORY;
  }
  double *neg = buf, *sxq = buf + G, *sqq = buf + 2 * G;
  for (size_t g = 0; g < G; g++) neg[g] = r->q->use_01 ? 0.0 : -1.0;
  code_sums(&L, r->in, binary_code, neg, sxq, sqq);
  double cnt = (double)(L.outer * L.inner);
  for (size_t g = 0; g < G; g++) {
    step[g] = (float)get_scale(r->q->alpha_mode == TQ_ALPHA_AUTO_PO2, sxq[g], sqq[g], cnt);
    if (r->steps) r->steps[g] = step[g];
  }
  code_apply(&L, r, binary_code, neg, step);
  tq_free(buf), tq_free(step);
  return TQ_OK;
}

/* Per channel: number_of_unrolls rounds of codes from the scale and _get_scale from the codes;
 * the output takes the codes of the last round's input scale with the scale it gives (QKeras). */
tq_status tq_quant_ternary_auto(const tq_qrun *r) {
  tq_qlayout L;
  tq_status st = tq_qlayout_init(&L, r->dims, r->rank, -1);
  if (st) return st;
  size_t G = L.groups;
  const int po2 = r->q->alpha_mode == TQ_ALPHA_AUTO_PO2;
  double *buf = tq_alloc(sizeof(double) * 4 * G);
  float *fb = tq_alloc_floats(2 * G);
  if (!buf || !fb) {
    tq_free(buf), tq_free(fb);
    return TQ_ERR_MEMORY;
  }
  double *scale = buf, *prev = buf + G, *sxq = buf + 2 * G, *sqq = buf + 3 * G;
  float *amax = fb, *step = fb + G;
  tq_group_absmax(&L, r->in, amax);
  for (size_t g = 0; g < G; g++) {
    scale[g] = 2.0 * amax[g] / 3.0;
    if (po2) scale[g] = tq_po2(scale[g]);
    scale[g] = (float)scale[g];
  }
  double cnt = (double)(L.outer * L.inner);
  for (int it = 0; it < r->q->number_of_unrolls; it++) {
    code_sums(&L, r->in, ternary_code, scale, sxq, sqq);
    for (size_t g = 0; g < G; g++) {
      prev[g] = scale[g];
      scale[g] = (float)get_scale(po2, sxq[g], sqq[g], cnt);
    }
  }
  for (size_t g = 0; g < G; g++) {
    step[g] = (float)scale[g];
    if (r->steps) r->steps[g] = step[g];
  }
  code_apply(&L, r, ternary_code, prev, step);
  tq_free(buf), tq_free(fb);
  return TQ_OK;
}
