/* QKeras quantizer strings (SPEC §1.4): parser and printer.
 *
 *   string   := ws name ws [ '(' ws [ arg (ws ',' ws arg)* ws [','] ] ws ')' ] ws
 *   arg      := [ identifier ws '=' ws ] value
 *   value    := int | float | True | False | None | 'text' | "text"
 *
 * Each quantizer has a parameter table in QKeras' constructor order; the first `npos` entries
 * may be given positionally. Parameters tinyq accepts only at their QKeras default ("fixed")
 * are checked and then dropped. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_internal.h"

typedef enum {
  T_INT,       /* integer in [lo, hi] */
  T_BOOL,      /* True/False/0/1 */
  T_FLOAT,     /* number in [flo, fhi] */
  T_ALPHA,     /* None | number | 'auto' | 'auto_po2' */
  T_ALPHA_STR, /* 'auto' | 'auto_po2' */
  T_AXIS,      /* None | integer >= 0 */
  T_OPT_FLOAT, /* None | number in [flo, fhi] */
  T_FIXED      /* only the QKeras default is supported */
} ptype;

typedef enum { FX_FALSE, FX_TRUE, FX_ZERO, FX_NONE, FX_RND } fixed_kind;

typedef struct {
  const char *name;
  ptype type;
  unsigned bit;  /* TQ_ARG_* (0 for T_FIXED) */
  int lo, hi;    /* T_INT */
  double flo, fhi;
  int bool_int;  /* print as 0/1 (else True/False) */
  fixed_kind fx; /* T_FIXED */
  const char *fixed_text;
} param;

typedef struct {
  tq_qkind kind;
  const char *name;
  const param *params;
  int nparams;
  int npos;          /* how many leading params may be positional */
  int extend_cap;    /* printer, quantizer built in code: at most this many positional */
  unsigned mandatory;/* printer: always shown for a programmatic quantizer */
} qspec;

#define P_BITS(lo, hi) {"bits", T_INT, TQ_ARG_BITS, lo, hi, 0, 0, 0, 0, NULL}
#define P_INTEGER {"integer", T_INT, TQ_ARG_INTEGER, -64, 64, 0, 0, 0, 0, NULL}
#define P_SYMMETRIC {"symmetric", T_BOOL, TQ_ARG_SYMMETRIC, 0, 0, 0, 0, 1, 0, NULL}
#define P_KEEP_NEG {"keep_negative", T_BOOL, TQ_ARG_KEEP_NEGATIVE, 0, 0, 0, 0, 1, 0, NULL}
#define P_ALPHA {"alpha", T_ALPHA, TQ_ARG_ALPHA, 0, 0, 0, 0, 0, 0, NULL}
#define P_ALPHA_STR {"alpha", T_ALPHA_STR, TQ_ARG_ALPHA, 0, 0, 0, 0, 0, 0, NULL}
#define P_STOCH {"use_stochastic_rounding", T_BOOL, TQ_ARG_STOCHASTIC, 0, 0, 0, 0, 0, 0, NULL}
#define P_STOCH_FIXED {"use_stochastic_rounding", T_FIXED, 0, 0, 0, 0, 0, 0, FX_FALSE, "False"}
#define P_AXIS {"scale_axis", T_AXIS, TQ_ARG_SCALE_AXIS, 0, 0, 0, 0, 0, 0, NULL}
#define P_QNOISE {"qnoise_factor", T_FLOAT, TQ_ARG_QNOISE, 0, 0, 0.0, 1.0, 0, 0, NULL}
#define P_USE_STE {"use_ste", T_BOOL, TQ_ARG_USE_STE, 0, 0, 0, 0, 0, 0, NULL}

static const param bits_params[] = {P_BITS(1, 32), P_INTEGER, P_SYMMETRIC, P_KEEP_NEG, P_ALPHA,
                                    P_STOCH, P_AXIS, P_QNOISE, P_USE_STE};
