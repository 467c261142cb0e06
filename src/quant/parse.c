/* QKeras quantizer strings (SPEC §1.4): parser and printer.
 *
 *   string   := ws name ws [ '(' ws [ arg (ws ',' ws arg)* ws [','] ] ws ')' ] ws
 *   arg      := [ identifier ws '=' ws ] value
 *   value    := int | float | True | False | None | 'text' | "text"
 *
 * Each kind's constructor arguments come from the kind table (kinds.c), in QKeras' order; the
 * first `npos` may be given positionally. Arguments tinyq accepts only at their QKeras default
 * ("fixed") are checked and then dropped. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant/kinds.h"

/* ---- errors ---------------------------------------------------------------------------------- */

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

/* ---- scanning -------------------------------------------------------------------------------- */

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

static const char *type_expect(const tq_qparam *pa) {
  if (!pa->arg) return pa->fixed_text;
  switch (tq_qarg_of(pa->arg)->type) {
    case TQ_QV_INT: return "an integer";
    case TQ_QV_BOOL: return "a boolean (True, False, 0 or 1)";
    case TQ_QV_FLOAT: return "a number";
    case TQ_QV_ALPHA:
      return pa->auto_only ? "'auto' or 'auto_po2'" : "None, a number, 'auto' or 'auto_po2'";
    case TQ_QV_AXIS: return "None or an axis index >= 0";
    case TQ_QV_OPT_FLOAT: return "None or a number";
  }
  return "a value";
}

/* The setters below return 1 (stored), 0 (error written to err) or -1 (a value of the wrong
 * type: the caller says what was expected). got: the value as shown in messages. */

static int set_int(tq_quantizer *q, const tq_qparam *pa, const value *v, const char *got,
                   char *err, size_t errn) {
  const tq_qarg *a = tq_qarg_of(pa->arg);
  if (a->type == TQ_QV_AXIS && v->k == V_NONE) {
    tq_qarg_set_int(q, a, -1);
    return 1;
  }
  if (v->k != V_INT) return -1;
  long long lo = (long long)pa->lo, hi = (long long)pa->hi;
  if (v->i < lo || v->i > hi) {
    snprintf(err, errn, "must be between %lld and %lld, got %s", lo, hi, got);
    return 0;
  }
  tq_qarg_set_int(q, a, (int)v->i);
  return 1;
}

static int set_bool(tq_quantizer *q, const tq_qparam *pa, const value *v) {
  int b;
  if (v->k == V_TRUE) b = 1;
  else if (v->k == V_FALSE) b = 0;
  else if (v->k == V_INT && (v->i == 0 || v->i == 1)) b = (int)v->i;
  else return -1;
  if (v->k == V_INT) q->pybool &= ~pa->arg;
  else q->pybool |= pa->arg;
  tq_qarg_set_int(q, tq_qarg_of(pa->arg), b);
  return 1;
}

/* FLOAT, OPT_FLOAT and ALPHA: None, 'auto'/'auto_po2' and numbers, where the argument takes them */
static int set_number(tq_quantizer *q, const tq_qparam *pa, const value *v, const char *got,
                      char *err, size_t errn) {
  const tq_qarg *a = tq_qarg_of(pa->arg);
  const int alpha = a->type == TQ_QV_ALPHA;
  if (v->k == V_STR && alpha) {
    if (slice_is(v->s, v->slen, "auto")) q->alpha_mode = TQ_ALPHA_AUTO;
    else if (slice_is(v->s, v->slen, "auto_po2")) q->alpha_mode = TQ_ALPHA_AUTO_PO2;
    else return -1;
    q->alpha = 0.0f;
    return 1;
  }
  if (v->k == V_NONE && a->type != TQ_QV_FLOAT && !pa->auto_only) {
    if (alpha) q->alpha_mode = TQ_ALPHA_NONE, q->alpha = 0.0f;
    else tq_qarg_set_opt(q, a, 0, 0.0f);
    return 1;
  }
  if (!(v->k == V_INT || v->k == V_FLOAT) || pa->auto_only) return -1;
  if (fabs(v->f) > FLT_MAX) {
    snprintf(err, errn, "number %s is out of range for float32", got);
    return 0;
  }
  float f = (float)v->f;
  if (!alpha && (v->f < pa->lo || v->f > pa->hi)) {
    if (pa->hi >= FLT_MAX)
      snprintf(err, errn, "must be >= %g, got %s", pa->lo, got);
    else
      snprintf(err, errn, "must be between %g and %g, got %s", pa->lo, pa->hi, got);
    return 0;
  }
  if (alpha) q->alpha_mode = TQ_ALPHA_VALUE, q->alpha = f;
  else if (a->type == TQ_QV_OPT_FLOAT) tq_qarg_set_opt(q, a, 1, f);
  else tq_qarg_set_float(q, a, f);
  return 1;
}

