/* Search spaces: AutoQKeras' quantization_config + limit (+ goal) resolved against a model into the
 * tuner's dimensions (see tinyq/search.h for the file format). */
#include <cjson/cJSON.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "tinyq/search.h"

#define MAX_LIMITS 256

const char *tq_qgroup_name(tq_qgroup g) {
  switch (g) {
    case TQ_GROUP_KERNEL: return "kernel";
    case TQ_GROUP_BIAS: return "bias";
    case TQ_GROUP_ACTIVATION: return "activation";
    case TQ_GROUP_COUNT: break; /* not a group */
  }
  return "?";
}

typedef struct {
  char *key;
  int is_class;        /* a layer class, else a regex */
  tq_layer_type type;  /* is_class */
  regex_t re;          /* !is_class */
  int compiled;
  int is_number;       /* one limit for every group */
  int n;               /* list length (1..3) */
  double v[3];
} limit_entry;

typedef struct {
  char name[64];
  int is_act;
  int dim[TQ_GROUP_COUNT]; /* -1 = none */
} slot;

struct tq_space {
  int ndims;
  tq_space_dim *dims;
  int nslots;
  slot *slots;
  tq_goal goal;
  int has_goal;
  /* the groups' options, cost ascending */
  int ngopt[TQ_GROUP_COUNT];
  tq_space_option *gopt[TQ_GROUP_COUNT];
};

static int has_kernel(const tq_layer *l) { return tq_layer_has_kernel(l); }
static int is_slot(const tq_layer *l) { return l->type == TQ_L_ACTIVATION && l->act == TQ_ACT_LINEAR; }

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int class_of(const char *key, tq_layer_type *t) {
  int type = tq_layer_type_of_qclass(key);
  if (type >= 0) *t = (tq_layer_type)type;
  return type >= 0;
}

void tq_space_free(tq_space *s) {
  if (!s) return;
  for (int d = 0; d < s->ndims; d++) {
    free((void *)s->dims[d].label);
    free((void *)s->dims[d].options);
    free((void *)s->dims[d].values);
    free((void *)s->dims[d].layers);
  }
  free(s->dims);
  free(s->slots);
  for (int g = 0; g < TQ_GROUP_COUNT; g++) {
    for (int i = 0; i < s->ngopt[g]; i++) free((void *)s->gopt[g][i].quantizer);
    free(s->gopt[g]);
  }
  free(s);
}

/* ---- quantization_config */

static tq_status parse_group(tq_space *s, tq_qgroup g, const cJSON *obj, const char *source) {
  const char *gname = tq_qgroup_name(g);
  if (!cJSON_IsObject(obj))
    return tq_fail(TQ_ERR_FORMAT,
                   "%s: quantization_config.%s: expected an object {\"quantizer string\": bits, ...}",
                   source, gname);
  int n = cJSON_GetArraySize(obj);
  if (n == 0)
    return tq_fail(TQ_ERR_FORMAT, "%s: quantization_config.%s: no quantizers (the choice list is empty)",
                   source, gname);
  s->gopt[g] = calloc((size_t)n, sizeof(tq_space_option));
  if (!s->gopt[g]) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", source);
  for (const cJSON *e = obj->child; e; e = e->next) {
    tq_quantizer q;
    if (tq_quantizer_parse(&q, e->string))
      return tq_fail_prefix(TQ_ERR_FORMAT, "%s: quantization_config.%s", source, gname);
    if (tq_quantizer_validate(&q))
      return tq_fail_prefix(TQ_ERR_ARG, "%s: quantization_config.%s: \"%s\"", source, gname, e->string);
    if (g != TQ_GROUP_ACTIVATION && q.kind == TQ_Q_BITS_FEATUREMAP)
      return tq_fail(TQ_ERR_ARG,
                     "%s: quantization_config.%s: \"%s\": quantized_bits_featuremap is an activation "
                     "quantizer, not a %s quantizer",
                     source, gname, e->string, gname);
    if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || e->valuedouble <= 0)
      return tq_fail(TQ_ERR_FORMAT, "%s: quantization_config.%s: \"%s\": the bit cost must be a positive number",
                     source, gname, e->string);
    for (int i = 0; i < s->ngopt[g]; i++)
      if (!strcmp(s->gopt[g][i].quantizer, e->string))
        return tq_fail(TQ_ERR_FORMAT, "%s: quantization_config.%s: \"%s\" is listed twice", source, gname,
                       e->string);
    char *str = dupstr(e->string);
    if (!str) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", source);
    /* insertion keeps cost order, file order on ties */
    int at = s->ngopt[g];
    while (at > 0 && s->gopt[g][at - 1].cost > e->valuedouble) {
      s->gopt[g][at] = s->gopt[g][at - 1];
      at--;
    }
    s->gopt[g][at] = (tq_space_option){str, e->valuedouble};
    s->ngopt[g]++;
  }
  return TQ_OK;
}

