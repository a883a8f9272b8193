#include "deepseek/ir/verifier.h"

#include <gtest/gtest.h>

#include "deepseek/ir/graph.h"
#include "deepseek/ir/interpreter.h"
#include "deepseek/ops/dispatcher.h"
#include "deepseek/ops/ops.h"

namespace deepseek::ir {
namespace {

ops::TensorMeta f32(Shape s) { return {std::move(s), DType::f32, kCPU}; }

// Expects verify(g) to throw an Error whose message contains every fragment.
void expect_rejected(const Graph& g, std::vector<std::string> fragments) {
  try {
    verify(g);
    FAIL() << "verify accepted a malformed graph";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (auto& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

TEST(Verify, AcceptsWellFormedGraph) {
  Graph g;
  Value* a = g.add_input("a", f32({2, 3}));
  Value* b = g.add_input("b", f32({3}));
  Node* n = g.add_node(ops::op_id("add"), {a, b}, {}, {f32({2, 3})});
  Node* s =
      g.add_node(ops::op_id("sum"), {n->outputs[0]},
                 ops::Attrs().set("dims", ops::AttrValue(std::vector<int64_t>{1})), {f32({2})});
  g.add_output(s->outputs[0]);
  verify(g);
  auto r = run(g, {ones({2, 3}), ones({3})});
  EXPECT_EQ(r[0].to_vector<float>(), (std::vector<float>{6, 6}));
}

TEST(Verify, RejectsUseBeforeDefinition) {
  Graph g;
  Value* a = g.add_input("a", f32({2}));
  Node* n1 = g.add_node(ops::op_id("neg"), {a}, {}, {f32({2})});
  // Inserted before its producer.
  g.insert_node(0, ops::op_id("exp"), {n1->outputs[0]}, {}, {f32({2})});
  expect_rejected(g, {"node #0", "exp(%1)", "used before it is defined"});
}

TEST(Verify, RejectsWrongArity) {
  Graph g;
  Value* a = g.add_input("a", f32({2}));
  g.add_node(ops::op_id("add"), {a}, {}, {f32({2})});
  expect_rejected(g, {"node #0", "add(%0)", "has 1 inputs but 'add' takes 2"});
}

TEST(Verify, RejectsInconsistentMeta) {
  Graph g;
  Value* a = g.add_input("a", f32({2, 3}));
  Value* b = g.add_input("b", f32({4}));
  g.add_node(ops::op_id("mul"), {a, a}, {}, {f32({3, 2})});
  expect_rejected(g, {"node #0", "recorded as f32[3, 2]", "inference gives f32[2, 3]"});

  Graph h;
  a = h.add_input("a", f32({2, 3}));
  b = h.add_input("b", f32({4}));
  h.add_node(ops::op_id("add"), {a, b}, {}, {f32({2, 3})});
  expect_rejected(h, {"node #0", "inference on its input metas fails", "[add]"});

  Graph k;
  a = k.add_input("a", f32({2, 3}));
  k.add_node(ops::op_id("eq"), {a, a}, {}, {f32({2, 3})});
  expect_rejected(k, {"recorded as f32[2, 3]", "inference gives bool[2, 3]"});
}

TEST(Verify, RejectsForeignValuesUndefinedOutputsAndBadMutations) {
  Graph other;
  Value* foreign = other.add_input("z", f32({2}));
  Graph g;
  Value* a = g.add_input("a", f32({2}));
  g.add_node(ops::op_id("add"), {a, foreign}, {}, {f32({2})});
  expect_rejected(g, {"node #0", "input 1 (%0) is not a value of this graph"});

  Graph h;
  a = h.add_input("a", f32({2}));
  Node* n = h.add_node(ops::op_id("neg"), {a}, {}, {f32({2})});
  h.add_output(foreign);
  expect_rejected(h, {"graph output 0", "is not defined"});

  Graph m;
  a = m.add_input("a", f32({2}));
  n = m.add_node(ops::op_id("neg"), {a}, {}, {f32({2})});
  Node* n2 = m.add_node(ops::op_id("sum"), {n->outputs[0]}, {}, {f32({})});
  m.add_mutation(n->outputs[0], n2->outputs[0]);
  expect_rejected(m, {"mutation target %1 is not a graph input or constant"});

  Graph q;
  a = q.add_input("a", f32({2}));
  n = q.add_node(ops::op_id("sum"), {a}, {}, {f32({})});
  q.add_mutation(a, n->outputs[0]);
  expect_rejected(q, {"mutation of %0", "different meta"});
}

TEST(Verify, RejectsMissingAttrsAndDuplicateNames) {
  Graph g;
  Value* a = g.add_input("a", f32({2}));
  g.add_node(ops::op_id("cast"), {a}, {}, {f32({2})});
  expect_rejected(g, {"node #0", "cast(%0)", "missing attribute 'dtype'"});

  Graph h;
  h.add_input("a", f32({2}));
  EXPECT_THROW(h.add_input("a", f32({2})), Error);
}

TEST(Verify, EraseNodeRefusesLiveValues) {
  Graph g;
  Value* a = g.add_input("a", f32({2}));
  Node* n = g.add_node(ops::op_id("neg"), {a}, {}, {f32({2})});
  g.add_output(n->outputs[0]);
  EXPECT_THROW(g.erase_node(0), Error);
}

TEST(Interpreter, RejectsWrongInputs) {
  Graph g;
  Value* a = g.add_input("a", f32({2}));
  Node* n = g.add_node(ops::op_id("neg"), {a}, {}, {f32({2})});
  g.add_output(n->outputs[0]);
  try {
    run(g, {ones({3})});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("input 0 (\"a\") must be f32[2], got f32[3]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(run(g, {}), Error);
}

}  // namespace
}  // namespace deepseek::ir
