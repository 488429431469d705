// doctor's checks of what this machine holds: the key, the folders, the outbox, the disk, the trust store.
#include <filesystem>

#include "agent/app/doctor_checks.h"
#include "agent/app/wiring.h"
#include "agent/env/env.h"
#include "agent/http/tls_context.h"
#include "agent/outbox/outbox.h"
#include "agent/util/files.h"

namespace opescare::app::doctor {
namespace {

constexpr uint64_t kMinFreeDiskBytes = 256ull << 20;  // below this a clinic's outbox can fill during an outage

// The key file systemd reads as root for LoadCredential=: present and private.
void CheckCredentialFile(Report& r, const std::string& file) {
  auto mode = FileMode(file);
  if (mode.ok() && (*mode & 077) != 0) {
    r.Fail("key", "the service's credential file " + file + " is readable by others", "chmod 600 " + file);
  } else {
    r.Pass("key", "not set in this shell; the service gets it from the credential file " + file +
                      " (LoadCredential=agent_key:" + file + ", mode 0600)");
  }
}

}  // namespace

void CheckKey(Report& r, const config::Config& cfg, const std::string& credential_file) {
  // Key: present (loading refuses an empty one) and, from a file, private.
  if (!credential_file.empty()) {
    CheckCredentialFile(r, credential_file);
  } else if (!cfg.agent_key_file.empty() && cfg.agent_key_source.find("file") != std::string::npos) {
    auto mode = FileMode(cfg.agent_key_file);
    if (mode.ok() && (*mode & 077) != 0) {
      r.Fail("key", cfg.agent_key_file + " is readable by others", config::KeyFilePrivacyFix(cfg.agent_key_file));
    } else {
      r.Pass("key", "from " + cfg.agent_key_source + " (mode 0600)");
    }
  } else {
    r.Pass("key", "from " + cfg.agent_key_source);
  }
}

void CheckServicePaths(Report& r, const InstalledUnit& unit, const config::Config& cfg) {
  const auto& c = cfg.connector;
  std::vector<std::pair<std::string, std::string>> folders = {
      {"outbox.path's folder", std::filesystem::path(cfg.outbox.path).parent_path().string()},
      {"connector.watch_folder", c.watch_folder}};
  // processed/ and failed/ are inside the watch folder unless configured elsewhere.
  if (!c.processed_folder.empty()) folders.emplace_back("connector.processed_folder", c.processed_folder);
  if (!c.failed_folder.empty()) folders.emplace_back("connector.failed_folder", c.failed_folder);
  for (const UnitCheck& check : WritablePathChecks(unit.view, folders)) {
    if (check.pass) {
      r.Pass(check.check, check.detail);
    } else {
      r.Fail(check.check, check.detail + " per " + unit.files.back(), check.fix);
    }
  }
}

void CheckFolder(Report& r, const std::string& label, const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    // The agent creates missing folders (and their missing parents) when it can; doctor checks that it could,
    // in the nearest folder that exists.
    std::filesystem::path ancestor = std::filesystem::path(dir).parent_path();
    while (!ancestor.empty() && !std::filesystem::exists(ancestor, ec) && ancestor != ancestor.parent_path())
      ancestor = ancestor.parent_path();
    std::string parent = ancestor.empty() ? "." : ancestor.string();
    if (Result<bool> w = env::Env::Default()->CanWriteDir(parent); w.ok() && *w) {
      r.Pass(label, dir + " does not exist yet; the agent will create it");
    } else {
      r.Fail(label, dir + " does not exist and " + parent + " is not writable",
             "mkdir -p " + dir + " && chown <service user> " + dir);
    }
    return;
  }
  env::Env& env = *env::Env::Default();
  std::string probe = dir + "/.opescare-doctor-" + std::to_string(env.ProcessId());
  auto file = env.NewWritableFile(probe, env::OpenMode::kExclusive, 0600);
  if (!file.ok()) {
    const std::string& m = file.status().message();  // "<path>: <what>: <the OS's words>"
    r.Fail(label, dir + " is not writable (" + m.substr(m.rfind(": ") + 2) + ")",
           "give the service user write access: chown <service user> " + dir + " (or chmod u+w)");
    return;
  }
  file->reset();
  (void)env.RemoveFile(probe);
  r.Pass(label, dir + " writable");
}

