/* Deterministic fuzzing of the quantizer-string parser: grammar-generated strings (valid and
 * invalid values), mutations of them and random bytes. Invariants for every input:
 *   - parse returns TQ_OK or TQ_ERR_FORMAT (never crashes; ASan/UBSan run this too);
 *   - an error message quotes the input and leaves the output untouched;
 *   - an accepted string prints to a string that parses to an equal quantizer and reprints
 *     identically, and the quantizer runs forward/backward/codes on small tensors. */
#include <string.h>

#include "test_quant_reprint.h"
#include "tinyq/quant.h"
#include "tq_test.h"

static const char *const seeds[] = {
    "quantized_bits(4,4,1,alpha='auto')",
    "quantized_bits(16,16,1,alpha='auto_po2')",
    "quantized_bits(31,31,1,alpha='auto_po2')",
    "quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)",
    "quantized_bits_featuremap(bits=16,integer=16,symmetric=1,keep_negative=1,alpha='auto',scale_axis=0)",
    "quantized_bits(8,0,0,keep_negative=False,use_stochastic_rounding=True,qnoise_factor=0.5)",
    "quantized_bits(4,0,1,1,'auto',False,None,1.0,use_ste=False)",
    "quantized_relu(4,2,0,0.0,1)",
    "quantized_po2(4,max_value=0.5)",
    "quantized_po2(6,None,False,False,'rnd',0.5)",
    "binary(use_01=True,alpha='auto_po2')",
    "ternary(alpha=0.5,threshold=0.2)",
    "ternary('auto',None,False,3)",
    "None",
};

static const char *const names[] = {"quantized_bits", "quantized_bits_featuremap", "quantized_relu",
                                    "quantized_po2",  "binary",   "ternary", "None", "quantized_bitz"};
static const char *const keys[] = {"bits", "integer", "symmetric", "keep_negative", "alpha",
                                   "use_stochastic_rounding", "scale_axis", "qnoise_factor",
                                   "use_ste", "max_value", "use_01", "threshold",
                                   "number_of_unrolls", "use_sigmoid", "negative_slope",
                                   "relu_upper_bound", "is_quantized_clip",
                                   "quadratic_approximation", "log2_rounding", "var_name"};
static const char *const values[] = {
    "0", "1", "2", "4", "8", "16", "31", "32", "33", "-1", "-64", "65", "True", "False", "None",
    "'auto'", "\"auto_po2\"", "'rnd'", "'x'", "0.5", "1.0", "2.5", "1e-3", "-0.0", ".5", "5.",
    "1e40", "1e999", "99999999999999999999", "x", "", "4 5", "f(1,2)", "[1,2]", "'unterminated",
    "0.25", "3", "7", "100", "101", "1E2", "+3"};

#define N_(a) (int)(sizeof(a) / sizeof((a)[0]))

/* Appends s to out[0..*k) if it fits (with room for the NUL). */
static void append(char *out, size_t cap, size_t *k, const char *s) {
  size_t l = strlen(s);
  if (*k + l + 1 < cap) memcpy(out + *k, s, l), *k += l;
}

static void gen(tq_rng *r, char *out, size_t cap) {
  size_t k = 0;
#define PUT(s) append(out, cap, &k, (s))
  const char *ws[] = {"", "", "", " ", "\t", "\n "};
  PUT(ws[tq_rng_below(r, 6)]);
  PUT(names[tq_rng_below(r, N_(names))]);
  if (tq_rng_below(r, 8)) {
    PUT(ws[tq_rng_below(r, 6)]);
    PUT("(");
    int nargs = (int)tq_rng_below(r, 7), kw = 0;
    for (int i = 0; i < nargs; i++) {
      if (i) PUT(",");
      PUT(ws[tq_rng_below(r, 6)]);
      if (kw || tq_rng_below(r, 3) == 0) {
        kw = 1;
        PUT(keys[tq_rng_below(r, N_(keys))]);
        PUT(ws[tq_rng_below(r, 6)]);
        PUT("=");
      }
      PUT(values[tq_rng_below(r, N_(values))]);
      PUT(ws[tq_rng_below(r, 6)]);
    }
    if (tq_rng_below(r, 10) == 0) PUT(",");
    if (tq_rng_below(r, 20)) PUT(")");
  }
  PUT(ws[tq_rng_below(r, 6)]);
  out[k] = 0;
#undef PUT
}

