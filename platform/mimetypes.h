// A mimetype guessed from a file name's extension (preprocessing replaces it with one read
// from the content).
#pragma once

#include <string>
#include <string_view>

namespace dlfs {

std::string mimetype_from_name(std::string_view name);

}  // namespace dlfs
