/* Command-line options declared once. Each command has one table of tq_arg rows (name, type,
 * range, default, help text, settings-JSON key, the field that receives the value); the table
 * drives parsing (`--key value`, `--key=value`, flags, positional arguments; unknown options are
 * errors), --help, the range checks, the settings JSON a run directory keeps and --resume's rule
 * about which options may still be given. */
#ifndef TINYQ_CLI_ARGS_H
#define TINYQ_CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>

struct cJSON;

typedef enum {
  TQ_ARG_INT,    /* int (or long) field; min..max, and `word` if set */
  TQ_ARG_FLOAT,  /* double field; finite, min..max */
  TQ_ARG_STRING, /* char array field; "" when absent */
  TQ_ARG_ENUM,   /* char array field; one of the '|'-separated choices in meta */
  TQ_ARG_FLAG,   /* int field: 1 when given; takes no value */
  TQ_ARG_SHAPE   /* tq_shape3 field: "HxWxC" or "N" (a vector: 1x1xN) */
} tq_arg_type;

enum {
  TQ_ARG_RESUMABLE = 1 << 0, /* may be given with --resume (the rest of a run is fixed) */
  TQ_ARG_HIDDEN = 1 << 1,    /* left out of --help (tests and benchmarks) */
  TQ_ARG_ZERO_OFF = 1 << 2,  /* INT, FLOAT: 0 in the settings means "not given" (saved settings hold it) */
  TQ_ARG_KEY_OPTIONAL = 1 << 3, /* settings saved before the option existed lack its key: the
                                 * field then keeps what the caller preset */
  TQ_ARG_SAME_LINE = 1 << 4,    /* --help lists it on the line of the row before ("--a X, --b Y") */
  TQ_ARG_POSITIONAL = 1 << 5,   /* a positional argument (name: its placeholder), in table order */
  TQ_ARG_REQUIRED = 1 << 6,     /* must be given */
};

typedef struct {
  const char *name; /* without the dashes; NULL: a line of --help (help is its text) */
  tq_arg_type type;
  const char *meta; /* the value's placeholder in --help ("N", "SPEC"); ENUM: "a|b|c", the choices */
  const char *help; /* one paragraph, wrapped by --help; {models} and {datasets} become the zoo's
                     * and the dataset registry's lists */
  const char *def;  /* the default as it would be written on the command line, shown in --help as
                     * "(def)"; NULL: none, or one the command sets before tq_args_store */
  double min, max;  /* INT, FLOAT */
  const char *word; /* INT: a word accepted for word_value ("never") */
  int word_value;
  const char *what; /* INT: what the number is, for errors ("an epoch"); NULL: "an integer".
                     * A required positional argument: what is missing ("one MODEL_FILE") */
  const char *key;  /* key in the run's settings JSON (tq_args_to_json); NULL: not saved */
  unsigned flags;
  size_t off, size; /* the field of the command's settings struct (TQ_AT); size 0: none, the
                     * option is read with tq_args_given */
} tq_arg;

/* The field f of settings struct S that receives an option's value. */
#define TQ_AT(S, f) .off = offsetof(S, f), .size = sizeof(((S *)0)->f)
/* A line of --help: a heading between the options, notes at the end */
#define TQ_ARG_TEXT(text) {.help = text}
/* A command's table and its usage text */
#define TQ_ARGS_OF(rows, usage_) .args = rows, .nargs = (int)(sizeof rows / sizeof rows[0]), .usage = usage_
/* tq_args_run's settings struct S and command function fn */
#define TQ_RUN(S, fn) .settings_size = sizeof(S), .run = fn

typedef struct {
  const char *name; /* the command: "train" */
  const tq_arg *args;
  int nargs;
  const char *usage; /* --help's first lines: the usage and what the command does */
  /* for tq_args_run: */
  size_t settings_size;
  void (*preset)(void *settings); /* defaults the table cannot give, before the options (or NULL) */
  int (*run)(void *settings);     /* the command, once its settings are parsed; the exit code */
} tq_command;

#define TQ_ARGS_MAX 48

typedef struct {
  const char *given[TQ_ARGS_MAX]; /* per row of the table: the text given, NULL when absent */
} tq_argv;

/* Parses argv[1..] (argv[0] is the command's name), checks that the required arguments are there.
 * Returns 1 when the command is done: --help was printed (*exit_code 0) or an error was
 * (*exit_code 2). --max-memory SIZE, every command's memory budget, is taken here. */
int tq_args_parse(const tq_command *c, int argc, char **argv, tq_argv *a, int *exit_code);
/* Prints --help and returns 1 when argv asks for it. */
int tq_args_help_asked(const tq_command *c, int argc, char **argv);
/* Converts and range-checks the given options into the fields of `settings`; with_defaults:
 * absent options with a default get it. Returns 0, or prints the error and returns 2. */
int tq_args_store(const tq_command *c, const tq_argv *a, void *settings, int with_defaults);
/* A whole command: zeroed settings, preset, tq_args_parse, tq_args_store with the defaults, run.
 * Returns the exit code. */
int tq_args_run(const tq_command *c, int argc, char **argv);

/* The text given for option `name`, NULL when absent. */
const char *tq_args_given(const tq_command *c, const tq_argv *a, const char *name);
/* "<cmd>: --name META is required"; returns 2. */
int tq_args_missing(const tq_command *c, const char *name);
/* With --resume only the TQ_ARG_RESUMABLE options may be given: 0, or the error's exit code. */
int tq_args_check_resume(const tq_command *c, const tq_argv *a, const char *resume_name);
void tq_args_help(const tq_command *c, FILE *out);

/* The rows with a key into obj: strings and choices, then integers and flags, then numbers, each
 * in table order (the order of the run settings files written before the table). */
void tq_args_to_json(const tq_command *c, const void *settings, struct cJSON *obj);
/* The reverse, every value checked like the option it came from (a settings file is a file
 * anyone can edit). where prefixes errors: "<where> setting 'key' is ...". */
int tq_args_from_json(const tq_command *c, const struct cJSON *obj, void *settings, const char *where);
/* One number of obj in lo..hi, with tq_args_from_json's error. */
int tq_args_json_number(const struct cJSON *obj, const char *key, double lo, double hi, double *out,
                        const char *where);

/* "HxWxC" or "N"; 1 when valid. */
int tq_args_shape(const char *s, int *h, int *w, int *c);
/* "a, b, c" of the zoo's models into buf. */
const char *tq_args_model_list(char *buf, size_t n, const char *sep);

#endif
