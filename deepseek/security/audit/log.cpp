#include "deepseek/security/audit/log.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "deepseek/core/error.h"
#include "deepseek/security/hsm/atomic_file.h"

namespace deepseek::security::audit {

AuditLog::AuditLog(std::string path, std::string_view key_uri, AuditOptions options)
    : AuditLog(std::move(path), std::make_shared<Pkcs11Notary>(key_uri), options) {}

AuditLog::AuditLog(std::string path, std::shared_ptr<Pkcs11Notary> notary, AuditOptions options)
    : AuditLog(std::move(path), notary, notary, options) {}

AuditLog::AuditLog(std::string path, std::shared_ptr<CheckpointSigner> signer,
                   std::shared_ptr<HeadStore> head, AuditOptions options)
    : path_(std::move(path)),
      signer_(std::move(signer)),
      head_(std::move(head)),
      options_(options) {
  DS_CHECK(signer_, "[audit] a checkpoint signer is required");
  DS_CHECK(options_.checkpoint_every > 0, "[audit] checkpoint_every must be positive");
  key_fp_ = key_fingerprint(signer_->public_key());
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  DS_CHECK(fd_ >= 0, "[audit] cannot open log '", path_, "': ", std::strerror(errno));
  // One appender per file: a second process blocks here until the first closes.
  if (::flock(fd_, LOCK_EX) != 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    DS_THROW("[audit] cannot lock log '", path_, "': ", std::strerror(e));
  }
  try {
    struct stat st;
    DS_CHECK(::fstat(fd_, &st) == 0, "[audit] cannot stat '", path_, "'");
    if (st.st_size == 0) {
      create_new();
      return;
    }
    VerifyOptions vo{signer_->public_key(), head_.get()};
    VerifyReport rep = verify_log(path_, vo);
    open_report_ = rep;
    if (!rep.ok() && rep.problem != Problem::uncovered_tail && rep.problem != Problem::torn_tail)
      DS_THROW("[audit] refusing to append to '", path_, "': ", rep.message);
    log_id_ = rep.log_id;
    leaves_ = std::move(rep.leaves);
    open_report_.leaves.clear();
    for (auto& h : leaves_) range_.append(h);
    checkpointed_size_ = rep.signed_size;
    has_checkpoint_ = rep.checkpoints > 0;
    if (!rep.ok()) {
      std::uint64_t dropped = 0;
      if (rep.problem == Problem::torn_tail) {
        dropped = static_cast<std::uint64_t>(st.st_size) - rep.good_bytes;
        DS_CHECK(::ftruncate(fd_, static_cast<off_t>(rep.good_bytes)) == 0,
                 "[audit] cannot drop the torn tail of '", path_, "': ", std::strerror(errno));
      }
      std::lock_guard lock(mutex_);
      append_locked(
          Entry{"deepseek",
                "audit.recover",
                path_,
                {{"unsigned_records", std::to_string(leaves_.size() - checkpointed_size_)},
                 {"dropped_bytes", std::to_string(dropped)},
                 {"found", problem_name(rep.problem)}},
                std::nullopt});
      checkpoint_locked("recovery");
    }
  } catch (...) {
    ::close(fd_);  // releases the lock
    fd_ = -1;
    throw;
  }
}

AuditLog::~AuditLog() {
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deepseek: audit log '%s' was not closed cleanly: %s\n", path_.c_str(),
                 e.what());
    if (fd_ >= 0) ::close(fd_);
  }
}

void AuditLog::create_new() {
  std::uint8_t id[16];
  DS_CHECK(RAND_bytes(id, sizeof id) == 1, "[audit] RAND_bytes failed");
  log_id_ = hsm::to_hex(id);
  nlohmann::json h = {{"type", "header"}, {"format", "deepseek-audit-log"},
                      {"version", 1},     {"log_id", log_id_},
                      {"hash", "sha256"}, {"created", now_rfc3339()}};
  write_line(h.dump(), true);
}

void AuditLog::write_line(const std::string& text, bool sync) {
  std::string line = text + "\n";
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // A partial line may now be on disk; the next open repairs it, this object stops.
      broken_ = true;
      DS_THROW("[audit] write to '", path_, "' failed: ", std::strerror(errno));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (sync && ::fdatasync(fd_) != 0) {
    broken_ = true;
    DS_THROW("[audit] fdatasync of '", path_, "' failed: ", std::strerror(errno));
  }
}

std::uint64_t AuditLog::append(Entry entry) {
  std::uint64_t seq;
  {
    std::lock_guard lock(mutex_);
    seq = append_locked(std::move(entry));
    if (leaves_.size() - checkpointed_size_ >= options_.checkpoint_every)
      checkpoint_locked("periodic");
  }
  if (options_.fsync_each_record) sync_through(seq + 1);
  return seq;
}

