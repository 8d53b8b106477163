// Sign-ahead: the background signer that keeps an RRSIG for every positive
// TN RRset in the Store, and the polling that brings those signatures into
// every instance's SignatureCache.
//
// One SignAheadSigner per lufd process. All instances poll
// Store::ScanSignatures into their local SignatureCache (about every
// second) and evict expired entries. Only the instance holding the signer
// lease (Store::TryAcquireSignerLease: a PostgreSQL advisory lock; on
// SQLite/memory the first caller) also signs: after every new view serial
// (debounced) and periodically, it walks the view's TNs, computes for each
// viewer class (anonymous and every org with role peer) the NAPTR RRset the
// responder would serve, dedupes identical RRsets by RrsetHash, and signs
// what has no signature by an ACTIVE zone-signing key or one expiring within
// `refresh_before`, writing batches through Store::PutSignatures and into
// the local SignatureCache. Ranges and prefixes are not signed ahead: their
// answers are synthesized per query and signed on demand (SignatureLru).
//
// The responder computes exactly the same key, SignatureKey(owner, type,
// RrsetHash(type, ttl, rdatas), key_tag), from the same rdata encoding
// (NaptrRdataFrom below), so a signature made here is found there.
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

// Signs one RRset with `key` (its tag `key_tag`) for zone `apex_wire`:
// inception = now - inception_offset, expiration = now + validity - a
// random part of jitter (so that a whole registry signed at once does not
// expire at once). `owner_lower_wire` and `rdatas` are what is served.
absl::StatusOr<CompactRrsig> MakeRrsig(
    const SigningKey& key, uint16_t key_tag, std::string_view apex_wire,
    std::string_view owner_lower_wire, uint16_t type, uint32_t ttl,
    absl::Span<const std::string> rdatas, const DnssecTiming& timing,
    absl::Time now);

// The DNS RDATA of a NAPTR / URI record from the view (the replacement
// name as provisioned, uncompressed). False when the record cannot be
// encoded (bad replacement name); it is then left out of the answer.
// Reuses `out`'s capacity.
bool NaptrRdataFrom(const lufd::v1::NaptrRecord& naptr, std::string* out);
bool UriRdataFrom(const lufd::v1::UriRecord& uri, std::string* out);

// "+12025556666" -> "6.6.6.6.5.5.5.2.0.2.1.<apex>" in lowercase wire form.
std::string EnumOwner(std::string_view e164, std::string_view apex_wire);

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
  // Responder::zone_names() returns them. INVALID_ARGUMENT on bad timing.
  static absl::StatusOr<std::unique_ptr<SignAheadSigner>> Create(
      const lufd::v1::DnssecConfig& config, std::vector<std::string> zones,
      Store* store, const ViewHolder* views, const KeyRing* keys,
      SignatureCache* signatures);
  ~SignAheadSigner();  // Stops.

  // Full scan of the Store's signatures into the SignatureCache. Call once
  // before DNS starts serving; Start() then polls from where it ended.
  absl::Status LoadAll();
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

  // The owner of the Store row that records the last completed pass (not a
  // DNS name: its first "label" would be 255 octets long). Instances skip
  // it when loading signatures.
  static const std::string& CheckpointOwner();

 private:
  // What the last completed pass covered, kept as one row of the Store's
  // signature table so that a restart need not walk the registry again: a
  // full walk of 1M TNs per viewer class costs seconds of the CPU that
  // serves queries. Deleting the signatures deletes it too.
  struct Checkpoint {
    uint64_t serial = 0;         // Every TN at this view serial was covered...
    int64_t full_pass_unix = 0;  // ...and the last full walk ended then...
    std::string keys;            // ...with these zone-signing keys.
  };

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
  void PutCheckpoint(const Checkpoint& checkpoint);
  void ReadCheckpoint(const StoredSignature& row);
  // A stored row as a SignatureCache entry (key, compact RRSIG); nullopt
  // for the checkpoint row (read here instead), malformed rows and rows
  // expired at `now`.
  std::optional<std::pair<uint64_t, CompactRrsig>> EntryOf(
      const StoredSignature& row, uint32_t now);

  lufd::v1::DnssecConfig config_;
  DnssecTiming timing_;
  std::vector<std::string> zones_;
  Store* store_ = nullptr;
  const ViewHolder* views_ = nullptr;
  const KeyRing* keys_ = nullptr;
  SignatureCache* signatures_ = nullptr;
  int sign_threads_ = 1;

  std::atomic<bool> is_signer_{false};
  SignerStats stats_;
  uint64_t scanned_seq_ = 0;  // Only the thread (or LoadAll before Start).
  // The newest checkpoint row seen by LoadAll or a poll (the thread, or
  // LoadAll before Start); consulted when this instance takes the lease.
  std::optional<Checkpoint> checkpoint_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_SIGNER_H_
