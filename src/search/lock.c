/* The lock that keeps a search directory to one process. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "search/search_internal.h"

/* One process per search directory: two resumes of one search would both run the missing
 * trials and journal them twice. flock() on DIR/search.lock; the kernel drops the lock when the
 * holder exits, however it exits, so a crashed search never blocks the next --resume. The file
 * holds the holder's pid, for the message. Returns the descriptor to keep open, or -1. */
int tq_search_lock_dir(const char *dir, tq_status *st) {
  char path[1100];
  snprintf(path, sizeof path, "%s/search.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    *st = tq_fail(TQ_ERR_IO, "%s: cannot create the search lock: %s", path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int busy = errno == EWOULDBLOCK;
    char pid[32] = "";
    ssize_t n = busy ? pread(fd, pid, sizeof pid - 1, 0) : 0;
    pid[n > 0 ? n : 0] = 0;
    pid[strcspn(pid, "\n")] = 0;
    close(fd);
    *st = busy ? tq_fail(TQ_ERR_ARG, "search: %s is in use by process %s", dir, pid[0] ? pid : "(unknown)")
               : tq_fail(TQ_ERR_IO, "%s: cannot lock: %s", path, strerror(errno));
    return -1;
  }
  char pid[32];
  int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
    *st = tq_fail(TQ_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}
