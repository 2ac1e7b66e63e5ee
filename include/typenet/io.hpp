// typenet/io.hpp: typenet's file readers and writers (.npy and safetensors), the checked loading of
// tensors into the slots a network expects, and a network's weights, inputs and outputs as files
// (load_weights, save_weights, read_input, write_output). Needs nlohmann-json (nlohmann_json::nlohmann_json).
#pragma once

#include <typenet/io/check.hpp>
#include <typenet/io/error.hpp>
#include <typenet/io/npy.hpp>
#include <typenet/io/safetensors.hpp>
#include <typenet/io/weights.hpp>
