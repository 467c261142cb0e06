/* Tuner bookkeeping (registry of configurations, observations, pending suggestions), the random tuner,
 * and the public entry points. The Bayesian method lives in bayes.c.
 *
 * Determinism contract: a suggestion is computed from an RNG stream derived from (seed, hash of the
 * state), where the state is the ordered list of observations (configuration content + score bits), the
 * ordered list of pending configurations and the set of abandoned configurations. Registry indices
 * (which depend on the order configurations were first heard of) never influence a decision, so
 * replaying a journal reproduces suggestions exactly. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "tuner_internal.h"

/* ---- hashing ---------------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t tq_tuner_hash_choice(const tq_tuner *t, const int *choice) {
  uint64_t h = 0x6A09E667F3BCC909ULL ^ (uint64_t)t->ndims;
  for (int d = 0; d < t->ndims; d++) h = (h ^ (uint64_t)(uint32_t)choice[d]) * 0x100000001B3ULL + 0x9E37ULL;
  return mix64(h);
}

int tq_tuner_lookup(const tq_tuner *t, const int *choice, uint64_t h) {
  size_t mask = (size_t)t->table_cap - 1;
  for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
    int c = t->table[i];
    if (c < 0) return -1;
    if (t->cfgs[c].hash == h &&
        memcmp(t->cfg_choice + (size_t)c * t->ndims, choice, sizeof(int) * (size_t)t->ndims) == 0)
      return c;
  }
}

static int cfg_blocked(const tq_tuner_cfg *c) { return c->n_obs > 0 || c->n_pending > 0 || c->abandoned; }

int tq_tuner_is_free(const tq_tuner *t, const int *choice) {
  int c = tq_tuner_lookup(t, choice, tq_tuner_hash_choice(t, choice));
  return c < 0 || !cfg_blocked(&t->cfgs[c]);
}

/* Capacity >= need (doubling from cap); == cap when no growth is needed. */
static int next_cap(int cap, int need) {
  if (need <= cap) return cap;
  int nc = cap ? cap : 16;
  while (nc < need) nc *= 2;
  return nc;
}

/* p (cap elements) itself when newcap == cap, else a copy in a new block of newcap elements (p freed);
 * NULL (error recorded, p kept) on failure. */
static void *regrow(void *p, int cap, int newcap, size_t elem) {
  if (newcap == cap) return p;
  void *q = tq_alloc(elem * (size_t)newcap);
  if (!q) {
    tq_fail_prefix(TQ_ERR_MEMORY, "tuner");
    return NULL;
  }
  if (p) memcpy(q, p, elem * (size_t)cap);
  tq_free(p);
  return q;
}

static tq_status rehash(tq_tuner *t, int cap) {
  int *nt = tq_alloc(sizeof(int) * (size_t)cap);
  if (!nt) return tq_fail_prefix(TQ_ERR_MEMORY, "tuner");
  for (int i = 0; i < cap; i++) nt[i] = -1;
  size_t mask = (size_t)cap - 1;
  for (int c = 0; c < t->n_cfg; c++) {
    size_t i = (size_t)t->cfgs[c].hash & mask;
    while (nt[i] >= 0) i = (i + 1) & mask;
    nt[i] = c;
  }
  tq_free(t->table);
  t->table = nt;
  t->table_cap = cap;
  return TQ_OK;
}

/* Registry index of choice, inserting it if new. -1 on allocation failure (error recorded). */
static int intern(tq_tuner *t, const int *choice) {
  uint64_t h = tq_tuner_hash_choice(t, choice);
  int c = tq_tuner_lookup(t, choice, h);
  if (c >= 0) return c;
  if ((size_t)(t->n_cfg + 1) * 2 > (size_t)t->table_cap && rehash(t, t->table_cap * 2) != TQ_OK) return -1;
  int nc = next_cap(t->cap_cfg, t->n_cfg + 1);
  tq_tuner_cfg *cfgs = regrow(t->cfgs, t->cap_cfg, nc, sizeof(tq_tuner_cfg));
  if (!cfgs) return -1;
  t->cfgs = cfgs;
  int *ch = regrow(t->cfg_choice, t->cap_cfg, nc, sizeof(int) * (size_t)t->ndims);
  if (!ch) return -1; /* cfgs is already larger than cap_cfg: harmless */
  t->cfg_choice = ch;
  t->cap_cfg = nc;
  c = t->n_cfg++;
  memcpy(t->cfg_choice + (size_t)c * t->ndims, choice, sizeof(int) * (size_t)t->ndims);
  t->cfgs[c] = (tq_tuner_cfg){.hash = h};
  size_t mask = (size_t)t->table_cap - 1;
  size_t i = (size_t)h & mask;
  while (t->table[i] >= 0) i = (i + 1) & mask;
  t->table[i] = c;
  return c;
}

