/* JPEG and PNG files to fixed-size RGB bytes: PNG through libpng's simplified API, JPEG through
 * libjpeg-turbo, both Debian's security-maintained libraries, then resized by tq_image_resize_u8
 * (image_resize.c). Not stb_image: Debian bookworm's libstb (a 2022 snapshot) overflows a
 * Huffman table on a JPEG whose DHT counts sum past 256 (found by fuzz/fuzz_imagefolder.c in
 * seconds; fixed upstream only later). Every refusal names the file in one line; the header is
 * read before any pixel is, so that a small file cannot make the decoder allocate gigabytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

#include "data/image_internal.h"
#include "tinyq/data.h"

/* A progressive JPEG may hold any number of scans, each a pass over the whole image: a small
 * file of thousands of empty scans would take minutes (libjpeg-turbo's djpeg -maxscans). */
#define JPEG_MAX_SCANS 256

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static int is_png(const unsigned char *b, size_t n) { return n >= 8 && !memcmp(b, png_signature, 8); }
static int is_jpeg(const unsigned char *b, size_t n) { return n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff; }

static tq_status too_large(const char *path, const char *kind, unsigned long w, unsigned long h) {
  return tq_fail(TQ_ERR_FORMAT, "%s: %s of %lux%lu pixels is over the limit of %lld pixels (refused before decoding)",
                 path, kind, w, h, TQ_IMAGE_MAX_PIXELS);
}

/* Decoded pixels (malloc'd, w x h x 3) resized into out. */
static tq_status resized(unsigned char *px, int ih, int iw, const char *path, int h, int w, unsigned char *out) {
  tq_status st = tq_image_resize_u8(px, ih, iw, out, h, w, 3);
  free(px);
  return st ? tq_fail_prefix(st, "%s", path) : TQ_OK;
}

static unsigned long be32(const unsigned char *b) {
  return (unsigned long)b[0] << 24 | (unsigned long)b[1] << 16 | (unsigned long)b[2] << 8 | b[3];
}

static tq_status decode_png(const unsigned char *buf, size_t n, const char *path, int h, int w, unsigned char *out) {
  /* The IHDR chunk, always first, declares the size: judged before libpng reads on (which needs
   * the chunks up to the first IDAT). */
  if (n >= 24 && !memcmp(buf + 12, "IHDR", 4) && (unsigned long long)be32(buf + 16) * be32(buf + 20) > TQ_IMAGE_MAX_PIXELS)
    return too_large(path, "PNG", be32(buf + 16), be32(buf + 20));
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&im, buf, n))
    return tq_fail(TQ_ERR_FORMAT, "%s: unreadable PNG header (%s)", path, im.message);
  if (im.width == 0 || im.height == 0 || (long long)im.width * im.height > TQ_IMAGE_MAX_PIXELS) {
    png_image_free(&im);
    return too_large(path, "PNG", im.width, im.height);
  }
  im.format = PNG_FORMAT_RGB; /* grey replicated, palette expanded, alpha composed onto black */
  unsigned char *px = malloc(PNG_IMAGE_SIZE(im));
  if (!px) {
    png_image_free(&im);
    return tq_fail(TQ_ERR_MEMORY, "%s: out of memory for %ux%u pixels", path, im.width, im.height);
  }
  if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
    free(px);
    return tq_fail(TQ_ERR_FORMAT, "%s: corrupt PNG (%s)", path, im.message);
  }
  return resized(px, (int)im.height, (int)im.width, path, h, w, out);
}

/* libjpeg reports through these: an error or a warning (corrupt data, a premature end: libjpeg
 * would go on with grey) ends the decode by a longjmp with the message kept. */
typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf escape;
  char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void jpeg_fail(j_common_ptr c) {
  jpeg_failure *f = (jpeg_failure *)c->err;
  c->err->format_message(c, f->message);
  longjmp(f->escape, 1);
}

static void jpeg_message(j_common_ptr c, int level) {
  if (level < 0) jpeg_fail(c); /* warnings are corruption here; trace messages (level >= 0) are not */
}

static void jpeg_scan_limit(j_common_ptr c) {
  j_decompress_ptr d = (j_decompress_ptr)c;
  jpeg_failure *f = (jpeg_failure *)c->err;
  if (d->input_scan_number > JPEG_MAX_SCANS) {
    snprintf(f->message, sizeof f->message, "more than %d progressive scans", JPEG_MAX_SCANS);
    longjmp(f->escape, 1);
  }
}

static tq_status decode_jpeg(const unsigned char *buf, size_t n, const char *path, int h, int w, unsigned char *out) {
  struct jpeg_decompress_struct d;
  jpeg_failure f;
  struct jpeg_progress_mgr progress = {.progress_monitor = jpeg_scan_limit};
  unsigned char *volatile px = NULL;
  d.err = jpeg_std_error(&f.pub);
  f.pub.error_exit = jpeg_fail;
  f.pub.emit_message = jpeg_message;
  f.message[0] = 0;
  if (setjmp(f.escape)) {
    jpeg_destroy_decompress(&d);
    free(px);
    return tq_fail(TQ_ERR_FORMAT, "%s: corrupt JPEG (%s)", path, f.message);
  }
  jpeg_create_decompress(&d);
  d.progress = &progress;
  jpeg_mem_src(&d, buf, (unsigned long)n);
  jpeg_read_header(&d, TRUE);
  if ((long long)d.image_width * d.image_height > TQ_IMAGE_MAX_PIXELS) {
    jpeg_destroy_decompress(&d);
    return too_large(path, "JPEG", d.image_width, d.image_height);
  }
  d.out_color_space = JCS_RGB; /* grey replicated, YCbCr and CMYK converted */
  jpeg_start_decompress(&d);
  size_t row = (size_t)d.output_width * 3;
  if (d.output_components != 3 || !(px = malloc(row * d.output_height))) {
    snprintf(f.message, sizeof f.message, "%d output channels or out of memory", d.output_components);
    longjmp(f.escape, 1);
  }
  while (d.output_scanline < d.output_height) {
    JSAMPROW r = px + row * d.output_scanline;
    jpeg_read_scanlines(&d, &r, 1);
  }
  jpeg_finish_decompress(&d);
  int ih = (int)d.output_height, iw = (int)d.output_width;
  jpeg_destroy_decompress(&d);
  return resized(px, ih, iw, path, h, w, out);
}

tq_status tq_image_decode(const unsigned char *buf, size_t n, const char *path, int h, int w,
                          unsigned char *out) {
  if (n == 0) return tq_fail(TQ_ERR_FORMAT, "%s: empty file (0 bytes)", path);
  if (is_png(buf, n)) return decode_png(buf, n, path, h, w, out);
  if (is_jpeg(buf, n)) return decode_jpeg(buf, n, path, h, w, out);
  return tq_fail(TQ_ERR_FORMAT, "%s: not a JPEG or PNG image (unknown signature)", path);
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