void AuditLog::sync_through(std::uint64_t records) {
  std::lock_guard sync_lock(sync_mutex_);
  if (synced_ >= records) return;  // another thread's flush already covered this record
  std::uint64_t target;
  int fd;
  {
    std::lock_guard lock(mutex_);
    DS_CHECK(fd_ >= 0 && !broken_, "[audit] log '", path_, "' is closed or broken");
    target = leaves_.size();
    fd = fd_;
  }
  // Outside mutex_: other threads keep writing while the disk flushes; everything written
  // before this call is covered by it.
  if (::fdatasync(fd) != 0) {
    std::lock_guard lock(mutex_);
    broken_ = true;
    DS_THROW("[audit] fdatasync of '", path_, "' failed: ", std::strerror(errno));
  }
  synced_ = target;
}

std::uint64_t AuditLog::append_locked(Entry entry) {
  DS_CHECK(fd_ >= 0, "[audit] log '", path_, "' is closed");
  DS_CHECK(!broken_, "[audit] log '", path_,
           "' failed earlier and accepts no more records; reopen it");
  Record r{leaves_.size(), now_rfc3339(), std::move(entry)};
  std::string canonical = r.canonical();  // throws on non-UTF-8 before anything is written
  Hash leaf = leaf_hash(canonical);
  CompactRange next = range_;
  next.append(leaf);
  std::string line;
  line.reserve(canonical.size() + 120);
  line += "{\"entry\":";
  line += canonical;
  line += ",\"tree_root\":\"";
  line += hash_hex(next.root());
  line += "\",\"type\":\"record\"}";
  write_line(line, false);
  range_ = std::move(next);
  leaves_.push_back(leaf);
  return r.seq;
}

void AuditLog::checkpoint(const std::string& reason) {
  std::lock_guard lock(mutex_);
  checkpoint_locked(reason);
}

void AuditLog::checkpoint_locked(const std::string& reason) {
  DS_CHECK(fd_ >= 0 && !broken_, "[audit] log '", path_, "' is closed or broken");
  const std::uint64_t size = leaves_.size();
  const Hash root = range_.root();
  const std::string time = now_rfc3339();
  std::string msg = checkpoint_message(log_id_, size, root, time, reason);
  auto sig = signer_->sign({reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()});
  nlohmann::json cp = {{"type", "checkpoint"},   {"size", size},     {"root", hash_hex(root)},
                       {"time", time},           {"reason", reason}, {"key", key_fp_},
                       {"sig", hsm::to_hex(sig)}};
  // The checkpoint is durable in the file before the HSM's head moves past the old one, so a
  // crash in between never makes an intact log look truncated.
  write_line(cp.dump(), true);
  const auto now = std::chrono::steady_clock::now();
  if (head_ && (reason != "periodic" ||
                now - last_head_store_ >= std::chrono::milliseconds(options_.head_interval_ms))) {
    head_->store(log_id_, nlohmann::json{{"size", size}, {"root", hash_hex(root)}}.dump());
    last_head_store_ = now;
  }
  checkpointed_size_ = size;
  has_checkpoint_ = true;
}

void AuditLog::close() {
  std::lock_guard sync_lock(sync_mutex_);  // no flush may be using fd_ while it closes
  std::lock_guard lock(mutex_);
  if (fd_ < 0) return;
  if (!broken_ && (!has_checkpoint_ || checkpointed_size_ != leaves_.size()))
    checkpoint_locked("close");
  ::close(fd_);
  fd_ = -1;
}

std::uint64_t AuditLog::size() const {
  std::lock_guard lock(mutex_);
  return leaves_.size();
}

Hash AuditLog::root() const {
  std::lock_guard lock(mutex_);
  return range_.root();
}

Hash AuditLog::leaf(std::uint64_t seq) const {
  std::lock_guard lock(mutex_);
  DS_CHECK(seq < leaves_.size(), "[audit] no record #", seq, " (log has ", leaves_.size(), ")");
  return leaves_[seq];
}

Hash AuditLog::root_at(std::uint64_t n) const {
  std::lock_guard lock(mutex_);
  DS_CHECK(n <= leaves_.size(), "[audit] tree size ", n, " exceeds the log's ", leaves_.size());
  return tree_root(std::span<const Hash>(leaves_.data(), n));
}

std::vector<Hash> AuditLog::inclusion_proof(std::uint64_t seq, std::uint64_t n) const {
  std::lock_guard lock(mutex_);
  DS_CHECK(n <= leaves_.size(), "[audit] tree size ", n, " exceeds the log's ", leaves_.size());
  return audit::inclusion_proof(std::span<const Hash>(leaves_.data(), n), seq);
}

std::vector<Hash> AuditLog::consistency_proof(std::uint64_t m, std::uint64_t n) const {
  std::lock_guard lock(mutex_);
  DS_CHECK(n <= leaves_.size(), "[audit] tree size ", n, " exceeds the log's ", leaves_.size());
  return audit::consistency_proof(std::span<const Hash>(leaves_.data(), n), m);
}

}  // namespace deepseek::security::audit
