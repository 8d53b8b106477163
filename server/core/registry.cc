// Registry implementation. A batch is evaluated against one view plus an
// overlay of its own pending writes, so that later operations see earlier
// ones; the overlay then becomes the Store mutations (with before images).
//
// Cost is O(operations + cascaded objects): the overlay is a hash map, and
// the objects that reference a key are found through the view's indexes
// plus a reverse-reference index of the overlay itself (never by scanning
// the overlay), so a 1M-TN import is one linear pass.
#include "server/core/registry.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/quote.h"
#include "server/core/authz.h"
#include "server/core/denial.h"
#include "server/core/holdings.h"
#include "server/core/keys.h"
#include "server/core/normalize.h"
#include "server/core/validate.h"

namespace lufd {
namespace {

using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;

using ObjKey = std::pair<ObjectKind, std::string>;

constexpr int kMaxCommitAttempts = 5;
constexpr absl::Duration kViewWait = absl::Seconds(2);

bool ValidKind(ObjectKind kind) {
  return kind > lufd::v1::OBJECT_KIND_UNSPECIFIED &&
         kind <= lufd::v1::OBJECT_KIND_HOLDING;
}

// The keys an object refers to (the inverse of RegistryView::Referrers).
std::vector<ObjKey> OutgoingRefs(const RegistryObject& o) {
  std::vector<ObjKey> out;
  auto org = [&](const std::string& id) {
    if (!id.empty()) out.emplace_back(lufd::v1::OBJECT_KIND_ORG, id);
  };
  switch (o.object_case()) {
    case RegistryObject::kOrg:
      org(o.org().registrar_id());
      break;
    case RegistryObject::kCredential:
      org(o.credential().org_id());
      break;
    case RegistryObject::kIdentifier:
      org(o.identifier().registrant_id());
      for (const auto& dg : o.identifier().dest_group_ids()) {
        out.emplace_back(lufd::v1::OBJECT_KIND_DEST_GROUP, dg);
      }
      break;
    case RegistryObject::kDestGroup:
      org(o.dest_group().registrant_id());
      break;
    case RegistryObject::kSedRecord:
      org(o.sed_record().registrant_id());
      break;
    case RegistryObject::kSedGroup:
      org(o.sed_group().registrant_id());
      for (const auto& dg : o.sed_group().dest_group_ids()) {
        out.emplace_back(lufd::v1::OBJECT_KIND_DEST_GROUP, dg);
      }
      for (const auto& r : o.sed_group().records()) {
        out.emplace_back(lufd::v1::OBJECT_KIND_SED_RECORD, r.record_id());
      }
      break;
    case RegistryObject::kOffer:
      out.emplace_back(lufd::v1::OBJECT_KIND_SED_GROUP,
                       o.offer().sed_group_id());
      org(o.offer().peer_org_id());
      break;
    case RegistryObject::kHolding:
      org(o.holding().registrant_id());
      break;
    default:
      break;
  }
  return out;
}

bool RefersTo(const RegistryObject& o, const ObjKey& target) {
  for (const auto& ref : OutgoingRefs(o)) {
    if (ref == target) return true;
  }
  return false;
}

bool SameObject(const std::optional<RegistryObject>& a,
                const std::optional<RegistryObject>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a.has_value()) return true;
  return a->SerializeAsString() == b->SerializeAsString();
}

absl::Status Prefix(size_t index, const absl::Status& status) {
  absl::Status out(status.code(),
                   absl::StrCat("operation ", index, ": ", status.message()));
  // The real reason rides along for the denial audit (denial.h).
  if (std::optional<std::string> reason = DenialReason(status)) {
    out = WithDenialReason(std::move(out), *reason);
  }
  return out;
}

// The target of a non-terminal NAPTR (no flags, replacement set) when it is
// an ENUM domain this registry answers for; "" otherwise. The flags test
// comes first: terminal NAPTRs, nearly all of a bulk import, cost one
// string-empty check.
absl::string_view EnumChainTarget(const lufd::v1::SedRecord& record) {
  if (!record.has_naptr()) return {};
  const lufd::v1::NaptrRecord& naptr = record.naptr();
  if (!naptr.flags().empty() || naptr.replacement().empty() ||
      naptr.replacement() == ".") {
    return {};
  }
  if (!EnumDomainToE164(naptr.replacement()).ok()) return {};
  return naptr.replacement();
}

absl::Status NotFound(ObjectKind kind, absl::string_view key) {
  return absl::NotFoundError(
      absl::StrCat(KindName(kind), " ", QuoteForError(key), " not found"));
}

// What a caller is told about an object it asked to read, delete or decide
// on that is absent (`o` null) or that it may not read: an admin learns
// NOT_FOUND; anyone else the fixed refusal (authz.h), the same whether or
// not the object exists. `own_space`: the key is a TN/range/prefix inside
// the caller's own holdings, where absence is the caller's own business.
absl::Status Unavailable(const Identity& actor, ObjectKind kind,
                         absl::string_view key, bool exists, bool own_space) {
  if (actor.is_admin() || (!exists && own_space)) return NotFound(kind, key);
  return Refused(absl::StrCat(KindName(kind), " ", QuoteForError(key),
                              exists ? " is not the caller's" : " not found"));
}

// Whether `key` names an identifier block inside holdings of a registrant
// the actor manages (so that its absence may be told): see Unavailable.
bool InOwnHoldings(const RegistryView& view, AccessRules& rules,
                   ObjectKind kind, absl::string_view key) {
  if (kind != lufd::v1::OBJECT_KIND_IDENTIFIER) return false;
  std::optional<NumberBlock> block = BlockOfKey(key);
  if (!block.has_value()) return false;
  std::optional<lufd::v1::Holding> h = InnermostHolding(view, *block);
  return h.has_value() && rules.Manages(h->registrant_id());
}

// The plan of one write batch: the view it reads, the overlay of its
// writes, and the checks each operation must pass. Who may write what is
// authz.h's AccessRules, judged against the view through the overlay (this
// plan is their ObjectLookup).
class WritePlan final : private ObjectLookup {
 public:
  WritePlan(const RegistryView& view, const Identity& actor)
      : view_(view), rules_(actor, this) {}

