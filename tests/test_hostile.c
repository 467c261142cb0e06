/* Hostile inputs (issue 10): each defect's reproducer, at the library level or through the CLI
 * binary ($TQ_BIN), with the exact error or the correct value it must now get. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tinyq/data.h"
#include "tinyq/qconfig.h"
#include "tinyq/search.h"
#include "tinyq/zoo.h"
#include "tq_test.h"

static char dir[64];

#define CHECK_MSG(st_expr, code, text)                                                       \
  do {                                                                                       \
    tq_status st_ = (st_expr);                                                               \
    CHECK_EQ_INT(st_, code);                                                                 \
    if (!strstr(tq_last_error(), text)) {                                                    \
      fprintf(stderr, "%s:%d: message '%s' lacks '%s'\n", __FILE__, __LINE__, tq_last_error(), \
              text);                                                                         \
      tq_test_failures++;                                                                    \
    }                                                                                        \
  } while (0)

/* ---- model files edited as an attacker would: header text replaced, length and CRC fixed */

static unsigned char *slurp(const char *path, size_t *n) {
  unsigned char *b;
  return tq_read_file(path, &b, n) == TQ_OK ? b : NULL;
}

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Copies src to dst with the first `from` in the JSON header replaced by `to`. */
static int rewrite_header(const char *src, const char *dst, const char *from, const char *to) {
  size_t n;
  unsigned char *b = slurp(src, &n);
  if (!b) return 0;
  uint32_t hlen = (uint32_t)b[12] | (uint32_t)b[13] << 8 | (uint32_t)b[14] << 16 | (uint32_t)b[15] << 24;
  char *h = malloc(hlen + 1);
  memcpy(h, b + 16, hlen);
  h[hlen] = 0;
  char *at = strstr(h, from);
  if (!at) {
    fprintf(stderr, "rewrite_header: '%s' not in %s\n", from, src);
    free(h), free(b);
    return 0;
  }
  size_t nh = hlen - strlen(from) + strlen(to), rest = n - 16 - hlen;
  unsigned char *o = malloc(16 + nh + rest);
  memcpy(o, b, 12);
  put_u32(o + 12, (uint32_t)nh);
  size_t pre = (size_t)(at - h);
  memcpy(o + 16, h, pre);
  memcpy(o + 16 + pre, to, strlen(to));
  memcpy(o + 16 + pre + strlen(to), at + strlen(from), hlen - pre - strlen(from));
  memcpy(o + 16 + nh, b + 16 + hlen, rest);
  put_u32(o + 16 + nh + rest - 4, tq_crc32(0, o, 16 + nh + rest - 4));
  FILE *f = fopen(dst, "wb");
  fwrite(o, 1, 16 + nh + rest, f);
  fclose(f);
  free(o), free(h), free(b);
  return 1;
}

static tq_model *small_model(int batch) {
  tq_model *m = tq_model_new("small", (tq_shape3){4, 4, 2});
  int x = tq_activation(m, 0, TQ_ACT_LINEAR);
  int c = tq_conv2d(m, x, 2, 3, 3, 1, 1, TQ_PAD_SAME);
  c = tq_batchnorm(m, c);
  int y = tq_add(m, c, x);
  y = tq_flatten(m, y);
  y = tq_dense(m, y, 10);
  CHECK(y > 0);
  CHECK(tq_model_finalize(m, batch, TQ_INIT_GLOROT_UNIFORM, 1) == TQ_OK);
  return m;
}

