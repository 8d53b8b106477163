// Sign-ahead: the background signer that keeps an RRSIG for every positive
// TN RRset in the Store, and the polling that brings those signatures into
// every instance's SignatureCache.
//
// One SignAheadSigner per lufd process. All instances poll the Store's
// SignatureTable (storage/signature_table.h) into their local
// SignatureCache (about every second) and evict expired entries. Only the
// instance holding the signer lease (SignatureTable::TryAcquireSignerLease:
// a PostgreSQL advisory lock; on SQLite/memory the first caller) also
// signs: after every new view serial
// (debounced) and periodically, it walks the view's TNs, computes for each
// viewer class (anonymous and every org with role peer) the NAPTR RRset the
// responder would serve, dedupes identical RRsets by RrsetHash, and signs
// what has no signature by an ACTIVE zone-signing key or one expiring within
// `refresh_before`, writing batches through PutSignatures and into
// the local SignatureCache. Ranges and prefixes are not signed ahead: their
// answers are synthesized per query and signed on demand (SignatureLru).
//
// The responder computes exactly the same key, SignatureKey(owner, type,
// RrsetHash(type, ttl, rdatas), key_tag), from the same owner and RDATA
// encoding (EnumOwner, NaptrRdataFrom in rdata.h), so a signature made here
// is found there. Signatures are made by MakeRrsig (rrsig.h).
//
// Multi-signer (docs/dns.md "Several instances"): whatever the lease, an
// instance that holds a published KSK's (or CSK's) private key also keeps
// a stored RRSIG over the zone's current DNSKEY RRset by that key
// (SignDnskeyRrsets), so instances without the KSK serve the DNSKEY RRset
// signed: the responder takes it from the SignatureCache.
//
// Thread-safety: Start/Stop from one thread; LoadAll before Start; stats
// and IsSigner from anywhere. The signer owns its threads; every pointer
// passed to Create must outlive it.
#ifndef LUFD_SERVER_DNS_SIGNER_H_
#define LUFD_SERVER_DNS_SIGNER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "lufd/v1/config.pb.h"
#include "lufd/v1/lookup.pb.h"
#include "server/core/view.h"
#include "server/dns/keyring.h"
#include "server/dns/sigcache.h"
#include "storage/store.h"
#include "storage/write_router.h"

namespace lufd::dns {

// Signature timing from a DnssecConfig with defaults applied
// (server/ops/config.h); FromConfig checks it with ValidateDnssecConfig.
struct DnssecTiming {
  absl::Duration validity;
  absl::Duration refresh_before;
  absl::Duration inception_offset;
  absl::Duration jitter;
  static absl::StatusOr<DnssecTiming> FromConfig(
      const lufd::v1::DnssecConfig& config);
};

struct SignerStats {
  std::atomic<uint64_t> passes{0};              // Full walks completed.
  std::atomic<uint64_t> incremental_passes{0};  // Over changed TNs only.
  // Start-up walks not needed: the Store's checkpoint matched.
  std::atomic<uint64_t> start_passes_skipped{0};
  std::atomic<uint64_t> rrsets_seen{0};   // Distinct RRsets, last pass.
  std::atomic<uint64_t> signed_total{0};  // Signatures made.
  std::atomic<uint64_t> loaded_total{0};  // Signatures read from the Store.
  std::atomic<uint64_t> evicted_total{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<int64_t> last_pass_micros{0};
};

class SignAheadSigner {
 public:
  // `zones` are the configured apexes (lowercase wire), as
  // Responder::zone_names() returns them; `dnskey_ttls` their DNSKEY TTLs
  // (dns.zones[i].ttl, as the responder serves them; 3600 where missing).
  // INVALID_ARGUMENT on bad timing.
  static absl::StatusOr<std::unique_ptr<SignAheadSigner>> Create(
      const lufd::v1::DnssecConfig& config, std::vector<std::string> zones,
      Store* store, const ViewHolder* views, const KeyRing* keys,
      SignatureCache* signatures, std::vector<uint32_t> dnskey_ttls = {});
  ~SignAheadSigner();  // Stops.