  // `prepared` is the put's object after ValidateAndNormalize (see
  // PreparePuts); a put moves the object out of it (no copy per object in
  // bulk imports), so a batch re-run must prepare again. Unused for other
  // operations.
  absl::Status Run(size_t index, const lufd::v1::Operation& op,
                   absl::StatusOr<RegistryObject>& prepared) {
    current_op_ = index;
    if (!rules_.MayWrite()) return PermissionDenied();
    switch (op.op_case()) {
      case lufd::v1::Operation::kPut:
        return Put(prepared);
      case lufd::v1::Operation::kDelete:
        return Delete(op.delete_());
      case lufd::v1::Operation::kAcceptOffer:
        return Decide(op.accept_offer(), lufd::v1::OFFER_STATUS_ACCEPTED);
      case lufd::v1::Operation::kRejectOffer:
        return Decide(op.reject_offer(), lufd::v1::OFFER_STATUS_REJECTED);
      default:
        return absl::InvalidArgumentError("empty operation");
    }
  }

  // RFC 6116 §5.1 / validate.h: refuse non-terminal NAPTR chains longer
  // than kMaxNonTerminalHops, or loops, among the numbers this registry
  // answers for. Run once the whole batch is applied, so that a chain
  // provisioned in any order within one batch is seen whole. Each check
  // walks forward from where a non-terminal NAPTR written by this batch is
  // served (a TN's own domain), or from its target plus one hop when that
  // is not known cheaply (standalone SED records, ranges, prefixes). Not
  // seen: a chain lengthened at its tail by a batch that does not write the
  // chain's head, and chains formed only by regrouping (SED group or dest
  // group edits); the view has no reverse index of replacements.
  //
  // `errors` null: returns the first failure ("operation <i>: ..."); else
  // every failing check is added there and OK is returned.
  absl::Status CheckChains(BatchErrors* errors) {
    NaptrLookupFn lookup = [this](const std::string& domain) {
      return NaptrsAt(domain);
    };
    for (const ChainCheck& check : chain_checks_) {
      absl::StatusOr<int> hops = CountNonTerminalChain(check.start, lookup);
      absl::Status failed = hops.status();
      if (hops.ok() && *hops + check.extra_hops > kMaxNonTerminalHops) {
        failed = absl::InvalidArgumentError(absl::StrCat(
            "naptr.replacement: non-terminal chain longer than ",
            kMaxNonTerminalHops, " hops (RFC 6116 clients give up)"));
      }
      if (failed.ok()) continue;
      if (errors == nullptr) return Prefix(check.op, failed);
      errors->Add(check.op, std::move(failed));
    }
    return absl::OkStatus();
  }

  // How many mutations TakeMutations would return.
  uint64_t CountChanges() const {
    uint64_t n = 0;
    for (const auto& e : entries_) n += SameObject(e.before, e.after) ? 0 : 1;
    return n;
  }

  // The overlay as Store mutations, in first-touch order; no-ops dropped.
  std::vector<Mutation> TakeMutations() {
    std::vector<Mutation> out;
    out.reserve(entries_.size());
    for (auto& e : entries_) {
      if (SameObject(e.before, e.after)) continue;
      Mutation m;
      m.kind = e.kind;
      m.key = std::move(e.key);
      m.before = std::move(e.before);
      m.after = std::move(e.after);
      out.push_back(std::move(m));
    }
    entries_.clear();
    index_.clear();
    return out;
  }

 private:
  struct ChainCheck {
    size_t op;          // Operation index, for the error.
    std::string start;  // ENUM domain to walk from.
    int extra_hops;     // Hops before `start` (1 when starting at a target).
  };

  // Remembers the chain checks a put needs (see CheckChains).
  void NoteChains(ObjectKind kind, const RegistryObject& object) {
    if (kind == lufd::v1::OBJECT_KIND_SED_RECORD) {
      absl::string_view target = EnumChainTarget(object.sed_record());
      if (!target.empty()) {
        chain_checks_.push_back({current_op_, std::string(target), 1});
      }
      return;
    }
    if (kind != lufd::v1::OBJECT_KIND_IDENTIFIER) return;
    const lufd::v1::PublicIdentifier& id = object.identifier();
    for (const lufd::v1::SedRecord& record : id.records()) {
      absl::string_view target = EnumChainTarget(record);
      if (target.empty()) continue;
      if (id.kind() == lufd::v1::IDENTIFIER_KIND_TN) {
        // One walk from the TN's own domain covers all its records and
        // also finds a record pointing back at its own number.
        chain_checks_.push_back({current_op_, E164ToEnumDomain(id.value()), 0});
        return;
      }
      chain_checks_.push_back({current_op_, std::string(target), 1});
    }
  }

