# Read by cpack for each generator (CPACK_PROJECT_CONFIG_FILE): the systemd unit (component
# systemd) goes into the .deb only; every other package installs the default component.
if(NOT CPACK_GENERATOR STREQUAL "DEB")
  string(REPLACE ";ALL;" ";Unspecified;" CPACK_INSTALL_CMAKE_PROJECTS "${CPACK_INSTALL_CMAKE_PROJECTS}")
endif()
