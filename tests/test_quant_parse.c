/* QKeras quantizer strings (SPEC §1.4): accepted forms, printing, round trips, and errors that
 * quote the string and name the argument. */
#include <string.h>

#include "test_quant_reprint.h"
#include "tinyq/quant.h"
#include "tq_test.h"

/* Parses s, checks that it prints as `want` (NULL: as s itself), and that the printed string
 * parses back to an equal quantizer that prints identically. */
static void roundtrip(const char *s, const char *want, int line) {
  tq_quantizer q;
  char buf[256], buf2[256];
  if (tq_quantizer_parse(&q, s) != TQ_OK) {
    fprintf(stderr, "line %d: parse \"%s\" failed: %s\n", line, s, tq_last_error());
    tq_test_failures++;
    return;
  }
  size_t len = tq_quantizer_format(&q, buf, sizeof buf);
  if (len != strlen(buf) || strcmp(buf, want ? want : s) != 0) {
    fprintf(stderr, "line %d: \"%s\" prints as \"%s\", want \"%s\"\n", line, s, buf,
            want ? want : s);
    tq_test_failures++;
  }
  int ok = tq_test_reprints(&q, buf, buf2, sizeof buf2);
  if (ok == 0)
    fprintf(stderr, "line %d: \"%s\" does not parse back to the same quantizer\n", line, buf);
  if (ok < 0) fprintf(stderr, "line %d: reprint \"%s\" != \"%s\"\n", line, buf2, buf);
  if (ok != 1) tq_test_failures++;
}
#define RT(s) roundtrip(s, NULL, __LINE__)
#define RT2(s, w) roundtrip(s, w, __LINE__)

/* Parsing must fail with TQ_ERR_FORMAT, a message containing `frag`, and leave *q untouched. */
static void bad(const char *s, const char *frag, int line) {
  tq_quantizer q, before;
  tq_quantizer_init(&q, TQ_Q_PO2);
  before = q;
  tq_status st = tq_quantizer_parse(&q, s);
  if (st != TQ_ERR_FORMAT) {
    fprintf(stderr, "line %d: \"%s\": status %d, want TQ_ERR_FORMAT\n", line, s, st);
    tq_test_failures++;
    return;
  }
  if (!strstr(tq_last_error(), frag)) {
    fprintf(stderr, "line %d: \"%s\": message \"%s\" lacks \"%s\"\n", line, s, tq_last_error(), frag);
    tq_test_failures++;
  }
  if (memcmp(&q, &before, sizeof q) != 0) {
    fprintf(stderr, "line %d: \"%s\": failed parse modified the output\n", line, s);
    tq_test_failures++;
  }
}
#define BAD(s, frag) bad(s, frag, __LINE__)

static void accepted(void) {
  /* The study's strings (SPEC §5), printed exactly as written. */
  RT("quantized_bits(4,4,1,alpha='auto')");
  RT("quantized_bits(8,8,1,alpha='auto')");
  RT("quantized_bits(16,16,1,alpha='auto_po2')");
  RT("quantized_bits(31,31,1,alpha='auto_po2')");
  RT("quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)");
  RT("quantized_bits_featuremap(bits=16,integer=16,symmetric=1,keep_negative=1,alpha='auto',scale_axis=0)");
  RT("quantized_bits(4,4,1,1,alpha='auto')");
  /* Whitespace, double quotes, trailing comma. */
  RT2("  quantized_bits ( 4 , 0 , 1 , alpha = \"auto\" )  ", "quantized_bits(4,0,1,alpha='auto')");
  RT2("quantized_bits(4,0,)", "quantized_bits(4,0)");
  RT2("quantized_bits(\n4,\t0)", "quantized_bits(4,0)");
  /* Positional alpha stays positional; keywords print in QKeras' parameter order. */
  RT("quantized_bits(4,0,1,1,'auto')");
  RT2("quantized_bits(alpha=1.5,bits=6)", "quantized_bits(bits=6,alpha=1.5)");
  RT("quantized_bits(8,0,0,keep_negative=False)");
  RT("quantized_bits(8,0,0,keep_negative=0)");
  RT("quantized_bits(4,0,1,qnoise_factor=0.5,use_ste=False)");
  RT("quantized_bits(4,0,1,alpha=0.1)");
  RT("quantized_bits(4,0,1,alpha=1e-05)");
  RT2("quantized_bits(4,0,1,alpha=2)", "quantized_bits(4,0,1,alpha=2.0)");
  RT("quantized_bits(8,0,1,scale_axis=None)");
  RT("quantized_bits(4,0,1,alpha='auto_po2',scale_axis=2)");
  RT("quantized_bits(4,0,1,use_stochastic_rounding=True)");
  RT("quantized_bits(4,-2,0,1)");
  RT2("quantized_bits(+4,-0)", "quantized_bits(4,0)");
  RT2("quantized_bits(bits=4,integer=0,symmetric=True)", "quantized_bits(bits=4,integer=0,symmetric=True)");
  RT2("quantized_bits()", "quantized_bits(8,0,0)"); /* no arguments: printed as built in code */
  RT("quantized_relu(4,2)");
  RT("quantized_relu(4,0,use_stochastic_rounding=True)");
  RT("quantized_relu(4,2,0,0.0,1)");
  RT2("quantized_relu(4,2,0,0,1)", "quantized_relu(4,2,0,0.0,1)");
  RT2("quantized_relu(4,2,use_sigmoid=0)", "quantized_relu(4,2)");
  RT2("quantized_relu(4,2,use_sigmoid=0,negative_slope=0.0,relu_upper_bound=None)", "quantized_relu(4,2)");
  RT("quantized_po2(4)");
  RT2("quantized_po2(4,1)", "quantized_po2(4,1.0)");
  RT("quantized_po2(4,max_value=0.5)");
  RT2("quantized_po2(4,None,False,False,'rnd',0.5)", "quantized_po2(4,None,False,False,'rnd',0.5)");
  RT2("binary", "binary()");
  RT("binary()");
  RT("binary(alpha='auto_po2')");
  RT("binary(use_01=True)");
  RT("binary(1)");
  RT("ternary(alpha=0.5,threshold=0.2)");
  RT2("ternary(number_of_unrolls=3,alpha='auto')", "ternary(alpha='auto',number_of_unrolls=3)");
  RT("ternary('auto_po2')");
  RT("None");
  RT2("  None ", "None");
}