  // The NAPTRs an admin would get for an ENUM domain, seen through the
  // overlay: a TN is resolved here (groups and records as this batch left
  // them); without one, the view answers (ranges and prefixes as of the
  // view: good enough for chain checks, which are about TNs in practice).
  std::vector<lufd::v1::NaptrRecord> NaptrsAt(const std::string& domain) {
    std::vector<lufd::v1::NaptrRecord> out;
    absl::StatusOr<std::string> e164 = EnumDomainToE164(domain);
    if (!e164.ok()) return out;
    ObjKey key(lufd::v1::OBJECT_KIND_IDENTIFIER, absl::StrCat("tn:", *e164));
    const bool touched = index_.contains(key);
    const RegistryObject* tn = Find(key.first, key.second);
    if (tn == nullptr) {
      if (touched) return out;  // Deleted by this batch.
      static const Identity kAdmin{"", "", lufd::v1::ROLE_ADMIN};
      for (const auto& answer : view_.ResolveNumber(*e164, kAdmin).records) {
        if (answer.has_naptr()) out.push_back(answer.naptr());
      }
      return out;
    }
    bool any_group = false;
    absl::flat_hash_set<std::string> seen_groups;  // On several dest groups.
    for (const std::string& dg : tn->identifier().dest_group_ids()) {
      // The view's groups on dg and the groups this batch wrote (few; not
      // Referrers(), which lists every identifier on dg too), each checked
      // as the batch left it.
      std::vector<std::string> candidates = view_.SedGroupsOn(dg);
      if (auto it = overlay_dg_groups_.find(dg);
          it != overlay_dg_groups_.end()) {
        candidates.insert(candidates.end(), it->second.begin(),
                          it->second.end());
      }
      for (const std::string& id : candidates) {
        if (!seen_groups.insert(id).second) continue;
        const RegistryObject* group = Find(lufd::v1::OBJECT_KIND_SED_GROUP, id);
        if (group == nullptr || !group->sed_group().in_service()) continue;
        const auto& dgs = group->sed_group().dest_group_ids();
        if (std::find(dgs.begin(), dgs.end(), dg) == dgs.end()) {
          seen_groups.erase(id);  // May still be on another of the TN's.
          continue;
        }
        any_group = true;
        for (const auto& ref : group->sed_group().records()) {
          const RegistryObject* r =
              Find(lufd::v1::OBJECT_KIND_SED_RECORD, ref.record_id());
          if (r != nullptr && r->sed_record().in_service() &&
              r->sed_record().has_naptr()) {
            out.push_back(r->sed_record().naptr());
          }
        }
      }
    }
    // Inline records are served only alongside a visible group (view.h).
    if (any_group) {
      for (const auto& r : tn->identifier().records()) {
        if (r.in_service() && r.has_naptr()) out.push_back(r.naptr());
      }
    }
    return out;
  }

  struct Entry {
    ObjectKind kind;
    std::string key;
    std::optional<RegistryObject> before;  // As in the view.
    std::optional<RegistryObject> after;   // Current state in the batch.
  };

  // Current state of an object (overlay, else view), or nullptr. Pointers
  // stay valid until the object is next written in this batch.
  const RegistryObject* Find(ObjectKind kind, const std::string& key) override {
    ObjKey k(kind, key);
    if (auto it = index_.find(k); it != index_.end()) {
      const auto& after = entries_[it->second].after;
      return after ? &*after : nullptr;
    }
    auto [it, inserted] = cache_.try_emplace(std::move(k));
    if (inserted) {
      if (auto o = view_.Get(kind, key)) {
        it->second = std::make_unique<RegistryObject>(*std::move(o));
      }
    }
    return it->second.get();
  }

  Entry& Touch(ObjectKind kind, const std::string& key) {
    ObjKey k(kind, key);
    auto [it, inserted] = index_.try_emplace(k, entries_.size());
    if (!inserted) return entries_[it->second];
    Entry e{kind, key, std::nullopt, std::nullopt};
    if (auto c = cache_.find(k); c != cache_.end()) {
      // Copied, not moved out: pointers handed out by Find() stay valid.
      if (c->second) e.before = *c->second;
    } else {
      e.before = view_.Get(kind, key);
    }
    e.after = e.before;
    entries_.push_back(std::move(e));
    return entries_.back();
  }

  void Write(ObjectKind kind, const std::string& key,
             std::optional<RegistryObject> after) {
    if (kind == lufd::v1::OBJECT_KIND_SED_GROUP && after) {
      for (const auto& dg : after->sed_group().dest_group_ids()) {
        overlay_dg_groups_[dg].insert(key);
      }
    }
    if (after) {
      for (auto& ref : OutgoingRefs(*after)) {
        overlay_refs_[std::move(ref)].emplace_back(kind, key);
      }
      if (kind == lufd::v1::OBJECT_KIND_CREDENTIAL &&
          !after->credential().tsig_key_name().empty()) {
        overlay_tsig_[after->credential().tsig_key_name()].push_back(key);
      }
    }
    Touch(kind, key).after = std::move(after);
  }

  // Objects currently referring to (kind, key): the view's index plus the
  // overlay's, filtered by what each object says now.
  std::vector<ObjKey> Referrers(ObjectKind kind, const std::string& key) {
    ObjKey target(kind, key);
    std::vector<ObjKey> candidates;
    for (auto& r : view_.Referrers(kind, key)) candidates.push_back(r);
    if (auto it = overlay_refs_.find(target); it != overlay_refs_.end()) {
      candidates.insert(candidates.end(), it->second.begin(), it->second.end());
    }
    absl::flat_hash_set<ObjKey> seen;
    std::vector<ObjKey> out;
    for (auto& c : candidates) {
      if (!seen.insert(c).second) continue;
      const RegistryObject* o = Find(c.first, c.second);
      if (o != nullptr && RefersTo(*o, target)) out.push_back(std::move(c));
    }
    return out;
  }

  // TSIG key names identify the peer on the DNS side, so two credentials
  // may not share one (validate.cc has already normalized the name). The
  // candidates are the view's holders of the name and this batch's writes,
  // each checked as the batch left it.
  absl::Status CheckTsigKeyUnique(const lufd::v1::Credential& credential) {
    const std::string& name = credential.tsig_key_name();
    if (name.empty()) return absl::OkStatus();
    std::vector<std::string> candidates = view_.CredentialsWithTsigKey(name);
    if (auto it = overlay_tsig_.find(name); it != overlay_tsig_.end()) {
      candidates.insert(candidates.end(), it->second.begin(), it->second.end());
    }
    for (const std::string& id : candidates) {
      if (id == credential.id()) continue;
      const RegistryObject* other = Find(lufd::v1::OBJECT_KIND_CREDENTIAL, id);
      if (other == nullptr || other->credential().tsig_key_name() != name) {
        continue;
      }
      if (!rules_.CanRead(*other)) {
        return absl::AlreadyExistsError(
            absl::StrCat("credential.tsig_key_name: ", QuoteForError(name),
                         " is already in use"));
      }
      return absl::AlreadyExistsError(
          absl::StrCat("credential.tsig_key_name: ", QuoteForError(name),
                       " is already used by credential ", QuoteForError(id)));
    }
    return absl::OkStatus();
  }

  absl::Status RequireOrg(const std::string& id, absl::string_view what) {
    if (Find(lufd::v1::OBJECT_KIND_ORG, id) == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(what, " org ", QuoteForError(id), " not found"));
    }
    return absl::OkStatus();
  }

