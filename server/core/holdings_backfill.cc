// The holdings backfill (see holdings_backfill.h).
#include "server/core/holdings_backfill.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/holdings.h"
#include "server/core/view.h"

namespace lufd {
namespace {

struct Candidate {
  std::string key;
  std::string registrant;
  lufd::v1::IdentifierKind kind;
  std::string value, range_end;
  NumberBlock block;
};

// Containers before what they may contain: prefixes (shortest first),
// then ranges (widest first), then TNs.
auto OuterFirst(const Candidate& c) {
  const int category = c.block.prefix ? 0 : (c.block.lo == c.block.hi ? 2 : 1);
  const uint64_t size =
      c.block.prefix ? c.block.len : UINT64_MAX - (c.block.hi - c.block.lo);
  return std::make_tuple(category, size, c.key);
}

lufd::v1::Holding HoldingFor(const Candidate& c, int64_t now) {
  lufd::v1::Holding h;
  // A 15-digit prefix is one number, held as a TN (validate.h).
  if (c.block.prefix && c.block.len == 15) {
    h.set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  } else {
    h.set_kind(c.kind);
    h.set_range_end(c.range_end);
  }
  h.set_value(c.value);
  h.set_registrant_id(c.registrant);
  h.set_created_unix(now);
  return h;
}

}  // namespace

absl::StatusOr<HoldingsBackfill> BackfillHoldings(Store* store) {
  HoldingsBackfill report;
  bool any_holding = false;
  std::vector<Candidate> candidates;
  absl::flat_hash_set<std::string> orgs;
  absl::StatusOr<uint64_t> serial =
      store->LoadSnapshot([&](lufd::v1::ObjectKind kind, absl::string_view key,
                              const lufd::v1::RegistryObject& o) {
        if (kind == lufd::v1::OBJECT_KIND_HOLDING) any_holding = true;
        if (kind == lufd::v1::OBJECT_KIND_ORG) orgs.insert(o.org().id());
        if (kind != lufd::v1::OBJECT_KIND_IDENTIFIER || any_holding) return;
        const lufd::v1::PublicIdentifier& id = o.identifier();
        if (!IsNumberSpaceKind(id.kind())) return;
        std::optional<NumberBlock> block = BlockOf(id);
        if (!block.has_value()) return;
        candidates.push_back({std::string(key), id.registrant_id(), id.kind(),
                              id.value(), id.range_end(), *block});
      });
  if (!serial.ok()) return serial.status();
  if (any_holding || candidates.empty()) return report;
  report.ran = true;
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) {
              return OuterFirst(a) < OuterFirst(b);
            });
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  CommitRequest request;
  request.expected_serial = *serial;
  request.actor = kBackfillActor;
  request.client_txn_id = "holdings-backfill";

  auto add = [&](const Candidate& c, const lufd::v1::Holding* enclosing) {
    lufd::v1::Holding h = HoldingFor(c, now);
    if (enclosing != nullptr) {
      h.set_ported(true);
      h.set_ported_from(enclosing->registrant_id());
      report.review.push_back(absl::StrCat(
          c.key, " of ", c.registrant, " lies inside a holding of ",
          enclosing->registrant_id(), ": made a ported holding"));
    }
    Mutation m;
    m.kind = lufd::v1::OBJECT_KIND_HOLDING;
    m.key = HoldingKey(h);
    m.after.emplace();
    *m.after->mutable_holding() = h;
    request.mutations.push_back(std::move(m));
    ++report.created;
    return h;
  };

  // Phase 1: prefixes and ranges (few), against each other.
  std::vector<std::pair<lufd::v1::Holding, NumberBlock>> outer;
  size_t i = 0;
  for (; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (!c.block.prefix && c.block.lo == c.block.hi) break;  // TNs.
    if (!orgs.contains(c.registrant)) continue;
    const lufd::v1::Holding* enclosing = nullptr;
    const NumberBlock* enclosing_block = nullptr;
    bool overlap = false;
    for (const auto& [h, b] : outer) {
      if (!b.Intersects(c.block)) continue;
      if (b.Contains(c.block)) {
        if (enclosing == nullptr || enclosing_block->Contains(b)) {
          enclosing = &h;
          enclosing_block = &b;
        }
      } else {
        overlap = true;  // Sorted outer first: c cannot contain b.
        break;
      }
    }
    if (overlap) {
      report.skipped.push_back(absl::StrCat(c.key, " of ", c.registrant,
                                            " overlaps another block partly"));
      continue;
    }
    if (enclosing != nullptr && enclosing->registrant_id() == c.registrant) {
      continue;  // Already inside its own registrant's holding.
    }
    if (enclosing != nullptr && enclosing_block->SameAs(c.block)) {
      report.skipped.push_back(absl::StrCat(
          c.key, " of ", c.registrant, " names the same numbers as a block of ",
          enclosing->registrant_id()));
      continue;
    }
    lufd::v1::Holding h = add(c, enclosing);
    outer.emplace_back(std::move(h), c.block);
  }
  // Phase 2: TNs, through a view of the outer holdings.
  RegistryView::Builder builder;
  for (const auto& [h, b] : outer) {
    lufd::v1::RegistryObject o;
    *o.mutable_holding() = h;
    builder.Add(lufd::v1::OBJECT_KIND_HOLDING, HoldingKey(h), o);
  }
  std::shared_ptr<const RegistryView> view = std::move(builder).Build(0);
  for (; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (!orgs.contains(c.registrant)) continue;
    std::optional<lufd::v1::Holding> enclosing =
        InnermostHolding(*view, c.block);
    if (enclosing.has_value() && enclosing->registrant_id() == c.registrant) {
      continue;
    }
    if (enclosing.has_value() && BlockOf(*enclosing)->SameAs(c.block)) {
      report.skipped.push_back(absl::StrCat(
          c.key, " of ", c.registrant, " names the same numbers as a block of ",
          enclosing->registrant_id()));
      continue;
    }
    add(c, enclosing.has_value() ? &*enclosing : nullptr);
  }
  if (request.mutations.empty()) return report;
  absl::StatusOr<uint64_t> committed = store->Commit(request);
  if (!committed.ok()) return committed.status();
  report.serial = *committed;
  return report;
}

}  // namespace lufd
