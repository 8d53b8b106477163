// RegistryView: an immutable in-memory snapshot of the whole registry at one
// serial, and the resolution rules that answer Lookup and DNS from it.
//
// Views are never modified. Apply() returns a new view that shares every
// unchanged part with its base (copy-on-write shards), so publishing the next
// serial costs time proportional to the change, not to the registry. Readers
// hold a std::shared_ptr<const RegistryView> and are never blocked by
// writers. All const methods are thread-safe.
//
// Resolution for a number N and viewer V: the most specific identifier
// covering N (TN, then the narrowest range, then the longest prefix); its
// destination groups; the in-service SED groups on them that V may see
// (public, or offered to V's org and accepted, or owned by V's org; an admin
// sees all); their in-service records, plus the identifier's inline records
// when at least one group was visible. NAPTRs ordered by (order,
// preference), then URI records by (priority, weight), then NS. Not found and
// not visible give the same empty answer, by the same path (the same probes
// and one visibility decision: see ResolveWork), so that neither the answer
// nor its latency tells which. Only identifiers of the holder of the
// innermost holding containing N take part (see HolderOf).
#ifndef LUFD_SERVER_CORE_VIEW_H_
#define LUFD_SERVER_CORE_VIEW_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lufd/v1/lookup.pb.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/identity.h"

namespace lufd {

struct Resolution {
  bool found = false;
  std::string normalized;  // "+12025556666" or the URI.
  std::vector<lufd::v1::SedAnswer> records;
};

// One record of a resolution by reference, for hot paths that encode it
// straight to the wire instead of copying it into a SedAnswer.
struct RecordRef {
  const lufd::v1::SedRecord* record = nullptr;  // In service; NAPTR/URI/NS.
  uint32_t ttl = 0;  // The record's TTL, or the default when it has none.
};

class RegistryView {
 public:
  class Builder;
  virtual ~RegistryView() = default;

  static std::shared_ptr<const RegistryView> Empty();

  virtual uint64_t serial() const = 0;

  // A new view with `changes` applied (serials > serial(), in order; the
  // result's serial is the last change's). INTERNAL on a malformed change.
  virtual absl::StatusOr<std::shared_ptr<const RegistryView>> Apply(
      const std::vector<lufd::v1::Change>& changes) const = 0;

  virtual std::optional<lufd::v1::RegistryObject> Get(
      lufd::v1::ObjectKind kind, absl::string_view key) const = 0;
  virtual size_t Count(lufd::v1::ObjectKind kind) const = 0;
  // Every object of a kind, in unspecified order; stop early by returning
  // false from fn.
  virtual void ForEach(
      lufd::v1::ObjectKind kind,
      const std::function<bool(absl::string_view key,
                               const lufd::v1::RegistryObject&)>& fn) const = 0;

  // The enabled credential matching a verified certificate: by SPKI SHA-256
  // (lowercase hex) and/or any of its SAN URIs (both must match when the
  // credential names both). nullopt when none, or it or its org is disabled.
  virtual std::optional<lufd::v1::Credential> FindCredential(
      absl::string_view spki_sha256,
      const std::vector<std::string>& san_uris) const = 0;

  // Keys of objects that reference `key` of `kind` (for cascades and
  // integrity checks): identifiers and SED groups on a destination group,
  // SED groups using a record, offers of a group or to a peer org,
  // credentials of an org, and objects whose registrant is an org.
  virtual std::vector<std::pair<lufd::v1::ObjectKind, std::string>> Referrers(
      lufd::v1::ObjectKind kind, absl::string_view key) const = 0;

  // Ids of the SED groups on a destination group, in unspecified order:
  // Referrers() without the identifiers, which can be millions on one
  // destination group (the write path's NAPTR chain check needs only these).
  virtual std::vector<std::string> SedGroupsOn(
      absl::string_view dest_group_id) const = 0;

  // True when some TN, range or prefix lies strictly below the ENUM name of
  // `digits` ("+1202" -> any identifier with more digits starting 1202),
  // whoever may see it. A range counts for every proper prefix of its first
  // and last numbers (and, in between, for every name its numbers lie
  // below). O(digits). Not for answers: see HasVisibleIdentifiersBelow.
  virtual bool HasIdentifiersBelow(absl::string_view e164_prefix) const = 0;

