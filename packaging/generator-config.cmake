# CPACK_PROJECT_CONFIG_FILE: run by cpack once per generator, to pick that package's components
# (the unit lives in /lib/systemd/system in the .deb, /usr/lib/systemd/system in the .rpm).
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_COMPONENTS_ALL Unspecified common deb)
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(CPACK_COMPONENTS_ALL Unspecified common rpm)
endif()
