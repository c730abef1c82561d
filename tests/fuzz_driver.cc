// A main() for libFuzzer targets in builds without libFuzzer (gcc). It replays every file in the
// directories named on the command line, then a fixed number of deterministic random inputs and
// byte-level mutations of the corpus, so a fuzz target is exercised in every ctest run. A crash
// or sanitizer report fails the test; the real coverage-guided fuzzing runs in the clang build
// (cmake -DPROBITY_FUZZ=ON, see docs/testing.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(argv[i], ec)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  for (const auto& c : corpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(c.data()), c.size());
  }
  std::mt19937_64 rng(1);
  constexpr int kRuns = 20000;
  for (int run = 0; run < kRuns; ++run) {
    std::string input;
    if (!corpus.empty() && run % 2 == 0) {
      input = corpus[rng() % corpus.size()];
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips && !input.empty(); ++f) {
        switch (rng() % 3) {
          case 0:
            input[rng() % input.size()] ^= static_cast<char>(1u << (rng() % 8));
            break;
          case 1:
            input.erase(rng() % input.size(), 1 + rng() % 8);
            break;
          default:
            input.insert(rng() % (input.size() + 1), 1, static_cast<char>(rng()));
            break;
        }
      }
    } else {
      input.resize(rng() % 512);
      for (auto& ch : input) ch = static_cast<char>(rng());
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("fuzz_driver: %zu corpus inputs and %d generated inputs ran without a crash\n",
              corpus.size(), kRuns);
  return 0;
}