static void check_model_files(void) {
  char good[128], bad[128];
  snprintf(good, sizeof good, "%s/good.tqm", dir);
  snprintf(bad, sizeof bad, "%s/bad.tqm", dir);
  tq_model *m = small_model(2), *l = NULL;
  CHECK(tq_model_save(good, m, NULL, 0) == TQ_OK);
  CHECK(tq_model_load(good, &l, NULL, 1) == TQ_OK);
  tq_model_free(l);

  /* D1: an Add with one input read layers[-1] */
  CHECK(rewrite_header(good, bad, "\"class\":\"Add\",\"inputs\":[3,1]", "\"class\":\"Add\",\"inputs\":[3]"));
  CHECK_MSG(tq_model_load(bad, &l, NULL, 1), TQ_ERR_FORMAT, "bad.tqm: layer add (Add): 1 input, Add takes 2");
  /* ... and a Dense with two */
  CHECK(rewrite_header(good, bad, "\"class\":\"Dense\",\"inputs\":[5]", "\"class\":\"Dense\",\"inputs\":[5,4]"));
  CHECK_MSG(tq_model_load(bad, &l, NULL, 1), TQ_ERR_FORMAT, "bad.tqm: layer dense (Dense): 2 inputs, Dense takes 1");

  /* D6: units: 1e6 is compared with the payload before anything is allocated for it */
  CHECK(rewrite_header(good, bad, "\"units\":10", "\"units\":1000000"));
  size_t before = tq_mem_in_use();
  /* 32 inputs x 10^6 units + 10^6 biases + the other layers' 142, against 376 stored values */
  CHECK_MSG(tq_model_load(bad, &l, NULL, 1), TQ_ERR_FORMAT,
            "bad.tqm: the architecture has 33000046 parameters, the payload holds only 376 values");
  CHECK_EQ_INT(tq_mem_in_use(), before);

  /* a non-string quantizer; a kernel quantizer on an Activation layer; folded_bn naming the file */
  tq_quantizer kq;
  CHECK(tq_quantizer_parse(&kq, "quantized_bits(4,0,1,alpha='auto')") == TQ_OK);
  CHECK(tq_layer_set_quantizers(m, 2, &kq, NULL) == TQ_OK);
  CHECK(tq_model_fold_bn(m, 2, 3) == TQ_OK);
  CHECK(tq_model_save(good, m, NULL, 0) == TQ_OK);
  CHECK(tq_model_load(good, &l, NULL, 1) == TQ_OK);
  tq_model_free(l);
  CHECK(rewrite_header(good, bad, "\"kernel_quantizer\":\"quantized_bits(4,0,1,alpha='auto')\"",
                       "\"kernel_quantizer\":5"));
  CHECK_MSG(tq_model_load(bad, &l, NULL, 1), TQ_ERR_FORMAT,
            "bad.tqm: layer conv2d: kernel_quantizer: expected a quantizer string");
  CHECK(rewrite_header(good, bad, "\"class\":\"Activation\",",
                       "\"class\":\"Activation\",\"kernel_quantizer\":\"quantized_bits(4,0,1)\","));
  CHECK_MSG(tq_model_load(bad, &l, NULL, 1), TQ_ERR_FORMAT,
            "bad.tqm: layer activation: a Activation has no kernel_quantizer");
  CHECK(rewrite_header(good, bad, "\"folded_bn\":3", "\"folded_bn\":5"));
  tq_model_load(bad, &l, NULL, 1);
  CHECK(strncmp(tq_last_error(), bad, strlen(bad)) == 0 && strstr(tq_last_error(), "folded_bn"));
  tq_model_free(m);

  /* a directory where a file is expected */
  unsigned char *b;
  size_t n;
  CHECK_MSG(tq_read_file(dir, &b, &n), TQ_ERR_IO, "is a directory, not a file");
}

/* ---- D2: sizes that overflowed int arithmetic */
static void check_shapes(void) {
  tq_conv_shape s;
  CHECK_MSG(tq_conv_shape_init(&s, 1, INT_MAX, INT_MAX, INT_MAX, 3, 3, INT_MAX, INT_MAX, 16, TQ_PAD_SAME),
            TQ_ERR_ARG, "too large");
  CHECK_MSG(tq_conv_shape_init(&s, 1, 46341, 46341, 1, 1, 1, 1, 1, 1, TQ_PAD_SAME), TQ_ERR_ARG, "too large");
  /* the largest legal stride: ceil(h / s) without computing h + s - 1 in int */
  CHECK(tq_conv_shape_init(&s, 1, 9, 9, 1, 3, 3, INT_MAX, INT_MAX, 4, TQ_PAD_SAME) == TQ_OK);
  CHECK(s.oh == 1 && s.ow == 1 && s.pad_top == 0);
  tq_model *m = tq_model_new("big", (tq_shape3){INT_MAX, INT_MAX, INT_MAX});
  CHECK_MSG(tq_model_finalize(m, 1, TQ_INIT_GLOROT_UNIFORM, 1), TQ_ERR_ARG,
            "big: input shape 2147483647x2147483647x2147483647");
  tq_model_free(m);
  m = tq_model_new("pad", (tq_shape3){8, 8, 1});
  CHECK(tq_zeropad(m, 0, INT_MAX, INT_MAX, 0, 0) < 0);
  CHECK(strstr(tq_last_error(), "padded output too large") != NULL);
  tq_model_free(m);
}

