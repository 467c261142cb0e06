/* tinyq predict: a model file on raw float32 inputs -> its outputs, for checking a model against
 * another framework and for using one. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "options.h"
#include "static_scales.h"
#include "tinyq/deploy.h"
#include "tinyq/keras.h"

static const char USAGE[] =
    "usage: tinyq predict MODEL.tqm --input IN.f32 [--output OUT.f32] [options]\n";

typedef struct {
  char file[4096], input[1024], output[1024], static_spec[64], range[8], data[1024], scaling[16];
  int logits, integer, batch, threads;
} predict_opts;

#define S predict_opts
static const tq_arg predict_args[] = {
    TQ_ARG_FILE(S, file, "MODEL.tqm", "one MODEL.tqm"),
    {.name = "input", .type = TQ_ARG_STRING, .meta = "IN.f32", .flags = TQ_ARG_REQUIRED, TQ_AT(S, input),
     .help = "N samples of the model's input shape (HxWxC, channels last), float32 little-endian, nothing else "
             "(numpy: x.astype('<f4').tofile(IN.f32))"},
    {.name = "output", .type = TQ_ARG_STRING, .meta = "OUT.f32", TQ_AT(S, output),
     .help = "the N outputs as float32 little-endian (default: text on stdout, one sample per line)"},
    {TQ_OPT_FLAG("logits", S, logits),
     .help = "the raw outputs; by default a classifier's outputs go through the softmax its loss applies (an "
             "imported model's output softmax, or a model trained with cross-entropy), as Keras' model.predict "
             "gives them"},
    {TQ_OPT_FLAG("integer", S, integer), .help = "run the integer-only lowering (the runtime kernels of tinyq export)"},
    {TQ_OPT_STATIC(S, static_spec),
     .help = "static activation scales: ema | calib:N (with --data; without it the first N inputs calibrate) "
             "(SPEC §6)"},
    {TQ_OPT_RANGE(S, range), .help = "(spec)"},
    {TQ_OPT_DATA(S, data), .help = "calibration data (training split) for --static (default: the inputs)"},
    {TQ_OPT_SCALING(S, scaling), .def = "unit", .help = "pixel scaling of --data: unit | raw | centered"},
    {TQ_OPT_BATCH(S, batch), .def = "100"},
    {TQ_OPT_THREADS(S, threads), .def = "2"},
};
#undef S


static void softmax_rows(float *v, size_t n, size_t k) {
  for (size_t i = 0; i < n; i++) {
    float *r = v + i * k, mx = r[0];
    for (size_t j = 1; j < k; j++) mx = r[j] > mx ? r[j] : mx;
    double s = 0;
    for (size_t j = 0; j < k; j++) s += (r[j] = expf(r[j] - mx));
    for (size_t j = 0; j < k; j++) r[j] = (float)(r[j] / s);
  }
}

static int run(tq_model *m, const predict_opts *o, const float *x, size_t n, int batch, float *y, size_t in_size,
               size_t k, const char *path) {
  const char *spec = o->static_spec[0] ? o->static_spec : NULL, *range = o->range[0] ? o->range : NULL;
  const char *data = o->data[0] ? o->data : NULL, *scaling = o->scaling;
  int integer = o->integer;
  if (spec || integer) {
    if (!tq_model_is_quantized(m))
      return tq_cli_usage_error("predict: --integer and --static need a QAT model (train with --flat or --quant)");
    long nc = 512;
    int calib_inputs = spec && !strncmp(spec, "calib:", 6) && !data;
    if (calib_inputs) {
      char *end;
      nc = strtol(spec + 6, &end, 10);
      if (end == spec + 6 || *end || nc < 1 || nc > 1000000)
        return tq_cli_usage_error("--static: expected ema or calib:N with N in 1..1000000, got '%s'", spec);
    }
    /* Tensors without a quantizer of their own (a residual Add's inputs) take their range from
     * calibration: with no --data, the inputs being predicted calibrate. */
    if (!data && (calib_inputs || !tq_model_is_static(m)) &&
        tq_model_calibrate(m, x, (size_t)nc < n ? (int)nc : (int)n))
      return tq_cli_error("%s: %s", path, tq_last_error());
    int rc;
    if (calib_inputs) {
      if ((rc = tq_cli_static_scales(m, NULL, range, NULL, NULL, NULL))) return rc;
      if (tq_model_set_static(m, 1, range && !strcmp(range, "full") ? TQ_RANGE_FULL : TQ_RANGE_SPEC))
        return tq_cli_error("--static: %s", tq_last_error());
    } else if ((rc = tq_cli_static_scales(m, spec ? spec : (tq_model_is_static(m) ? NULL : "ema"), range, data,
                                          scaling, NULL))) {
      return rc;
    }
  }
  if (integer) {
    tq_dmodel *dm = NULL;
    if (tq_deploy_lower(&dm, m)) return tq_cli_error("%s: %s", path, tq_last_error());
    int32_t *codes = malloc(sizeof(int32_t) * k * (size_t)batch);
    int rc = 0;
    if (!codes) rc = tq_cli_error("out of memory");
    for (size_t s = 0; !rc && s < n; s += (size_t)batch) {
      int b = n - s < (size_t)batch ? (int)(n - s) : batch;
      if (tq_deploy_run(dm, x + s * in_size, b, codes, y + s * k)) rc = tq_cli_error("%s: %s", path, tq_last_error());
    }
    free(codes);
    tq_deploy_free(dm);
    return rc;
  }
  for (size_t s = 0; s < n; s += (size_t)batch) {
    int b = n - s < (size_t)batch ? (int)(n - s) : batch;
    const float *out = tq_model_forward(m, x + s * in_size, b, 0, NULL);
    if (!out) return tq_cli_error("%s: %s", path, tq_last_error());
    memcpy(y + s * k, out, sizeof(float) * k * (size_t)b);
  }
  return 0;
}

