// Random items for the decoders' property tests: metadata trees of every JSON kind (escapes,
// unicode, keys an item also has at its top level), names a filename's parts do not give,
// descriptions or none, folders and hidden items.
#pragma once

#include <random>

#include "core/item.h"

namespace dlfs::test {

json random_json_value(std::mt19937& rng, int depth);
Item random_item(std::mt19937& rng, int i);

}  // namespace dlfs::test
