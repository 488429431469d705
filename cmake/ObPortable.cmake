# OB_PORTABLE: the agent linked fully static (glibc, libstdc++, OpenSSL, SQLite, yaml-cpp, Boost,
# zlib, libdeflate, spdlog/fmt), so one binary runs on any x86_64 Linux with a kernel >= 3.2.
# Included from the top CMakeLists before any find_package; Debian 12's -dev packages supply every .a.
#
# Static glibc caveat: getaddrinfo/getpwnam in a static program cannot load the distribution's NSS
# modules as a dynamic one does. /etc/hosts and DNS (resolv.conf) work; sss/ldap/mdns sources of
# /etc/nsswitch.conf do not (README "What the static binary carries"). The linker's warnings about
# getaddrinfo, gethostbyname and dlopen say this and are expected: the link does not use -Werror.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(OPENSSL_USE_STATIC_LIBS ON)
set(Boost_USE_STATIC_LIBS ON)
set(ZLIB_USE_STATIC_LIBS ON)
set(OB_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(OB_BUILD_BENCH OFF CACHE BOOL "" FORCE)
set(OB_BUILD_SIMULATOR OFF CACHE BOOL "" FORCE)
# -static for every executable: also pulls libstdc++.a and libgcc.a. --gc-sections drops unreferenced sections:
# the text is mapped and nearly all of it resident (64 KB fault-around), so 0.6 MB less idle RSS (issue 11).
# The code compiled here (the agent, spdlog, Asio and Beast) gets a section per function and per object, so
# the linker drops the unreferenced ones too: 0.4 MB less text, and as much less idle RSS (bench/README.md).
add_link_options(-static -Wl,--gc-sections)
add_compile_options(-ffunction-sections -fdata-sections)

# Debian's yaml-cpp config imports only libyaml-cpp.so; point the target at libyaml-cpp.a beside it.
function(ob_portable_static_yaml_cpp)
  find_library(OB_YAML_CPP_STATIC NAMES libyaml-cpp.a REQUIRED)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION_NONE "${OB_YAML_CPP_STATIC}"
                                            IMPORTED_LOCATION "${OB_YAML_CPP_STATIC}")
endfunction()

# -Os for the named targets. Nearly all of the static binary's text is resident (above), so text is idle
# RSS: the cold components at -Os are 0.65 MB less text and 0.5 MB less idle RSS (bench/README.md, issue 11).
function(ob_portable_optimise_for_size)
  foreach(t IN LISTS ARGN)
    target_compile_options(${t} PRIVATE -Os)
  endforeach()
endfunction()

# ob_portable_keep_speed(<target> <files>...): those of the target's files that run once per record keep
# the build type's -O2 (a source's options come after its target's on the command line).
function(ob_portable_keep_speed target)
  foreach(f IN LISTS ARGN)
    set_source_files_properties(${CMAKE_SOURCE_DIR}/${f} TARGET_DIRECTORY ${target} PROPERTIES COMPILE_OPTIONS -O2)
  endforeach()
endfunction()
