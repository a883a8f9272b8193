// `deepseek audit`: append records to a tamper-evident audit log and verify one.
//   deepseek audit append LOG --subject S --action A --resource R [--attr k=v ...] [--key URI]
//   deepseek audit verify LOG [--key URI | --pubkey PEM [--no-head]]
//   deepseek audit pubkey --key URI
//   deepseek audit prove LOG (--index I | --from M) [--key URI]   RFC 9162 proofs as JSON
// The checkpoint key is a pkcs11: URI (EC P-256 pair in the HSM), from --key or
// $DEEPSEEK_AUDIT_KEY. verify exits 0 when intact, 1 naming the first bad record otherwise,
// 2 on bad usage.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <sstream>

#include "deepseek/core/error.h"
#include "deepseek/security/audit/log.h"
#include "deepseek/security/audit/verify.h"
#include "tools/command.h"

namespace {

namespace audit = deepseek::security::audit;

std::string key_or_env(const std::string& key) {
  if (!key.empty()) return key;
  if (const char* env = std::getenv("DEEPSEEK_AUDIT_KEY"); env && *env) return env;
  return "";
}

int run_audit_impl(int argc, char** argv) {
  CLI::App app{"Tamper-evident audit log (RFC 9162 Merkle tree, HSM-signed checkpoints)",
               "deepseek audit"};
  app.require_subcommand(1);
  std::string log_path, key, subject, action, resource, decision, pubkey;
  std::vector<std::string> attrs;
  std::uint64_t every = 1000;
  std::optional<std::uint64_t> index, from;
  bool json_out = false, no_head = false, fsync_each = false;

  auto* append = app.add_subcommand("append", "append one record (and sign a closing checkpoint)");
  append->add_option("log", log_path, "audit log file (created when missing)")->required();
  append->add_option("--subject", subject, "who")->required();
  append->add_option("--action", action, "what was done, e.g. model.save")->required();
  append->add_option("--resource", resource, "to what")->required();
  append->add_option("--attr", attrs, "extra attribute k=v (repeatable)");
  append->add_option("--decision", decision, "permit or deny, for access decisions");
  append->add_option("--key", key,
                     "pkcs11: URI of the checkpoint signing key (default $DEEPSEEK_AUDIT_KEY)");
  append->add_option("--checkpoint-every", every, "sign a checkpoint every K records");
  append->add_flag("--fsync", fsync_each, "fdatasync after the record");
  append->add_flag("--json", json_out, "print one JSON object");

  auto* verify = app.add_subcommand(
      "verify", "verify a log; exit 1 and name the first bad record if tampered");
  verify->add_option("log", log_path, "audit log file")->required();
  verify->add_option("--key", key,
                     "pkcs11: URI of the checkpoint key (default $DEEPSEEK_AUDIT_KEY)");
  verify->add_option("--pubkey", pubkey,
                     "PEM public key for offline verification (no HSM head check)");
  verify->add_flag("--no-head", no_head,
                   "skip the HSM head check (cannot detect a cut-off signed tail)");
  verify->add_flag("--json", json_out, "print one JSON object");

  auto* prove = app.add_subcommand(
      "prove",
      "print an inclusion (--index) or consistency (--from) proof against the signed root");
  prove->add_option("log", log_path, "audit log file")->required();
  auto* idx_opt = prove->add_option("--index", index, "record whose inclusion to prove");
  prove->add_option("--from", from, "older tree size whose consistency to prove")
      ->excludes(idx_opt);
  prove->add_option("--key", key,
                    "pkcs11: URI of the checkpoint key (default $DEEPSEEK_AUDIT_KEY)");
  prove->add_flag("--json", json_out, "print the JSON on one line");

  auto* pub = app.add_subcommand("pubkey", "print the checkpoint key's public key as PEM");
  pub->add_option("--key", key, "pkcs11: URI of the checkpoint key (default $DEEPSEEK_AUDIT_KEY)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const std::string uri = key_or_env(key);
  auto need_key = [&]() -> bool {
    if (!uri.empty()) return true;
    std::fprintf(stderr,
                 "deepseek audit: no checkpoint key: pass --key "
                 "'pkcs11:token=...;object=...?pin-source=...' "
                 "or set DEEPSEEK_AUDIT_KEY\n");
    return false;
  };

  if (append->parsed()) {
    if (!need_key()) return 2;
    if (!decision.empty() && decision != "permit" && decision != "deny") {
      std::fprintf(stderr, "deepseek audit append: --decision must be permit or deny\n");
      return 2;
    }
    audit::Entry e{subject, action, resource, {}, std::nullopt};
    if (!decision.empty()) e.decision = decision;
    for (auto& kv : attrs) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "deepseek audit append: --attr '%s' is not k=v\n", kv.c_str());
        return 2;
      }
      e.attrs[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    audit::AuditLog log(log_path, uri,
                        {.checkpoint_every = every, .fsync_each_record = fsync_each});
    std::uint64_t seq = log.append(std::move(e));
    log.close();
    if (json_out) {
      std::cout << nlohmann::json{{"seq", seq},
                                  {"size", log.size()},
                                  {"root", audit::hash_hex(log.root())},
                                  {"log_id", log.log_id()}}
                       .dump()
                << "\n";
    } else {
      std::cout << "appended record #" << seq << " to " << log_path << " (tree size " << log.size()
                << ", root " << audit::hash_hex(log.root()) << ")\n";
    }
    return 0;
  }

  if (verify->parsed()) {
    std::vector<std::uint8_t> public_key;
    std::shared_ptr<audit::Pkcs11Notary> notary;
    if (!pubkey.empty()) {
      std::ifstream in(pubkey);
      if (!in.good()) {
        std::fprintf(stderr, "deepseek audit verify: cannot read --pubkey '%s'\n", pubkey.c_str());
        return 2;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      public_key = audit::public_key_from_pem(ss.str());
      no_head = true;
    } else {
      if (!need_key()) return 2;
      notary = std::make_shared<audit::Pkcs11Notary>(uri);
      public_key = notary->public_key();
    }
    auto rep = audit::verify_log(log_path, {public_key, no_head ? nullptr : notary.get()});
    if (json_out) {
      nlohmann::json j = {{"ok", rep.ok()},
                          {"problem", audit::problem_name(rep.problem)},
                          {"records", rep.records},
                          {"checkpoints", rep.checkpoints},
                          {"signed_size", rep.signed_size},
                          {"root", audit::hash_hex(rep.root)},
                          {"log_id", rep.log_id},
                          {"message", rep.message}};
      if (rep.first_bad_record) j["first_bad_record"] = *rep.first_bad_record;
      if (!rep.ok()) j["line"] = rep.line;
      std::cout << j.dump() << "\n";
    } else if (rep.ok()) {
      std::cout << "OK: " << log_path << ": " << rep.records << " records, " << rep.checkpoints
                << " signed checkpoints, root " << audit::hash_hex(rep.root)
                << (no_head ? " (HSM head not checked)" : ", matches the HSM head") << "\n";
    } else {
      std::cout << "FAILED: " << log_path << ": " << rep.message << "\n";
      if (rep.first_bad_record)
        std::cout << "first bad record: #" << *rep.first_bad_record << " (line " << rep.line
                  << ")\n";
      else
        std::cout << "problem at line " << rep.line << "\n";
    }
    return rep.ok() ? 0 : 1;
  }

  if (prove->parsed()) {
    if (!need_key()) return 2;
    if (!index == !from) {
      std::fprintf(stderr, "deepseek audit prove: give --index I or --from M\n");
      return 2;
    }
    // Proofs are only worth something against a root the HSM signed, so the log is verified
    // first and the proof is made for its last signed size.
    auto notary = std::make_shared<audit::Pkcs11Notary>(uri);
    auto rep = audit::verify_log(log_path, {notary->public_key(), notary.get()});
    if (!rep.ok()) {
      std::cout << "FAILED: " << log_path << ": " << rep.message << "\n";
      return 1;
    }
    const std::uint64_t n = rep.signed_size;
    std::span<const audit::Hash> leaves(rep.leaves.data(), n);
    const audit::Hash root = audit::tree_root(leaves);
    nlohmann::json j = {{"log_id", rep.log_id}, {"tree_size", n}, {"root", audit::hash_hex(root)}};
    nlohmann::json path = nlohmann::json::array();
    if (index) {
      if (*index >= n) {
        std::fprintf(stderr,
                     "deepseek audit prove: --index %llu is not below the signed size %llu\n",
                     static_cast<unsigned long long>(*index), static_cast<unsigned long long>(n));
        return 2;
      }
      auto proof = audit::inclusion_proof(leaves, *index);
      DS_CHECK(audit::verify_inclusion(*index, n, leaves[*index], proof, root),
               "[audit] internal error: inclusion proof does not verify");
      for (auto& h : proof) path.push_back(audit::hash_hex(h));
      j["index"] = *index;
      j["leaf_hash"] = audit::hash_hex(leaves[*index]);
      j["inclusion_path"] = path;
    } else {
      if (*from == 0 || *from > n) {
        std::fprintf(stderr, "deepseek audit prove: --from must be in 1..%llu\n",
                     static_cast<unsigned long long>(n));
        return 2;
      }
      auto old_root = audit::tree_root(leaves.subspan(0, *from));
      auto proof = audit::consistency_proof(leaves, *from);
      DS_CHECK(audit::verify_consistency(*from, n, old_root, root, proof),
               "[audit] internal error: consistency proof does not verify");
      for (auto& h : proof) path.push_back(audit::hash_hex(h));
      j["old_size"] = *from;
      j["old_root"] = audit::hash_hex(old_root);
      j["consistency_path"] = path;
    }
    std::cout << j.dump(json_out ? -1 : 2) << "\n";
    return 0;
  }

  if (pub->parsed()) {
    if (!need_key()) return 2;
    audit::Pkcs11Notary notary(uri);
    std::cout << audit::public_key_pem(notary.public_key());
    return 0;
  }
  return 2;
}

// Bad input — wrong PIN, bad URI, missing key, a log that cannot be appended to — exits 2
// (a failed verification exits 1), so scripts can tell "tampered" from "misconfigured".
int run_audit(int argc, char** argv) {
  try {
    return run_audit_impl(argc, argv);
  } catch (const deepseek::Error& e) {
    std::fprintf(stderr, "deepseek audit: error: %s\n", e.what());
    return 2;
  }
}

}  // namespace

DEEPSEEK_COMMAND("audit", "append to / verify a tamper-evident audit log", run_audit);
