# Writes talentsim/version.hpp at build time (cmake -P), so that the commit
# recorded in results files and printed by `talentsim --version` and
# `talentsim bench` is the one built, with "-dirty" when the working tree
# has uncommitted changes. configure_file rewrites the header only when its
# text changes, so an unchanged tree recompiles nothing.
#   -DSOURCE_DIR=... -DIN=version.hpp.in -DOUT=.../version.hpp -DPROJECT_VERSION=...
execute_process(COMMAND git rev-parse --short=12 HEAD
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE TALENTSIM_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR TALENTSIM_GIT_COMMIT STREQUAL "")
  set(TALENTSIM_GIT_COMMIT "unknown")
else()
  execute_process(COMMAND git diff --quiet HEAD --
                  WORKING_DIRECTORY ${SOURCE_DIR} RESULT_VARIABLE dirty ERROR_QUIET)
  if(NOT dirty EQUAL 0)
    string(APPEND TALENTSIM_GIT_COMMIT "-dirty")
  endif()
endif()
configure_file(${IN} ${OUT} @ONLY)