static tq_status parse_qconfig(tq_space *s, const cJSON *qc, const char *source) {
  if (!cJSON_IsObject(qc))
    return tq_fail(TQ_ERR_FORMAT, "%s: quantization_config: expected an object with kernel, bias, activation",
                   source);
  const cJSON *grp[TQ_GROUP_COUNT] = {0};
  for (const cJSON *e = qc->child; e; e = e->next) {
    int g = -1;
    for (int k = 0; k < TQ_GROUP_COUNT; k++)
      if (!strcmp(e->string, tq_qgroup_name((tq_qgroup)k))) g = k;
    if (g < 0)
      return tq_fail(TQ_ERR_FORMAT,
                     "%s: quantization_config: unknown group \"%s\" (expected kernel, bias, activation)",
                     source, e->string);
    if (grp[g]) return tq_fail(TQ_ERR_FORMAT, "%s: quantization_config: group \"%s\" given twice", source, e->string);
    grp[g] = e;
  }
  for (int g = 0; g < TQ_GROUP_COUNT; g++) {
    if (!grp[g])
      return tq_fail(TQ_ERR_FORMAT, "%s: quantization_config: missing group \"%s\"", source,
                     tq_qgroup_name((tq_qgroup)g));
    tq_status st = parse_group(s, (tq_qgroup)g, grp[g], source);
    if (st) return st;
  }
  return TQ_OK;
}

/* ---- limit */

/* glibc's regcomp expands every bounded repeat {m,n} into copies of its operand, so nested
 * repeats multiply: ((a{1,100}){1,100}){1,100}... asked for 14 GB. Before a pattern reaches
 * regcomp, its expanded size is estimated (each atom 1, a group the sum of its alternatives,
 * x{m,n} the operand times max(m, n) + 1, x* x+ x? the operand twice, x+ doubling x for a
 * repeat after it) and refused beyond REGEX_MAX_STATES; back-references (exponential matching)
 * are refused too. Layer names are short, so a legitimate pattern is tiny. */
#define REGEX_MAX_LEN 256
#define REGEX_MAX_DEPTH 16
#define REGEX_MAX_STATES 4096.0

static const char *regex_too_complex(const char *re) {
  size_t n = strlen(re);
  if (n > REGEX_MAX_LEN) return "longer than 256 characters";
  double alt[REGEX_MAX_DEPTH + 1], cur[REGEX_MAX_DEPTH + 1]; /* per open group: finished alternatives, current one */
  double last = 0; /* size of the last atom (the operand of a following repeat) */
  int depth = 0;
  alt[0] = cur[0] = 0;
  for (size_t i = 0; i < n; i++) {
    char c = re[i];
    if (c == '\\') {
      if (i + 1 < n && re[i + 1] >= '0' && re[i + 1] <= '9') return "back-references are not supported";
      i++;
      last = 1, cur[depth] += 1;
    } else if (c == '[') {
      size_t j = i + 1;
      if (j < n && re[j] == '^') j++;
      if (j < n && re[j] == ']') j++;
      for (; j < n && re[j] != ']'; j++)
        if (re[j] == '[' && j + 1 < n && (re[j + 1] == ':' || re[j + 1] == '.' || re[j + 1] == '=')) {
          char close = re[j + 1];
          for (j += 2; j + 1 < n && !(re[j] == close && re[j + 1] == ']'); j++) {}
          j++;
        }
      if (j >= n) return NULL; /* unterminated: regcomp reports it */
      i = j;
      last = 1, cur[depth] += 1;
    } else if (c == '(') {
      if (++depth > REGEX_MAX_DEPTH) return "groups nested more than 16 deep";
      alt[depth] = cur[depth] = 0;
    } else if (c == ')') {
      if (depth == 0) return NULL; /* unbalanced: regcomp reports it */
      last = alt[depth] + cur[depth] + 1;
      depth--;
      cur[depth] += last;
    } else if (c == '|') {
      alt[depth] += cur[depth];
      cur[depth] = 0, last = 0;
    } else if (c == '*' || c == '+' || c == '?') {
      cur[depth] += last; /* x* costs about two copies of x */
      /* glibc rewrites x+ as xx*: the operand is copied, so stacked repeats (a++++...) double
       * the size each time (found by fuzz/fuzz_space.c: 2 GB from 30 '+'). */
      if (c == '+') last *= 2;
    } else if (c == '{') {
      char *end;
      long lo = strtol(re + i + 1, &end, 10), hi = lo;
      if (end == re + i + 1) return NULL; /* not a bound: regcomp decides */
      if (*end == ',') hi = end[1] == '}' ? lo + 1 : strtol(end + 1, &end, 10);
      else end--;
      if (lo < 0 || hi < 0 || lo > 255 || hi > 255) return "a repeat count above 255";
      double k = (double)(lo > hi ? lo : hi) + 1;
      cur[depth] += last * (k - 1);
      last *= k;
      const char *close = strchr(re + i, '}');
      if (!close) return NULL;
      i = (size_t)(close - re);
    } else {
      last = 1, cur[depth] += 1;
    }
    if (alt[depth] + cur[depth] > REGEX_MAX_STATES || last > REGEX_MAX_STATES)
      return "too complex (nested repeats expand to more than 4096 states)";
  }
  return NULL;
}

