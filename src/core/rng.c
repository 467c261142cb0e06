#include <math.h>

#include "tinyq/core.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void tq_rng_seed(tq_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

void tq_rng_derive(tq_rng *out, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
  tq_rng_seed(out, splitmix64(&x));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tq_rng_u64(tq_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float tq_rng_uniform(tq_rng *r) { return (float)(tq_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

void tq_rng_uniform_fill(tq_rng *r, float *out, size_t n) {
  tq_rng s = *r; /* the state in registers, not stored and reloaded per draw: several times faster */
  for (size_t i = 0; i < n; i++) out[i] = tq_rng_uniform(&s);
  *r = s;
}

float tq_rng_normal(tq_rng *r) {
  /* Box-Muller; the (1 - u) keeps log away from zero. */
  double u1 = 1.0 - (double)(tq_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
  double u2 = (double)(tq_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint32_t tq_rng_below(tq_rng *r, uint32_t n) {
  return (uint32_t)(((tq_rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

void tq_rng_shuffle(tq_rng *r, int *idx, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)tq_rng_below(r, (uint32_t)(i + 1));
    int t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}
