// Makes tests/data/outbox_v1/outbox_v010.db with the 0.1.0 agent's own outbox code (schema v1). Not built by
// this project: it is compiled against a checkout of commit 9197004 (0.1.0), see README.md beside it.
//
// The file holds, as 0.1.0 left them after a delivery cut short:
//   - 68 records queued: 40 patients from patients_20261129.csv, 25 encounters from encounters_20261129.csv,
//     3 patients queued without a file (source file "");
//   - batch X (seqs 1..10) acknowledged with a receipt: 6 accepted, 2 rejected (dead letters), 2 unnamed
//     (back to pending, in the middle of the queue);
//   - batch Y (seqs 11..20) rescheduled after an HTTP 503 (1 attempt, due 30 s later);
//   - batch Z (the 2 returned records + seqs 21..28: not contiguous, Y lies between) in flight, never answered;
//   - batch W (seqs 29, 30) split; its first half dead-lettered, its second half (seq 30) a persisted batch;
//   - meta last_sync_at set.
// Left: 59 records (21 in the batches Y, Z and W's second half, 38 pending), 3 dead letters, 2 ingested files.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "agent/outbox/outbox.h"
#include "agent/util/clock.h"
#include "agent/util/hash.h"

using namespace opescare;
using namespace opescare::outbox;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "make_v1_outbox: %s\n", what.c_str());
  std::exit(1);
}
void Check(const Status& st, const char* what) {
  if (!st.ok()) Die(std::string(what) + ": " + st.ToString());
}

Record Patient(const std::string& file, int row) {
  Record r;
  r.id = "r_" + Sha256Hex("v010-fixture:" + file + ":" + std::to_string(row)).substr(0, 32);
  r.type = "patient";
  char buf[200];
  std::snprintf(buf, sizeof buf,
                R"({"first_name":"Marie","last_name":"Fouda-%03d","dob":"1990-07-%02d","sex":"female",)"
                R"("phone":"+237600000%03d"})",
                row, 1 + row % 28, row);
  r.data_json = buf;
  r.source_file = file;
  r.source_row = file.empty() ? 0 : row;
  return r;
}

Record Encounter(const std::string& file, int row) {
  Record r;
  r.id = "r_" + Sha256Hex("v010-fixture:" + file + ":" + std::to_string(row)).substr(0, 32);
  r.type = "encounter";
  char buf[200];
  std::snprintf(buf, sizeof buf, R"({"health_id":"OC-%08d","date":"2026-11-%02d","notes":"suivi prénatal"})", row,
                1 + row % 28);
  r.data_json = buf;
  r.source_file = file;
  r.source_row = row;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) Die("usage: make_v1_outbox OUT.db");
  const std::string path = argv[1];
  std::filesystem::remove(path);
  ManualClock clock(TimePoint(std::chrono::seconds(1'796'032'800)));  // 2026-11-30T10:00:00Z
  {
    OutboxOptions o;
    o.path = path;
    o.clock = &clock;
    auto opened = OpenOutbox(o);
    if (!opened.ok()) Die(opened.status().ToString());
    Outbox& ob = **opened;

    std::vector<Record> patients, encounters, loose;
    for (int row = 2; row < 42; ++row) patients.push_back(Patient("patients_20261129.csv", row));
    for (int row = 2; row < 27; ++row) encounters.push_back(Encounter("encounters_20261129.csv", row));
    for (int i = 1; i <= 3; ++i) loose.push_back(Patient("", 1000 + i));
    auto q1 = ob.Enqueue(patients, FileInfo{Sha256Hex("patients file"), "patients_20261129.csv", 40, 1});
    auto q2 = ob.Enqueue(encounters, FileInfo{Sha256Hex("encounters file"), "encounters_20261129.csv", 25, 0});
    clock.Advance(std::chrono::seconds(5));
    auto q3 = ob.Enqueue(loose);
    if (!q1.ok() || !q2.ok() || !q3.ok()) Die("enqueue failed");

    BatchLimits ten{10, 1 << 20};
    auto x = ob.NextDueBatch(clock.Now(), ten);
    auto y = ob.NextDueBatch(clock.Now(), ten);
    if (!x.ok() || !x->batch || !y.ok() || !y->batch) Die("forming X and Y failed");
    std::vector<std::string> accepted;
    for (int i = 0; i < 6; ++i) accepted.push_back(x->batch->records[i].id);
    std::vector<Rejection> rejected = {{x->batch->records[6].id, "validation_failed", "dob is in the future"},
                                       {x->batch->records[7].id, "validation_failed", "missing sex"}};
    auto acked = ob.AckPartial(x->batch->batch_id, accepted, rejected);
    if (!acked.ok() || acked->accepted != 6 || acked->rejected != 2 || acked->returned != 2) Die("ack of X failed");
    Check(ob.SetMeta(kMetaLastSyncAt, "2026-11-30T10:00:05Z"), "meta");

    clock.Advance(std::chrono::seconds(1));
    auto z = ob.NextDueBatch(clock.Now(), ten);
    if (!z.ok() || !z->batch || z->batch->records.size() != 10) Die("forming Z failed");
    Check(ob.RescheduleBatch(y->batch->batch_id, clock.Now() + std::chrono::seconds(30), "HTTP 503", true), "retry Y");

    BatchLimits two{2, 1 << 20, /*form_while_waiting=*/true};
    auto w = ob.NextDueBatch(clock.Now(), two);
    if (!w.ok() || !w->batch || w->batch->records.size() != 2) Die("forming W failed");
    auto halves = ob.SplitBatch(w->batch->batch_id);
    if (!halves.ok()) Die(halves.status().ToString());
    Check(ob.DeadLetterBatch(halves->first_batch_id, "invalid_record", "sex missing"), "dead-letter W1");

    auto stats = ob.GetStats();
    if (!stats.ok()) Die(stats.status().ToString());
    std::printf("queued %lld (pending %lld, in batches %lld, batches %lld), dead %lld, files %lld\n",
                static_cast<long long>(stats->queued), static_cast<long long>(stats->pending),
                static_cast<long long>(stats->in_batches), static_cast<long long>(stats->batches),
                static_cast<long long>(stats->dead), static_cast<long long>(stats->files));
    std::printf("in flight Z %s, waiting Y %s, split half %s\n", z->batch->batch_id.c_str(),
                y->batch->batch_id.c_str(), halves->second_batch_id.c_str());
  }
  // The last connection closed: SQLite checkpointed the WAL into the file and removed the -wal and -shm files.
  if (std::filesystem::exists(path + "-wal")) Die("a -wal file was left beside " + path);
  return 0;
}