/* Applies a change to a registry entry and keeps n_blocked in step. */
static void set_cfg(tq_tuner *t, int c, int d_obs, int d_pending, int abandon) {
  tq_tuner_cfg *e = &t->cfgs[c];
  int before = cfg_blocked(e);
  e->n_obs += d_obs;
  e->n_pending += d_pending;
  if (abandon) e->abandoned = 1;
  t->n_blocked += cfg_blocked(e) - before;
}

/* ---- creation --------------------------------------------------------------------------------- */

tq_status tq_tuner_create(tq_tuner **out, tq_tuner_kind kind, int ndims, const int *counts,
                          const float *const *values, uint64_t seed) {
  if (!out) return tq_fail(TQ_ERR_ARG, "tuner: out is NULL");
  *out = NULL;
  if (kind != TQ_TUNER_RANDOM && kind != TQ_TUNER_BAYESIAN) return tq_fail(TQ_ERR_ARG, "tuner: unknown kind %d", (int)kind);
  if (ndims < 1 || ndims > TQ_TUNER_MAX_DIMS)
    return tq_fail(TQ_ERR_ARG, "tuner: ndims must be in [1, %d], got %d", TQ_TUNER_MAX_DIMS, ndims);
  if (!counts) return tq_fail(TQ_ERR_ARG, "tuner: counts is NULL");
  int maxcount = 1;
  double log2_space = 0;
  for (int d = 0; d < ndims; d++) {
    if (counts[d] < 1 || counts[d] > TQ_TUNER_MAX_OPTIONS)
      return tq_fail(TQ_ERR_ARG, "tuner: dimension %d: option count must be in [1, %d], got %d", d,
                     TQ_TUNER_MAX_OPTIONS, counts[d]);
    if (counts[d] > maxcount) maxcount = counts[d];
    log2_space += log2((double)counts[d]);
    if (values && values[d])
      for (int k = 0; k < counts[d]; k++)
        if (!isfinite(values[d][k])) return tq_fail(TQ_ERR_ARG, "tuner: dimension %d: value %d is not finite", d, k);
  }
  tq_tuner *t = tq_alloc(sizeof(*t));
  if (!t) return tq_fail_prefix(TQ_ERR_MEMORY, "tuner");
  double space = 0;
  if (log2_space <= 53.0) {
    space = 1;
    for (int d = 0; d < ndims; d++) space *= counts[d];
  }
  int n_initial = ndims / 2 > 20 ? 20 : ndims / 2 < 5 ? 5 : ndims / 2;
  *t = (tq_tuner){.kind = kind, .ndims = ndims, .seed = seed, .maxcount = maxcount, .log2_space = log2_space,
                  .space = space, .n_initial = n_initial};
  t->counts = tq_alloc(sizeof(int) * (size_t)ndims);
  t->pos = tq_alloc(sizeof(double) * (size_t)ndims * maxcount);
  t->lengthscales = tq_alloc(sizeof(double) * (size_t)ndims);
  t->main_effects = tq_alloc(sizeof(double) * (size_t)ndims);
  t->table_cap = 64;
  t->table = tq_alloc(sizeof(int) * (size_t)t->table_cap);
  if (!t->counts || !t->pos || !t->lengthscales || !t->main_effects || !t->table) {
    tq_tuner_free(t);
    return tq_fail_prefix(TQ_ERR_MEMORY, "tuner");
  }
  for (int i = 0; i < t->table_cap; i++) t->table[i] = -1;
  memcpy(t->counts, counts, sizeof(int) * (size_t)ndims);
  /* Option positions on [0,1]: by log2(value) when the values are positive and strictly increasing
   * (bit-widths: 4, 8, 16 -> 0, .5, 1; 16, 31 -> 0, 1), otherwise by rank. */
  for (int d = 0; d < ndims; d++) {
    double *p = t->pos + (size_t)d * maxcount;
    int c = counts[d];
    if (c == 1) {
      p[0] = 0;
      continue;
    }
    int use_values = values && values[d];
    if (use_values)
      for (int k = 0; k < c; k++)
        if (!(values[d][k] > 0) || (k > 0 && !(values[d][k] > values[d][k - 1]))) use_values = 0;
    if (use_values) {
      double lo = log2((double)values[d][0]), hi = log2((double)values[d][c - 1]);
      for (int k = 0; k < c; k++) p[k] = (log2((double)values[d][k]) - lo) / (hi - lo);
      p[0] = 0;
      p[c - 1] = 1;
    } else {
      for (int k = 0; k < c; k++) p[k] = (double)k / (double)(c - 1);
    }
  }
  *out = t;
  return TQ_OK;
}

