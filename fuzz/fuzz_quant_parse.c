/* libFuzzer target: QKeras quantizer strings (src/quant/parse.c), as --quant configs, search
 * spaces and model headers hand them to tq_quantizer_parse. Invariants (those of
 * tests/test_fuzz_quant_parse.c, for any bytes):
 *   - a rejected string gives TQ_ERR_FORMAT, a message quoting it, and leaves *q untouched;
 *   - an accepted string prints to a string that parses to an equal quantizer and reprints
 *     identically;
 *   - an accepted quantizer runs forward, backward and codes on small tensors, and where codes
 *     are supported forward(x) == step * (code - zero_point) bit-exactly (qnoise_factor 1). */
#include <math.h>

#include "fuzz_common.h"
#include "tinyq/quant.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_setup();
  return 0;
}

static void run_quantizer(const tq_quantizer *q, const char *s) {
  tq_rng r;
  tq_rng_seed(&r, 7);
  float x[12], out[12], sc[12], d[12], steps[12];
  int32_t codes[12], zp[12];
  for (int i = 0; i < 12; i++) x[i] = tq_rng_normal(&r) * (i == 3 ? 0.0f : 2.0f);
  static const int shapes[3][4] = {{12}, {3, 4}, {2, 1, 2, 3}};
  static const int ranks[3] = {1, 2, 4};
  for (int sh = 0; sh < 3; sh++) {
    size_t ns = tq_quantizer_num_scales(q, shapes[sh], ranks[sh]);
    FUZZ_CHECK(ns <= 12, "\"%s\": %zu scales for 12 values", s, ns);
    tq_status fs = tq_quantize_forward(q, out, sc, x, shapes[sh], ranks[sh], 0, NULL);
    FUZZ_CHECK(fs == TQ_OK || (fs == TQ_ERR_ARG && q->scale_axis >= ranks[sh]),
               "\"%s\": forward failed: %s", s, tq_last_error());
    tq_status cs = tq_quantize_codes(q, codes, steps, zp, x, shapes[sh], ranks[sh]);
    if (fs != TQ_OK || cs != TQ_OK || q->qnoise_factor != 1.0f) continue;
    /* One step for all, or one per element: the group of element i is then obvious. */
    if (ns != 1 && ns != 12) continue;
    for (int i = 0; i < 12; i++) {
      int g = ns == 1 ? 0 : i;
      /* In double, as the codes are documented: a 31-bit code is not exact in float. */
      float back = (float)((double)steps[g] * ((double)codes[i] - zp[g])) + 0.0f;
      FUZZ_CHECK(back == out[i] || (isnan(back) && isnan(out[i])),
                 "\"%s\": x=%g forward %g, codes give %g (code %d, step %g, zp %d)", s, x[i],
                 out[i], back, codes[i], steps[g], zp[g]);
    }
  }
  tq_quantize_forward(q, out, sc, x, shapes[0], 1, 1, &r); /* stochastic rounding, training */
  tq_quantize_backward(q, d, x, x, 12);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;  /* strings of configs are short; long ones only slow the search */
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0; /* the API takes C strings: an embedded NUL ends the string */

  tq_quantizer q, before;
  tq_quantizer_init(&q, TQ_Q_RELU);
  before = q;
  tq_status st = tq_quantizer_parse(&q, s);
  if (st != TQ_OK) {
    FUZZ_CHECK(st == TQ_ERR_FORMAT, "\"%s\": status %d", s, st);
    FUZZ_CHECK(strncmp(tq_last_error(), "quantizer \"", 11) == 0, "\"%s\": message %s", s,
               tq_last_error());
    FUZZ_CHECK(memcmp(&q, &before, sizeof q) == 0, "\"%s\": rejected but modified", s);
    FUZZ_CHECK(!strchr(tq_last_error(), '\n'), "message of several lines: %s", tq_last_error());
    free(s);
    return 0;
  }
  char a[1024], b[1024];
  size_t la = tq_quantizer_format(&q, a, sizeof a);
  FUZZ_CHECK(la < sizeof a, "\"%s\": prints to %zu bytes", s, la);
  FUZZ_CHECK(strlen(a) == la, "\"%s\": format returned %zu for \"%s\"", s, la, a);
  tq_quantizer r2;
  FUZZ_CHECK(tq_quantizer_parse(&r2, a) == TQ_OK, "\"%s\" prints as \"%s\", which fails: %s", s,
             a, tq_last_error());
  FUZZ_CHECK(tq_quantizer_equal(&q, &r2), "\"%s\" prints as \"%s\", which parses differently", s,
             a);
  tq_quantizer_format(&r2, b, sizeof b);
  FUZZ_CHECK(strcmp(a, b) == 0, "\"%s\": prints \"%s\", reprints \"%s\"", s, a, b);
  FUZZ_CHECK(tq_quantizer_validate(&q) == TQ_OK, "\"%s\" accepted but invalid: %s", s,
             tq_last_error());
  run_quantizer(&q, s);
  free(s);
  return 0;
}
