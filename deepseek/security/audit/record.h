// One audit record — who (subject) did what (action) to what (resource), when, with which
// extra attributes and, for access decisions, the outcome — and its canonical byte form, the
// Merkle leaf. Canonical means nlohmann::json's dump of the entry object: keys sorted, no
// whitespace, so any reader re-serializing a parsed entry gets the same bytes back.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace deepseek::security::audit {

struct Entry {
  std::string subject;
  std::string action;
  std::string resource;
  std::map<std::string, std::string> attrs;
  std::optional<std::string> decision;  // "permit" / "deny" for policy decisions
};

struct Record {
  std::uint64_t seq = 0;
  std::string time;  // RFC 3339 UTC with microseconds, e.g. 2025-01-02T03:04:05.123456Z
  Entry entry;

  nlohmann::json to_json() const;
  // Throws deepseek::Error naming the missing/mistyped field.
  static Record from_json(const nlohmann::json& j);
  // The leaf bytes. Throws deepseek::Error if a string is not valid UTF-8.
  std::string canonical() const;
};

std::string now_rfc3339();

}  // namespace deepseek::security::audit