  // A referenced registrant-owned object must exist and, for a registrar,
  // be one of its own (else it is reported as not found: no oracle).
  absl::Status RequireOwned(ObjectKind kind, const std::string& key) {
    const RegistryObject* o = Find(kind, key);
    if (o == nullptr || !rules_.CanReference(*o)) return NotFound(kind, key);
    return absl::OkStatus();
  }

  absl::Status Put(absl::StatusOr<RegistryObject>& prepared) {
    if (!prepared.ok()) {
      return absl::InvalidArgumentError(prepared.status().message());
    }
    RegistryObject object = *std::move(prepared);
    ObjectKind kind = KindOf(object);
    if (!ValidKind(kind)) return absl::InvalidArgumentError("no object");
    std::string key = KeyOf(object);
    // Touch (not Find) so that a new key costs no cache entry.
    Entry& entry = Touch(kind, key);
    const RegistryObject* existing = entry.after ? &*entry.after : nullptr;

    switch (kind) {
      case lufd::v1::OBJECT_KIND_ORG: {
        const auto& org = object.org();
        if (!org.registrar_id().empty() && org.registrar_id() == org.id()) {
          return absl::InvalidArgumentError(
              "an org cannot be its own registrar");
        }
        // Authorization before the registrar's existence: a registrar
        // naming another org as registrar gets the fixed refusal whether or
        // not that org exists (no org-id oracle; admins are not refused).
        auto s = rules_.CheckOrgPut(org, existing);
        if (!s.ok()) return s;
        if (!org.registrar_id().empty()) {
          s = RequireOrg(org.registrar_id(), "registrar");
          if (!s.ok()) return s;
        }
        break;
      }
      case lufd::v1::OBJECT_KIND_CREDENTIAL: {
        if (!rules_.MayPutKind(kind)) return PermissionDenied();
        auto s = RequireOrg(object.credential().org_id(), "credential");
        if (!s.ok()) return s;
        s = CheckTsigKeyUnique(object.credential());
        if (!s.ok()) return s;
        break;
      }
      case lufd::v1::OBJECT_KIND_DNS_KEY:
        if (!rules_.MayPutKind(kind)) return PermissionDenied();
        break;
      case lufd::v1::OBJECT_KIND_HOLDING: {
        if (!rules_.MayPutKind(kind)) {
          return Refused("holdings are written by admins only");
        }
        auto s = PutHolding(key, existing, object.mutable_holding());
        if (!s.ok()) return s;
        break;
      }
      case lufd::v1::OBJECT_KIND_IDENTIFIER:
      case lufd::v1::OBJECT_KIND_DEST_GROUP:
      case lufd::v1::OBJECT_KIND_SED_RECORD:
      case lufd::v1::OBJECT_KIND_SED_GROUP: {
        std::string registrant = OwnerOf(object);
        // For anyone but an admin, authorization comes before existence
        // (the registrant org, the key): the refusal is then the same
        // whether or not they exist (authz.h, no oracle).
        // Inside the registrant's own holding, the holding decides: a
        // stale identifier of the block's former holder (after a port) may
        // be replaced by the new one.
        const RegistryObject* prior = existing;
        if (kind == lufd::v1::OBJECT_KIND_IDENTIFIER &&
            IsNumberSpaceKind(object.identifier().kind())) {
          auto s =
              CheckNumberSpace(object.identifier().kind(), key, registrant);
          if (!s.ok()) return s;
          prior = nullptr;
        }
        if (!rules_.actor().is_admin() && !rules_.CanPutOwned(object, prior)) {
          return Refused(existing != nullptr && !rules_.CanRead(*existing)
                             ? "the key is taken by an object of another "
                               "registrant"
                             : "the registrant is not the caller's");
        }
        auto s = RequireOrg(registrant, "registrant");
        if (!s.ok()) return s;
        if (!rules_.CanPutOwned(object, prior)) return PermissionDenied();
        if (kind == lufd::v1::OBJECT_KIND_IDENTIFIER) {
          for (const auto& dg : object.identifier().dest_group_ids()) {
            s = RequireOwned(lufd::v1::OBJECT_KIND_DEST_GROUP, dg);
            if (!s.ok()) return s;
          }
        } else if (kind == lufd::v1::OBJECT_KIND_SED_GROUP) {
          for (const auto& dg : object.sed_group().dest_group_ids()) {
            s = RequireOwned(lufd::v1::OBJECT_KIND_DEST_GROUP, dg);
            if (!s.ok()) return s;
          }
          for (const auto& r : object.sed_group().records()) {
            s = RequireOwned(lufd::v1::OBJECT_KIND_SED_RECORD, r.record_id());
            if (!s.ok()) return s;
          }
        }
        break;
      }
      case lufd::v1::OBJECT_KIND_OFFER: {
        auto* offer = object.mutable_offer();
        auto s = RequireOwned(lufd::v1::OBJECT_KIND_SED_GROUP,
                              offer->sed_group_id());
        if (!s.ok()) return s;
        s = RequireOrg(offer->peer_org_id(), "peer");
        if (!s.ok()) return s;
        // The peer decides; a re-put keeps the decision already made.
        offer->set_status(existing != nullptr ? existing->offer().status()
                                              : lufd::v1::OFFER_STATUS_PENDING);
        break;
      }
      default:
        return absl::InvalidArgumentError("unknown object kind");
    }
    NoteChains(kind, object);
    Write(kind, key, std::move(object));
    return absl::OkStatus();
  }