static void fields(void) {
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1,1,alpha='auto_po2')") == TQ_OK);
  CHECK(q.kind == TQ_Q_BITS && q.bits == 4 && q.integer == 0 && q.symmetric == 1 &&
        q.keep_negative == 1 && q.alpha_mode == TQ_ALPHA_AUTO_PO2 && q.scale_axis == -1);
  CHECK_EQ_INT(tq_quantizer_bits(&q), 4);
  CHECK(tq_quantizer_parse(&q, "quantized_bits(6,2,0,False,1.5,True,1,0.25,use_ste=False)") == TQ_OK);
  CHECK(q.bits == 6 && q.integer == 2 && q.symmetric == 0 && q.keep_negative == 0 &&
        q.alpha_mode == TQ_ALPHA_VALUE && q.alpha == 1.5f && q.stochastic == 1 &&
        q.scale_axis == 1 && q.qnoise_factor == 0.25f && q.use_ste == 0);
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(8,8,1,1,alpha='auto_po2')") == TQ_OK);
  CHECK(q.kind == TQ_Q_BITS_FEATUREMAP && q.scale_axis == 0 && q.alpha_mode == TQ_ALPHA_AUTO_PO2);
  CHECK(tq_quantizer_parse(&q, "quantized_po2(5,max_value=2.5)") == TQ_OK);
  CHECK(q.kind == TQ_Q_PO2 && q.bits == 5 && q.has_max_value && q.max_value == 2.5f);
  CHECK(tq_quantizer_parse(&q, "ternary(0.5,0.2,False,7)") == TQ_OK);
  CHECK(q.alpha == 0.5f && q.has_threshold && q.threshold == 0.2f && q.number_of_unrolls == 7);
  CHECK_EQ_INT(tq_quantizer_bits(&q), 2);
  /* Equality ignores how a quantizer was written. */
  tq_quantizer a, b;
  CHECK(tq_quantizer_parse(&a, "quantized_bits(4,0,1,alpha='auto')") == TQ_OK);
  CHECK(tq_quantizer_parse(&b, "quantized_bits(bits=4,symmetric=True,alpha=\"auto\")") == TQ_OK);
  CHECK(tq_quantizer_equal(&a, &b));
  CHECK(tq_quantizer_parse(&b, "quantized_bits(4,0,1,alpha='auto_po2')") == TQ_OK);
  CHECK(!tq_quantizer_equal(&a, &b));
}

