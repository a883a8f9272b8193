#include "deepseek/nn/container.h"

#include "deepseek/core/error.h"

namespace deepseek::nn {

Sequential::Sequential(std::initializer_list<ModulePtr> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(m);
}
Sequential::Sequential(const std::vector<ModulePtr>& modules) : Module("Sequential") {
  for (auto& m : modules) push_back(m);
}
Sequential::Sequential(const std::vector<std::pair<std::string, ModulePtr>>& named)
    : Module("Sequential") {
  for (auto& [n, m] : named) push_back(n, m);
}

void Sequential::push_back(ModulePtr m) { push_back(std::to_string(size()), std::move(m)); }
void Sequential::push_back(const std::string& name, ModulePtr m) {
  register_module(name, std::move(m));
}

ModulePtr Sequential::operator[](int64_t i) const {
  auto c = named_children();
  int64_t n = static_cast<int64_t>(c.size());
  DS_CHECK(i >= -n && i < n, "[Sequential] index ", i, " out of range for ", n, " modules");
  return c[i < 0 ? i + n : i].second;
}

std::vector<Tensor> Sequential::forward_list(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> x = inputs;
  for (auto& [name, m] : named_children()) x = m->call(x);
  return x;
}

Tensor Sequential::forward(const Tensor& x) { return first(forward_list({x})); }

ModuleList::ModuleList(std::initializer_list<ModulePtr> modules) : Module("ModuleList") {
  for (auto& m : modules) push_back(m);
}
ModuleList::ModuleList(const std::vector<ModulePtr>& modules) : Module("ModuleList") {
  for (auto& m : modules) push_back(m);
}
void ModuleList::push_back(ModulePtr m) {
  register_module(std::to_string(modules_.size()), m);
  modules_.push_back(std::move(m));
}
ModulePtr ModuleList::operator[](int64_t i) const {
  int64_t n = static_cast<int64_t>(modules_.size());
  DS_CHECK(i >= -n && i < n, "[ModuleList] index ", i, " out of range for ", n, " modules");
  return modules_[i < 0 ? i + n : i];
}

ModuleDict::ModuleDict(const std::vector<std::pair<std::string, ModulePtr>>& named)
    : Module("ModuleDict") {
  for (auto& [k, m] : named) insert(k, m);
}
void ModuleDict::insert(const std::string& key, ModulePtr m) {
  if (contains(key))
    replace_module(key, std::move(m));
  else
    register_module(key, std::move(m));
}
ModulePtr ModuleDict::operator[](const std::string& key) const {
  for (auto& [k, m] : named_children())
    if (k == key) return m;
  DS_THROW("[ModuleDict] no module under key \"", key, "\"");
}
bool ModuleDict::contains(const std::string& key) const {
  for (auto& [k, m] : named_children())
    if (k == key) return true;
  return false;
}
std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (auto& [k, m] : named_children()) out.push_back(k);
  return out;
}

}  // namespace deepseek::nn
