# Read by cpack for each generator (CPACK_PROJECT_CONFIG_FILE).
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_COMPONENTS_ALL Unspecified systemd)
else()
  set(CPACK_COMPONENTS_ALL Unspecified)
endif()
