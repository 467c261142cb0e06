/* A small option parser shared by the subcommands: `--key value`, `--key=value`, flags, and
 * positional arguments. Unknown options are errors. */
#ifndef TINYQ_CLI_ARGS_H
#define TINYQ_CLI_ARGS_H

typedef struct {
  const char *name;  /* without the leading dashes */
  int takes_value;   /* 0 = flag */
  const char *value; /* after parsing: the value, "1" for a given flag, NULL if absent */
} tq_opt;

/* Returns 0, or prints the error and returns the exit code. positional receives up to
 * max_positional arguments. */
int tq_args_parse(const char *cmd, int argc, char **argv, tq_opt *opts, int nopts,
                  const char **positional, int max_positional, int *npositional);
const char *tq_args_get(const tq_opt *opts, int nopts, const char *name);
/* Numeric getters print "tinyq: error: --name: ..." and return nonzero on a bad value. */
int tq_args_int(const tq_opt *opts, int nopts, const char *name, int min, int max, int *out);
int tq_args_double(const tq_opt *opts, int nopts, const char *name, double min, double max,
                   double *out);
int tq_args_wants_help(int argc, char **argv);
/* "HxWxC" or "N" */
int tq_args_shape(const char *s, int *h, int *w, int *c);

#endif
