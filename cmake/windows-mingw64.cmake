# CMake toolchain for the Windows build: mingw-w64 x86_64 (posix threads), static, against the prefix
# that scripts/build-windows-deps.sh builds from Debian's sources.
# The prefix comes from -DOB_WIN_DEPS_PREFIX=..., else $OB_WIN_DEPS_PREFIX, else the `current` link the
# script leaves in its cache root. The same file builds the dependencies themselves, so that the
# libraries and the agent are compiled by one compiler with one set of flags.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

# The posix thread model: GCC 12's win32 model has no std::mutex, std::thread or <stop_token>.
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_AR x86_64-w64-mingw32-ar CACHE FILEPATH "")
set(CMAKE_RANLIB x86_64-w64-mingw32-ranlib CACHE FILEPATH "")

if(NOT OB_WIN_DEPS_PREFIX)
  if(DEFINED ENV{OB_WIN_DEPS_PREFIX} AND NOT "$ENV{OB_WIN_DEPS_PREFIX}" STREQUAL "")
    set(OB_WIN_DEPS_PREFIX "$ENV{OB_WIN_DEPS_PREFIX}")
  else()
    set(OB_WIN_DEPS_PREFIX "/var/cache/opescare-ci/win-deps/current")
  endif()
endif()
set(OB_WIN_DEPS_PREFIX "${OB_WIN_DEPS_PREFIX}" CACHE PATH "Prefix built by scripts/build-windows-deps.sh")
# try_compile projects re-read this file: hand them the same prefix.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES OB_WIN_DEPS_PREFIX)

# Only the prefix and the mingw sysroot are searched for headers, libraries and packages; programs
# (python3, wine) come from the build machine. /usr/include never appears: it is glibc's.
set(CMAKE_FIND_ROOT_PATH "${OB_WIN_DEPS_PREFIX}" /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Windows 10 and later; a static .exe that needs no MinGW runtime DLL beside it.
set(CMAKE_C_FLAGS_INIT "-D_WIN32_WINNT=0x0A00")
set(CMAKE_CXX_FLAGS_INIT "-D_WIN32_WINNT=0x0A00")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(OPENSSL_USE_STATIC_LIBS ON)
set(ZLIB_USE_STATIC_LIBS ON)

# ctest and gtest_discover_tests run the .exe files through wine.
find_program(OB_WINE wine)
if(OB_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${OB_WINE}")
endif()
