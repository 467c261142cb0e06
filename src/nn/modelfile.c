/* Model file save/load. See the format comment in tinyq/model.h. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/layer_types.h"

static const char MAGIC[8] = {'T', 'I', 'N', 'Y', 'Q', 'M', 'D', 'L'};

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void add_quantizer(cJSON *o, const char *key, const tq_quantizer *q) {
  if (q->kind == TQ_Q_NONE) return;
  char buf[256];
  tq_quantizer_format(q, buf, sizeof buf);
  cJSON_AddStringToObject(o, key, buf);
}

static cJSON *layer_json(const tq_layer *l) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "class", tq_layer_type_name(l->type));
  cJSON *in = cJSON_AddArrayToObject(o, "inputs");
  for (int k = 0; k < l->ninputs; k++) cJSON_AddItemToArray(in, cJSON_CreateNumber(l->inputs[k]));
  const tq_layer_traits *tr = tq_layer_traits_of(l->type);
  if (tr->save) tr->save(l, o);
  if (tr->has_kernel) {
    cJSON_AddBoolToObject(o, "use_bias", l->use_bias);
    cJSON_AddNumberToObject(o, "l2", l->l2);
  }
  add_quantizer(o, "kernel_quantizer", &l->kernel_q);
  add_quantizer(o, "bias_quantizer", &l->bias_q);
  add_quantizer(o, "activation_quantizer", &l->act_q);
  if (l->folded_bn >= 0) cJSON_AddNumberToObject(o, "folded_bn", l->folded_bn);
  if (l->has_range) {
    double r[2] = {l->range_lo, l->range_hi};
    cJSON_AddItemToObject(o, "range", cJSON_CreateDoubleArray(r, 2));
  }
  if (l->ema_init) {
    double r[2] = {l->ema_lo, l->ema_hi};
    cJSON_AddItemToObject(o, "ema_range", cJSON_CreateDoubleArray(r, 2));
  }
  return o;
}

typedef struct {
  tq_param *p;
  int layer;
  const char *name;
} tensor_ref;

tq_status tq_model_save(const char *path, const tq_model *m, const char *meta_json, int with_opt) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "arch", m->arch);
  /* Which tinyq wrote the file, for information: the u32 format version decides who can read it. */
  cJSON_AddStringToObject(root, "tinyq_version", tq_version());
  int in[3] = {m->input.h, m->input.w, m->input.c};
  cJSON_AddItemToObject(root, "input", cJSON_CreateIntArray(in, 3));
  cJSON *layers = cJSON_AddArrayToObject(root, "layers");
  for (int i = 1; i < m->nlayers; i++) cJSON_AddItemToArray(layers, layer_json(&m->layers[i]));
  if (meta_json) {
    cJSON *meta = cJSON_Parse(meta_json);
    if (!meta) {
      cJSON_Delete(root);
      return tq_fail(TQ_ERR_ARG, "%s: internal metadata is not valid JSON", path);
    }
    cJSON_AddItemToObject(root, "meta", meta);
  }
  if (m->use_static) cJSON_AddNumberToObject(root, "static_mode", m->static_mode);
  if (m->qkeras_po2_floor) cJSON_AddBoolToObject(root, "qkeras_po2_floor", 1);
  cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
  int np = tq_model_num_params(m);
  size_t payload_floats = 0;
  for (int i = 0; i < np; i++) {
    int li;
    const char *pname;
    tq_param *p = tq_model_param((tq_model *)m, i, &li, &pname);
    int opt = with_opt && p->opt_m != NULL;
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "layer", m->layers[li].name);
    cJSON_AddStringToObject(t, "param", pname);
    cJSON_AddNumberToObject(t, "size", (double)p->size);
    cJSON_AddBoolToObject(t, "optimizer_state", opt);
    cJSON_AddItemToArray(tensors, t);
    payload_floats += p->size * (opt ? 3 : 1);
  }
  char *header = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!header) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  size_t hlen = strlen(header);
  size_t total = 8 + 4 + 4 + hlen + 8 + payload_floats * 4 + 4;
  unsigned char *buf = malloc(total);
  if (!buf) {
    free(header);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", path);
  }
  unsigned char *p = buf;
  memcpy(p, MAGIC, 8);
  put_u32(p + 8, TQ_MODEL_FILE_VERSION);
  put_u32(p + 12, (uint32_t)hlen);
  memcpy(p + 16, header, hlen);
  free(header);
  p += 16 + hlen;
  put_u64(p, payload_floats * 4);
  p += 8;
  for (int i = 0; i < np; i++) {
    tq_param *t = tq_model_param((tq_model *)m, i, NULL, NULL);
    const float *arrays[3] = {t->value, t->opt_m, t->opt_v};
    int count = (with_opt && t->opt_m) ? 3 : 1;
    for (int a = 0; a < count; a++)
      for (size_t j = 0; j < t->size; j++) {
        uint32_t bits;
        memcpy(&bits, &arrays[a][j], 4);
        put_u32(p, bits);
        p += 4;
      }
  }
  put_u32(p, tq_crc32(0, buf, (size_t)(p - buf)));
  tq_status st = tq_write_file_atomic(path, buf, total);
  free(buf);
  return st;
}

