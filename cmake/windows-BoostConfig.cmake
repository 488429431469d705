# Boost for the Windows prefix (copied to <prefix>/lib/cmake/Boost-<version>/ by
# scripts/build-windows-deps.sh): the targets the project links, Boost::headers, Boost::json and
# Boost::url, as `find_package(Boost ... CONFIG COMPONENTS json url)` gives them on Linux.
# The headers are Debian's /usr/include/boost, reached through a folder that holds only a `boost`
# link (never /usr/include itself: that is glibc's). JSON and URL are static libraries compiled
# from their src.hpp with the mingw toolchain.
get_filename_component(_ob_boost_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET Boost::headers)
  add_library(Boost::headers INTERFACE IMPORTED)
  set_target_properties(Boost::headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_ob_boost_prefix}/boost-include"
    # Asio's sockets and Beast's random numbers.
    INTERFACE_LINK_LIBRARIES "ws2_32;mswsock;bcrypt")
  add_library(Boost::boost INTERFACE IMPORTED)
  set_target_properties(Boost::boost PROPERTIES INTERFACE_LINK_LIBRARIES Boost::headers)
  # Boost.System is header-only since 1.69.
  add_library(Boost::system INTERFACE IMPORTED)
  set_target_properties(Boost::system PROPERTIES INTERFACE_LINK_LIBRARIES Boost::headers)
endif()

set(Boost_FOUND TRUE)
foreach(_ob_component IN LISTS Boost_FIND_COMPONENTS)
  set(_ob_lib "${_ob_boost_prefix}/lib/libboost_${_ob_component}.a")
  if(_ob_component STREQUAL "system" OR _ob_component STREQUAL "headers")
    set(Boost_${_ob_component}_FOUND TRUE)
  elseif(EXISTS "${_ob_lib}")
    if(NOT TARGET Boost::${_ob_component})
      add_library(Boost::${_ob_component} STATIC IMPORTED)
      set_target_properties(Boost::${_ob_component} PROPERTIES
        IMPORTED_LOCATION "${_ob_lib}"
        INTERFACE_LINK_LIBRARIES Boost::headers)
    endif()
    set(Boost_${_ob_component}_FOUND TRUE)
  else()
    set(Boost_${_ob_component}_FOUND FALSE)
    if(Boost_FIND_REQUIRED_${_ob_component})
      set(Boost_FOUND FALSE)
      set(Boost_NOT_FOUND_MESSAGE "the Windows prefix has no ${_ob_lib}")
    endif()
  endif()
endforeach()
set(Boost_INCLUDE_DIRS "${_ob_boost_prefix}/boost-include")