  // Full scan of the Store's signatures into the SignatureCache. Call once
  // before DNS starts serving; Start() then polls from where it ended.
  absl::Status LoadAll();
  // Where the lease is taken and signatures and the checkpoint are written
  // (storage/write_router.h): the primary's table when this instance's
  // store is a standby with store.primary_url; none (no lease tried) on a
  // standby without one; the local table again once it is promoted, within
  // kLeaseRetry. Null (the default): always the store's own table. Set
  // before Start(); must outlive the signer.
  void set_write_router(WriteRouter* router) { router_ = router; }
  void Start();
  void Stop();
  bool IsSigner() const { return is_signer_.load(); }
  const SignerStats& stats() const { return stats_; }

  // One synchronous full sign-ahead pass over the current view (what the
  // signer thread does on a full trigger); returns how many signatures it
  // made. For tests and the bench; needs no lease; writes no checkpoint.
  absl::StatusOr<uint64_t> SignPassForTest() {
    return SignPass(*views_->Current(), nullptr);
  }

  // For every zone and every published KSK/CSK whose private key is here:
  // an RRSIG over the current DNSKEY RRset, unless the SignatureCache has
  // one valid beyond now + refresh_before; written to the SignatureTable
  // (then into the local cache). Returns how many it made. The signer
  // thread calls it every round, lease or not; public for tests.
  absl::StatusOr<uint64_t> SignDnskeyRrsets(absl::Time now);
  // PollOnce, for tests: brings new stored rows into the SignatureCache.
  void PollForTest() { PollOnce(); }

 private:
  SignAheadSigner() = default;
  void Run();
  void PollOnce();
  // Signs what `view` needs: every TN, or only the TNs in `only_tns`
  // (normalized "+..." values; ones not in the view are skipped).
  absl::StatusOr<uint64_t> SignPass(
      const RegistryView& view,
      const absl::flat_hash_set<std::string>* only_tns);
  // The TNs changed in (after_serial, upto_serial] when only TN
  // identifiers (and objects that cannot change a TN's NAPTR set) changed;
  // nullopt when a full walk is needed (an org, group, record or offer
  // changed, too many changes, or the log cannot be read).
  std::optional<absl::flat_hash_set<std::string>> ChangedTns(
      uint64_t after_serial, uint64_t upto_serial);
  // "apex:tag,tag;..." of the zone-signing keys with a private key here.
  std::string SignerKeys() const;
  // Records what the pass just completed covered (SignerCheckpoint), so
  // that the next lease holder need not walk the registry again.
  void PutCheckpoint(const SignerCheckpoint& checkpoint);
  // The stored checkpoint, read when this instance takes the lease; nullopt
  // when there is none or it cannot be read (then a full walk follows).
  std::optional<SignerCheckpoint> ReadCheckpoint();
  // A stored row as a SignatureCache entry (key, compact RRSIG); nullopt
  // for malformed rows and rows expired at `now`.
  static std::optional<std::pair<uint64_t, CompactRrsig>> EntryOf(
      const StoredSignature& row, uint32_t now);

  lufd::v1::DnssecConfig config_;
  DnssecTiming timing_;
  std::vector<std::string> zones_;
  std::vector<uint32_t> dnskey_ttls_;  // Parallel to zones_.
  Store* store_ = nullptr;           // The change log (ChangedTns).
  SignatureTable* table_ = nullptr;  // store_->Signatures().
  WriteRouter* router_ = nullptr;
  // Where writes go: table_, or the table the lease was taken on.
  std::atomic<SignatureTable*> write_table_{nullptr};
  const ViewHolder* views_ = nullptr;
  const KeyRing* keys_ = nullptr;
  SignatureCache* signatures_ = nullptr;
  int sign_threads_ = 1;

  std::atomic<bool> is_signer_{false};
  SignerStats stats_;
  uint64_t scanned_seq_ = 0;  // Only the thread (or LoadAll before Start).

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_SIGNER_H_
