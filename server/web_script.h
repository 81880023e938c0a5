// The web browser's script (server/web/dlfs.js), compiled into the binary: dlfsd serves it at
// /ui/static/dlfs.js, nothing is fetched from outside the machine.
#pragma once

#include <string_view>

namespace dlfs {

std::string_view web_script();

}  // namespace dlfs
