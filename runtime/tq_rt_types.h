/* tq_rt_types.h — the type combinations the runtime instantiates, listed once (included by tq_rt.h).
 *
 * Each list is an X-macro: TQ_RT_<FAMILY>_TYPES(X, op) expands to X(op, ...) once per combination. The
 * same lists declare the kernels (tq_rt.h), define them (tq_rt_*.c), and build the exporter's kernel
 * tables and kernel names (src/deploy/exec.c), so a combination added here exists everywhere at once.
 * Type names: s8 (int8_t), s16 (int16_t) activation codes; s4 (two's-complement nibbles packed in
 * uint8_t), s8, s16 weight codes; a32 (int32_t), a64 (int64_t) accumulators (kernel suffix _acc64).
 * ====================================================================================================== */
#ifndef TQ_RT_TYPES_H
#define TQ_RT_TYPES_H

/* C type, code range and bits of a type name (bits: what an exporter matches a tensor against). */
#define TQ_RT_CT(t) TQ_RT_CT_##t
#define TQ_RT_MIN(t) TQ_RT_MIN_##t
#define TQ_RT_MAX(t) TQ_RT_MAX_##t
#define TQ_RT_BITS(t) TQ_RT_BITS_##t
#define TQ_RT_CT_s4 uint8_t
#define TQ_RT_CT_s8 int8_t
#define TQ_RT_CT_s16 int16_t
#define TQ_RT_CT_a32 int32_t
#define TQ_RT_CT_a64 int64_t
#define TQ_RT_MIN_s8 (-128)
#define TQ_RT_MAX_s8 127
#define TQ_RT_MIN_s16 (-32768)
#define TQ_RT_MAX_s16 32767
#define TQ_RT_BITS_f32 0 /* float input of quantize: no integer type */
#define TQ_RT_BITS_s4 4
#define TQ_RT_BITS_s8 8
#define TQ_RT_BITS_s16 16
#define TQ_RT_BITS_a32 32
#define TQ_RT_BITS_a64 64

/* conv2d, depthwise_conv2d, dense: activation in x weights x activation out x accumulator (24).
 * X(op, x, w, o, a); the kernel is TQ_RT_WNAME(op, x, w, o, a), e.g. tq_rt_conv2d_s8_s4w_s16_acc64. */
#define TQ_RT_WEIGHTED_TYPES(X, op)                                                                 \
  X(op, s8, s4, s8, a32) X(op, s8, s4, s16, a32) X(op, s8, s8, s8, a32) X(op, s8, s8, s16, a32)     \
  X(op, s8, s16, s8, a32) X(op, s8, s16, s16, a32) X(op, s16, s4, s8, a32)                          \
  X(op, s16, s4, s16, a32) X(op, s16, s8, s8, a32) X(op, s16, s8, s16, a32)                         \
  X(op, s16, s16, s8, a32) X(op, s16, s16, s16, a32) X(op, s8, s4, s8, a64)                         \
  X(op, s8, s4, s16, a64) X(op, s8, s8, s8, a64) X(op, s8, s8, s16, a64) X(op, s8, s16, s8, a64)    \
  X(op, s8, s16, s16, a64) X(op, s16, s4, s8, a64) X(op, s16, s4, s16, a64)                         \
  X(op, s16, s8, s8, a64) X(op, s16, s8, s16, a64) X(op, s16, s16, s8, a64)                         \
  X(op, s16, s16, s16, a64)
#define TQ_RT_WNAME(op, x, w, o, a) TQ_RT_WNAME_##a(op, x, w, o)
#define TQ_RT_WNAME_a32(op, x, w, o) tq_rt_##op##_##x##_##w##w_##o
#define TQ_RT_WNAME_a64(op, x, w, o) tq_rt_##op##_##x##_##w##w_##o##_acc64

/* Pools and requant: activation in x activation out (4). X(op, x, o): tq_rt_<op>_<x>_<o>. */
#define TQ_RT_IO_TYPES(X, op) X(op, s8, s8) X(op, s8, s16) X(op, s16, s8) X(op, s16, s16)

/* add and mul_bcast: input a x input b x out (8). X(op, a, b, o): tq_rt_<op>_<a>_<b>_<o>. */
#define TQ_RT_ABO_TYPES(X, op)                                                                      \
  X(op, s8, s8, s8) X(op, s8, s8, s16) X(op, s8, s16, s8) X(op, s8, s16, s16) X(op, s16, s8, s8)    \
  X(op, s16, s8, s16) X(op, s16, s16, s8) X(op, s16, s16, s16)

/* One activation type (clamp, pad, argmax, quantize, dequantize, the output of a LUT) (2). X(op, t). */
#define TQ_RT_ONE_TYPES(X, op) X(op, s8) X(op, s16)

/* Helpers for the lists' users: an identifier as a string after macro expansion. */
#define TQ_RT_STR(s) TQ_RT_STR_(s)
#define TQ_RT_STR_(s) #s

#endif /* TQ_RT_TYPES_H */
