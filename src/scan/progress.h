// ProgressLine: "N files, X MB, F files/s, M MB/s" on a terminal, redrawn about 5 times a second
// by its own thread (workers only bump counters; they never wait for the display).
#pragma once

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "steen/scan.h"

namespace steen::scan {

class ProgressLine {
 public:
  ProgressLine(const Scanner& scanner, std::FILE* err);
  ~ProgressLine();  // stops and erases the line
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  void Stop();

 private:
  void Loop();
  const Scanner& scanner_;
  std::FILE* err_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace steen::scan
