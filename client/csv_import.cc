#include "client/csv_import.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/quote.h"

namespace lufd::client {

const char kTnCsvHeader[] =
    "tn,registrant,dest_groups,ttl,order,preference,flags,services,regexp,"
    "replacement\n";

namespace {

// A field or column name as an error message shows it: in single quotes, at
// most kMaxQuotedInputBytes of it (a 10 MB line is not printed back).
std::string Quoted(absl::string_view v) { return QuoteForError(v, '\''); }

enum Column {
  kTn,
  kRegistrant,
  kDestGroups,
  kTtl,
  kOrder,
  kPreference,
  kFlags,
  kServices,
  kRegexp,
  kReplacement,
  kNumColumns
};

constexpr const char* kColumnNames[kNumColumns] = {
    "tn",         "registrant", "dest_groups", "ttl",    "order",
    "preference", "flags",      "services",    "regexp", "replacement"};

bool IsSeparator(char c) {
  return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

// Writes the normalized TN into out[16]; returns an error reason or nullptr.
// Allocation-free because it runs once per line of million-line files.
const char* NormalizeTnInto(absl::string_view in, char* out, uint8_t* len) {
  if (in.size() >= 4 && absl::EqualsIgnoreCase(in.substr(0, 4), "tel:")) {
    in.remove_prefix(4);
  }
  while (!in.empty() && (in.front() == ' ' || in.front() == '\t')) {
    in.remove_prefix(1);
  }
  while (!in.empty() && (in.back() == ' ' || in.back() == '\t')) {
    in.remove_suffix(1);
  }
  if (in.empty()) return "empty";
  if (in.front() != '+') return "must start with '+' (E.164)";
  uint8_t n = 0;
  out[n++] = '+';
  for (size_t i = 1; i < in.size(); ++i) {
    char c = in[i];
    if (c >= '0' && c <= '9') {
      if (n == 16) return "more than 15 digits";
      if (n == 1 && c == '0') return "country code cannot start with 0";
      out[n++] = c;
    } else if (!IsSeparator(c)) {
      return "invalid character";
    }
  }
  if (n == 1) return "no digits";
  *len = n;
  return nullptr;
}

// Key for duplicate detection: the digits as a number plus the digit count
// (so "+1" and "+10" differ); fits in 64 bits for up to 15 digits.
uint64_t TnKey(absl::string_view tn) {
  uint64_t v = 0;
  for (size_t i = 1; i < tn.size(); ++i) v = v * 10 + (tn[i] - '0');
  return v * 16 + (tn.size() - 1);
}

// Proto3 string fields must hold valid UTF-8 (serialization fails
// otherwise, deep inside gRPC); reject it here, per line. Rejects overlong
// forms, surrogates and code points above U+10FFFF, like protobuf does.
bool ValidUtf8(absl::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < n + 1) return false;  // Truncated sequence.
    for (int k = 1; k <= n; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

bool ParseU32(absl::string_view s, uint32_t max, uint32_t* out) {
  s = absl::StripAsciiWhitespace(s);
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

class ImportParser {
 public:
  explicit ImportParser(ImportPlan* plan) : plan_(plan), text_(plan->text_) {}

  void Run() {
    // A UTF-8 byte order mark is common in files saved by spreadsheets.
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
    if (!ReadHeader()) return;
    // Size the arrays and the duplicate map by the line count (an upper
    // bound on rows; counting is a fast memchr pass): an over-sized hash map
    // would be touched all over and stay resident.
    size_t estimate = 16;
    for (const char* p = text_.data() + pos_;
         (p = static_cast<const char*>(
              memchr(p, '\n', text_.data() + text_.size() - p))) != nullptr;
         ++p) {
      ++estimate;
    }
    // Over-reserving costs address space only: untouched pages are never
    // resident, while regrowing would copy (and briefly double) the arrays.
    plan_->numbers_.reserve(estimate);
    plan_->naptrs_.reserve(estimate);
    seen_.reserve(estimate);
    std::string error;
    while (pos_ < text_.size()) {
      error.clear();
      if (!NextRecord(&error)) {
        AddError(record_line_, error);
        continue;
      }
      if (fields_.size() == 1 && fields_[0].empty() && !quoted_any_) continue;
      ++plan_->rows_;
      HandleRow();
    }
  }

 private:
  void AddError(uint32_t line, std::string message) {
    plan_->errors_.push_back(LineError{line, std::move(message)});
  }

  // Skips the rest of the current physical line (error recovery).
  void SkipLine() {
    while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
    if (pos_ < text_.size()) {
      ++pos_;
      ++line_;
    }
  }

  // Reads one RFC 4180 record into fields_. Returns false (with *error set)
  // on malformed quoting; the record is then skipped.
  bool NextRecord(std::string* error) {
    fields_.clear();
    quoted_any_ = false;
    record_line_ = line_;
    const size_t n = text_.size();
    while (true) {
      if (pos_ < n && text_[pos_] == '"') {
        quoted_any_ = true;
        size_t start = ++pos_;
        bool escaped = false;
        bool closed = false;
        while (pos_ < n) {
          char c = text_[pos_];
          if (c == '"') {
            if (pos_ + 1 < n && text_[pos_ + 1] == '"') {
              escaped = true;
              pos_ += 2;
              continue;
            }
            closed = true;
            break;
          }
          if (c == '\n') ++line_;
          ++pos_;
        }
        if (!closed) {
          *error = "unterminated quoted field";
          return false;
        }
        absl::string_view raw = text_.substr(start, pos_ - start);
        ++pos_;  // Closing quote.
        if (escaped) {
          std::string& s = plan_->unescaped_.emplace_back();
          s.reserve(raw.size());
          for (size_t i = 0; i < raw.size(); ++i) {
            s.push_back(raw[i]);
            if (raw[i] == '"') ++i;  // Skip the second quote of "".
          }
          fields_.push_back(s);
        } else {
          fields_.push_back(raw);
        }
        if (pos_ < n && text_[pos_] != ',' && text_[pos_] != '\n' &&
            !(text_[pos_] == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n')) {
          *error = "unexpected character after closing quote";
          SkipLine();
          return false;
        }
      } else {
        size_t start = pos_;
        while (pos_ < n) {
          char c = text_[pos_];
          if (c == ',' || c == '\n') break;
          if (c == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n') break;
          if (c == '"') {
            *error = "quote character inside an unquoted field";
            SkipLine();
            return false;
          }
          ++pos_;
        }
        fields_.push_back(text_.substr(start, pos_ - start));
      }
      // Field delimiter or record end.
      if (pos_ >= n) return true;
      char c = text_[pos_];
      if (c == ',') {
        ++pos_;
        continue;
      }
      if (c == '\r') ++pos_;
      ++pos_;  // '\n'
      ++line_;
      return true;
    }
  }

  bool ReadHeader() {
    std::string error;
    // Blank lines before the header are tolerated.
    while (pos_ < text_.size()) {
      if (!NextRecord(&error)) {
        AddError(record_line_, "header: " + error);
        return false;
      }
      if (fields_.size() == 1 && fields_[0].empty() && !quoted_any_) continue;
      break;
    }
    if (fields_.empty() || (fields_.size() == 1 && fields_[0].empty())) {
      AddError(record_line_ == 0 ? 1 : record_line_,
               "missing header line (need at least tn,registrant,"
               "dest_groups)");
      return false;
    }
    for (int c = 0; c < kNumColumns; ++c) column_[c] = -1;
    std::vector<std::string> problems;
    for (size_t i = 0; i < fields_.size(); ++i) {
      std::string name =
          absl::AsciiStrToLower(absl::StripAsciiWhitespace(fields_[i]));
      int found = -1;
      for (int c = 0; c < kNumColumns; ++c) {
        if (name == kColumnNames[c]) found = c;
      }
      if (found < 0) {
        problems.push_back(absl::StrCat("unknown column ", Quoted(name)));
      } else if (column_[found] >= 0) {
        problems.push_back(absl::StrCat("duplicate column ", Quoted(name)));
      } else {
        column_[found] = static_cast<int>(i);
      }
    }
    for (int c : {kTn, kRegistrant, kDestGroups}) {
      if (column_[c] < 0) {
        problems.push_back(
            absl::StrCat("missing required column '", kColumnNames[c], "'"));
      }
    }
    header_fields_ = fields_.size();
    if (!problems.empty()) {
      AddError(record_line_, "header: " + absl::StrJoin(problems, "; "));
      return false;
    }
    return true;
  }

  absl::string_view Field(Column c) const {
    return column_[c] < 0 ? absl::string_view() : fields_[column_[c]];
  }

  void HandleRow() {
    if (fields_.size() != header_fields_) {
      AddError(record_line_, absl::StrCat("expected ", header_fields_,
                                          " fields, got ", fields_.size()));
      return;
    }
    std::string problems;  // Allocated only for bad rows.
    auto problem = [&problems](absl::string_view what) {
      if (!problems.empty()) problems.append("; ");
      problems.append(what.data(), what.size());
    };

    for (size_t i = 0; i < fields_.size(); ++i) {
      if (!ValidUtf8(fields_[i])) {
        AddError(record_line_,
                 absl::StrCat("field ", i + 1, ": invalid UTF-8"));
        return;
      }
    }

    ImportNumber num;
    num.line = record_line_;
    if (const char* why = NormalizeTnInto(Field(kTn), num.tn, &num.tn_len)) {
      problem(absl::StrCat("tn ", Quoted(Field(kTn)), ": ", why));
    }
    num.registrant = absl::StripAsciiWhitespace(Field(kRegistrant));
    if (num.registrant.empty()) problem("registrant: empty");
    num.dest_groups = absl::StripAsciiWhitespace(Field(kDestGroups));
    if (!num.dest_groups.empty()) {
      for (absl::string_view dg : absl::StrSplit(num.dest_groups, ';')) {
        if (absl::StripAsciiWhitespace(dg).empty()) {
          problem("dest_groups: empty element");
          break;
        }
      }
    }

    ImportNaptr rec;
    bool has_ttl = !absl::StripAsciiWhitespace(Field(kTtl)).empty();
    if (has_ttl && !ParseU32(Field(kTtl), 0x7fffffff, &rec.ttl)) {
      problem(absl::StrCat("ttl ", Quoted(Field(kTtl)), ": not a number"));
    }
    bool has_naptr = false;
    for (Column c :
         {kOrder, kPreference, kFlags, kServices, kRegexp, kReplacement}) {
      if (!Field(c).empty()) has_naptr = true;
    }
    if (has_naptr) {
      if (!ParseU32(Field(kOrder), 65535, &rec.order)) {
        problem(absl::StrCat("order ", Quoted(Field(kOrder)),
                             ": need a number 0..65535"));
      }
      if (!ParseU32(Field(kPreference), 65535, &rec.preference)) {
        problem(absl::StrCat("preference ", Quoted(Field(kPreference)),
                             ": need a number 0..65535"));
      }
      rec.flags = Field(kFlags);
      rec.services = Field(kServices);
      rec.regexp = Field(kRegexp);
      rec.replacement = Field(kReplacement);
      if (rec.services.empty()) problem("services: empty");
      if (rec.regexp.empty() == rec.replacement.empty()) {
        problem("need exactly one of regexp and replacement");
      }
    } else if (has_ttl) {
      problem("ttl given without a NAPTR record");
    }
    if (!problems.empty()) {
      AddError(record_line_, std::move(problems));
      return;
    }

    uint64_t key = TnKey(num.tn_view());
    auto [it, inserted] =
        seen_.try_emplace(key, static_cast<uint32_t>(plan_->numbers_.size()));
    if (!inserted) {
      ImportNumber& first = plan_->numbers_[it->second];
      if (!has_naptr || first.first_naptr < 0) {
        AddError(record_line_,
                 absl::StrCat("duplicate tn ", num.tn_view(),
                              " (first on line ", first.line, ")"));
        return;
      }
      if (first.registrant != num.registrant ||
          first.dest_groups != num.dest_groups) {
        AddError(
            record_line_,
            absl::StrCat("tn ", num.tn_view(), " also on line ", first.line,
                         " with a different registrant or dest_groups"));
        return;
      }
      AppendNaptr(&first, rec);
      return;
    }
    plan_->numbers_.push_back(num);
    if (has_naptr) AppendNaptr(&plan_->numbers_.back(), rec);
  }

  void AppendNaptr(ImportNumber* num, const ImportNaptr& rec) {
    int32_t idx = static_cast<int32_t>(plan_->naptrs_.size());
    plan_->naptrs_.push_back(rec);
    if (num->last_naptr >= 0) {
      plan_->naptrs_[num->last_naptr].next = idx;
    } else {
      num->first_naptr = idx;
    }
    num->last_naptr = idx;
  }

  ImportPlan* plan_;
  absl::string_view text_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  uint32_t record_line_ = 1;
  bool quoted_any_ = false;
  std::vector<absl::string_view> fields_;
  size_t header_fields_ = 0;
  int column_[kNumColumns];
  absl::flat_hash_map<uint64_t, uint32_t> seen_;
};

ImportPlan ParseImportCsv(std::string text) {
  ImportPlan plan;
  plan.text_ = std::move(text);
  ImportParser(&plan).Run();
  return plan;
}

absl::StatusOr<ImportPlan> ParseImportCsvFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string msg = absl::StrCat(path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::UnavailableError(msg);
  }
  std::string text;
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size > 0) {
    text.resize(static_cast<size_t>(size));
    in.read(text.data(), size);
    if (!in) return absl::DataLossError(absl::StrCat(path, ": short read"));
  } else {
    // Not seekable (a pipe): read it as a stream.
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  return ParseImportCsv(std::move(text));
}

void ImportPlan::ToObject(size_t i, lufd::v1::RegistryObject* out) const {
  const ImportNumber& num = numbers_[i];
  lufd::v1::PublicIdentifier* id = out->mutable_identifier();
  id->Clear();
  id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  id->set_value(num.tn, num.tn_len);
  id->set_registrant_id(num.registrant.data(), num.registrant.size());
  if (!num.dest_groups.empty()) {
    for (absl::string_view dg : absl::StrSplit(num.dest_groups, ';')) {
      dg = absl::StripAsciiWhitespace(dg);
      id->add_dest_group_ids(dg.data(), dg.size());
    }
  }
  for (int32_t r = num.first_naptr; r >= 0; r = naptrs_[r].next) {
    const ImportNaptr& n = naptrs_[r];
    lufd::v1::SedRecord* rec = id->add_records();
    rec->set_ttl(n.ttl);
    rec->set_in_service(true);
    lufd::v1::NaptrRecord* naptr = rec->mutable_naptr();
    naptr->set_order(n.order);
    naptr->set_preference(n.preference);
    naptr->set_flags(n.flags.data(), n.flags.size());
    naptr->set_services(n.services.data(), n.services.size());
    naptr->set_regexp(n.regexp.data(), n.regexp.size());
    naptr->set_replacement(n.replacement.data(), n.replacement.size());
  }
}

absl::StatusOr<std::string> NormalizeTn(absl::string_view input) {
  char buf[16];
  uint8_t len = 0;
  if (const char* why = NormalizeTnInto(input, buf, &len)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad E.164 number ", Quoted(input), ": ", why));
  }
  return std::string(buf, len);
}

void AppendCsvField(absl::string_view field, std::string* out) {
  bool needs_quotes = field.find_first_of(",\"\r\n") != absl::string_view::npos;
  if (!needs_quotes) {
    out->append(field.data(), field.size());
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

absl::Status AppendTnCsv(const lufd::v1::PublicIdentifier& tn,
                         std::string* out) {
  if (tn.kind() != lufd::v1::IDENTIFIER_KIND_TN) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quoted(tn.value()), " is not a TN"));
  }
  for (const auto& rec : tn.records()) {
    if (!rec.has_naptr() || !rec.in_service()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tn ", tn.value(),
          " has inline records CSV cannot carry (URI/NS or out of service); "
          "use --format json"));
    }
  }
  std::string prefix;
  AppendCsvField(tn.value(), &prefix);
  prefix.push_back(',');
  AppendCsvField(tn.registrant_id(), &prefix);
  prefix.push_back(',');
  AppendCsvField(absl::StrJoin(tn.dest_group_ids(), ";"), &prefix);
  prefix.push_back(',');
  if (tn.records().empty()) {
    out->append(prefix);
    out->append(",,,,,,\n");
    return absl::OkStatus();
  }
  for (const auto& rec : tn.records()) {
    const auto& n = rec.naptr();
    out->append(prefix);
    absl::StrAppend(out, rec.ttl(), ",", n.order(), ",", n.preference(), ",");
    AppendCsvField(n.flags(), out);
    out->push_back(',');
    AppendCsvField(n.services(), out);
    out->push_back(',');
    AppendCsvField(n.regexp(), out);
    out->push_back(',');
    AppendCsvField(n.replacement(), out);
    out->push_back('\n');
  }
  return absl::OkStatus();
}

}  // namespace lufd::client
