// The graph IR every pillar shares (DESIGN §3, §5): a functional SSA program. A Value is one
// tensor (its meta: shape, dtype, device; plus the layout it had when traced); a Node applies
// one registered op to input Values with typed Attrs and defines output Values; a Graph holds
// named inputs (user inputs, then parameters and buffers named by module path), named
// constants (tensors captured from outside that are neither inputs nor produced), nodes in
// topological order, outputs, and the in-place writes to inputs/constants that a caller must
// apply after running it ("mutations": BatchNorm running statistics, say). There is no
// in-place op and no aliasing in the IR: the tracer rewrites both away.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deepseek/ops/op_def.h"

namespace deepseek::ir {

struct Node;

enum class ValueKind : uint8_t { input, constant, node_output };
// What a graph input stands for; parameters and buffers carry their module path as name.
enum class InputKind : uint8_t { user, parameter, buffer };
const char* input_kind_name(InputKind k);

struct Value {
  int id = 0;  // unique in its graph; printed as %id
  ValueKind kind = ValueKind::node_output;
  ops::TensorMeta meta;
  // Layout observed when traced (empty when unknown). Informational, except that the
  // interpreter requires it of inputs marked layout_sensitive.
  Strides strides;
  int64_t offset = 0;
  bool wrapped_number = false;    // a C++ number wrapped in a 0-d tensor (type promotion)
  bool layout_sensitive = false;  // as_strided nodes address it by strides and offset
  // Inputs and constants.
  std::string name;
  InputKind input_kind = InputKind::user;
  Tensor constant;  // kind == constant: the captured tensor (shared, not copied)
  // Node outputs.
  Node* producer = nullptr;
  int output_index = 0;

  bool is_input() const { return kind == ValueKind::input; }
  bool is_constant() const { return kind == ValueKind::constant; }
};

struct Node {
  int index = 0;  // position in the graph's node list (kept current by Graph)
  ops::OpId op = 0;
  std::vector<Value*> inputs;
  ops::Attrs attrs;
  std::vector<Value*> outputs;
  std::string scope;  // module path ("layer1.conv"), "" at top level

  const ops::OpDef& def() const;
  const std::string& name() const { return def().name; }
};

// An in-place write to a graph input or constant: after running, `target` must hold `value`.
struct Mutation {
  Value* target;
  Value* value;
};

class Graph {
 public:
  Graph() = default;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  Value* add_input(const std::string& name, const ops::TensorMeta& meta,
                   InputKind kind = InputKind::user);
  Value* add_constant(const std::string& name, const Tensor& t);
  // Appends a node applying `op`; one output Value per entry of out_meta.
  Node* add_node(ops::OpId op, std::vector<Value*> inputs, ops::Attrs attrs,
                 const std::vector<ops::TensorMeta>& out_meta, std::string scope = {});
  // Same, inserted before node position `pos` (passes use it; indices are renumbered).
  Node* insert_node(size_t pos, ops::OpId op, std::vector<Value*> inputs, ops::Attrs attrs,
                    const std::vector<ops::TensorMeta>& out_meta, std::string scope = {});
  void add_output(Value* v) { outputs_.push_back(v); }
  void set_outputs(std::vector<Value*> vs) { outputs_ = std::move(vs); }
  void add_mutation(Value* target, Value* value) { mutations_.push_back({target, value}); }

  // Rewires every use (node inputs, outputs, mutation values) of `from` to `to`.
  void replace_all_uses(Value* from, Value* to);
  // Removes the node at `pos`; its outputs must be unused.
  void erase_node(size_t pos);
  // Removes nodes whose outputs reach no output or mutation (keeps nothing else: ops are pure).
  size_t eliminate_dead_code();
  // Number of uses of v (node inputs, graph outputs, mutations).
  size_t use_count(const Value* v) const;

  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& constants() const { return constants_; }
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  const std::vector<Mutation>& mutations() const { return mutations_; }
  std::vector<Mutation>& mutations() { return mutations_; }
  std::vector<Value*>& outputs() { return outputs_; }
  const std::vector<std::unique_ptr<Value>>& values() const { return values_; }

  Value* input(const std::string& name) const;     // null when absent
  Value* constant(const std::string& name) const;  // null when absent
  size_t num_nodes() const { return nodes_.size(); }

  // A deep copy (constants share their tensors).
  Graph clone() const;

  // The text form (see printer.h).
  std::string str() const;

 private:
  Value* new_value(ValueKind kind, const ops::TensorMeta& meta);
  void renumber();

  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Value*> inputs_;
  std::vector<Value*> constants_;
  std::vector<Value*> outputs_;
  std::vector<Mutation> mutations_;
  int next_id_ = 0;
};

}  // namespace deepseek::ir
