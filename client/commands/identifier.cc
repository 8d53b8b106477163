// `lufctl number|range|prefix|rn|uri add|get|del|list`: the five public
// identifier nouns, generated from one table. They differ only in how the
// key is given and normalized (one E.164 value, a start/end pair, or text),
// in their help lines, and in whether they have `get`; the flags of `add`
// (registrant, destination groups, inline NAPTRs, TTL) are the same.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/commands/command.h"
#include "client/csv_import.h"

namespace lufd::client::cli {
namespace {

using lufd::v1::IdentifierKind;
using lufd::v1::RegistryObject;

// How an identifier's key is written on the command line.
enum class KeyForm {
  kE164,   // One positional +CC... value, normalized (TN, prefix).
  kRange,  // --start TN --end TN, normalized, the same number of digits.
  kText,   // One positional value, blanks stripped (RN, URI).
};

struct IdentifierNounSpec {
  const char* noun;
  IdentifierKind kind;
  KeyForm form;
  const char* key_name;      // Positional name (not for kRange).
  const char* key_synopsis;  // "TN", "+DIGITS", "--start TN --end TN", ...
  const char* key_help;
  const char* noun_help;
  const char* add_help;
  const char* key_prefix;  // Of the object key (server/core/keys.h).
  const char* what;        // "telephone number": get and del help.
  const char* plural;      // "telephone numbers": list help.
  bool has_get;
};

constexpr IdentifierNounSpec kIdentifierNouns[] = {
    {"number", lufd::v1::IDENTIFIER_KIND_TN, KeyForm::kE164, "tn", "TN",
     "E.164 number, +CC...", "Telephone numbers (E.164)",
     "Create or replace a telephone number (E.164) with optional inline "
     "NAPTRs.",
     "tn:", "telephone number", "telephone numbers", true},
    {"range", lufd::v1::IDENTIFIER_KIND_TN_RANGE, KeyForm::kRange, "",
     "--start TN --end TN", "", "TN ranges",
     "Create or replace an inclusive TN range (same digit count).",
     "range:", "TN range", "TN ranges", false},
    {"prefix", lufd::v1::IDENTIFIER_KIND_TN_PREFIX, KeyForm::kE164, "prefix",
     "+DIGITS", "+CC... prefix", "TN prefixes",
     "Create or replace a TN prefix (covers every number under it).",
     "prefix:", "TN prefix", "TN prefixes", false},
    {"rn", lufd::v1::IDENTIFIER_KIND_RN, KeyForm::kText, "rn", "DIGITS",
     "Routing number digits", "Routing numbers",
     "Create or replace a routing number.", "rn:", "routing number",
     "routing numbers", false},
    {"uri", lufd::v1::IDENTIFIER_KIND_URI, KeyForm::kText, "uri", "URI",
     "The URI", "URI public identifiers",
     "Create or replace a URI public identifier.",
     "uri:", "URI public identifier", "URI public identifiers", false},
};

// The key as given; Normalize() turns it into the stored value(s).
struct KeyFlags {
  std::string value, start, end;
};

void AddKeyFlags(const IdentifierNounSpec& spec, CLI::App* c, KeyFlags* f) {
  if (spec.form == KeyForm::kRange) {
    c->add_option("start,--start", f->start, "First TN")->required();
    c->add_option("end,--end", f->end, "Last TN")->required();
  } else {
    c->add_option(spec.key_name, f->value, spec.key_help)->required();
  }
}

// The identifier's value (and range end), normalized as the server stores
// them, and its object key as server/core/keys.h forms it.
struct NormalizedKey {
  std::string value, range_end, key;
};

absl::StatusOr<NormalizedKey> Normalize(const IdentifierNounSpec& spec,
                                        const KeyFlags& f) {
  NormalizedKey out;
  switch (spec.form) {
    case KeyForm::kE164: {
      auto v = NormalizeTn(f.value);
      if (!v.ok()) return v.status();
      out.value = *v;
      break;
    }
    case KeyForm::kRange: {
      auto s = NormalizeTn(f.start);
      if (!s.ok()) return s.status();
      auto e = NormalizeTn(f.end);
      if (!e.ok()) return e.status();
      out.value = *s;
      out.range_end = *e;
      break;
    }
    case KeyForm::kText:
      out.value = std::string(absl::StripAsciiWhitespace(f.value));
      break;
  }
  out.key = absl::StrCat(spec.key_prefix, out.value,
                         out.range_end.empty() ? "" : "-", out.range_end);
  return out;
}

struct AddFlags {
  KeyFlags key;
  std::string registrant;
  std::vector<std::string> dgs, naptrs;
  uint32_t ttl = 0;
};

absl::Status Add(Context& ctx, const IdentifierNounSpec& spec,
                 const AddFlags& f) {
  auto key = Normalize(spec, f.key);
  if (!key.ok()) return key.status();
  if (spec.form == KeyForm::kRange &&
      key->value.size() != key->range_end.size()) {
    return absl::InvalidArgumentError(
        "--start and --end must have the same number of digits");
  }
  RegistryObject obj;
  auto* id = obj.mutable_identifier();
  id->set_kind(spec.kind);
  id->set_value(key->value);
  if (spec.form == KeyForm::kRange) id->set_range_end(key->range_end);
  id->set_registrant_id(f.registrant);
  for (const auto& dg : f.dgs) id->add_dest_group_ids(dg);
  for (const auto& naptr : f.naptrs) {
    auto n = ParseNaptrSpec(naptr);
    if (!n.ok()) return n.status();
    auto* rec = id->add_records();
    rec->set_ttl(f.ttl);
    rec->set_in_service(true);
    *rec->mutable_naptr() = *n;
  }
  return Put(ctx, obj);
}

std::vector<Command> IdentifierCommands(const IdentifierNounSpec& spec) {
  const std::string noun = spec.noun;
  constexpr auto kKind = lufd::v1::OBJECT_KIND_IDENTIFIER;
  std::vector<Command> out;
  out.push_back(Cmd<AddFlags>(
      noun, "add",
      absl::StrCat(noun, " add ", spec.key_synopsis,
                   " --registrant ORG [--dg DG]... [--naptr \"o p f s re "
                   "repl\"]... [--ttl S]"),
      spec.add_help,
      [&spec](CLI::App* c, AddFlags* f) {
        AddKeyFlags(spec, c, &f->key);
        AddRegistrantFlag(c, &f->registrant);
        c->add_option("--dg", f->dgs, "Destination group id (repeatable)");
        c->add_option("--naptr", f->naptrs,
                      "Inline NAPTR \"order pref flags services regexp "
                      "replacement\" (repeatable)");
        c->add_option("--ttl", f->ttl, "TTL of the inline records");
      },
      [&spec](Context& ctx, const AddFlags& f) { return Add(ctx, spec, f); }));
  auto by_key = [&spec](CLI::App* c, KeyFlags* f) { AddKeyFlags(spec, c, f); };
  if (spec.has_get) {
    out.push_back(Cmd<KeyFlags>(
        noun, "get", absl::StrCat(noun, " get ", spec.key_synopsis),
        absl::StrCat("Show one ", spec.what, "."), by_key,
        [&spec](Context& ctx, const KeyFlags& f) {
          auto key = Normalize(spec, f);
          if (!key.ok()) return key.status();
          return Get(ctx, kKind, key->key);
        }));
  }
  out.push_back(Cmd<KeyFlags>(noun, "del",
                              absl::StrCat(noun, " del ", spec.key_synopsis),
                              absl::StrCat("Delete a ", spec.what, "."), by_key,
                              [&spec](Context& ctx, const KeyFlags& f) {
                                auto key = Normalize(spec, f);
                                if (!key.ok()) return key.status();
                                return Delete(ctx, kKind, key->key);
                              }));
  out.push_back(Cmd<ListFlags>(
      noun, "list", absl::StrCat(noun, " list [--registrant ORG] [--limit N]"),
      absl::StrCat("List ", spec.plural, "."),
      [](CLI::App* c, ListFlags* f) { AddListFlags(c, f, true); },
      [&spec](Context& ctx, const ListFlags& f) {
        return List(ctx, kKind, f, [&spec](const RegistryObject& o) {
          return o.identifier().kind() == spec.kind;
        });
      }));
  return out;
}

}  // namespace

std::vector<Noun> IdentifierNouns() {
  std::vector<Noun> out;
  for (const auto& spec : kIdentifierNouns) {
    out.push_back({spec.noun, spec.noun_help, IdentifierCommands(spec)});
  }
  return out;
}

}  // namespace lufd::client::cli