static tq_status parse_limit(limit_entry *l, const cJSON *e, const char *source) {
  l->key = dupstr(e->string);
  if (!l->key) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", source);
  l->is_class = class_of(e->string, &l->type);
  if (!l->is_class) {
    if (!e->string[0]) return tq_fail(TQ_ERR_FORMAT, "%s: limit \"\": empty pattern", source);
    const char *why = regex_too_complex(e->string);
    if (why)
      return tq_fail(TQ_ERR_FORMAT, "%s: limit \"%.80s%s\": regular expression refused: %s", source, e->string,
                     strlen(e->string) > 80 ? "..." : "", why);
    int rc = regcomp(&l->re, e->string, REG_EXTENDED | REG_NOSUB);
    if (rc) {
      char msg[256];
      regerror(rc, &l->re, msg, sizeof msg);
      return tq_fail(TQ_ERR_FORMAT, "%s: limit \"%s\": not a layer class or a valid regular expression: %s",
                     source, e->string, msg);
    }
    l->compiled = 1;
  }
  if (cJSON_IsNumber(e)) {
    l->is_number = 1;
    l->n = 1;
    l->v[0] = e->valuedouble;
  } else if (cJSON_IsArray(e)) {
    l->n = cJSON_GetArraySize(e);
    if (l->n < 1 || l->n > 3)
      return tq_fail(TQ_ERR_FORMAT,
                     "%s: limit \"%s\": expected a number or a list [kernel, bias, activation] of 1 to 3 "
                     "numbers, got %d entries",
                     source, e->string, l->n);
    int i = 0;
    for (const cJSON *v = e->child; v; v = v->next, i++) {
      if (!cJSON_IsNumber(v))
        return tq_fail(TQ_ERR_FORMAT, "%s: limit \"%s\": entry %d is not a number", source, e->string, i + 1);
      l->v[i] = v->valuedouble;
    }
  } else {
    return tq_fail(TQ_ERR_FORMAT, "%s: limit \"%s\": expected a number or a list of numbers", source,
                   e->string);
  }
  for (int i = 0; i < l->n; i++)
    if (!isfinite(l->v[i]) || l->v[i] <= 0)
      return tq_fail(TQ_ERR_FORMAT, "%s: limit \"%s\": limits must be positive bit counts", source, e->string);
  if (l->is_class && !l->is_number) {
    if (l->type == TQ_L_ACTIVATION && l->n != 1)
      return tq_fail(TQ_ERR_FORMAT, "%s: limit \"%s\": an Activation limit is a number or a one-element list "
                     "[activation], got %d entries",
                     source, e->string, l->n);
    if (l->type != TQ_L_ACTIVATION && l->n == 1)
      return tq_fail(TQ_ERR_FORMAT, "%s: limit \"%s\": expected [kernel, bias] or [kernel, bias, activation], "
                     "got a one-element list",
                     source, e->string);
  }
  return TQ_OK;
}

