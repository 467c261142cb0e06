/* C code generation: the integer graph as straight-line calls into the runtime, weights as const
 * arrays, one static arena at the planned offsets. The generated code is C99 with no dependency
 * but the runtime sources copied next to it. */
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/dmodel.h"

typedef struct {
  char *s;
  size_t len, cap;
  int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if (b->s && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = (b->cap + (size_t)n + 1) * 2;
    char *ns = realloc(b->s, cap);
    if (!ns) {
      b->oom = 1;
      return;
    }
    b->s = ns;
    b->cap = cap;
  }
}

/* v as a C float literal: %.9g, with a point when that prints an integer ("1f" is not C). */
static const char *float_literal(char buf[40], double v) {
  snprintf(buf, 40, "%.9g", v);
  if (!strpbrk(buf, ".eni")) strcat(buf, ".");
  strcat(buf, "f");
  return buf;
}

static const char *ctype(int bits) { return bits == 8 ? "int8_t" : "int16_t"; }

/* A C identifier from a layer name. */
static void ident(char *dst, size_t n, const char *name) {
  size_t i = 0;
  for (; name[i] && i + 1 < n; i++) {
    char c = name[i];
    dst[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_';
  }
  dst[i] = 0;
}

static void put_array_i64(sbuf *b, const char *type, const char *name, const void *v, size_t n,
                          int elem_bytes, int is_unsigned) {
  put(b, "static const %s %s[%zu] = {", type, name, n ? n : 1);
  for (size_t i = 0; i < n; i++) {
    long long x;
    if (is_unsigned) x = ((const uint8_t *)v)[i];
    else if (elem_bytes == 1) x = ((const int8_t *)v)[i];
    else if (elem_bytes == 2) x = ((const int16_t *)v)[i];
    else if (elem_bytes == 4) x = ((const int32_t *)v)[i];
    else x = ((const int64_t *)v)[i];
    if (i % 16 == 0) put(b, "\n  ");
    if (elem_bytes == 8)
      put(b, "INT64_C(%lld),", x);
    else if (elem_bytes == 4 && x == INT32_MIN)
      put(b, "(-2147483647 - 1),");
    else
      put(b, "%lld,", x);
  }
  if (!n) put(b, "0");
  put(b, "\n};\n");
}

static void put_geom(sbuf *b, const char *id, const tq_rt_conv_geom *g) {
  put(b,
      "static const tq_rt_conv_geom g_%s = {1, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, "
      "%d, %d};\n",
      id, g->in_h, g->in_w, g->in_c, g->out_h, g->out_w, g->out_c, g->k_h, g->k_w, g->stride_h,
      g->stride_w, g->pad_top, g->pad_bottom, g->pad_left, g->pad_right, g->depth_mult);
}

static void put_rq(sbuf *b, const char *id, const dop *o) {
  if (o->channels) {
    char nm[96];
    snprintf(nm, sizeof nm, "shift_%s", id);
    put_array_i64(b, "int8_t", nm, o->shift, (size_t)o->channels, 1, 0);
    if (o->rq.mode == TQ_RT_RQ_MULT) {
      snprintf(nm, sizeof nm, "mult_%s", id);
      put_array_i64(b, "int32_t", nm, o->mult, (size_t)o->channels, 4, 0);
    }
  }
  put(b, "static const tq_rt_requant rq_%s = {%s, %d, %s%s, shift_%s, %d, %d, %d};\n", id,
      o->rq.mode == TQ_RT_RQ_PO2 ? "TQ_RT_RQ_PO2" : "TQ_RT_RQ_MULT", o->rq.per_channel,
      o->rq.mode == TQ_RT_RQ_MULT ? "mult_" : "NULL", o->rq.mode == TQ_RT_RQ_MULT ? id : "", id,
      o->rq.out_zp, o->rq.act_min, o->rq.act_max);
}

static void put_weights(sbuf *b, const tq_dmodel *d, const char *id, const dop *o) {
  char nm[128];
  snprintf(nm, sizeof nm, "w_%s", id);
  if (o->wbits == 4) put_array_i64(b, "uint8_t", nm, o->w, o->w_bytes, 1, 1);
  else if (o->wbits == 8) put_array_i64(b, "int8_t", nm, o->w, o->w_bytes, 1, 0);
  else put_array_i64(b, "int16_t", nm, o->w, o->w_bytes / 2, 2, 0);
  snprintf(nm, sizeof nm, "b_%s", id);
  put_array_i64(b, o->acc64 ? "int64_t" : "int32_t", nm, o->bias, (size_t)d->t[o->out].c,
                o->acc64 ? 8 : 4, 0);
}

static void put_add(sbuf *b, const char *id, const tq_rt_add_params *p) {
  put(b,
      "static const tq_rt_add_params add_%s = {%s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, "
      "%d};\n",
      id, p->mode == TQ_RT_RQ_PO2 ? "TQ_RT_RQ_PO2" : "TQ_RT_RQ_MULT", p->a_zp, p->b_zp, p->out_zp,
      p->a_mult, p->a_shift, p->b_mult, p->b_shift, p->out_mult, p->out_shift, p->left_shift,
      p->act_min, p->act_max);
}

/* The constant parameters of operation o (weights, geometry, requantization), named after id. */
static void put_params(sbuf *b, const tq_dmodel *d, const char *id, const dop *o) {
  switch (o->kind) {
    case D_CONV:
    case D_DW:
      put_weights(b, d, id, o);
      put_geom(b, id, &o->geom);
      put_rq(b, id, o);
      return;
    case D_DENSE:
      put_weights(b, d, id, o);
      put_rq(b, id, o);
      return;
    case D_AVGPOOL:
    case D_MAXPOOL:
      put_geom(b, id, &o->geom);
      put_rq(b, id, o);
      return;
    case D_GAP:
    case D_REQUANT:
    case D_MUL:
      put_rq(b, id, o);
      return;
    case D_LUT: {
      char nm[96];
      const int esize = d->t[o->in0].bits == 8 && d->t[o->out].bits == 8 ? 1 : 2;
      snprintf(nm, sizeof nm, "lut_%s", id);
      put_array_i64(b, ctype(8 * esize), nm, o->w, o->w_bytes / (size_t)esize, esize, 0);
      return;
    }
    case D_ADD:
      put_add(b, id, &o->add);
      return;
    case D_PAD:
      put_geom(b, id, &o->geom);
      return;
    case D_QUANTIZE:
    case D_COUNT:
      return;
  }
}

/* The statement that runs operation o; an error for an operation the emitter does not know. */
static tq_status put_call(sbuf *c, const tq_dmodel *d, const char *id, const dop *o) {
  const dtensor *Y = &d->t[o->out], *X = o->in0 >= 0 ? &d->t[o->in0] : NULL;
  const char *fn = tq_dop_kernel_name(d, o);
  char yv[96], xv[96] = "", lit[40];
  if (!fn) return tq_fail(TQ_ERR_UNSUPPORTED, "%s: no runtime kernel to emit", o->layer);
  snprintf(yv, sizeof yv, "T(%s, %zu)", ctype(Y->bits), Y->offset);
  if (X) snprintf(xv, sizeof xv, "T(%s, %zu)", ctype(X->bits), X->offset);
  put(c, "  /* %s -> %s (scale %.6g, zero point %d) */\n", o->layer, Y->name, Y->scale, Y->zp);
  switch (o->kind) {
    case D_QUANTIZE:
      put(c, "  if (%s(%s, input, %zu, %s, %d, %d, %d)) return -1;\n", fn, yv, Y->size, float_literal(lit, Y->scale),
          Y->zp, Y->qmin, Y->qmax);
      return TQ_OK;
    case D_CONV:
    case D_DW:
      put(c, "  if (%s(%s, %s, w_%s, b_%s, &g_%s, %d, &rq_%s)) return -1;\n", fn, yv, xv, id, id, id,
          X->zp, id);
      return TQ_OK;
    case D_DENSE:
      put(c, "  if (%s(%s, %s, w_%s, b_%s, 1, %d, %d, &rq_%s)) return -1;\n", fn, yv, xv, id, id,
          o->in_dim, o->out_dim, id);
      return TQ_OK;
    case D_AVGPOOL:
    case D_MAXPOOL:
      put(c, "  if (%s(%s, %s, &g_%s, %d, &rq_%s)) return -1;\n", fn, yv, xv, id, X->zp, id);
      return TQ_OK;
    case D_GAP:
      put(c, "  if (%s(%s, %s, 1, %d, %d, %d, &rq_%s)) return -1;\n", fn, yv, xv,
          o->geom.in_h * o->geom.in_w, o->geom.in_c, X->zp, id);
      return TQ_OK;
    case D_REQUANT:
      put(c, "  if (%s(%s, %s, %zu, %d, &rq_%s)) return -1;\n", fn, yv, xv, Y->size, X->zp, id);
      return TQ_OK;
    case D_ADD: {
      const dtensor *B = &d->t[o->in1];
      put(c, "  if (%s(%s, %s, T(%s, %zu), %zu, &add_%s)) return -1;\n", fn, yv, xv, ctype(B->bits),
          B->offset, Y->size, id);
      return TQ_OK;
    }
    case D_PAD:
      put(c, "  if (%s(%s, %s, &g_%s, %d)) return -1;\n", fn, yv, xv, id, X->zp);
      return TQ_OK;
    case D_LUT:
      if (X->bits == 8)
        put(c, "  if (%s(%s, %s, %zu, lut_%s)) return -1;\n", fn, yv, xv, Y->size, id);
      else
        put(c, "  if (%s(%s, %s, %zu, lut_%s, %d, %d)) return -1;\n", fn, yv, xv, Y->size, id,
            o->lut_min, o->lut_k);
      return TQ_OK;
    case D_MUL: {
      const dtensor *G = &d->t[o->in1];
      put(c, "  if (%s(%s, %s, T(%s, %zu), 1, %d, %d, %d, %d, &rq_%s)) return -1;\n", fn, yv, xv,
          ctype(G->bits), G->offset, o->geom.in_h * o->geom.in_w, o->geom.in_c, X->zp, G->zp, id);
      return TQ_OK;
    }
    case D_COUNT:
      break;
  }
  return tq_fail(TQ_ERR_UNSUPPORTED, "%s: operation kind %d cannot be emitted", o->layer, (int)o->kind);
}

static tq_status generate(const tq_dmodel *d, sbuf *h, sbuf *c) {
  const dtensor *out = &d->t[d->output];
  char lit[40];
  put(h,
      "/* Generated by tinyq export: %s as integer-only arithmetic. Do not edit. */\n"
      "#ifndef TQ_MODEL_H\n#define TQ_MODEL_H\n#include <stdint.h>\n\n"
      "#define TQ_MODEL_INPUT_SIZE %zu   /* floats per sample (NHWC) */\n"
      "#define TQ_MODEL_OUTPUT_SIZE %zu\n"
      "#define TQ_MODEL_ARENA_BYTES %zu  /* the one static buffer, liveness-planned */\n"
      "#define TQ_MODEL_TINYQ_VERSION \"%s\"  /* the tinyq that exported it */\n\n"
      "/* Quantizes input, runs every layer, writes the output codes (real = scale*(code-zp)). "
      "0 on success. */\n"
      "int tq_model_run_codes(const float *input, int32_t *output_codes);\n"
      "/* The same, dequantized. */\n"
      "int tq_model_run(const float *input, float *output);\n"
      "/* Index of the largest output (classifiers), or -1 on error. */\n"
      "int tq_model_predict(const float *input);\n"
      "extern const float tq_model_output_scale;\nextern const int32_t tq_model_output_zp;\n"
      "#endif\n",
      d->arch, d->in_size, out->size, d->arena, tq_version());
  put(c,
      "/* Generated by tinyq export: %s as integer-only arithmetic. Do not edit.\n"
      " * %d operations; arena %zu bytes; activations at the offsets of a liveness plan. */\n"
      "#include \"model.h\"\n#include \"tq_rt.h\"\n\n"
      "static union { int64_t align; uint8_t bytes[%zu]; } arena;\n"
      "const float tq_model_output_scale = %s;\nconst int32_t tq_model_output_zp = %d;\n\n",
      d->arch, d->nops, d->arena, d->arena ? d->arena : 1, float_literal(lit, out->scale), out->zp);
  char id[80];
  for (int k = 0; k < d->nops; k++) {
    ident(id, sizeof id, d->ops[k].layer);
    put_params(c, d, id, &d->ops[k]);
  }
  put(c, "\n#define T(type, offset) ((type *)(arena.bytes + (offset)))\n\n");
  put(c, "int tq_model_run_codes(const float *input, int32_t *output_codes) {\n  int i;\n");
  for (int k = 0; k < d->nops; k++) {
    ident(id, sizeof id, d->ops[k].layer);
    tq_status st = put_call(c, d, id, &d->ops[k]);
    if (st) return st;
  }
  put(c, "  for (i = 0; i < %zu; i++) output_codes[i] = T(%s, %zu)[i];\n  return 0;\n}\n\n",
      out->size, ctype(out->bits), out->offset);
  put(c,
      "int tq_model_run(const float *input, float *output) {\n"
      "  int32_t codes[%zu];\n  int i;\n"
      "  if (tq_model_run_codes(input, codes)) return -1;\n"
      "  for (i = 0; i < %zu; i++) output[i] = tq_model_output_scale * (float)(codes[i] - "
      "tq_model_output_zp);\n  return 0;\n}\n\n"
      "int tq_model_predict(const float *input) {\n"
      "  int32_t codes[%zu];\n  int i, best = 0;\n"
      "  if (tq_model_run_codes(input, codes)) return -1;\n"
      "  for (i = 1; i < %zu; i++) if (codes[i] > codes[best]) best = i;\n  return best;\n}\n",
      out->size, out->size, out->size, out->size);
  return TQ_OK;
}

static const char *MAIN_HOST =
    "/* Generated by tinyq export: a host test driver. Reads float32 samples (TQ_MODEL_INPUT_SIZE\n"
    " * each, little-endian) from a file and prints each sample's output codes on one line. */\n"
    "#include <stdio.h>\n#include \"model.h\"\n\n"
    "int main(int argc, char **argv) {\n"
    "  static float x[TQ_MODEL_INPUT_SIZE];\n  int32_t y[TQ_MODEL_OUTPUT_SIZE];\n  FILE *f;\n"
    "  long n = 0;\n  int i;\n"
    "  if (argc != 2) { fprintf(stderr, \"usage: %s INPUTS.f32\\n\", argv[0]); return 2; }\n"
    "  f = fopen(argv[1], \"rb\");\n"
    "  if (!f) { fprintf(stderr, \"%s: cannot open\\n\", argv[1]); return 1; }\n"
    "  while (fread(x, sizeof(float), TQ_MODEL_INPUT_SIZE, f) == TQ_MODEL_INPUT_SIZE) {\n"
    "    if (tq_model_run_codes(x, y)) { fprintf(stderr, \"sample %ld: run failed\\n\", n); return 1; }\n"
    "    for (i = 0; i < TQ_MODEL_OUTPUT_SIZE; i++) printf(i ? \" %ld\" : \"%ld\", (long)y[i]);\n"
    "    printf(\"\\n\");\n    n++;\n  }\n  fclose(f);\n  return 0;\n}\n";

static const char *MAKEFILE =
    "# Generated by tinyq export.\n"
    "#   make                        host test driver model_test (reads INPUTS.f32, prints output codes)\n"
    "#   make arm                    Cortex-M4 cross-compile of the model; prints its flash/RAM footprint\n"
    "#   make qemu INPUTS=F.f32 [N=] runs the model on an emulated Cortex-M4F (qemu-system-arm, machine\n"
    "#                               mps2-an386, semihosting) on the first N samples of F (all if N is\n"
    "#                               unset): output codes on stdout exactly as model_test prints them,\n"
    "#                               then on stderr the stack one inference used and the arena size\n"
    "CC ?= cc\nCFLAGS ?= -std=c99 -O2 -Wall -Wextra\n"
    "RT := $(filter-out tq_rt_lut_host.c,$(wildcard tq_rt*.c))\n"
    "ARM_CC ?= arm-none-eabi-gcc\n"
    "ARM_CFLAGS ?= -std=c99 -mcpu=cortex-m4 -mthumb -Os -ffunction-sections -fdata-sections\n"
    "# Cortex-M4F: single-precision FPU, hard-float ABI; -Wdouble-promotion flags any implicit double\n"
    "M4_CFLAGS ?= -std=c99 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2 \\\n"
    "  -ffunction-sections -fdata-sections -Wall -Wextra -Wdouble-promotion\n"
    "QEMU ?= qemu-system-arm\nQEMU_TIMEOUT ?= 600\nN ?= 0\n"
    "# software double-precision routines (EABI and libgcc names) that the MCU image must not contain\n"
    "M4_DOUBLE_SYMS := __aeabi_c?d[a-z0-9]*|__aeabi_[a-z0-9]*2d|__[a-z]*df[0-9]*\n\n"
    "all: model_test\n\n"
    "model_test: main_host.c model.c $(RT) model.h tq_rt.h\n"
    "\t$(CC) $(CFLAGS) -o $@ main_host.c model.c $(RT)\n\n"
    "arm: model.c $(RT)\n"
    "\t$(ARM_CC) $(ARM_CFLAGS) -c model.c $(RT)\n"
    "\tarm-none-eabi-ld -r -o model_arm.o --gc-sections -e tq_model_run model.o $(RT:.c=.o) 2>/dev/null || "
    "arm-none-eabi-ld -r -o model_arm.o model.o $(RT:.c=.o)\n"
    "\tarm-none-eabi-size model_arm.o\n\n"
    "model_m4.elf: tq_m4_main.c tq_m4_startup.c tq_m4.h tq_m4_an386.ld model.c model.h $(RT) tq_rt.h\n"
    "\t$(ARM_CC) $(M4_CFLAGS) -nostartfiles -T tq_m4_an386.ld -Wl,--gc-sections -o $@ \\\n"
    "\t  tq_m4_main.c tq_m4_startup.c model.c $(RT)\n"
    "\t@if arm-none-eabi-nm $@ | grep -E ' ($(M4_DOUBLE_SYMS))$$' >&2; then \\\n"
    "\t  echo \"$@: software double-precision routines linked (above)\" >&2; rm -f $@; exit 1; fi\n\n"
    "qemu: model_m4.elf\n"
    "\t@test -n \"$(INPUTS)\" || { echo \"usage: make qemu INPUTS=FILE.f32 [N=SAMPLES]\" >&2; exit 2; }\n"
    "\ttimeout $(QEMU_TIMEOUT) $(QEMU) -M mps2-an386 -nographic -monitor none -serial none \\\n"
    "\t  -semihosting-config enable=on,target=native -kernel model_m4.elf \\\n"
    "\t  -append \"$(abspath $(INPUTS)) $(N)\"\n\n"
    ".PHONY: all arm qemu clean\n"
    "clean:\n\trm -f model_test model_m4.elf *.o\n";

static tq_status write_text(const char *dir, const char *name, const char *text, size_t len) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
    return tq_fail(TQ_ERR_IO, "%s: path too long", dir);
  return tq_write_file_atomic(path, text, len);
}

