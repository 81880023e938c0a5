#include "core/requests.h"

namespace dlfs {

std::string_view to_string(UploadOp op) {
  switch (op) {
    case UploadOp::kCreated: return "created";
    case UploadOp::kOverwritten: return "overwrite";
    case UploadOp::kSkipped: return "skipped";
  }
  return "created";
}

}  // namespace dlfs
