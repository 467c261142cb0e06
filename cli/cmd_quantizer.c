/* tinyq quantizer: parse a QKeras quantizer string and apply it to values given on the command
 * line (SPEC §1). argv[0] is the subcommand name, as in main(). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tinyq/quant.h"

static const char quantizer_usage[] =
    "usage: tinyq quantizer 'QUANTIZER' [--shape D1,D2,...] [--values V1,V2,...] [options]\n"
    "\n"
    "Parses a QKeras quantizer string. Without --values it prints the string as tinyq\n"
    "reads it back (canonical form) and its bit width. With --values it quantizes the\n"
    "values (a tensor of --shape, row-major, last axis fastest; default: one axis holding\n"
    "all the values) and prints the quantized values one per line (%.9g).\n"
    "\n"
    "options:\n"
    "  --shape D1,D2,...  tensor shape (Keras layouts: Dense IO, Conv HWIO, NHWC)\n"
    "  --values V1,...    the input values (their count must equal the shape's product)\n"
    "  --scale            also print 'scale: s1 s2 ...', the step of each scale group (the\n"
    "                     real value of one integer code); featuremap adds 'zero_point: ...',\n"
    "                     quantized_bits auto modes add 'qkeras_scale: ...' (QKeras' scale\n"
    "                     attribute, step * 2^(bits-keep_negative) / 2^integer)\n"
    "  --codes            also print 'codes: z1 z2 ...', the integer codes\n"
    "  --kernel           quantize as a layer's kernel (SPEC 1.1: alpha None -> 'auto_po2')\n"
    "  --train            training mode (stochastic rounding when the quantizer asks for it)\n"
    "  --seed N           random seed for --train (default 1)\n"
    "  --help             this text\n"
    "\n"
    "example: tinyq quantizer \"quantized_bits(4,0,1,alpha='auto_po2')\" --shape 2,2 \\\n"
    "           --values 0.1,-0.5,0.3,0.02 --scale\n";

/* Number of items in a comma-separated list. */
static long split_count(const char *s) {
  long n = 1;
  for (const char *p = s; *p; p++) n += *p == ',';
  return n;
}

static int parse_shape(const char *s, int *dims, int *rank) {
  long n = split_count(s);
  if (n > 8) return tq_cli_usage_error("quantizer: --shape has %ld axes (at most 8)", n);
  const char *p = s;
  for (long i = 0; i < n; i++) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || (*end && *end != ',') || errno || v < 1 || v > 1000000000)
      return tq_cli_usage_error("quantizer: --shape '%s': axis %ld is not a positive integer", s,
                                i + 1);
    dims[i] = (int)v;
    p = *end ? end + 1 : end;
  }
  *rank = (int)n;
  return 0;
}

static int parse_values(const char *s, float **out, size_t *count) {
  long n = split_count(s);
  float *v = malloc((size_t)n * sizeof *v);
  if (!v) return tq_cli_error("quantizer: out of memory");
  const char *p = s;
  for (long i = 0; i < n; i++) {
    char *end;
    while (*p == ' ') p++;
    double d = strtod(p, &end);
    while (*end == ' ') end++;
    if (end == p || (*end && *end != ',')) {
      free(v);
      return tq_cli_usage_error("quantizer: --values: value %ld is not a number", i + 1);
    }
    /* as --codes does: a NaN would poison a data-dependent scale ('auto' made it 2.0) */
    if (!isfinite((float)d)) {
      free(v);
      return tq_cli_usage_error("quantizer: --values: value %ld is not a finite number", i + 1);
    }
    v[i] = (float)d;
    p = *end ? end + 1 : end;
  }
  *out = v;
  *count = (size_t)n;
  return 0;
}

static void print_floats(const char *label, const float *v, size_t n) {
  printf("%s:", label);
  for (size_t i = 0; i < n; i++) printf(" %.9g", (double)v[i]);
  printf("\n");
}

/* The option's value: "--opt V" or "--opt=V". */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *rc) {
  size_t k = strlen(name);
  if (argv[*i][k] == '=') return argv[*i] + k + 1;
  if (*i + 1 >= argc) {
    *rc = tq_cli_usage_error("quantizer: %s needs a value", name);
    return NULL;
  }
  return argv[++*i];
}

static int is_opt(const char *arg, const char *name) {
  size_t k = strlen(name);
  return strncmp(arg, name, k) == 0 && (arg[k] == 0 || arg[k] == '=');
}

typedef struct {
  const char *qstr, *shape, *values;
  int scale, codes, kernel, train;
  unsigned long long seed;
} quantizer_opts;

/* Reads argv into o. Returns -1 to go on, else the exit code (--help: 0, a usage error: 2). */
static int parse_options(int argc, char **argv, quantizer_opts *o) {
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(quantizer_usage, stdout);
      return 0;
    } else if (is_opt(a, "--shape")) {
      if (!(o->shape = opt_value(argc, argv, &i, "--shape", &rc))) return rc;
    } else if (is_opt(a, "--values")) {
      if (!(o->values = opt_value(argc, argv, &i, "--values", &rc))) return rc;
    } else if (is_opt(a, "--seed")) {
      const char *s = opt_value(argc, argv, &i, "--seed", &rc);
      if (!s) return rc;
      char *end;
      errno = 0;
      o->seed = strtoull(s, &end, 10);
      if (end == s || *end || errno)
        return tq_cli_usage_error("quantizer: --seed '%s' is not a non-negative integer", s);
    } else if (!strcmp(a, "--scale")) {
      o->scale = 1;
    } else if (!strcmp(a, "--codes")) {
      o->codes = 1;
    } else if (!strcmp(a, "--kernel")) {
      o->kernel = 1;
    } else if (!strcmp(a, "--train")) {
      o->train = 1;
    } else if (a[0] == '-' && a[1] == '-') {
      return tq_cli_usage_error("quantizer: unknown option '%s' (see tinyq quantizer --help)", a);
    } else if (!o->qstr) {
      o->qstr = a;
    } else {
      return tq_cli_usage_error("quantizer: unexpected argument '%s' (quote the quantizer string)",
                                a);
    }
  }
  if (!o->qstr) return tq_cli_usage_error("quantizer: missing the quantizer string (see --help)");
  return -1;
}