static void printing_programmatic(void) {
  char buf[200];
  tq_quantizer q;
  tq_quantizer_init(&q, TQ_Q_BITS);
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "quantized_bits(8,0,0)") == 0);
  q.bits = 4, q.symmetric = 1, q.alpha_mode = TQ_ALPHA_AUTO_PO2, q.qnoise_factor = 0.5f;
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "quantized_bits(4,0,1,alpha='auto_po2',qnoise_factor=0.5)") == 0);
  tq_quantizer_init(&q, TQ_Q_BITS_FEATUREMAP);
  q.bits = 4, q.integer = 4, q.symmetric = 1, q.alpha_mode = TQ_ALPHA_AUTO_PO2;
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "quantized_bits_featuremap(4,4,1,1,alpha='auto_po2',scale_axis=0)") == 0);
  tq_quantizer_init(&q, TQ_Q_PO2);
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "quantized_po2(8)") == 0);
  tq_quantizer_init(&q, TQ_Q_RELU);
  q.use_ste = 0;
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "quantized_relu(8,0,use_ste=False)") == 0);
  tq_quantizer_init(&q, TQ_Q_NONE);
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "None") == 0);
  /* A parsed quantizer changed in code keeps every change when printed. */
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1)") == TQ_OK);
  q.scale_axis = 0;
  q.bits = 6;
  tq_quantizer_format(&q, buf, sizeof buf);
  CHECK(strcmp(buf, "quantized_bits(6,0,1,scale_axis=0)") == 0);
  /* Truncation: snprintf-like length, always terminated. */
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,0,1,alpha='auto')") == TQ_OK);
  char small[10];
  size_t need = tq_quantizer_format(&q, small, sizeof small);
  CHECK_EQ_INT(need, strlen("quantized_bits(4,0,1,alpha='auto')"));
  CHECK(strcmp(small, "quantized") == 0);
  CHECK_EQ_INT(tq_quantizer_format(&q, NULL, 0), need);
}