typedef struct {
  char name[256];
  unsigned char *data;
  size_t size;
} src_file;
#define MAX_SRC_FILES 64

/* Reads every file of dir named prefix*.c / *.h (and *.ld when with_ld) into files[*nf...]. */
static tq_status read_sources(const char *dir, const char *prefix, int with_ld, src_file *files,
                              int *nf) {
  DIR *rd = opendir(dir);
  if (!rd) return tq_fail(TQ_ERR_IO, "%s: cannot open the runtime sources", dir);
  tq_status st = TQ_OK;
  struct dirent *e;
  const size_t np = strlen(prefix);
  while ((e = readdir(rd)) && !st) {
    size_t n = strlen(e->d_name);
    const char *ext = strrchr(e->d_name, '.');
    if (n <= np || strncmp(e->d_name, prefix, np) || !ext ||
        (strcmp(ext, ".c") && strcmp(ext, ".h") && !(with_ld && !strcmp(ext, ".ld"))))
      continue;
    if (*nf == MAX_SRC_FILES) {
      st = tq_fail(TQ_ERR_IO, "%s: more than %d runtime sources", dir, MAX_SRC_FILES);
      break;
    }
    char path[4096];
    src_file *f = &files[*nf];
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
        snprintf(f->name, sizeof f->name, "%s", e->d_name) >= (int)sizeof f->name) {
      st = tq_fail(TQ_ERR_IO, "%s: path too long", dir);
      break;
    }
    st = tq_read_file(path, &f->data, &f->size);
    if (!st) (*nf)++;
  }
  closedir(rd);
  return st;
}