static const param fm_params[] = {P_BITS(2, 32), P_INTEGER, P_SYMMETRIC, P_KEEP_NEG, P_ALPHA_STR,
                                  P_STOCH, P_AXIS, P_QNOISE, P_USE_STE};
static const param relu_params[] = {
    P_BITS(1, 31),
    P_INTEGER,
    {"use_sigmoid", T_FIXED, 0, 0, 0, 0, 0, 0, FX_ZERO, "0"},
    {"negative_slope", T_FIXED, 0, 0, 0, 0, 0, 0, FX_ZERO, "0.0"},
    P_STOCH,
    {"relu_upper_bound", T_FIXED, 0, 0, 0, 0, 0, 0, FX_NONE, "None"},
    {"is_quantized_clip", T_FIXED, 0, 0, 0, 0, 0, 0, FX_TRUE, "True"},
    P_QNOISE,
    P_USE_STE};
static const param po2_params[] = {
    P_BITS(2, 16),
    {"max_value", T_OPT_FLOAT, TQ_ARG_MAX_VALUE, 0, 0, 0.0, FLT_MAX, 0, 0, NULL},
    P_STOCH_FIXED,
    {"quadratic_approximation", T_FIXED, 0, 0, 0, 0, 0, 0, FX_FALSE, "False"},
    {"log2_rounding", T_FIXED, 0, 0, 0, 0, 0, 0, FX_RND, "'rnd'"},
    P_QNOISE,
    P_USE_STE};
static const param binary_params[] = {
    {"use_01", T_BOOL, TQ_ARG_USE_01, 0, 0, 0, 0, 1, 0, NULL}, P_ALPHA, P_STOCH_FIXED};
static const param ternary_params[] = {
    P_ALPHA,
    {"threshold", T_OPT_FLOAT, TQ_ARG_THRESHOLD, 0, 0, -FLT_MAX, FLT_MAX, 0, 0, NULL},
    P_STOCH_FIXED,
    {"number_of_unrolls", T_INT, TQ_ARG_UNROLLS, 1, 100, 0, 0, 0, 0, NULL}};

#define NP(a) (int)(sizeof(a) / sizeof((a)[0]))
static const qspec specs[] = {
    {TQ_Q_BITS, "quantized_bits", bits_params, NP(bits_params), 8, 4,
     TQ_ARG_BITS | TQ_ARG_INTEGER | TQ_ARG_SYMMETRIC},
    {TQ_Q_BITS_FEATUREMAP, "quantized_bits_featuremap", fm_params, NP(fm_params), 5, 4,
     TQ_ARG_BITS | TQ_ARG_INTEGER | TQ_ARG_SYMMETRIC | TQ_ARG_KEEP_NEGATIVE | TQ_ARG_ALPHA |
         TQ_ARG_SCALE_AXIS},
    {TQ_Q_RELU, "quantized_relu", relu_params, NP(relu_params), 8, 2,
     TQ_ARG_BITS | TQ_ARG_INTEGER},
    {TQ_Q_PO2, "quantized_po2", po2_params, NP(po2_params), 6, 2, TQ_ARG_BITS},
    {TQ_Q_BINARY, "binary", binary_params, NP(binary_params), 3, 0, 0},
    {TQ_Q_TERNARY, "ternary", ternary_params, NP(ternary_params), 4, 0, 0},
};
#define NSPECS NP(specs)

static const qspec *spec_of(tq_qkind kind) {
  for (int i = 0; i < NSPECS; i++)
    if (specs[i].kind == kind) return &specs[i];
  return NULL;
}

/* ---- errors -------------------------------------------------------------------------------- */

typedef struct {
  const char *src;
  char quoted[256]; /* the input, shortened and with control characters shown as '?' */
} pctx;

