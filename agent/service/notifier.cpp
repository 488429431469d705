// Notifier: the sd_notify(3) messages and the environment systemd passes to a Type=notify service.
#include "agent/service/notifier.h"

#include <charconv>
#include <cstdlib>
#include <utility>

#include "agent/env/notify_socket.h"

namespace opescare::service {
namespace {

// systemd itself only reads this much of a STATUS= line into `systemctl status`.
constexpr size_t kMaxStatusBytes = 512;

template <typename T>
std::optional<T> ParseUnsigned(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  const std::string_view s(text);
  T value{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::chrono::microseconds> ParseWatchdogTimeout(const char* watchdog_usec, const char* watchdog_pid,
                                                              int64_t self_pid) {
  if (watchdog_pid != nullptr) {
    const auto pid = ParseUnsigned<uint64_t>(watchdog_pid);
    if (!pid || static_cast<int64_t>(*pid) != self_pid) return std::nullopt;
  }
  const auto usec = ParseUnsigned<uint64_t>(watchdog_usec);
  // Guard the signed duration against absurd values (systemd caps WatchdogSec far below this).
  if (!usec || *usec == 0 || *usec > (uint64_t{1} << 62)) return std::nullopt;
  return std::chrono::microseconds(static_cast<int64_t>(*usec));
}

std::string StatusMessage(std::string_view text) {
  std::string line(text.substr(0, kMaxStatusBytes));
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return "STATUS=" + line;
}

std::string ReloadingMessage(std::chrono::microseconds monotonic_now) {
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_now.count());
}

Notifier Notifier::FromEnvironment() {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (socket_path == nullptr || *socket_path == '\0') return Notifier();
  auto timeout =
      ParseWatchdogTimeout(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), internal::CurrentProcessId());
  auto opened = Open(socket_path, timeout);
  if (!opened.ok()) {
    Notifier disabled;
    disabled.open_error_ = opened.status();
    return disabled;
  }
  return std::move(opened).value();
}

Result<Notifier> Notifier::Open(const std::string& socket_path,
                                std::optional<std::chrono::microseconds> watchdog_timeout) {
  auto socket = internal::OpenNotifySocket(socket_path);
  if (!socket.ok()) return socket.status();
  Notifier notifier;
  notifier.fd_ = socket->fd;
  notifier.address_ = std::move(socket->address);
  notifier.watchdog_timeout_ = watchdog_timeout;
  return notifier;
}

Notifier::Notifier(Notifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      watchdog_timeout_(other.watchdog_timeout_),
      open_error_(std::move(other.open_error_)) {}

Notifier& Notifier::operator=(Notifier&& other) noexcept {
  if (this != &other) {
    internal::CloseNotifySocket(fd_);
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    watchdog_timeout_ = other.watchdog_timeout_;
    open_error_ = std::move(other.open_error_);
  }
  return *this;
}

Notifier::~Notifier() { internal::CloseNotifySocket(fd_); }

std::optional<std::chrono::microseconds> Notifier::watchdog_ping_interval() const {
  if (!watchdog_timeout_) return std::nullopt;
  return *watchdog_timeout_ / 2;
}

Status Notifier::Send(std::string_view message) {
  if (!enabled()) return Status::Ok();
  return internal::SendNotify(fd_, address_, message);
}

Status Notifier::Ready() { return Send("READY=1"); }
Status Notifier::SetStatus(std::string_view text) { return Send(StatusMessage(text)); }
Status Notifier::Watchdog() { return Send("WATCHDOG=1"); }
Status Notifier::Stopping() { return Send("STOPPING=1"); }
Status Notifier::Reloading() { return Send(ReloadingMessage(internal::MonotonicNow())); }

}  // namespace opescare::service