/* Every quoted #include of the copied sources names a file that is copied too (or model.h), so the
 * exported folder builds on its own; a runtime header outside the tq_rt* names would fail here. */
static tq_status check_includes(const src_file *files, int nf, const char *runtime_dir) {
  static const char directive[] = "#include \"";
  const size_t dl = sizeof directive - 1;
  for (int i = 0; i < nf; i++) {
    const char *p = (const char *)files[i].data, *end = p + files[i].size;
    for (; (p = memchr(p, '#', (size_t)(end - p))) != NULL; p++) {
      const char *q = p + dl, *close = (size_t)(end - p) > dl && !memcmp(p, directive, dl)
                                           ? memchr(q, '"', (size_t)(end - q))
                                           : NULL;
      if (!close) continue;
      int found = close - q == 7 && !memcmp(q, "model.h", 7);
      for (int j = 0; j < nf && !found; j++)
        found = strlen(files[j].name) == (size_t)(close - q) && !memcmp(q, files[j].name, close - q);
      if (!found)
        return tq_fail(TQ_ERR_IO, "%s: %s includes \"%.*s\", which the export would not copy",
                       runtime_dir, files[i].name, (int)(close - q), q);
    }
  }
  return TQ_OK;
}

tq_status tq_deploy_emit_c(const tq_dmodel *d, const char *dir, const char *runtime_dir) {
  sbuf h = {0}, c = {0};
  src_file files[MAX_SRC_FILES];
  int nf = 0;
  tq_status st = generate(d, &h, &c);
  if (!st && (h.oom || c.oom)) st = tq_deploy_oom("code generation");
  if (st) goto done;
  /* Read every source before writing anything: the runtime, and the Cortex-M4F startup, linker script
   * and driver of `make qemu` (runtime/arm/, kept apart so that the runtime sources stay device-neutral). */
  st = read_sources(runtime_dir, "tq_rt", 0, files, &nf);
  if (!st && nf == 0) st = tq_fail(TQ_ERR_IO, "%s: no runtime sources found", runtime_dir);
  if (!st) {
    char arm[4096];
    int before = nf;
    if (snprintf(arm, sizeof arm, "%s/arm", runtime_dir) >= (int)sizeof arm)
      st = tq_fail(TQ_ERR_IO, "%s: path too long", runtime_dir);
    if (!st) st = read_sources(arm, "tq_m4", 1, files, &nf);
    if (!st && nf == before) st = tq_fail(TQ_ERR_IO, "%s: no Cortex-M4 support files found", arm);
  }
  if (!st) st = check_includes(files, nf, runtime_dir);
  if (!st) st = tq_mkdirs(dir);
  if (!st) st = write_text(dir, "model.h", h.s, h.len);
  if (!st) st = write_text(dir, "model.c", c.s, c.len);
  if (!st) st = write_text(dir, "main_host.c", MAIN_HOST, strlen(MAIN_HOST));
  if (!st) st = write_text(dir, "Makefile", MAKEFILE, strlen(MAKEFILE));
  for (int i = 0; i < nf; i++)
    if (!st) st = write_text(dir, files[i].name, (const char *)files[i].data, files[i].size);
done:
  for (int i = 0; i < nf; i++) free(files[i].data);
  free(h.s);
  free(c.s);
  return st;
}