static void quote_input(pctx *c) {
  size_t n = strlen(c->src), k = 0, lim = sizeof c->quoted - 4;
  for (size_t i = 0; i < n && k < lim; i++) {
    unsigned char ch = (unsigned char)c->src[i];
    c->quoted[k++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
  }
  if (n > lim) memcpy(c->quoted + k, "...", 3), k += 3;
  c->quoted[k] = 0;
}

static tq_status perr(const pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static tq_status perr(const pctx *c, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return tq_fail(TQ_ERR_FORMAT, "quantizer \"%s\": %s", c->quoted, what);
}

/* A slice of the input shown in an error: quoted with ' (or " when it contains '), shortened. */
static const char *show(char *buf, size_t cap, const char *s, size_t len) {
  char q = memchr(s, '\'', len) ? '"' : '\'';
  size_t lim = cap - 6, k = 0;
  buf[k++] = q;
  for (size_t i = 0; i < len && k < lim; i++) {
    unsigned char ch = (unsigned char)s[i];
    buf[k++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
  }
  if (len > lim - 1) memcpy(buf + k, "...", 3), k += 3;
  buf[k++] = q;
  buf[k] = 0;
  return buf;
}

/* ---- scanning ------------------------------------------------------------------------------- */

typedef enum { V_INT, V_FLOAT, V_TRUE, V_FALSE, V_NONE, V_STR, V_BAD } vkind;

typedef struct {
  vkind k;
  long long i;
  double f;
  const char *s; /* string contents */
  size_t slen;
  const char *raw;
  size_t rawlen;
  int range_error; /* a number that overflowed */
} value;

static int is_id0(int c) { return isalpha((unsigned char)c) || c == '_'; }
static int is_id(int c) { return isalnum((unsigned char)c) || c == '_'; }
static const char *skip_ws(const char *p) {
  while (*p && isspace((unsigned char)*p)) p++;
  return p;
}

static int slice_is(const char *s, size_t n, const char *word) {
  return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Python number syntax (decimal only): [+-] (digits [. digits*] | . digits) [e [+-] digits]. */
static int scan_number(const char *s, size_t n, int *is_float) {
  size_t i = 0, digits = 0;
  *is_float = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  while (i < n && isdigit((unsigned char)s[i])) i++, digits++;
  if (i < n && s[i] == '.') {
    *is_float = 1;
    i++;
    while (i < n && isdigit((unsigned char)s[i])) i++, digits++;
  }
  if (!digits) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    *is_float = 1;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t ed = 0;
    while (i < n && isdigit((unsigned char)s[i])) i++, ed++;
    if (!ed) return 0;
  }
  return i == n;
}

static void classify(value *v) {
  const char *s = v->raw;
  size_t n = v->rawlen;
  v->k = V_BAD;
  v->range_error = 0;
  if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0] &&
      !memchr(s + 1, s[0], n - 2)) {
    v->k = V_STR, v->s = s + 1, v->slen = n - 2;
    return;
  }
  if (slice_is(s, n, "True")) { v->k = V_TRUE; return; }
  if (slice_is(s, n, "False")) { v->k = V_FALSE; return; }
  if (slice_is(s, n, "None")) { v->k = V_NONE; return; }
  int is_float;
  if (n == 0 || n > 80 || !scan_number(s, n, &is_float)) return;
  char buf[96];
  memcpy(buf, s, n);
  buf[n] = 0;
  errno = 0;
  if (is_float) {
    v->k = V_FLOAT;
    v->f = strtod(buf, NULL);
    if (!isfinite(v->f)) v->range_error = 1; /* underflow to 0 is fine */
  } else {
    v->k = V_INT;
    v->i = strtoll(buf, NULL, 10);
    if (errno == ERANGE) v->range_error = 1;
    v->f = (double)v->i;
  }
}

/* Scans one value's raw text from p up to the next top-level ',' or ')' (brackets and quotes
 * nest). Returns the end, or NULL for an unterminated string / unbalanced brackets at the end. */
static const char *scan_raw(const char *p, int *unterminated_string) {
  int depth = 0;
  *unterminated_string = 0;
  while (*p) {
    char c = *p;
    if (c == '\'' || c == '"') {
      const char *e = strchr(p + 1, c);
      if (!e) {
        *unterminated_string = 1;
        return NULL;
      }
      p = e + 1;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') depth++;
    else if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) {
        if (c == ')') return p;
      } else {
        depth--;
      }
    } else if (c == ',' && depth == 0) {
      return p;
    }
    p++;
  }
  return NULL;
}

