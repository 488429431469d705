// Test fakes for the delivery loop: an in-memory Outbox (with faults on demand) and a transport whose
// requests the test answers by hand. Logic only: real SQLite is tested in tests/unit/outbox.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/delivery/transport.h"
#include "agent/http/gzip.h"
#include "agent/outbox/outbox.h"

namespace opescare::delivery::testing {

class FakeOutbox final : public outbox::Outbox {
 public:
  struct StoredBatch {
    std::vector<outbox::Record> records;
    int64_t attempts = 0;
    outbox::TimePoint due{};
    std::string last_error;
  };

  std::deque<outbox::Record> pending;
  std::map<std::string, StoredBatch> batches;
  std::vector<std::string> batch_order;  // creation order, for "oldest due first"
  std::set<std::string> in_flight;
  std::map<std::string, outbox::Rejection> dead;
  std::map<std::string, std::string> meta;
  std::map<std::string, std::deque<Status>> fail_next;  // method name -> errors returned by its next calls
  std::vector<std::string> calls;                       // every batch call, in order
  int next_id = 1;

  void Add(const std::string& id) { pending.push_back({id, "patient", "{}", "", 0}); }
  size_t queued() const {
    size_t n = pending.size();
    for (const auto& [id, b] : batches) n += b.records.size();
    return n;
  }

  Result<std::unique_ptr<outbox::EnqueueTransaction>> BeginEnqueue() override { return Internal("fake"); }
  Result<outbox::EnqueueCounts> Enqueue(const std::vector<outbox::Record>&,
                                        const std::optional<outbox::FileInfo>&) override {
    return Internal("fake");
  }
  Result<bool> HasFile(const std::string&) override { return false; }
  Result<std::vector<outbox::IngestedFile>> ListFiles(size_t) override { return std::vector<outbox::IngestedFile>{}; }

  Result<outbox::NextBatch> NextDueBatch(outbox::TimePoint now, const outbox::BatchLimits& limits) override {
    calls.push_back("NextDueBatch");
    if (Status s = Fail("NextDueBatch"); !s.ok()) return s;
    outbox::NextBatch out;
    for (const std::string& id : batch_order) {
      auto it = batches.find(id);
      if (it == batches.end() || in_flight.contains(id)) continue;
      if (it->second.due <= now) {
        in_flight.insert(id);
        out.batch = ToBatch(id, it->second, false);
        return out;
      }
      if (!out.next_attempt_at || it->second.due < *out.next_attempt_at) out.next_attempt_at = it->second.due;
    }
    if ((out.next_attempt_at && !limits.form_while_waiting) || pending.empty()) return out;
    StoredBatch b;
    b.due = now;
    while (!pending.empty() && b.records.size() < limits.max_records) {
      b.records.push_back(pending.front());
      pending.pop_front();
    }
    std::string id = NewId();
    batches[id] = b;
    in_flight.insert(id);
    out.batch = ToBatch(id, b, true);
    return out;
  }

  // Logged, then the two calls as the base does them (the real outbox commits them as one transaction).
  Result<outbox::AckAndNext> AckAndNextDueBatch(const outbox::BatchAck& ack, outbox::TimePoint now,
                                                const outbox::BatchLimits& limits) override {
    calls.push_back("AckAndNextDueBatch " + ack.batch_id);
    if (Status s = Fail("AckAndNextDueBatch"); !s.ok()) return s;
    return Outbox::AckAndNextDueBatch(ack, now, limits);
  }

  Result<outbox::AckCounts> AckAll(const std::string& batch_id) override {
    calls.push_back("AckAll " + batch_id);
    if (Status s = Fail("AckAll"); !s.ok()) return s;
    auto it = batches.find(batch_id);
    if (it == batches.end()) return NotFound("no batch " + batch_id);
    outbox::AckCounts c;
    c.accepted = static_cast<int64_t>(it->second.records.size());
    Erase(batch_id);
    return c;
  }

