// typenet/train.hpp: training (DESIGN.md §8): the training plan and loss, the reference trainer (the
// gradient oracle) and SGD with momentum and weight decay.
#pragma once
#include "train/loss.hpp"
#include "train/plan.hpp"
#include "train/reference.hpp"
#include "train/sgd.hpp"
