// typenet/layers.hpp: every layer type.
#pragma once
#include "layers/activation.hpp"
#include "layers/batch_norm.hpp"
#include "layers/block.hpp"
#include "layers/conv2d.hpp"
#include "layers/dense.hpp"
#include "layers/dropout.hpp"
#include "layers/flatten.hpp"
#include "layers/input.hpp"
#include "layers/norm.hpp"
#include "layers/pool.hpp"
#include "layers/tags.hpp"
