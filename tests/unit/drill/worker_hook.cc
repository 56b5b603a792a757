// RunDrill with `processes` starts workers as fresh execs of /proc/self/exe with the arguments
// `drill --worker FILE` -- in this test binary that is the test binary itself. Before gtest starts,
// recognise that command line, run the worker and exit, as `steen drill --worker` does.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "steen/drill.h"

namespace {

struct WorkerHook {
  WorkerHook() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> args;
    std::string current;
    for (char c : all) {
      if (c == '\0') {
        args.push_back(current);
        current.clear();
      } else {
        current.push_back(c);
      }
    }
    if (args.size() == 4 && args[1] == "drill" && args[2] == "--worker") {
      steen::Status s = steen::drill::RunWorker(args[3]);
      if (!s.ok()) std::fprintf(stderr, "worker: %s\n", s.ToString().c_str());
      std::fflush(nullptr);
      std::_Exit(s.ok() ? 0 : 1);
    }
  }
};

const WorkerHook hook;

}  // namespace