void CheckOutbox(Report& r, const config::Config& cfg) {
  std::error_code ec;
  if (!std::filesystem::exists(cfg.outbox.path, ec)) {
    std::string dir = std::filesystem::path(cfg.outbox.path).parent_path().string();
    if (dir.empty()) dir = ".";
    if (Result<bool> w = env::Env::Default()->CanWriteDir(dir); w.ok() && *w) {
      r.Pass("outbox", cfg.outbox.path + " does not exist yet; the agent will create it");
    } else {
      r.Fail("outbox", cfg.outbox.path + " does not exist and " + dir + " is not writable",
             "create " + dir + " writable by the service user, or set outbox.path");
    }
  } else {
    outbox::OutboxOptions oo = OutboxOptionsFromConfig(cfg);
    oo.read_only = true;
    auto ob = outbox::OpenOutbox(oo);
    if (!ob.ok()) {
      r.Fail("outbox", ob.status().message(),
             "keep the file (it holds undelivered records); move it aside only after copying it, and ask OpesCare "
             "support to recover it");
    } else {
      Status integrity = (*ob)->IntegrityCheck();
      auto stats = (*ob)->GetStats();
      if (!integrity.ok()) {
        r.Fail("outbox", cfg.outbox.path + ": integrity check failed: " + integrity.message(),
               "stop the agent, copy the file, and run: sqlite3 " + cfg.outbox.path +
                   " '.recover' | sqlite3 recovered.db (keep the original)");
      } else if (!stats.ok()) {
        r.Fail("outbox", stats.status().message(), "check the file's permissions");
      } else {
        std::string detail = "integrity ok, " + std::to_string(stats->file_bytes / 1024) + " KiB, " +
                             std::to_string(stats->queued) + " queued, " + std::to_string(stats->dead) + " dead";
        if (stats->queued > 0) detail += ", oldest " + std::to_string(stats->oldest_queued_age_seconds) + " s";
        r.Pass("outbox", detail);
      }
    }
  }
}

void CheckDisk(Report& r, const config::Config& cfg) {
  std::string disk_path = std::filesystem::path(cfg.outbox.path).parent_path().string();
  if (disk_path.empty()) disk_path = ".";
  auto free_bytes = FreeDiskBytes(disk_path);
  if (!free_bytes.ok()) {
    r.Fail("disk", free_bytes.status().message(), "check that " + disk_path + " exists");
  } else if (*free_bytes < kMinFreeDiskBytes) {
    r.Fail("disk", std::to_string(*free_bytes >> 20) + " MiB free on " + disk_path,
           "free space on that disk: the outbox needs room to hold records during an outage");
  } else {
    r.Pass("disk", std::to_string(*free_bytes >> 20) + " MiB free on " + disk_path);
  }
}

std::shared_ptr<http::TlsContext> CheckTrust(Report& r, const http::ClientOptions& options) {
  auto made = http::TlsContext::Create(options);
  if (!made.ok()) {
    r.Fail("trust", made.status().message(), "correct http.ca_file / http.client_cert / http.client_key");
    return nullptr;
  }
  const auto& ca = (*made)->system_ca();
  if (ca.file.empty() && ca.dirs.empty() && options.ca_file.empty() && (*made)->os_trust().certificates == 0) {
    r.Fail("trust", (*made)->TrustDescription(),
           "install the system CA certificates (ca-certificates), set SSL_CERT_FILE, or set http.ca_file");
  } else {
    r.Pass("trust", (*made)->TrustDescription());
  }
  return *made;
}

}  // namespace opescare::app::doctor
