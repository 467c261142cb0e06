# What libtinyq is built on, as targets: tinyq::openblas (OpenBLAS built on OpenMP, so that BLAS and
# tinyq's own loops share one thread pool), tinyq::cjson, tinyq::audio (src/audio: WAV files through
# libsndfile, the features' FFTs through single-precision FFTW), tinyq::image (src/data/image_*.c:
# PNG through libpng, JPEG through libjpeg-turbo), ZLIB::ZLIB and
# OpenMP::OpenMP_C.
# One place for the build (CMakeLists.txt), the fuzzers (fuzz/CMakeLists.txt) and the installed
# CMake package, whose tinyq::tinyq_static needs them.
#   tq_find_dependencies(REQUIRED)  stops at the first one missing
#   tq_find_dependencies(QUIET)     sets TQ_DEPS_FOUND to whether all were found
macro(tq_find_dependencies mode)
  if("${mode}" STREQUAL "REQUIRED")
    set(_tq_required REQUIRED)
  else()
    set(_tq_required "")
  endif()
  find_package(OpenMP ${mode} COMPONENTS C)
  find_package(ZLIB ${mode})
  find_library(TQ_OPENBLAS_LIB NAMES openblas
    HINTS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp
    NO_DEFAULT_PATH)
  if(NOT TQ_OPENBLAS_LIB)
    find_library(TQ_OPENBLAS_LIB NAMES openblas ${_tq_required})
  endif()
  find_path(TQ_OPENBLAS_INC cblas.h
    HINTS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp
          /usr/include/openblas)
  find_path(TQ_CJSON_INC cjson/cJSON.h ${_tq_required})
  find_library(TQ_CJSON_LIB NAMES cjson ${_tq_required})
  find_package(PkgConfig ${mode})
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(TQ_AUDIO ${mode} IMPORTED_TARGET sndfile fftw3f)
    pkg_check_modules(TQ_IMAGE ${mode} IMPORTED_TARGET libpng libjpeg)
  endif()

  set(TQ_DEPS_FOUND FALSE)
  if(OpenMP_C_FOUND AND ZLIB_FOUND AND TQ_OPENBLAS_LIB AND TQ_CJSON_INC AND TQ_CJSON_LIB
     AND TQ_AUDIO_FOUND AND TQ_IMAGE_FOUND)
    set(TQ_DEPS_FOUND TRUE)
    if(NOT TARGET tinyq::openblas)
      add_library(tinyq::openblas INTERFACE IMPORTED)
      set_target_properties(tinyq::openblas PROPERTIES INTERFACE_LINK_LIBRARIES "${TQ_OPENBLAS_LIB}")
      if(TQ_OPENBLAS_INC)
        set_target_properties(tinyq::openblas PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${TQ_OPENBLAS_INC}")
      endif()
      add_library(tinyq::cjson INTERFACE IMPORTED)
      set_target_properties(tinyq::cjson PROPERTIES INTERFACE_LINK_LIBRARIES "${TQ_CJSON_LIB}"
        INTERFACE_INCLUDE_DIRECTORIES "${TQ_CJSON_INC}")
      add_library(tinyq::audio INTERFACE IMPORTED)
      set_target_properties(tinyq::audio PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::TQ_AUDIO)
      add_library(tinyq::image INTERFACE IMPORTED)
      set_target_properties(tinyq::image PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::TQ_IMAGE)
    endif()
  endif()
endmacro()
