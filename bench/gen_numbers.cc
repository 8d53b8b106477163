// gen_numbers: writes a CSV of telephone numbers for the import and lookup
// benchmarks.
//
// Numbers come in realistic blocks: `--blocks` distinct, randomly chosen
// blocks of `--block_size` consecutive numbers under `--prefix` (default
// +4930, Berlin), the way operators receive number ranges. Each row carries a
// per-number NAPTR ("!^.*$!sip:+4930...@<domain>!") so every number has its
// own SED and the registry cannot share records between numbers.
//
// Columns (header line first):
//   tn,registrant,dest_groups,ttl,order,preference,flags,services,regexp,
//   replacement
// dest_groups is ';'-separated. With --numbers_only only the tn column is
// written (no header), for the lookup load generator.
//
// Single-threaded, streams to a buffered FILE*; deterministic for a seed.

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(uint64_t, count, 1000000, "Total numbers to write.");
ABSL_FLAG(uint64_t, block_size, 10000, "Consecutive numbers per block.");
ABSL_FLAG(std::string, prefix, "+4930",
          "E.164 prefix (with '+') every number starts with.");
ABSL_FLAG(int, subscriber_digits, 7,
          "Digits after the prefix (the prefix plus these must be <= 15).");
ABSL_FLAG(std::string, registrant, "bench:registrant", "Registrant org id.");
ABSL_FLAG(std::string, dest_groups, "bench-dg",
          "';'-separated destination group ids for every number.");
ABSL_FLAG(std::string, domain, "ssp2.example.com", "SIP domain in the NAPTR.");
ABSL_FLAG(uint32_t, ttl, 3600, "TTL of the NAPTR.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed for the block positions.");
ABSL_FLAG(std::string, out, "-", "Output file ('-' = stdout).");
ABSL_FLAG(bool, numbers_only, false, "Write only the numbers, no header.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes a CSV of E.164 numbers in blocks, with a NAPTR each.");
  absl::ParseCommandLine(argc, argv);
  const uint64_t count = absl::GetFlag(FLAGS_count);
  const uint64_t block_size = absl::GetFlag(FLAGS_block_size);
  const std::string prefix = absl::GetFlag(FLAGS_prefix);
  const int sub_digits = absl::GetFlag(FLAGS_subscriber_digits);
  if (block_size == 0 || sub_digits < 1 || sub_digits > 14 ||
      prefix.size() < 2 || prefix[0] != '+' ||
      prefix.size() - 1 + sub_digits > 15) {
    std::fprintf(stderr,
                 "gen_numbers: bad --block_size/--prefix/"
                 "--subscriber_digits\n");
    return 2;
  }
  uint64_t space = 1;
  for (int i = 0; i < sub_digits; ++i) space *= 10;
  const uint64_t blocks_needed = (count + block_size - 1) / block_size;
  const uint64_t blocks_available = space / block_size;
  // Leave room so random block picking terminates quickly.
  if (blocks_needed * 2 > blocks_available) {
    std::fprintf(stderr,
                 "gen_numbers: %" PRIu64 " blocks of %" PRIu64
                 " do not fit sparsely in %d subscriber digits\n",
                 blocks_needed, block_size, sub_digits);
    return 2;
  }

  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::uniform_int_distribution<uint64_t> pick(0, blocks_available - 1);
  absl::flat_hash_set<uint64_t> chosen;
  std::vector<uint64_t> blocks;
  // Bounded: at most half the slots are taken, so each draw succeeds with
  // probability >= 1/2; the cap only guards against a bad RNG.
  for (uint64_t tries = 0;
       blocks.size() < blocks_needed && tries < 64 * blocks_needed + 1024;
       ++tries) {
    uint64_t b = pick(rng);
    if (chosen.insert(b).second) blocks.push_back(b);
  }
  if (blocks.size() < blocks_needed) {
    std::fprintf(stderr, "gen_numbers: could not pick blocks\n");
    return 1;
  }

  const std::string out_path = absl::GetFlag(FLAGS_out);
  FILE* out = out_path == "-" ? stdout : std::fopen(out_path.c_str(), "w");
  if (out == nullptr) {
    std::perror(out_path.c_str());
    return 1;
  }
  static char buf[1 << 20];
  std::setvbuf(out, buf, _IOFBF, sizeof(buf));

  const bool numbers_only = absl::GetFlag(FLAGS_numbers_only);
  const std::string registrant = absl::GetFlag(FLAGS_registrant);
  const std::string dgs = absl::GetFlag(FLAGS_dest_groups);
  const std::string domain = absl::GetFlag(FLAGS_domain);
  const uint32_t ttl = absl::GetFlag(FLAGS_ttl);
  if (!numbers_only) {
    std::fputs(
        "tn,registrant,dest_groups,ttl,order,preference,flags,services,"
        "regexp,replacement\n",
        out);
  }
  uint64_t written = 0;
  char tn[32];
  for (uint64_t b : blocks) {
    for (uint64_t i = 0; i < block_size && written < count; ++i, ++written) {
      std::snprintf(tn, sizeof(tn), "%s%0*" PRIu64, prefix.c_str(), sub_digits,
                    b * block_size + i);
      if (numbers_only) {
        std::fputs(tn, out);
        std::fputc('\n', out);
        continue;
      }
      // The regexp has no ',' so no CSV quoting is needed.
      std::fprintf(out, "%s,%s,%s,%u,100,10,u,E2U+sip,!^.*$!sip:%s@%s!,\n", tn,
                   registrant.c_str(), dgs.c_str(), ttl, tn, domain.c_str());
    }
  }
  if (std::fflush(out) != 0 || (out != stdout && std::fclose(out) != 0)) {
    std::perror("gen_numbers: write");
    return 1;
  }
  std::fprintf(stderr, "gen_numbers: wrote %" PRIu64 " numbers in %zu blocks\n",
               written, blocks.size());
  return 0;
}