  absl::Status Delete(const lufd::v1::ObjectRef& ref) {
    if (!ValidKind(ref.kind()) || ref.key().empty()) {
      return absl::InvalidArgumentError("delete needs a kind and a key");
    }
    const bool admin = rules_.actor().is_admin();
    bool own_space = false;
    if (!admin && ref.kind() == lufd::v1::OBJECT_KIND_IDENTIFIER) {
      // Holdings first: outside them, the answer is the fixed refusal
      // whether or not the identifier exists.
      if (std::optional<NumberBlock> block = BlockOfKey(ref.key())) {
        // Inside the caller's holding, the holding decides (a stale
        // identifier of a former holder may go too).
        std::optional<lufd::v1::Holding> h = InnermostHolding(view_, *block);
        auto s =
            rules_.CheckNumberSpace(h.has_value() ? h->registrant_id() : "",
                                    h.has_value() ? &*h : nullptr);
        if (!s.ok()) return s;
        own_space = true;
      }
    }
    const RegistryObject* o = Find(ref.kind(), ref.key());
    if (o != nullptr && own_space) return Cascade(ref.kind(), ref.key());
    if (o == nullptr || !rules_.CanRead(*o)) {
      return Unavailable(rules_.actor(), ref.kind(), ref.key(), o != nullptr,
                         own_space);
    }
    if (!rules_.CanWrite(*o)) {
      return Refused(absl::StrCat("may not delete ", KindName(ref.kind()), " ",
                                  QuoteForError(ref.key())));
    }
    if (ref.kind() == lufd::v1::OBJECT_KIND_HOLDING) {
      auto s = CheckHoldingDelete(ref.key(), o->holding());
      if (!s.ok()) return s;
    }
    return Cascade(ref.kind(), ref.key());
  }

  // The registrar's number-space rule (authz.h CheckNumberSpace) for an
  // identifier put: TN/range/prefix only (RN and URI identifiers are not
  // in the number space). Judged against the view: only admins write
  // holdings, and admins are not limited by them.
  absl::Status CheckNumberSpace(lufd::v1::IdentifierKind kind,
                                const std::string& key,
                                const std::string& registrant) {
    if (rules_.actor().is_admin() || !IsNumberSpaceKind(kind)) {
      return absl::OkStatus();
    }
    std::optional<NumberBlock> block = BlockOfKey(key);
    if (!block.has_value()) return Refused("unparsable identifier key");
    std::optional<lufd::v1::Holding> h = InnermostHolding(view_, *block);
    return rules_.CheckNumberSpace(registrant, h.has_value() ? &*h : nullptr);
  }

  // Holdings this batch may see that intersect `block`: the view's (a TN
  // meets only the holdings containing it; a range or prefix is checked
  // against every holding, O(holdings): admin writes only) and this
  // batch's own, by key, to be read in their current state with Find().
  std::vector<std::string> HoldingCandidates(const NumberBlock& block) {
    std::vector<std::string> keys;
    const bool single = !block.prefix && block.lo == block.hi;
    if (single) {
      for (const auto& h : view_.HoldingsAt(FirstNumber(block))) {
        keys.push_back(HoldingKey(h));
      }
    } else {
      view_.ForEach(lufd::v1::OBJECT_KIND_HOLDING,
                    [&](absl::string_view key, const RegistryObject& o) {
                      std::optional<NumberBlock> b = BlockOf(o.holding());
                      if (b.has_value() && b->Intersects(block)) {
                        keys.emplace_back(key);
                      }
                      return true;
                    });
    }
    keys.insert(keys.end(), batch_holdings_.begin(), batch_holdings_.end());
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
  }

  // The innermost holding other than `key` strictly containing `block`
  // (current state), or nullptr.
  const lufd::v1::Holding* EnclosingHolding(const std::string& key,
                                            const NumberBlock& block) {
    const lufd::v1::Holding* best = nullptr;
    std::optional<NumberBlock> best_block;
    for (const std::string& k : HoldingCandidates(block)) {
      if (k == key) continue;
      const RegistryObject* o = Find(lufd::v1::OBJECT_KIND_HOLDING, k);
      if (o == nullptr) continue;
      std::optional<NumberBlock> b = BlockOf(o->holding());
      if (!b.has_value() || !b->Contains(block)) continue;
      if (best == nullptr || best_block->Contains(*b)) {
        best = &o->holding();
        best_block = b;
      }
    }
    return best;
  }

