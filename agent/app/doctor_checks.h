// Internal to `doctor` (doctor.cpp): the report it prints and its checks, one function a subject. Each check
// prints its ✓/✗ lines (with the fix) through the Report; none changes anything on the machine.
#pragma once

#include <iostream>
#include <memory>
#include <string>

#include "agent/app/unit_checks.h"
#include "agent/config/config.h"

namespace opescare::http {
class TlsContext;
struct ClientOptions;
}  // namespace opescare::http

namespace opescare::app::doctor {

class Report {
 public:
  void Pass(const std::string& check, const std::string& detail) { Line(true, check, detail, ""); }
  void Fail(const std::string& check, const std::string& detail, const std::string& fix) {
    Line(false, check, detail, fix);
    ok_ = false;
  }
  void Skip(const std::string& check, const std::string& why) {
    std::cout << "- " << check << ": skipped (" << OneLine(why) << ")\n";
    ok_ = false;
  }
  bool ok() const { return ok_; }

 private:
  // Details may quote multi-line text (SQLite's integrity_check rows, server messages): one line per check.
  static std::string OneLine(std::string text) {
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    return text;
  }
  void Line(bool pass, const std::string& check, const std::string& detail, const std::string& fix) {
    std::cout << (pass ? "✓ " : "✗ ") << check << ": " << OneLine(detail);
    if (!fix.empty()) std::cout << "\n    fix: " << OneLine(fix);
    std::cout << "\n";
  }
  bool ok_ = true;
};

// doctor_local.cpp: what this machine holds.
// The key's line once the config loaded: credential_file is the unit's LoadCredential= file when doctor found
// the key there ("" otherwise).
void CheckKey(Report& r, const config::Config& cfg, const std::string& credential_file);
// The folders the service writes, against the unit's writable paths (ProtectSystem=strict).
void CheckServicePaths(Report& r, const InstalledUnit& unit, const config::Config& cfg);
// A folder the agent writes: writable, or creatable by the agent.
void CheckFolder(Report& r, const std::string& label, const std::string& dir);
// The outbox: readable, intact, its size and oldest record (opened read-only).
void CheckOutbox(Report& r, const config::Config& cfg);
// Free space on the outbox's disk.
void CheckDisk(Report& r, const config::Config& cfg);
// The trust the agent would use (the system CA bundle found, as Go does, and http.ca_file); null on failure.
std::shared_ptr<http::TlsContext> CheckTrust(Report& r, const http::ClientOptions& options);

// doctor_server.cpp: the way to the server: dns, tcp, trust, proxy, tls, clock and one real heartbeat.
void CheckServer(Report& r, const config::Config& cfg);

}  // namespace opescare::app::doctor
