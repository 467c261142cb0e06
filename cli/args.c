#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tinyq/core.h"

int tq_args_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  return 0;
}

int tq_args_parse(const char *cmd, int argc, char **argv, tq_opt *opts, int nopts,
                  const char **positional, int max_positional, int *npositional) {
  *npositional = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
      if (*npositional >= max_positional)
        return tq_cli_usage_error("%s: unexpected argument '%s' (see tinyq %s --help)", cmd, a, cmd);
      positional[(*npositional)++] = a;
      continue;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    tq_opt *o = NULL;
    for (int k = 0; k < nopts; k++)
      if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len)) o = &opts[k];
    if (!o && len == 10 && !strncmp(name, "max-memory", len)) {
      /* every command's memory budget (tq_mem_limit): an environment limit, not a setting of
       * the run, so --resume accepts it too */
      const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
      size_t bytes;
      if (!v) return tq_cli_usage_error("%s: --max-memory needs a value", cmd);
      if (tq_parse_size(v, &bytes)) return tq_cli_usage_error("--max-memory: %s", tq_last_error());
      tq_mem_set_limit(bytes);
      continue;
    }
    if (!o)
      return tq_cli_usage_error("%s: unknown option '--%.*s' (see tinyq %s --help)", cmd, (int)len,
                                name, cmd);
    if (!o->takes_value) {
      if (eq) return tq_cli_usage_error("%s: --%s takes no value", cmd, o->name);
      o->value = "1";
    } else if (eq) {
      o->value = eq + 1;
    } else {
      if (i + 1 >= argc) return tq_cli_usage_error("%s: --%s needs a value", cmd, o->name);
      /* "--lr --out X": the value is missing, not X unexpected */
      if (!strncmp(argv[i + 1], "--", 2) && argv[i + 1][2])
        return tq_cli_usage_error("%s: --%s needs a value, got the option '%s'", cmd, o->name, argv[i + 1]);
      o->value = argv[++i];
    }
  }
  return 0;
}

const char *tq_args_get(const tq_opt *opts, int nopts, const char *name) {
  for (int k = 0; k < nopts; k++)
    if (!strcmp(opts[k].name, name)) return opts[k].value;
  return NULL;
}

int tq_args_int(const tq_opt *opts, int nopts, const char *name, int min, int max, int *out) {
  const char *v = tq_args_get(opts, nopts, name);
  if (!v) return 0;
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < min || x > max)
    return tq_cli_usage_error("--%s: expected an integer in %d..%d, got '%s'", name, min, max, v);
  *out = (int)x;
  return 0;
}

int tq_args_double(const tq_opt *opts, int nopts, const char *name, double min, double max,
                   double *out) {
  const char *v = tq_args_get(opts, nopts, name);
  if (!v) return 0;
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || !isfinite(x) || x < min || x > max)
    return tq_cli_usage_error("--%s: expected a number in [%g, %g], got '%s'", name, min, max, v);
  *out = x;
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
