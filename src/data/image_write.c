/* PNG output through libpng's simplified API: the stand-in generator's files and the tests'
 * fixtures. */
#include <png.h>
#include <string.h>

#include "tinyq/data.h"

tq_status tq_image_write_png(const char *path, const unsigned char *rgb, int h, int w) {
  if (h < 1 || w < 1) return tq_fail(TQ_ERR_ARG, "%s: bad image size %dx%d", path, h, w);
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)w;
  im.height = (png_uint_32)h;
  im.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&im, path, 0, rgb, w * 3, NULL))
    return tq_fail(TQ_ERR_IO, "%s: cannot write PNG (%s)", path, im.message);
  return TQ_OK;
}
