// Everything in deepseek::nn: Module, the layers, containers and init.
#pragma once

#include "deepseek/nn/activation.h"
#include "deepseek/nn/attention.h"
#include "deepseek/nn/container.h"
#include "deepseek/nn/conv.h"
#include "deepseek/nn/embedding.h"
#include "deepseek/nn/init.h"
#include "deepseek/nn/linear.h"
#include "deepseek/nn/module.h"
#include "deepseek/nn/norm.h"
#include "deepseek/nn/pooling.h"
#include "deepseek/nn/transformer.h"
