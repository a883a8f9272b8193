// Verification of an audit log file, record by record, stopping at the first problem and
// naming it: which record (by sequence number and line) was modified, deleted, inserted or
// reordered, which checkpoint does not match or is not signed by the trusted key, and
// whether records at the end are not covered by a signed checkpoint (the log was not closed,
// or its tail was cut off). With a HeadStore (the HSM) it also catches a tail cut off
// together with its checkpoints, which the file alone cannot show.
//
// File format (JSON Lines, one object per line):
//   {"type":"header","format":"deepseek-audit-log","version":1,"log_id":...,"hash":"sha256","created":...}
//   {"type":"record","entry":{seq,time,subject,action,resource,attrs[,decision]},"tree_root":hex}
//   {"type":"checkpoint","size":n,"root":hex,"time":...,"reason":...,"key":fingerprint,"sig":hex}
// The Merkle leaf of a record is its canonical entry (record.h); tree_root is the RFC 9162
// root after appending it, so an edited record is caught at that very line; a checkpoint's
// signature covers checkpoint_message(), so rewriting every later tree_root is caught at the
// next checkpoint.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "deepseek/security/audit/merkle.h"
#include "deepseek/security/audit/signer.h"

namespace deepseek::security::audit {

enum class Problem {
  none,
  unreadable,
  bad_header,
  corrupt_line,         // not JSON / not a record or checkpoint
  missing_record,       // a sequence number was skipped: a record was deleted
  out_of_order,         // a sequence number went backwards: inserted or reordered
  modified,             // a record's content does not give the recorded tree root
  checkpoint_mismatch,  // a signed root disagrees with the records before it
  bad_signature,
  wrong_key,
  torn_tail,       // the last line is incomplete (crash during a write, or cut)
  uncovered_tail,  // records after the last signed checkpoint (not closed, or cut)
  truncated,       // the HSM remembers a longer log than the file holds
};
const char* problem_name(Problem p);

struct VerifyOptions {
  std::vector<std::uint8_t> public_key;  // DER SPKI of the checkpoint key (required)
  HeadStore* head = nullptr;             // the HSM head; nullptr = file-only check
};

struct VerifyReport {
  Problem problem = Problem::none;
  std::string message;                            // human-readable, names record and line
  std::optional<std::uint64_t> first_bad_record;  // sequence number, when one can be named
  std::uint64_t line = 0;                         // 1-based line of the problem
  std::string log_id;
  std::uint64_t records = 0, checkpoints = 0;  // good ones read before the problem
  std::uint64_t signed_size = 0;               // size of the last valid checkpoint
  Hash root{};                                 // root over `records`
  // What AuditLog needs to continue a log after a recoverable (tail) problem.
  std::vector<Hash> leaves;
  std::uint64_t good_bytes = 0;  // file offset just past the last complete, valid line
  bool ok() const { return problem == Problem::none; }
};

VerifyReport verify_log(const std::string& path, const VerifyOptions& options);

// The exact bytes a checkpoint signature covers.
std::string checkpoint_message(const std::string& log_id, std::uint64_t size, const Hash& root,
                               const std::string& time, const std::string& reason);

}  // namespace deepseek::security::audit
