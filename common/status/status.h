// Status and StatusOr: how every call that can fail reports it. Nothing throws across a module
// boundary; a library that throws (yaml-cpp, protobuf JSON) is wrapped where it is called.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace probity {

enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kDataLoss,     // stored bytes do not match what they must (verify failures)
  kUnavailable,  // the bus or a peer is not reachable; retrying may help
  kInternal,
  kIoError,
  kUnimplemented,  // the peer does not offer this (e.g. an admin call the embedded bus lacks)
  kOutOfRange,     // asked for what is no longer (or not yet) there, e.g. an index past retention
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status DataLoss(std::string m) { return Status(Code::kDataLoss, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status IoError(std::string m) { return Status(Code::kIoError, std::move(m)); }
inline Status Unimplemented(std::string m) { return Status(Code::kUnimplemented, std::move(m)); }
inline Status OutOfRange(std::string m) { return Status(Code::kOutOfRange, std::move(m)); }

// A value or the Status saying why there is none. REQUIRES: a StatusOr built from a Status
// is never built from an ok Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace probity

#define PROBITY_RETURN_IF_ERROR(expr) \
  do {                                \
    ::probity::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)

#define PROBITY_CONCAT_INNER(a, b) a##b
#define PROBITY_CONCAT(a, b) PROBITY_CONCAT_INNER(a, b)
#define PROBITY_ASSIGN_OR_RETURN(lhs, expr) \
  PROBITY_ASSIGN_OR_RETURN_IMPL(PROBITY_CONCAT(_so_, __LINE__), lhs, expr)
#define PROBITY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
