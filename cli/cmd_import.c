/* tinyq import: a Keras HDF5 model file (model.save(..., save_format='h5')) -> a tinyq model file.
 * The HDF5 library reads the file; src/import/keras.c maps the architecture. */
#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "options.h"
#include "tinyq/keras.h"
#include "tinyq/zoo.h"

static const char USAGE[] =
    "usage: tinyq import MODEL.h5 --out MODEL.tqm\n\n"
    "  Reads a Keras model saved as HDF5 (Keras 2.x, Functional or Sequential): the architecture\n"
    "  from its model_config, the weights from model_weights/<layer>. Layer names are the file's.\n"
    "  A softmax at the output is left to the loss, as in tinyq's zoo; tinyq predict applies it.\n"
    "  Layers tinyq has: Conv2D, DepthwiseConv2D, Dense, BatchNormalization, Activation (linear,\n"
    "  relu, relu6, sigmoid, swish, softmax), ReLU, Softmax, MaxPooling2D, AveragePooling2D,\n"
    "  GlobalAveragePooling2D, GlobalMaxPooling2D, Add, Multiply (per channel), Flatten, Dropout,\n"
    "  ZeroPadding2D. Anything else is refused and nothing is written.\n"
    "  --zoo NAME writes the zoo model NAME instead, with the file's weights matched by structure (the\n"
    "  graphs walked together from the input; quantizer slots and dropout looked through), so that the\n"
    "  study's configurations apply by the zoo's names; the two must agree in structure.\n";

/* The longest model_config / training_config read: a 1,024-layer config is well under 4 MB. */
#define H5_MAX_TEXT (64u << 20)
/* weight_names of one layer: Keras layers have at most a handful. */
#define H5_MAX_WEIGHTS 64
#define H5_MAX_NAME 4096

typedef struct {
  hid_t file, weights;
  const char *path;
  char err[512];
} h5_ctx;

/* Closes the identifiers that are open (>= 0), of any kind: H5Idec_ref closes an identifier when
 * its count drops to zero, as H5Aclose, H5Sclose, H5Tclose, H5Dclose and H5Gclose do. */
static void h5_close(const hid_t *ids, int n) {
  for (int i = 0; i < n; i++)
    if (ids[i] >= 0) H5Idec_ref(ids[i]);
}

/* Reads every string of a string attribute (scalar or 1-D, fixed or variable length) of obj.
 * Returns the count (strings in *out, each and the array freed by strings_free), or -1 with
 * ctx->err set. Sizes are checked before anything is allocated. */