/* ---- value conversion ------------------------------------------------------------------------ */

static const char *type_expect(const param *pa) {
  switch (pa->type) {
    case T_INT: return "an integer";
    case T_BOOL: return "a boolean (True, False, 0 or 1)";
    case T_FLOAT: return "a number";
    case T_ALPHA: return "None, a number, 'auto' or 'auto_po2'";
    case T_ALPHA_STR: return "'auto' or 'auto_po2'";
    case T_AXIS: return "None or an axis index >= 0";
    case T_OPT_FLOAT: return "None or a number";
    case T_FIXED: return pa->fixed_text;
  }
  return "a value";
}

/* Stores v into the field of pa. On error writes the reason (without "argument N") to err. */
static int set_param(tq_quantizer *q, const param *pa, const value *v, char *err, size_t errn) {
  char shown[128];
  const char *got = show(shown, sizeof shown, v->raw, v->rawlen);
  int is_num = v->k == V_INT || v->k == V_FLOAT;
  if (is_num && v->range_error) {
    snprintf(err, errn, "number %s is out of range", got);
    return 0;
  }
  switch (pa->type) {
    case T_INT:
    case T_AXIS: {
      if (pa->type == T_AXIS && v->k == V_NONE) {
        q->scale_axis = -1;
        return 1;
      }
      if (v->k != V_INT) break;
      long long lo = pa->type == T_AXIS ? 0 : pa->lo, hi = pa->type == T_AXIS ? 1000000 : pa->hi;
      if (v->i < lo || v->i > hi) {
        snprintf(err, errn, "must be between %lld and %lld, got %s", lo, hi, got);
        return 0;
      }
      int iv = (int)v->i;
      switch (pa->bit) {
        case TQ_ARG_BITS: q->bits = iv; break;
        case TQ_ARG_INTEGER: q->integer = iv; break;
        case TQ_ARG_SCALE_AXIS: q->scale_axis = iv; break;
        case TQ_ARG_UNROLLS: q->number_of_unrolls = iv; break;
        default: break;
      }
      return 1;
    }
    case T_BOOL: {
      int b;
      if (v->k == V_TRUE) b = 1;
      else if (v->k == V_FALSE) b = 0;
      else if (v->k == V_INT && (v->i == 0 || v->i == 1)) b = (int)v->i;
      else break;
      if (v->k == V_INT) q->pybool &= ~pa->bit;
      else q->pybool |= pa->bit;
      switch (pa->bit) {
        case TQ_ARG_SYMMETRIC: q->symmetric = b; break;
        case TQ_ARG_KEEP_NEGATIVE: q->keep_negative = b; break;
        case TQ_ARG_STOCHASTIC: q->stochastic = b; break;
        case TQ_ARG_USE_STE: q->use_ste = b; break;
        case TQ_ARG_USE_01: q->use_01 = b; break;
        default: break;
      }
      return 1;
    }
    case T_FLOAT:
    case T_OPT_FLOAT:
    case T_ALPHA:
    case T_ALPHA_STR: {
      if (v->k == V_STR && (pa->type == T_ALPHA || pa->type == T_ALPHA_STR)) {
        if (slice_is(v->s, v->slen, "auto")) q->alpha_mode = TQ_ALPHA_AUTO;
        else if (slice_is(v->s, v->slen, "auto_po2")) q->alpha_mode = TQ_ALPHA_AUTO_PO2;
        else break;
        q->alpha = 0.0f;
        return 1;
      }
      if (v->k == V_NONE && pa->type != T_FLOAT && pa->type != T_ALPHA_STR) {
        if (pa->bit == TQ_ARG_ALPHA) q->alpha_mode = TQ_ALPHA_NONE, q->alpha = 0.0f;
        if (pa->bit == TQ_ARG_MAX_VALUE) q->has_max_value = 0, q->max_value = 0.0f;
        if (pa->bit == TQ_ARG_THRESHOLD) q->has_threshold = 0, q->threshold = 0.0f;
        return 1;
      }
      if (!is_num || pa->type == T_ALPHA_STR) break;
      if (fabs(v->f) > FLT_MAX) {
        snprintf(err, errn, "number %s is out of range for float32", got);
        return 0;
      }
      float f = (float)v->f;
      if (pa->type != T_ALPHA && (v->f < pa->flo || v->f > pa->fhi)) {
        if (pa->fhi >= FLT_MAX)
          snprintf(err, errn, "must be >= %g, got %s", pa->flo, got);
        else
          snprintf(err, errn, "must be between %g and %g, got %s", pa->flo, pa->fhi, got);
        return 0;
      }
      switch (pa->bit) {
        case TQ_ARG_ALPHA: q->alpha_mode = TQ_ALPHA_VALUE, q->alpha = f; break;
        case TQ_ARG_QNOISE: q->qnoise_factor = f; break;
        case TQ_ARG_MAX_VALUE: q->has_max_value = 1, q->max_value = f; break;
        case TQ_ARG_THRESHOLD: q->has_threshold = 1, q->threshold = f; break;
        default: break;
      }
      return 1;
    }
    case T_FIXED: {
      int ok = 0;
      switch (pa->fx) {
        case FX_FALSE: ok = v->k == V_FALSE || (v->k == V_INT && v->i == 0); break;
        case FX_TRUE: ok = v->k == V_TRUE || (v->k == V_INT && v->i == 1); break;
        case FX_ZERO: ok = v->k == V_FALSE || (is_num && v->f == 0.0); break;
        case FX_NONE: ok = v->k == V_NONE; break;
        case FX_RND: ok = v->k == V_STR && slice_is(v->s, v->slen, "rnd"); break;
      }
      if (ok) return 1;
      snprintf(err, errn, "only %s=%s is supported, got %s", pa->name, pa->fixed_text, got);
      return 0;
    }
  }
  snprintf(err, errn, "expected %s, got %s", type_expect(pa), got);
  return 0;
}

