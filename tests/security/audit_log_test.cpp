// Audit log: signed checkpoints by the token's EC key, and every tamper case — modify, delete,
// insert, reorder, cut tail — detected and located; crash recovery; proofs against signed roots.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "deepseek/core/error.h"
#include "deepseek/security/audit/log.h"
#include "deepseek/security/audit/verify.h"
#include "tests/security/scratch_env.h"

namespace ds = deepseek;
namespace audit = deepseek::security::audit;
using deepseek::security::testing::scratch;
using deepseek::security::testing::temp_path;

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (auto& l : lines) out << l << "\n";
}

// Index (0-based line) of record #seq.
std::size_t line_of(const std::vector<std::string>& lines, std::uint64_t seq) {
  std::string key = "\"seq\":" + std::to_string(seq) + ",";
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find("\"type\":\"record\"") != std::string::npos &&
        lines[i].find(key) != std::string::npos)
      return i;
  ADD_FAILURE() << "no record " << seq;
  return 0;
}

std::shared_ptr<audit::Pkcs11Notary> notary() {
  static auto n = std::make_shared<audit::Pkcs11Notary>(scratch().uri("audit"));
  return n;
}

// A closed log with `n` records, checkpoints every 4.
std::string make_log(std::uint64_t n, const std::string& name) {
  auto path = temp_path(name);
  audit::AuditLog log(path, notary(), notary(), {.checkpoint_every = 4});
  for (std::uint64_t i = 0; i < n; ++i)
    log.append({"alice",
                i % 2 ? "model.save" : "model.load",
                "model-" + std::to_string(i) + ".ckpt",
                {{"bytes", std::to_string(1000 + i)}},
                std::nullopt});
  log.close();
  return path;
}

audit::VerifyReport verify(const std::string& path, bool with_head = true) {
  return audit::verify_log(path, {notary()->public_key(), with_head ? notary().get() : nullptr});
}

}  // namespace

TEST(AuditLog, CleanLogVerifiesWithSignedCheckpoints) {
  auto path = make_log(10, "clean.log");
  auto rep = verify(path);
  EXPECT_TRUE(rep.ok()) << rep.message;
  EXPECT_EQ(rep.records, 10u);
  EXPECT_EQ(rep.checkpoints, 3u);  // after 4, after 8, and on close at 10
  EXPECT_EQ(rep.signed_size, 10u);
  // An empty log still gets a closing checkpoint, so deleting all of it is detectable.
  auto empty = make_log(0, "empty.log");
  EXPECT_TRUE(verify(empty).ok()) << verify(empty).message;
}

TEST(AuditLog, DetectsModifiedRecord) {
  auto path = make_log(10, "modify.log");
  auto lines = read_lines(path);
  auto i = line_of(lines, 5);
  lines[i].replace(lines[i].find("alice"), 5, "mallory");
  write_lines(path, lines);
  auto rep = verify(path);
  EXPECT_EQ(rep.problem, audit::Problem::modified) << rep.message;
  EXPECT_EQ(rep.first_bad_record, 5u);
  EXPECT_EQ(rep.line, i + 1);
  EXPECT_NE(rep.message.find("record #5"), std::string::npos) << rep.message;
}

TEST(AuditLog, DetectsDeletedRecord) {
  auto path = make_log(10, "delete.log");
  auto lines = read_lines(path);
  lines.erase(lines.begin() + static_cast<long>(line_of(lines, 6)));
  write_lines(path, lines);
  auto rep = verify(path);
  EXPECT_EQ(rep.problem, audit::Problem::missing_record) << rep.message;
  EXPECT_EQ(rep.first_bad_record, 6u);
  EXPECT_NE(rep.message.find("record #6 is missing"), std::string::npos) << rep.message;
}

TEST(AuditLog, DetectsInsertedRecord) {
  auto path = make_log(10, "insert.log");
  auto lines = read_lines(path);
  // Replay of an old record (a duplicate) inserted later in the log.
  lines.insert(lines.begin() + static_cast<long>(line_of(lines, 6)), lines[line_of(lines, 3)]);
  write_lines(path, lines);
  auto rep = verify(path);
  EXPECT_EQ(rep.problem, audit::Problem::out_of_order) << rep.message;
  EXPECT_EQ(rep.first_bad_record, 3u);
}

