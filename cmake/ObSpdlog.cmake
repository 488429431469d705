# spdlog and fmt compiled once in the project from the headers Debian ships (libspdlog-dev and
# libfmt-dev ship no .a): one static library, ob_spdlog, offered under the name the components link,
# spdlog::spdlog. Used by the portable build (OB_PORTABLE); see cmake/ObPortable.cmake.
find_package(fmt REQUIRED)  # for the include path and version check only; nothing links libfmt.so
add_library(ob_spdlog STATIC ${CMAKE_CURRENT_LIST_DIR}/spdlog/spdlog.cpp ${CMAKE_CURRENT_LIST_DIR}/spdlog/fmt.cpp)
target_compile_definitions(ob_spdlog PUBLIC SPDLOG_COMPILED_LIB SPDLOG_FMT_EXTERNAL)
target_include_directories(ob_spdlog SYSTEM PUBLIC $<TARGET_PROPERTY:fmt::fmt,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(ob_spdlog PRIVATE ob_options PUBLIC Threads::Threads)
add_library(spdlog::spdlog ALIAS ob_spdlog)