/* ---- parse ----------------------------------------------------------------------------------- */

static const char *known_names(void) {
  return "quantized_bits, quantized_bits_featuremap, quantized_relu, quantized_po2, binary, "
         "ternary";
}

tq_status tq_quantizer_parse(tq_quantizer *out, const char *str) {
  pctx c;
  char shown[128];
  if (!str) str = "";
  c.src = str;
  quote_input(&c);
  const char *p = skip_ws(str);
  if (!*p) return perr(&c, "empty quantizer string");
  if (!is_id0(*p)) {
    size_t n = strcspn(p, "(), \t\n");
    return perr(&c, "expected a quantizer name, got %s", show(shown, sizeof shown, p, n ? n : 1));
  }
  const char *name = p;
  while (is_id(*p)) p++;
  size_t name_len = (size_t)(p - name);
  p = skip_ws(p);

  if (slice_is(name, name_len, "None")) {
    if (*p) return perr(&c, "unexpected %s after None", show(shown, sizeof shown, p, strlen(p)));
    tq_quantizer_init(out, TQ_Q_NONE);
    return TQ_OK;
  }
  const qspec *sp = NULL;
  for (int i = 0; i < NSPECS; i++)
    if (slice_is(name, name_len, specs[i].name)) sp = &specs[i];
  if (!sp)
    return perr(&c, "unknown quantizer %s (known: %s)", show(shown, sizeof shown, name, name_len),
                known_names());

  tq_quantizer q;
  tq_quantizer_init(&q, sp->kind);
  if (*p && *p != '(')
    return perr(&c, "unexpected %s after the name %s", show(shown, sizeof shown, p, strlen(p)),
                sp->name);
  if (*p == '(') {
    p++;
    int argno = 0, seen_kw = 0, npos = 0;
    int seen_at[16] = {0};
    for (;;) {
      p = skip_ws(p);
      if (*p == ')') {
        p++;
        break;
      }
      if (!*p) return perr(&c, "missing ')' at the end");
      argno++;
      /* keyword? */
      const param *pa = NULL;
      int pidx = -1;
      const char *kw = NULL;
      size_t kw_len = 0;
      if (is_id0(*p)) {
        const char *e = p;
        while (is_id(*e)) e++;
        const char *r = skip_ws(e);
        if (*r == '=' && r[1] != '=') {
          kw = p, kw_len = (size_t)(e - p);
          p = skip_ws(r + 1);
        }
      }
      if (kw) {
        for (int i = 0; i < sp->nparams; i++)
          if (slice_is(kw, kw_len, sp->params[i].name)) pidx = i;
        if (pidx < 0) {
          char valid[512];
          size_t k = 0;
          valid[0] = 0;
          for (int i = 0; i < sp->nparams && k < sizeof valid; i++)
            k += (size_t)snprintf(valid + k, sizeof valid - k, "%s%s", i ? ", " : "",
                                  sp->params[i].name);
          return perr(&c, "argument %d: unknown keyword %s for %s (valid: %s)", argno,
                      show(shown, sizeof shown, kw, kw_len), sp->name, valid);
        }
        seen_kw = 1;
      } else {
        if (seen_kw)
          return perr(&c, "argument %d: positional argument follows keyword argument", argno);
        if (npos >= sp->npos)
          return perr(&c, "argument %d: too many positional arguments (%s takes at most %d)",
                      argno, sp->name, sp->npos);
        pidx = npos++;
      }
      pa = &sp->params[pidx];
      if (seen_at[pidx])
        return perr(&c, "argument %d (%s): %s given twice (also argument %d)", argno, pa->name,
                    pa->name, seen_at[pidx]);
      seen_at[pidx] = argno;
      /* value */
      int unterminated;
      const char *e = scan_raw(p, &unterminated);
      if (!e) {
        if (unterminated) return perr(&c, "argument %d (%s): unterminated string", argno, pa->name);
        return perr(&c, "argument %d (%s): missing ')' at the end", argno, pa->name);
      }
      const char *raw_end = e;
      while (raw_end > p && isspace((unsigned char)raw_end[-1])) raw_end--;
      if (raw_end == p) {
        if (kw) return perr(&c, "argument %d (%s): missing value after '='", argno, pa->name);
        return perr(&c, "argument %d (%s): empty argument", argno, pa->name);
      }
      value v;
      memset(&v, 0, sizeof v);
      v.raw = p, v.rawlen = (size_t)(raw_end - p);
      classify(&v);
      char why[400];
      if (!set_param(&q, pa, &v, why, sizeof why))
        return perr(&c, "argument %d (%s): %s", argno, pa->name, why);
      q.given |= pa->bit;
      p = e;
      if (*p == ',') p++;
    }
    q.npositional = npos;
    p = skip_ws(p);
    if (*p)
      return perr(&c, "unexpected %s after ')'", show(shown, sizeof shown, p, strlen(p)));
  }
  if (tq_quantizer_validate(&q) != TQ_OK) {
    char why[600];
    snprintf(why, sizeof why, "%s", tq_last_error());
    return perr(&c, "%s", why);
  }
  *out = q;
  return TQ_OK;
}