static double limit_for(const limit_entry *l, tq_qgroup g) {
  if (!l) return INFINITY;
  if (l->is_number) return l->v[0];
  switch (g) {
    case TQ_GROUP_KERNEL: return l->v[0];
    case TQ_GROUP_BIAS: return l->v[1];
    case TQ_GROUP_ACTIVATION: return l->n == 1 ? l->v[0] : l->v[2];
    case TQ_GROUP_COUNT: break; /* not a group */
  }
  return INFINITY;
}

/* ---- goal */

static tq_status parse_goal(tq_goal *g, const cJSON *goal, const char *source) {
  if (!cJSON_IsObject(goal))
    return tq_fail(TQ_ERR_FORMAT, "%s: goal: expected {\"type\": \"bits\", \"params\": {...}}", source);
  for (const cJSON *e = goal->child; e; e = e->next) {
    if (!strcmp(e->string, "type")) {
      if (!cJSON_IsString(e))
        return tq_fail(TQ_ERR_FORMAT, "%s: goal.type: expected a string", source);
      if (strcmp(e->valuestring, "bits"))
        return tq_fail(TQ_ERR_UNSUPPORTED, "%s: goal.type: \"%s\" is not supported (tinyq's goal is \"bits\")",
                       source, e->valuestring);
    } else if (!strcmp(e->string, "params")) {
      if (!cJSON_IsObject(e)) return tq_fail(TQ_ERR_FORMAT, "%s: goal.params: expected an object", source);
      for (const cJSON *p = e->child; p; p = p->next) {
        if (!cJSON_IsNumber(p) || !isfinite(p->valuedouble))
          return tq_fail(TQ_ERR_FORMAT, "%s: goal.params.%s: expected a number", source, p->string);
        double v = p->valuedouble;
        int *ip = NULL;
        double *dp = NULL, lo = 0, hi = 1000;
        if (!strcmp(p->string, "delta_p")) dp = &g->delta_p;
        else if (!strcmp(p->string, "delta_n")) dp = &g->delta_n;
        else if (!strcmp(p->string, "rate")) dp = &g->rate, lo = 1.0001, hi = 1e6;
        else if (!strcmp(p->string, "stress")) dp = &g->stress, lo = 1e-6, hi = 1e6;
        else if (!strcmp(p->string, "ref_bits")) ip = &g->ref_bits, lo = 1, hi = 32;
        else if (!strcmp(p->string, "ref_bias_bits")) ip = &g->ref_bias_bits, lo = 1, hi = 32;
        else if (!strcmp(p->string, "input_bits")) ip = &g->input_bits, lo = 1, hi = 32;
        else
          return tq_fail(TQ_ERR_FORMAT,
                         "%s: goal.params: unknown parameter \"%s\" (expected delta_p, delta_n, rate, "
                         "stress, ref_bits, ref_bias_bits, input_bits)",
                         source, p->string);
        if (v < lo || v > hi || (ip && v != floor(v)))
          return tq_fail(TQ_ERR_ARG, "%s: goal.params.%s: %g is outside %g..%g%s", source, p->string, v, lo,
                         hi, ip ? " (an integer)" : "");
        if (ip) *ip = (int)v;
        else *dp = v;
      }
    } else {
      return tq_fail(TQ_ERR_FORMAT, "%s: goal: unknown key \"%s\" (expected type, params)", source, e->string);
    }
  }
  return TQ_OK;
}

/* Errors are one line: the quoted text stops at the first line end (found by fuzz/fuzz_space.c). */
static tq_status json_error(const char *source) {
  const char *at = cJSON_GetErrorPtr();
  if (!at) at = "";
  int n = (int)strcspn(at, "\r\n");
  return tq_fail(TQ_ERR_FORMAT, "%s: not valid JSON (near \"%.*s\")", source, n < 20 ? n : 20, at);
}

tq_status tq_space_read_goal(const char *json, const char *source, tq_goal *goal, int *given) {
  if (given) *given = 0;
  cJSON *root = cJSON_Parse(json ? json : "");
  if (!root) return json_error(source);
  const cJSON *g = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "goal") : NULL;
  tq_status st = g ? parse_goal(goal, g, source) : TQ_OK;
  if (!st && g && given) *given = 1;
  cJSON_Delete(root);
  return st;
}

/* ---- resolution against the model */

static void list_layers(const tq_model *m, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 1; i < tq_model_num_layers(m) && o + 1 < n; i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (!has_kernel(l) && !is_slot(l)) continue;
    o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", l->name);
  }
}

