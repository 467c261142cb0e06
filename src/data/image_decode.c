/* JPEG and PNG files to fixed-size RGB bytes through Debian's libstb (stb_image and
 * stb_image_resize). Every refusal names the file in one line; the header is read before any
 * pixel is, so that a small file cannot make the decoder allocate gigabytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb_image.h>
#include <stb_image_resize.h>

#include "data/image_internal.h"

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static int is_png(const unsigned char *b, size_t n) { return n >= 8 && !memcmp(b, png_signature, 8); }
static int is_jpeg(const unsigned char *b, size_t n) { return n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff; }

/* stb_image decodes a JPEG cut short without complaint (the missing entropy-coded data reads as
 * zeros, a grey lower part). A whole JPEG ends with an end-of-image marker (FF D9) after its
 * last start-of-scan (FF DA); inside scan data an FF byte is always followed by 00 or a restart
 * marker, so a FF D9 pair there is the real end. */
static int jpeg_complete(const unsigned char *b, size_t n) {
  size_t last_sos = 0, last_eoi = 0;
  for (size_t i = 2; i + 1 < n; i++) {
    if (b[i] != 0xff) continue;
    if (b[i + 1] == 0xda) last_sos = i;
    else if (b[i + 1] == 0xd9) last_eoi = i;
  }
  return last_sos && last_eoi > last_sos;
}

static unsigned be16(const unsigned char *b) { return (unsigned)b[0] << 8 | b[1]; }
static unsigned long be32(const unsigned char *b) { return (unsigned long)be16(b) << 16 | be16(b + 2); }

/* The size a header declares, read here rather than by stbi_info, which reports a header it finds
 * too large only as "unknown image type": PNG's IHDR (the first chunk), JPEG's first
 * start-of-frame segment. 0 when not found; stbi_info then judges the header. */
static int declared_size(const unsigned char *b, size_t n, int png, unsigned long *w, unsigned long *h) {
  if (png) {
    if (n < 24 || memcmp(b + 12, "IHDR", 4)) return 0;
    *w = be32(b + 16);
    *h = be32(b + 20);
    return 1;
  }
  for (size_t i = 2; i + 9 < n;) {
    if (b[i] != 0xff) return 0;
    unsigned m = b[i + 1];
    if (m == 0xff) { /* fill byte */
      i++;
      continue;
    }
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
      *h = be16(b + i + 5);
      *w = be16(b + i + 7);
      return 1;
    }
    i += 2 + be16(b + i + 2);
  }
  return 0;
}

tq_status tq_image_decode(const unsigned char *buf, size_t n, const char *path, int h, int w,
                          unsigned char *out) {
  if (n == 0) return tq_fail(TQ_ERR_FORMAT, "%s: empty file (0 bytes)", path);
  int png = is_png(buf, n);
  if (!png && !is_jpeg(buf, n)) return tq_fail(TQ_ERR_FORMAT, "%s: not a JPEG or PNG image (unknown signature)", path);
  const char *kind = png ? "PNG" : "JPEG";
  if (n > (size_t)INT32_MAX) return tq_fail(TQ_ERR_FORMAT, "%s: %s of %zu bytes is too large", path, kind, n);
  unsigned long dw0 = 0, dh0 = 0;
  if (declared_size(buf, n, png, &dw0, &dh0) && (unsigned long long)dw0 * dh0 > (unsigned long long)TQ_IMAGE_MAX_PIXELS)
    return tq_fail(TQ_ERR_FORMAT, "%s: %s of %lux%lu pixels is over the limit of %lld pixels (refused before decoding)",
                   path, kind, dw0, dh0, TQ_IMAGE_MAX_PIXELS);
  int iw = 0, ih = 0, comp = 0;
  if (!stbi_info_from_memory(buf, (int)n, &iw, &ih, &comp))
    return tq_fail(TQ_ERR_FORMAT, "%s: unreadable %s header (%s)", path, kind, stbi_failure_reason());
  if (iw <= 0 || ih <= 0 || (long long)iw * ih > TQ_IMAGE_MAX_PIXELS)
    return tq_fail(TQ_ERR_FORMAT, "%s: %s of %dx%d pixels is over the limit of %lld pixels (refused before decoding)",
                   path, kind, iw, ih, TQ_IMAGE_MAX_PIXELS);
  if (!png && !jpeg_complete(buf, n))
    return tq_fail(TQ_ERR_FORMAT, "%s: truncated JPEG (no end-of-image marker after the image data)", path);
  tq_status st = tq_mem_check_product((size_t)iw, (size_t)ih, 3);
  if (st) return tq_fail_prefix(st, "%s", path);
  int dw = 0, dh = 0, dc = 0;
  unsigned char *px = stbi_load_from_memory(buf, (int)n, &dw, &dh, &dc, 3);
  if (!px) return tq_fail(TQ_ERR_FORMAT, "%s: corrupt %s (%s)", path, kind, stbi_failure_reason());
  if (dw != iw || dh != ih) {
    stbi_image_free(px);
    return tq_fail(TQ_ERR_FORMAT, "%s: corrupt %s (header says %dx%d, data %dx%d)", path, kind, iw, ih, dw, dh);
  }
  if (dw == w && dh == h) {
    memcpy(out, px, (size_t)w * h * 3);
  } else if (!stbir_resize_uint8_generic(px, dw, dh, 0, out, w, h, 0, 3, STBIR_ALPHA_CHANNEL_NONE, 0,
                                         STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, NULL)) {
    stbi_image_free(px);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory resizing %dx%d to %dx%d", path, dw, dh, w, h);
  }
  stbi_image_free(px);
  return TQ_OK;
}

tq_status tq_image_decode_file(const char *path, int h, int w, unsigned char *out) {
  FILE *f = fopen(path, "rb");
  if (!f) return tq_fail(TQ_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return tq_fail(TQ_ERR_IO, "%s: not a regular file", path);
  }
  size_t n = (size_t)sb.st_size;
  if (n > TQ_IMAGE_MAX_FILE) {
    fclose(f);
    return tq_fail(TQ_ERR_FORMAT, "%s: %zu bytes is over the %zu MiB limit of an image file", path, n,
                   TQ_IMAGE_MAX_FILE >> 20);
  }
  unsigned char *buf = malloc(n ? n : 1);
  if (!buf) {
    fclose(f);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory reading %zu bytes", path, n);
  }
  size_t got = n ? fread(buf, 1, n, f) : 0;
  int bad = ferror(f);
  fclose(f);
  tq_status st = bad || got != n ? tq_fail(TQ_ERR_IO, "%s: read error", path) : tq_image_decode(buf, n, path, h, w, out);
  free(buf);
  return st;
}
