# tq_version_info(TARGET ROOT): compiles ROOT/src/core/version.c of TARGET with the version of
# ROOT/CMakeLists.txt's project(VERSION) -- the one place it is written -- and with the git commit
# of the checkout, which cmake/GitCommit.cmake refreshes at every build (not only at configure time,
# so that `tinyq --version` names the commit the binary was really built from).
function(tq_version_info target root)
  if(PROJECT_NAME STREQUAL "tinyq")
    set(version "${PROJECT_VERSION}")
  else() # fuzz/: a project of its own
    file(STRINGS "${root}/CMakeLists.txt" line REGEX "^project\\(tinyq VERSION")
    string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" version "${line}")
  endif()
  set(dir "${CMAKE_BINARY_DIR}/generated")
  if(NOT TARGET tq_git_commit)
    add_custom_target(tq_git_commit
      COMMAND ${CMAKE_COMMAND} -DSRC=${root} -DOUT=${dir}/tq_git_commit.h -P ${root}/cmake/GitCommit.cmake
      BYPRODUCTS ${dir}/tq_git_commit.h
      COMMENT "" VERBATIM)
  endif()
  add_dependencies(${target} tq_git_commit)
  set_property(SOURCE ${root}/src/core/version.c TARGET_DIRECTORY ${target} APPEND PROPERTY
    COMPILE_DEFINITIONS TQ_VERSION_STRING="${version}")
  set_property(SOURCE ${root}/src/core/version.c TARGET_DIRECTORY ${target} APPEND PROPERTY
    INCLUDE_DIRECTORIES ${dir})
endfunction()
