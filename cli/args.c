#include "args.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tinyq/core.h"
#include "tinyq/data.h"
#include "tinyq/zoo.h"

#define HELP_WIDTH 100

static int is_option(const tq_arg *d) { return d->name && !(d->flags & TQ_ARG_POSITIONAL); }

static const tq_arg *row_named(const tq_command *c, const char *name, size_t len) {
  for (int k = 0; k < c->nargs; k++)
    if (is_option(&c->args[k]) && strlen(c->args[k].name) == len && !strncmp(c->args[k].name, name, len))
      return &c->args[k];
  return NULL;
}

const char *tq_args_given(const tq_command *c, const tq_argv *a, const char *name) {
  const tq_arg *d = row_named(c, name, strlen(name));
  TQ_ASSERT(d);
  return a->given[d - c->args];
}

int tq_args_missing(const tq_command *c, const char *name) {
  const tq_arg *d = row_named(c, name, strlen(name));
  TQ_ASSERT(d);
  return tq_cli_usage_error("%s: --%s %s is required", c->name, name, d->meta);
}

/* --max-memory SIZE (tq_mem_limit): an environment limit, not a setting of a run, so --resume
 * accepts it too. */
static int set_memory_limit(const tq_command *c, const char *v) {
  size_t bytes;
  if (!v) return tq_cli_usage_error("%s: --max-memory needs a value", c->name);
  if (tq_parse_size(v, &bytes)) return tq_cli_usage_error("--max-memory: %s", tq_last_error());
  tq_mem_set_limit(bytes);
  return 0;
}

int tq_args_help_asked(const tq_command *c, int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      tq_args_help(c, stdout);
      return 1;
    }
  return 0;
}

/* One "--name[=value]" at argv[*i]; a value may be the next argument. */
static int parse_option(const tq_command *c, int argc, char **argv, int *i, tq_argv *a) {
  const char *name = argv[*i] + 2, *eq = strchr(name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen(name);
  const tq_arg *d = row_named(c, name, len);
  if (!d && len == 10 && !strncmp(name, "max-memory", len))
    return set_memory_limit(c, eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL));
  if (!d)
    return tq_cli_usage_error("%s: unknown option '--%.*s' (see tinyq %s --help)", c->name, (int)len, name,
                              c->name);
  const char **v = &a->given[d - c->args];
  if (d->type == TQ_ARG_FLAG) {
    if (eq) return tq_cli_usage_error("%s: --%s takes no value", c->name, d->name);
    *v = "1";
  } else if (eq) {
    *v = eq + 1;
  } else {
    if (*i + 1 >= argc) return tq_cli_usage_error("%s: --%s needs a value", c->name, d->name);
    /* "--lr --out X": the value is missing, not X unexpected */
    if (!strncmp(argv[*i + 1], "--", 2) && argv[*i + 1][2])
      return tq_cli_usage_error("%s: --%s needs a value, got the option '%s'", c->name, d->name, argv[*i + 1]);
    *v = argv[++*i];
  }
  return 0;
}

/* The next positional row after row k (-1: from the start), or -1 when there is none. */
static int next_positional(const tq_command *c, int k) {
  for (k++; k < c->nargs; k++)
    if (c->args[k].flags & TQ_ARG_POSITIONAL) return k;
  return -1;
}

static int check_required(const tq_command *c, const tq_argv *a) {
  for (int k = 0; k < c->nargs; k++) {
    const tq_arg *d = &c->args[k];
    if (!(d->flags & TQ_ARG_REQUIRED) || a->given[k]) continue;
    if (d->flags & TQ_ARG_POSITIONAL)
      return tq_cli_usage_error("%s: expected %s (see tinyq %s --help)", c->name, d->what, c->name);
    return tq_args_missing(c, d->name);
  }
  return 0;
}

int tq_args_parse(const tq_command *c, int argc, char **argv, tq_argv *a, int *exit_code) {
  TQ_ASSERT(c->nargs <= TQ_ARGS_MAX);
  memset(a, 0, sizeof *a);
  *exit_code = 0;
  if (tq_args_help_asked(c, argc, argv)) return 1;
  for (int i = 1, pos = next_positional(c, -1); i < argc && !*exit_code; i++) {
    const char *s = argv[i];
    if (!strncmp(s, "--", 2) && s[2]) {
      *exit_code = parse_option(c, argc, argv, &i, a);
    } else if (pos >= 0) {
      a->given[pos] = s;
      pos = next_positional(c, pos);
    } else {
      *exit_code = tq_cli_usage_error("%s: unexpected argument '%s' (see tinyq %s --help)", c->name, s, c->name);
    }
  }
  if (!*exit_code) *exit_code = check_required(c, a);
  return *exit_code != 0;
}

