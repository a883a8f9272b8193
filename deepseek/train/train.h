// Everything in deepseek::train: Trainer, callbacks, progress.
#pragma once

#include "deepseek/train/callback.h"
#include "deepseek/train/callbacks.h"
#include "deepseek/train/progress.h"
#include "deepseek/train/trainer.h"
