// Audit-trail and ABAC benchmarks (issue 5 goals): audit append throughput without and with
// fsync per record, verification throughput, and ABAC decision latency with 100 policies.
// Checkpoints are signed by a real (SoftHSM2) token created for the run and removed after.
// There is no external implementation to race, so the reference column is the goal;
// ratio > 1 means we beat the goal. Writes bench/results/security-audit-abac.json.
//
//   bench_security_audit_abac [--out PATH] [--records N] [--durable N] [--requests N]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "deepseek/security/abac/engine.h"
#include "deepseek/security/abac/policy.h"
#include "deepseek/security/audit/log.h"
#include "deepseek/security/hsm/scratch_token.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace abac = deepseek::security::abac;
namespace audit = deepseek::security::audit;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string shell(const char* cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd, "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown cpu";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) + " cores";
}

struct Result {
  std::string name;
  double ours, reference;
  std::string unit;
  bool higher_is_better;
};

double append_rate(const std::string& dir, std::shared_ptr<audit::Pkcs11Notary> notary,
                   std::uint64_t n, bool fsync_each, int threads = 1) {
  auto path = dir + "/log-" + std::to_string(fsync_each) + "-" + std::to_string(threads) + ".log";
  std::filesystem::remove(path);
  audit::AuditLog log(path, notary, notary,
                      {.checkpoint_every = 1000, .fsync_each_record = fsync_each});
  auto work = [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t i = begin; i < end; ++i)
      log.append({"user" + std::to_string(i % 50),
                  i % 3 ? "model.load" : "model.save",
                  "runs/model-" + std::to_string(i % 200) + ".ckpt",
                  {{"bytes", std::to_string(1000 + i)}, {"host", "node-1"}},
                  i % 5 ? std::optional<std::string>() : std::optional<std::string>("permit")});
  };
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work, n * t / threads, n * (t + 1) / threads);
  for (auto& th : pool) th.join();
  log.close();
  return static_cast<double>(n) / seconds_since(t0);
}

// 100 policies of the shape real deployments have: most scoped to a few actions, conditions
// of 1-4 comparisons over role, team, clearance, classification, owner and hour.
abac::PolicySet make_policies(std::mt19937_64& rng, int count) {
  const char* actions[] = {"model.load", "model.save",   "model.export", "train.start",
                           "train.stop", "data.decrypt", "key.use"};
  const char* roles[] = {"admin", "researcher", "engineer", "auditor", "guest"};
  const char* classes[] = {"public", "internal", "confidential", "secret"};
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  nlohmann::json policies = nlohmann::json::array();
  for (int i = 0; i < count; ++i) {
    nlohmann::json p = {{"id", "policy-" + std::to_string(i)},
                        {"effect", pick(4) == 0 ? "forbid" : "permit"}};
    if (pick(10) < 8) p["actions"] = {actions[pick(7)], actions[pick(7)]};
    nlohmann::json all = nlohmann::json::array();
    for (int k = 0, n = 1 + pick(4); k < n; ++k) {
      switch (pick(6)) {
        case 0:
          all.push_back({{"attr", "subject.role"}, {"eq", roles[pick(5)]}});
          break;
        case 1:
          all.push_back(
              {{"attr", "resource.classification"}, {"in", {classes[pick(4)], classes[pick(4)]}}});
          break;
        case 2:
          all.push_back({{"attr", "subject.clearance"}, {"ge", {{"attr", "resource.level"}}}});
          break;
        case 3:
          all.push_back({{"attr", "resource.owner"}, {"eq", {{"attr", "subject.id"}}}});
          break;
        case 4:
          all.push_back({{"attr", "environment.hour"}, {"lt", 8 + pick(12)}});
          break;
        default:
          all.push_back({{"attr", "subject.groups"},
                         {"contains", "team-" + std::to_string(pick(10))},
                         {"if_missing", false}});
      }
    }
    p["when"] = {{"all", all}};
    policies.push_back(p);
  }
  return abac::PolicySet::parse_json(nlohmann::json{{"policies", policies}}.dump(), "<bench>");
}

}  // namespace

