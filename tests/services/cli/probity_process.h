// Runs the built `probity` binary as a process in tests (PROBITY_BIN): its exit status, stdout
// and stderr.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace probity::testing {

struct ProcessResult {
  int code = -1;
  std::string out, err;
};

inline std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `binary ARGS...` with stdin closed; stdout and stderr go through files in `scratch_dir`.
inline ProcessResult RunProcess(const std::string& binary, const std::vector<std::string>& args,
                                const std::filesystem::path& scratch_dir) {
  std::string cmd = "'" + binary + "'";
  for (const std::string& a : args) {
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " " + quoted + "'";
  }
  const std::filesystem::path out = scratch_dir / "stdout", err = scratch_dir / "stderr";
  cmd += " </dev/null >'" + out.string() + "' 2>'" + err.string() + "'";
  const int status = std::system(cmd.c_str());
  ProcessResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

}  // namespace probity::testing