/* Mostly-valid strings: per quantizer, its parameters in order with values it accepts. */
typedef struct {
  const char *key;
  const char *vals[6];
} vparam;
typedef struct {
  const char *name;
  int npos;
  vparam p[9];
} vspec;
#define BOOLS {"0", "1", "True", "False"}
#define QN {"1.0", "0.5", "0", "0.125"}
static const vspec vspecs[] = {
    {"quantized_bits", 8,
     {{"bits", {"2", "4", "8", "16", "31"}}, {"integer", {"0", "1", "4", "-2", "16"}},
      {"symmetric", BOOLS}, {"keep_negative", BOOLS},
      {"alpha", {"None", "'auto'", "'auto_po2'", "1.5", "0.25"}},
      {"use_stochastic_rounding", BOOLS}, {"scale_axis", {"None", "0", "1", "3"}},
      {"qnoise_factor", QN}, {"use_ste", BOOLS}}},
    {"quantized_bits_featuremap", 5,
     {{"bits", {"2", "4", "8", "16"}}, {"integer", {"0", "4", "16"}}, {"symmetric", BOOLS},
      {"keep_negative", BOOLS}, {"alpha", {"'auto'", "'auto_po2'", "\"auto\""}},
      {"use_stochastic_rounding", {"False"}}, {"scale_axis", {"None", "0", "1", "3"}},
      {"qnoise_factor", QN}, {"use_ste", BOOLS}}},
    {"quantized_relu", 8,
     {{"bits", {"1", "4", "8"}}, {"integer", {"0", "2", "-1"}}, {"use_sigmoid", {"0", "False"}},
      {"negative_slope", {"0", "0.0"}}, {"use_stochastic_rounding", BOOLS},
      {"relu_upper_bound", {"None"}}, {"is_quantized_clip", {"True", "1"}}, {"qnoise_factor", QN},
      {"use_ste", BOOLS}}},
    {"quantized_po2", 6,
     {{"bits", {"2", "4", "8"}}, {"max_value", {"None", "1", "0.5", "4.0"}},
      {"use_stochastic_rounding", {"False"}}, {"quadratic_approximation", {"False", "0"}},
      {"log2_rounding", {"'rnd'"}}, {"qnoise_factor", QN}, {"use_ste", BOOLS}}},
    {"binary", 3,
     {{"use_01", BOOLS}, {"alpha", {"None", "'auto'", "'auto_po2'", "0.5"}},
      {"use_stochastic_rounding", {"False"}}}},
    {"ternary", 4,
     {{"alpha", {"None", "0.5", "2.0", "'auto'"}}, {"threshold", {"None", "0.2"}},
      {"use_stochastic_rounding", {"False"}}, {"number_of_unrolls", {"1", "5", "9"}}}},
};

static void gen_valid(tq_rng *r, char *out, size_t cap) {
  const vspec *v = &vspecs[tq_rng_below(r, N_(vspecs))];
  int np = 0;
  while (np < 9 && v->p[np].key) np++;
  size_t k = 0;
#define PUTV(s) append(out, cap, &k, (s))
  PUTV(v->name);
  PUTV("(");
  int npos = (int)tq_rng_below(r, (uint32_t)v->npos + 1), first = 1;
  int order[9], used[9] = {0};
  for (int i = 0; i < npos; i++) {
    int nv = 0;
    while (nv < 6 && v->p[i].vals[nv]) nv++;
    if (!first) PUTV(",");
    PUTV(v->p[i].vals[tq_rng_below(r, (uint32_t)nv)]);
    used[i] = 1, first = 0;
  }
  for (int i = 0; i < np; i++) order[i] = i;
  tq_rng_shuffle(r, order, np);
  for (int j = 0; j < np; j++) {
    int i = order[j];
    if (used[i] || tq_rng_below(r, 3)) continue;
    int nv = 0;
    while (nv < 6 && v->p[i].vals[nv]) nv++;
    if (!first) PUTV(tq_rng_below(r, 4) ? "," : " , ");
    PUTV(v->p[i].key);
    PUTV("=");
    PUTV(v->p[i].vals[tq_rng_below(r, (uint32_t)nv)]);
    first = 0;
  }
  PUTV(")");
  out[k] = 0;
#undef PUTV
}

static void mutate(tq_rng *r, char *s, size_t cap) {
  static const char alphabet[] = "(),='\" ._-+eE0123456789abcdefghijklmnopqrstuvwxyzTFN\t\n[]";
  size_t n = strlen(s);
  int ops = 1 + (int)tq_rng_below(r, 4);
  for (int o = 0; o < ops; o++) {
    switch (tq_rng_below(r, 6)) {
      case 0: /* replace a byte */
        if (n) s[tq_rng_below(r, (uint32_t)n)] = alphabet[tq_rng_below(r, sizeof alphabet - 1)];
        break;
      case 1: /* insert a byte */
        if (n + 2 < cap) {
          size_t at = tq_rng_below(r, (uint32_t)n + 1);
          memmove(s + at + 1, s + at, n - at + 1);
          s[at] = alphabet[tq_rng_below(r, sizeof alphabet - 1)];
          n++;
        }
        break;
      case 2: /* delete a span */
        if (n) {
          size_t at = tq_rng_below(r, (uint32_t)n), len = 1 + tq_rng_below(r, 6);
          if (at + len > n) len = n - at;
          memmove(s + at, s + at + len, n - at - len + 1);
          n -= len;
        }
        break;
      case 3: /* truncate */
        if (n) s[n = tq_rng_below(r, (uint32_t)n)] = 0;
        break;
      case 4: /* duplicate a span */
        if (n && n * 2 + 2 < cap) {
          size_t at = tq_rng_below(r, (uint32_t)n), len = 1 + tq_rng_below(r, 8);
          if (at + len > n) len = n - at;
          memmove(s + at + len, s + at, n - at + 1);
          n += len;
        }
        break;
      case 5: /* any byte except NUL */
        if (n) s[tq_rng_below(r, (uint32_t)n)] = (char)(1 + tq_rng_below(r, 255));
        break;
    }
  }
}