/* ---- values ------------------------------------------------------------------------------------ */

static void set_int(void *field, size_t size, long v) {
  TQ_ASSERT(size == sizeof(int) || size == sizeof(long));
  if (size == sizeof(int)) *(int *)field = (int)v;
  else *(long *)field = v;
}

static long get_int(const void *field, size_t size) {
  return size == sizeof(int) ? *(const int *)field : *(const long *)field;
}

/* "a|b|c" has v as one of its choices */
static int is_choice(const char *choices, const char *v) {
  size_t n = strlen(v);
  for (const char *p = choices; n; p++) {
    if (!strncmp(p, v, n) && (p[n] == '|' || !p[n])) return 1;
    if (!(p = strchr(p, '|'))) return 0;
  }
  return 0;
}

/* "--name: expected a, b or c, got 'v'" */
static int choice_error(const tq_arg *d, const char *v) {
  char list[256] = "";
  for (const char *p = d->meta; *p;) {
    size_t w = strcspn(p, "|");
    const char *sep = !*list ? "" : p[w] ? ", " : " or ";
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%.*s", sep, (int)w, p);
    p += w + (p[w] != 0);
  }
  return tq_cli_usage_error("--%s: expected %s, got '%s'", d->name, list, v);
}

static int set_text(char *field, size_t size, const char *v) {
  if (strlen(v) >= size) return 1;
  memcpy(field, v, strlen(v) + 1);
  return 0;
}

static int store_int(const tq_arg *d, const char *v, void *field) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (d->word && !strcmp(v, d->word)) {
    x = d->word_value;
  } else if (errno || end == v || *end || x < d->min || x > d->max) {
    const char *what = d->what ? d->what : "an integer";
    if (d->word)
      return tq_cli_usage_error("--%s: expected %s in %.0f..%.0f or '%s', got '%s'", d->name, what, d->min, d->max,
                                d->word, v);
    return tq_cli_usage_error("--%s: expected %s in %.0f..%.0f, got '%s'", d->name, what, d->min, d->max, v);
  }
  set_int(field, d->size, x);
  return 0;
}

/* One option's text into its field. */
static int store_one(const tq_arg *d, const char *v, void *field) {
  switch (d->type) {
    case TQ_ARG_INT: return store_int(d, v, field);
    case TQ_ARG_FLOAT: {
      char *end;
      double x = strtod(v, &end);
      TQ_ASSERT(d->size == sizeof(double));
      if (end == v || *end || !isfinite(x) || x < d->min || x > d->max)
        return tq_cli_usage_error("--%s: expected a number in [%g, %g], got '%s'", d->name, d->min, d->max, v);
      *(double *)field = x;
      return 0;
    }
    case TQ_ARG_ENUM:
      if (!is_choice(d->meta, v)) return choice_error(d, v);
      /* fall through */
    case TQ_ARG_STRING:
      if (set_text(field, d->size, v))
        return tq_cli_usage_error("--%s: longer than %zu characters", d->name, d->size - 1);
      return 0;
    case TQ_ARG_FLAG:
      set_int(field, d->size, 1);
      return 0;
    case TQ_ARG_SHAPE: {
      tq_shape3 s;
      TQ_ASSERT(d->size == sizeof s);
      if (!tq_args_shape(v, &s.h, &s.w, &s.c))
        return tq_cli_usage_error("--%s: expected HxWxC (e.g. 28x28x1) or N, got '%s'", d->name, v);
      memcpy(field, &s, sizeof s);
      return 0;
    }
  }
  return 0;
}

int tq_args_store(const tq_command *c, const tq_argv *a, void *settings, int with_defaults) {
  for (int k = 0; k < c->nargs; k++) {
    const tq_arg *d = &c->args[k];
    const char *v = a->given[k] ? a->given[k] : with_defaults ? d->def : NULL;
    if (v && d->size && store_one(d, v, (char *)settings + d->off)) return 2;
  }
  return 0;
}

int tq_args_run(const tq_command *c, int argc, char **argv) {
  void *settings = calloc(1, c->settings_size);
  if (!settings) return tq_cli_error("%s: out of memory", c->name);
  if (c->preset) c->preset(settings);
  tq_argv a;
  int rc;
  if (!tq_args_parse(c, argc, argv, &a, &rc) && !(rc = tq_args_store(c, &a, settings, 1))) rc = c->run(settings);
  free(settings);
  return rc;
}

