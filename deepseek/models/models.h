// The model zoo: every model, its config, and create_model() by name.
#pragma once

#include "deepseek/models/bert.h"
#include "deepseek/models/config.h"
#include "deepseek/models/gpt.h"
#include "deepseek/models/mlp.h"
#include "deepseek/models/resnet.h"
#include "deepseek/models/small_cnn.h"
#include "deepseek/models/vit.h"
#include "deepseek/models/zoo.h"