static int read_strings(h5_ctx *c, hid_t obj, const char *attr, size_t max_len, int max_count, char ***out) {
  *out = NULL;
  int n = -1;
  hid_t a = H5Aopen(obj, attr, H5P_DEFAULT), t = -1, s = -1, mt = -1;
  if (a < 0) {
    snprintf(c->err, sizeof c->err, "no '%s' attribute", attr);
    return -1;
  }
  t = H5Aget_type(a);
  s = H5Aget_space(a);
  hssize_t np = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
  int vl = t >= 0 ? H5Tis_variable_str(t) : -1;
  size_t len = t >= 0 ? H5Tget_size(t) : 0;
  if (t < 0 || H5Tget_class(t) != H5T_STRING || np < 0 || vl < 0 || H5Sget_simple_extent_ndims(s) > 1) {
    snprintf(c->err, sizeof c->err, "attribute '%s' is not a string or a list of strings", attr);
    goto done;
  }
  if (np > max_count || (!vl && (len == 0 || len > max_len))) {
    snprintf(c->err, sizeof c->err, "attribute '%s' is larger than tinyq reads (%lld strings of %zu bytes)", attr,
             (long long)np, len);
    goto done;
  }
  char **v = calloc((size_t)np + 1, sizeof *v);
  if (!v) goto oom;
  mt = H5Tcopy(H5T_C_S1);
  if (vl) {
    char **raw = calloc((size_t)np + 1, sizeof *raw);
    if (!raw || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Aread(a, mt, raw) < 0) {
      free(raw);
      free(v);
      snprintf(c->err, sizeof c->err, "attribute '%s' cannot be read (truncated or corrupted file)", attr);
      goto done;
    }
    int bad = 0;
    for (hssize_t i = 0; i < np; i++) {
      size_t l = raw[i] ? strnlen(raw[i], max_len + 1) : 0;
      bad |= l > max_len;
      if (!bad) v[i] = strndup(raw[i] ? raw[i] : "", l);
      bad |= !v[i];
    }
    H5Dvlen_reclaim(mt, s, H5P_DEFAULT, raw);
    free(raw);
    if (bad) {
      for (hssize_t i = 0; i < np; i++) free(v[i]);
      free(v);
      snprintf(c->err, sizeof c->err, "attribute '%s' is larger than tinyq reads", attr);
      goto done;
    }
  } else {
    char *buf = malloc((size_t)np * len + 1);
    if (!buf) {
      free(v);
      goto oom;
    }
    if (H5Tset_size(mt, len) < 0 || H5Aread(a, mt, buf) < 0) {
      free(buf);
      free(v);
      snprintf(c->err, sizeof c->err, "attribute '%s' cannot be read (truncated or corrupted file)", attr);
      goto done;
    }
    for (hssize_t i = 0; i < np; i++) {
      v[i] = strndup(buf + (size_t)i * len, len); /* fixed-length strings may fill their slot */
      if (!v[i]) {
        for (hssize_t j = 0; j < i; j++) free(v[j]);
        free(buf);
        free(v);
        goto oom;
      }
    }
    free(buf);
  }
  *out = v;
  n = (int)np;
  goto done;
oom:
  snprintf(c->err, sizeof c->err, "out of memory reading attribute '%s'", attr);
done:
  h5_close((hid_t[]){mt, s, t, a}, 4);
  return n;
}

static void strings_free(char **v, int n) {
  for (int i = 0; v && i < n; i++) free(v[i]);
  free(v);
}

/* One string attribute of the file root, NULL when absent (then *absent = 1) or unreadable. */
static char *root_text(h5_ctx *c, const char *attr, int *absent) {
  *absent = 0;
  htri_t e = H5Aexists(c->file, attr);
  if (e <= 0) {
    *absent = e == 0;
    if (e < 0) snprintf(c->err, sizeof c->err, "cannot read the root attributes (corrupted file)");
    return NULL;
  }
  char **v;
  int n = read_strings(c, c->file, attr, H5_MAX_TEXT, 1, &v);
  if (n != 1) {
    if (n >= 0) snprintf(c->err, sizeof c->err, "attribute '%s' holds %d strings, expected one", attr, n);
    strings_free(v, n);
    return NULL;
  }
  char *s = v[0];
  free(v);
  return s;
}

