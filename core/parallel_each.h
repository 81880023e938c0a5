// Runs a task for each index of [0, count) from up to `parallel` threads (the caller's one of
// them): the parts of a multipart upload, the blocks of a blob. After the first failure no
// further index is started (those under way finish); the answer is that first failure.
#pragma once

#include <cstddef>
#include <functional>

#include "core/result.h"

namespace dlfs {

Status parallel_each(size_t count, unsigned parallel, const std::function<Status(size_t index)>& task);

}  // namespace dlfs
