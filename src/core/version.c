/* The library's version and the commit it was built from (cmake/TinyqVersion.cmake). */
#include "tinyq/core.h"
#include "tq_git_commit.h"

#ifndef TQ_VERSION_STRING
#error "TQ_VERSION_STRING comes from CMakeLists.txt's project(VERSION) (cmake/TinyqVersion.cmake)"
#endif

const char *tq_version(void) { return TQ_VERSION_STRING; }

const char *tq_version_commit(void) { return TQ_GIT_COMMIT; }