static hid_t layer_group(h5_ctx *c, const char *layer) {
  if (strlen(layer) > H5_MAX_NAME || strchr(layer, '/') || !strcmp(layer, ".") || !strcmp(layer, "..")) return -1;
  if (H5Lexists(c->weights, layer, H5P_DEFAULT) <= 0) return -1;
  H5O_info_t info;
  if (H5Oget_info_by_name(c->weights, layer, &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP) return -1;
  return H5Gopen2(c->weights, layer, H5P_DEFAULT);
}

static int h5_count(void *ctx, const char *layer) {
  h5_ctx *c = ctx;
  hid_t g = layer_group(c, layer);
  if (g < 0) return 0;
  int n = -1;
  if (H5Aexists(g, "weight_names") > 0) {
    char **v;
    n = read_strings(c, g, "weight_names", H5_MAX_NAME, H5_MAX_WEIGHTS, &v);
    strings_free(v, n);
  }
  H5Gclose(g);
  return n;
}

/* Keras names a weight "<layer>/<weight>:0" (listed in the group's weight_names attribute);
 * the last path component without ":0" is what tinyq asks for. */
static tq_status h5_read(void *ctx, const char *layer, const char *weight, float *dst, int rank, const int *dims) {
  h5_ctx *c = ctx;
  hid_t g = layer_group(c, layer), d = -1, s = -1, t = -1;
  char path[H5_MAX_NAME + 64] = "";
  tq_status st = TQ_ERR_FORMAT;
  if (g < 0) return tq_fail(TQ_ERR_FORMAT, "weight '%s' missing (no model_weights/%.100s group)", weight, layer);
  char **names = NULL;
  int n = H5Aexists(g, "weight_names") > 0 ? read_strings(c, g, "weight_names", H5_MAX_NAME, H5_MAX_WEIGHTS, &names)
                                            : 0;
  for (int i = 0; i < n && !path[0]; i++) {
    const char *base = strrchr(names[i], '/');
    base = base ? base + 1 : names[i];
    size_t wl = strlen(weight);
    if (!strncmp(base, weight, wl) && (base[wl] == 0 || !strcmp(base + wl, ":0")))
      snprintf(path, sizeof path, "%s", names[i]);
  }
  strings_free(names, n);
  if (!path[0]) snprintf(path, sizeof path, "%s/%s:0", layer, weight);
  H5O_info_t info;
  if (H5Lexists(g, path, H5P_DEFAULT) <= 0 || H5Oget_info_by_name(g, path, &info, H5P_DEFAULT) < 0 ||
      info.type != H5O_TYPE_DATASET) {
    /* H5Lexists fails on a missing intermediate group: either way the weight is not there */
    tq_fail(TQ_ERR_FORMAT, "weight '%s' missing (model_weights/%.100s/%.200s)", weight, layer, path);
    goto done;
  }
  d = H5Dopen2(g, path, H5P_DEFAULT);
  s = d >= 0 ? H5Dget_space(d) : -1;
  t = d >= 0 ? H5Dget_type(d) : -1;
  if (s < 0 || t < 0) {
    tq_fail(TQ_ERR_FORMAT, "weight '%s' cannot be opened (corrupted file)", weight);
    goto done;
  }
  hsize_t fd[H5S_MAX_RANK];
  int fr = H5Sget_simple_extent_ndims(s);
  int same = fr == rank && H5Sget_simple_extent_dims(s, fd, NULL) == rank;
  for (int i = 0; same && i < rank; i++) same = fd[i] == (hsize_t)dims[i];
  if (!same) {
    char want[96] = "", have[96] = "";
    for (int i = 0; i < rank; i++)
      snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? "x" : "", dims[i]);
    if (fr >= 0 && fr <= H5S_MAX_RANK && H5Sget_simple_extent_dims(s, fd, NULL) == fr)
      for (int i = 0; i < fr; i++)
        snprintf(have + strlen(have), sizeof have - strlen(have), "%s%llu", i ? "x" : "", (unsigned long long)fd[i]);
    tq_fail(TQ_ERR_FORMAT, "weight '%s' has shape %s, the layer needs %s", weight, fr == 0 ? "()" : have, want);
    goto done;
  }
  if (H5Tget_class(t) != H5T_FLOAT) {
    tq_fail(TQ_ERR_FORMAT, "weight '%s' is not floating point", weight);
    goto done;
  }
  /* HDF5 converts float64 / float16 data to the float32 buffer whose size the shape check fixed */
  if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
    tq_fail(TQ_ERR_FORMAT, "weight '%s' cannot be read (truncated or corrupted file)", weight);
    goto done;
  }
  st = TQ_OK;
done:
  h5_close((hid_t[]){t, s, d, g}, 4);
  return st;
}

typedef struct {
  char file[4096], out[4096], zoo[64];
} import_opts;

static const tq_arg import_args[] = {
    TQ_ARG_FILE(import_opts, file, "MODEL.h5", "one MODEL.h5"),
    {.name = "out", .type = TQ_ARG_STRING, .meta = "MODEL.tqm", .flags = TQ_ARG_REQUIRED, TQ_AT(import_opts, out),
     .help = "the tinyq model file to write"},
    {.name = "zoo", .type = TQ_ARG_STRING, .meta = "NAME", TQ_AT(import_opts, zoo),
     .help = "map the weights onto the zoo model NAME by structure (its names and activation-quantizer slots)"},
};