TEST(AuditLog, DetectsForgedRecordWithCorrectRoots) {
  // A forger who knows the format inserts a well-formed record #5 with a correct tree root
  // and renumbers everything after it: the next signed checkpoint exposes it.
  auto path = make_log(8, "forge.log");
  auto lines = read_lines(path);
  std::vector<audit::Record> records;
  for (auto& l : lines) {
    auto j = nlohmann::json::parse(l);
    if (j["type"] == "record") records.push_back(audit::Record::from_json(j["entry"]));
  }
  audit::Record forged = records[5];
  forged.entry.subject = "mallory";
  records.insert(records.begin() + 5, forged);
  std::vector<std::string> out{lines[0]};
  audit::CompactRange range;
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].seq = i;
    range.append(audit::leaf_hash(records[i].canonical()));
    out.push_back(nlohmann::json{{"type", "record"},
                                 {"entry", records[i].to_json()},
                                 {"tree_root", audit::hash_hex(range.root())}}
                      .dump());
    if (i == 3) out.push_back(lines[line_of(lines, 3) + 1]);  // keep the first signed checkpoint
  }
  write_lines(path, out);
  auto rep = verify(path);
  EXPECT_FALSE(rep.ok());
  EXPECT_EQ(rep.first_bad_record, 4u) << rep.message;  // the range after the last good checkpoint
  EXPECT_NE(rep.message.find("#4"), std::string::npos) << rep.message;
}

TEST(AuditLog, DetectsReorderedRecords) {
  auto path = make_log(10, "reorder.log");
  auto lines = read_lines(path);
  std::swap(lines[line_of(lines, 5)], lines[line_of(lines, 6)]);
  write_lines(path, lines);
  auto rep = verify(path);
  EXPECT_EQ(rep.problem, audit::Problem::missing_record) << rep.message;  // #6 where #5 belongs
  EXPECT_EQ(rep.first_bad_record, 5u);
  EXPECT_NE(rep.message.find("#5"), std::string::npos) << rep.message;
}

TEST(AuditLog, DetectsTruncatedTail) {
  auto path = make_log(10, "tail.log");
  auto lines = read_lines(path);
  // Cut the closing checkpoint only: records 8, 9 are no longer covered by a signature.
  lines.pop_back();
  write_lines(path, lines);
  auto rep = verify(path, /*with_head=*/false);
  EXPECT_EQ(rep.problem, audit::Problem::uncovered_tail) << rep.message;
  EXPECT_EQ(rep.first_bad_record, 8u);

  // Cut records *and* their checkpoint back to the checkpoint at 8: the file alone looks
  // fine, the HSM's head says 10 records were signed.
  auto path2 = make_log(10, "tail2.log");
  lines = read_lines(path2);
  lines.resize(line_of(lines, 7) + 2);  // ... record 7, checkpoint(size 8)
  write_lines(path2, lines);
  EXPECT_TRUE(verify(path2, /*with_head=*/false).ok());
  auto rep2 = verify(path2);
  EXPECT_EQ(rep2.problem, audit::Problem::truncated) << rep2.message;
  EXPECT_EQ(rep2.first_bad_record, 8u);

  // A half-written last line.
  auto path3 = make_log(10, "torn.log");
  auto bytes = std::filesystem::file_size(path3);
  std::filesystem::resize_file(path3, bytes - 7);
  auto rep3 = verify(path3);
  EXPECT_FALSE(rep3.ok());
}

TEST(AuditLog, DetectsForgedOrForeignCheckpoints) {
  auto path = make_log(6, "cpsig.log");
  auto lines = read_lines(path);
  auto i = line_of(lines, 3) + 1;  // checkpoint after 4 records
  auto j = nlohmann::json::parse(lines[i]);
  std::string sig = j["sig"];
  sig[10] = sig[10] == '0' ? '1' : '0';
  j["sig"] = sig;
  lines[i] = j.dump();
  write_lines(path, lines);
  EXPECT_EQ(verify(path).problem, audit::Problem::bad_signature);

  // The same log checked against another key: every checkpoint is foreign.
  auto path2 = make_log(6, "cpkey.log");
  audit::InsecureTestNotary other;
  auto rep = audit::verify_log(path2, {other.public_key(), nullptr});
  EXPECT_EQ(rep.problem, audit::Problem::wrong_key) << rep.message;
}

