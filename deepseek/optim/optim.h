// Everything in deepseek::optim: optimizers, schedulers, gradient clipping, GradScaler.
#pragma once

#include "deepseek/optim/adam.h"
#include "deepseek/optim/clip_grad.h"
#include "deepseek/optim/grad_scaler.h"
#include "deepseek/optim/optimizer.h"
#include "deepseek/optim/scheduler.h"
#include "deepseek/optim/sgd.h"
