/* tq_rt_quantize_value without double arithmetic (the Cortex-M4F path) against the double formula it
 * replaced, on every kind of input: exact ties, neighbours of ties, the neighbourhood of +-0.5,
 * values near 2^23, 2^24 and 2^31, flush-to-zero bounds, infinities, NaN, subnormals, extreme zero
 * points and bounds, and a stride through all 2^32 float bit patterns. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tq_rt.h"
#include "tq_test.h"

/* The runtime's formula before it went float-only (tinyq <= 7613d94), kept here as the reference. */
static int32_t ref_quantize_double(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  float u;
  double au, r;
  if (x != x) return zp < qmin ? qmin : zp > qmax ? qmax : zp;
  if (x < 1e-7f && x > -1e-7f) x = 0.0f;
  u = x / scale + (float)zp - 1.526e-5f;
  if (!(u == u)) return zp < qmin ? qmin : zp > qmax ? qmax : zp;
  au = u < 0 ? -(double)u : (double)u;
  if (au > 4.0e9) return u < 0 ? qmin : qmax;
  r = (double)(int64_t)(au + 0.5);
  if (u < 0) r = -r;
  return r < qmin ? qmin : r > qmax ? qmax : (int32_t)r;
}

static uint32_t to_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

static float from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

typedef struct {
  float scale;
  int32_t zp, qmin, qmax;
} qparams;

static const qparams PARAMS[] = {
    {1.0f, 0, INT32_MIN, INT32_MAX},     /* no clamp: the rounding alone */
    {1.0f, 0, -127, 127},                /* int8 featuremap */
    {0.0078125f, -3, -127, 127},         /* po2 scale, zero point */
    {4.0f / 254.0f, -127, -127, 127},    /* free scale */
    {2.0f, 10, -32767, 32767},           /* int16 */
    {0.5f, 1000000, INT32_MIN, INT32_MAX},
    {1e-30f, 0, INT32_MIN, INT32_MAX},   /* huge quotients */
    {1e30f, 0, INT32_MIN, INT32_MAX},    /* tiny quotients */
    {3.0517578125e-05f, 7, -32768, 32767},
    {1.0f, INT32_MAX, INT32_MIN, INT32_MAX}, /* (float)zp rounds to 2^31 */
    {1.0f, INT32_MIN, INT32_MIN, INT32_MAX},
};
#define NPARAMS (sizeof PARAMS / sizeof PARAMS[0])

static int mismatches = 0;
static void check_one(float x, const qparams *p) {
  int32_t got = tq_rt_quantize_value(x, p->scale, p->zp, p->qmin, p->qmax);
  int32_t want = ref_quantize_double(x, p->scale, p->zp, p->qmin, p->qmax);
  if (got != want) {
    if (mismatches++ < 10)
      printf("  mismatch: x=%.9g (0x%08x) scale=%.9g zp=%d [%d,%d]: %d, double formula %d\n", x,
             (unsigned)to_bits(x), p->scale, p->zp, p->qmin, p->qmax, got, want);
  }
}

/* Exact ties u = k + 1/2 (and their float neighbours), reached by choosing x so that
 * x/1 + 0 - 1.526e-5f lands on them; counts how many exact ties were actually hit so the test cannot
 * pass vacuously. */
static void test_ties(void) {
  const qparams p = {1.0f, 0, INT32_MIN, INT32_MAX};
  int ties = 0, k, d;
  for (k = -70000; k <= 70000; k++) {
    const float tie = (float)k + 0.5f;
    float x = tie + 1.526e-5f;
    for (d = 0; d < 48; d++) x = nextafterf(x, -INFINITY);
    for (d = 0; d < 96; d++) {
      float u = x / 1.0f + 0.0f - 1.526e-5f;
      if (u == tie) ties++;
      check_one(x, &p);
      x = nextafterf(x, INFINITY);
    }
  }
  CHECK(ties > 100000);
  printf("  exact ties hit: %d\n", ties);
  /* and with a po2 scale and zero point: u = x*128 - 3 - 1.526e-5 */
  {
    const qparams q = {0.0078125f, -3, INT32_MIN, INT32_MAX};
    int hit = 0;
    for (k = -3000; k <= 3000; k++) {
      const float tie = (float)k + 0.5f;
      float x = (tie + 3.0f + 1.526e-5f) * 0.0078125f;
      for (d = 0; d < 32; d++) x = nextafterf(x, -INFINITY);
      for (d = 0; d < 64; d++) {
        if (x / q.scale + (float)q.zp - 1.526e-5f == tie) hit++;
        check_one(x, &q);
        x = nextafterf(x, INFINITY);
      }
    }
    CHECK(hit > 1000);
  }
}

/* Around u = +-0.5, where floor(|u| + 0.5f) in float would round 0.5 - 2^-25 up: 20,000 neighbours
 * of the tie for each of several scales and zero points. (With the -1.526e-5 bias no x reaches
 * u = 0.5 - 2^-25 exactly — u lands on a 2^-24 grid there — so the walk checks every reachable u.) */
