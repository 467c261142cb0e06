/* Writes the seed corpus of fuzz_modelfile: tiny models (6x6 inputs, a few hundred weights, so
 * that the harness's forward pass costs microseconds) covering every layer type the file format
 * rebuilds, float and quantized, with folded batch norms, static scales and optimizer state,
 * in the harness's input format (modelfile_format.h), plus one model file as it is on disk.
 *   seedgen_modelfile OUT_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modelfile_format.h"
#include "tinyq/model.h"
#include "tinyq/qconfig.h"

static const char *out_dir;

static void die(const char *what) {
  fprintf(stderr, "seedgen_modelfile: %s: %s\n", what, tq_last_error());
  exit(1);
}

/* Saves m, then writes it to OUT_DIR/name in the structured form (and raw when raw != 0). */
static void emit(const tq_model *m, const char *name, int with_opt, int raw) {
  char tmp[4096], path[4096];
  snprintf(tmp, sizeof tmp, "%s/.seedgen.tqm", out_dir);
  if (tq_model_save(tmp, m, "{\"seed\":\"seedgen\"}", with_opt)) die(name);
  unsigned char *buf;
  size_t size;
  if (tq_read_file(tmp, &buf, &size)) die(tmp);
  unlink(tmp);
  uint32_t hlen = mf_get_u32(buf + 12);
  size_t plen = size - (16 + (size_t)hlen + 8 + 4);
  snprintf(path, sizeof path, "%s/%s", out_dir, name);
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(buf + 16, 1, hlen, f) == hlen && fputc(0, f) == 0 &&
           fwrite(buf + 16 + hlen + 8, 1, plen, f) == plen;
  if (!f || fclose(f) != 0 || !ok) die(path);
  if (raw) {
    snprintf(path, sizeof path, "%s/%s.raw", out_dir, name);
    if (tq_write_file_atomic(path, buf, size)) die(path);
  }
  free(buf);
}

static void finalize(tq_model *m) {
  if (tq_model_finalize(m, 4, TQ_INIT_GLOROT_UNIFORM, 1)) die(tq_model_arch(m));
}

/* conv -> bn -> relu -> depthwise -> slot -> conv 1x1 -> add -> maxpool -> slot -> gap -> dense
 * -> softmax (float only: a softmax cannot be quantized) or an output slot */
static tq_model *cnn(int softmax) {
  tq_model *m = tq_model_new("fuzz_cnn", (tq_shape3){6, 6, 1});
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  x = tq_conv2d(m, x, 4, 3, 3, 1, 1, TQ_PAD_SAME);
  x = tq_batchnorm(m, x);
  x = tq_relu(m, x, 6.0f);
  int skip = x;
  x = tq_depthwise(m, x, 3, 3, 1, 1, TQ_PAD_SAME, 1);
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  x = tq_conv2d(m, x, 4, 1, 1, 1, 1, TQ_PAD_VALID);
  x = tq_add(m, x, skip);
  x = tq_maxpool(m, x, 2, 2, 2, 2, TQ_PAD_VALID);
  x = tq_activation(m, x, TQ_ACT_LINEAR);
  x = tq_gap(m, x);
  x = tq_dense(m, x, 3);
  x = tq_activation(m, x, softmax ? TQ_ACT_SOFTMAX : TQ_ACT_LINEAR);
  finalize(m);
  return m;
}

/* zeropad -> conv (strided, no bias) -> avgpool -> squeeze-excite multiply -> dropout -> flatten
 * -> dense -> sigmoid / swish / relu6 activations */
static tq_model *mixed(void) {
  tq_model *m = tq_model_new("fuzz_mixed", (tq_shape3){5, 6, 2});
  int x = tq_zeropad(m, 0, 1, 0, 0, 1);
  x = tq_conv2d(m, x, 3, 2, 2, 2, 1, TQ_PAD_VALID);
  tq_layer_set_bias(m, x, 0);
  tq_layer_set_l2(m, x, 1e-4f);
  x = tq_activation(m, x, TQ_ACT_SWISH);
  x = tq_avgpool(m, x, 2, 2, 1, 1, TQ_PAD_SAME);
  int g = tq_gap(m, x);
  g = tq_dense(m, g, 3);
  g = tq_activation(m, g, TQ_ACT_SIGMOID);
  x = tq_multiply(m, x, g);
  x = tq_dropout(m, x, 0.25f);
  x = tq_flatten(m, x);
  x = tq_dense(m, x, 4);
  x = tq_activation(m, x, TQ_ACT_RELU6);
  x = tq_activation(m, x, TQ_ACT_RELU);
  finalize(m);
  return m;
}

static void calibrate(tq_model *m) {
  tq_shape3 s = tq_model_input_shape(m);
  size_t n = tq_shape_size(s) * 4;
  float *x = malloc(n * sizeof *x);
  if (!x) die("out of memory");
  for (size_t i = 0; i < n; i++) x[i] = sinf((float)i * 0.7f);
  if (tq_model_calibrate(m, x, 4)) die("calibrate");
  free(x);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: seedgen_modelfile OUT_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  tq_model *m = cnn(1);
  emit(m, "cnn_softmax_float", 0, 1);
  tq_model_free(m);
  m = cnn(0);
  emit(m, "cnn_float", 0, 0);
  emit(m, "cnn_float_opt", 1, 0);
  if (tq_qconfig_apply_flat(m, 4, "auto_po2")) die("flat 4");
  emit(m, "cnn_flat4_po2", 0, 0);
  calibrate(m);
  if (tq_model_set_static(m, 1, TQ_RANGE_FULL)) die("static");
  emit(m, "cnn_flat4_static", 0, 0);
  tq_model_free(m);

  m = cnn(0);
  const char *cfg =
      "{\"Conv2D\": {\"kernel_quantizer\": \"quantized_bits(8,0,1,alpha='auto')\","
      " \"bias_quantizer\": \"quantized_bits(16,5,1)\"},"
      " \"depthwise_conv2d\": {\"kernel_quantizer\": \"quantized_po2(4,1)\"},"
      " \"dense\": {\"kernel_quantizer\": \"ternary(alpha='auto_po2')\","
      " \"bias_quantizer\": \"quantized_bits(8,3,1)\"},"
      " \"activation\": \"quantized_bits_featuremap(8,8,1,1,alpha='auto',scale_axis=0)\","
      " \"activation_1\": \"quantized_relu(4,2)\","
      " \"activation_2\": \"binary(alpha='auto_po2')\"}";
  if (tq_qconfig_apply_json(m, cfg, "seedgen")) die("config");
  tq_model_set_qkeras_po2_floor(m, 1);
  emit(m, "cnn_mixed_quantizers", 0, 0);
  tq_model_free(m);

  m = mixed();
  emit(m, "mixed_float", 0, 1);
  if (tq_qconfig_apply_flat(m, 8, "auto")) die("flat 8");
  calibrate(m);
  if (tq_model_set_static(m, 1, TQ_RANGE_SPEC)) die("static");
  emit(m, "mixed_flat8_static", 1, 0);
  tq_model_free(m);
  return 0;
}