/* ---- format ---------------------------------------------------------------------------------- */

typedef struct {
  char *buf;
  size_t cap, len;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (k < 0) return;
  for (int i = 0; i < k && i < (int)sizeof tmp - 1; i++) {
    if (b->len + 1 < b->cap) b->buf[b->len] = tmp[i];
    b->len++;
  }
}

/* Shortest text that reads back as the same float, Python-style ("2.0", "0.1", "1e-05"). */
static void put_float(sbuf *b, float f) {
  char t[48];
  for (int prec = 1; prec <= 9; prec++) {
    snprintf(t, sizeof t, "%.*g", prec, (double)f);
    if (strtof(t, NULL) == f) break;
  }
  if (!strpbrk(t, ".eEn")) strcat(t, ".0");
  put(b, "%s", t);
}

static void put_value(sbuf *b, const tq_quantizer *q, const param *pa) {
  switch (pa->type) {
    case T_FIXED: put(b, "%s", pa->fixed_text); return;
    case T_INT:
      put(b, "%d", pa->bit == TQ_ARG_BITS ? q->bits
                   : pa->bit == TQ_ARG_INTEGER ? q->integer
                                               : q->number_of_unrolls);
      return;
    case T_AXIS:
      if (q->scale_axis < 0) put(b, "None");
      else put(b, "%d", q->scale_axis);
      return;
    case T_BOOL: {
      int v = pa->bit == TQ_ARG_SYMMETRIC       ? q->symmetric
              : pa->bit == TQ_ARG_KEEP_NEGATIVE ? q->keep_negative
              : pa->bit == TQ_ARG_STOCHASTIC    ? q->stochastic
              : pa->bit == TQ_ARG_USE_STE       ? q->use_ste
                                                : q->use_01;
      int as_int = (q->given & pa->bit) ? !(q->pybool & pa->bit) : pa->bool_int;
      if (as_int) put(b, "%d", v ? 1 : 0);
      else put(b, "%s", v ? "True" : "False");
      return;
    }
    case T_ALPHA:
    case T_ALPHA_STR:
      switch (q->alpha_mode) {
        case TQ_ALPHA_NONE: put(b, "None"); return;
        case TQ_ALPHA_VALUE: put_float(b, q->alpha); return;
        case TQ_ALPHA_AUTO: put(b, "'auto'"); return;
        case TQ_ALPHA_AUTO_PO2: put(b, "'auto_po2'"); return;
      }
      return;
    case T_FLOAT: put_float(b, q->qnoise_factor); return;
    case T_OPT_FLOAT:
      if (pa->bit == TQ_ARG_MAX_VALUE) {
        if (q->has_max_value) put_float(b, q->max_value);
        else put(b, "None");
      } else {
        if (q->has_threshold) put_float(b, q->threshold);
        else put(b, "None");
      }
      return;
  }
}