static void test_near_half(void) {
  static const float scales[] = {1.0f, 0.5f, 0.25f, 3.0f, 1.0f / 3.0f, 0.1f, 0.0078125f, 4.0f / 254.0f};
  static const int32_t zps[] = {0, -1, 1, -3, 5};
  size_t s, z;
  int d, sgn;
  for (s = 0; s < sizeof scales / sizeof scales[0]; s++)
    for (z = 0; z < sizeof zps / sizeof zps[0]; z++)
      for (sgn = -1; sgn <= 1; sgn += 2) {
        const qparams p = {scales[s], zps[z], -127, 127};
        float x = ((float)sgn * 0.5f + 1.526e-5f - (float)zps[z]) * scales[s];
        for (d = 0; d < 10000; d++) x = nextafterf(x, -INFINITY);
        for (d = 0; d < 20000; d++) {
          check_one(x, &p);
          x = nextafterf(x, INFINITY);
        }
      }
}

/* Magnitudes where float's integer grid changes: 2^23 (fractions vanish), 2^24 (odd integers vanish),
 * 2^31 (int32 saturation), 4e9 (the old formula's cut-off), and the flush-to-zero bound 1e-7. */
static void test_boundaries(void) {
  static const float centres[] = {8388608.0f, 16777216.0f, 2147483648.0f, 4.0e9f, 1e-7f, 0.5f,
                                  1.5f,       0.0f,        1.0f,          FLT_MIN, FLT_MAX};
  size_t c, i;
  int d;
  for (c = 0; c < sizeof centres / sizeof centres[0]; c++)
    for (i = 0; i < NPARAMS; i++) {
      const qparams *p = &PARAMS[i];
      float lo = centres[c] * p->scale, hi = lo; /* the x that puts u near the centre */
      for (d = 0; d < 300; d++) {
        check_one(lo, p), check_one(-lo, p), check_one(hi, p), check_one(-hi, p);
        lo = nextafterf(lo, 0.0f);
        hi = nextafterf(hi, INFINITY);
      }
    }
  for (i = 0; i < NPARAMS; i++) {
    const float special[] = {INFINITY, -INFINITY, NAN, -NAN, 0.0f, -0.0f, FLT_MAX, -FLT_MAX,
                             FLT_TRUE_MIN, -FLT_TRUE_MIN, 9.99999e-8f, -9.99999e-8f};
    for (c = 0; c < sizeof special / sizeof special[0]; c++) check_one(special[c], &PARAMS[i]);
  }
  /* spot values by hand: saturation, ties away from zero after the -1.526e-5 bias */
  CHECK_EQ_INT(tq_rt_quantize_value(3e9f, 1.0f, 0, INT32_MIN, INT32_MAX), INT32_MAX);
  CHECK_EQ_INT(tq_rt_quantize_value(-3e9f, 1.0f, 0, INT32_MIN, INT32_MAX), INT32_MIN);
  CHECK_EQ_INT(tq_rt_quantize_value(-2147483648.0f, 1.0f, 0, INT32_MIN, INT32_MAX), INT32_MIN);
  CHECK_EQ_INT(tq_rt_quantize_value(2147483520.0f, 1.0f, 0, INT32_MIN, INT32_MAX), 2147483520);
  CHECK_EQ_INT(tq_rt_quantize_value(8388607.5f, 1.0f, 0, INT32_MIN, INT32_MAX), 8388608);
  CHECK_EQ_INT(tq_rt_quantize_value(-8388607.5f, 1.0f, 0, INT32_MIN, INT32_MAX), -8388608);
  CHECK_EQ_INT(tq_rt_quantize_value(-0.5f, 1.0f, 0, -127, 127), -1); /* u = -0.500015 */
  CHECK_EQ_INT(tq_rt_quantize_value(0.5f, 1.0f, 0, -127, 127), 0);   /* u = 0.499985 */
  CHECK_EQ_INT(tq_rt_quantize_value(INFINITY, 1.0f, 0, -127, 127), 127);
  CHECK_EQ_INT(tq_rt_quantize_value(-INFINITY, 1.0f, 5, -127, 127), -127);
  CHECK_EQ_INT(tq_rt_quantize_value(NAN, 1.0f, 200, -127, 127), 127);
}

/* Every 251st bit pattern of the 2^32 floats (NaNs, infinities, subnormals, both signs: ~17 M
 * values), under every parameter set. */
static void test_stride(void) {
  uint64_t b;
  size_t i;
  for (i = 0; i < NPARAMS; i++)
    for (b = (uint64_t)i; b <= UINT32_MAX; b += 251 * 16 + (i & 1)) check_one(from_bits((uint32_t)b), &PARAMS[i]);
  for (b = 0; b <= UINT32_MAX; b += 251) check_one(from_bits((uint32_t)b), &PARAMS[1]);
}

int main(void) {
  test_ties();
  test_near_half();
  test_boundaries();
  test_stride();
  CHECK_EQ_INT(mismatches, 0);
  TEST_MAIN_END();
}