static long accepted = 0, rejected = 0;

static void check_one(const char *s, tq_rng *r) {
  tq_quantizer q, before;
  tq_quantizer_init(&q, TQ_Q_RELU);
  before = q;
  tq_status st = tq_quantizer_parse(&q, s);
  if (st != TQ_OK) {
    rejected++;
    if (st != TQ_ERR_FORMAT || strncmp(tq_last_error(), "quantizer \"", 11) != 0 ||
        memcmp(&q, &before, sizeof q) != 0) {
      fprintf(stderr, "bad rejection of \"%s\": %d %s\n", s, st, tq_last_error());
      tq_test_failures++;
    }
    return;
  }
  accepted++;
  char a[512], b[512];
  size_t la = tq_quantizer_format(&q, a, sizeof a);
  int ok = la < sizeof a ? tq_test_reprints(&q, a, b, sizeof b) : 0;
  if (ok == 0) {
    fprintf(stderr, "\"%s\" printed as \"%s\" does not round-trip (%s)\n", s, a, tq_last_error());
    tq_test_failures++;
    return;
  }
  if (ok < 0) {
    fprintf(stderr, "\"%s\": reprint \"%s\" != \"%s\"\n", s, b, a);
    tq_test_failures++;
  }
  /* Every accepted quantizer runs. */
  float x[12], out[12], sc[12], d[12];
  int32_t codes[12], zp[12];
  for (int i = 0; i < 12; i++) x[i] = tq_rng_normal(r) * (i == 3 ? 0.0f : 2.0f);
  static const int shapes[3][4] = {{12}, {3, 4}, {2, 1, 2, 3}};
  static const int ranks[3] = {1, 2, 4};
  for (int sh = 0; sh < 3; sh++) {
    tq_status fs = tq_quantize_forward(&q, out, sc, x, shapes[sh], ranks[sh], 1, r);
    if (fs != TQ_OK && !(fs == TQ_ERR_ARG && q.scale_axis >= ranks[sh])) {
      fprintf(stderr, "\"%s\": forward failed: %s\n", s, tq_last_error());
      tq_test_failures++;
    }
    if (tq_quantizer_num_scales(&q, shapes[sh], ranks[sh]) > 12) {
      fprintf(stderr, "\"%s\": too many scales\n", s);
      tq_test_failures++;
    }
    tq_quantize_codes(&q, codes, sc, zp, x, shapes[sh], ranks[sh]);
  }
  tq_quantize_backward(&q, d, x, x, 12);
}

int main(void) {
  tq_rng r;
  tq_rng_seed(&r, 20240601);
  char buf[512];
  for (int i = 0; i < N_(seeds); i++) check_one(seeds[i], &r);
  for (int it = 0; it < 80000; it++) {
    switch (it % 6) {
      case 4:
        gen_valid(&r, buf, sizeof buf);
        break;
      case 5:
        gen_valid(&r, buf, sizeof buf);
        mutate(&r, buf, sizeof buf);
        break;
      case 0:
        gen(&r, buf, sizeof buf);
        break;
      case 1:
      case 2:
        strcpy(buf, seeds[tq_rng_below(&r, N_(seeds))]);
        mutate(&r, buf, sizeof buf);
        break;
      case 3: {
        gen(&r, buf, sizeof buf);
        mutate(&r, buf, sizeof buf);
        break;
      }
    }
    check_one(buf, &r);
  }
  /* Random bytes. */
  for (int it = 0; it < 5000; it++) {
    size_t n = tq_rng_below(&r, 60);
    for (size_t i = 0; i < n; i++) buf[i] = (char)(1 + tq_rng_below(&r, 255));
    buf[n] = 0;
    check_one(buf, &r);
  }
  printf("fuzz: %ld accepted, %ld rejected\n", accepted, rejected);
  /* The generator must exercise both sides substantially. */
  CHECK(accepted > 15000);
  CHECK(rejected > 30000);
  TEST_MAIN_END();
}