/* an argument tinyq supports only at its QKeras default */
static int check_fixed(const tq_qparam *pa, const value *v, const char *got, char *err,
                       size_t errn) {
  int is_num = v->k == V_INT || v->k == V_FLOAT, ok = 0;
  switch (pa->fixed) {
    case TQ_QFX_FALSE: ok = v->k == V_FALSE || (v->k == V_INT && v->i == 0); break;
    case TQ_QFX_TRUE: ok = v->k == V_TRUE || (v->k == V_INT && v->i == 1); break;
    case TQ_QFX_ZERO: ok = v->k == V_FALSE || (is_num && v->f == 0.0); break;
    case TQ_QFX_NONE: ok = v->k == V_NONE; break;
    case TQ_QFX_RND: ok = v->k == V_STR && slice_is(v->s, v->slen, "rnd"); break;
  }
  if (ok) return 1;
  snprintf(err, errn, "only %s=%s is supported, got %s", pa->name, pa->fixed_text, got);
  return 0;
}

/* Stores v into the field of pa. On error writes the reason (without "argument N") to err. */
static int set_param(tq_quantizer *q, const tq_qparam *pa, const value *v, char *err, size_t errn) {
  char shown[128];
  const char *got = show(shown, sizeof shown, v->raw, v->rawlen);
  if ((v->k == V_INT || v->k == V_FLOAT) && v->range_error) {
    snprintf(err, errn, "number %s is out of range", got);
    return 0;
  }
  int r = -1;
  if (!pa->arg) return check_fixed(pa, v, got, err, errn);
  switch (tq_qarg_of(pa->arg)->type) {
    case TQ_QV_INT:
    case TQ_QV_AXIS: r = set_int(q, pa, v, got, err, errn); break;
    case TQ_QV_BOOL: r = set_bool(q, pa, v); break;
    case TQ_QV_FLOAT:
    case TQ_QV_OPT_FLOAT:
    case TQ_QV_ALPHA: r = set_number(q, pa, v, got, err, errn); break;
  }
  if (r >= 0) return r;
  snprintf(err, errn, "expected %s, got %s", type_expect(pa), got);
  return 0;
}

/* ---- parse ----------------------------------------------------------------------------------- */

/* "quantized_bits, quantized_bits_featuremap, ...": the kinds written with arguments */
static const char *known_names(char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = 0;
  for (int i = 0; i < TQ_Q_COUNT; i++)
    if (!tq_qkinds[i].bare && k < cap)
      k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? ", " : "", tq_qkinds[i].name);
  return buf;
}

/* The kind named at *pp; *pp moves past the name and the whitespace after it. */
static tq_status parse_name(const pctx *c, const char **pp, const tq_qkind_traits **kind) {
  char shown[128], known[256];
  const char *p = skip_ws(*pp);
  if (!*p) return perr(c, "empty quantizer string");
  if (!is_id0(*p)) {
    size_t n = strcspn(p, "(), \t\n");
    return perr(c, "expected a quantizer name, got %s", show(shown, sizeof shown, p, n ? n : 1));
  }
  const char *name = p;
  while (is_id(*p)) p++;
  size_t len = (size_t)(p - name);
  *kind = NULL;
  for (int i = 0; i < TQ_Q_COUNT; i++)
    if (slice_is(name, len, tq_qkinds[i].name)) *kind = &tq_qkinds[i];
  if (!*kind)
    return perr(c, "unknown quantizer %s (known: %s)", show(shown, sizeof shown, name, len),
                known_names(known, sizeof known));
  *pp = skip_ws(p);
  return TQ_OK;
}

typedef struct {
  const tq_qkind_traits *kind;
  int argno;       /* the argument being read, from 1 */
  int npos;        /* positional arguments so far */
  int seen_kw;     /* a keyword argument came already */
  int seen_at[16]; /* per param: the argument that gave it (0: not yet) */
} arg_state;