/* ---- the memory budget */
static void check_memory(void) {
  size_t base = tq_mem_in_use(), lim = tq_mem_limit();
  CHECK(lim > 0);
  tq_model *m = NULL;
  CHECK(tq_zoo_build(&m, "resnet8", NULL) == TQ_OK);
  CHECK(tq_model_finalize(m, 32, TQ_INIT_HE_NORMAL, 1) == TQ_OK);
  CHECK(tq_mem_in_use() > base + 32 * 32 * 32 * 16 * 4); /* at least one activation */
  tq_model_free(m);
  CHECK_EQ_INT(tq_mem_in_use(), base); /* everything counted is released */

  tq_mem_set_limit(base + (4 << 20));
  CHECK(tq_alloc(8 << 20) == NULL);
  CHECK(strstr(tq_last_error(), "needs 8.0 MiB more memory") && strstr(tq_last_error(), "--max-memory"));
  void *p = tq_alloc(1000);
  CHECK(p != NULL);
  tq_free(p);
  CHECK(tq_zoo_build(&m, "resnet8", NULL) == TQ_OK);
  CHECK_MSG(tq_model_finalize(m, 32, TQ_INIT_HE_NORMAL, 1), TQ_ERR_MEMORY, "resnet8: needs about");
  tq_model_free(m);
  CHECK(tq_zoo_build(&m, "resnet8", NULL) == TQ_OK);
  CHECK(tq_model_finalize(m, 0, TQ_INIT_HE_NORMAL, 1) == TQ_OK); /* shapes only: fits */
  CHECK(tq_model_layer(m, 5)->out == NULL && tq_model_params(m) == 78666);
  tq_model_free(m);
  tq_mem_set_limit(lim);
  CHECK_EQ_INT(tq_mem_in_use(), base);

  size_t v = 0;
  CHECK(tq_parse_size("512M", &v) == TQ_OK && v == (size_t)512 << 20);
  CHECK(tq_parse_size("1.5GiB", &v) == TQ_OK && v == (size_t)3 << 29);
  CHECK(tq_parse_size("lots", &v) == TQ_ERR_ARG);
}

/* ---- D3: codes at 31 and 32 bits, by hand. featuremap 'auto': s = 2 max|x| / (2 bq) with
 * bq = 2^(b-1) - 1; as float32 s rounds to 2^-(b-1) for b = 31, 32; z = clip(rha(x/s + 0 -
 * 1.526e-5), -bq, bq). x = 1: 2^(b-1) clipped to bq; x = 0.5: 2^(b-2); x = 0.25: 2^(b-3). */