/* Adds a dimension of group g for the layers (count n), limited by lim (may be NULL). */
static tq_status add_dim(tq_space *s, tq_qgroup g, const char *label, const int *layers, int n,
                         int pattern, const limit_entry *lim, const tq_model *m, const char *source) {
  double L = limit_for(lim, g);
  int k = 0;
  while (k < s->ngopt[g] && s->gopt[g][k].cost <= L) k++;
  if (k == 0)
    return tq_fail(TQ_ERR_ARG,
                   "%s: limit \"%s\": no %s quantizer costs <= %g bits (the cheapest costs %g): the choice "
                   "list of %s is empty",
                   source, lim ? lim->key : "?", tq_qgroup_name(g), L, s->gopt[g][0].cost,
                   tq_model_layer_c(m, layers[0])->name);
  tq_space_dim *d = &s->dims[s->ndims];
  memset(d, 0, sizeof *d);
  d->group = g;
  d->pattern = pattern;
  d->noptions = k;
  d->nlayers = n;
  char *lab = dupstr(label);
  tq_space_option *opts = malloc(sizeof(tq_space_option) * (size_t)k);
  float *vals = malloc(sizeof(float) * (size_t)k);
  int *lay = malloc(sizeof(int) * (size_t)n);
  d->label = lab;
  d->options = opts;
  d->values = vals;
  d->layers = lay;
  s->ndims++;
  if (!lab || !opts || !vals || !lay) return tq_fail(TQ_ERR_MEMORY, "%s: out of memory", source);
  for (int i = 0; i < k; i++) {
    opts[i] = s->gopt[g][i];
    vals[i] = (float)s->gopt[g][i].cost;
  }
  memcpy(lay, layers, sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < s->nslots; j++)
      if (!strcmp(s->slots[j].name, tq_model_layer_c(m, layers[i])->name)) s->slots[j].dim[g] = s->ndims - 1;
  return TQ_OK;
}