/* The param an argument gives: its keyword's (then *pp moves past "kw =") or the next position. */
static tq_status param_of_arg(const pctx *c, const char **pp, arg_state *s, int *pidx,
                              int *keyword) {
  char shown[128];
  const tq_qkind_traits *T = s->kind;
  const char *p = *pp, *kw = NULL, *e = p;
  if (is_id0(*p)) {
    while (is_id(*e)) e++;
    const char *r = skip_ws(e);
    if (*r == '=' && r[1] != '=') kw = p, *pp = skip_ws(r + 1);
  }
  *keyword = kw != NULL;
  if (!kw) {
    if (s->seen_kw)
      return perr(c, "argument %d: positional argument follows keyword argument", s->argno);
    if (s->npos >= T->npos)
      return perr(c, "argument %d: too many positional arguments (%s takes at most %d)",
                  s->argno, T->name, T->npos);
    *pidx = s->npos++;
    return TQ_OK;
  }
  size_t kw_len = (size_t)(e - kw);
  *pidx = -1;
  for (int i = 0; i < T->nparams; i++)
    if (slice_is(kw, kw_len, tq_qparam_name(&T->params[i]))) *pidx = i;
  if (*pidx < 0) {
    char valid[512];
    size_t k = 0;
    valid[0] = 0;
    for (int i = 0; i < T->nparams && k < sizeof valid; i++)
      k += (size_t)snprintf(valid + k, sizeof valid - k, "%s%s", i ? ", " : "",
                            tq_qparam_name(&T->params[i]));
    return perr(c, "argument %d: unknown keyword %s for %s (valid: %s)", s->argno,
                show(shown, sizeof shown, kw, kw_len), T->name, valid);
  }
  s->seen_kw = 1;
  return TQ_OK;
}

/* One argument at *pp (after the '(' or a ','): its param, its value, stored into q; *pp moves
 * to the ',' or ')' after it. */
static tq_status parse_arg(const pctx *c, const char **pp, arg_state *s, tq_quantizer *q) {
  int pidx = 0, keyword = 0;
  tq_status st = param_of_arg(c, pp, s, &pidx, &keyword);
  if (st) return st;
  const tq_qparam *pa = &s->kind->params[pidx];
  const char *pname = tq_qparam_name(pa), *p = *pp;
  if (s->seen_at[pidx])
    return perr(c, "argument %d (%s): %s given twice (also argument %d)", s->argno, pname, pname,
                s->seen_at[pidx]);
  s->seen_at[pidx] = s->argno;
  int unterminated;
  const char *e = scan_raw(p, &unterminated);
  if (!e) {
    if (unterminated) return perr(c, "argument %d (%s): unterminated string", s->argno, pname);
    return perr(c, "argument %d (%s): missing ')' at the end", s->argno, pname);
  }
  const char *raw_end = e;
  while (raw_end > p && isspace((unsigned char)raw_end[-1])) raw_end--;
  if (raw_end == p) {
    if (keyword) return perr(c, "argument %d (%s): missing value after '='", s->argno, pname);
    return perr(c, "argument %d (%s): empty argument", s->argno, pname);
  }
  value v;
  memset(&v, 0, sizeof v);
  v.raw = p, v.rawlen = (size_t)(raw_end - p);
  classify(&v);
  char why[400];
  if (!set_param(q, pa, &v, why, sizeof why))
    return perr(c, "argument %d (%s): %s", s->argno, pname, why);
  q->given |= pa->arg;
  *pp = e;
  return TQ_OK;
}

/* The argument list after the '(' at *pp, up to and including the ')'. */
static tq_status parse_args(const pctx *c, const char **pp, const tq_qkind_traits *T,
                            tq_quantizer *q) {
  arg_state s = {.kind = T};
  const char *p = *pp + 1;
  for (;;) {
    p = skip_ws(p);
    if (*p == ')') break;
    if (!*p) return perr(c, "missing ')' at the end");
    s.argno++;
    tq_status st = parse_arg(c, &p, &s, q);
    if (st) return st;
    if (*p == ',') p++;
  }
  q->npositional = s.npos;
  *pp = p + 1;
  return TQ_OK;
}