static void check_wide_codes(void) {
  const float x[4] = {1.0f, -1.0f, 0.5f, 0.25f};
  int dims[1] = {4};
  int32_t z[4], zp[1];
  tq_quantizer q;
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(32,0,1,1,alpha='auto',scale_axis=0)") == TQ_OK);
  CHECK(tq_quantize_codes(&q, z, NULL, zp, x, dims, 1) == TQ_OK);
  CHECK_EQ_INT(z[0], 2147483647);
  CHECK_EQ_INT(z[1], -2147483647);
  CHECK_EQ_INT(z[2], 1073741824);
  CHECK_EQ_INT(z[3], 536870912);
  CHECK(tq_quantizer_parse(&q, "quantized_bits_featuremap(31,0,1,1,alpha='auto',scale_axis=0)") == TQ_OK);
  CHECK(tq_quantize_codes(&q, z, NULL, zp, x, dims, 1) == TQ_OK);
  CHECK_EQ_INT(z[0], 1073741823);
  CHECK_EQ_INT(z[1], -1073741823);
  CHECK_EQ_INT(z[2], 536870912);
  CHECK_EQ_INT(z[3], 268435456);
  float out[4];
  CHECK(tq_quantize_forward(&q, out, NULL, x, dims, 1, 0, NULL) == TQ_OK);
  CHECK(out[0] == (float)(1073741823.0 / 1073741824.0) && out[1] == -out[0] && out[2] == 0.5f);
  /* quantized_bits 'auto' at 32 bits: s = max / H, H = 2^31 - 1, codes to +-H */
  CHECK(tq_quantizer_parse(&q, "quantized_bits(32,0,1,alpha='auto')") == TQ_OK);
  CHECK(tq_quantize_codes(&q, z, NULL, NULL, x, dims, 1) == TQ_OK);
  CHECK_EQ_INT(z[0], 2147483647);
  CHECK_EQ_INT(z[1], -2147483647);
  CHECK_EQ_INT(z[2], 1073741824);
  /* alpha must be a positive scale: alpha=-1 turned 1 into -0.875 */
  CHECK_MSG(tq_quantizer_parse(&q, "quantized_bits(4,0,1,alpha=-1)"), TQ_ERR_FORMAT, "alpha must be a positive");
  CHECK_MSG(tq_quantizer_parse(&q, "quantized_bits(4,0,1,alpha=0)"), TQ_ERR_FORMAT, "alpha must be a positive");
}

/* ---- D4: special files are written in place */
static void *fifo_reader(void *arg) {
  static char got[64];
  FILE *f = fopen((const char *)arg, "rb");
  size_t n = f ? fread(got, 1, sizeof got - 1, f) : 0;
  got[n] = 0;
  if (f) fclose(f);
  return got;
}

static void check_special_files(void) {
  char fifo[128], target[128], link[128];
  snprintf(fifo, sizeof fifo, "%s/p", dir);
  snprintf(target, sizeof target, "%s/target.txt", dir);
  snprintf(link, sizeof link, "%s/link.txt", dir);
  CHECK(mkfifo(fifo, 0600) == 0);
  pthread_t th;
  pthread_create(&th, NULL, fifo_reader, fifo);
  CHECK(tq_write_file_atomic(fifo, "through the pipe", 16) == TQ_OK);
  void *got;
  pthread_join(th, &got);
  CHECK(strcmp((const char *)got, "through the pipe") == 0);
  struct stat sb;
  CHECK(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));

  CHECK(tq_write_file_atomic(target, "old", 3) == TQ_OK);
  CHECK(symlink("target.txt", link) == 0);
  CHECK(tq_write_file_atomic(link, "new!", 4) == TQ_OK);
  CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode)); /* still a link */
  size_t n;
  unsigned char *b = slurp(target, &n);
  CHECK(b && n == 4 && memcmp(b, "new!", 4) == 0); /* its target was replaced */
  free(b);
  CHECK_MSG(tq_write_file_atomic(dir, "x", 1), TQ_ERR_IO, "is a directory");
}

/* ---- --quant JSON that means something else than it shows */
static void check_qconfig(void) {
  tq_model *m = small_model(1);
  CHECK_MSG(tq_qconfig_apply_json(m, "{} garbage", "q.json"), TQ_ERR_FORMAT, "q.json: text after the JSON object (near \"garbage\")");
  CHECK_MSG(tq_qconfig_apply_json(m, "{\"conv2d\\u0000evil\": {\"kernel_quantizer\": \"quantized_bits(4,0,1)\"}}", "q.json"),
            TQ_ERR_FORMAT, "q.json: a \\u0000 escape at offset 8");
  CHECK(tq_model_layer(m, 2)->kernel_q.kind == TQ_Q_NONE);
  CHECK(tq_qconfig_apply_json(m, "{\"conv2d\": {\"kernel_quantizer\": \"quantized_bits(4,0,1)\"}}\n", "q.json") == TQ_OK);
  CHECK(tq_model_layer(m, 2)->kernel_q.kind == TQ_Q_BITS);
  tq_model_free(m);
}

