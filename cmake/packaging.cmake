# CPack makes every release package: udpchat-<version>-<os>-<arch>.tar.gz (Linux, macOS),
# .zip (Windows) and, on Linux, a .deb with the systemd unit. Binaries are stripped.
#   cmake --build BUILD && (cd BUILD && cpack)          # the default generators for the platform
if(APPLE)
  set(UDPCHAT_PACKAGE_OS macos)
  list(LENGTH CMAKE_OSX_ARCHITECTURES _arch_count)
  if(_arch_count GREATER 1)
    set(_arch universal)
  elseif(CMAKE_OSX_ARCHITECTURES)
    set(_arch ${CMAKE_OSX_ARCHITECTURES})
  else()
    set(_arch ${CMAKE_SYSTEM_PROCESSOR})
  endif()
elseif(WIN32)
  set(UDPCHAT_PACKAGE_OS windows)
  set(_arch x64)
  if(CMAKE_SIZEOF_VOID_P EQUAL 4)
    set(_arch x86)
  endif()
else()
  string(TOLOWER ${CMAKE_SYSTEM_NAME} UDPCHAT_PACKAGE_OS)
  set(_arch ${CMAKE_SYSTEM_PROCESSOR})
endif()
set(UDPCHAT_PACKAGE_ARCH ${_arch} CACHE STRING "Architecture in the package names")

set(CPACK_PACKAGE_NAME udpchat)
set(CPACK_PACKAGE_VENDOR "the udpchat authors")
set(CPACK_PACKAGE_CONTACT "the udpchat authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "UDP chat relay, client, health probe and load generator")
set(CPACK_PACKAGE_DESCRIPTION
    "udpchat is one binary with four commands: serve (a UDP chat relay with rooms, a cookie "
    "handshake and per-source rate limits), chat (its client), probe (a health check for "
    "scripts and CI) and bench (a load generator).")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_FILE_NAME udpchat-${PROJECT_VERSION}-${UDPCHAT_PACKAGE_OS}-${UDPCHAT_PACKAGE_ARCH})
set(CPACK_STRIP_FILES TRUE)
set(CPACK_SOURCE_IGNORE_FILES /build/ /dist/ /\\.git/ /node_modules/)
if(WIN32)
  set(CPACK_GENERATOR ZIP)
elseif(APPLE)
  set(CPACK_GENERATOR TGZ)
else()
  set(CPACK_GENERATOR TGZ DEB)
endif()

# The systemd unit is for the .deb only: a tarball unpacked anywhere but /usr would hold a unit
# naming the wrong binary. cpack-options.cmake picks the components per generator.
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/cpack-options.cmake)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  install(FILES packaging/udpchat.service DESTINATION lib/systemd/system COMPONENT systemd)
endif()

# Debian: the dependencies of a dynamically linked build come from dpkg-shlibdeps; a static
# build (release.yml, in Alpine) has none and no dpkg to ask.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(_deb_arch ${CMAKE_SYSTEM_PROCESSOR})
if(_deb_arch STREQUAL "x86_64")
  set(_deb_arch amd64)
elseif(_deb_arch STREQUAL "aarch64")
  set(_deb_arch arm64)
endif()
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${_deb_arch})
find_program(UDPCHAT_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(UDPCHAT_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()

include(CPack)
