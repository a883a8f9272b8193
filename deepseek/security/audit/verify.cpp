#include "deepseek/security/audit/verify.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "deepseek/core/error.h"
#include "deepseek/security/audit/record.h"
#include "deepseek/security/hsm/atomic_file.h"

namespace deepseek::security::audit {

const char* problem_name(Problem p) {
  switch (p) {
    case Problem::none:
      return "ok";
    case Problem::unreadable:
      return "unreadable";
    case Problem::bad_header:
      return "bad-header";
    case Problem::corrupt_line:
      return "corrupt-line";
    case Problem::missing_record:
      return "missing-record";
    case Problem::out_of_order:
      return "out-of-order";
    case Problem::modified:
      return "modified";
    case Problem::checkpoint_mismatch:
      return "checkpoint-mismatch";
    case Problem::bad_signature:
      return "bad-signature";
    case Problem::wrong_key:
      return "wrong-key";
    case Problem::torn_tail:
      return "torn-tail";
    case Problem::uncovered_tail:
      return "uncovered-tail";
    case Problem::truncated:
      return "truncated";
  }
  return "?";
}

std::string checkpoint_message(const std::string& log_id, std::uint64_t size, const Hash& root,
                               const std::string& time, const std::string& reason) {
  return "deepseek-audit-checkpoint/v1\nlog " + log_id + "\nsize " + std::to_string(size) +
         "\nroot " + hash_hex(root) + "\ntime " + time + "\nreason " + reason + "\n";
}

namespace {

struct Fail {
  Problem problem;
  std::string message;
  std::optional<std::uint64_t> record;
};

}  // namespace

VerifyReport verify_log(const std::string& path, const VerifyOptions& options) {
  DS_CHECK(!options.public_key.empty(), "[audit] verify_log needs the checkpoint public key");
  VerifyReport rep;
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) {
    rep.problem = Problem::unreadable;
    rep.message = "cannot open '" + path + "'";
    return rep;
  }
  const std::string trusted_fp = key_fingerprint(options.public_key);
  CompactRange range;
  std::string line;
  std::uint64_t line_no = 0, offset = 0;
  std::optional<std::uint64_t> last_seq_line;

  auto fail = [&](Problem p, std::string msg, std::optional<std::uint64_t> rec) {
    rep.problem = p;
    rep.message = std::move(msg);
    rep.first_bad_record = rec;
    rep.line = line_no;
    rep.root = range.root();
    return rep;
  };
  auto where = [&] { return "line " + std::to_string(line_no); };

