#include "steen/status.h"

#include <cstring>

namespace steen {

Status Status::FromErrno(std::string_view context, int err) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  Code code = Code::kIoError;
  if (err == ENOENT || err == ENOTDIR) code = Code::kNotFound;
  if (err == EACCES || err == EPERM) code = Code::kPermissionDenied;
  return {code, std::move(msg)};
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return message_;
}

}  // namespace steen