void tq_tuner_free(tq_tuner *t) {
  if (!t) return;
  void *blocks[] = {t->counts, t->pos, t->lengthscales, t->main_effects, t->table,
                    t->cfg_choice, t->cfgs, t->obs, t->pending, t};
  for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) tq_free(blocks[i]);
}

tq_status tq_tuner_set_initial_points(tq_tuner *t, int n) {
  if (!t) return tq_fail(TQ_ERR_ARG, "tuner: NULL tuner");
  if (n < 1) return tq_fail(TQ_ERR_ARG, "tuner: initial points must be >= 1, got %d", n);
  t->n_initial = n;
  return TQ_OK;
}

/* ---- state ------------------------------------------------------------------------------------ */

static tq_status check_choice(const tq_tuner *t, const int *choice, const char *fn) {
  if (!choice) return tq_fail(TQ_ERR_ARG, "%s: choice is NULL", fn);
  for (int d = 0; d < t->ndims; d++)
    if (choice[d] < 0 || choice[d] >= t->counts[d])
      return tq_fail(TQ_ERR_ARG, "%s: dimension %d: option %d out of range [0, %d)", fn, d, choice[d],
                     t->counts[d]);
  return TQ_OK;
}

static void remove_pending(tq_tuner *t, int c) {
  for (int i = 0; i < t->n_pending; i++)
    if (t->pending[i] == c) {
      memmove(t->pending + i, t->pending + i + 1, sizeof(int) * (size_t)(t->n_pending - i - 1));
      t->n_pending--;
      set_cfg(t, c, 0, -1, 0);
      return;
    }
}

static tq_status push_pending(tq_tuner *t, int c) {
  int nc = next_cap(t->cap_pending, t->n_pending + 1);
  int *p = regrow(t->pending, t->cap_pending, nc, sizeof(int));
  if (!p) return TQ_ERR_MEMORY; /* the message says why */
  t->pending = p;
  t->cap_pending = nc;
  t->pending[t->n_pending++] = c;
  set_cfg(t, c, 0, +1, 0);
  return TQ_OK;
}

tq_status tq_tuner_observe(tq_tuner *t, const int *choice, double score) {
  if (!t) return tq_fail(TQ_ERR_ARG, "tuner_observe: NULL tuner");
  tq_status st = check_choice(t, choice, "tuner_observe");
  if (st != TQ_OK) return st;
  if (!isfinite(score))
    return tq_fail(TQ_ERR_ARG, "tuner_observe: score is not finite (use tq_tuner_forget_pending for failed trials)");
  int nc = next_cap(t->cap_obs, t->n_obs + 1);
  tq_tuner_obs *o = regrow(t->obs, t->cap_obs, nc, sizeof(tq_tuner_obs));
  if (!o) return TQ_ERR_MEMORY; /* the message says why */
  t->obs = o;
  t->cap_obs = nc;
  int c = intern(t, choice);
  if (c < 0) return TQ_ERR_MEMORY;
  if (t->cfgs[c].n_pending > 0) remove_pending(t, c);
  t->obs[t->n_obs++] = (tq_tuner_obs){.cfg = c, .score = score};
  set_cfg(t, c, +1, 0, 0);
  return TQ_OK;
}

tq_status tq_tuner_add_pending(tq_tuner *t, const int *choice) {
  if (!t) return tq_fail(TQ_ERR_ARG, "tuner_add_pending: NULL tuner");
  tq_status st = check_choice(t, choice, "tuner_add_pending");
  if (st != TQ_OK) return st;
  int c = intern(t, choice);
  if (c < 0) return TQ_ERR_MEMORY;
  return push_pending(t, c);
}