static int predict_run(void *settings) {
  const predict_opts *o = settings;
  const char *path = o->file, *in_path = o->input, *out_path = o->output[0] ? o->output : NULL;
  int batch = o->batch, rc;
  omp_set_num_threads(o->threads);

  /* The input's size is checked against the model's input shape before the model is built. */
  tq_model *m = NULL;
  char *meta = NULL;
  if (tq_model_load(path, &m, &meta, 1)) return tq_cli_error("%s", tq_last_error());
  size_t in_size = tq_shape_size(tq_model_input_shape(m)), k = tq_shape_size(tq_model_output_shape(m));
  tq_model_free(m);
  m = NULL;
  unsigned char *raw = NULL;
  size_t bytes = 0;
  float *x = NULL, *y = NULL;
  rc = 1;
  if (tq_read_file(in_path, &raw, &bytes)) {
    rc = tq_cli_error("%s", tq_last_error());
    goto done;
  }
  if (bytes == 0 || bytes % (4 * in_size)) {
    rc = tq_cli_error("%s: %zu bytes is not a whole number of samples of %zu float32 values (the input of %s)",
                      in_path, bytes, in_size, path);
    goto done;
  }
  size_t n = bytes / (4 * in_size);
  if (n > 0x7fffffff) {
    rc = tq_cli_error("%s: more than 2^31-1 samples", in_path);
    goto done;
  }
  if ((size_t)batch > n) batch = (int)n;
  if (tq_mem_check_product(n, k, sizeof(float)) || !(x = tq_alloc_floats(n * in_size)) ||
      !(y = tq_alloc_floats(n * k))) {
    rc = tq_cli_error("%s: %s", in_path, tq_last_error());
    goto done;
  }
  for (size_t i = 0; i < n * in_size; i++) { /* little-endian on every host */
    const unsigned char *p = raw + 4 * i;
    uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    memcpy(&x[i], &b, 4);
    if (!isfinite(x[i])) {
      rc = tq_cli_error("%s: value %zu (sample %zu) is not a finite number", in_path, i, i / in_size);
      goto done;
    }
  }
  free(raw);
  raw = NULL;
  tq_free(meta);
  meta = NULL;
  if (tq_model_load(path, &m, &meta, batch)) {
    rc = tq_cli_error("%s", tq_last_error());
    goto done;
  }
  if ((rc = run(m, o, x, n, batch, y, in_size, k, path))) goto done;
  rc = 1;
  if (!o->logits && tq_keras_meta_output_softmax(meta)) softmax_rows(y, n, k);
  if (out_path) {
    unsigned char *ob = malloc(n * k * 4);
    if (!ob) {
      rc = tq_cli_error("out of memory");
      goto done;
    }
    for (size_t i = 0; i < n * k; i++) {
      uint32_t b;
      memcpy(&b, &y[i], 4);
      for (int j = 0; j < 4; j++) ob[4 * i + j] = (unsigned char)(b >> (8 * j));
    }
    tq_status st = tq_write_file_atomic(out_path, ob, n * k * 4);
    free(ob);
    if (st) {
      rc = tq_cli_error("%s", tq_last_error());
      goto done;
    }
  } else {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < k; j++) printf("%.9g%c", y[i * k + j], j + 1 == k ? '\n' : ' ');
    if (fflush(stdout)) {
      rc = tq_cli_error("stdout: write failed");
      goto done;
    }
  }
  rc = 0;
done:
  free(raw);
  tq_free(x);
  tq_free(y);
  tq_free(meta);
  tq_model_free(m);
  return rc;
}

static const tq_command predict_cmd = {"predict", TQ_ARGS_OF(predict_args, USAGE), TQ_RUN(predict_opts, predict_run)};
int tq_cmd_predict(int argc, char **argv) { return tq_args_run(&predict_cmd, argc, argv); }
