# OB_PORTABLE: the agent linked fully static (glibc, libstdc++, OpenSSL, SQLite, yaml-cpp, Boost,
# zlib, libdeflate, spdlog/fmt), so one binary runs on any x86_64 Linux with a kernel >= 3.2.
# Included from the top CMakeLists before any find_package; Debian 12's -dev packages supply every .a.
#
# Static glibc caveat: getaddrinfo and getpwnam still load NSS modules (libnss_files, libnss_dns) of
# the glibc they were built against at run time. The agent resolves only the server's host name;
# the modules "files" and "dns" are built into libc.a's fallback since glibc 2.34 (Debian 12's libc.a
# is 2.36), so /etc/hosts and DNS work without any .so; modules such as sss/ldap/mdns from
# /etc/nsswitch.conf are not available (README "Portable binary"). The linker's warnings about it
# are expected; they are the only ones the portable link is allowed to print.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
set(OPENSSL_USE_STATIC_LIBS ON)
set(Boost_USE_STATIC_LIBS ON)
set(ZLIB_USE_STATIC_LIBS ON)
set(OB_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(OB_BUILD_BENCH OFF CACHE BOOL "" FORCE)
set(OB_BUILD_SIMULATOR OFF CACHE BOOL "" FORCE)
# -static for every executable: also pulls libstdc++.a and libgcc.a.
add_link_options(-static)

# Debian's yaml-cpp config imports only libyaml-cpp.so; point the target at libyaml-cpp.a beside it.
function(ob_portable_static_yaml_cpp)
  find_library(OB_YAML_CPP_STATIC NAMES libyaml-cpp.a REQUIRED)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION_NONE "${OB_YAML_CPP_STATIC}"
                                            IMPORTED_LOCATION "${OB_YAML_CPP_STATIC}")
endfunction()
