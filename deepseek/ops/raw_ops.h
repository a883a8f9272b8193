// Kernels sometimes call public ops on their inputs (contiguous(), a cast). Those calls are an
// implementation detail: the autograd tape, the tracer and autocast must not see them.
#pragma once

#include "deepseek/ops/dispatcher.h"

namespace deepseek::ops {

struct NoInterposers {
  InterposerOff autocast{Slot::autocast};
  InterposerOff tracer{Slot::tracer};
  InterposerOff autograd{Slot::autograd};
};

}  // namespace deepseek::ops