  // A holding put (admin only; see registry.h "Holdings").
  absl::Status PutHolding(const std::string& key,
                          const RegistryObject* existing,
                          lufd::v1::Holding* h) {
    const RegistryObject* org =
        Find(lufd::v1::OBJECT_KIND_ORG, h->registrant_id());
    if (org == nullptr) {
      return absl::NotFoundError(absl::StrCat(
          "registrant org ", QuoteForError(h->registrant_id()), " not found"));
    }
    const auto& roles = org->org().roles();
    if (std::find(roles.begin(), roles.end(), lufd::v1::ORG_ROLE_REGISTRANT) ==
        roles.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "holding.registrant_id: org ", QuoteForError(h->registrant_id()),
          " does not have the registrant role"));
    }
    std::optional<NumberBlock> block = BlockOf(*h);
    if (!block.has_value()) {
      return absl::InvalidArgumentError("holding: not a block of numbers");
    }
    const bool port = h->ported();
    const lufd::v1::Holding* prior = existing ? &existing->holding() : nullptr;
    if (prior != nullptr && prior->registrant_id() != h->registrant_id() &&
        !port) {
      return absl::FailedPreconditionError(
          "the block is held by another registrant: port it (lufctl port)");
    }
    // Laminar: every other holding is disjoint from the block, inside it
    // or around it.
    const lufd::v1::Holding* enclosing = nullptr;
    std::optional<NumberBlock> enclosing_block;
    for (const std::string& k : HoldingCandidates(*block)) {
      if (k == key) continue;
      const RegistryObject* o = Find(lufd::v1::OBJECT_KIND_HOLDING, k);
      if (o == nullptr) continue;
      const lufd::v1::Holding& other = o->holding();
      std::optional<NumberBlock> b = BlockOf(other);
      if (!b.has_value() || !b->Intersects(*block)) continue;
      if (b->SameAs(*block)) {
        return absl::AlreadyExistsError(absl::StrCat(
            "the same numbers are already held as ", QuoteForError(k)));
      }
      if (b->Contains(*block)) {
        if (enclosing == nullptr || enclosing_block->Contains(*b)) {
          enclosing = &other;
          enclosing_block = b;
        }
      } else if (block->Contains(*b)) {
        // Wrapping someone else's holding would take their numbers; only
        // blocks carved out by a port may sit inside another's holding.
        if (other.registrant_id() != h->registrant_id() && !other.ported() &&
            prior == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("the block contains holding ", QuoteForError(k),
                           " of another registrant"));
        }
      } else {
        return absl::FailedPreconditionError(
            absl::StrCat("the block overlaps holding ", QuoteForError(k),
                         " partly (holdings nest or are disjoint)"));
      }
    }
    if (enclosing != nullptr &&
        enclosing->registrant_id() != h->registrant_id() && !port) {
      return absl::FailedPreconditionError(
          absl::StrCat("the block lies inside a holding of ",
                       QuoteForError(enclosing->registrant_id()),
                       ": port it (lufctl port) to carve it out"));
    }
    if (port) {
      h->set_ported(true);
      if (enclosing != nullptr &&
          enclosing->registrant_id() != h->registrant_id()) {
        h->set_ported_from(enclosing->registrant_id());
      } else if (prior != nullptr &&
                 prior->registrant_id() != h->registrant_id()) {
        h->set_ported_from(prior->registrant_id());
      } else if (prior != nullptr) {
        h->set_ported_from(prior->ported_from());
      }  // Else as given (an import of an exported port).
    } else {
      h->set_ported(prior != nullptr && prior->ported());
      h->set_ported_from(prior != nullptr ? prior->ported_from() : "");
    }
    if (prior != nullptr && prior->created_unix() != 0) {
      h->set_created_unix(prior->created_unix());
    } else if (h->created_unix() == 0) {
      h->set_created_unix(absl::ToUnixSeconds(absl::Now()));
    }
    batch_holdings_.push_back(key);
    return absl::OkStatus();
  }

  // A holding may go while no identifier of its registrant relies on it:
  // one lying (partly) in it, unless an enclosing holding of the same
  // registrant would still cover it.
  absl::Status CheckHoldingDelete(const std::string& key,
                                  const lufd::v1::Holding& h) {
    std::optional<NumberBlock> block = BlockOf(h);
    if (!block.has_value()) return absl::OkStatus();
    const lufd::v1::Holding* enclosing = EnclosingHolding(key, *block);
    if (enclosing != nullptr &&
        enclosing->registrant_id() == h.registrant_id()) {
      return absl::OkStatus();
    }
    // Without an enclosing holding the block would be held by nobody,
    // where every identifier answers (view.h): the stale identifiers of the
    // holder it was ported from would answer again, undoing the port.
    std::vector<std::string> owners = {h.registrant_id()};
    if (enclosing == nullptr && !h.ported_from().empty() &&
        h.ported_from() != h.registrant_id()) {
      owners.push_back(h.ported_from());
    }
    for (const std::string& owner : owners) {
      for (const auto& [rk, rkey] :
           Referrers(lufd::v1::OBJECT_KIND_ORG, owner)) {
        if (rk != lufd::v1::OBJECT_KIND_IDENTIFIER) continue;
        std::optional<NumberBlock> b = BlockOfKey(rkey);
        if (b.has_value() && b->Intersects(*block)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "identifier ", QuoteForError(rkey),
              owner == h.registrant_id()
                  ? " of the registrant"
                  : " of the former holder (answering again without "
                    "the holding)",
              " lies in this holding: delete it (or port the block) "
              "first"));
        }
      }
    }
    return absl::OkStatus();
  }

  // Deletes (kind, key) and what depends on it (registry.h). Recursion is
  // at most three deep: org -> its objects -> a SED group's offers.
  absl::Status Cascade(ObjectKind kind, const std::string& key) {
    if (Find(kind, key) == nullptr) return absl::OkStatus();  // Already gone.
    switch (kind) {
      case lufd::v1::OBJECT_KIND_ORG: {
        auto refs = Referrers(kind, key);
        for (const auto& [rk, rkey] : refs) {
          if (rk == lufd::v1::OBJECT_KIND_ORG) {
            return absl::FailedPreconditionError(
                "org is the registrar of other orgs; delete or move them "
                "first");
          }
        }
        // SED groups and identifiers first, so the dest group and record
        // cascades do not rewrite objects about to be deleted anyway.
        for (ObjectKind order :
             {lufd::v1::OBJECT_KIND_CREDENTIAL, lufd::v1::OBJECT_KIND_OFFER,
              lufd::v1::OBJECT_KIND_SED_GROUP, lufd::v1::OBJECT_KIND_IDENTIFIER,
              lufd::v1::OBJECT_KIND_DEST_GROUP,
              lufd::v1::OBJECT_KIND_SED_RECORD,
              lufd::v1::OBJECT_KIND_HOLDING}) {
          for (const auto& [rk, rkey] : refs) {
            if (rk != order) continue;
            if (rk == lufd::v1::OBJECT_KIND_HOLDING) {
              // The org's own identifiers are gone by now; a former
              // holder's must not answer again (CheckHoldingDelete).
              const RegistryObject* h = Find(rk, rkey);
              if (h != nullptr) {
                auto s = CheckHoldingDelete(rkey, h->holding());
                if (!s.ok()) return s;
              }
            }
            auto s = Cascade(rk, rkey);
            if (!s.ok()) return s;
          }
        }
        break;
      }
      case lufd::v1::OBJECT_KIND_DEST_GROUP:
        for (const auto& [rk, rkey] : Referrers(kind, key)) {
          RegistryObject updated = *Find(rk, rkey);
          auto* ids =
              rk == lufd::v1::OBJECT_KIND_IDENTIFIER
                  ? updated.mutable_identifier()->mutable_dest_group_ids()
                  : updated.mutable_sed_group()->mutable_dest_group_ids();
          ids->erase(std::remove(ids->begin(), ids->end(), key), ids->end());
          Write(rk, rkey, std::move(updated));
        }
        break;
      case lufd::v1::OBJECT_KIND_SED_RECORD:
        for (const auto& [rk, rkey] : Referrers(kind, key)) {
          if (rk != lufd::v1::OBJECT_KIND_SED_GROUP) continue;
          RegistryObject updated = *Find(rk, rkey);
          auto* recs = updated.mutable_sed_group()->mutable_records();
          recs->erase(std::remove_if(recs->begin(), recs->end(),
                                     [&](const lufd::v1::SedRecordRef& r) {
                                       return r.record_id() == key;
                                     }),
                      recs->end());
          Write(rk, rkey, std::move(updated));
        }
        break;
      case lufd::v1::OBJECT_KIND_SED_GROUP:
        for (const auto& [rk, rkey] : Referrers(kind, key)) {
          if (rk == lufd::v1::OBJECT_KIND_OFFER) Write(rk, rkey, std::nullopt);
        }
        break;
      default:
        break;
    }
    Write(kind, key, std::nullopt);
    return absl::OkStatus();
  }

  absl::Status Decide(const lufd::v1::OfferDecision& decision,
                      lufd::v1::OfferStatus status) {
    std::string key = OfferKey(decision.sed_group_id(), decision.peer_org_id());
    const RegistryObject* o = Find(lufd::v1::OBJECT_KIND_OFFER, key);
    if (o == nullptr || !rules_.CanRead(*o)) {
      return Unavailable(rules_.actor(), lufd::v1::OBJECT_KIND_OFFER, key,
                         o != nullptr, /*own_space=*/false);
    }
    if (!rules_.CanDecide(o->offer())) {
      return Refused("only the receiving side decides an offer");
    }
    RegistryObject updated = *o;
    updated.mutable_offer()->set_status(status);
    Write(lufd::v1::OBJECT_KIND_OFFER, key, std::move(updated));
    return absl::OkStatus();
  }

  const RegistryView& view_;
  AccessRules rules_;
  size_t current_op_ = 0;
  std::vector<ChainCheck> chain_checks_;
  // dest group -> SED groups this batch wrote on it (chain checks).
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>
      overlay_dg_groups_;
  std::deque<Entry> entries_;  // Deque: Find() pointers survive appends.
  absl::flat_hash_map<ObjKey, size_t> index_;  // Into entries_.
  // View objects read by this batch (nullptr = absent in the view).
  absl::flat_hash_map<ObjKey, std::unique_ptr<RegistryObject>> cache_;
  // target -> overlay objects that were written referring to it.
  absl::flat_hash_map<ObjKey, std::vector<ObjKey>> overlay_refs_;
  // TSIG key name -> credentials this batch wrote with it.
  absl::flat_hash_map<std::string, std::vector<std::string>> overlay_tsig_;
  // Keys of the holdings this batch put (laminarity within the batch).
  std::vector<std::string> batch_holdings_;
};

