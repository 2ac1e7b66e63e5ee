// typenet/image.hpp: photos as network inputs. Decodes JPEG and PNG files (libjpeg-turbo, libpng: link
// the CMake target typenet::image) and prepares them as torchvision does for its ImageNet models:
//
//   const tn::image::decoded photo = tn::image::read_image("cat.jpg");
//   const std::vector<float> x = tn::image::prepare(photo, tn::image::imagenet(224));  // 3 x 224 x 224
//
// Kept apart from <typenet/typenet.hpp> so that the core library needs no image libraries.
#pragma once

#include <typenet/image/decode.hpp>
#include <typenet/image/preprocess.hpp>
#include <typenet/image/types.hpp>