int tq_args_check_resume(const tq_command *c, const tq_argv *a, const char *resume_name) {
  int total = 0, n = 0;
  for (int k = 0; k < c->nargs; k++) total += (c->args[k].flags & TQ_ARG_RESUMABLE) != 0;
  char allowed[256] = ""; /* "--a, --b and --c" */
  for (int k = 0; k < c->nargs; k++) {
    if (!(c->args[k].flags & TQ_ARG_RESUMABLE)) continue;
    const char *sep = n == 0 ? "" : n + 1 == total ? " and " : ", ";
    snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s--%s", sep, c->args[k].name);
    n++;
  }
  for (int k = 0; k < c->nargs; k++)
    if (a->given[k] && !(c->args[k].flags & TQ_ARG_RESUMABLE) && strcmp(c->args[k].name, resume_name))
      return tq_cli_usage_error("%s: --%s cannot be changed when resuming (only %s)", c->name, c->args[k].name,
                                allowed);
  return 0;
}

/* ---- --help ------------------------------------------------------------------------------------ */

const char *tq_args_model_list(char *buf, size_t n, const char *sep) {
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < tq_zoo_count() && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? sep : "", tq_zoo_get(i)->name);
  return buf;
}

/* The help text with {models} and {datasets} replaced and the default appended. */
static void expand_help(const tq_arg *d, char *out, size_t n) {
  char models[256], datasets[256];
  tq_args_model_list(models, sizeof models, " | ");
  tq_dataset_source_list(datasets, sizeof datasets, " | ");
  size_t used = 0;
  for (const char *p = d->help ? d->help : ""; *p && used + 1 < n;) {
    const char *sub = !strncmp(p, "{models}", 8) ? models : !strncmp(p, "{datasets}", 10) ? datasets : NULL;
    if (sub) {
      used += (size_t)snprintf(out + used, n - used, "%s", sub);
      p += sub == models ? 8 : 10;
    } else {
      out[used++] = *p++;
    }
  }
  if (used < n) out[used] = 0;
  if (d->def && used + 1 < n) snprintf(out + used, n - used, "%s(%s)", used ? " " : "", d->def);
}

/* Prints words of text from column `col` (the cursor is there), wrapping at HELP_WIDTH. */
static void print_wrapped(FILE *out, const char *text, int col) {
  int x = col;
  for (const char *p = text; *p;) {
    size_t w = strcspn(p, " ");
    if (x > col && x + 1 + (int)w > HELP_WIDTH) {
      fprintf(out, "\n%*s", col, "");
      x = col;
    } else if (x > col) {
      fputc(' ', out);
      x++;
    }
    fprintf(out, "%.*s", (int)w, p);
    x += (int)w;
    p += w;
    while (*p == ' ') p++;
  }
  fputc('\n', out);
}

/* "  --name META, --name2 META2": a row and the rows listed on its line; *k moves past them. */
static int option_label(const tq_command *c, int *k, char *out, size_t n) {
  int len = 0;
  for (;;) {
    const tq_arg *d = &c->args[*k];
    len += snprintf(out + len, n - (size_t)len, "%s--%s%s%s", len ? ", " : "  ", d->name, d->meta ? " " : "",
                    d->meta ? d->meta : "");
    if (len >= (int)n || *k + 1 >= c->nargs || !(c->args[*k + 1].flags & TQ_ARG_SAME_LINE)) break;
    ++*k;
  }
  return len < (int)n ? len : (int)n - 1;
}

static int shown(const tq_arg *d) { return is_option(d) && !(d->flags & (TQ_ARG_HIDDEN | TQ_ARG_SAME_LINE)); }

/* The help texts start one column after the longest label, at most at column 24; longer labels
 * stand on a line of their own. */
static int help_column(const tq_command *c) {
  int col = 0;
  char label[256];
  for (int k = 0; k < c->nargs; k++) {
    if (!shown(&c->args[k])) continue;
    int len = option_label(c, &k, label, sizeof label) + 1;
    col = len > col ? len : col;
  }
  return col < 24 ? col : 24;
}

void tq_args_help(const tq_command *c, FILE *out) {
  int col = help_column(c);
  char label[256], text[1024];
  fprintf(out, "%s\n", c->usage);
  for (int k = 0; k < c->nargs; k++) {
    const tq_arg *d = &c->args[k];
    if (!d->name) fprintf(out, "%s\n", d->help);
    if (!shown(d)) continue;
    int len = option_label(c, &k, label, sizeof label);
    if (len + 1 > col)
      fprintf(out, "%s\n%*s", label, col, "");
    else
      fprintf(out, "%s%*s", label, col - len, "");
    expand_help(d, text, sizeof text);
    print_wrapped(out, text, col);
  }
}