// Validates and normalizes every put of the batch, once for all commit
// attempts (it does not depend on the view). Validation is pure and is most
// of the cost of a bulk import (NAPTR regexps are compiled to be checked),
// so big batches spread it over the cores.
std::vector<absl::StatusOr<RegistryObject>> PreparePuts(
    const std::vector<lufd::v1::Operation>& operations) {
  std::vector<absl::StatusOr<RegistryObject>> out(operations.size());
  auto prepare = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      if (!operations[i].has_put()) continue;
      RegistryObject object = operations[i].put();
      absl::Status valid = ValidateAndNormalize(&object);
      if (valid.ok()) {
        out[i] = std::move(object);
      } else {
        out[i] = valid;
      }
    }
  };
  constexpr size_t kParallelThreshold = 4096;
  size_t workers = std::min<size_t>(std::thread::hardware_concurrency(), 8);
  if (operations.size() < kParallelThreshold || workers < 2) {
    prepare(0, operations.size());
    return out;
  }
  std::vector<std::thread> threads;
  size_t chunk = (operations.size() + workers - 1) / workers;
  for (size_t begin = chunk; begin < operations.size(); begin += chunk) {
    threads.emplace_back(prepare, begin,
                         std::min(begin + chunk, operations.size()));
  }
  prepare(0, std::min(chunk, operations.size()));
  for (auto& t : threads) t.join();
  return out;
}

}  // namespace

Registry::Registry(Store* store, ViewHolder* views, std::function<void()> nudge)
    : store_(store), views_(views), nudge_(std::move(nudge)) {}

void BatchErrors::Add(uint64_t index, absl::Status status) {
  ++total;
  if (kept.size() < max_kept) {
    kept.push_back({index, std::move(status)});
    return;
  }
  // Keep the lowest indices: chain-check errors arrive after the others.
  auto last =
      std::max_element(kept.begin(), kept.end(),
                       [](const OperationError& a, const OperationError& b) {
                         return a.index < b.index;
                       });
  if (last != kept.end() && index < last->index) {
    *last = {index, std::move(status)};
  }
}

void BatchErrors::Sort() {
  std::stable_sort(kept.begin(), kept.end(),
                   [](const OperationError& a, const OperationError& b) {
                     return a.index < b.index;
                   });
}

absl::Status BatchErrors::First() const {
  if (kept.empty()) return absl::OkStatus();
  const OperationError* first = &kept[0];
  for (const OperationError& e : kept) {
    if (e.index < first->index) first = &e;
  }
  return Prefix(first->index, first->status);
}

struct Registry::Validation::State {
  State(std::shared_ptr<const RegistryView> v, Identity a)
      : view(std::move(v)), actor(std::move(a)), plan(*view, actor) {}
  std::shared_ptr<const RegistryView> view;
  Identity actor;
  WritePlan plan;  // Reads view and actor: declared after them.
};

