/* Where tinyq export copies the integer runtime's sources from. */
#ifndef TINYQ_CLI_RUNTIME_DIR_H
#define TINYQ_CLI_RUNTIME_DIR_H

/* PREFIX/share/tinyq/runtime for an installed PREFIX/bin/tinyq; else the runtime/ of the source
 * tree the program was built from (a program run from its build directory). */
const char *tq_cli_runtime_dir(void);

#endif
