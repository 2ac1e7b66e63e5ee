// typenet/io.hpp: typenet's file readers and writers (.npy and safetensors) and the checked loading of
// tensors into the slots a network expects. Needs nlohmann-json (nlohmann_json::nlohmann_json).
#pragma once

#include <typenet/io/check.hpp>
#include <typenet/io/error.hpp>
#include <typenet/io/npy.hpp>
#include <typenet/io/safetensors.hpp>