void tq_tuner_forget_pending(tq_tuner *t, const int *choice) {
  if (!t || check_choice(t, choice, "tuner_forget_pending") != TQ_OK) return;
  int c = intern(t, choice);
  if (c < 0) return; /* out of memory: the error is recorded; the configuration stays suggestible */
  if (t->cfgs[c].n_pending > 0) remove_pending(t, c);
  set_cfg(t, c, 0, 0, 1);
}

int tq_tuner_best(const tq_tuner *t, int *choice, double *score) {
  if (!t || t->n_obs == 0) return 0;
  int b = 0;
  for (int i = 1; i < t->n_obs; i++)
    if (t->obs[i].score > t->obs[b].score) b = i;
  if (choice) memcpy(choice, t->cfg_choice + (size_t)t->obs[b].cfg * t->ndims, sizeof(int) * (size_t)t->ndims);
  if (score) *score = t->obs[b].score;
  return 1;
}

int tq_tuner_ndims(const tq_tuner *t) { return t ? t->ndims : 0; }
tq_tuner_kind tq_tuner_get_kind(const tq_tuner *t) { return t ? t->kind : TQ_TUNER_RANDOM; }
int tq_tuner_num_observed(const tq_tuner *t) { return t ? t->n_obs : 0; }
int tq_tuner_num_pending(const tq_tuner *t) { return t ? t->n_pending : 0; }
int tq_tuner_exhausted(const tq_tuner *t) { return t && t->space > 0 && (double)t->n_blocked >= t->space; }

void tq_tuner_last_info(const tq_tuner *t, tq_tuner_info *info) {
  if (!info) return;
  if (t) *info = t->info;
  else memset(info, 0, sizeof(*info));
}

const double *tq_tuner_lengthscales(const tq_tuner *t) { return t && t->has_lengthscales ? t->lengthscales : NULL; }

int tq_tuner_refit(tq_tuner *t) {
  if (!t || t->kind != TQ_TUNER_BAYESIAN || t->n_obs < 2 || t->n_obs < t->n_initial) return 0;
  int r = tq_bayes_fit(t);
  if (r < 0) tq_fail_prefix(TQ_ERR_MEMORY, "tuner_refit");
  return r;
}

/* ---- random configurations -------------------------------------------------------------------- */

void tq_tuner_unrank(const tq_tuner *t, uint64_t idx, int *choice) {
  for (int d = 0; d < t->ndims; d++) {
    choice[d] = (int)(idx % (uint64_t)t->counts[d]);
    idx /= (uint64_t)t->counts[d];
  }
}

/* Spaces up to this size are enumerated when rejection sampling keeps hitting taken configurations. */
#define ENUMERATE_MAX 4e6

int tq_tuner_random_free(const tq_tuner *t, tq_rng *rng, int *choice) {
  if (tq_tuner_exhausted(t)) return 0;
  for (int attempt = 0; attempt < 256; attempt++) {
    for (int d = 0; d < t->ndims; d++) choice[d] = (int)tq_rng_below(rng, (uint32_t)t->counts[d]);
    if (tq_tuner_is_free(t, choice)) return 1;
  }
  if (t->space <= 0 || t->space > ENUMERATE_MAX) return 0;
  /* Nearly full small space: pick uniformly among the free configurations by enumeration. */
  uint64_t total = (uint64_t)t->space, nfree = total - (uint64_t)t->n_blocked;
  uint64_t target = (uint64_t)(tq_rng_uniform(rng) * (double)nfree);
  if (target >= nfree) target = nfree - 1;
  for (uint64_t idx = 0; idx < total; idx++) {
    tq_tuner_unrank(t, idx, choice);
    if (tq_tuner_is_free(t, choice)) {
      if (target == 0) return 1;
      target--;
    }
  }
  return 0;
}

/* ---- suggestion ------------------------------------------------------------------------------- */

static uint64_t state_hash(const tq_tuner *t) {
  uint64_t h = mix64(0xA5A5A5A5ULL ^ (uint64_t)t->n_obs);
  for (int i = 0; i < t->n_obs; i++) {
    uint64_t bits;
    memcpy(&bits, &t->obs[i].score, sizeof(bits));
    h = mix64(h ^ t->cfgs[t->obs[i].cfg].hash);
    h = mix64(h ^ bits);
  }
  h = mix64(h ^ 0x5EEDULL ^ ((uint64_t)t->n_pending << 32));
  for (int i = 0; i < t->n_pending; i++) h = mix64(h ^ t->cfgs[t->pending[i]].hash);
  uint64_t ab = 0; /* order-independent: a sum over the set */
  for (int c = 0; c < t->n_cfg; c++)
    if (t->cfgs[c].abandoned) ab += mix64(t->cfgs[c].hash ^ 0xABA5D0EDULL);
  return mix64(h ^ ab);
}

