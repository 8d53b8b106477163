// CSV import/export of telephone numbers (TNs) for `lufctl import|export`.
//
// ParseImportCsv() reads a whole CSV file (RFC 4180: quoted fields, "" as an
// escaped quote, CRLF or LF line ends, fields may span lines) with a header
// line naming the columns in any order:
//   tn,registrant,dest_groups[,ttl,order,preference,flags,services,regexp,
//   replacement]
// tn, registrant and dest_groups are required columns; the NAPTR columns are
// optional, and an all-empty NAPTR part of a row means "no inline record".
// A TN that appears on several rows gets one inline NAPTR per row (that is
// how ExportTnCsv() writes a TN with several records, so files round-trip);
// such rows must agree on registrant and dest_groups.
//
// The whole file is checked before anything is sent: every bad line is
// reported with its (1-based, physical) line number and the reason, so an
// operator can fix a file in one pass. Checks are syntactic (E.164 form,
// numbers in range, exactly one of regexp/replacement); the server still
// validates everything.
//
// For speed on million-line files the parser makes no per-line heap
// allocation in the common case: fields are views into the file text (only
// fields with "" escapes are copied), normalized TNs live in fixed arrays,
// and protos are built per chunk by ToObject() when they are sent.
//
// Thread-safety: an ImportPlan is immutable after parsing and may be read
// from several threads. It owns the file text its views point into.
#ifndef LUFD_CLIENT_CSV_IMPORT_H_
#define LUFD_CLIENT_CSV_IMPORT_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lufd/v1/registry.pb.h"

namespace lufd::client {

struct LineError {
  uint32_t line = 0;  // 1-based physical line where the record starts.
  std::string message;
};

// One inline NAPTR of a TN row.
struct ImportNaptr {
  uint32_t order = 0;
  uint32_t preference = 0;
  uint32_t ttl = 0;
  absl::string_view flags;
  absl::string_view services;
  absl::string_view regexp;
  absl::string_view replacement;
  int32_t next = -1;  // Next record of the same TN (index into naptrs).
};

// One TN (one PublicIdentifier object in the import stream).
struct ImportNumber {
  char tn[16];  // Normalized "+<digits>", not NUL-terminated.
  uint8_t tn_len = 0;
  uint32_t line = 0;  // First line that named this TN.
  absl::string_view registrant;
  absl::string_view dest_groups;  // Raw ';'-separated list.
  int32_t first_naptr = -1;
  int32_t last_naptr = -1;

  absl::string_view tn_view() const { return absl::string_view(tn, tn_len); }
};

class ImportPlan {
 public:
  ImportPlan() = default;
  ImportPlan(const ImportPlan&) = delete;
  ImportPlan& operator=(const ImportPlan&) = delete;
  ImportPlan(ImportPlan&&) = default;
  ImportPlan& operator=(ImportPlan&&) = default;

  size_t size() const { return numbers_.size(); }
  size_t record_count() const { return naptrs_.size(); }
  const ImportNumber& number(size_t i) const { return numbers_[i]; }
  uint32_t line_of(size_t i) const { return numbers_[i].line; }
  const std::vector<LineError>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }
  // Data rows read (excluding the header and blank lines).
  size_t rows() const { return rows_; }

  // Fills `out` with the PublicIdentifier for number i (clears it first, so
  // a caller may reuse one message to avoid allocations).
  void ToObject(size_t i, lufd::v1::RegistryObject* out) const;

 private:
  friend class ImportParser;
  friend ImportPlan ParseImportCsv(std::string text);
  std::string text_;                   // The file contents; views point here.
  std::deque<std::string> unescaped_;  // Fields that had "" escapes.
  std::vector<ImportNumber> numbers_;
  std::vector<ImportNaptr> naptrs_;
  std::vector<LineError> errors_;
  size_t rows_ = 0;
};

// Parses CSV text (takes ownership of it). Never fails as a whole: problems
// are in plan.errors(), sorted by line.
ImportPlan ParseImportCsv(std::string text);

// Reads and parses a file; NOT_FOUND / PERMISSION_DENIED etc. when it cannot
// be read.
absl::StatusOr<ImportPlan> ParseImportCsvFile(const std::string& path);

// Client-side E.164 check: "+<1..15 digits>", first digit not 0; visual
// separators (space - . ( )) and a "tel:" prefix are dropped. The server's
// normalizer is authoritative; this only lets lufctl report bad lines early
// and form object keys.
absl::StatusOr<std::string> NormalizeTn(absl::string_view input);

// The header line ExportTnCsv() writes (with trailing "\n").
extern const char kTnCsvHeader[];

// Appends the CSV rows for one TN identifier (one row per inline NAPTR, or
// one row without NAPTR columns when it has none). INVALID_ARGUMENT when the
// identifier is not a TN or has inline records CSV cannot carry (URI/NS, or
// out of service): export those with --format json.
absl::Status AppendTnCsv(const lufd::v1::PublicIdentifier& tn,
                         std::string* out);

// RFC 4180 field quoting: quoted only when needed.
void AppendCsvField(absl::string_view field, std::string* out);

}  // namespace lufd::client

#endif  // LUFD_CLIENT_CSV_IMPORT_H_
