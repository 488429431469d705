// Commands that work on the outbox file: `enqueue`, `status`, `dead-letters`.
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"
#include "agent/app/wiring.h"
#include "agent/config/logging.h"
#include "agent/connectors/csv_folder/csv_folder_connector.h"
#include "agent/connectors/csv_folder/enqueue.h"
#include "agent/connectors/csv_folder/outbox_sink.h"
#include "agent/http/client.h"
#include "agent/outbox/outbox.h"
#include "agent/util/files.h"
#include "agent/util/hash.h"

namespace opescare::app {
namespace {

namespace json = boost::json;

constexpr uint64_t kMaxJsonFileBytes = 256ull << 20;  // a records file is read whole; beyond this use NDJSON/CSV

bool EndsWith(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

bool IsJsonRecordsFile(const std::string& path) {
  return EndsWith(path, ".json") || EndsWith(path, ".ndjson") || EndsWith(path, ".jsonl");
}

// {"type": "...", "data": {...}[, "id": "..."]} -> a record; its id, when not given, comes from its content.
Result<outbox::Record> RecordFromJson(const json::value& v, const std::string& file, int64_t row) {
  if (!v.is_object()) return InvalidArgument("not a JSON object");
  const auto& o = v.as_object();
  const auto* type = o.if_contains("type");
  const auto* data = o.if_contains("data");
  if (!type || !type->is_string() || type->as_string().empty()) return InvalidArgument("\"type\" must be a string");
  if (!data || !data->is_object()) return InvalidArgument("\"data\" must be an object");
  for (const auto& [k, field] : data->as_object()) {
    if (!field.is_string()) return InvalidArgument("data." + std::string(k) + " must be a string");
  }
  outbox::Record r;
  r.type = std::string(type->as_string());
  r.data_json = json::serialize(*data);
  if (const auto* id = o.if_contains("id"); id && id->is_string() && !id->as_string().empty()) {
    r.id = std::string(id->as_string());
  } else {
    r.id = "r_" + Sha256Hex(r.type + "\n" + r.data_json).substr(0, 32);
  }
  r.source_file = file;
  r.source_row = row;
  return r;
}

struct JsonFileResult {
  std::vector<outbox::Record> records;
  std::vector<std::string> errors;  // "file:line: reason"
};

Result<JsonFileResult> ParseJsonRecordsFile(const std::string& path) {
  auto text = ReadFileLimited(path, kMaxJsonFileBytes);
  if (!text.ok()) return text.status();
  JsonFileResult out;
  std::string name = std::filesystem::path(path).filename().string();
  auto first = text->find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (*text)[first] == '[') {  // one JSON array of records
    boost::system::error_code ec;
    json::value all = json::parse(*text, ec);
    if (ec || !all.is_array()) return InvalidArgument(path + ": not a JSON array of records (" + ec.message() + ")");
    int64_t index = 0;
    for (const auto& v : all.as_array()) {
      ++index;
      auto r = RecordFromJson(v, name, index);
      if (r.ok()) out.records.push_back(std::move(*r));
      else out.errors.push_back(path + ": record " + std::to_string(index) + ": " + r.status().message());
    }
    return out;
  }
  std::istringstream lines(*text);  // NDJSON: one record per line
  std::string line;
  int64_t n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec) {
      out.errors.push_back(path + ":" + std::to_string(n) + ": invalid JSON (" + ec.message() + ")");
      continue;
    }
    auto r = RecordFromJson(v, name, n);
    if (r.ok()) out.records.push_back(std::move(*r));
    else out.errors.push_back(path + ":" + std::to_string(n) + ": " + r.status().message());
  }
  return out;
}