/* Replaces *m by the zoo model `name` (same input and classes) holding *m's weights. */
static int onto_zoo(tq_model **m, const char *name, const char *path) {
  const tq_zoo_entry *e = tq_zoo_find(name);
  tq_zoo_options zo = {.input = tq_model_input_shape(*m)};
  if (e && e->classes) zo.classes = tq_model_output_shape(*m).c;
  tq_model *z = NULL;
  tq_status st = tq_zoo_build(&z, name, &zo);
  if (!st) st = tq_model_finalize(z, 1, e->init, 1);
  if (!st) st = tq_model_copy_weights_by_structure(z, *m);
  if (st) {
    tq_model_free(z);
    return tq_cli_error("import: %s: --zoo %s: %s", path, name, tq_last_error());
  }
  tq_model_free(*m);
  *m = z;
  return 0;
}

static int import_run(void *settings) {
  const import_opts *o = settings;
  const char *path = o->file, *out = o->out;
  int rc;

  /* HDF5 prints its own error stack on stderr by default; tinyq reports one line instead. */
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  FILE *f = fopen(path, "rb");
  if (!f) return tq_cli_error("import: %s: %s", path, strerror(errno));
  fclose(f);
  if (H5Fis_hdf5(path) <= 0) return tq_cli_error("import: %s: not an HDF5 file", path);
  h5_ctx c = {.file = -1, .weights = -1, .path = path};
  c.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (c.file < 0) return tq_cli_error("import: %s: the HDF5 file cannot be opened (truncated or corrupted)", path);
  char *config = NULL, *training = NULL, *meta = NULL;
  tq_model *m = NULL;
  rc = 1;
  int absent;
  config = root_text(&c, "model_config", &absent);
  if (!config) {
    if (absent)
      tq_cli_error("import: %s: no model_config attribute (a weights-only file or a subclassed model: tinyq "
                   "needs the architecture; save with model.save(path, save_format='h5'))",
                   path);
    else
      tq_cli_error("import: %s: model_config: %s", path, c.err);
    goto done;
  }
  if (tq_json_text_check(config, strlen(config), path)) {
    tq_cli_error("import: %s", tq_last_error());
    goto done;
  }
  training = root_text(&c, "training_config", &absent); /* optional: only the loss is taken */
  H5O_info_t info;
  if (H5Lexists(c.file, "model_weights", H5P_DEFAULT) <= 0 ||
      H5Oget_info_by_name(c.file, "model_weights", &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP ||
      (c.weights = H5Gopen2(c.file, "model_weights", H5P_DEFAULT)) < 0) {
    tq_cli_error("import: %s: no model_weights group", path);
    goto done;
  }
  tq_keras_weights w = {&c, h5_read, h5_count};
  if (tq_keras_import(&m, &meta, config, training, &w, path)) {
    tq_cli_error("import: %s", tq_last_error());
    goto done;
  }
  if (o->zoo[0] && onto_zoo(&m, o->zoo, path)) goto done;
  if (tq_model_save(out, m, meta, 0)) {
    tq_cli_error("import: %s", tq_last_error());
    goto done;
  }
  printf("imported %s: %d layers, %zu parameters, %zu MACs -> %s\n", path, tq_model_num_layers(m),
         tq_model_params(m), tq_model_macs(m), out);
  rc = 0;
done:
  tq_model_free(m);
  tq_free(meta);
  free(config);
  free(training);
  if (c.weights >= 0) H5Gclose(c.weights);
  H5Fclose(c.file);
  return rc;
}

static const tq_command import_cmd = {"import", TQ_ARGS_OF(import_args, USAGE), TQ_RUN(import_opts, import_run)};
int tq_cmd_import(int argc, char **argv) { return tq_args_run(&import_cmd, argc, argv); }
