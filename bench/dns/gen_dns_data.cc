// gen_dns_data: the data set of the DNS benchmark (bench/dns/run.sh).
//
// One pass writes, into --out_dir, the same registry in the two forms the
// servers under test load, plus the dnsperf query files:
//   numbers.csv  `lufctl import` CSV (one row per NAPTR; a TN with two rows
//                gets two inline NAPTRs), for lufd.
//   zone.db      the same numbers as an unsigned RFC 1035 zone of --apex,
//                for Knot and NSD (SOA/NS/glue at the apex, one NAPTR RRset
//                per number).
//   q-mix.txt    --queries dnsperf lines "<name> NAPTR": 90 % existing
//                numbers (uniform over all of them), 10 % non-existing
//                full-length numbers under the same prefixes, random order.
//   q-miss.txt   --queries lines of random non-existing numbers only.
//   sample.env   shell lines: one existing owner name with its E.164 number
//                and NAPTR count, one non-existing name, the counts.
//
// Numbers come in realistic blocks: --block_size consecutive numbers at
// random, distinct block positions, spread round-robin over a few
// country/area prefixes (Berlin, Hamburg, Munich, Washington DC, London), as
// operators receive ranges. That keeps the peers' pre-signed NSEC3 trees and
// lufd's view shaped like a real registry rather than uniform noise. Every
// --two_every-th number gets a second NAPTR (E2U+pstn:tel, RFC 4769), the
// others one (E2U+sip), so RRsets have 1-2 records.
//
// Single-threaded, deterministic for a --seed; streams through buffered
// FILE*s, so 1M numbers take a few seconds and little memory.

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

ABSL_FLAG(uint64_t, count, 1000000, "Numbers in the registry.");
ABSL_FLAG(uint64_t, block_size, 10000, "Consecutive numbers per block.");
ABSL_FLAG(uint64_t, queries, 0,
          "Lines per query file; 0 = max(count, 100000) capped at 1000000.");
ABSL_FLAG(uint64_t, two_every, 3,
          "Every n-th number gets a second NAPTR (0 = never).");
ABSL_FLAG(std::string, apex, "e164.arpa.", "Zone apex (absolute).");
ABSL_FLAG(std::string, registrant, "iana-en:222", "Registrant org id.");
ABSL_FLAG(std::string, dest_groups, "dg-bench", "Destination group ids.");
ABSL_FLAG(std::string, domain, "ssp2.example.com", "SIP domain.");
ABSL_FLAG(uint32_t, ttl, 3600, "NAPTR TTL.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed.");
ABSL_FLAG(std::string, out_dir, ".", "Output directory (must exist).");

namespace {

struct Prefix {
  const char* e164;  // With '+'.
  int sub_digits;    // Digits after the prefix.
};
// Full numbers are 11-12 digits, as in these real numbering plans.
constexpr Prefix kPrefixes[] = {
    {"+4930", 7}, {"+4940", 7}, {"+4989", 7}, {"+1202", 7}, {"+4420", 8},
};
constexpr int kNumPrefixes = sizeof(kPrefixes) / sizeof(kPrefixes[0]);

struct Block {
  int prefix;
  uint64_t index;  // Block number within the prefix's subscriber space.
};

uint64_t Pow10(int n) {
  uint64_t v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

// "+4930" + 7-digit subscriber -> "+49301234567".
std::string E164(int prefix, uint64_t subscriber) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%s%0*" PRIu64, kPrefixes[prefix].e164,
                kPrefixes[prefix].sub_digits, subscriber);
  return buf;
}

// "+12025556666" -> "6.6.6.6.5.5.5.2.0.2.1" (RFC 6116 section 2.4, no apex).
std::string EnumOwner(const std::string& e164) {
  std::string out;
  out.reserve(2 * e164.size());
  for (size_t i = e164.size(); i-- > 1;) {
    out.push_back(e164[i]);
    if (i > 1) out.push_back('.');
  }
  return out;
}

FILE* OpenOut(const std::string& dir, const char* name) {
  std::string path = absl::StrCat(dir, "/", name);
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::perror(path.c_str());
    return nullptr;
  }
  // 1 MiB buffers: the zone file is >100 MB at 1M numbers.
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  return f;
}