/* ---- Loading */

static tq_status rebuild_layer(tq_model *m, const cJSON *o, int index, const char *path) {
  const cJSON *cls = cJSON_GetObjectItemCaseSensitive(o, "class");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
  int in[2] = {-1, -1}, t;
  const cJSON *ins = cJSON_GetObjectItemCaseSensitive(o, "inputs");
  if (!cJSON_IsString(cls) || !cJSON_IsString(name) || !cJSON_IsArray(ins) ||
      cJSON_GetArraySize(ins) < 1 || cJSON_GetArraySize(ins) > 2 ||
      (t = tq_layer_type_of_class(cls->valuestring)) < 0)
    return tq_fail(TQ_ERR_FORMAT, "%s: layer %d: malformed architecture entry", path, index);
  const tq_layer_traits *tr = tq_layer_traits_of((tq_layer_type)t);
  int nin = cJSON_GetArraySize(ins), want = tr->ninputs;
  if (nin != want)
    return tq_fail(TQ_ERR_FORMAT, "%s: layer %s (%s): %d input%s, %s takes %d", path, name->valuestring,
                   cls->valuestring, nin, nin == 1 ? "" : "s", cls->valuestring, want);
  for (int k = 0; k < nin; k++) {
    const cJSON *x = cJSON_GetArrayItem(ins, k);
    if (!cJSON_IsNumber(x) || x->valueint < 0 || x->valueint >= index)
      return tq_fail(TQ_ERR_FORMAT, "%s: layer %s: bad input index", path, name->valuestring);
    in[k] = x->valueint;
  }
  int idx;
  tq_layer *l = tq_model_append_layer(m, (tq_layer_type)t, in[0], in[1], NULL, &idx);
  const char *why = !l ? "cannot be added" : tr->load ? tr->load(l, o) : NULL;
  if (!why && tq_model_infer_layer(m, idx) != index) why = "inconsistent with its inputs";
  if (why)
    return tq_fail(TQ_ERR_FORMAT, "%s: layer %s (%s): malformed or inconsistent configuration (%s)", path,
                   name->valuestring, cls->valuestring, why);
  /* Zoo and trained models carry Keras' auto-names; imported ones keep their own file's names.
   * Set either way: the call also refuses a name another layer already has. */
  if (tq_layer_set_name(m, idx, name->valuestring) != TQ_OK)
    return tq_fail_prefix(TQ_ERR_FORMAT, "%s: layer %d", path, index);
  const cJSON *ub = cJSON_GetObjectItemCaseSensitive(o, "use_bias");
  if (ub) tq_layer_set_bias(m, idx, cJSON_IsTrue(ub));
  const cJSON *num = cJSON_GetObjectItemCaseSensitive(o, "l2");
  /* Float fields must stay finite as floats: an infinity would be saved as null and lost
   * (found by fuzz/fuzz_modelfile.c, as for max_value and the ranges). */
  if (cJSON_IsNumber(num) && !isfinite((float)num->valuedouble))
    return tq_fail(TQ_ERR_FORMAT, "%s: layer %s: l2 is not a finite float", path, name->valuestring);
  if (cJSON_IsNumber(num)) tq_layer_set_l2(m, idx, (float)num->valuedouble);
  return TQ_OK;
}

static int json_pair(const cJSON *o, const char *key, float *a, float *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2) return 0;
  const cJSON *x = cJSON_GetArrayItem(v, 0), *y = cJSON_GetArrayItem(v, 1);
  if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y)) return 0;
  *a = (float)x->valuedouble;
  *b = (float)y->valuedouble;
  return 1;
}

