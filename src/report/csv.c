/* The CSV files tinyq writes (log.csv, pareto.csv, layers.csv) as JSON for the report: plain
 * comma-separated fields without quoting, one header line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

/* A number (the double the file means, so the page shows the file's value), null for nan/inf,
 * else the text. */
static cJSON *cell(const char *s, size_t n) {
  char buf[256];
  if (n >= sizeof buf) n = sizeof buf - 1;
  memcpy(buf, s, n);
  buf[n] = 0;
  char *end;
  double v = strtod(buf, &end);
  if (n && end == buf + n) return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
  return cJSON_CreateString(buf);
}

/* Fields of one line [s, e) appended to arr; returns their count. */
static int split_line(const char *s, const char *e, cJSON *arr, int as_strings) {
  int count = 0;
  for (const char *p = s;; p++) {
    const char *q = p;
    while (q < e && *q != ',') q++;
    size_t n = (size_t)(q - p);
    if (n && p[n - 1] == '\r') n--;
    if (as_strings) {
      char buf[256];
      snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), p);
      cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
    } else {
      cJSON_AddItemToArray(arr, cell(p, n));
    }
    count++;
    if (q >= e) break;
    p = q;
  }
  return count;
}

tq_status tq_report_read_csv(const char *path, cJSON **out) {
  unsigned char *data = NULL;
  size_t size = 0;
  tq_status st = tq_read_file(path, &data, &size);
  if (st) return st;
  if (memchr(data, 0, size)) {
    free(data);
    return tq_fail(TQ_ERR_FORMAT, "%s: not a text file (a NUL byte)", path);
  }
  const char *s = (const char *)data, *end = s + size;
  cJSON *o = cJSON_CreateObject(), *cols = cJSON_CreateArray(), *rows = cJSON_CreateArray();
  cJSON_AddItemToObject(o, "columns", cols);
  cJSON_AddItemToObject(o, "rows", rows);
  int ncols = 0, line = 0;
  while (!st && s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    line++;
    if (e == s || (e == s + 1 && *s == '\r')) {
      s = e + 1;
      continue;
    }
    if (!ncols) {
      ncols = split_line(s, e, cols, 1);
    } else {
      cJSON *row = cJSON_CreateArray();
      cJSON_AddItemToArray(rows, row);
      int k = split_line(s, e, row, 0);
      if (k != ncols)
        st = tq_fail(TQ_ERR_FORMAT, "%s: line %d has %d fields, the header has %d (a truncated or damaged file)",
                     path, line, k, ncols);
      else if (!nl) /* tinyq ends every line: the last value may be cut short */
        st = tq_fail(TQ_ERR_FORMAT, "%s: line %d is not terminated (a truncated file)", path, line);
    }
    s = e + 1;
  }
  free(data);
  if (!st && !ncols) st = tq_fail(TQ_ERR_FORMAT, "%s: empty (no header line)", path);
  if (st) {
    cJSON_Delete(o);
    return st;
  }
  const char *slash = strrchr(path, '/');
  cJSON_AddStringToObject(o, "file", slash ? slash + 1 : path);
  *out = o;
  return TQ_OK;
}