Registry::Validation::Validation(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
Registry::Validation::~Validation() = default;

void Registry::Validation::Add(
    const std::vector<lufd::v1::Operation>& operations, uint64_t first_index,
    BatchErrors* errors) {
  std::vector<absl::StatusOr<RegistryObject>> prepared =
      PreparePuts(operations);
  for (size_t i = 0; i < operations.size(); ++i) {
    absl::Status s =
        state_->plan.Run(first_index + i, operations[i], prepared[i]);
    if (!s.ok()) errors->Add(first_index + i, std::move(s));
  }
}

void Registry::Validation::Finish(BatchErrors* errors) {
  state_->plan.CheckChains(errors).IgnoreError();  // Errors go to `errors`.
  errors->Sort();
}

uint64_t Registry::Validation::changes() const {
  return state_->plan.CountChanges();
}

std::unique_ptr<Registry::Validation> Registry::StartValidation(
    const Identity& actor) const {
  return std::unique_ptr<Validation>(new Validation(
      std::make_unique<Validation::State>(views_->Current(), actor)));
}

absl::StatusOr<lufd::v1::WriteResponse> Registry::Execute(
    const Identity& actor, const std::vector<lufd::v1::Operation>& operations,
    const std::string& client_txn_id, const ExecuteOptions& options) {
  // Checked here, where every write (Put, Batch, Import, lufctl's local
  // mode) passes, before anything is evaluated.
  if (absl::Status s = ValidateClientTxnId(client_txn_id); !s.ok()) return s;
  if (options.validate_only) {
    // A dry run reads one view and writes nothing: no lock, no retry.
    std::unique_ptr<Validation> validation = StartValidation(actor);
    BatchErrors local;
    BatchErrors* errors = options.errors != nullptr ? options.errors : &local;
    errors->Clear();
    validation->Add(operations, 0, errors);
    validation->Finish(errors);
    if (!errors->empty()) return errors->First();
    lufd::v1::WriteResponse response;
    response.set_serial(validation->state_->view->serial());
    response.set_changes(static_cast<uint32_t>(validation->changes()));
    return response;
  }
  std::vector<absl::StatusOr<RegistryObject>> prepared =
      PreparePuts(operations);
  absl::MutexLock write_lock(&write_mu_);
  absl::Status last_error;
  for (int attempt = 0; attempt < kMaxCommitAttempts; ++attempt) {
    // Puts moved their objects out on the previous attempt; re-runs are
    // rare (conflicts, stale views), so they pay for validating again.
    if (attempt > 0) prepared = PreparePuts(operations);
    // Where this attempt commits (and reads the latest serial from): a
    // standby refuses before any work is done.
    Store* target = store_;
    if (router_ != nullptr) {
      absl::StatusOr<Store*> routed = router_->ForWrite();
      if (!routed.ok()) return routed.status();
      target = *routed;
    }
    std::shared_ptr<const RegistryView> view = views_->Current();
    WritePlan plan(*view, actor);
    absl::Status failed;
    if (options.errors != nullptr) {
      // Every failing operation, then every failing chain; the first is
      // returned.
      options.errors->Clear();
      for (size_t i = 0; i < operations.size(); ++i) {
        absl::Status s = plan.Run(i, operations[i], prepared[i]);
        if (!s.ok()) options.errors->Add(i, std::move(s));
      }
      plan.CheckChains(options.errors).IgnoreError();
      options.errors->Sort();
      failed = options.errors->First();
    } else {
      for (size_t i = 0; i < operations.size() && failed.ok(); ++i) {
        absl::Status s = plan.Run(i, operations[i], prepared[i]);
        if (!s.ok()) failed = Prefix(i, s);
      }
      if (failed.ok()) failed = plan.CheckChains(nullptr);
    }
    if (!failed.ok()) {
      // The error may come from a stale view (another instance wrote what
      // this batch refers to): re-evaluate once the view has caught up.
      // Only errors pay for this store round trip.
      absl::StatusOr<uint64_t> latest = target->LatestSerial();
      if (attempt + 1 < kMaxCommitAttempts && latest.ok() &&
          *latest > view->serial()) {
        if (nudge_) nudge_();
        views_->WaitForSerial(*latest, kViewWait);
        last_error = failed;
        continue;
      }
      return failed;
    }
    CommitRequest request;
    request.mutations = plan.TakeMutations();
    lufd::v1::WriteResponse response;
    if (request.mutations.empty()) {
      response.set_serial(view->serial());
      return response;
    }
    request.expected_serial = view->serial();
    request.actor = actor.AuditName();
    request.client_txn_id = client_txn_id;
    const size_t count = request.mutations.size();
    absl::StatusOr<uint64_t> serial = target->Commit(request);
    if (router_ != nullptr) router_->Report(target, serial.status());
    // Written (or refused): free the before/after images now, not after the
    // wait below, while the follower reads the same change back.
    std::vector<Mutation>().swap(request.mutations);
    if (serial.ok()) {
      if (nudge_) nudge_();
      // Read-your-writes, bounded: the commit stands even if the follower
      // is slow.
      views_->WaitForSerial(*serial, kViewWait);
      response.set_serial(*serial);
      response.set_changes(static_cast<uint32_t>(count));
      return response;
    }
    if (router_ != nullptr && target == store_ &&
        IsReadOnlyStoreError(serial.status()) &&
        attempt + 1 < kMaxCommitAttempts) {
      // The local store turned out to be a standby (demoted): the router
      // knows now; go again, to the primary or to the refusal.
      last_error = serial.status();
      continue;
    }
    if (serial.status().code() != absl::StatusCode::kAborted) {
      return serial.status();
    }
    // Someone else committed after our view: wait until the follower has
    // their change, then re-evaluate the whole batch on the fresher view.
    last_error = serial.status();
    absl::StatusOr<uint64_t> latest = target->LatestSerial();
    if (nudge_) nudge_();
    views_->WaitForSerial(latest.ok() ? *latest : view->serial() + 1,
                          kViewWait);
  }
  return absl::AbortedError(
      absl::StrCat("gave up after ", kMaxCommitAttempts,
                   " concurrent-write conflicts: ", last_error.message()));
}

absl::StatusOr<lufd::v1::RegistryObject> Registry::Get(
    const Identity& actor, lufd::v1::ObjectKind kind,
    const std::string& key) const {
  std::shared_ptr<const RegistryView> view = views_->Current();
  std::optional<RegistryObject> object = view->Get(kind, key);
  ViewAccess access(*view, actor);
  if (!object.has_value() || !access.CanRead(*object)) {
    return Unavailable(
        actor, kind, key, object.has_value(),
        !object.has_value() && InOwnHoldings(*view, access.rules(), kind, key));
  }
  RedactSecrets(actor, &*object);
  return *std::move(object);
}

}  // namespace lufd
