// An item's bytes read whole through the embedded platform (with a gtest failure if it cannot).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "platform/platform.h"

namespace dlfs::test {

inline std::string read_item(Platform& platform, const Item& item) {
  std::string out(item.size() + 10, '\0');  // more than its size: a longer blob shows
  auto n = platform.read(item, 0, std::span<char>(out.data(), out.size()));
  EXPECT_TRUE(n) << item.filename << ": " << n.status().to_string();
  out.resize(n ? *n : 0);
  return out;
}

}  // namespace dlfs::test
