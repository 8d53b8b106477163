// Fuzz target for lufctl's CSV import parser (client/csv_import.h).
// Besides "no crash", it checks two properties on every input:
//  - every error names a line within the input, and errors are in order;
//  - a file that parses cleanly round-trips: exporting its objects with
//    AppendTnCsv and parsing that again gives the same objects.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "client/csv_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t newlines = 1;
  for (char c : text) newlines += c == '\n';
  lufd::client::ImportPlan plan = lufd::client::ParseImportCsv(text);

  uint32_t last_line = 0;
  for (const auto& e : plan.errors()) {
    if (e.line == 0 || e.line > newlines || e.line < last_line) std::abort();
    last_line = e.line;
  }
  if (!plan.ok()) return 0;

  std::string csv = lufd::client::kTnCsvHeader;
  lufd::v1::RegistryObject obj;
  for (size_t i = 0; i < plan.size(); ++i) {
    plan.ToObject(i, &obj);
    if (!lufd::client::AppendTnCsv(obj.identifier(), &csv).ok()) std::abort();
  }
  lufd::client::ImportPlan again = lufd::client::ParseImportCsv(csv);
  if (!again.ok() || again.size() != plan.size()) std::abort();
  lufd::v1::RegistryObject obj2;
  for (size_t i = 0; i < plan.size(); ++i) {
    plan.ToObject(i, &obj);
    again.ToObject(i, &obj2);
    if (obj.SerializeAsString() != obj2.SerializeAsString()) std::abort();
  }
  return 0;
}
