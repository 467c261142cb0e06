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

int tq_cmd_quantizer(int argc, char **argv) {
  const char *qstr = NULL, *shape_s = NULL, *values_s = NULL;
  int want_scale = 0, want_codes = 0, as_kernel = 0, training = 0, rc = 0;
  unsigned long long seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(quantizer_usage, stdout);
      return 0;
    } else if (is_opt(a, "--shape")) {
      if (!(shape_s = opt_value(argc, argv, &i, "--shape", &rc))) return rc;
    } else if (is_opt(a, "--values")) {
      if (!(values_s = opt_value(argc, argv, &i, "--values", &rc))) return rc;
    } else if (is_opt(a, "--seed")) {
      const char *s = opt_value(argc, argv, &i, "--seed", &rc);
      if (!s) return rc;
      char *end;
      errno = 0;
      seed = strtoull(s, &end, 10);
      if (end == s || *end || errno)
        return tq_cli_usage_error("quantizer: --seed '%s' is not a non-negative integer", s);
    } else if (!strcmp(a, "--scale")) {
      want_scale = 1;
    } else if (!strcmp(a, "--codes")) {
      want_codes = 1;
    } else if (!strcmp(a, "--kernel")) {
      as_kernel = 1;
    } else if (!strcmp(a, "--train")) {
      training = 1;
    } else if (a[0] == '-' && a[1] == '-') {
      return tq_cli_usage_error("quantizer: unknown option '%s' (see tinyq quantizer --help)", a);
    } else if (!qstr) {
      qstr = a;
    } else {
      return tq_cli_usage_error("quantizer: unexpected argument '%s' (quote the quantizer string)",
                                a);
    }
  }
  if (!qstr) return tq_cli_usage_error("quantizer: missing the quantizer string (see --help)");

  tq_quantizer q;
  if (tq_quantizer_parse(&q, qstr) != TQ_OK) return tq_cli_error("%s", tq_last_error());
  if (as_kernel) tq_quantizer_as_kernel(&q);

  if (!values_s) {
    if (shape_s || want_scale || want_codes)
      return tq_cli_usage_error("quantizer: --shape, --scale and --codes need --values");
    char buf[512];
    tq_quantizer_format(&q, buf, sizeof buf);
    printf("%s\n", buf);
    printf("bits: %d\n", tq_quantizer_bits(&q));
    return 0;
  }

  float *in = NULL;
  size_t n = 0;
  if ((rc = parse_values(values_s, &in, &n))) return rc;
  int dims[8], rank = 1;
  if (shape_s) {
    if ((rc = parse_shape(shape_s, dims, &rank))) {
      free(in);
      return rc;
    }
  } else {
    if (n > 1000000000) {
      free(in);
      return tq_cli_usage_error("quantizer: too many values");
    }
    dims[0] = (int)n;
  }
  size_t expect = 1;
  for (int i = 0; i < rank; i++) expect *= (size_t)dims[i];
  if (expect != n) {
    free(in);
    return tq_cli_usage_error("quantizer: %zu values given, but --shape '%s' holds %zu", n,
                              shape_s, expect);
  }

  size_t ns = tq_quantizer_num_scales(&q, dims, rank);
  float *out = malloc(n * sizeof *out), *steps = malloc((ns ? ns : 1) * sizeof *steps);
  int32_t *codes = NULL, *zps = NULL;
  if (!out || !steps) {
    rc = tq_cli_error("quantizer: out of memory");
    goto done;
  }
  tq_rng rng;
  tq_rng_seed(&rng, seed);
  if (tq_quantize_forward(&q, out, steps, in, dims, rank, training, &rng) != TQ_OK) {
    rc = tq_cli_error("quantizer: %s", tq_last_error());
    goto done;
  }
  for (size_t i = 0; i < n; i++) printf("%.9g\n", (double)out[i]);
  if (want_scale) {
    if (q.kind == TQ_Q_NONE) {
      printf("scale:\n");
    } else {
      print_floats("scale", steps, ns);
      if (q.kind == TQ_Q_BITS_FEATUREMAP) {
        zps = malloc(ns * sizeof *zps);
        if (!zps || tq_quantize_codes(&q, NULL, NULL, zps, in, dims, rank) != TQ_OK) {
          rc = tq_cli_error("quantizer: %s", zps ? tq_last_error() : "out of memory");
          goto done;
        }
        printf("zero_point:");
        for (size_t g = 0; g < ns; g++) printf(" %d", (int)zps[g]);
        printf("\n");
      }
      if (q.kind == TQ_Q_BITS &&
          (q.alpha_mode == TQ_ALPHA_AUTO || q.alpha_mode == TQ_ALPHA_AUTO_PO2)) {
        printf("qkeras_scale:");
        for (size_t g = 0; g < ns; g++)
          printf(" %.9g", (double)tq_quantizer_qkeras_scale(&q, steps[g]));
        printf("\n");
      }
    }
  }
  if (want_codes) {
    codes = malloc(n * sizeof *codes);
    if (!codes) {
      rc = tq_cli_error("quantizer: out of memory");
      goto done;
    }
    if (tq_quantize_codes(&q, codes, NULL, NULL, in, dims, rank) != TQ_OK) {
      rc = tq_cli_error("quantizer: %s", tq_last_error());
      goto done;
    }
    printf("codes:");
    for (size_t i = 0; i < n; i++) printf(" %d", (int)codes[i]);
    printf("\n");
  }
done:
  fflush(stdout);
  free(in);
  free(out);
  free(steps);
  free(codes);
  free(zps);
  return rc;
}