  while (std::getline(in, line)) {
    ++line_no;
    const bool terminated = !in.eof();
    const std::uint64_t next = rep.records;
    if (!terminated) {
      rep.good_bytes = offset;
      return fail(Problem::torn_tail,
                  where() +
                      " is incomplete (no newline at the end of the file): the last write "
                      "was interrupted or the file was cut; record #" +
                      std::to_string(next) + " onwards is not trustworthy",
                  next);
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      if (line_no == 1)
        return fail(Problem::bad_header, "line 1 is not a deepseek audit log header", std::nullopt);
      return fail(Problem::corrupt_line,
                  where() + " is not valid JSON: record #" + std::to_string(next) +
                      " (or the checkpoint after it) was corrupted",
                  next);
    }
    if (line_no == 1) {
      try {
        DS_CHECK(j.at("type") == "header" && j.at("format") == "deepseek-audit-log",
                 "not a header");
        DS_CHECK(j.at("version") == 1, "unsupported version");
        DS_CHECK(j.at("hash") == "sha256", "unsupported hash");
        rep.log_id = j.at("log_id").get<std::string>();
      } catch (const std::exception& e) {
        return fail(Problem::bad_header,
                    std::string("line 1 is not a valid audit log header (") + e.what() + ")",
                    std::nullopt);
      }
      offset += line.size() + 1;
      rep.good_bytes = offset;
      continue;
    }
    std::string type = j.is_object() && j.contains("type") && j["type"].is_string()
                           ? j["type"].get<std::string>()
                           : "";
    if (type == "record") {
      Record r;
      Hash stored;
      try {
        r = Record::from_json(j.at("entry"));
        stored = hash_from_hex(j.at("tree_root").get<std::string>(), "tree_root");
        for (auto& [k, v] : j.items())
          DS_CHECK(k == "type" || k == "entry" || k == "tree_root", "unknown field '", k, "'");
      } catch (const std::exception& e) {
        return fail(Problem::corrupt_line,
                    where() + " should hold record #" + std::to_string(next) +
                        " but is malformed (" + e.what() + ")",
                    next);
      }
      if (r.seq > next) {
        return fail(Problem::missing_record,
                    "record #" + std::to_string(next) + " is missing (deleted, or moved later): " +
                        where() + " holds record #" + std::to_string(r.seq) + " right after #" +
                        (next == 0 ? std::string("<start>") : std::to_string(next - 1)),
                    next);
      }
      if (r.seq < next) {
        return fail(Problem::out_of_order,
                    "record #" + std::to_string(r.seq) + " at " + where() +
                        " is out of order: expected #" + std::to_string(next) +
                        " — a record was inserted, duplicated or reordered (first bad record #" +
                        std::to_string(r.seq) + ")",
                    r.seq);
      }
      Hash leaf;
      try {
        leaf = leaf_hash(r.canonical());
      } catch (const Error& e) {
        return fail(Problem::corrupt_line, where() + ": " + e.what(), next);
      }
      range.append(leaf);
      if (range.root() != stored) {
        range = CompactRange();  // recompute below for the report
        for (auto& h : rep.leaves) range.append(h);
        return fail(
            Problem::modified,
            "record #" + std::to_string(r.seq) + " at " + where() +
                " was modified: its content does not hash to the tree root recorded with it",
            r.seq);
      }
      rep.leaves.push_back(leaf);
      ++rep.records;
    } else if (type == "checkpoint") {
      std::uint64_t size;
      Hash root;
      std::string time, reason, key;
      std::vector<std::uint8_t> sig;
      try {
        size = j.at("size").get<std::uint64_t>();
        root = hash_from_hex(j.at("root").get<std::string>(), "root");
        time = j.at("time").get<std::string>();
        reason = j.at("reason").get<std::string>();
        key = j.at("key").get<std::string>();
        sig = hsm::from_hex(j.at("sig").get<std::string>(), "sig");
      } catch (const std::exception& e) {
        return fail(Problem::corrupt_line,
                    where() + " holds a malformed checkpoint (" + e.what() + ")", next);
      }
      const std::uint64_t prev = rep.signed_size;
      if (size != rep.records) {
        // Records were removed before (size > records) or added before (size < records) a
        // checkpoint whose signature still covers the original count.
        return fail(size > rep.records ? Problem::missing_record : Problem::out_of_order,
                    "checkpoint at " + where() + " covers " + std::to_string(size) +
                        " records but " + std::to_string(rep.records) +
                        " precede it: records between #" + std::to_string(prev) + " and #" +
                        std::to_string(std::max(size, rep.records) - 1) + " were " +
                        (size > rep.records ? "deleted" : "inserted"),
                    std::min(size, rep.records));
      }
      if (key != trusted_fp) {
        return fail(Problem::wrong_key,
                    "checkpoint at " + where() + " is signed by key " + key +
                        ", not by the trusted key " + trusted_fp,
                    std::nullopt);
      }
      auto msg = checkpoint_message(rep.log_id, size, root, time, reason);
      if (!verify_signature(options.public_key,
                            {reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()}, sig)) {
        return fail(Problem::bad_signature,
                    "checkpoint at " + where() + " (size " + std::to_string(size) +
                        ") has an invalid signature: the checkpoint or the log id was altered",
                    std::nullopt);
      }
      if (root != range.root()) {
        return fail(Problem::checkpoint_mismatch,
                    "the signed checkpoint at " + where() + " (size " + std::to_string(size) +
                        ") does not match the records: a record among #" + std::to_string(prev) +
                        "..#" + std::to_string(size == 0 ? 0 : size - 1) +
                        " was modified, inserted, deleted or reordered and the tree roots after it "
                        "rewritten",
                    prev);
      }
      rep.signed_size = size;
      ++rep.checkpoints;
    } else {
      return fail(Problem::corrupt_line, where() + " is neither a record nor a checkpoint", next);
    }
    offset += line.size() + 1;
    rep.good_bytes = offset;
  }
  if (line_no == 0)
    return fail(Problem::bad_header, "'" + path + "' is empty (no header)", std::nullopt);
  rep.root = range.root();

  // The HSM's memory of the newest signed head beats anything the file says about its end.
  if (options.head) {
    auto head = options.head->load(rep.log_id);
    if (!head && rep.checkpoints > 0) {
      return fail(Problem::truncated,
                  "the HSM holds no head for log " + rep.log_id +
                      ": the log id was altered or this is not the token that signed the log",
                  std::nullopt);
    }
    if (head) {
      std::uint64_t hsize;
      Hash hroot;
      try {
        auto hj = nlohmann::json::parse(*head);
        hsize = hj.at("size").get<std::uint64_t>();
        hroot = hash_from_hex(hj.at("root").get<std::string>(), "head root");
      } catch (const std::exception& e) {
        DS_THROW("[audit] the HSM's head for log ", rep.log_id, " is corrupt: ", e.what());
      }
      if (hsize > rep.records) {
        return fail(Problem::truncated,
                    "log truncated: the HSM recorded a signed log of " + std::to_string(hsize) +
                        " records, the file holds " + std::to_string(rep.records) + " (records #" +
                        std::to_string(rep.records) + "..#" + std::to_string(hsize - 1) +
                        " vanished)",
                    rep.records);
      }
      if (tree_root(std::span<const Hash>(rep.leaves.data(), hsize)) != hroot) {
        const std::uint64_t from = std::min(rep.signed_size, hsize == 0 ? 0 : hsize - 1);
        return fail(
            Problem::checkpoint_mismatch,
            "the first " + std::to_string(hsize) +
                " records do not match the signed head the HSM recorded: a record among #" +
                std::to_string(from) + "..#" + std::to_string(hsize == 0 ? 0 : hsize - 1) +
                " was modified, inserted, deleted or reordered (and checkpoints after it removed)",
            from);
      }
    }
  }
  if (rep.signed_size < rep.records || rep.checkpoints == 0) {
    return fail(
        Problem::uncovered_tail,
        rep.checkpoints == 0 && rep.records == 0
            ? std::string("the log has no signed checkpoint (it was never closed)")
            : "records #" + std::to_string(rep.signed_size) + "..#" +
                  std::to_string(rep.records - 1) +
                  " are not covered by a signed checkpoint: the log was not closed cleanly, "
                  "or its tail (with the closing checkpoint) was cut off",
        rep.signed_size);
  }
  return rep;
}

}  // namespace deepseek::security::audit
