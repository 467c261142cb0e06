/* Element-wise dropout's draw (private to src/kernels): value i of a pass keeps `keep` or becomes 0
 * by a hash of (the pass's key, i), so that any kernel can redraw any value instead of storing a
 * mask: tq_dropout_forward, and the batch norm that runs fused with the ReLU and dropout after it
 * (batchnorm.c), forward and backward. */
#ifndef TINYQ_KERNELS_DROPOUT_DRAW_H
#define TINYQ_KERNELS_DROPOUT_DRAW_H

#include <stddef.h>
#include <stdint.h>

/* A 32-bit finaliser with low bias (Wellons' "lowbias32"): every input bit flips each output bit
 * with probability close to 1/2, so hashing consecutive counters gives independent-looking draws. */
static inline __attribute__((always_inline)) uint32_t tq_mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

/* keep or 0 for value i = hi * 2^32 + lo: a 24-bit uniform (as tq_rng_uniform) against rate. In
 * 32-bit halves: a loop over i then needs no 64-bit lanes (AVX2 has no 64-bit vector multiply). */
static inline __attribute__((always_inline)) float tq_dropout_draw32(uint64_t key, uint32_t lo, uint32_t hi, float rate, float keep) {
  uint32_t h = tq_mix32(tq_mix32(lo ^ (uint32_t)key) + ((uint32_t)(key >> 32) ^ hi * 0x9E3779B9U));
  return (float)(h >> 8) * (1.0f / 16777216.0f) >= rate ? keep : 0.0f;
}

static inline float tq_dropout_draw(uint64_t key, size_t i, float rate, float keep) {
  return tq_dropout_draw32(key, (uint32_t)i, (uint32_t)((uint64_t)i >> 32), rate, keep);
}

/* The halves of base + off from base's, with the carry. */
#define TQ_DROPOUT_LO(blo, off) ((blo) + (uint32_t)(off))
#define TQ_DROPOUT_HI(blo, bhi, off) ((bhi) + (TQ_DROPOUT_LO(blo, off) < (blo)))

/* keep for rate < 1; rate >= 1 drops everything (Keras rejects it; no division by 0). */
static inline float tq_dropout_keep(float rate) { return rate >= 1.0f ? 0.0f : 1.0f / (1.0f - rate); }

#endif