static void errors(void) {
  /* The message quotes the string and names the argument. */
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits(4,x)") == TQ_ERR_FORMAT);
  CHECK(strcmp(tq_last_error(),
               "quantizer \"quantized_bits(4,x)\": argument 2 (integer): expected an integer, "
               "got 'x'") == 0);
  BAD("quantised_bits(4)", "unknown quantizer 'quantised_bits' (known: quantized_bits,");
  BAD("quantized_relu_po2(4)", "unknown quantizer 'quantized_relu_po2'");
  BAD("stochastic_ternary()", "unknown quantizer");
  BAD("quantized_bits(4,0,alfa='auto')", "argument 3: unknown keyword 'alfa' for quantized_bits (valid: bits,");
  BAD("quantized_bits(4,bits=5)", "argument 2 (bits): bits given twice (also argument 1)");
  BAD("quantized_bits(bits=4,0)", "argument 2: positional argument follows keyword argument");
  BAD("quantized_bits(4,0,1,1,None,False,None,1.0,True)",
      "argument 9: too many positional arguments (quantized_bits takes at most 8)");
  BAD("quantized_bits_featuremap(4,4,1,1,'auto',False)", "argument 6: too many positional arguments");
  BAD("binary(0,None,False,1)", "argument 4: too many");
  BAD("quantized_bits(4,0) x", "unexpected 'x' after ')'");
  BAD("quantized_bits(4,0))", "unexpected ')' after ')'");
  BAD("quantized_bits(4,0", "missing ')'");
  BAD("quantized_bits(", "missing ')' at the end");
  BAD("quantized_bits(4,0,1,alpha='auto)", "argument 4 (alpha): unterminated string");
  BAD("quantized_bits(4,0,1,alpha='automatic')",
      "argument 4 (alpha): expected None, a number, 'auto' or 'auto_po2', got \"'automatic'\"");
  BAD("quantized_bits(4.5)", "argument 1 (bits): expected an integer, got '4.5'");
  BAD("quantized_bits('4')", "argument 1 (bits): expected an integer, got \"'4'\"");
  BAD("quantized_bits(True)", "argument 1 (bits): expected an integer, got 'True'");
  BAD("quantized_bits(0)", "argument 1 (bits): must be between 1 and 32, got '0'");
  BAD("quantized_bits(33)", "must be between 1 and 32");
  BAD("quantized_bits(4,99)", "argument 2 (integer): must be between -64 and 64");
  BAD("quantized_bits(1,0,1,alpha='auto')", "bits must be between 2 and 32 with alpha");
  BAD("quantized_bits(32,0,0,0)", "with keep_negative=0");
  BAD("quantized_bits(4,0,2)", "argument 3 (symmetric): expected a boolean (True, False, 0 or 1), got '2'");
  BAD("quantized_bits(4,0,1,qnoise_factor=2)", "argument 4 (qnoise_factor): must be between 0 and 1, got '2'");
  BAD("quantized_bits(4,0,1,qnoise_factor=None)", "expected a number, got 'None'");
  BAD("quantized_bits(4,0,1,alpha='auto',scale_axis=-1)", "argument 5 (scale_axis): must be between 0 and");
  BAD("quantized_bits(4,0,1,alpha=1e40)", "out of range for float32");
  BAD("quantized_bits(99999999999999999999)", "is out of range");
  BAD("quantized_bits(4,0,1,alpha=1e999)", "is out of range");
  BAD("quantized_bits(4,,1)", "argument 2 (integer): empty argument");
  BAD("quantized_bits(,)", "argument 1 (bits): empty argument");
  BAD("quantized_bits(4,0,alpha=)", "argument 3 (alpha): missing value after '='");
  BAD("quantized_bits(4,0,alpha=np.array([1,2]))",
      "expected None, a number, 'auto' or 'auto_po2', got 'np.array([1,2])'");
  BAD("quantized_bits(4 5)", "argument 1 (bits): expected an integer, got '4 5'");
  BAD("quantized_bits(4,0,alpha=='auto')", "argument 3 (symmetric)"); /* '==' is no keyword */
  BAD("quantized_bits(4,0,1,var_name='k')", "unknown keyword 'var_name'");
  BAD("", "empty quantizer string");
  BAD("   ", "empty quantizer string");
  BAD("(4)", "expected a quantizer name, got '('");
  BAD("4bits", "expected a quantizer name, got '4bits'");
  BAD("quantized_bits 4", "unexpected '4' after the name quantized_bits");
  BAD("quantized_bits[4]", "unexpected '[4]' after the name");
  BAD("None(4)", "unexpected '(4)' after None");
  BAD("quantized_relu(4,0,use_sigmoid=1)", "argument 3 (use_sigmoid): only use_sigmoid=0 is supported, got '1'");
  BAD("quantized_relu(4,0,0,0.5)", "argument 4 (negative_slope): only negative_slope=0.0 is supported");
  BAD("quantized_relu(4,0,relu_upper_bound=6.0)", "only relu_upper_bound=None is supported");
  BAD("quantized_po2(4,-1)", "argument 2 (max_value): must be >= 0, got '-1'");
  BAD("quantized_po2(1)", "argument 1 (bits): must be between 2 and 16");
  BAD("quantized_po2(4,use_stochastic_rounding=True)", "only use_stochastic_rounding=False is supported");
  BAD("quantized_po2(4,log2_rounding='floor')", "only log2_rounding='rnd' is supported, got \"'floor'\"");
  BAD("quantized_bits_featuremap(4,4,1,1,alpha=None)",
      "argument 5 (alpha): expected 'auto' or 'auto_po2', got 'None'");
  BAD("quantized_bits_featuremap(1,1,1,1)", "must be between 2 and 32");
  BAD("ternary(alpha='auto',threshold=0.3)", "threshold must be None with alpha 'auto'/'auto_po2'");
  BAD("ternary(number_of_unrolls=0)", "must be between 1 and 100");
  BAD("binary(use_stochastic_rounding=True)", "only use_stochastic_rounding=False");
  /* Control characters are not echoed raw; long strings are shortened. */
  BAD("quantized_bits(\x01)", "got '?'");
  char longs[2000];
  memset(longs, 'a', sizeof longs - 1);
  longs[sizeof longs - 1] = 0;
  BAD(longs, "...");
  CHECK(strlen(tq_last_error()) < 1024);
  CHECK(tq_quantizer_parse(&q, NULL) == TQ_ERR_FORMAT);
}

/* The kind table has an entry for every kind (a designated initializer that skips one would
 * leave a zeroed entry): each kind has a name, and its default prints and parses back to it. */
static void every_kind(void) {
  for (int k = 0; k < TQ_Q_COUNT; k++) {
    tq_quantizer q, r;
    char buf[256];
    CHECK(strcmp(tq_quantizer_name((tq_qkind)k), "?") != 0);
    tq_quantizer_init(&q, (tq_qkind)k);
    CHECK(tq_quantizer_validate(&q) == TQ_OK);
    tq_quantizer_format(&q, buf, sizeof buf);
    CHECK(tq_quantizer_parse(&r, buf) == TQ_OK && r.kind == (tq_qkind)k &&
          tq_quantizer_equal(&q, &r));
  }
  CHECK(strcmp(tq_quantizer_name(TQ_Q_COUNT), "?") == 0);
}

int main(void) {
  every_kind();
  accepted();
  fields();
  printing_programmatic();
  errors();
  TEST_MAIN_END();
}
