// Errors as values. A Status carries an errno (what the FUSE adapter replies), a message a user
// can act on, and optionally the cause underneath it. Result<T> is a T or a Status.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace dlfs {

class Status {
 public:
  Status() = default;  // ok
  Status(int err, std::string message, std::string cause = {})
      : err_(err), message_(std::move(message)), cause_(std::move(cause)) {}

  static Status ok() { return {}; }
  const Status& status() const { return *this; }  // so DLFS_TRY takes a Status or a Result

  bool is_ok() const { return err_ == 0; }
  explicit operator bool() const { return is_ok(); }
  int err() const { return err_; }
  const std::string& message() const { return message_; }
  const std::string& cause() const { return cause_; }
  // "message: cause" — for logs and one-line CLI errors.
  std::string to_string() const;
  // The same error with more context in front: "context: message".
  Status wrap(const std::string& context) const;

 private:
  int err_ = 0;
  std::string message_;
  std::string cause_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).is_ok()) v_ = Status(EIO, "internal error: ok status used as a failed Result");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Status& status() const {
    static const Status ok_status;
    return is_ok() ? ok_status : std::get<Status>(v_);
  }
  int err() const { return status().err(); }

 private:
  std::variant<T, Status> v_;
};

// The Status of a Status or a Result, copied out (so that `f().status()` of a temporary
// Result never dangles).
inline Status status_of(const Status& s) { return s; }
template <typename T>
Status status_of(const Result<T>& r) {
  return r.status();
}

// Propagate a failed Status or Result out of the current function.
#define DLFS_TRY(expr)                                            \
  do {                                                            \
    ::dlfs::Status dlfs_try_s_ = ::dlfs::status_of(expr);         \
    if (!dlfs_try_s_.is_ok()) return dlfs_try_s_;                 \
  } while (0)

#define DLFS_CONCAT_INNER(a, b) a##b
#define DLFS_CONCAT(a, b) DLFS_CONCAT_INNER(a, b)
// DLFS_ASSIGN(auto item, remote.get(path)); — declares `item` from a Result or returns its Status.
#define DLFS_ASSIGN(decl, expr) DLFS_ASSIGN_IMPL(DLFS_CONCAT(dlfs_r_, __LINE__), decl, expr)
#define DLFS_ASSIGN_IMPL(tmp, decl, expr)        \
  auto tmp = (expr);                             \
  if (!tmp.is_ok()) return tmp.status();         \
  decl = std::move(tmp).value()

}  // namespace dlfs
