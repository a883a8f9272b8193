#include "deepseek/ir/graph.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "deepseek/ir/printer.h"
#include "deepseek/ops/registry.h"

namespace deepseek::ir {

const char* input_kind_name(InputKind k) {
  switch (k) {
    case InputKind::user:
      return "input";
    case InputKind::parameter:
      return "param";
    case InputKind::buffer:
      return "buffer";
  }
  return "?";
}

const ops::OpDef& Node::def() const { return ops::Registry::get().at(op); }

Value* Graph::new_value(ValueKind kind, const ops::TensorMeta& meta) {
  auto v = std::make_unique<Value>();
  v->id = next_id_++;
  v->kind = kind;
  v->meta = meta;
  values_.push_back(std::move(v));
  return values_.back().get();
}

Value* Graph::add_input(const std::string& name, const ops::TensorMeta& meta, InputKind kind) {
  DS_CHECK(!input(name), "[ir] duplicate graph input name '", name, "'");
  Value* v = new_value(ValueKind::input, meta);
  v->name = name;
  v->input_kind = kind;
  inputs_.push_back(v);
  return v;
}

Value* Graph::add_constant(const std::string& name, const Tensor& t) {
  DS_CHECK(t.defined(), "[ir] constant '", name, "' is an undefined tensor");
  DS_CHECK(!constant(name), "[ir] duplicate constant name '", name, "'");
  Value* v = new_value(ValueKind::constant, {t.sizes(), t.dtype(), t.device()});
  v->name = name;
  v->constant = t;
  v->strides = t.strides();
  v->offset = t.offset();
  v->wrapped_number = t.impl()->wrapped_number;
  constants_.push_back(v);
  return v;
}

Node* Graph::add_node(ops::OpId op, std::vector<Value*> inputs, ops::Attrs attrs,
                      const std::vector<ops::TensorMeta>& out_meta, std::string scope) {
  return insert_node(nodes_.size(), op, std::move(inputs), std::move(attrs), out_meta,
                     std::move(scope));
}

Node* Graph::insert_node(size_t pos, ops::OpId op, std::vector<Value*> inputs, ops::Attrs attrs,
                         const std::vector<ops::TensorMeta>& out_meta, std::string scope) {
  DS_CHECK(pos <= nodes_.size(), "[ir] insert_node position ", pos, " past the end (",
           nodes_.size(), " nodes)");
  auto n = std::make_unique<Node>();
  n->op = op;
  n->inputs = std::move(inputs);
  n->attrs = std::move(attrs);
  n->scope = std::move(scope);
  for (size_t i = 0; i < out_meta.size(); ++i) {
    Value* v = new_value(ValueKind::node_output, out_meta[i]);
    v->producer = n.get();
    v->output_index = static_cast<int>(i);
    n->outputs.push_back(v);
  }
  Node* raw = n.get();
  nodes_.insert(nodes_.begin() + static_cast<std::ptrdiff_t>(pos), std::move(n));
  if (pos + 1 == nodes_.size())
    raw->index = static_cast<int>(pos);
  else
    renumber();
  return raw;
}

void Graph::renumber() {
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->index = static_cast<int>(i);
}

void Graph::replace_all_uses(Value* from, Value* to) {
  for (auto& n : nodes_)
    for (auto*& v : n->inputs)
      if (v == from) v = to;
  for (auto*& v : outputs_)
    if (v == from) v = to;
  for (auto& m : mutations_)
    if (m.value == from) m.value = to;
}

size_t Graph::use_count(const Value* v) const {
  size_t n = 0;
  for (auto& node : nodes_) n += std::count(node->inputs.begin(), node->inputs.end(), v);
  n += std::count(outputs_.begin(), outputs_.end(), v);
  for (auto& m : mutations_) n += (m.value == v) + (m.target == v);
  return n;
}

void Graph::erase_node(size_t pos) {
  DS_CHECK(pos < nodes_.size(), "[ir] erase_node position ", pos, " out of range");
  for (Value* o : nodes_[pos]->outputs)
    DS_CHECK(use_count(o) == 0, "[ir] cannot erase node #", pos, " (", nodes_[pos]->name(),
             "): its output %", o->id, " is still used");
  Node* dead = nodes_[pos].get();
  nodes_.erase(nodes_.begin() + static_cast<std::ptrdiff_t>(pos));
  values_.erase(
      std::remove_if(values_.begin(), values_.end(),
                     [&](const std::unique_ptr<Value>& v) { return v->producer == dead; }),
      values_.end());
  renumber();
}

size_t Graph::eliminate_dead_code() {
  std::unordered_set<const Value*> live(outputs_.begin(), outputs_.end());
  for (auto& m : mutations_) live.insert(m.value);
  std::vector<bool> keep(nodes_.size(), false);
  for (size_t i = nodes_.size(); i-- > 0;) {
    for (Value* o : nodes_[i]->outputs)
      if (live.count(o)) keep[i] = true;
    if (keep[i])
      for (Value* in : nodes_[i]->inputs) live.insert(in);
  }
  std::unordered_set<const Node*> dead;
  std::vector<std::unique_ptr<Node>> kept;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (keep[i])
      kept.push_back(std::move(nodes_[i]));
    else
      dead.insert(nodes_[i].get());
  }
  size_t removed = dead.size();
  nodes_ = std::move(kept);
  values_.erase(std::remove_if(values_.begin(), values_.end(),
                               [&](const std::unique_ptr<Value>& v) {
                                 return v->producer && dead.count(v->producer);
                               }),
                values_.end());
  renumber();
  return removed;
}

Value* Graph::input(const std::string& name) const {
  for (Value* v : inputs_)
    if (v->name == name) return v;
  return nullptr;
}

Value* Graph::constant(const std::string& name) const {
  for (Value* v : constants_)
    if (v->name == name) return v;
  return nullptr;
}

Graph Graph::clone() const {
  Graph g;
  std::unordered_map<const Value*, Value*> map;
  auto copy_fields = [](const Value* from, Value* to) {
    to->strides = from->strides;
    to->offset = from->offset;
    to->wrapped_number = from->wrapped_number;
    to->layout_sensitive = from->layout_sensitive;
  };
  // Values keep their ids so printed graphs compare equal.
  for (Value* v : inputs_) {
    Value* c = g.add_input(v->name, v->meta, v->input_kind);
    copy_fields(v, c);
    c->id = v->id;
    map[v] = c;
  }
  for (Value* v : constants_) {
    Value* c = g.add_constant(v->name, v->constant);
    copy_fields(v, c);
    c->id = v->id;
    map[v] = c;
  }
  for (auto& n : nodes_) {
    std::vector<Value*> ins;
    for (Value* v : n->inputs) ins.push_back(map.count(v) ? map.at(v) : nullptr);
    std::vector<ops::TensorMeta> metas;
    for (Value* o : n->outputs) metas.push_back(o->meta);
    Node* c = g.add_node(n->op, std::move(ins), n->attrs, metas, n->scope);
    for (size_t i = 0; i < n->outputs.size(); ++i) {
      copy_fields(n->outputs[i], c->outputs[i]);
      c->outputs[i]->id = n->outputs[i]->id;
      map[n->outputs[i]] = c->outputs[i];
    }
  }
  auto get = [&](const Value* v) { return map.count(v) ? map.at(v) : nullptr; };
  for (Value* v : outputs_) g.outputs_.push_back(get(v));
  for (auto& m : mutations_) g.mutations_.push_back({get(m.target), get(m.value)});
  g.next_id_ = next_id_;
  return g;
}

std::string Graph::str() const { return to_text(*this); }

}  // namespace deepseek::ir
