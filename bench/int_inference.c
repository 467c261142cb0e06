/* Instructions per inference of the generated integer C code, for the int8 DS-CNN and ResNet-8:
 * - on the host, counted by valgrind's callgrind (deterministic, unlike time on a shared machine);
 * - on an emulated Cortex-M4F (QEMU mps2-an386 with -icount, the image built with -DTQ_M4_COUNT:
 *   runtime/arm/tq_m4_main.c reads the SysTick around each inference, calibrated on a loop of known
 *   length), once with the portable C kernels (-DTQ_RT_NO_DSP) and once with the DSP-extension
 *   kernels (SMLAD), when qemu-system-arm and arm-none-eabi-gcc are installed (--no-m4 skips it).
 * Each model is built from the zoo, quantized flat 8-bit auto_po2, calibrated on noise, exported
 * exactly as `tinyq export` does, compiled with cc -O2 (the portable C path), and run on 1 and on
 * 3 samples: the difference / 2 is one inference without start-up costs (the M4 figure is the mean
 * over 3 inferences, timed around the call). Set TQ_KEEP=1 to keep the exported folders.
 *
 *   int_inference [--cc "cc -O2"] [--no-m4]
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

/* The emulated Cortex-M4F's instructions per inference (-1 on failure); dsp = 0 builds the portable C. */
static long long m4_instructions(const char *dir, int dsp) {
  char cmd[4096], line[512], path[1100];
  long long n = -1;
  snprintf(cmd, sizeof cmd,
           "cd %s && rm -f model_m4.elf && make -s model_m4.elf M4_CFLAGS='-std=c99 -mcpu=cortex-m4 "
           "-mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 -ffunction-sections -fdata-sections "
           "-DTQ_M4_COUNT%s' > m4build.txt 2>&1 && make -s qemu INPUTS=three.f32 N=3 "
           "QEMU='qemu-system-arm -icount shift=0' > m4codes.txt 2> m4.txt",
           dir, dsp ? "" : " -DTQ_RT_NO_DSP");
  if (system(cmd) != 0) return -1;
  snprintf(path, sizeof path, "%s/m4.txt", dir);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "m4: instructions per inference: ", 32)) n = atoll(line + 32);
  fclose(f);
  return n;
}

static int run(const char *name, tq_shape3 in, int classes, const char *cc, int m4) {
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
  if (m4) {
    const long long p = m4_instructions(dir, 0), q = m4_instructions(dir, 1);
    if (p < 0 || q < 0) {
      fprintf(stderr, "int_inference: the Cortex-M4 build or QEMU run failed (see %s/m4*.txt)\n", dir);
      return 1;
    }
    printf("%-10s Cortex-M4 portable C %11lld instructions/inference %6.2f/MAC  (%5.1f ms at 120 MHz)\n",
           name, p, (double)p / (double)macs, (double)p / 120e3);
    printf("%-10s Cortex-M4 DSP (SMLAD) %10lld instructions/inference %6.2f/MAC  (%5.1f ms at 120 MHz)\n",
           name, q, (double)q / (double)macs, (double)q / 120e3);
  }
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
  int m4 = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cc") && i + 1 < argc) cc = argv[++i];
    else if (!strcmp(argv[i], "--no-m4")) m4 = 0;
    else {
      fprintf(stderr, "usage: int_inference [--cc \"cc -O2\"] [--no-m4]\n");
      return 2;
    }
  }
  if (m4 && system("command -v qemu-system-arm > /dev/null && command -v arm-none-eabi-gcc > /dev/null")) {
    fprintf(stderr, "int_inference: qemu-system-arm or arm-none-eabi-gcc missing: no Cortex-M4 counts\n");
    m4 = 0;
  }
  printf("generated C compiled with '%s', instructions counted by callgrind (x86-64)\n", cc);
  if (m4)
    printf("Cortex-M4F: arm-none-eabi-gcc -O2, QEMU mps2-an386 -icount shift=0, SysTick around each "
           "inference;\n  ms at 120 MHz = instructions / 120e6, a lower bound: a real M4 needs more "
           "cycles than\n  instructions (loads, taken branches, flash wait states). MLPerf Tiny KWS on "
           "STM32L4R5 (120 MHz):\n  TFLM 181.9 ms, microTVM+CMSIS-NN 99.8 ms, X-CUBE-AI 62.9 ms, "
           "Plumerai 47.8 ms\n");
  int rc = run("dscnn", (tq_shape3){49, 10, 1}, 12, cc, m4);
  rc |= run("resnet8", (tq_shape3){32, 32, 3}, 10, cc, m4);
  return rc;
}