int main(int argc, char** argv) {
  std::string out = "bench/results/security-audit-abac.json";
  std::uint64_t records = 100000, durable = 3000, requests = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--out"))
      out = argv[i + 1];
    else if (!std::strcmp(argv[i], "--records"))
      records = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--durable"))
      durable = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--requests"))
      requests = std::stoull(argv[i + 1]);
  }
  std::vector<Result> results;
  std::string dir;
  {
    deepseek::security::hsm::ScratchToken token("deepseek-bench");
    dir = token.dir();
    auto notary = std::make_shared<audit::Pkcs11Notary>(token.uri("audit"));
    double fast = append_rate(dir, notary, records, false);
    results.push_back(
        {"audit append (write per record, no fsync; HSM-signed checkpoint every 1000)", fast, 10000,
         "records/s", true});
    double slow = append_rate(dir, notary, durable, true);
    results.push_back({"audit append durable (fdatasync before append returns), 1 thread", slow,
                       10000, "records/s", true});
    double group = append_rate(dir, notary, durable * 8, true, 16);
    results.push_back(
        {"audit append durable, 16 threads (group commit)", group, 10000, "records/s", true});
    auto t0 = Clock::now();
    auto rep = audit::verify_log(dir + "/log-0-1.log", {notary->public_key(), notary.get()});
    double vrate = static_cast<double>(rep.records) / seconds_since(t0);
    if (!rep.ok()) std::fprintf(stderr, "verify failed: %s\n", rep.message.c_str());
    results.push_back(
        {"audit verify (parse + rehash + signatures + HSM head)", vrate, 10000, "records/s", true});
  }

  std::mt19937_64 rng(42);
  abac::PolicySet set = make_policies(rng, 100);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const char* actions[] = {"model.load", "model.save",   "model.export", "train.start",
                           "train.stop", "data.decrypt", "key.use"};
  const char* roles[] = {"admin", "researcher", "engineer", "auditor", "guest"};
  const char* classes[] = {"public", "internal", "confidential", "secret"};
  std::vector<abac::Request> reqs(4096);
  for (auto& r : reqs) {
    r.action = actions[pick(7)];
    r.subject = {{"id", "user" + std::to_string(pick(20))},
                 {"role", roles[pick(5)]},
                 {"clearance", pick(5)},
                 {"groups", abac::Value::List{"team-" + std::to_string(pick(10))}}};
    r.resource = {{"id", "m.ckpt"},
                  {"classification", classes[pick(4)]},
                  {"level", pick(5)},
                  {"owner", "user" + std::to_string(pick(20))}};
    r.environment = {{"hour", pick(24)}};
  }
  std::vector<double> lat(requests);
  std::uint64_t permits = 0;
  for (std::uint64_t i = 0; i < requests; ++i) {
    auto t0 = Clock::now();
    auto d = abac::evaluate(set, reqs[i % reqs.size()]);
    lat[i] = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    permits += d.permit;
  }
  std::sort(lat.begin(), lat.end());
  double p50 = lat[lat.size() / 2], p99 = lat[lat.size() * 99 / 100];
  results.push_back({"ABAC decision p99, 100 policies", p99, 50, "us", false});
  results.push_back({"ABAC decision p50, 100 policies", p50, 50, "us", false});

  std::printf("%-78s %14s %12s %10s %8s\n", "benchmark", "ours", "goal", "unit", "ratio");
  nlohmann::json js = {{"machine", machine()},
                       {"commit", shell("git rev-parse --short HEAD 2>/dev/null")},
                       {"results", nlohmann::json::array()}};
  for (auto& r : results) {
    double ratio = r.higher_is_better ? r.ours / r.reference : r.reference / r.ours;
    std::printf("%-78s %14.2f %12.0f %10s %8.2f\n", r.name.c_str(), r.ours, r.reference,
                r.unit.c_str(), ratio);
    js["results"].push_back({{"name", r.name},
                             {"ours", r.ours},
                             {"reference", r.reference},
                             {"unit", r.unit},
                             {"ratio", ratio}});
  }
  std::printf("(reference = the goal in issue 5; %llu of %llu ABAC requests permitted)\n",
              static_cast<unsigned long long>(permits), static_cast<unsigned long long>(requests));
  std::filesystem::create_directories(std::filesystem::path(out).parent_path());
  std::ofstream(out) << js.dump(2) << "\n";
  std::printf("wrote %s\n", out.c_str());
  std::printf("%s\n", js.dump().c_str());
  return 0;
}
