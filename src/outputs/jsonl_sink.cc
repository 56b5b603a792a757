// JSON-lines sinks: one ECS object per line, written with a single write(2) per alert.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "steen/outputs.h"

namespace steen::outputs {
namespace {

// Writes all of `data`, retrying on EINTR and short writes. On O_APPEND regular files a single
// write(2) of one line is atomic with respect to other appenders, which keeps lines whole.
Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(what, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

class JsonLinesFdSink : public AlertSink {
 public:
  JsonLinesFdSink(int fd, bool owned, std::string name)
      : fd_(fd), owned_(owned), name_(std::move(name)) {}
  ~JsonLinesFdSink() override {
    if (owned_ && fd_ >= 0) close(fd_);
  }
  Status Emit(const Alert& alert) override {
    std::string line = FormatEcsJson(alert);
    line += '\n';
    return WriteAll(fd_, line, name_);
  }
  std::string_view name() const override { return name_; }

 private:
  int fd_;
  bool owned_;
  std::string name_;
};

class JsonLinesFileSink : public AlertSink {
 public:
  explicit JsonLinesFileSink(JsonLinesFileOptions options)
      : options_(std::move(options)), name_("jsonl:" + options_.path) {}
  ~JsonLinesFileSink() override { CloseFd(); }

  Status Open() {
    int fd = open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
                  options_.mode);
    if (fd < 0) return Status::FromErrno("open " + options_.path, errno);
    CloseFd();
    fd_ = fd;
    return Status::Ok();
  }

  Status Emit(const Alert& alert) override {
    if (fd_ < 0) {
      // A failed Reopen left no file: try again rather than lose every later alert.
      Status st = Open();
      if (!st.ok()) return st;
    }
    std::string line = FormatEcsJson(alert);
    line += '\n';
    Status st = WriteAll(fd_, line, "write " + options_.path);
    if (!st.ok()) return st;
    if (options_.fsync_each && fdatasync(fd_) != 0) {
      return Status::FromErrno("fdatasync " + options_.path, errno);
    }
    return Status::Ok();
  }

  Status Flush() override {
    if (fd_ >= 0 && fdatasync(fd_) != 0 && errno != EINVAL) {
      return Status::FromErrno("fdatasync " + options_.path, errno);
    }
    return Status::Ok();
  }

  // logrotate moves the file away (or truncates it with copytruncate, which O_APPEND survives);
  // opening the path again starts writing to the new file.
  Status Reopen() override { return Open(); }

  std::string_view name() const override { return name_; }

 private:
  void CloseFd() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  JsonLinesFileOptions options_;
  std::string name_;
  int fd_ = -1;
};

}  // namespace

StatusOr<std::unique_ptr<AlertSink>> MakeJsonLinesFileSink(const JsonLinesFileOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("jsonl output: empty path");
  auto sink = std::make_unique<JsonLinesFileSink>(options);
  Status st = sink->Open();
  if (!st.ok()) return st;
  return std::unique_ptr<AlertSink>(std::move(sink));
}

std::unique_ptr<AlertSink> MakeJsonLinesStdoutSink() {
  return std::make_unique<JsonLinesFdSink>(STDOUT_FILENO, false, "jsonl:stdout");
}

std::unique_ptr<AlertSink> MakeJsonLinesFdSink(int fd, bool owned, std::string name) {
  return std::make_unique<JsonLinesFdSink>(fd, owned, std::move(name));
}

}  // namespace steen::outputs