static tq_status resolve(tq_space *s, limit_entry *lim, int nlim, const tq_model *m, const char *source) {
  int nl = tq_model_num_layers(m);
  int *owner = malloc(sizeof(int) * (size_t)nl); /* pattern index per layer, -1 none */
  int *members = malloc(sizeof(int) * (size_t)nl);
  int *emitted = calloc((size_t)(nlim ? nlim : 1), sizeof(int));
  s->slots = calloc((size_t)nl, sizeof(slot));
  s->dims = calloc((size_t)nl * 2 + 1, sizeof(tq_space_dim)); /* at most 2 per layer */
  tq_status st = TQ_OK;
  char names[4096];
  if (!owner || !members || !emitted || !s->slots || !s->dims) {
    st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", source);
    goto done;
  }
  for (int i = 1; i < nl; i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    owner[i] = -1;
    if (!has_kernel(l) && !is_slot(l)) continue;
    slot *sl = &s->slots[s->nslots++];
    snprintf(sl->name, sizeof sl->name, "%s", l->name);
    sl->is_act = is_slot(l);
    for (int g = 0; g < TQ_GROUP_COUNT; g++) sl->dim[g] = -1;
  }
  if (s->nslots == 0) {
    st = tq_fail(TQ_ERR_ARG, "%s: model %s has no conv/dense layer or activation slot to quantize", source,
                 tq_model_arch(m));
    goto done;
  }
  /* Patterns: who matches what, who owns what. */
  for (int p = 0; p < nlim; p++) {
    if (lim[p].is_class) continue;
    int matched = 0, owned = 0, kern = 0, act = 0;
    for (int i = 1; i < nl; i++) {
      const tq_layer *l = tq_model_layer_c(m, i);
      if (!has_kernel(l) && !is_slot(l)) continue;
      if (regexec(&lim[p].re, l->name, 0, NULL, 0) != 0) continue;
      matched++;
      if (owner[i] >= 0) continue;
      owner[i] = p;
      owned++;
      if (has_kernel(l)) kern++;
      else act++;
    }
    if (!matched) {
      list_layers(m, names, sizeof names);
      st = tq_fail(TQ_ERR_ARG, "%s: limit \"%s\": the pattern matches no layer of model %s (its layers: %s)",
                   source, lim[p].key, tq_model_arch(m), names);
      goto done;
    }
    if (!owned) {
      st = tq_fail(TQ_ERR_ARG,
                   "%s: limit \"%s\": every layer the pattern matches already belongs to an earlier pattern",
                   source, lim[p].key);
      goto done;
    }
    /* the list's shape must fit the layers the pattern matches */
    const char *misfit = NULL, *give = NULL;
    if (!lim[p].is_number && lim[p].n == 1 && kern) {
      misfit = "a one-element list limits activation slots only, but the pattern matches conv/dense layers";
      give = "[kernel, bias] or [kernel, bias, activation]";
    } else if (!lim[p].is_number && lim[p].n == 2 && act) {
      misfit = "[kernel, bias] has no activation limit, but the pattern matches activation slots";
      give = "[kernel, bias, activation]";
    }
    if (misfit) {
      st = tq_fail(TQ_ERR_ARG, "%s: limit \"%s\": %s of model %s: give %s", source, lim[p].key, misfit,
                   tq_model_arch(m), give);
      goto done;
    }
  }
  /* Dimensions in layer order; a pattern group where its first layer stands. */
  for (int i = 1; i < nl; i++) {
    const tq_layer *l = tq_model_layer_c(m, i);
    if (!has_kernel(l) && !is_slot(l)) continue;
    char label[600];
    int p = owner[i];
    if (p >= 0) {
      if (emitted[p]) continue;
      emitted[p] = 1;
      int nk = 0, na = 0;
      for (int j = i; j < nl; j++)
        if (owner[j] == p && has_kernel(tq_model_layer_c(m, j))) members[nk++] = j;
      if (nk) {
        snprintf(label, sizeof label, "/%s/kernel", lim[p].key);
        if ((st = add_dim(s, TQ_GROUP_KERNEL, label, members, nk, p, &lim[p], m, source))) goto done;
        snprintf(label, sizeof label, "/%s/bias", lim[p].key);
        if ((st = add_dim(s, TQ_GROUP_BIAS, label, members, nk, p, &lim[p], m, source))) goto done;
      }
      for (int j = i; j < nl; j++)
        if (owner[j] == p && is_slot(tq_model_layer_c(m, j))) members[na++] = j;
      if (na) {
        snprintf(label, sizeof label, "/%s/activation", lim[p].key);
        if ((st = add_dim(s, TQ_GROUP_ACTIVATION, label, members, na, p, &lim[p], m, source))) goto done;
      }
      continue;
    }
    const limit_entry *cl = NULL;
    for (int q = 0; q < nlim; q++)
      if (lim[q].is_class && lim[q].type == l->type) cl = &lim[q];
    if (has_kernel(l)) {
      snprintf(label, sizeof label, "%s/kernel", l->name);
      if ((st = add_dim(s, TQ_GROUP_KERNEL, label, &i, 1, -1, cl, m, source))) goto done;
      snprintf(label, sizeof label, "%s/bias", l->name);
      if ((st = add_dim(s, TQ_GROUP_BIAS, label, &i, 1, -1, cl, m, source))) goto done;
    } else {
      if ((st = add_dim(s, TQ_GROUP_ACTIVATION, l->name, &i, 1, -1, cl, m, source))) goto done;
    }
  }
done:
  free(owner);
  free(members);
  free(emitted);
  return st;
}

