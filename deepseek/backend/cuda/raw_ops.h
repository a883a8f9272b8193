// Kernels sometimes call public ops on their inputs (contiguous(), a cast). Those calls are an
// implementation detail: the autograd tape, the tracer and autocast must not see them.
#pragma once

#include "deepseek/ops/dispatcher.h"

namespace deepseek::cuda {

struct NoInterposers {
  ops::InterposerOff autocast{ops::Slot::autocast};
  ops::InterposerOff tracer{ops::Slot::tracer};
  ops::InterposerOff autograd{ops::Slot::autograd};
};

}  // namespace deepseek::cuda
