/* Instructions per inference of the generated integer C code, counted by valgrind's callgrind
 * (deterministic, unlike time on a shared machine), for the int8 DS-CNN and ResNet-8.
 * Each model is built from the zoo, quantized flat 8-bit auto_po2, calibrated on noise, exported
 * exactly as `tinyq export` does, compiled with cc -O2 (the portable C path), and run on 1 and on
 * 3 samples: the difference / 2 is one inference without start-up costs.
 *
 *   int_inference [--cc "cc -O2"]
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tinyq/deploy.h"
#include "tinyq/qconfig.h"
#include "tinyq/zoo.h"

static long long callgrind_ir(const char *dir, const char *input) {
  char cmd[4096], out[1024];
  snprintf(out, sizeof out, "%s/cg.out", dir);
  snprintf(cmd, sizeof cmd,
           "valgrind --tool=callgrind --callgrind-out-file=%s %s/model_test %s > /dev/null 2>&1",
           out, dir, input);
  if (system(cmd) != 0) return -1;
  FILE *f = fopen(out, "r");
  if (!f) return -1;
  char line[512];
  long long ir = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "summary:", 8) || !strncmp(line, "totals:", 7)) ir = atoll(strchr(line, ':') + 1);
  fclose(f);
  return ir;
}

static int run(const char *name, tq_shape3 in, int classes, const char *cc) {
  tq_model *m = NULL;
  tq_zoo_options zo = {in, classes};
  if (tq_zoo_build(&m, name, &zo) || tq_model_finalize(m, 16, tq_zoo_find(name)->init, 1) ||
      tq_qconfig_apply_flat(m, 8, "auto_po2")) {
    fprintf(stderr, "int_inference: %s\n", tq_last_error());
    return 1;
  }
  size_t n_in = tq_shape_size(in);
  float *x = tq_alloc_floats(64 * n_in);
  tq_rng r;
  tq_rng_seed(&r, 1);
  for (size_t i = 0; i < 64 * n_in; i++) x[i] = tq_rng_normal(&r);
  tq_dmodel *d = NULL;
  char dir[] = "/tmp/tq_int_inference_XXXXXX";
  if (tq_model_calibrate(m, x, 64) || tq_model_set_static(m, 1, TQ_RANGE_SPEC) ||
      tq_deploy_lower(&d, m) || !mkdtemp(dir) ||
      tq_deploy_emit_c(d, dir, TQ_SOURCE_DIR "/runtime")) {
    fprintf(stderr, "int_inference: %s\n", tq_last_error());
    return 1;
  }
  char cmd[4096], in1[1100], in3[1100];
  snprintf(cmd, sizeof cmd, "cd %s && %s -std=c99 -o model_test main_host.c model.c $(ls tq_rt*.c | grep -v lut_host)", dir, cc);
  if (system(cmd) != 0) {
    fprintf(stderr, "int_inference: compiling the generated code failed\n");
    return 1;
  }
  snprintf(in1, sizeof in1, "%s/one.f32", dir);
  snprintf(in3, sizeof in3, "%s/three.f32", dir);
  tq_write_file_atomic(in1, x, n_in * sizeof(float));
  tq_write_file_atomic(in3, x, 3 * n_in * sizeof(float));
  long long a = callgrind_ir(dir, in1), b = callgrind_ir(dir, in3);
  size_t macs = tq_model_macs(m);
  if (a < 0 || b < 0) {
    fprintf(stderr, "int_inference: valgrind failed (is it installed?)\n");
    return 1;
  }
  double per = (double)(b - a) / 2.0;
  char shape[32];
  snprintf(shape, sizeof shape, "%dx%dx%d", in.h, in.w, in.c);
  printf("%-10s %-9s %12zu MACs %14.0f instructions/inference %6.2f instructions/MAC  "
         "(arena %zu B, weights %zu B)\n",
         name, shape, macs, per, per / (double)macs, tq_deploy_arena_bytes(d),
         tq_deploy_weight_bytes(d));
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (getenv("TQ_KEEP")) printf("kept %s\n", dir);
  else if (system(cmd) != 0) fprintf(stderr, "int_inference: could not remove %s\n", dir);
  tq_deploy_free(d);
  tq_model_free(m);
  tq_free(x);
  return 0;
}

int main(int argc, char **argv) {
  const char *cc = "cc -O2";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cc") && i + 1 < argc) cc = argv[++i];
    else {
      fprintf(stderr, "usage: int_inference [--cc \"cc -O2\"]\n");
      return 2;
    }
  }
  printf("generated C compiled with '%s', instructions counted by callgrind (x86-64)\n", cc);
  int rc = run("dscnn", (tq_shape3){49, 10, 1}, 12, cc);
  rc |= run("resnet8", (tq_shape3){32, 32, 3}, 10, cc);
  return rc;
}