// A one-line progress bar on a terminal: bytes, rows/s.
class ProgressBar {
 public:
  explicit ProgressBar(std::string name) : name_(std::move(name)), tty_(env::Env::Default()->StdoutIsTerminal()) {}
  void Update(const csv_folder::IngestProgress& p) {
    if (!tty_ || p.bytes_total == 0) return;
    auto now = std::chrono::steady_clock::now();
    if (p.phase != csv_folder::IngestProgress::Phase::kDone && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double frac = static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total);
    int filled = static_cast<int>(frac * 30);
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0 ? static_cast<double>(p.rows_ok + p.rows_failed) / secs : 0;
    const char* phase = p.phase == csv_folder::IngestProgress::Phase::kHashing ? "hashing" : "reading";
    std::printf("\r%s %-7s [%s%s] %3.0f%% %7.1f MB %9.0f rows/s", name_.c_str(), phase, std::string(filled, '=').c_str(),
                std::string(30 - filled, ' ').c_str(), frac * 100, static_cast<double>(p.bytes_done) / 1e6, rate);
    std::fflush(stdout);
    shown_ = true;
  }
  void Finish() {
    if (shown_) std::printf("\r\033[K");
  }

 private:
  std::string name_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

Result<std::unique_ptr<outbox::Outbox>> OpenForCli(const config::Config& cfg, bool read_only) {
  outbox::OutboxOptions o = OutboxOptionsFromConfig(cfg);
  o.read_only = read_only;
  return outbox::OpenOutbox(o);
}

}  // namespace

int CmdEnqueue(const GlobalOptions& global, const std::vector<std::string>& files) {
  auto cfg = LoadConfigOrReport(global);
  if (!cfg) return kExitUsage;
  auto ob = OpenForCli(*cfg, false);
  if (!ob.ok()) {
    std::cerr << "enqueue: " << ob.status().message() << "\n";
    return kExitFailure;
  }
  auto connector = csv_folder::ConnectorOptionsFromConfig(cfg->connector);
  if (!connector.ok()) {
    std::cerr << "enqueue: " << connector.status().message() << "\n";
    return kExitUsage;
  }
  csv_folder::ProcessorOptions processing = connector->processing;
  processing.move_source = false;  // a file named by hand stays where it is; its hash makes a re-run a no-op
  csv_folder::OutboxRecordSink sink(ob->get(), cfg->outbox.max_size_mb);
  SystemClock clock;

  int exit_code = kExitOk;
  int64_t total_queued = 0;
  for (const std::string& path : files) {
    if (IsJsonRecordsFile(path)) {
      auto parsed = ParseJsonRecordsFile(path);
      if (!parsed.ok()) {
        std::cerr << "enqueue: " << parsed.status().message() << "\n";
        exit_code = kExitFailure;
        continue;
      }
      for (const auto& e : parsed->errors) std::cerr << "enqueue: " << e << "\n";
      auto sha = Sha256HexOfFile(path);
      if (!sha.ok()) {
        std::cerr << "enqueue: " << sha.status().message() << "\n";
        exit_code = kExitFailure;
        continue;
      }
      outbox::FileInfo info{*sha, std::filesystem::path(path).filename().string(),
                            static_cast<int64_t>(parsed->records.size()), static_cast<int64_t>(parsed->errors.size())};
      auto counts = (*ob)->Enqueue(parsed->records, info);
      if (!counts.ok()) {
        std::cerr << "enqueue: " << path << ": " << counts.status().message() << "\n";
        exit_code = kExitFailure;
        continue;
      }
      if (counts->file_already_known) {
        std::cout << path << ": already queued before (same content); nothing queued\n";
      } else {
        std::cout << path << ": queued " << counts->inserted << " records";
        if (!parsed->errors.empty()) std::cout << ", " << parsed->errors.size() << " invalid (listed above)";
        std::cout << "\n";
        total_queued += counts->inserted;
      }
      if (parsed->records.empty() && !parsed->errors.empty()) exit_code = kExitFailure;
      continue;
    }
    ProgressBar bar(std::filesystem::path(path).filename().string());
    csv_folder::FileOutcome out = csv_folder::EnqueueFile(path, processing, &sink, &clock,
                                                         [&bar](const csv_folder::IngestProgress& p) { bar.Update(p); });
    bar.Finish();
    std::cout << out.Summary() << "\n";
    using Kind = csv_folder::FileOutcome::Kind;
    if (out.kind == Kind::kQueued) total_queued += static_cast<int64_t>(out.rows_ok) - sink.last_skipped();
    if (out.kind == Kind::kRejected || out.kind == Kind::kRetryLater) exit_code = kExitFailure;
  }
  std::cout << "total: " << total_queued << " records queued in " << cfg->outbox.path << "\n";
  return exit_code;
}

