// Output formatting for lufctl: aligned text tables, protobuf-JSON, and the
// one-row-per-object column layout of each registry kind. Pure functions and
// value types; thread-compatible.
#ifndef LUFD_CLIENT_OUTPUT_H_
#define LUFD_CLIENT_OUTPUT_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lufd/v1/admin.pb.h"
#include "lufd/v1/lookup.pb.h"
#include "lufd/v1/registry.pb.h"

namespace lufd::client {

enum class OutputFormat { kTable, kJson };

// A text table: a header row and columns padded to their widest cell.
// Cells are printed with bidi, invisible and control characters escaped
// ("\u202e"; common/unsafe_text.h), so no cell can reorder or hide others.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> row);
  size_t rows() const { return rows_.size(); }
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// Protobuf JSON mapping (proto field names as lowerCamelCase, enums by
// name); one line, no trailing newline. Bidi and invisible characters are
// \u-escaped (the same strings to a JSON parser).
std::string ToJson(const google::protobuf::Message& message);

// Column headers for a kind's list table, and one object's row.
std::vector<std::string> ObjectHeaders(lufd::v1::ObjectKind kind);
std::vector<std::string> ObjectRow(const lufd::v1::RegistryObject& object);

// Zone-file-like text of one record's rdata, e.g.
// NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:a@b!" .
std::string SedAnswerText(const lufd::v1::SedAnswer& answer);
std::string SedRecordText(const lufd::v1::SedRecord& record);

// A time in microseconds since the epoch as UTC RFC 3339 with
// milliseconds ("2026-12-07T12:00:00.123Z").
std::string MicrosText(int64_t micros);

std::vector<std::string> ChangeHeaders();
std::vector<std::string> ChangeRow(const lufd::v1::Change& change);

// The guard (lufctl guard status|explain). A block's "(59m left)" counts
// from the server's clock as the identity carries it
// (GuardIdentity.now_unix_micros), so the clocks' skew does not shift it.
// `now_micros` is only the fallback for an older server that leaves that 0:
// GuardStatusResponse.now_unix_micros for status, the client's clock for
// explain (there off by the skew).
std::vector<std::string> GuardStatusHeaders();
std::vector<std::string> GuardStatusRow(const lufd::v1::GuardIdentity& g,
                                        int64_t now_micros);
// The multi-line explanation of one identity: limits, tokens, window
// counts, per-rule denied/dry-run counters, offences, block, last denial.
std::string GuardExplainText(const lufd::v1::GuardIdentity& g,
                             int64_t now_micros);

}  // namespace lufd::client

#endif  // LUFD_CLIENT_OUTPUT_H_