TEST(AuditLog, RefusesToAppendToTamperedLog) {
  auto path = make_log(5, "refuse.log");
  auto lines = read_lines(path);
  lines.erase(lines.begin() + static_cast<long>(line_of(lines, 2)));
  write_lines(path, lines);
  try {
    audit::AuditLog log(path, notary(), notary());
    FAIL() << "appended to a tampered log";
  } catch (const ds::Error& e) {
    EXPECT_NE(std::string(e.what()).find("record #2 is missing"), std::string::npos) << e.what();
  }
}

TEST(AuditLog, RecoversFromCrashAndKeepsAppending) {
  auto path = make_log(6, "crash.log");
  auto lines = read_lines(path);
  lines.pop_back();                               // the closing checkpoint never got written...
  std::string torn = lines.back().substr(0, 20);  // ...and a record was half written
  write_lines(path, lines);
  { std::ofstream(path, std::ios::app) << torn; }
  {
    audit::AuditLog log(path, notary(), notary(), {.checkpoint_every = 4});
    EXPECT_EQ(log.open_report().problem, audit::Problem::torn_tail);
    EXPECT_EQ(log.size(), 7u);  // 6 records + the recovery record
    log.append({"bob", "model.export", "m.onnx", {}, std::nullopt});
  }
  auto rep = verify(path);
  EXPECT_TRUE(rep.ok()) << rep.message;
  EXPECT_EQ(rep.records, 8u);
  auto after = read_lines(path);
  EXPECT_NE(after[line_of(after, 6)].find("audit.recover"), std::string::npos);
}

TEST(AuditLog, ProofsCheckAgainstSignedRoots) {
  auto path = temp_path("proofs.log");
  audit::AuditLog log(path, notary(), notary(), {.checkpoint_every = 1000});
  for (int i = 0; i < 37; ++i) log.append({"svc", "key.use", "kek", {}, std::nullopt});
  auto old_root = log.root_at(20);
  for (std::uint64_t i = 0; i < 37; ++i)
    ASSERT_TRUE(
        audit::verify_inclusion(i, 37, log.leaf(i), log.inclusion_proof(i, 37), log.root()));
  EXPECT_TRUE(
      audit::verify_consistency(20, 37, old_root, log.root(), log.consistency_proof(20, 37)));
}

TEST(AuditLog, ConcurrentAppendsAreSerialized) {
  auto path = temp_path("threads.log");
  {
    audit::AuditLog log(path, notary(), notary(), {.checkpoint_every = 50});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i)
          log.append({"t" + std::to_string(t), "x", "y", {}, std::nullopt});
      });
    for (auto& th : threads) th.join();
  }
  auto rep = verify(path);
  EXPECT_TRUE(rep.ok()) << rep.message;
  EXPECT_EQ(rep.records, 400u);
}

TEST(AuditLog, DurableAppendsFromThreadsShareFlushes) {
  auto path = temp_path("durable.log");
  {
    audit::AuditLog log(path, notary(), notary(),
                        {.checkpoint_every = 16, .fsync_each_record = true});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 20; ++i) log.append({"svc", "key.use", "kek", {}, std::nullopt});
      });
    for (auto& th : threads) th.join();
  }
  auto rep = verify(path);
  EXPECT_TRUE(rep.ok()) << rep.message;
  EXPECT_EQ(rep.records, 80u);
}

TEST(AuditLog, BadInputThrowsNeverAborts) {
  auto path = temp_path("garbage.log");
  std::ofstream(path) << "this is not an audit log\n";
  EXPECT_EQ(verify(path).problem, audit::Problem::bad_header);
  EXPECT_THROW(audit::AuditLog(path, notary(), notary()), ds::Error);
  auto good = temp_path("utf8.log");
  audit::AuditLog log(good, notary(), notary());
  EXPECT_THROW(log.append({std::string("\xff\xfe"), "a", "r", {}, std::nullopt}), ds::Error);
  EXPECT_EQ(log.size(), 0u);
  EXPECT_EQ(verify(temp_path("missing.log")).problem, audit::Problem::unreadable);
}
