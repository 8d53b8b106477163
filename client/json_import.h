// JSON-lines import: one lufd.v1.RegistryObject per line in the protobuf
// JSON mapping -- exactly what `lufctl export --format json` writes -- so a
// logical dump of any kinds of objects can be loaded back with
// `lufctl import --format json`.
//
// The server checks that references exist "in the view or earlier in the
// batch", so objects are reordered so that what is referenced comes first:
// orgs (registrars before their registrants), destination groups, SED
// records, SED groups, identifiers, credentials, offers. Input order is kept
// within a kind. Every bad line is reported, as for CSV.
//
// Thread-safety: immutable after parsing.
#ifndef LUFD_CLIENT_JSON_IMPORT_H_
#define LUFD_CLIENT_JSON_IMPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/csv_import.h"
#include "client/import_stream.h"
#include "lufd/v1/registry.pb.h"

namespace lufd::client {

class JsonImport final : public ImportSource {
 public:
  size_t size() const override { return objects_.size(); }
  void Fill(size_t i, lufd::v1::RegistryObject* out) const override {
    *out = objects_[i];
  }
  std::string Describe(size_t i) const override;

  const lufd::v1::RegistryObject& object(size_t i) const { return objects_[i]; }
  uint32_t line_of(size_t i) const { return lines_[i]; }
  const std::vector<LineError>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }

 private:
  friend JsonImport ParseJsonLines(absl::string_view text);
  std::vector<lufd::v1::RegistryObject> objects_;
  std::vector<uint32_t> lines_;
  std::vector<LineError> errors_;
};

// Blank lines are skipped. Unknown fields are errors (a typo would otherwise
// silently drop data).
JsonImport ParseJsonLines(absl::string_view text);

}  // namespace lufd::client

#endif  // LUFD_CLIENT_JSON_IMPORT_H_
