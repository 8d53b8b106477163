// Fuzz target for `lufctl zone import`'s parser (client/zone_file.h): zone
// file text -> TNs/prefixes with NAPTRs, through ldns. Besides "no crash"
// (and no leak, under ASan), it checks on every input that:
//  - errors are in line order and bounded by max_errors;
//  - every entry is a normalized TN or prefix with at least one NAPTR, and
//    the record count adds up.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "client/zone_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  lufd::client::ZoneImportOptions opts;
  opts.zone = "e164.arpa.";
  opts.registrant = "iana-en:1";
  opts.dest_groups = {"dg1"};
  opts.max_errors = 20;
  lufd::client::ZoneImport z = lufd::client::ParseZoneImport(text, opts);

  if (z.errors().size() > opts.max_errors) std::abort();
  uint32_t last_line = 0;
  for (const auto& e : z.errors()) {
    if (e.line < last_line || e.message.empty()) std::abort();
    last_line = e.line;
  }
  size_t records = 0;
  for (const auto& e : z.entries()) {
    const auto& id = e.identifier;
    if (id.value().size() < 2 || id.value()[0] != '+') std::abort();
    for (size_t i = 1; i < id.value().size(); ++i) {
      if (id.value()[i] < '0' || id.value()[i] > '9') std::abort();
    }
    if (id.records_size() == 0) std::abort();
    records += static_cast<size_t>(id.records_size());
  }
  if (records != z.record_count()) std::abort();
  return 0;
}