static tq_status apply_layer_quant(tq_model *m, const cJSON *o, int idx, const char *path) {
  static const char *const keys[3] = {"kernel_quantizer", "bias_quantizer", "activation_quantizer"};
  tq_quantizer q[3];
  memset(q, 0, sizeof q);
  int any = 0;
  const tq_layer *l = &m->layers[idx];
  int has_kernel = tq_layer_has_kernel(l);
  for (int k = 0; k < 3; k++) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
    if (!s) continue;
    if (!cJSON_IsString(s))
      return tq_fail(TQ_ERR_FORMAT, "%s: layer %s: %s: expected a quantizer string", path, l->name, keys[k]);
    if (k < 2 ? !has_kernel : !tq_layer_has_act_quantizer(l))
      return tq_fail(TQ_ERR_FORMAT, "%s: layer %s: a %s has no %s", path, l->name,
                     tq_layer_type_name(l->type), keys[k]);
    if (tq_quantizer_parse(&q[k], s->valuestring) != TQ_OK)
      return tq_fail_prefix(TQ_ERR_FORMAT, "%s: layer %s: %s", path, l->name, keys[k]);
    any = 1;
  }
  if (!any) return TQ_OK;
  tq_status st = q[2].kind ? tq_layer_set_act_quantizer(m, idx, &q[2])
                           : tq_layer_set_quantizers(m, idx, &q[0], &q[1]);
  return st ? tq_fail_prefix(st, "%s", path) : TQ_OK;
}

/* The envelope: magic, version, sizes and checksum. Sets the header's length. */
static tq_status check_envelope(const char *path, const unsigned char *buf, size_t size, uint32_t *hlen_out) {
  if (size < 8 || memcmp(buf, MAGIC, 8) != 0)
    return tq_fail(TQ_ERR_FORMAT, "%s: not a tinyq model file (bad magic)", path);
  if (size < 16 + 8 + 4)
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated: %zu bytes", path, size);
  uint32_t version = get_u32(buf + 8);
  if (version != TQ_MODEL_FILE_VERSION)
    return tq_fail(TQ_ERR_FORMAT, "%s: unsupported format version %u (this tinyq reads %d)", path,
                   version, TQ_MODEL_FILE_VERSION);
  uint32_t hlen = get_u32(buf + 12);
  if ((uint64_t)hlen + 16 + 8 + 4 > size)
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated: header of %u bytes does not fit in %zu bytes",
                   path, hlen, size);
  uint64_t plen = get_u64(buf + 16 + hlen);
  if (plen != size - (16 + hlen + 8 + 4))
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated or padded: payload says %llu bytes, file has %zu",
                   path, (unsigned long long)plen, size - (16 + (size_t)hlen + 8 + 4));
  uint32_t crc = get_u32(buf + size - 4);
  if (tq_crc32(0, buf, size - 4) != crc)
    return tq_fail(TQ_ERR_FORMAT, "%s: checksum mismatch (file is corrupted)", path);
  *hlen_out = hlen;
  return TQ_OK;
}

/* What a finalized graph carries beyond its layers: quantizers, folds, ranges, static scales. */
static tq_status apply_training_state(tq_model *m, const cJSON *root, const cJSON *layers, const char *path) {
  tq_status st = TQ_OK;
  int nl = cJSON_GetArraySize(layers);
  tq_model_set_qkeras_po2_floor(
      m, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "qkeras_po2_floor")));
  for (int i = 0; i < nl && !st; i++)
    st = apply_layer_quant(m, cJSON_GetArrayItem(layers, i), i + 1, path);
  for (int i = 0; i < nl && !st; i++) {
    const cJSON *fb = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(layers, i), "folded_bn");
    if (fb && !cJSON_IsNumber(fb))
      st = tq_fail(TQ_ERR_FORMAT, "%s: layer %s: folded_bn: expected a layer index", path, m->layers[i + 1].name);
    else if (fb && (st = tq_model_fold_bn(m, i + 1, fb->valueint)))
      st = tq_fail_prefix(st, "%s: layer %s: folded_bn", path, m->layers[i + 1].name);
  }
  for (int i = 0; i < nl && !st; i++) {
    const cJSON *o = cJSON_GetArrayItem(layers, i);
    tq_layer *l = &m->layers[i + 1];
    l->has_range = json_pair(o, "range", &l->range_lo, &l->range_hi);
    l->ema_init = json_pair(o, "ema_range", &l->ema_lo, &l->ema_hi);
    /* Saved ranges are finite floats; a larger number becomes infinite in float and would reach
     * the static scales' integer conversions (found by fuzz/fuzz_modelfile.c). */
    if ((l->has_range && !(isfinite(l->range_lo) && isfinite(l->range_hi))) ||
        (l->ema_init && !(isfinite(l->ema_lo) && isfinite(l->ema_hi))))
      st = tq_fail(TQ_ERR_FORMAT, "%s: layer %s: range is not a pair of finite floats", path,
                   l->name);
  }
  const cJSON *smode = cJSON_GetObjectItemCaseSensitive(root, "static_mode");
  if (!st && cJSON_IsNumber(smode) && tq_model_set_static(m, 1, (tq_range_mode)smode->valueint))
    st = tq_fail_prefix(TQ_ERR_FORMAT, "%s: static scales", path);
  return st;
}

