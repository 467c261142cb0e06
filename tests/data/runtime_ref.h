/* Independent reference model for the integer runtime tests (tests/test_runtime_*.c).
 * Written from the arithmetic contract in runtime/tq_rt.h without using any runtime code:
 * exact 128-bit integer arithmetic (GCC/Clang __int128) and a literal transcription of TFLite's
 * reference fixed-point helpers. Header-only, static functions. */
#ifndef TQ_RUNTIME_REF_H
#define TQ_RUNTIME_REF_H
#include <stdint.h>
#include <string.h>

__extension__ typedef __int128 i128;

/* ---- deterministic RNG (xorshift64*) -------------------------------------------------------------- */
static uint64_t ref_rng_state = 0x9E3779B97F4A7C15ull;
static inline uint64_t ref_rand64(void) {
  uint64_t x = ref_rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  ref_rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}
/* uniform integer in [lo, hi] */
static inline int64_t ref_randi(int64_t lo, int64_t hi) {
  return lo + (int64_t)(ref_rand64() % (uint64_t)(hi - lo + 1));
}

/* floor(a / 2^n) and floor(a / d) for 128-bit a (no reliance on >> of negatives). */
static inline i128 ref_floor_div(i128 a, i128 d) {
  i128 q = a / d;
  if (a % d != 0 && ((a < 0) != (d < 0))) q--;
  return q;
}
static inline i128 ref_pow2(int n) { return (i128)1 << n; }

/* PO2 mode: floor(acc / 2^n + 1/2) for n > 0, acc for n = 0, acc * 2^-n for n < 0 (unbounded). */
static inline i128 ref_rshift_round(i128 acc, int n) {
  if (n > 0) return ref_floor_div(2 * acc + ref_pow2(n), ref_pow2(n + 1));
  if (n == 0) return acc;
  return acc * ref_pow2(-n);
}

/* MULT mode: RDBP(floor(x*M/2^31 + 1/2), max(n,0)) with x = acc*2^max(-n,0); RDBP = round half away. */
static inline i128 ref_requant_mult(i128 acc, int32_t m, int n) {
  const i128 x = n < 0 ? acc * ref_pow2(-n) : acc;
  const i128 y = ref_floor_div(2 * x * m + ref_pow2(31), ref_pow2(32));
  const int e = n > 0 ? n : 0;
  i128 q, rem, half;
  if (e == 0) return y;
  q = ref_floor_div(y, ref_pow2(e));
  rem = y - q * ref_pow2(e);
  half = ref_pow2(e - 1);
  if (y >= 0) return q + (rem >= half ? 1 : 0);
  return q + (rem > half ? 1 : 0);
}

static inline int32_t ref_clamp(i128 v, int32_t lo, int32_t hi) {
  return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* One output: clamp(zp + rq(acc)). */
static inline int32_t ref_requant(i128 acc, int mode /*0 po2, 1 mult*/, int32_t m, int n, int32_t zp,
                           int32_t lo, int32_t hi) {
  const i128 v = mode == 0 ? ref_rshift_round(acc, n) : ref_requant_mult(acc, m, n);
  return ref_clamp(zp + v, lo, hi);
}

/* ---- TFLite reference helpers, transcribed (shift: TFLite sign, positive = left) ----------------- */
static inline int32_t tfl_srdhm(int32_t a, int32_t b) {
  const int overflow = a == b && a == INT32_MIN;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t r = (int32_t)((ab + nudge) / (1ll << 31));
  return overflow ? INT32_MAX : r;
}
static inline int32_t tfl_rdbp(int32_t x, int e) {
  const int32_t mask = (int32_t)((1ll << e) - 1);
  const int32_t rem = x & mask;
  const int32_t thr = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (rem > thr ? 1 : 0);
}
static inline int32_t tfl_mbqm(int32_t x, int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return tfl_rdbp(tfl_srdhm((int32_t)((int64_t)x * ((int64_t)1 << left)), m), right);
}

/* ---- int4 packing, written independently: element k -> byte k/2, low nibble for even k --------- */
static inline void ref_pack4(uint8_t *dst, const int32_t *src, size_t n) {
  size_t k;
  memset(dst, 0, (n + 1) / 2);
  for (k = 0; k < n; k++) {
    const unsigned nib = (unsigned)(src[k] + 16) % 16u;
    dst[k / 2] = (uint8_t)(dst[k / 2] | (k % 2 ? nib << 4 : nib));
  }
}

#endif
