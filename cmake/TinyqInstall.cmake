# What `cmake --install BUILD --prefix P` puts under P, and the Debian package (`make package`).
#   bin/tinyq                          the command-line program
#   lib/libtinyq.so.V, libtinyq.a      the library (tinyq::tinyq, tinyq::tinyq_static)
#   lib/libtq_rt.a, include/tq_rt/     the integer runtime (tinyq::runtime)
#   include/tinyq/*.h                  the public API (src/ stays private)
#   lib/pkgconfig/tinyq.pc, tinyq-runtime.pc, lib/cmake/tinyq/
#   share/tinyq/runtime/               the runtime's sources, for firmware builds and tinyq export
#   share/tinyq/examples/              examples/*.c with their CMakeLists.txt, and the JSON studies
#   share/man/man1/                    tinyq(1) and tinyq-COMMAND(1), from each command's --help
#   share/bash-completion/completions/tinyq
set(TQ_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tinyq)

install(TARGETS tinyq_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
set(TQ_EXPORTED tq_rt)
if(TQ_BUILD_SHARED)
  list(APPEND TQ_EXPORTED tinyq_shared)
endif()
install(TARGETS ${TQ_EXPORTED} EXPORT tinyqTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS tinyq EXPORT tinyqStaticTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/tinyq DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
file(GLOB TQ_RT_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/*.h)
list(FILTER TQ_RT_HEADERS EXCLUDE REGEX "_internal\\.h$") # the kernels' own helpers
install(FILES ${TQ_RT_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tq_rt)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/runtime/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tinyq/runtime)
install(FILES ${CMAKE_SOURCE_DIR}/examples/train_custom.c ${CMAKE_SOURCE_DIR}/examples/infer.c
  ${CMAKE_SOURCE_DIR}/examples/CMakeLists.txt DESTINATION ${CMAKE_INSTALL_DATADIR}/tinyq/examples)
file(GLOB TQ_STUDIES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*.json)
install(FILES ${TQ_STUDIES} DESTINATION ${CMAKE_INSTALL_DATADIR}/tinyq/examples)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/share/bash-completion/tinyq
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# pkg-config: prefix relative to the .pc file itself, so that the same file is right under any
# --prefix, under /usr from the .deb, and in a tree unpacked with dpkg -x.
file(RELATIVE_PATH TQ_PC_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" TQ_PC_PREFIX "${TQ_PC_PREFIX}")
set(TQ_PC_LIBS_PRIVATE "${TQ_OPENBLAS_LIB} ${TQ_CJSON_LIB} -lz ${OpenMP_C_FLAGS} -lm")
if(TQ_MPI)
  foreach(l ${MPI_C_LIBRARIES})
    string(APPEND TQ_PC_LIBS_PRIVATE " ${l}")
  endforeach()
endif()
foreach(pc tinyq tinyq-runtime)
  configure_file(${CMAKE_SOURCE_DIR}/cmake/${pc}.pc.in ${CMAKE_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/pkgconfig/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# The CMake package: find_package(tinyq CONFIG) -> tinyq::tinyq, tinyq::runtime, tinyq::tinyq_static.
include(CMakePackageConfigHelpers)
set(TQ_MPI_NOTE "")
if(TQ_MPI)
  set(TQ_MPI_NOTE ", MPI")
endif()
install(EXPORT tinyqTargets NAMESPACE tinyq:: DESTINATION ${TQ_CMAKEDIR})
install(EXPORT tinyqStaticTargets NAMESPACE tinyq:: DESTINATION ${TQ_CMAKEDIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/tinyqConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/tinyqConfig.cmake INSTALL_DESTINATION ${TQ_CMAKEDIR})
# Before 1.0 only the same MAJOR.MINOR is compatible (see the SONAME above).
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/tinyqConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/tinyqConfig.cmake
  ${CMAKE_BINARY_DIR}/cmake/tinyqConfigVersion.cmake ${CMAKE_SOURCE_DIR}/cmake/TinyqDeps.cmake
  DESTINATION ${TQ_CMAKEDIR})

# Man pages from the program's own --help (Debian help2man), remade whenever the program is.
find_program(TQ_HELP2MAN help2man)
if(TQ_SANITIZE)
  # the sanitizer build is for tests only
elseif(TQ_HELP2MAN)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/stamp
    COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/manpages.sh $<TARGET_FILE:tinyq_cli>
            ${CMAKE_BINARY_DIR}/man ${PROJECT_VERSION}
    COMMAND ${CMAKE_COMMAND} -E touch ${CMAKE_BINARY_DIR}/man/stamp
    DEPENDS tinyq_cli ${CMAKE_SOURCE_DIR}/scripts/manpages.sh
    COMMENT "Man pages from tinyq --help (help2man)" VERBATIM)
  add_custom_target(man ALL DEPENDS ${CMAKE_BINARY_DIR}/man/stamp)
  install(DIRECTORY ${CMAKE_BINARY_DIR}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
    FILES_MATCHING PATTERN "*.1.gz")
else()
  message(STATUS "tinyq: help2man not found, no man pages (scripts/setup.sh installs it)")
endif()

# Debian package: make package -> tinyq_<version>_<arch>.deb. Depends: comes from dpkg-shlibdeps
# on the program and the shared library. Build it from a TQ_PORTABLE=ON tree (the Makefile's
# `package` target does) so that it runs on any CPU of the architecture.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tinyq)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "quantization-aware training, mixed-precision search and integer C for microcontrollers")
set(CPACK_PACKAGE_DESCRIPTION
"tinyq trains small neural networks with QKeras-style quantizers, searches per-layer
bit-widths as AutoQKeras does, and lowers the result to integer-only C code with a static
memory plan. The package has the tinyq program, the library (libtinyq.so, libtinyq.a, headers,
pkg-config and CMake files), the integer runtime and example programs.")
set(TQ_DEB_MAINTAINER "tinyq developers <tinyq@localhost>" CACHE STRING "Maintainer: of the .deb")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${TQ_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# libopenblas0 (from dpkg-shlibdeps) is satisfied by any OpenBLAS; the OpenMP build shares tinyq's
# thread pool instead of starting its own.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS libopenblas0-openmp)
# Building against the installed library needs a compiler; linking libtinyq.a also needs the
# -dev packages of what it is built on.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
  "gcc | c-compiler, pkg-config, cmake, libopenblas-openmp-dev, libcjson-dev, libsndfile1-dev, libfftw3-dev, libpng-dev, libjpeg-dev, zlib1g-dev, gcc-arm-none-eabi")
include(CPack)
