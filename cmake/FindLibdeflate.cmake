# FindLibdeflate: libdeflate's header and library, as the imported target Libdeflate::Libdeflate.
# Debian's libdeflate-dev (1.14) installs no CMake package, only pkg-config; the Windows prefix of
# scripts/build-windows-deps.sh has include/libdeflate.h and lib/libdeflate.a. find_path/find_library
# search both the same way (the toolchain file confines a cross build to its prefix).
find_path(Libdeflate_INCLUDE_DIR libdeflate.h)
find_library(Libdeflate_LIBRARY NAMES deflate)
if(Libdeflate_INCLUDE_DIR AND EXISTS "${Libdeflate_INCLUDE_DIR}/libdeflate.h")
  file(STRINGS "${Libdeflate_INCLUDE_DIR}/libdeflate.h" _ld_version REGEX "#define LIBDEFLATE_VERSION_STRING")
  string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" Libdeflate_VERSION "${_ld_version}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Libdeflate REQUIRED_VARS Libdeflate_LIBRARY Libdeflate_INCLUDE_DIR
                                  VERSION_VAR Libdeflate_VERSION
                                  REASON_FAILURE_MESSAGE "install libdeflate-dev (scripts/install-deps.sh), or for Windows build the prefix again with scripts/build-windows-deps.sh")
if(Libdeflate_FOUND AND NOT TARGET Libdeflate::Libdeflate)
  add_library(Libdeflate::Libdeflate UNKNOWN IMPORTED)
  set_target_properties(Libdeflate::Libdeflate PROPERTIES IMPORTED_LOCATION "${Libdeflate_LIBRARY}"
                                                          INTERFACE_INCLUDE_DIRECTORIES "${Libdeflate_INCLUDE_DIR}")
endif()
mark_as_advanced(Libdeflate_INCLUDE_DIR Libdeflate_LIBRARY)
