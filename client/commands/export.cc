// `lufctl export`: TNs as import-compatible CSV, or any objects as JSON
// lines (what `import` reads back).
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/commands/command.h"
#include "client/csv_import.h"

namespace lufd::client::cli {
namespace {

using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;

bool ParseKind(absl::string_view name, ObjectKind* kind) {
  static const std::map<std::string, ObjectKind> kKinds = {
      {"org", lufd::v1::OBJECT_KIND_ORG},
      {"credential", lufd::v1::OBJECT_KIND_CREDENTIAL},
      {"identifier", lufd::v1::OBJECT_KIND_IDENTIFIER},
      {"dest-group", lufd::v1::OBJECT_KIND_DEST_GROUP},
      {"dg", lufd::v1::OBJECT_KIND_DEST_GROUP},
      {"sed-record", lufd::v1::OBJECT_KIND_SED_RECORD},
      {"record", lufd::v1::OBJECT_KIND_SED_RECORD},
      {"sed-group", lufd::v1::OBJECT_KIND_SED_GROUP},
      {"sedgroup", lufd::v1::OBJECT_KIND_SED_GROUP},
      {"offer", lufd::v1::OBJECT_KIND_OFFER},
      {"holding", lufd::v1::OBJECT_KIND_HOLDING},
  };
  auto it = kKinds.find(absl::AsciiStrToLower(name));
  if (it != kKinds.end()) {
    *kind = it->second;
    return true;
  }
  return lufd::v1::ObjectKind_Parse(absl::AsciiStrToUpper(name), kind);
}

struct ExportFlags {
  std::string format = "csv", registrant, output_file;
  std::vector<std::string> kinds;

  void Register(CLI::App* c) {
    c->add_option("--format", format, "csv (TNs) or json (lines)")
        ->check(CLI::IsMember({"csv", "json"}));
    c->add_option("--kind", kinds,
                  "json only: org, credential, identifier, dg, record, "
                  "sedgroup, offer (repeatable; default all)");
    c->add_option("--registrant", registrant, "Only this registrant");
    AddOutFileFlag(c, &output_file);
  }
};

absl::Status Export(Context& ctx, const ExportFlags& a) {
  const bool csv = a.format == "csv";
  lufd::v1::ExportRequest req;
  req.set_registrant_id(a.registrant);
  if (csv) {
    req.add_kinds(lufd::v1::OBJECT_KIND_IDENTIFIER);
  } else {
    for (const auto& k : a.kinds) {
      ObjectKind kind;
      if (!ParseKind(k, &kind)) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown kind '", k, "'"));
      }
      req.add_kinds(kind);
    }
  }
  std::ofstream file;
  std::ostream* out = &ctx.out;
  if (!a.output_file.empty() && a.output_file != "-") {
    file.open(a.output_file, std::ios::binary | std::ios::trunc);
    if (!file) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot write ", a.output_file));
    }
    out = &file;
  }
  std::string buf;
  if (csv) buf = kTnCsvHeader;
  uint64_t count = 0, skipped = 0;
  absl::Status st = ReadAdminStream(
      ctx, &AdminStub::Export, req, [&](const RegistryObject& obj) {
        if (csv) {
          if (!obj.has_identifier() ||
              obj.identifier().kind() != lufd::v1::IDENTIFIER_KIND_TN) {
            return true;
          }
          absl::Status row = AppendTnCsv(obj.identifier(), &buf);
          if (!row.ok()) {
            ctx.err << "lufctl: skipped: " << row.message() << "\n";
            ++skipped;
            return true;
          }
        } else {
          buf.append(ToJson(obj));
          buf.push_back('\n');
        }
        ++count;
        if (buf.size() > (1 << 20)) {
          out->write(buf.data(), static_cast<std::streamsize>(buf.size()));
          buf.clear();
        }
        return true;
      });
  out->write(buf.data(), static_cast<std::streamsize>(buf.size()));
  out->flush();
  if (!st.ok()) return st;
  if (!*out) return absl::DataLossError("write failed");
  if (out != &ctx.out) {
    ctx.err << "exported " << count << " object(s) to " << a.output_file
            << "\n";
  }
  if (skipped > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        skipped, " TN(s) could not be written as CSV; use --format json"));
  }
  return absl::OkStatus();
}

}  // namespace

Command ExportCommand() {
  return Cmd<ExportFlags>(
      "export", "",
      "export [--format csv|json] [--kind K]... [--registrant ORG] [-o FILE]",
      "Export TNs as import-compatible CSV, or any objects as JSON lines.",
      Export);
}

}  // namespace lufd::client::cli