/* --values and --shape: the tensor (*in, malloc'ed) and its shape. */
static int read_tensor(const quantizer_opts *o, float **in, size_t *n, int *dims, int *rank) {
  int rc = parse_values(o->values, in, n);
  if (rc) return rc;
  *rank = 1;
  if (o->shape) {
    rc = parse_shape(o->shape, dims, rank);
  } else if (*n > 1000000000) {
    rc = tq_cli_usage_error("quantizer: too many values");
  } else {
    dims[0] = (int)*n;
  }
  size_t expect = 1;
  for (int i = 0; !rc && i < *rank; i++) expect *= (size_t)dims[i];
  if (!rc && expect != *n)
    rc = tq_cli_usage_error("quantizer: %zu values given, but --shape '%s' holds %zu", *n,
                            o->shape, expect);
  if (rc) free(*in), *in = NULL;
  return rc;
}

/* --scale: the step of each group, and the zero points or QKeras' scale where the kind has them. */
static int print_scales(const tq_quantizer *q, const float *steps, size_t ns, const float *in,
                        const int *dims, int rank) {
  print_floats("scale", steps, ns);
  if (tq_quantizer_has_zero_point(q)) {
    int32_t *zps = malloc((ns ? ns : 1) * sizeof *zps);
    if (!zps || tq_quantize_codes(q, NULL, NULL, zps, in, dims, rank) != TQ_OK) {
      free(zps);
      return tq_cli_error("quantizer: %s", zps ? tq_last_error() : "out of memory");
    }
    printf("zero_point:");
    for (size_t g = 0; g < ns; g++) printf(" %d", (int)zps[g]);
    printf("\n");
    free(zps);
  }
  if (tq_quantizer_has_qkeras_scale(q)) {
    printf("qkeras_scale:");
    for (size_t g = 0; g < ns; g++) printf(" %.9g", (double)tq_quantizer_qkeras_scale(q, steps[g]));
    printf("\n");
  }
  return 0;
}

/* --codes: the integer code of each value. */
static int print_codes(const tq_quantizer *q, const float *in, size_t n, const int *dims, int rank) {
  int32_t *codes = malloc(n * sizeof *codes);
  if (!codes) return tq_cli_error("quantizer: out of memory");
  if (tq_quantize_codes(q, codes, NULL, NULL, in, dims, rank) != TQ_OK) {
    free(codes);
    return tq_cli_error("quantizer: %s", tq_last_error());
  }
  printf("codes:");
  for (size_t i = 0; i < n; i++) printf(" %d", (int)codes[i]);
  printf("\n");
  free(codes);
  return 0;
}

/* Quantizes the tensor and prints the values, then what --scale and --codes ask for. */
static int quantize_values(const tq_quantizer *q, const quantizer_opts *o) {
  float *in = NULL;
  size_t n = 0;
  int dims[8], rank = 1;
  int rc = read_tensor(o, &in, &n, dims, &rank);
  if (rc) return rc;
  size_t ns = tq_quantizer_num_scales(q, dims, rank);
  float *out = malloc(n * sizeof *out), *steps = malloc((ns ? ns : 1) * sizeof *steps);
  tq_rng rng;
  tq_rng_seed(&rng, o->seed);
  if (!out || !steps) {
    rc = tq_cli_error("quantizer: out of memory");
  } else if (tq_quantize_forward(q, out, steps, in, dims, rank, o->train, &rng) != TQ_OK) {
    rc = tq_cli_error("quantizer: %s", tq_last_error());
  } else {
    for (size_t i = 0; i < n; i++) printf("%.9g\n", (double)out[i]);
    if (o->scale) rc = print_scales(q, steps, ns, in, dims, rank);
    if (!rc && o->codes) rc = print_codes(q, in, n, dims, rank);
  }
  fflush(stdout);
  free(in);
  free(out);
  free(steps);
  return rc;
}

int tq_cmd_quantizer(int argc, char **argv) {
  quantizer_opts o = {.seed = 1};
  int rc = parse_options(argc, argv, &o);
  if (rc >= 0) return rc;
  tq_quantizer q;
  if (tq_quantizer_parse(&q, o.qstr) != TQ_OK) return tq_cli_error("%s", tq_last_error());
  if (o.kernel) tq_quantizer_as_kernel(&q);
  if (o.values) return quantize_values(&q, &o);
  if (o.shape || o.scale || o.codes)
    return tq_cli_usage_error("quantizer: --shape, --scale and --codes need --values");
  char buf[512];
  tq_quantizer_format(&q, buf, sizeof buf);
  printf("%s\n", buf);
  printf("bits: %d\n", tq_quantizer_bits(&q));
  return 0;
}
