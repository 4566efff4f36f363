# The version shown by `udpchat --version`: the project version, plus `git describe` when the
# source is a git checkout (read at configure time).
set(UDPCHAT_VERSION_STRING "${PROJECT_VERSION}")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" describe --tags --always --dirty
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    OUTPUT_VARIABLE UDPCHAT_GIT_DESCRIBE
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET)
  if(UDPCHAT_GIT_DESCRIBE)
    set(UDPCHAT_VERSION_STRING "${PROJECT_VERSION} (${UDPCHAT_GIT_DESCRIBE})")
  endif()
endif()
