// AuditLog: the append-only, tamper-evident record of every security-relevant operation
// (model load/save/export, training start/stop, decryption, key use, policy decisions). Each
// append adds a Merkle leaf and writes one line with the new tree root; every
// `checkpoint_every` records, and always on close(), the tree size and root are signed by the
// HSM key and the signed head is also stored in the token, so records cannot be changed,
// removed, inserted, reordered or cut off the end without `verify_log` noticing.
//
// Opening an existing log verifies it completely and refuses to append to a tampered one. A
// log left by a crash (records after the last checkpoint, a half-written last line) is
// recovered: the half line is dropped, a record saying so is appended and signed.
// One process appends at a time (flock); appends from several threads are serialized.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deepseek/security/audit/merkle.h"
#include "deepseek/security/audit/record.h"
#include "deepseek/security/audit/signer.h"
#include "deepseek/security/audit/verify.h"

namespace deepseek::security::audit {

struct AuditOptions {
  std::uint64_t checkpoint_every = 1000;
  // false: each record is one write(2) — it survives a crash of this process but not of the
  // machine. true: append() returns only once the record is on disk (fdatasync). Threads
  // appending at the same time share one fdatasync (group commit), so the durable rate grows
  // with concurrency instead of being one disk flush per record.
  bool fsync_each_record = false;
  // Writing the head into the token costs tens of ms with SoftHSM2 (it creates a token object
  // file), so periodic checkpoints refresh it at most this often; recovery and close always
  // do. While the log is open, at most this much of the signed tail could be cut off and go
  // unnoticed if the process then also died before closing. 0 = on every checkpoint.
  std::uint32_t head_interval_ms = 1000;
};

class AuditLog {
 public:
  AuditLog(std::string path, std::shared_ptr<CheckpointSigner> signer,
           std::shared_ptr<HeadStore> head, AuditOptions options = {});
  // Convenience: the HSM key pair named by key_uri signs and keeps the head.
  AuditLog(std::string path, std::string_view key_uri, AuditOptions options = {});
  ~AuditLog();  // close(); errors are printed, not thrown
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends and returns the record's sequence number. Throws if the log is closed or broken.
  std::uint64_t append(Entry entry);
  void checkpoint(const std::string& reason = "explicit");
  void close();

  std::uint64_t size() const;
  Hash root() const;
  Hash leaf(std::uint64_t seq) const;
  const std::string& log_id() const { return log_id_; }
  const std::string& path() const { return path_; }
  std::vector<std::uint8_t> public_key() const { return signer_->public_key(); }
  // What opening found and repaired (problem none when the log was clean or new).
  const VerifyReport& open_report() const { return open_report_; }

  std::vector<Hash> inclusion_proof(std::uint64_t seq, std::uint64_t tree_size) const;
  std::vector<Hash> consistency_proof(std::uint64_t old_size, std::uint64_t new_size) const;
  Hash root_at(std::uint64_t tree_size) const;

 private:
  AuditLog(std::string path, std::shared_ptr<Pkcs11Notary> notary, AuditOptions options);
  void create_new();
  void write_line(const std::string& line, bool sync);
  void sync_through(std::uint64_t records);
  void checkpoint_locked(const std::string& reason);
  std::uint64_t append_locked(Entry entry);

  std::string path_;
  std::shared_ptr<CheckpointSigner> signer_;
  std::shared_ptr<HeadStore> head_;
  AuditOptions options_;
  std::string log_id_;
  std::string key_fp_;
  VerifyReport open_report_;

  std::mutex sync_mutex_;     // taken before mutex_ when both are needed
  std::uint64_t synced_ = 0;  // records known to be on disk (guarded by sync_mutex_)
  mutable std::mutex mutex_;
  int fd_ = -1;
  bool broken_ = false;
  std::vector<Hash> leaves_;
  CompactRange range_;
  std::uint64_t checkpointed_size_ = 0;
  bool has_checkpoint_ = false;
  std::chrono::steady_clock::time_point last_head_store_{};
};

}  // namespace deepseek::security::audit