  Result<outbox::AckCounts> AckPartial(const std::string& batch_id, const std::vector<std::string>& accepted,
                                       const std::vector<outbox::Rejection>& rejected) override {
    calls.push_back("AckPartial " + batch_id);
    if (Status s = Fail("AckPartial"); !s.ok()) return s;
    auto it = batches.find(batch_id);
    if (it == batches.end()) return NotFound("no batch " + batch_id);
    outbox::AckCounts c;
    std::vector<outbox::Record> back;
    for (const outbox::Record& r : it->second.records) {
      auto rej = std::find_if(rejected.begin(), rejected.end(), [&](const auto& x) { return x.id == r.id; });
      if (rej != rejected.end()) {
        dead[r.id] = *rej;
        ++c.rejected;
      } else if (std::find(accepted.begin(), accepted.end(), r.id) != accepted.end()) {
        ++c.accepted;
      } else {
        back.push_back(r);
        ++c.returned;
      }
    }
    pending.insert(pending.begin(), back.begin(), back.end());  // queue order kept
    Erase(batch_id);
    return c;
  }

  Status RescheduleBatch(const std::string& batch_id, outbox::TimePoint at, const std::string& error,
                         bool count_attempt) override {
    calls.push_back("RescheduleBatch " + batch_id);
    if (Status s = Fail("RescheduleBatch"); !s.ok()) return s;
    auto it = batches.find(batch_id);
    if (it == batches.end()) return NotFound("no batch " + batch_id);
    it->second.due = at;
    it->second.last_error = error;
    if (count_attempt) ++it->second.attempts;
    in_flight.erase(batch_id);
    return Status::Ok();
  }

  Result<outbox::SplitResult> SplitBatch(const std::string& batch_id) override {
    calls.push_back("SplitBatch " + batch_id);
    if (Status s = Fail("SplitBatch"); !s.ok()) return s;
    auto it = batches.find(batch_id);
    if (it == batches.end()) return NotFound("no batch " + batch_id);
    if (it->second.records.size() < 2) return FailedPrecondition("single");
    StoredBatch a, b;
    a.due = b.due = it->second.due;
    size_t half = it->second.records.size() / 2;
    a.records.assign(it->second.records.begin(), it->second.records.begin() + static_cast<long>(half));
    b.records.assign(it->second.records.begin() + static_cast<long>(half), it->second.records.end());
    Erase(batch_id);
    outbox::SplitResult r{NewId(), NewId()};
    batches[r.first_batch_id] = a;
    batches[r.second_batch_id] = b;
    return r;
  }

  Status DeadLetterBatch(const std::string& batch_id, const std::string& error, const std::string& message) override {
    calls.push_back("DeadLetterBatch " + batch_id);
    if (Status s = Fail("DeadLetterBatch"); !s.ok()) return s;
    auto it = batches.find(batch_id);
    if (it == batches.end()) return NotFound("no batch " + batch_id);
    if (it->second.records.size() != 1) return FailedPrecondition("not single");
    dead[it->second.records[0].id] = {it->second.records[0].id, error, message};
    Erase(batch_id);
    return Status::Ok();
  }

  void ReleaseBatch(const std::string& batch_id) override {
    calls.push_back("ReleaseBatch " + batch_id);
    in_flight.erase(batch_id);
  }