size_t tq_quantizer_format(const tq_quantizer *q, char *buf, size_t n) {
  sbuf b = {buf, n, 0};
  const qspec *sp = spec_of(q->kind);
  if (!sp) {
    put(&b, "None");
  } else {
    tq_quantizer def;
    tq_quantizer_init(&def, q->kind);
    unsigned rel = tq_qrelevant(q->kind), printed = q->given & rel;
    for (unsigned bit = 1; bit <= TQ_ARG_UNROLLS; bit <<= 1)
      if ((rel & bit) && !tq_qfield_equal(q, &def, bit)) printed |= bit;
    int npos = q->npositional;
    if (npos < 0) npos = 0;
    if (npos > sp->npos) npos = sp->npos;
    if (q->given == 0) { /* built in code: QKeras' __str__ style, leading arguments positional */
      printed |= sp->mandatory;
      npos = 0;
      while (npos < sp->extend_cap && sp->params[npos].bit && (printed & sp->params[npos].bit))
        npos++;
    }
    put(&b, "%s(", sp->name);
    int first = 1;
    for (int i = 0; i < npos; i++) {
      if (!first) put(&b, ",");
      put_value(&b, q, &sp->params[i]);
      first = 0;
    }
    for (int i = npos; i < sp->nparams; i++) {
      const param *pa = &sp->params[i];
      if (!pa->bit || !(printed & pa->bit)) continue;
      if (!first) put(&b, ",");
      put(&b, "%s=", pa->name);
      put_value(&b, q, pa);
      first = 0;
    }
    put(&b, ")");
  }
  if (n) b.buf[b.len < n ? b.len : n - 1] = 0;
  return b.len;
}