bool CloseOut(FILE* f) {
  return std::fflush(f) == 0 && std::ferror(f) == 0 && std::fclose(f) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes the DNS benchmark data: lufctl CSV, zone file, dnsperf query "
      "files.");
  absl::ParseCommandLine(argc, argv);
  const uint64_t count = absl::GetFlag(FLAGS_count);
  const uint64_t block_size = absl::GetFlag(FLAGS_block_size);
  const uint64_t two_every = absl::GetFlag(FLAGS_two_every);
  uint64_t queries = absl::GetFlag(FLAGS_queries);
  if (queries == 0) {
    queries = count < 100000 ? 100000 : (count > 1000000 ? 1000000 : count);
  }
  std::string apex = absl::GetFlag(FLAGS_apex);
  if (apex.empty() || apex.back() != '.') apex.push_back('.');
  const std::string dir = absl::GetFlag(FLAGS_out_dir);
  if (count == 0 || block_size == 0) {
    std::fprintf(stderr,
                 "gen_dns_data: --count and --block_size must be > 0\n");
    return 2;
  }

  // Pick the blocks: round-robin over the prefixes, a random free block
  // position in each (at most half of any prefix's space is used, so the
  // bounded retry loop ends fast).
  const uint64_t blocks_needed = (count + block_size - 1) / block_size;
  std::mt19937_64 rng(absl::GetFlag(FLAGS_seed));
  std::vector<absl::flat_hash_set<uint64_t>> taken(kNumPrefixes);
  std::vector<Block> blocks;
  blocks.reserve(blocks_needed);
  for (uint64_t b = 0; b < blocks_needed; ++b) {
    const int p = static_cast<int>(b % kNumPrefixes);
    const uint64_t avail = Pow10(kPrefixes[p].sub_digits) / block_size;
    if ((taken[p].size() + 1) * 2 > avail) {
      std::fprintf(stderr, "gen_dns_data: too many blocks for prefix %s\n",
                   kPrefixes[p].e164);
      return 2;
    }
    std::uniform_int_distribution<uint64_t> pick(0, avail - 1);
    bool placed = false;
    for (int tries = 0; tries < 1000 && !placed; ++tries) {
      uint64_t idx = pick(rng);
      if (taken[p].insert(idx).second) {
        blocks.push_back({p, idx});
        placed = true;
      }
    }
    if (!placed) {
      std::fprintf(stderr, "gen_dns_data: could not place a block\n");
      return 1;
    }
  }

  FILE* csv = OpenOut(dir, "numbers.csv");
  FILE* zone = OpenOut(dir, "zone.db");
  if (csv == nullptr || zone == nullptr) return 1;
  const std::string registrant = absl::GetFlag(FLAGS_registrant);
  const std::string dgs = absl::GetFlag(FLAGS_dest_groups);
  const std::string domain = absl::GetFlag(FLAGS_domain);
  const uint32_t ttl = absl::GetFlag(FLAGS_ttl);
  std::fputs(
      "tn,registrant,dest_groups,ttl,order,preference,flags,services,regexp,"
      "replacement\n",
      csv);
  // Apex as lufd synthesizes it by default (config.proto DnsZoneConfig):
  // NS ns1.<apex>, hostmaster.<apex>, refresh/retry/expire/minimum
  // 3600/600/1209600/300, TTL 3600. The glue A keeps zone checkers quiet.
  std::fprintf(zone,
               "$ORIGIN %s\n$TTL %u\n"
               "@ 3600 IN SOA ns1.%s hostmaster.%s 1 3600 600 1209600 300\n"
               "@ 3600 IN NS ns1.%s\n"
               "ns1 3600 IN A 127.0.0.1\n",
               apex.c_str(), ttl, apex.c_str(), apex.c_str(), apex.c_str());

  uint64_t written = 0, naptrs = 0;
  std::string sample_e164, sample_owner;
  int sample_naptrs = 0;
  for (const Block& blk : blocks) {
    for (uint64_t i = 0; i < block_size && written < count; ++i, ++written) {
      const std::string tn = E164(blk.prefix, blk.index * block_size + i);
      const std::string owner = EnumOwner(tn);
      const bool two = two_every != 0 && written % two_every == 0;
      // No ',' or '"' in any field, so no CSV quoting is needed.
      std::fprintf(csv, "%s,%s,%s,%u,100,10,u,E2U+sip,!^.*$!sip:%s@%s!,\n",
                   tn.c_str(), registrant.c_str(), dgs.c_str(), ttl, tn.c_str(),
                   domain.c_str());
      std::fprintf(zone,
                   "%s %u IN NAPTR 100 10 \"u\" \"E2U+sip\" "
                   "\"!^.*$!sip:%s@%s!\" .\n",
                   owner.c_str(), ttl, tn.c_str(), domain.c_str());
      ++naptrs;
      if (two) {
        std::fprintf(
            csv, "%s,%s,%s,%u,100,20,u,E2U+pstn:tel,!^.*$!tel:%s;npdi!,\n",
            tn.c_str(), registrant.c_str(), dgs.c_str(), ttl, tn.c_str());
        std::fprintf(zone,
                     "%s %u IN NAPTR 100 20 \"u\" \"E2U+pstn:tel\" "
                     "\"!^.*$!tel:%s;npdi!\" .\n",
                     owner.c_str(), ttl, tn.c_str());
        ++naptrs;
      }
      if (written == 0) {
        sample_e164 = tn;
        sample_owner = owner;
        sample_naptrs = two ? 2 : 1;
      }
    }
  }
  if (!CloseOut(csv) || !CloseOut(zone)) {
    std::perror("gen_dns_data: write");
    return 1;
  }

  // Query names. Existing: a uniformly random number of the registry.
  // Missing: a random full-length number under a random prefix whose block
  // is not allocated (so the answer is a real NXDOMAIN / denial, never an
  // empty non-terminal).
  std::uniform_int_distribution<uint64_t> pick_n(0, written - 1);
  std::uniform_int_distribution<int> pick_p(0, kNumPrefixes - 1);
  auto existing = [&]() {
    const uint64_t n = pick_n(rng);
    const Block& blk = blocks[n / block_size];
    return EnumOwner(E164(blk.prefix, blk.index * block_size + n % block_size));
  };
  auto missing = [&]() {
    for (;;) {  // Ends fast: at most half of every prefix's blocks are taken.
      const int p = pick_p(rng);
      std::uniform_int_distribution<uint64_t> pick_s(
          0, Pow10(kPrefixes[p].sub_digits) - 1);
      const uint64_t s = pick_s(rng);
      if (!taken[p].contains(s / block_size)) return EnumOwner(E164(p, s));
    }
  };
  std::string missing_sample = missing();
  FILE* mix = OpenOut(dir, "q-mix.txt");
  FILE* miss = OpenOut(dir, "q-miss.txt");
  if (mix == nullptr || miss == nullptr) return 1;
  std::uniform_int_distribution<int> pct(0, 99);
  uint64_t mix_hits = 0;
  for (uint64_t q = 0; q < queries; ++q) {
    const bool hit = pct(rng) < 90;
    mix_hits += hit ? 1 : 0;
    std::fprintf(mix, "%s.%s NAPTR\n", (hit ? existing() : missing()).c_str(),
                 apex.c_str());
    std::fprintf(miss, "%s.%s NAPTR\n", missing().c_str(), apex.c_str());
  }
  if (!CloseOut(mix) || !CloseOut(miss)) {
    std::perror("gen_dns_data: write");
    return 1;
  }

  FILE* env = OpenOut(dir, "sample.env");
  if (env == nullptr) return 1;
  std::fprintf(env,
               "SAMPLE_E164='%s'\nSAMPLE_NAME='%s.%s'\nSAMPLE_NAPTRS=%d\n"
               "MISSING_NAME='%s.%s'\nDATA_NUMBERS=%" PRIu64
               "\nDATA_NAPTRS=%" PRIu64
               "\nDATA_BLOCKS=%zu\n"
               "DATA_QUERIES=%" PRIu64 "\nDATA_MIX_HITS=%" PRIu64 "\n",
               sample_e164.c_str(), sample_owner.c_str(), apex.c_str(),
               sample_naptrs, missing_sample.c_str(), apex.c_str(), written,
               naptrs, blocks.size(), queries, mix_hits);
  if (!CloseOut(env)) return 1;
  std::fprintf(stderr,
               "gen_dns_data: %" PRIu64 " numbers, %" PRIu64
               " NAPTRs, %zu blocks, %" PRIu64 " queries per file\n",
               written, naptrs, blocks.size(), queries);
  return 0;
}