tq_status tq_quantizer_parse(tq_quantizer *out, const char *str) {
  pctx c;
  char shown[128];
  c.src = str ? str : "";
  quote_input(&c);
  const char *p = c.src;
  const tq_qkind_traits *T;
  tq_status st = parse_name(&c, &p, &T);
  if (st) return st;
  if (T->bare && *p)
    return perr(&c, "unexpected %s after %s", show(shown, sizeof shown, p, strlen(p)), T->name);
  tq_quantizer q;
  tq_quantizer_init(&q, (tq_qkind)(T - tq_qkinds));
  if (*p && *p != '(')
    return perr(&c, "unexpected %s after the name %s", show(shown, sizeof shown, p, strlen(p)),
                T->name);
  if (*p == '(') {
    if ((st = parse_args(&c, &p, T, &q))) return st;
    p = skip_ws(p);
    if (*p) return perr(&c, "unexpected %s after ')'", show(shown, sizeof shown, p, strlen(p)));
  }
  if (tq_quantizer_validate(&q) != TQ_OK) {
    char why[600]; /* perr formats into tq_last_error's buffer */
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

static void put_value(sbuf *b, const tq_quantizer *q, const tq_qparam *pa) {
  if (!pa->arg) {
    put(b, "%s", pa->fixed_text);
    return;
  }
  const tq_qarg *a = tq_qarg_of(pa->arg);
  switch (a->type) {
    case TQ_QV_INT: put(b, "%d", tq_qarg_get_int(q, a)); return;
    case TQ_QV_AXIS:
      if (tq_qarg_get_int(q, a) < 0) put(b, "None");
      else put(b, "%d", tq_qarg_get_int(q, a));
      return;
    case TQ_QV_BOOL: {
      int v = tq_qarg_get_int(q, a);
      int as_int = (q->given & pa->arg) ? !(q->pybool & pa->arg) : a->bool_int;
      if (as_int) put(b, "%d", v ? 1 : 0);
      else put(b, "%s", v ? "True" : "False");
      return;
    }
    case TQ_QV_ALPHA:
      switch (q->alpha_mode) {
        case TQ_ALPHA_NONE: put(b, "None"); return;
        case TQ_ALPHA_VALUE: put_float(b, q->alpha); return;
        case TQ_ALPHA_AUTO: put(b, "'auto'"); return;
        case TQ_ALPHA_AUTO_PO2: put(b, "'auto_po2'"); return;
      }
      return;
    case TQ_QV_FLOAT: put_float(b, tq_qarg_get_float(q, a)); return;
    case TQ_QV_OPT_FLOAT:
      if (tq_qarg_get_given(q, a)) put_float(b, tq_qarg_get_float(q, a));
      else put(b, "None");
      return;
  }
}

/* The arguments to print (given, or different from the default) and how many positionally. */
static unsigned printed_args(const tq_quantizer *q, const tq_qkind_traits *T, int *npos) {
  tq_quantizer def;
  tq_quantizer_init(&def, q->kind);
  unsigned rel = tq_qrelevant(q->kind), printed = q->given & rel;
  for (unsigned bit = 1; bit <= TQ_ARG_UNROLLS; bit <<= 1)
    if ((rel & bit) && !tq_qarg_equal(q, &def, bit)) printed |= bit;
  *npos = q->npositional < 0 ? 0 : q->npositional > T->npos ? T->npos : q->npositional;
  if (q->given == 0) { /* built in code: QKeras' __str__ style, leading arguments positional */
    printed |= T->print_always;
    *npos = 0;
    while (*npos < T->print_npos && T->params[*npos].arg && (printed & T->params[*npos].arg))
      (*npos)++;
  }
  return printed;
}

size_t tq_quantizer_format(const tq_quantizer *q, char *buf, size_t n) {
  sbuf b = {buf, n, 0};
  const tq_qkind_traits *T = tq_qkind_get(q->kind);
  if (T->bare) {
    put(&b, "%s", T->name);
  } else {
    int npos;
    unsigned printed = printed_args(q, T, &npos);
    put(&b, "%s(", T->name);
    for (int i = 0, first = 1; i < T->nparams; i++) {
      const tq_qparam *pa = &T->params[i];
      if (i >= npos && !(pa->arg & printed)) continue; /* keywords: printed arguments only */
      if (!first) put(&b, ",");
      if (i >= npos) put(&b, "%s=", tq_qparam_name(pa));
      put_value(&b, q, pa);
      first = 0;
    }
    put(&b, ")");
  }
  if (n) b.buf[b.len < n ? b.len : n - 1] = 0;
  return b.len;
}