  Result<std::vector<outbox::DeadLetter>> ListDeadLetters(const outbox::DeadLetterQuery&) override {
    return std::vector<outbox::DeadLetter>{};
  }
  Result<int64_t> RequeueDeadLetters(const std::vector<std::string>&) override { return int64_t{0}; }
  Result<int64_t> RequeueAllDeadLetters() override { return int64_t{0}; }
  Result<int64_t> PurgeDeadLetters(const std::vector<std::string>&) override { return int64_t{0}; }
  Result<int64_t> PurgeAllDeadLetters() override { return int64_t{0}; }
  Result<outbox::Stats> GetStats() override { return outbox::Stats{}; }
  Result<bool> IsFull(uint64_t) override { return false; }
  Result<std::optional<std::string>> GetMeta(const std::string& key) override {
    auto it = meta.find(key);
    if (it == meta.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status SetMeta(const std::string& key, const std::string& value) override {
    meta[key] = value;
    return Status::Ok();
  }
  Status DeleteMeta(const std::string& key) override {
    meta.erase(key);
    return Status::Ok();
  }
  Status IntegrityCheck() override { return Status::Ok(); }
  const std::string& path() const override { return path_; }

 private:
  Status Fail(const std::string& method) {
    auto it = fail_next.find(method);
    if (it == fail_next.end() || it->second.empty()) return Status::Ok();
    Status s = it->second.front();
    it->second.pop_front();
    return s;
  }
  std::string NewId() {
    std::string id = "b" + std::to_string(next_id++);
    batch_order.push_back(id);
    return id;
  }
  void Erase(const std::string& id) {
    batches.erase(id);
    in_flight.erase(id);
  }
  static outbox::Batch ToBatch(const std::string& id, const StoredBatch& b, bool fresh) {
    outbox::Batch out;
    out.batch_id = id;
    out.records = b.records;
    out.attempts = b.attempts;
    out.last_error = b.last_error;
    out.newly_formed = fresh;
    return out;
  }
  std::string path_ = "fake.db";
};

// Requests wait until the test answers them.
class FakeTransport {
 public:
  struct Pending {
    http::Request request;
    std::function<void(http::Outcome)> done;
  };
  std::deque<Pending> pending;
  std::vector<http::Request> sent;  // every request, in order
  int closes = 0;
  // A request's on_sent (its bytes left the socket) is posted to net at once, as on a fast link; with
  // hold_sent the test runs it (MarkSent), as on a slow one.
  boost::asio::io_context* net = nullptr;
  bool hold_sent = false;
  std::map<std::string, std::function<void()>> unsent;  // by Idempotency-Key, while hold_sent

  Transport Make() {
    Transport t;
    t.send = [this](http::Request r, std::function<void(http::Outcome)> done) {
      if (auto on_sent = std::move(r.on_sent)) {
        r.on_sent = nullptr;
        if (hold_sent) {
          unsent[KeyOf(r)] = std::move(on_sent);
        } else if (net != nullptr) {
          boost::asio::post(*net, std::move(on_sent));
        }
      }
      // A gzip body is kept inflated, as the server reads it (gzip_body stays set); one that is not gzip shows.
      if (r.gzip_body) {
        auto raw = http::GzipDecompress(r.body, 1 << 20);
        r.body = raw.ok() ? std::move(*raw) : "(not gzip: " + raw.status().message() + ")";
      }
      sent.push_back(r);
      pending.push_back({std::move(r), std::move(done)});
    };
    t.close = [this] {
      ++closes;
      auto all = std::move(pending);
      pending.clear();
      for (auto& p : all) {
        http::Outcome o;
        o.stage = http::FailureStage::kClosed;
        o.error = "closed";
        p.done(std::move(o));
      }
    };
    t.base_url = "https://opescare.test";
    return t;
  }

  // The held request under this key has left the socket: posts its on_sent. False when none is held.
  bool MarkSent(const std::string& key) {
    auto it = unsent.find(key);
    if (it == unsent.end() || net == nullptr) return false;
    boost::asio::post(*net, std::move(it->second));
    unsent.erase(it);
    return true;
  }

  // Answers the oldest request.
  void Respond(int status, std::string body, http::Headers headers = {}) {
    http::Outcome o;
    o.response.emplace();
    o.response->status = status;
    o.response->body = std::move(body);
    o.response->headers = std::move(headers);
    Finish(std::move(o));
  }
  void FailTransport(http::FailureStage stage) {
    http::Outcome o;
    o.stage = stage;
    o.error = "connection refused";
    Finish(std::move(o));
  }
  // Answers the request sent under this Idempotency-Key (in any order); false when none waits.
  bool RespondTo(const std::string& key, int status, std::string body) {
    for (size_t i = 0; i < pending.size(); ++i) {
      if (KeyOf(pending[i].request) != key) continue;
      http::Outcome o;
      o.response.emplace();
      o.response->status = status;
      o.response->body = std::move(body);
      Finish(std::move(o), i);
      return true;
    }
    return false;
  }
  // The Idempotency-Keys of the requests waiting for an answer, oldest first.
  std::vector<std::string> PendingKeys() const {
    std::vector<std::string> keys;
    for (const Pending& p : pending) keys.push_back(KeyOf(p.request));
    return keys;
  }

 private:
  static std::string KeyOf(const http::Request& r) {
    for (const auto& [k, v] : r.headers)
      if (k == "Idempotency-Key") return v;
    return "";
  }
  void Finish(http::Outcome o, size_t index = 0) {
    Pending p = std::move(pending[index]);
    pending.erase(pending.begin() + static_cast<long>(index));
    p.done(std::move(o));
  }
};

// The value of a request header, or "" when absent.
inline std::string HeaderOf(const http::Request& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

}  // namespace opescare::delivery::testing