  // HasIdentifiersBelow as `viewer` sees it: true when some TN, range or
  // prefix below the name resolves to something for `viewer` (exactly
  // when ResolveNumber would find it). DNS answers a name that resolves to
  // nothing itself as an empty non-terminal (NODATA) when this holds, else
  // as nonexistent: so a name above data the viewer may not see answers
  // exactly like a name above nothing, while a name above data it may see
  // stays an ENT (RFC 8020 resolvers would otherwise cut the subtree off).
  // O(digits + destination groups with something below the name); no
  // allocation once the calling thread's per-view memo has grown.
  virtual bool HasVisibleIdentifiersBelow(absl::string_view e164_prefix,
                                          const Identity& viewer) const = 0;

  // The enabled credential whose tsig_key_name equals `key_name`
  // (lowercase presentation form with the trailing dot), with an enabled
  // org; nullopt otherwise.
  virtual std::optional<lufd::v1::Credential> FindTsigCredential(
      absl::string_view key_name) const = 0;

  // Ids of every credential (enabled or not) whose tsig_key_name equals
  // `key_name`: at most one in a consistent registry. For the write path's
  // uniqueness check.
  virtual std::vector<std::string> CredentialsWithTsigKey(
      absl::string_view key_name) const = 0;

  // e164 must be normalized ("+..."). See the class comment.
  virtual Resolution ResolveNumber(absl::string_view e164,
                                   const Identity& viewer) const = 0;
  virtual Resolution ResolveUri(absl::string_view uri,
                                const Identity& viewer) const = 0;

  // ResolveNumber without copies, for the DNS hot path and the signer's
  // walk: the same records in the same order into `out` (cleared first);
  // returns `found`. The pointers stay valid while this view lives and
  // until the calling thread's next ResolveNumberRefs (a TN's inline
  // records are decoded into per-thread scratch). No allocation once the
  // thread's scratch has grown.
  virtual bool ResolveNumberRefs(absl::string_view e164, const Identity& viewer,
                                 std::vector<RecordRef>* out) const = 0;

  // ---- Holdings (registry.proto Holding, holdings.h) ----
  // Resolution honours them: a TN, range or prefix identifier answers for
  // number N only when no holding contains N, or its registrant holds the
  // innermost holding containing N (so a ported number stops answering
  // from the block it was carved from at once, and answers from its new
  // holder's identifiers).

  // The registrant of the innermost holding containing the number `e164`
  // ("+" and 1..15 digits), or "" when none does. Points into this view.
  // No allocation: on the resolution hot path.
  virtual absl::string_view HolderOf(absl::string_view e164) const = 0;

  // Every holding containing the number `e164`, innermost first (holdings
  // are laminar, so this is a chain of nested blocks).
  virtual std::vector<lufd::v1::Holding> HoldingsAt(
      absl::string_view e164) const = 0;
};

// The work this thread's number and URI resolutions have done so far
// (counts since the thread started). Resolution takes one path up to its
// visibility decision whatever it finds, so that an identifier the viewer
// may not see costs exactly what a missing one costs (no timing oracle);
// tests compare these counts across the two instead of timing them.
struct ResolveWork {
  uint64_t tn_probes = 0;          // TN table look-ups.
  uint64_t tn_decodes = 0;         // Scans of a TN's (or the stand-in's)
                                   // destination groups.
  uint64_t range_searches = 0;     // Narrowest-range searches.
  uint64_t prefix_probes = 0;      // Prefix-table look-ups.
  uint64_t uri_probes = 0;         // URI look-ups.
  uint64_t group_evaluations = 0;  // Visibility decisions (SED groups of an
                                   // identifier for a viewer class).
  bool operator==(const ResolveWork&) const = default;
};
ResolveWork ThisThreadResolveWork();

class RegistryView::Builder {
 public:
  Builder();
  ~Builder();
  void Add(lufd::v1::ObjectKind kind, absl::string_view key,
           const lufd::v1::RegistryObject& object);
  std::shared_ptr<const RegistryView> Build(uint64_t serial) &&;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Holds the current view. Publish() by the follower; Current() by readers
// (lock-free for readers); WaitForSerial() for read-your-writes.
class ViewHolder {
 public:
  ViewHolder();
  std::shared_ptr<const RegistryView> Current() const;
  void Publish(std::shared_ptr<const RegistryView> view);
  // True once a view with serial >= `serial` is current; false on timeout.
  bool WaitForSerial(uint64_t serial, absl::Duration timeout) const;

 private:
  std::atomic<std::shared_ptr<const RegistryView>> current_;
  mutable absl::Mutex mu_;
  uint64_t published_serial_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_VIEW_H_
