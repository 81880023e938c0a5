#include "core/result.h"

namespace dlfs {

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  if (cause_.empty()) return message_;
  return message_ + ": " + cause_;
}

Status Status::wrap(const std::string& context) const {
  if (is_ok()) return *this;
  return Status(err_, context + ": " + message_, cause_);
}

}  // namespace dlfs