/* ---- D5: a limit regex that made regcomp take 14 GB */
static void check_space_regex(void) {
  const char *src = getenv("TQ_SRC");
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/search_space_study.json", src ? src : "..");
  size_t n;
  unsigned char *b = slurp(path, &n);
  CHECK(b != NULL);
  if (!b) return;
  char *text = realloc(b, n + 1);
  text[n] = 0;
  tq_model *m = NULL;
  CHECK(tq_zoo_build(&m, "resnet8", NULL) == TQ_OK && tq_model_finalize(m, 0, TQ_INIT_HE_NORMAL, 1) == TQ_OK);
  static const struct {
    const char *re, *why;
  } bad[] = {
      {"((((((a{1,100}){1,100}){1,100}){1,100}){1,100}){1,100})", "too complex"},
      {"(conv2d_[0-9]{1,60}){1,80}", "too complex"},
      {"(conv)\\1", "back-references"},
      {"a{1,300}", "repeat count above 255"},
      {"((((((((((((((((((a))))))))))))))))))", "nested more than 16 deep"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *root = cJSON_Parse(text);
    cJSON_AddNumberToObject(cJSON_GetObjectItem(root, "limit"), bad[i].re, 16);
    char *js = cJSON_PrintUnformatted(root);
    tq_space *sp = NULL;
    double t0 = tq_now_seconds();
    CHECK_MSG(tq_space_create(&sp, js, "space.json", m), TQ_ERR_FORMAT, bad[i].why);
    CHECK(tq_now_seconds() - t0 < 1.0);
    CHECK(strstr(tq_last_error(), "regular expression refused") != NULL);
    tq_space_free(sp);
    free(js);
    cJSON_Delete(root);
  }
  /* ordinary patterns still work: conv2d_1 .. conv2d_3 share one choice */
  cJSON *root = cJSON_Parse(text);
  cJSON_AddNumberToObject(cJSON_GetObjectItem(root, "limit"), "^conv2d_[1-3]$", 16);
  char *js = cJSON_PrintUnformatted(root);
  tq_space *sp = NULL;
  CHECK(tq_space_create(&sp, js, "space.json", m) == TQ_OK);
  tq_space_free(sp);
  free(js);
  cJSON_Delete(root);
  tq_model_free(m);
  free(text);
}

/* ---- D9, D7 through the CLI: an edited checkpoint, a test split that cannot be used */
static int run_cli(const char *args, char *err, size_t n) {
  const char *bin = getenv("TQ_BIN");
  if (!bin) return -1;
  char cmd[2048], errf[128];
  snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
  snprintf(cmd, sizeof cmd, "%s %s > /dev/null 2> %s", bin, args, errf);
  int rc = system(cmd);
  FILE *f = fopen(errf, "r");
  size_t got = f ? fread(err, 1, n - 1, f) : 0;
  err[got] = 0;
  if (f) fclose(f);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void expect_cli(const char *args, const char *want) {
  char err[2048];
  int rc = run_cli(args, err, sizeof err);
  int lines = 0;
  for (const char *p = err; (p = strstr(p, "tinyq: error: ")); p++) lines++;
  if (rc == 0 || lines != 1 || !strstr(err, want)) {
    fprintf(stderr, "tinyq %s: exit %d, stderr '%s', wanted one error line with '%s'\n", args, rc, err, want);
    tq_test_failures++;
  }
}

static void check_resume(void) {
  if (!getenv("TQ_BIN")) {
    fprintf(stderr, "TQ_BIN not set: CLI checks skipped\n");
    tq_test_failures++;
    return;
  }
  char args[1024], err[2048], last[128], keep[128];
  snprintf(args, sizeof args,
           "train --model resnet8 --data noise:8x8x1:3 --epochs 2 --train-limit 64 --max-steps 2 --batch 16 "
           "--progress none --out %s/run",
           dir);
  CHECK_EQ_INT(run_cli(args, err, sizeof err), 0);
  snprintf(last, sizeof last, "%s/run/last.tqm", dir);
  snprintf(keep, sizeof keep, "%s/last.keep", dir);
  CHECK(rename(last, keep) == 0);
  static const struct {
    const char *from, *to, *want;
  } edits[] = {
      {"\"threads\":2", "\"threads\":100000", "checkpoint setting 'threads' is out of range, expected a number in 1..256"},
      {"\"epochs_done\":2", "\"epochs_done\":-3", "checkpoint setting 'epochs_done' is out of range"},
      {"\"step\":4", "\"step\":-1", "checkpoint setting 'step' is out of range, expected a number in 2..4"},
      {"\"batch\":16", "\"batch\":1e300", "checkpoint setting 'batch' is out of range"},
      {"\"lr\":0.0010000000474974513", "\"lr\":\"fast\"", "checkpoint setting 'lr' is not a number"},
  };
  snprintf(args, sizeof args, "train --resume %s/run --epochs 3", dir);
  for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
    CHECK(rewrite_header(keep, last, edits[i].from, edits[i].to));
    expect_cli(args, edits[i].want);
  }
  /* options other than --epochs, --threads, --progress are refused, as search --resume does */
  CHECK(rename(keep, last) == 0);
  snprintf(args, sizeof args, "train --resume %s/run --lr 0.1", dir);
  expect_cli(args, "train: --lr cannot be changed when resuming (only --epochs, --threads, --profile, --layer-stats, --save-every and --progress)");
  snprintf(args, sizeof args, "train --resume %s/run --epochs 3 --threads 1 --progress none", dir);
  CHECK_EQ_INT(run_cli(args, err, sizeof err), 0);

  /* D7: a test split of another shape fails the run, after the model is saved */
  char d[160], f[256];
  snprintf(d, sizeof d, "%s/fm", dir);
  mkdir(d, 0755);
  static const struct {
    const char *name;
    uint32_t dims[3];
    int nd;
  } files[] = {{"train-images-idx3-ubyte", {40, 28, 28}, 3}, {"train-labels-idx1-ubyte", {40}, 1},
               {"t10k-images-idx3-ubyte", {10, 32, 32}, 3}, {"t10k-labels-idx1-ubyte", {10}, 1}};
  for (int i = 0; i < 4; i++) {
    snprintf(f, sizeof f, "%s/%s", d, files[i].name);
    FILE *fp = fopen(f, "wb");
    unsigned char h[4] = {0, 0, 8, (unsigned char)files[i].nd};
    fwrite(h, 1, 4, fp);
    size_t count = 1;
    for (int k = 0; k < files[i].nd; k++) {
      unsigned char be[4] = {(unsigned char)(files[i].dims[k] >> 24), (unsigned char)(files[i].dims[k] >> 16),
                             (unsigned char)(files[i].dims[k] >> 8), (unsigned char)files[i].dims[k]};
      fwrite(be, 1, 4, fp);
      count *= files[i].dims[k];
    }
    for (size_t k = 0; k < count; k++) fputc((int)(k % 10), fp);
    fclose(fp);
  }
  snprintf(args, sizeof args,
           "train --model resnet8 --data mnist:%s --epochs 1 --max-steps 1 --progress none --out %s/r7", d, dir);
  expect_cli(args, "test set of mnist:");
  expect_cli(args, "samples are 32x32x1, the model takes 28x28x1");
  snprintf(f, sizeof f, "%s/r7/model.tqm", dir);
  struct stat sb;
  CHECK(stat(f, &sb) == 0 && sb.st_size > 0); /* written before the test set was looked at */
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/tq_hostile_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  check_memory();
  check_model_files();
  check_shapes();
  check_wide_codes();
  check_special_files();
  check_qconfig();
  check_space_regex();
  check_resume();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  TEST_MAIN_END();
}