tq_status tq_space_create(tq_space **out, const char *json, const char *source, const tq_model *m) {
  *out = NULL;
  if (!source) source = "search space";
  cJSON *root = cJSON_Parse(json ? json : "");
  if (!root) return json_error(source);
  tq_space *s = calloc(1, sizeof *s);
  limit_entry *lim = calloc(MAX_LIMITS, sizeof(limit_entry));
  int nlim = 0;
  tq_status st = TQ_OK;
  if (!s || !lim) {
    st = tq_fail(TQ_ERR_MEMORY, "%s: out of memory", source);
    goto done;
  }
  tq_goal_defaults(&s->goal);
  if (!cJSON_IsObject(root)) {
    st = tq_fail(TQ_ERR_FORMAT, "%s: expected a JSON object with quantization_config, limit, goal", source);
    goto done;
  }
  const cJSON *qc = NULL, *limit = NULL, *goal = NULL;
  for (const cJSON *e = root->child; e; e = e->next) {
    const cJSON **slotp = !strcmp(e->string, "quantization_config") ? &qc
                          : !strcmp(e->string, "limit")             ? &limit
                          : !strcmp(e->string, "goal")              ? &goal
                                                                    : NULL;
    if (!slotp) {
      st = tq_fail(TQ_ERR_FORMAT, "%s: unknown key \"%s\" (expected quantization_config, limit, goal)", source,
                   e->string);
      goto done;
    }
    if (*slotp) {
      st = tq_fail(TQ_ERR_FORMAT, "%s: \"%s\" given twice", source, e->string);
      goto done;
    }
    *slotp = e;
  }
  if (!qc) {
    st = tq_fail(TQ_ERR_FORMAT, "%s: missing \"quantization_config\"", source);
    goto done;
  }
  if ((st = parse_qconfig(s, qc, source))) goto done;
  if (limit) {
    if (!cJSON_IsObject(limit)) {
      st = tq_fail(TQ_ERR_FORMAT, "%s: limit: expected an object {\"Conv2D\": [16, 31, 16], \"regex\": 8, ...}",
                   source);
      goto done;
    }
    for (const cJSON *e = limit->child; e; e = e->next) {
      for (int p = 0; p < nlim; p++)
        if (!strcmp(lim[p].key, e->string)) {
          st = tq_fail(TQ_ERR_FORMAT, "%s: limit \"%s\" given twice", source, e->string);
          goto done;
        }
      if (nlim == MAX_LIMITS) {
        st = tq_fail(TQ_ERR_FORMAT, "%s: limit: more than %d entries", source, MAX_LIMITS);
        goto done;
      }
      if ((st = parse_limit(&lim[nlim++], e, source))) goto done;
    }
  }
  if (goal) {
    if ((st = parse_goal(&s->goal, goal, source))) goto done;
    s->has_goal = 1;
  }
  st = resolve(s, lim, nlim, m, source);
done:
  cJSON_Delete(root);
  if (lim) {
    for (int p = 0; p < nlim; p++) {
      free(lim[p].key);
      if (lim[p].compiled) regfree(&lim[p].re);
    }
    free(lim);
  }
  if (st) {
    tq_space_free(s);
    return st;
  }
  *out = s;
  return TQ_OK;
}

int tq_space_ndims(const tq_space *s) { return s->ndims; }

const tq_space_dim *tq_space_dim_get(const tq_space *s, int d) {
  return d >= 0 && d < s->ndims ? &s->dims[d] : NULL;
}

void tq_space_counts(const tq_space *s, int *counts, const float **values) {
  for (int d = 0; d < s->ndims; d++) {
    if (counts) counts[d] = s->dims[d].noptions;
    if (values) values[d] = s->dims[d].values;
  }
}

void tq_space_goal(const tq_space *s, tq_goal *goal, int *given) {
  if (goal) *goal = s->goal;
  if (given) *given = s->has_goal;
}

double tq_space_log10_size(const tq_space *s) {
  double l = 0;
  for (int d = 0; d < s->ndims; d++) l += log10((double)s->dims[d].noptions);
  return l;
}

char *tq_space_config_json(const tq_space *s, const int *choice, int pretty) {
  for (int d = 0; d < s->ndims; d++)
    if (choice[d] < 0 || choice[d] >= s->dims[d].noptions) {
      tq_fail(TQ_ERR_ARG, "configuration: dimension %d (%s): option %d outside 0..%d", d, s->dims[d].label,
              choice[d], s->dims[d].noptions - 1);
      return NULL;
    }
  cJSON *root = cJSON_CreateObject();
  if (!root) goto oom;
  for (int i = 0; i < s->nslots; i++) {
    const slot *sl = &s->slots[i];
    if (sl->is_act) {
      int d = sl->dim[TQ_GROUP_ACTIVATION];
      if (!cJSON_AddStringToObject(root, sl->name, s->dims[d].options[choice[d]].quantizer)) goto oom;
    } else {
      cJSON *o = cJSON_AddObjectToObject(root, sl->name);
      int dk = sl->dim[TQ_GROUP_KERNEL], db = sl->dim[TQ_GROUP_BIAS];
      if (!o || !cJSON_AddStringToObject(o, "kernel_quantizer", s->dims[dk].options[choice[dk]].quantizer) ||
          !cJSON_AddStringToObject(o, "bias_quantizer", s->dims[db].options[choice[db]].quantizer))
        goto oom;
    }
  }
  char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!text) tq_fail(TQ_ERR_MEMORY, "configuration: out of memory");
  return text;
oom:
  cJSON_Delete(root);
  tq_fail(TQ_ERR_MEMORY, "configuration: out of memory");
  return NULL;
}
