/* Subcommands of the tinyq program. Each returns the process exit code and prints errors as
 * "tinyq: error: <where>: <what>" on stderr. */
#ifndef TINYQ_CLI_H
#define TINYQ_CLI_H

int tq_cmd_train(int argc, char **argv);
int tq_cmd_eval(int argc, char **argv);
int tq_cmd_summary(int argc, char **argv);
int tq_cmd_quantizer(int argc, char **argv);
int tq_cmd_stats(int argc, char **argv);
int tq_cmd_search(int argc, char **argv);
int tq_cmd_export(int argc, char **argv);
int tq_cmd_diff(int argc, char **argv);
int tq_cmd_import(int argc, char **argv);
int tq_cmd_predict(int argc, char **argv);
int tq_cmd_report(int argc, char **argv);
int tq_cmd_quanterr(int argc, char **argv);

/* Prints "tinyq: error: <msg>" and returns 2 (usage) or 1 (failure). */
int tq_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tq_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