/* ---- settings JSON ----------------------------------------------------------------------------- */

static int json_group(tq_arg_type t) {
  switch (t) {
    case TQ_ARG_STRING:
    case TQ_ARG_ENUM:
    case TQ_ARG_SHAPE: return 0;
    case TQ_ARG_INT:
    case TQ_ARG_FLAG: return 1;
    case TQ_ARG_FLOAT: return 2;
  }
  return 0;
}

static void add_json(const tq_arg *d, const void *field, cJSON *obj) {
  switch (d->type) {
    case TQ_ARG_STRING:
    case TQ_ARG_ENUM: cJSON_AddStringToObject(obj, d->key, field); break;
    case TQ_ARG_SHAPE: {
      const tq_shape3 *s = field;
      char buf[64];
      snprintf(buf, sizeof buf, "%dx%dx%d", s->h, s->w, s->c);
      cJSON_AddStringToObject(obj, d->key, buf);
      break;
    }
    case TQ_ARG_INT: cJSON_AddNumberToObject(obj, d->key, (double)get_int(field, d->size)); break;
    case TQ_ARG_FLAG: cJSON_AddBoolToObject(obj, d->key, get_int(field, d->size) != 0); break;
    case TQ_ARG_FLOAT: cJSON_AddNumberToObject(obj, d->key, *(const double *)field); break;
  }
}

void tq_args_to_json(const tq_command *c, const void *settings, cJSON *obj) {
  for (int group = 0; group < 3; group++)
    for (int k = 0; k < c->nargs; k++) {
      const tq_arg *d = &c->args[k];
      if (d->key && json_group(d->type) == group) add_json(d, (const char *)settings + d->off, obj);
    }
}

int tq_args_json_number(const cJSON *obj, const char *key, double lo, double hi, double *out, const char *where) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
    return tq_cli_error("%s setting '%s' is %s, expected a number in %g..%g", where, key,
                        cJSON_IsNumber(v) ? "out of range" : (v ? "not a number" : "missing"), lo, hi);
  *out = v->valuedouble;
  return 0;
}

/* One saved value into its field; the ranges are the option's, widened by its word and by 0 where
 * 0 means "not given". */
static int from_json_one(const tq_arg *d, const cJSON *obj, void *field, const char *where) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, d->key);
  const char *text = cJSON_GetStringValue(item);
  double lo = d->min, hi = d->max, x = 0;
  switch (d->type) {
    case TQ_ARG_STRING:
    case TQ_ARG_ENUM:
    case TQ_ARG_SHAPE:
      if (!text) text = "";
      if (d->type == TQ_ARG_SHAPE) return *text && store_one(d, text, field);
      if (set_text(field, d->size, text))
        return tq_cli_error("%s setting '%s' is longer than %zu characters", where, d->key, d->size - 1);
      if (d->type == TQ_ARG_ENUM && *text && !is_choice(d->meta, text))
        return tq_cli_error("%s setting '%s' is '%s', expected one of %s", where, d->key, text, d->meta);
      return 0;
    case TQ_ARG_FLAG: set_int(field, d->size, cJSON_IsTrue(item)); return 0;
    case TQ_ARG_INT:
    case TQ_ARG_FLOAT:
      if (!item && (d->flags & TQ_ARG_KEY_OPTIONAL)) return 0;
      if (d->word) lo = fmin(lo, d->word_value), hi = fmax(hi, d->word_value);
      if (d->flags & TQ_ARG_ZERO_OFF) lo = fmin(lo, 0);
      if (tq_args_json_number(obj, d->key, lo, hi, &x, where)) return 1;
      if (d->type == TQ_ARG_INT) set_int(field, d->size, (long)x);
      else *(double *)field = x;
      return 0;
  }
  return 0;
}

int tq_args_from_json(const tq_command *c, const cJSON *obj, void *settings, const char *where) {
  for (int k = 0; k < c->nargs; k++) {
    const tq_arg *d = &c->args[k];
    if (d->key && from_json_one(d, obj, (char *)settings + d->off, where)) return 1;
  }
  return 0;
}

int tq_args_shape(const char *s, int *h, int *w, int *c) {
  int n = sscanf(s, "%dx%dx%d", h, w, c);
  char tail[2];
  if (n == 3 && sscanf(s, "%*dx%*dx%*d%1s", tail) != 1) return *h > 0 && *w > 0 && *c > 0;
  if (n == 1 && !strchr(s, 'x')) {
    *c = *h;
    *h = *w = 1;
    return *c > 0;
  }
  return 0;
}
