// A known agent state for the status tests: fake records that DO carry patient values, and the snapshot an
// agent would build from them (ids, types, counts and errors only), plus the values that must never show.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "agent/status/snapshot.h"

namespace opescare::status::testing {

inline constexpr const char* kAgentKey = "sk_live_7Qm2-DO-NOT-SHOW-9f86d081884c";

// The tests' sample patients (as in PROTOCOL.md's example).
inline const std::vector<std::string>& SamplePatientValues() {
  static const std::vector<std::string> values = {"Marie",       "Fouda",         "1990-07-22",    "+237600000000",
                                                  "Jean-Pierre", "Ngono",         "+237699112233", "1985-02-14",
                                                  "Abena",       "+237677445566", "Douala, Akwa"};
  return values;
}

// A record as the fake outbox holds it: payload included, as in the real one.
struct FakeRecord {
  std::string id;
  std::string type;
  std::string file;
  uint64_t row = 0;
  std::map<std::string, std::string> data;  // the patient values
};

struct FakeDead {
  FakeRecord record;
  std::string error;
  std::string message;
};

struct FakeAgent {
  std::string agent_id = "agt_clinic_042";
  std::string facility_id = "5f0c9a1e-fac1-4b1d-9c3e-000000000042";
  std::string agent_key = kAgentKey;
  std::vector<FakeRecord> pending;
  std::vector<FakeDead> dead;
};

inline TimePoint SampleNow() { return TimePoint(std::chrono::seconds(1796000000)); }  // 2026-11-30T00:53:20Z

inline FakeAgent SampleAgent() {
  FakeAgent a;
  a.pending.push_back({"r_pending_0001",
                       "patient",
                       "patients_20261129.csv",
                       7,
                       {{"first_name", "Jean-Pierre"}, {"last_name", "Ngono"}, {"phone", "+237699112233"}}});
  a.dead.push_back(
      {{"r_9f86d081884c7d659a2feaa0c55ad015",
        "patient",
        "patients_20261129.csv",
        2,
        {{"first_name", "Marie"}, {"last_name", "Fouda"}, {"dob", "1990-07-22"}, {"phone", "+237600000000"}}},
       "invalid_field",
       "phone: not a valid E.164 number"});
  a.dead.push_back(
      {{"r_1b4f0e9851971998e732078544c96b36",
        "visit",
        "visits_<script>alert(1)</script>.csv",
        14,
        {{"patient_name", "Abena"}, {"phone", "+237677445566"}, {"address", "Douala, Akwa"}, {"dob", "1985-02-14"}}},
       "missing_field",
       "visit_date is required & must be <= today"});
  return a;
}

// What the agent's wiring does: copy ids, counts and errors out of its components into the snapshot.
inline StatusSnapshot SnapshotOf(const FakeAgent& a, TimePoint now) {
  using std::chrono::minutes;
  using std::chrono::seconds;
  StatusSnapshot s;
  s.version = "1.4.0";
  s.build_type = "Release";
  s.environment = "sandbox";
  s.agent_id = a.agent_id;
  s.facility_id = a.facility_id;
  s.started_at = now - std::chrono::hours(26);
  s.configured = true;
  s.outbox_open = true;
  s.connection_state = ConnectionState::kConnected;
  s.last_heartbeat_at = now - seconds(125);
  s.last_heartbeat_outcome = HeartbeatOutcome::kOk;
  s.heartbeats.ok = 1500;
  s.heartbeats.unreachable = 3;
  s.last_sync_at = now - seconds(40);
  s.clock_offset_seconds = -2.5;
  s.records = {1234, 1180, a.dead.size(), 17};
  s.batches = {42, 1, 3, 0, 2};
  for (double d : {0.02, 0.12, 0.3, 0.3, 1.7}) s.batch_send_duration.Observe(d);
  s.outbox = {a.pending.size() + 50, 2, a.dead.size(), 340, 1572864};
  s.backoff_remaining_seconds = 0;
  s.files = {12, 1, 2};
  s.rows = {1234, 3};
  History history;
  history.Sample(now - std::chrono::hours(30), 0, 0);  // baseline, and older than 24 h: not drawn
  uint64_t total = 0;
  for (int i = 24 * 12 - 1; i >= 0; --i) {
    total += static_cast<uint64_t>((i * 7) % 23);
    history.Sample(now - minutes(5 * i), total, static_cast<uint64_t>(40 + (i * 13) % 60));
  }
  s.history = history.Points();
  s.recent_files.push_back({"visits_<script>alert(1)</script>.csv", FileOutcome::kFailed, 0, 3, now - minutes(3),
                            "missing column visit_date"});
  s.recent_files.push_back({"patients_20261129.csv", FileOutcome::kProcessed, 120, 0, now - minutes(20), ""});
  s.recent_files.push_back({"patients_20261128.csv", FileOutcome::kDuplicate, 0, 0, now - minutes(90), ""});
  for (const FakeDead& d : a.dead) {
    s.dead_letters.push_back(
        {d.record.id, d.record.type, d.record.file, d.record.row, d.error, d.message, now - minutes(10)});
  }
  return s;
}

}  // namespace opescare::status::testing
