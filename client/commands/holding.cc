// `lufctl holding add|get|del|list` and `lufctl port`: the number space as
// blocks allocated to registrants (registry.proto Holding; admins only).
// A block is written "+TN", "+FIRST..+LAST" (a range of numbers with the
// same digit count) or "+DIGITS*" (a prefix). `port` moves a block to
// another registrant: carved out of a bigger holding, or a whole holding
// reassigned; the change log records who did it.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/commands/command.h"
#include "client/csv_import.h"

namespace lufd::client::cli {
namespace {

using lufd::v1::RegistryObject;
constexpr auto kKind = lufd::v1::OBJECT_KIND_HOLDING;

constexpr char kBlockHelp[] =
    "+TN, +FIRST..+LAST (same digit count) or +DIGITS* (prefix)";

// The block as a Holding with kind, value and range end set, normalized as
// the server stores them.
absl::StatusOr<lufd::v1::Holding> ParseBlock(absl::string_view text) {
  lufd::v1::Holding h;
  text = absl::StripAsciiWhitespace(text);
  if (size_t dots = text.find(".."); dots != absl::string_view::npos) {
    auto first = NormalizeTn(text.substr(0, dots));
    if (!first.ok()) return first.status();
    auto last = NormalizeTn(text.substr(dots + 2));
    if (!last.ok()) return last.status();
    if (first->size() != last->size()) {
      return absl::InvalidArgumentError(
          "a range's first and last numbers have the same digit count");
    }
    h.set_kind(lufd::v1::IDENTIFIER_KIND_TN_RANGE);
    h.set_value(*first);
    h.set_range_end(*last);
    return h;
  }
  const bool prefix = absl::ConsumeSuffix(&text, "*");
  auto value = NormalizeTn(text);
  if (!value.ok()) return value.status();
  h.set_kind(prefix ? lufd::v1::IDENTIFIER_KIND_TN_PREFIX
                    : lufd::v1::IDENTIFIER_KIND_TN);
  h.set_value(*value);
  return h;
}

// The object key of a block (server/core/keys.h).
std::string BlockKey(const lufd::v1::Holding& h) {
  switch (h.kind()) {
    case lufd::v1::IDENTIFIER_KIND_TN_RANGE:
      return absl::StrCat("range:", h.value(), "-", h.range_end());
    case lufd::v1::IDENTIFIER_KIND_TN_PREFIX:
      return absl::StrCat("prefix:", h.value());
    default:
      return absl::StrCat("tn:", h.value());
  }
}

struct BlockFlags {
  std::string block;
  void Register(CLI::App* c) {
    c->add_option("block", block, kBlockHelp)->required();
  }
};

struct AddFlags {
  std::string block, registrant;
  void Register(CLI::App* c) {
    c->add_option("block", block, kBlockHelp)->required();
    AddRegistrantFlag(c, &registrant);
  }
};

struct PortFlags {
  std::string block, to;
  void Register(CLI::App* c) {
    c->add_option("block", block, kBlockHelp)->required();
    c->add_option("--to", to, "Registrant org that receives the block")
        ->required();
  }
};

absl::Status PutBlock(Context& ctx, const std::string& block,
                      const std::string& registrant, bool port) {
  auto h = ParseBlock(block);
  if (!h.ok()) return h.status();
  h->set_registrant_id(registrant);
  h->set_ported(port);  // The server fills in ported_from.
  RegistryObject obj;
  *obj.mutable_holding() = *h;
  return Put(ctx, obj);
}

absl::Status ByKey(Context& ctx, const std::string& block, bool del) {
  auto h = ParseBlock(block);
  if (!h.ok()) return h.status();
  return del ? Delete(ctx, kKind, BlockKey(*h)) : Get(ctx, kKind, BlockKey(*h));
}

}  // namespace

Noun HoldingNoun() {
  return {
      "holding",
      "Number blocks allocated to registrants (admins write them)",
      {Cmd<AddFlags>(
           "holding", "add", "holding add BLOCK --registrant ORG",
           "Allocate a block (+TN, +FIRST..+LAST or +DIGITS*) to a registrant; "
           "refused if it overlaps a holding partly or lies in or around "
           "another registrant's (use port).",
           [](Context& ctx, const AddFlags& f) {
             return PutBlock(ctx, f.block, f.registrant, false);
           }),
       Cmd<BlockFlags>("holding", "get", "holding get BLOCK",
                       "Show one holding.",
                       [](Context& ctx, const BlockFlags& f) {
                         return ByKey(ctx, f.block, false);
                       }),
       Cmd<BlockFlags>(
           "holding", "del", "holding del BLOCK",
           "Delete a holding; refused while identifiers of its registrant "
           "lie in it (for a port inside no other holding, also those of "
           "the holder it was ported from, which would answer again).",
           [](Context& ctx, const BlockFlags& f) {
             return ByKey(ctx, f.block, true);
           }),
       Cmd<ListFlags>(
           "holding", "list", "holding list [--registrant ORG] [--limit N]",
           "List holdings.",
           [](CLI::App* c, ListFlags* f) { AddListFlags(c, f, true); },
           [](Context& ctx, const ListFlags& f) {
             return List(ctx, kKind, f,
                         [](const RegistryObject&) { return true; });
           })}};
}

Command PortCommand() {
  return Cmd<PortFlags>(
      "port", "", "port BLOCK --to ORG",
      "Port a number or block to another registrant: carved out of the "
      "holding it lies in (or a whole holding reassigned); it answers from "
      "the new holder's identifiers at once.",
      [](Context& ctx, const PortFlags& f) {
        return PutBlock(ctx, f.block, f.to, true);
      });
}

}  // namespace lufd::client::cli