tq_status tq_tuner_suggest(tq_tuner *t, int *choice) {
  if (!t) return tq_fail(TQ_ERR_ARG, "tuner_suggest: NULL tuner");
  if (!choice) return tq_fail(TQ_ERR_ARG, "tuner_suggest: choice is NULL");
  double t0 = tq_now_seconds();
  if (tq_tuner_exhausted(t))
    return tq_fail(TQ_ERR_UNSUPPORTED, "tuner_suggest: search space exhausted: all %.0f configurations observed, pending or abandoned",
                   t->space);
  int *c = tq_alloc(sizeof(int) * (size_t)t->ndims);
  if (!c) return tq_fail_prefix(TQ_ERR_MEMORY, "tuner_suggest");
  /* The random tuner's i-th suggestion depends on i and on the set of configurations already taken
   * (the first i - 1 suggestions, in whatever order their results came back), not on the results:
   * with several ranks trial i gets the same draw whichever rank asks for it, and a resumed search
   * draws what the uninterrupted one would. The Bayesian tuner's suggestions follow the results by
   * design. */
  tq_rng rng;
  tq_rng_derive(&rng, t->seed, t->kind == TQ_TUNER_RANDOM ? mix64(0x52414E44ULL ^ (uint64_t)t->n_cfg) : state_hash(t));
  memset(&t->info, 0, sizeof(t->info));
  int found = 0;
  if (t->kind == TQ_TUNER_BAYESIAN && t->n_obs >= 2 && t->n_obs + t->n_pending >= t->n_initial) {
    found = tq_bayes_suggest(t, &rng, c);
    if (found < 0) {
      tq_free(c);
      return tq_fail_prefix(TQ_ERR_MEMORY, "tuner_suggest");
    }
  }
  if (!found) {
    memset(&t->info, 0, sizeof(t->info));
    found = tq_tuner_random_free(t, &rng, c);
  }
  if (!found) {
    tq_free(c);
    return tq_fail(TQ_ERR_UNSUPPORTED, "tuner_suggest: search space exhausted: no free configuration found");
  }
  int idx = intern(t, c);
  if (idx < 0 || push_pending(t, idx) != TQ_OK) {
    tq_free(c);
    return TQ_ERR_MEMORY; /* the message says why */
  }
  memcpy(choice, c, sizeof(int) * (size_t)t->ndims);
  tq_free(c);
  t->info.seconds = tq_now_seconds() - t0;
  return TQ_OK;
}

/* ---- names ------------------------------------------------------------------------------------ */

const char *tq_tuner_describe(tq_tuner_kind kind) {
  switch (kind) {
    case TQ_TUNER_RANDOM:
      return "random search: uniform random per-layer quantizer choices, never repeating a configuration";
    case TQ_TUNER_BAYESIAN:
      return "Bayesian optimisation: Gaussian process (additive + ARD Matern-5/2 kernel over log-bit-encoded "
             "ordinal choices, marginal-likelihood fit), expected improvement maximised by random + local search, "
             "kriging believer for pending trials";
  }
  return "unknown tuner";
}

const char *tq_tuner_kind_name(tq_tuner_kind kind) {
  switch (kind) {
    case TQ_TUNER_RANDOM: return "random";
    case TQ_TUNER_BAYESIAN: return "bayesian";
  }
  return "unknown";
}

static int streq_nocase(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
  return *a == *b;
}

tq_status tq_tuner_parse_kind(const char *s, tq_tuner_kind *out) {
  if (!s || !out) return tq_fail(TQ_ERR_ARG, "tuner: NULL argument to parse_kind");
  if (streq_nocase(s, "bayesian")) *out = TQ_TUNER_BAYESIAN;
  else if (streq_nocase(s, "random")) *out = TQ_TUNER_RANDOM;
  else return tq_fail(TQ_ERR_ARG, "tuner: unknown tuner '%s' (expected 'bayesian' or 'random')", s);
  return TQ_OK;
}