/* The model of the header, finalized for max_batch, its tensors not yet read (plen: payload bytes). */
static tq_status build_model(const char *path, const cJSON *root, uint64_t plen, int max_batch, tq_model **out) {
  const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "arch");
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
  const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(root, "tensors");
  int in[3];
  if (!cJSON_IsString(arch) || !tq_json_ints(root, "input", in, 3) || !cJSON_IsArray(layers) ||
      !cJSON_IsArray(tensors) || in[0] < 1 || in[1] < 1 || in[2] < 1)
    return tq_fail(TQ_ERR_FORMAT, "%s: header lacks arch, input, layers or tensors", path);
  tq_model *m = *out = tq_model_new(arch->valuestring, (tq_shape3){in[0], in[1], in[2]});
  if (!m) return TQ_ERR_MEMORY;
  tq_status st = TQ_OK;
  int nl = cJSON_GetArraySize(layers);
  for (int i = 0; i < nl && !st; i++) st = rebuild_layer(m, cJSON_GetArrayItem(layers, i), i + 1, path);
  if (st) return st;
  /* The payload holds every tensor once (three times with optimizer state): a header that
   * describes more parameters than that is refused before anything is allocated for them. */
  double want = (double)tq_model_params(m), have = (double)plen / 4.0;
  if (want > have)
    return tq_fail(TQ_ERR_FORMAT, "%s: the architecture has %.0f parameters, the payload holds only %.0f values",
                   path, want, have);
  if ((st = tq_model_finalize(m, max_batch, TQ_INIT_GLOROT_UNIFORM, 0))) return tq_fail_prefix(st, "%s", path);
  return apply_training_state(m, root, layers, path);
}

/* The payload [p, end): every tensor of the table, with optimizer state where it says so. */
static tq_status read_tensors(const char *path, tq_model *m, const cJSON *tensors, const unsigned char *p,
                              const unsigned char *end) {
  int nt = cJSON_GetArraySize(tensors);
  if (nt != tq_model_num_params(m))
    return tq_fail(TQ_ERR_FORMAT, "%s: %d tensors in the file, the architecture has %d", path, nt,
                   tq_model_num_params(m));
  for (int i = 0; i < nt; i++) {
    const cJSON *t = cJSON_GetArrayItem(tensors, i);
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(t, "size");
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(t, "optimizer_state");
    int li;
    const char *pname;
    tq_param *prm = tq_model_param(m, i, &li, &pname);
    /* Compared as doubles: a negative or huge size has no size_t (UBSan; found by fuzzing). */
    if (!cJSON_IsNumber(sz) || sz->valuedouble != (double)prm->size)
      return tq_fail(TQ_ERR_FORMAT, "%s: tensor %s/%s: size does not match the architecture", path,
                     m->layers[li].name, pname);
    int count = cJSON_IsTrue(opt) ? 3 : 1;
    if (count == 3 && !prm->opt_m)
      return tq_fail(TQ_ERR_FORMAT, "%s: tensor %s/%s: optimizer state on a frozen tensor", path,
                     m->layers[li].name, pname);
    float *arrays[3] = {prm->value, prm->opt_m, prm->opt_v};
    if ((size_t)(end - p) < prm->size * 4 * (size_t)count)
      return tq_fail(TQ_ERR_FORMAT, "%s: payload shorter than its tensor table", path);
    for (int a = 0; a < count; a++)
      for (size_t j = 0; j < prm->size; j++) {
        uint32_t bits = get_u32(p);
        memcpy(&arrays[a][j], &bits, 4);
        p += 4;
      }
  }
  if (p != end) return tq_fail(TQ_ERR_FORMAT, "%s: payload longer than its tensor table", path);
  return TQ_OK;
}