namespace {

// The running agent's /status.json, when its status server answers on loopback.
std::optional<json::value> FetchRunningStatus(const config::Config& cfg) {
  if (cfg.status.listen.empty()) return std::nullopt;
  auto hp = config::ParseHostPort(cfg.status.listen);
  if (!hp || hp->port == 0) return std::nullopt;
  std::string host = hp->host == "0.0.0.0" || hp->host.empty() ? "127.0.0.1" : hp->host;
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  http::ClientOptions o;
  o.base_url = "http://" + host + ":" + std::to_string(hp->port);
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.request_timeout = std::chrono::milliseconds(3000);
  o.max_response_bytes = 4u << 20;
  http::Request r;
  r.method = "GET";
  r.target = "/status.json";
  auto outcome = http::SendBlocking(o, r, nullptr);
  if (!outcome.ok() || !outcome->response || outcome->response->status != 200) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(outcome->response->body, ec);
  if (ec) return std::nullopt;
  return v;
}

std::string Ago(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min";
  if (seconds < 172800) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / 86400) + " days";
}

}  // namespace

int CmdStatus(const GlobalOptions& global, bool as_json) {
  auto cfg = LoadConfigOrReport(global);
  if (!cfg) return kExitUsage;
  if (auto live = FetchRunningStatus(*cfg)) {
    if (as_json) {
      json::object o;
      o["source"] = "agent";
      o["status"] = *live;
      std::cout << json::serialize(o) << "\n";
      return kExitOk;
    }
    auto get = [&](std::initializer_list<const char*> path) -> const json::value* {
      const json::value* v = &*live;
      for (const char* k : path) {
        if (!v->is_object()) return nullptr;
        v = v->as_object().if_contains(k);
        if (!v) return nullptr;
      }
      return v;
    };
    auto text = [&](std::initializer_list<const char*> path) {
      const json::value* v = get(path);
      if (!v || v->is_null()) return std::string("-");
      if (v->is_string()) return std::string(v->as_string());
      return json::serialize(*v);
    };
    std::cout << "agent:        running (status from its status page)\n";
    std::cout << "connection:   " << text({"connection", "state"}) << "\n";
    std::cout << "last sync:    " << text({"connection", "last_sync_at"}) << "\n";
    std::cout << "queued:       " << text({"outbox", "pending"}) << " pending, " << text({"outbox", "in_batches"})
              << " in batches, oldest " << text({"outbox", "oldest_pending_age_seconds"}) << " s\n";
    std::cout << "dead letters: " << text({"outbox", "dead"}) << "\n";
    std::cout << "delivery:     " << (text({"delivery", "paused"}) == "true" ? "PAUSED: " + text({"delivery", "paused_reason"}) : "running") << "\n";
    return kExitOk;
  }

  auto ob = OpenForCli(*cfg, true);
  if (!ob.ok()) {
    std::cerr << "status: the agent is not answering on " << cfg->status.listen << " and its outbox cannot be read: "
              << ob.status().message() << "\n";
    return kExitFailure;
  }
  auto stats = (*ob)->GetStats();
  if (!stats.ok()) {
    std::cerr << "status: " << stats.status().message() << "\n";
    return kExitFailure;
  }
  auto last_sync = (*ob)->GetMeta(outbox::kMetaLastSyncAt);
  std::string sync_text = last_sync.ok() && last_sync->has_value() ? **last_sync : "";
  if (as_json) {
    json::object o;
    o["source"] = "outbox";
    o["agent_running"] = false;
    o["outbox_path"] = cfg->outbox.path;
    o["queued"] = stats->queued;
    o["pending"] = stats->pending;
    o["in_batches"] = stats->in_batches;
    o["dead"] = stats->dead;
    o["files"] = stats->files;
    o["oldest_pending_age_seconds"] = stats->oldest_queued_age_seconds;
    o["size_bytes"] = stats->file_bytes;
    o["last_sync_at"] = sync_text.empty() ? json::value(nullptr) : json::value(sync_text);
    o["connection_state"] = "unknown";
    std::cout << json::serialize(o) << "\n";
    return kExitOk;
  }
  std::cout << "agent:        not answering on " << (cfg->status.listen.empty() ? "(status page off)" : cfg->status.listen)
            << "; figures from " << cfg->outbox.path << "\n";
  std::cout << "connection:   unknown (the agent is not running)\n";
  std::cout << "last sync:    " << (sync_text.empty() ? "never" : sync_text) << "\n";
  std::cout << "queued:       " << stats->queued << " (" << stats->pending << " pending, " << stats->in_batches
            << " in batches)";
  if (stats->queued > 0) std::cout << ", oldest " << Ago(stats->oldest_queued_age_seconds);
  std::cout << "\n";
  std::cout << "dead letters: " << stats->dead << (stats->dead ? " (see `opescare-bridge dead-letters list`)" : "") << "\n";
  std::cout << "outbox size:  " << stats->file_bytes / 1024 << " KiB, " << stats->files << " files ingested\n";
  return kExitOk;
}

