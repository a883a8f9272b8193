#include "deepseek/security/audit/record.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "deepseek/core/error.h"

namespace deepseek::security::audit {

nlohmann::json Record::to_json() const {
  nlohmann::json j = {{"seq", seq},
                      {"time", time},
                      {"subject", entry.subject},
                      {"action", entry.action},
                      {"resource", entry.resource},
                      {"attrs", entry.attrs}};
  if (entry.decision) j["decision"] = *entry.decision;
  return j;
}

Record Record::from_json(const nlohmann::json& j) {
  DS_CHECK(j.is_object(), "[audit] record entry is not an object");
  static const char* known[] = {"seq",      "time",  "subject", "action",
                                "resource", "attrs", "decision"};
  for (auto& [k, v] : j.items()) {
    bool ok = false;
    for (const char* n : known) ok |= k == n;
    DS_CHECK(ok, "[audit] record has unknown field '", k, "'");
  }
  Record r;
  try {
    r.seq = j.at("seq").get<std::uint64_t>();
    r.time = j.at("time").get<std::string>();
    r.entry.subject = j.at("subject").get<std::string>();
    r.entry.action = j.at("action").get<std::string>();
    r.entry.resource = j.at("resource").get<std::string>();
    r.entry.attrs = j.at("attrs").get<std::map<std::string, std::string>>();
    if (j.contains("decision")) r.entry.decision = j.at("decision").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[audit] malformed record: ", e.what());
  }
  return r;
}

std::string Record::canonical() const {
  try {
    return to_json().dump();
  } catch (const nlohmann::json::exception& e) {
    DS_THROW("[audit] record #", seq, " cannot be serialized (strings must be UTF-8): ", e.what());
  }
}

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1000000));
  return buf;
}

}  // namespace deepseek::security::audit
