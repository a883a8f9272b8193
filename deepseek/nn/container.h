// Containers: Sequential (chains its children), ModuleList (indexed children, no forward) and
// ModuleDict (named children, no forward). Children are registered under "0", "1", ... or their
// keys, so state_dict paths match PyTorch's ("layers.0.weight").
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "deepseek/core/error.h"
#include "deepseek/nn/module.h"

namespace deepseek::nn {

class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<ModulePtr> modules);
  explicit Sequential(const std::vector<ModulePtr>& modules);
  // Named children (PyTorch's Sequential(OrderedDict(...))).
  explicit Sequential(const std::vector<std::pair<std::string, ModulePtr>>& named);

  void push_back(ModulePtr m);
  void push_back(const std::string& name, ModulePtr m);
  ModulePtr operator[](int64_t i) const;
  size_t size() const { return named_children().size(); }
  // Each child's outputs are the next child's inputs.
  std::vector<Tensor> forward_list(const std::vector<Tensor>& inputs) override;
  Tensor forward(const Tensor& x) override;
};

class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  ModuleList(std::initializer_list<ModulePtr> modules);
  explicit ModuleList(const std::vector<ModulePtr>& modules);
  void push_back(ModulePtr m);
  ModulePtr operator[](int64_t i) const;
  template <typename M>
  std::shared_ptr<M> at(int64_t i) const {
    auto p = std::dynamic_pointer_cast<M>((*this)[i]);
    DS_CHECK(p != nullptr, "[ModuleList] element ", i, " is a ", (*this)[i]->type_name());
    return p;
  }
  size_t size() const { return modules_.size(); }
  std::vector<ModulePtr>::const_iterator begin() const { return modules_.begin(); }
  std::vector<ModulePtr>::const_iterator end() const { return modules_.end(); }

 private:
  std::vector<ModulePtr> modules_;
};

class ModuleDict : public Module {
 public:
  ModuleDict() : Module("ModuleDict") {}
  explicit ModuleDict(const std::vector<std::pair<std::string, ModulePtr>>& named);
  void insert(const std::string& key, ModulePtr m);
  ModulePtr operator[](const std::string& key) const;
  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const;
  size_t size() const { return named_children().size(); }
};

}  // namespace deepseek::nn