int CmdDeadLetters(const GlobalOptions& global, const std::string& action, const std::vector<std::string>& ids,
                   bool all) {
  auto cfg = LoadConfigOrReport(global);
  if (!cfg) return kExitUsage;
  if (action != "list" && ids.empty() && !all) {
    std::cerr << "dead-letters " << action << ": name record ids, or --all\n";
    return kExitUsage;
  }
  auto ob = OpenForCli(*cfg, action == "list");
  if (!ob.ok()) {
    std::cerr << "dead-letters: " << ob.status().message() << "\n";
    return kExitFailure;
  }
  if (action == "list") {
    outbox::DeadLetterQuery q;
    q.limit = 100000;
    auto list = (*ob)->ListDeadLetters(q);
    if (!list.ok()) {
      std::cerr << "dead-letters: " << list.status().message() << "\n";
      return kExitFailure;
    }
    if (list->empty()) {
      std::cout << "no dead letters\n";
      return kExitOk;
    }
    for (const auto& d : *list) {
      std::cout << d.id << "\t" << d.type << "\t" << (d.source_file.empty() ? "-" : d.source_file) << ":"
                << d.source_row << "\t" << FormatIso8601Utc(d.dead_at) << "\t" << d.error << ": " << d.message << "\n";
    }
    std::cout << list->size() << " dead letters\n";
    return kExitOk;
  }
  Result<int64_t> n = int64_t{0};
  if (action == "retry") n = all ? (*ob)->RequeueAllDeadLetters() : (*ob)->RequeueDeadLetters(ids);
  else n = all ? (*ob)->PurgeAllDeadLetters() : (*ob)->PurgeDeadLetters(ids);
  if (!n.ok()) {
    std::cerr << "dead-letters " << action << ": " << n.status().message() << "\n";
    return kExitFailure;
  }
  if (action == "retry") {
    std::cout << *n << " records queued again; the agent sends them at its next delivery\n";
  } else {
    std::cout << *n << " dead letters deleted for good\n";
  }
  if (!all && *n < static_cast<int64_t>(ids.size())) {
    std::cerr << "dead-letters " << action << ": " << (static_cast<int64_t>(ids.size()) - *n)
              << " of the ids named are not dead letters\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace opescare::app
