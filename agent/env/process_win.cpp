// The machine and the process on Windows: host name, own path, the console, and the TCP probe that doctor
// uses (Winsock; Asio does the real HTTP).
#include <winsock2.h>  // before <windows.h>
#include <ws2tcpip.h>

#include <mutex>
#include <string>
#include <vector>

#include "agent/env/win_internal.h"
#include "agent/env/win_text.h"

namespace opescare::env::internal {
namespace {

using service::internal::Narrow;
using service::internal::Widen;
using service::internal::WindowsError;

// Winsock stays started for the life of the process (Asio starts it too; the calls are counted).
int StartWinsock() {
  static int rc = [] {
    WSADATA data{};
    return ::WSAStartup(MAKEWORD(2, 2), &data);
  }();
  return rc;
}

// "Connection refused" from "No connection could be made because the target machine actively refused it".
std::string SocketError(int err) {
  std::string words = WindowsError("connect", static_cast<DWORD>(err));
  return words.substr(sizeof "connect: " - 1);
}

// Ok when s connects to ai within timeout; else why not.
Status ConnectOne(SOCKET s, const addrinfoW* ai, std::chrono::milliseconds timeout) {
  u_long nonblocking = 1;
  ::ioctlsocket(s, FIONBIO, &nonblocking);
  if (::connect(s, ai->ai_addr, static_cast<int>(ai->ai_addrlen)) == 0) return Status::Ok();
  int err = ::WSAGetLastError();
  if (err != WSAEWOULDBLOCK) return Unavailable(SocketError(err));
  fd_set writable, failed;
  FD_ZERO(&writable);
  FD_ZERO(&failed);
  FD_SET(s, &writable);
  FD_SET(s, &failed);
  timeval tv{static_cast<long>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000 * 1000)};
  const int n = ::select(0, nullptr, &writable, &failed, &tv);
  if (n == 0) return Unavailable("no answer within " + std::to_string(timeout.count() / 1000) + " s");
  if (n < 0) return Unavailable(SocketError(::WSAGetLastError()));
  if (FD_ISSET(s, &writable)) return Status::Ok();
  int so_error = 0;
  int len = sizeof so_error;
  ::getsockopt(s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&so_error), &len);
  return Unavailable(SocketError(so_error != 0 ? so_error : WSAECONNREFUSED));
}

}  // namespace

Status ProbeTcpConnectWin(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
  if (int rc = StartWinsock(); rc != 0) return Unavailable(SocketError(rc));
  addrinfoW hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfoW* res = nullptr;
  if (int rc = ::GetAddrInfoW(Widen(host).c_str(), std::to_wstring(port).c_str(), &hints, &res); rc != 0)
    return NotFound(WindowsError(host + ": cannot resolve", static_cast<DWORD>(rc)));
  Status last = Unavailable("no address");
  for (const addrinfoW* ai = res; ai != nullptr; ai = ai->ai_next) {
    SOCKET s = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (s == INVALID_SOCKET) continue;
    last = ConnectOne(s, ai, timeout);
    ::closesocket(s);
    if (last.ok()) break;
  }
  ::FreeAddrInfoW(res);
  return last;
}

Result<std::string> HostNameWin() {
  wchar_t buf[256] = {0};
  DWORD n = static_cast<DWORD>(std::size(buf));
  if (!::GetComputerNameExW(ComputerNameDnsHostname, buf, &n))
    return WinStatus(::GetLastError(), "GetComputerNameExW", "cannot read the host name");
  return Narrow(std::wstring_view(buf, n));
}

Result<std::string> ExecutablePathWin() {
  std::vector<wchar_t> buf(MAX_PATH);
  for (;;) {
    const DWORD n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0) return WinStatus(::GetLastError(), "GetModuleFileNameW", "cannot read the executable's path");
    if (n < buf.size()) return Narrow(std::wstring_view(buf.data(), n));
    buf.resize(buf.size() * 2);  // truncated: try again with room
  }
}

bool StdoutIsConsole() {
  DWORD mode = 0;
  HANDLE out = ::GetStdHandle(STD_OUTPUT_HANDLE);
  return out != nullptr && out != INVALID_HANDLE_VALUE && ::GetConsoleMode(out, &mode) != 0;
}

}  // namespace opescare::env::internal