/* The caller's metadata (tq_alloc'd), NULL when the file has none. */
static char *copy_meta(const cJSON *root) {
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
  char *s = meta ? cJSON_PrintUnformatted(meta) : NULL, *out = NULL;
  if (s) {
    size_t n = strlen(s) + 1;
    out = tq_alloc(n);
    if (out) memcpy(out, s, n);
    free(s);
  }
  return out;
}

static tq_status load_from_buffer(const char *path, const unsigned char *buf, size_t size,
                                  tq_model **out, char **meta_out, int max_batch) {
  uint32_t hlen = 0;
  tq_status st = check_envelope(path, buf, size, &hlen);
  if (st) return st;
  cJSON *root = cJSON_ParseWithLength((const char *)buf + 16, hlen);
  if (!root) return tq_fail(TQ_ERR_FORMAT, "%s: header is not valid JSON", path);
  tq_model *m = NULL;
  st = build_model(path, root, get_u64(buf + 16 + hlen), max_batch, &m);
  if (!st)
    st = read_tensors(path, m, cJSON_GetObjectItemCaseSensitive(root, "tensors"), buf + 16 + hlen + 8,
                      buf + size - 4);
  if (!st && meta_out) *meta_out = copy_meta(root);
  cJSON_Delete(root);
  if (st) {
    tq_model_free(m);
    return st;
  }
  *out = m;
  return TQ_OK;
}

tq_status tq_model_load(const char *path, tq_model **out, char **meta_json, int max_batch) {
  *out = NULL;
  if (meta_json) *meta_json = NULL;
  unsigned char *buf;
  size_t size;
  tq_status st = tq_read_file(path, &buf, &size);
  if (st) return st;
  st = load_from_buffer(path, buf, size, out, meta_json, max_batch);
  free(buf);
  return st;
}

/* The six parameter tensors of a layer, in one order for both copies. */
static void layer_params(tq_layer *l, tq_param *p[6]) {
  tq_param *all[6] = {&l->kernel, &l->bias, &l->gamma, &l->beta, &l->moving_mean, &l->moving_var};
  memcpy(p, all, sizeof all);
}

size_t tq_layer_param_values(tq_layer *l) {
  tq_param *p[6];
  layer_params(l, p);
  size_t n = 0;
  for (int k = 0; k < 6; k++) n += p[k]->size;
  return n;
}

/* Copies s's parameters into d when the two agree in type and in every parameter's size. */
tq_status tq_layer_copy_params(tq_layer *d, const tq_layer *s) {
  if (s->type != d->type)
    return tq_fail(TQ_ERR_ARG, "layer %s: %s in the source model (%s), %s here", d->name,
                   tq_layer_type_name(s->type), s->name, tq_layer_type_name(d->type));
  tq_param *sp[6], *dp[6];
  layer_params((tq_layer *)s, sp);
  layer_params(d, dp);
  for (int k = 0; k < 6; k++)
    if (sp[k]->size != dp[k]->size)
      return tq_fail(TQ_ERR_ARG, "layer %s: parameter shapes differ from the source's %s (%zu vs %zu values)",
                     d->name, s->name, sp[k]->size, dp[k]->size);
  for (int k = 0; k < 6; k++)
    if (dp[k]->size) memcpy(dp[k]->value, sp[k]->value, dp[k]->size * sizeof(float));
  if (d->type == TQ_L_BATCHNORM) d->bn_eps = s->bn_eps; /* part of what the statistics mean */
  return TQ_OK;
}

/* Every layer with parameters must find its namesake: a silent partial copy would train a model
 * that was thought to start from the file. */
tq_status tq_model_copy_weights(tq_model *dst, const tq_model *src) {
  for (int i = 1; i < dst->nlayers; i++) {
    tq_layer *d = &dst->layers[i];
    int j = tq_model_find(src, d->name);
    if (j < 0 && tq_layer_param_values(d))
      return tq_fail(TQ_ERR_ARG, "layer %s (%s, with parameters) is not in the source model", d->name,
                     tq_layer_type_name(d->type));
    tq_status st = j < 0 ? TQ_OK : tq_layer_copy_params(d, &src->layers[j]);
    if (st) return st;
  }
  return TQ_OK;
}

