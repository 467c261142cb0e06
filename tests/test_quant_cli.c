/* `tinyq quantizer`: the subcommand is compiled into this test (it does not need the rest of
 * the CLI), with stdout/stderr captured. */
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "../cli/cmd_quantizer.c"
#include "tq_test.h"

#include "../cli/error.c" /* tq_cli_error, tq_cli_usage_error */

static char out_buf[8192], err_buf[8192];

static void slurp(FILE *f, char *buf, size_t n) {
  rewind(f);
  size_t k = fread(buf, 1, n - 1, f);
  buf[k] = 0;
  fclose(f);
}

/* Runs `tinyq quantizer ARGS...` (NULL-terminated); returns the exit code. */
static int run(const char *first, ...) {
  char *argv[32];
  int argc = 0;
  argv[argc++] = (char *)"quantizer";
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *)) argv[argc++] = (char *)a;
  va_end(ap);
  argv[argc] = NULL;
  fflush(stdout);
  fflush(stderr);
  FILE *fo = tmpfile(), *fe = tmpfile();
  int so = dup(1), se = dup(2);
  dup2(fileno(fo), 1);
  dup2(fileno(fe), 2);
  int rc = tq_cmd_quantizer(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1);
  dup2(se, 2);
  close(so);
  close(se);
  slurp(fo, out_buf, sizeof out_buf);
  slurp(fe, err_buf, sizeof err_buf);
  return rc;
}

#define EXPECT_OUT(want)                                                              \
  do {                                                                                \
    if (strcmp(out_buf, want) != 0) {                                                 \
      fprintf(stderr, "%s:%d: stdout\n%s\nwant\n%s\n", __FILE__, __LINE__, out_buf, want); \
      tq_test_failures++;                                                             \
    }                                                                                 \
  } while (0)

int main(void) {
  /* SPEC vector. */
  CHECK_EQ_INT(run("quantized_bits(4,1,0,1)", "--values", "-2.6,-0.375,0.625,1.9", NULL), 0);
  EXPECT_OUT("-2\n-0.5\n0.5\n1.75\n");
  CHECK(err_buf[0] == 0);
  /* Full float precision. */
  CHECK_EQ_INT(run("quantized_bits_featuremap(4,4,1,1,alpha='auto',scale_axis=0)", "--shape", "1,4",
                   "--values", "-1,-0.25,0.3,1", NULL), 0);
  EXPECT_OUT("-1\n-0.285714298\n0.285714298\n1\n");
  /* Per-channel scales of a Dense kernel, with QKeras' scale attribute. */
  CHECK_EQ_INT(run("quantized_bits(4,0,1,alpha='auto_po2')", "--shape", "3,2", "--values",
                   "0.5,0.02,-0.25,0.03,0.1,-0.01", "--scale", NULL), 0);
  EXPECT_OUT("0.4375\n0.01953125\n-0.25\n0.02734375\n0.125\n-0.01171875\n"
             "scale: 0.0625 0.00390625\nqkeras_scale: 0.5 0.03125\n");
  /* Featuremap zero point and codes; --shape=... form. */
  CHECK_EQ_INT(run("quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)", "--shape=1,4",
                   "--values=0,0.5,1,2", "--scale", "--codes", NULL), 0);
  EXPECT_OUT("0\n0.503937006\n0.992125988\n2\nscale: 0.0157480314\nzero_point: -127\n"
             "codes: -127 -95 -64 0\n");
  CHECK_EQ_INT(run("quantized_bits(4,1,0,1)", "--values", "-2.6, -0.375, 0.625, 1.9", "--codes", NULL), 0);
  EXPECT_OUT("-2\n-0.5\n0.5\n1.75\ncodes: -8 -2 2 7\n");
  /* Without values: the canonical string and bits. */
  CHECK_EQ_INT(run(" quantized_bits( 4, 0, 1, alpha=\"auto\" )", NULL), 0);
  EXPECT_OUT("quantized_bits(4,0,1,alpha='auto')\nbits: 4\n");
  /* --kernel: alpha None trains as auto_po2 (one group: shape (4,1)). */
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--kernel", NULL), 0);
  EXPECT_OUT("quantized_bits(4,0,1,alpha='auto_po2')\nbits: 4\n");
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--kernel", "--shape", "4,1", "--values",
                   "0.02,-0.45,0.25,0.875", NULL), 0);
  EXPECT_OUT("0\n-0.5\n0.25\n0.875\n");
  /* --train: stochastic rounding, reproducible by seed. */
  CHECK_EQ_INT(run("quantized_bits(8,3,0,1,use_stochastic_rounding=True)", "--train", "--seed", "3",
                   "--values", "0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3", NULL), 0);
  static char first[sizeof out_buf];
  snprintf(first, sizeof first, "%s", out_buf);
  for (char *p = strtok(first, "\n"); p; p = strtok(NULL, "\n"))
    CHECK(strcmp(p, "0.25") == 0 || strcmp(p, "0.3125") == 0);
  snprintf(first, sizeof first, "%s", out_buf);
  CHECK_EQ_INT(run("quantized_bits(8,3,0,1,use_stochastic_rounding=True)", "--train", "--seed", "3",
                   "--values", "0.3,0.3,0.3,0.3,0.3,0.3,0.3,0.3", NULL), 0);
  CHECK(strcmp(first, out_buf) == 0);
  /* --help */
  CHECK_EQ_INT(run("--help", NULL), 0);
  CHECK(strstr(out_buf, "usage: tinyq quantizer") != NULL);

  /* Errors: "tinyq: error: ..." on stderr, non-zero exit, nothing on stdout. */
  CHECK_EQ_INT(run("quantized_bits(4,x)", "--values", "1", NULL), 1);
  CHECK(strcmp(err_buf, "tinyq: error: quantizer \"quantized_bits(4,x)\": argument 2 (integer): "
                        "expected an integer, got 'x'\n") == 0);
  CHECK(out_buf[0] == 0);
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--shape", "2,2", "--values", "1,2,3", NULL), 2);
  CHECK(strcmp(err_buf, "tinyq: error: quantizer: 3 values given, but --shape '2,2' holds 4\n") == 0);
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--values", "1,x,3", NULL), 2);
  CHECK(strstr(err_buf, "value 2 is not a number") != NULL);
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--values", "1,,3", NULL), 2);
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--shape", "2,0", "--values", "1,2", NULL), 2);
  CHECK(strstr(err_buf, "axis 2 is not a positive integer") != NULL);
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--bogus", NULL), 2);
  CHECK(strstr(err_buf, "unknown option '--bogus'") != NULL);
  CHECK_EQ_INT(run(NULL), 2);
  CHECK(strstr(err_buf, "missing the quantizer string") != NULL);
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--values", NULL), 2);
  CHECK(strstr(err_buf, "--values needs a value") != NULL);
  CHECK_EQ_INT(run("quantized_bits(4,0)", "extra", NULL), 2);
  CHECK_EQ_INT(run("quantized_bits(4,0)", "--scale", NULL), 2);
  CHECK_EQ_INT(run("quantized_bits(4,0,1,alpha='auto',scale_axis=2)", "--shape", "2,2", "--values",
                   "1,2,3,4", NULL), 1);
  CHECK(strstr(err_buf, "scale_axis=2 is out of range") != NULL);
  CHECK_EQ_INT(run("quantized_po2(4)", "--values", "1,2", "--codes", NULL), 1);
  CHECK(strstr(err_buf, "no integer code form") != NULL);
  TEST_MAIN_END();
}
