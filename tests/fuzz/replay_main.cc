// A main() for libFuzzer targets in builds without libFuzzer (GCC, plain
// ctest runs): feeds every file named on the command line (directories are
// walked, not recursively) to LLVMFuzzerTestOneInput, then a bounded number
// of pseudo-random inputs derived from them (byte flips, truncations,
// splices, random bytes). Deterministic (fixed seed) so a failure in CI
// reproduces; `--random=N` sets the count (default 4000).
//
// This is not a fuzzer: it keeps the parsers exercised, under the
// sanitizers when the build has them, in every build.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

bool ReadFile(const std::filesystem::path& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in),
              std::istreambuf_iterator<char>());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long random_inputs = 4000;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--random=", 9) == 0) {
      random_inputs = std::strtol(argv[i] + 9, nullptr, 10);
      continue;
    }
    std::error_code ec;
    std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        std::string data;
        if (entry.is_regular_file() && ReadFile(entry.path(), &data)) {
          corpus.push_back(std::move(data));
        }
      }
    } else {
      std::string data;
      if (!ReadFile(path, &data)) {
        std::fprintf(stderr, "cannot read %s\n", argv[i]);
        return 2;
      }
      corpus.push_back(std::move(data));
    }
  }
  for (const std::string& input : corpus) Run(input);
  Run("");

  std::mt19937 rng(0x10fd);
  auto pick = [&](size_t n) {
    return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n);
  };
  for (long i = 0; i < random_inputs; ++i) {
    std::string input;
    if (corpus.empty() || i % 8 == 0) {
      input.resize(pick(300));
      for (char& c : input) c = static_cast<char>(rng());
    } else {
      input = corpus[pick(corpus.size())];
      int mutations = 1 + static_cast<int>(pick(4));
      for (int m = 0; m < mutations; ++m) {
        switch (pick(5)) {
          case 0:  // Flip a byte.
            if (!input.empty()) input[pick(input.size())] ^= 1 << pick(8);
            break;
          case 1:  // Printable byte overwrite.
            if (!input.empty()) {
              input[pick(input.size())] = static_cast<char>(0x20 + pick(95));
            }
            break;
          case 2:  // Truncate.
            input.resize(pick(input.size() + 1));
            break;
          case 3:  // Splice with another corpus entry.
            input += corpus[pick(corpus.size())].substr(0, pick(64));
            break;
          default:  // Duplicate a slice.
            if (!input.empty()) {
              size_t at = pick(input.size());
              input.insert(at, input.substr(at, pick(16)));
            }
            break;
        }
      }
    }
    Run(input);
  }
  std::printf("replayed %zu corpus files and %ld generated inputs\n",
              corpus.size(), random_inputs);
  return 0;
}
