/* A host stand-in for <arm_acle.h>: the DSP-extension intrinsics runtime/tq_rt_dsp.c uses, in C with
 * the instructions' semantics (16-bit lanes, 32-bit sums that wrap, 64-bit sums), so the DSP loops run
 * under the host's runtime tests (test_runtime_conv_dsp, test_runtime_dense_dsp; CMakeLists.txt builds
 * the runtime with __ARM_FEATURE_DSP and this folder on the include path). On a real core the DSP
 * images of tests/cli_m4.sh check the same loops against the host. */
#ifndef TQ_DSP_EMUL_ARM_ACLE_H
#define TQ_DSP_EMUL_ARM_ACLE_H

#include <stdint.h>

typedef int32_t int8x4_t;
typedef int32_t int16x2_t;

/* the low and high 16-bit lanes, and a 32-bit result from its bits (two's complement) */
static inline int32_t tq_emul_lo(int32_t v) { return (int32_t)(int16_t)(uint16_t)((uint32_t)v & 0xFFFFu); }
static inline int32_t tq_emul_hi(int32_t v) { return (int32_t)(int16_t)(uint16_t)((uint32_t)v >> 16); }
static inline int32_t tq_emul_s32(uint32_t u) { return (int32_t)u; }

/* SXTB16: bytes 0 and 2 sign-extended into the two lanes */
static inline int16x2_t __sxtb16(int8x4_t x) {
  const uint32_t u = (uint32_t)x;
  const int32_t b0 = (int8_t)(uint8_t)(u & 0xFFu), b2 = (int8_t)(uint8_t)((u >> 16) & 0xFFu);
  return tq_emul_s32(((uint32_t)b0 & 0xFFFFu) | ((uint32_t)b2 << 16));
}
/* SMLAD: c + lo*lo + hi*hi, modulo 2^32 */
static inline int32_t __smlad(int16x2_t a, int16x2_t b, int32_t c) {
  return tq_emul_s32((uint32_t)c + (uint32_t)(tq_emul_lo(a) * tq_emul_lo(b)) +
                     (uint32_t)(tq_emul_hi(a) * tq_emul_hi(b)));
}
/* SMLALD: the same into 64 bits */
static inline int64_t __smlald(int16x2_t a, int16x2_t b, int64_t c) {
  return c + (int64_t)tq_emul_lo(a) * tq_emul_lo(b) + (int64_t)tq_emul_hi(a) * tq_emul_hi(b);
}
/* SMLABB, SMLATT: one product of the low (high) lanes, modulo 2^32 */
static inline int32_t __smlabb(int32_t a, int32_t b, int32_t c) {
  return tq_emul_s32((uint32_t)c + (uint32_t)(tq_emul_lo(a) * tq_emul_lo(b)));
}
static inline int32_t __smlatt(int32_t a, int32_t b, int32_t c) {
  return tq_emul_s32((uint32_t)c + (uint32_t)(tq_emul_hi(a) * tq_emul_hi(b)));
}

#endif /* TQ_DSP_EMUL_ARM_ACLE_H */
