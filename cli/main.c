/* tinyq: command-line front end. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tinyq/core.h"
#include "tinyq/data.h"
#include "tinyq/zoo.h"

static const struct {
  const char *name;
  int (*run)(int, char **);
  const char *help;
} commands[] = {
    {"train", tq_cmd_train, "train a zoo model (float or quantization-aware)"},
    {"eval", tq_cmd_eval, "evaluate a model file on a dataset"},
    {"summary", tq_cmd_summary, "print layers, shapes, parameters and MACs"},
    {"quantizer", tq_cmd_quantizer, "apply a QKeras quantizer string to values"},
    {"export", tq_cmd_export, "lower a QAT model to integer C code for microcontrollers"},
    {"stats", tq_cmd_stats, "AutoQKeras size statistics of a quantization configuration"},
    {"search", tq_cmd_search, "mixed-precision search (AutoQKeras; mpirun for several ranks)"},
    {"diff", tq_cmd_diff, "what training changed between two model files (updates, zeros, BN drift)"},
    {"import", tq_cmd_import, "a Keras HDF5 model (.h5) -> a tinyq model file"},
    {"predict", tq_cmd_predict, "run a model file on raw float32 inputs, write its outputs"},
    {"report", tq_cmd_report, "one self-contained HTML page of a run, search, export or folder of runs"},
    {"quanterr", tq_cmd_quanterr, "per-layer quantization error (SQNR, clipping) of a model"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: tinyq <command> [options]   (tinyq <command> --help for its options)\n\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(out, "\nmodels (--model NAME):\n");
  for (int i = 0; i < tq_zoo_count(); i++)
    fprintf(out, "  %-22s %s\n", tq_zoo_get(i)->name, tq_zoo_get(i)->description);
  fprintf(out, "\ndatasets (--data SPEC):\n");
  for (int i = 0; i < tq_dataset_source_count(); i++) {
    const tq_dataset_source *d = tq_dataset_source_get(i);
    fprintf(out, "  %-22s %s%s%s\n", d->spec, d->help, d->default_dir ? " " : "", d->default_dir ? d->default_dir : "");
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    const char *commit = tq_version_commit();
    printf("tinyq %s%s%s%s\n", tq_version(), *commit ? " (git " : "", commit, *commit ? ")" : "");
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  return tq_cli_usage_error("unknown command '%s' (see tinyq --help)", argv[1]);
}
