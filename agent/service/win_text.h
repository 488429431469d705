// UTF-8 <-> UTF-16 and Windows error messages for the Windows-only sources of agent/service.
// Internal; include only from *_win.cpp files.
#pragma once

#include <windows.h>

#include <string>
#include <string_view>

namespace opescare::service::internal {

std::wstring Widen(std::string_view utf8);
std::string Narrow(std::wstring_view utf16);
// "<what>: <the system's message> (error <code>)".
std::string WindowsError(std::string_view what, DWORD code);

}  // namespace opescare::service::internal
