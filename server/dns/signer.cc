#include "server/dns/signer.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "server/dns/dnssec.h"
#include "server/dns/rdata.h"
#include "server/dns/rrsig.h"
#include "server/dns/wire.h"
#include "server/ops/config.h"
#include "spdlog/spdlog.h"

namespace lufd::dns {
namespace {

constexpr size_t kBatch = 10000;
constexpr absl::Duration kPollInterval = absl::Seconds(1);
constexpr absl::Duration kLeaseRetry = absl::Seconds(5);
constexpr absl::Duration kDebounce = absl::Milliseconds(200);
constexpr absl::Duration kDebounceMax = absl::Seconds(2);
constexpr absl::Duration kPeriodicPass = absl::Hours(1);
constexpr absl::Duration kEvictInterval = absl::Minutes(1);

// More changed TNs than this: walk everything instead.
constexpr size_t kMaxIncrementalTns = 100000;

// Sign-ahead is background work: under a query flood the serving threads
// come first (nice 10 gets about a tenth of a core contended with nice-0
// threads). Threads the signer starts inherit it.
void LowerThisThreadsPriority() {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10) !=
      0) {
    spdlog::debug("dns: could not lower the signer's priority");
  }
}

}  // namespace

absl::StatusOr<DnssecTiming> DnssecTiming::FromConfig(
    const lufd::v1::DnssecConfig& config) {
  RETURN_IF_ERROR(ValidateDnssecConfig(config));
  DnssecTiming t;
  t.validity = ConfigDuration(config.signature_validity());
  t.refresh_before = ConfigDuration(config.refresh_before());
  t.inception_offset = ConfigDuration(config.inception_offset());
  t.jitter = ConfigDuration(config.jitter());
  return t;
}

// ---------------------------------------------------------------- signer

absl::StatusOr<std::unique_ptr<SignAheadSigner>> SignAheadSigner::Create(
    const lufd::v1::DnssecConfig& config, std::vector<std::string> zones,
    Store* store, const ViewHolder* views, const KeyRing* keys,
    SignatureCache* signatures, std::vector<uint32_t> dnskey_ttls) {
  if (store == nullptr || views == nullptr || keys == nullptr ||
      signatures == nullptr) {
    return absl::InvalidArgumentError("SignAheadSigner: null dependency");
  }
  auto timing = DnssecTiming::FromConfig(config);
  if (!timing.ok()) return timing.status();
  std::unique_ptr<SignAheadSigner> s(new SignAheadSigner());
  s->config_ = config;
  s->timing_ = *timing;
  s->zones_ = std::move(zones);
  s->dnskey_ttls_ = std::move(dnskey_ttls);
  s->store_ = store;
  s->table_ = store->Signatures();
  s->write_table_.store(s->table_);
  s->views_ = views;
  s->keys_ = keys;
  s->signatures_ = signatures;
  s->sign_threads_ = static_cast<int>(config.sign_threads());
  return s;
}

SignAheadSigner::~SignAheadSigner() { Stop(); }

std::optional<std::pair<uint64_t, CompactRrsig>> SignAheadSigner::EntryOf(
    const StoredSignature& row, uint32_t now) {
  uint16_t covered = 0;
  std::optional<CompactRrsig> compact =
      CompactFromRdata(row.rrsig_rdata, &covered);
  if (!compact || compact->expiration <= now) return std::nullopt;
  return std::make_pair(
      SignatureKey(row.owner, covered, row.rrset_hash, row.key_tag), *compact);
}

absl::Status SignAheadSigner::LoadAll() {
  const uint32_t now = static_cast<uint32_t>(absl::ToUnixSeconds(absl::Now()));
  uint64_t loaded = 0;
  absl::StatusOr<uint64_t> seq = 0;
  // In one InsertMany: a million rows fill the store's tables sized once.
  signatures_->InsertMany([&](SignatureCache::AddFn add) {
    seq = table_->ScanSignatures(0, [&](const StoredSignature& sig) {
      if (auto entry = EntryOf(sig, now)) {
        add(entry->first, entry->second);
        ++loaded;
      }
    });
  });
  if (!seq.ok()) {
    if (absl::IsUnimplemented(seq.status())) {
      spdlog::warn(
          "dns: this store keeps no signatures ({}); signing on "
          "demand only",
          seq.status().ToString());
      return absl::OkStatus();
    }
    return seq.status();
  }
  scanned_seq_ = *seq;
  stats_.loaded_total.fetch_add(loaded);
  return absl::OkStatus();
}

void SignAheadSigner::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (thread_.joinable()) return;
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void SignAheadSigner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  is_signer_.store(false);
}

absl::StatusOr<uint64_t> SignAheadSigner::SignDnskeyRrsets(absl::Time now) {
  const int64_t keep_until =
      absl::ToUnixSeconds(now) + absl::ToInt64Seconds(timing_.refresh_before);
  std::vector<StoredSignature> rows;
  std::vector<std::pair<uint64_t, CompactRrsig>> made;
  for (size_t i = 0; i < zones_.size(); ++i) {
    const std::string& apex = zones_[i];
    auto zk = keys_->Get(apex);
    if (zk == nullptr || zk->dnskey_signers.empty() || zk->published.empty()) {
      continue;
    }
    const uint32_t ttl = i < dnskey_ttls_.size() ? dnskey_ttls_[i] : 3600;
    std::vector<std::string> rdatas;
    for (const ZoneKey& k : zk->published) rdatas.push_back(k.dnskey_rdata);
    const uint64_t hash = RrsetHash(kTypeDNSKEY, ttl, rdatas);
    for (const ZoneKey& k : zk->dnskey_signers) {
      if (k.private_key == nullptr) continue;
      const uint64_t key = SignatureKey(apex, kTypeDNSKEY, hash, k.key_tag);
      auto have = signatures_->Find(key);
      if (have && static_cast<int64_t>(have->expiration) > keep_until) {
        continue;
      }
      auto sig = MakeRrsig(*k.private_key, k.key_tag, apex, apex, kTypeDNSKEY,
                           ttl, rdatas, timing_, now);
      if (!sig.ok()) {
        stats_.errors.fetch_add(1);
        continue;
      }
      StoredSignature row;
      row.owner = apex;
      row.type_covered = kTypeDNSKEY;
      row.rrset_hash = hash;
      row.key_tag = k.key_tag;
      row.rrsig_rdata = RdataFromCompact(*sig, kTypeDNSKEY, apex);
      row.expiration_unix = sig->expiration;
      rows.push_back(std::move(row));
      made.emplace_back(key, *sig);
    }
  }
  if (rows.empty()) return 0;
  absl::Status put = write_table_.load()->PutSignatures(rows);
  if (!put.ok() && !absl::IsUnimplemented(put)) return put;
  // Cached here only once stored, so a failed write is retried.
  for (const auto& [key, sig] : made) signatures_->Insert(key, sig);
  stats_.signed_total.fetch_add(rows.size());
  return rows.size();
}

void SignAheadSigner::PollOnce() {
  const uint32_t now = static_cast<uint32_t>(absl::ToUnixSeconds(absl::Now()));
  uint64_t loaded = 0;
  auto seq =
      table_->ScanSignatures(scanned_seq_, [&](const StoredSignature& sig) {
        if (auto entry = EntryOf(sig, now)) {
          signatures_->Insert(entry->first, entry->second);
          ++loaded;
        }
      });
  if (seq.ok()) {
    scanned_seq_ = *seq;
    stats_.loaded_total.fetch_add(loaded);
  }
}

std::optional<SignerCheckpoint> SignAheadSigner::ReadCheckpoint() {
  auto checkpoint = write_table_.load()->ReadSignerCheckpoint();
  if (!checkpoint.ok()) {
    if (!absl::IsUnimplemented(checkpoint.status())) {
      spdlog::warn("dns: reading the sign-ahead checkpoint: {}",
                   checkpoint.status().ToString());
    }
    return std::nullopt;
  }
  return *std::move(checkpoint);
}

std::string SignAheadSigner::SignerKeys() const {
  std::string out;
  for (const std::string& apex : zones_) {
    auto zk = keys_->Get(apex);
    if (zk == nullptr) continue;
    std::vector<uint16_t> tags;
    for (const auto& k : zk->zone_signers) {
      if (k.private_key != nullptr) tags.push_back(k.key_tag);
    }
    if (tags.empty()) continue;
    std::sort(tags.begin(), tags.end());
    absl::StrAppend(&out, out.empty() ? "" : ";", NameToText(apex), ":",
                    absl::StrJoin(tags, ","));
  }
  return out;
}

void SignAheadSigner::PutCheckpoint(const SignerCheckpoint& c) {
  absl::Status put = write_table_.load()->WriteSignerCheckpoint(c);
  if (!put.ok() && !absl::IsUnimplemented(put)) {
    spdlog::warn("dns: writing the sign-ahead checkpoint: {}", put.ToString());
  }
}

std::optional<absl::flat_hash_set<std::string>> SignAheadSigner::ChangedTns(
    uint64_t after_serial, uint64_t upto_serial) {
  absl::flat_hash_set<std::string> tns;
  uint64_t at = after_serial;
  while (at < upto_serial) {
    auto changes = store_->ReadChanges(at, 10000);
    if (!changes.ok() || changes->empty()) return std::nullopt;
    for (const auto& c : *changes) {
      if (c.serial() > upto_serial) return tns;
      at = c.serial();
      switch (c.kind()) {
        case lufd::v1::OBJECT_KIND_IDENTIFIER:
          // A TN always wins over ranges and prefixes covering it, so
          // only TN changes change a signed-ahead answer.
          if (absl::StartsWith(c.key(), "tn:")) tns.insert(c.key().substr(3));
          break;
        case lufd::v1::OBJECT_KIND_CREDENTIAL:
        case lufd::v1::OBJECT_KIND_DNS_KEY:  // Seen through SignerKeys().
          break;
        default:
          return std::nullopt;
      }
      if (tns.size() > kMaxIncrementalTns) return std::nullopt;
    }
  }
  return tns;
}

void SignAheadSigner::Run() {
  LowerThisThreadsPriority();
  std::unique_ptr<SignerLease> lease;
  absl::Time next_lease_try = absl::InfinitePast();
  absl::Time next_poll = absl::InfinitePast();
  absl::Time next_evict = absl::Now() + kEvictInterval;
  absl::Time next_dnskey = absl::InfinitePast();
  absl::Time last_pass = absl::InfinitePast();
  uint64_t passed_serial = 0;
  std::string passed_keys;
  bool passed_once = false;
  absl::Time retry_after = absl::InfinitePast();
  uint64_t seen_serial = 0;
  absl::Time serial_changed_at = absl::InfinitePast();
  absl::Time first_change_at = absl::InfiniteFuture();
  bool lease_unsupported_logged = false;
  bool standby_logged = false;
  // Read when the lease is taken; consulted once the keys are known.
  std::optional<SignerCheckpoint> checkpoint;

  // The first round runs at once: DnsFrontend waits for the lease.
  bool first_round = true;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (!first_round) {
        mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(100));
      }
      first_round = false;
      if (stop_) break;
    }
    const absl::Time now = absl::Now();

    if (lease != nullptr && !lease->Valid()) {
      spdlog::warn("dns: lost the sign-ahead lease");
      lease.reset();
      is_signer_.store(false);
    }
    if (lease == nullptr && now >= next_lease_try) {
      next_lease_try = now + kLeaseRetry;
      // The lease lives where signatures can be written: on a standby
      // (advisory locks work there too) it would elect a signer that
      // cannot store what it signs.
      SignatureTable* lease_table = table_;
      absl::StatusOr<Store*> target = store_;
      if (router_ != nullptr) target = router_->ForWrite();
      absl::StatusOr<std::unique_ptr<SignerLease>> got =
          std::unique_ptr<SignerLease>();
      if (target.ok()) {
        lease_table = (*target)->Signatures();
        got = lease_table->TryAcquireSignerLease();
      } else if (!standby_logged) {
        standby_logged = true;
        spdlog::info("dns: no sign-ahead lease here: {}",
                     target.status().ToString());
      }
      if (got.ok() && *got != nullptr) {
        if (router_ != nullptr) standby_logged = false;
        write_table_.store(lease_table);
        lease = std::move(*got);
        is_signer_.store(true);
        passed_once = false;
        checkpoint = ReadCheckpoint();
        spdlog::info("dns: this instance signs ahead");
      } else if (!got.ok() && !lease_unsupported_logged) {
        lease_unsupported_logged = true;
        spdlog::warn("dns: no sign-ahead lease: {}", got.status().ToString());
      }
    }
    if (now >= next_poll) {
      next_poll = now + kPollInterval;
      PollOnce();
    }
    if (now >= next_dnskey) {
      auto made = SignDnskeyRrsets(now);
      if (!made.ok()) {
        // A write that failed is retried, but not at the loop's pace.
        next_dnskey = now + kLeaseRetry;
        spdlog::warn("dns: storing the DNSKEY RRset's signature: {}",
                     made.status().ToString());
      } else if (*made > 0) {
        spdlog::info("dns: signed the DNSKEY RRset ({} signature(s) stored)",
                     *made);
      }
    }
    if (now >= next_evict) {
      next_evict = now + kEvictInterval;
      const int64_t t = absl::ToUnixSeconds(now);
      stats_.evicted_total.fetch_add(
          signatures_->EvictExpiring(static_cast<uint32_t>(t)));
      if (lease != nullptr) {
        auto deleted = write_table_.load()->DeleteSignaturesExpiringBefore(t);
        if (!deleted.ok() && !absl::IsUnimplemented(deleted.status())) {
          spdlog::warn("dns: deleting expired signatures: {}",
                       deleted.status().ToString());
        }
      }
    }
    if (lease == nullptr) continue;

    // Debounce view changes: pass once the serial has been still for
    // kDebounce, or kDebounceMax after the first change of a burst.
    const uint64_t serial = views_->Current()->serial();
    if (serial != seen_serial) {
      if (first_change_at == absl::InfiniteFuture()) first_change_at = now;
      seen_serial = serial;
      serial_changed_at = now;
    }
    // No zone-signing key here (yet: the KeyRing fills in after start-up):
    // nothing to sign, and nothing to compare the checkpoint with.
    const std::string signer_keys = SignerKeys();
    if (signer_keys.empty()) continue;
    if (!passed_once && checkpoint.has_value()) {
      // A restart on a registry the stored signatures already cover: no
      // walk now; what changed since is signed incrementally below.
      const absl::Time full_pass =
          absl::FromUnixSeconds(checkpoint->full_pass_unix);
      if (checkpoint->keys == signer_keys && checkpoint->serial <= serial &&
          full_pass <= now && now - full_pass < kPeriodicPass) {
        passed_once = true;
        passed_serial = checkpoint->serial;
        passed_keys = signer_keys;
        last_pass = full_pass;
        stats_.start_passes_skipped.fetch_add(1);
        spdlog::info(
            "dns: stored signatures cover serial {} with keys {}; no "
            "start-up sign-ahead walk",
            checkpoint->serial, signer_keys);
      }
      checkpoint.reset();
    }
    if (now < retry_after) continue;
    // A view rebuilt at an older serial (the database moved back in time,
    // follower.h) has no change log to pass over: walk it all.
    bool full = !passed_once || signer_keys != passed_keys ||
                now - last_pass >= kPeriodicPass || serial < passed_serial;
    const bool changed =
        serial != passed_serial && (now - serial_changed_at >= kDebounce ||
                                    now - first_change_at >= kDebounceMax);
    if (!full && !changed) continue;
    std::shared_ptr<const RegistryView> view = views_->Current();
    std::optional<absl::flat_hash_set<std::string>> tns;
    if (!full) {
      tns = ChangedTns(passed_serial, view->serial());
      full = !tns.has_value();
    }
    passed_once = true;
    passed_serial = view->serial();
    passed_keys = signer_keys;
    first_change_at = absl::InfiniteFuture();
    if (full) last_pass = now;
    auto made = SignPass(*view, full ? nullptr : &*tns);
    if (!made.ok()) {
      if (absl::IsCancelled(made.status())) break;  // Stop().
      stats_.errors.fetch_add(1);
      spdlog::warn("dns: sign-ahead pass failed: {}; a full pass follows",
                   made.status().ToString());
      // Nothing says what the failed pass covered: walk everything on the
      // next round that is due (at most every kLeaseRetry on errors).
      passed_once = false;
      retry_after = now + kLeaseRetry;
      continue;
    }
    if (*made > 0) spdlog::info("dns: signed {} RRsets ahead", *made);
    if (!full) stats_.incremental_passes.fetch_add(1);
    PutCheckpoint(SignerCheckpoint{
        view->serial(), absl::ToUnixSeconds(last_pass), signer_keys});
  }
  lease.reset();
  is_signer_.store(false);
}

namespace {

struct SignTask {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::vector<std::string> rdatas;
  uint64_t hash = 0;
  uint64_t key = 0;   // SignatureKey.
  size_t signer = 0;  // Index into the zone's signer list.
  std::optional<CompactRrsig> result;
};

struct ZoneSignerKey {
  std::shared_ptr<const SigningKey> key;
  uint16_t tag = 0;
};

}  // namespace

absl::StatusOr<uint64_t> SignAheadSigner::SignPass(
    const RegistryView& view,
    const absl::flat_hash_set<std::string>* only_tns) {
  const absl::Time start = absl::Now();
  const int64_t now_s = absl::ToUnixSeconds(start);
  const int64_t keep_until =
      now_s + absl::ToInt64Seconds(timing_.refresh_before);

  // Viewer classes: anonymous, and every enabled peer org.
  std::vector<Identity> viewers{Identity{}};
  view.ForEach(
      lufd::v1::OBJECT_KIND_ORG,
      [&](absl::string_view, const lufd::v1::RegistryObject& o) {
        const auto& org = o.org();
        if (org.disabled()) return true;
        for (int r : org.roles()) {
          if (r == lufd::v1::ORG_ROLE_PEER) {
            viewers.push_back(Identity{org.id(), "", lufd::v1::ROLE_PEER});
            break;
          }
        }
        return true;
      });

  uint64_t made_total = 0;
  uint64_t distinct = 0;
  absl::Status status = absl::OkStatus();
  bool put_unsupported_logged = false;

  for (const std::string& apex : zones_) {
    auto zk = keys_->Get(apex);
    if (zk == nullptr) continue;
    std::vector<ZoneSignerKey> signers;
    for (const auto& k : zk->zone_signers) {
      if (k.private_key != nullptr)
        signers.push_back({k.private_key, k.key_tag});
    }
    if (signers.empty()) continue;

    absl::flat_hash_set<uint64_t> seen;
    std::vector<SignTask> batch;
    batch.reserve(kBatch);

    auto flush = [&]() -> bool {
      if (batch.empty()) return true;
      // Sign in parallel: each thread takes a strided share.
      const size_t n = batch.size();
      const int threads = static_cast<int>(std::min<size_t>(sign_threads_, n));
      auto work = [&](int t) {
        absl::Time signed_at = absl::Now();
        for (size_t i = static_cast<size_t>(t); i < n;
             i += static_cast<size_t>(threads)) {
          SignTask& task = batch[i];
          auto sig = MakeRrsig(
              *signers[task.signer].key, signers[task.signer].tag, apex,
              task.owner, task.type, task.ttl, task.rdatas, timing_, signed_at);
          if (sig.ok()) task.result = *sig;
        }
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
      work(0);
      for (auto& th : pool) th.join();

      std::vector<StoredSignature> rows;
      rows.reserve(n);
      for (SignTask& task : batch) {
        if (!task.result) {
          stats_.errors.fetch_add(1);
          continue;
        }
        signatures_->Insert(task.key, *task.result);
        StoredSignature row;
        row.owner = std::move(task.owner);
        row.type_covered = task.type;
        row.rrset_hash = task.hash;
        row.key_tag = signers[task.signer].tag;
        row.rrsig_rdata = RdataFromCompact(*task.result, task.type, apex);
        row.expiration_unix = task.result->expiration;
        rows.push_back(std::move(row));
      }
      made_total += rows.size();
      stats_.signed_total.fetch_add(rows.size());
      batch.clear();
      absl::Status put = write_table_.load()->PutSignatures(rows);
      if (!put.ok()) {
        if (absl::IsUnimplemented(put)) {
          if (!put_unsupported_logged) {
            put_unsupported_logged = true;
            spdlog::warn(
                "dns: store keeps no signatures; signed ahead in "
                "memory only");
          }
        } else {
          status = put;
          return false;
        }
      }
      absl::MutexLock lock(&mu_);
      return !stop_;
    };

    std::vector<std::string> rdatas;
    std::string rd;
    std::vector<RecordRef> refs;
    bool go_on = true;
    auto visit = [&](absl::string_view, const lufd::v1::RegistryObject& o) {
      const auto& id = o.identifier();
      if (id.kind() != lufd::v1::IDENTIFIER_KIND_TN) return true;
      std::string owner;
      for (const Identity& viewer : viewers) {
        if (!view.ResolveNumberRefs(id.value(), viewer, &refs)) continue;
        for (uint16_t type : {kTypeNAPTR, kTypeURI}) {
          rdatas.clear();
          uint32_t ttl = std::numeric_limits<uint32_t>::max();
          for (const RecordRef& ref : refs) {
            const lufd::v1::SedRecord& rec = *ref.record;
            bool good = false;
            if (type == kTypeNAPTR && rec.has_naptr()) {
              good = NaptrRdataFrom(rec.naptr(), &rd);
            } else if (type == kTypeURI && rec.has_uri()) {
              good = UriRdataFrom(rec.uri(), &rd);
            }
            if (!good) continue;
            rdatas.push_back(rd);
            ttl = std::min(ttl, ref.ttl);
          }
          if (rdatas.empty()) continue;
          if (owner.empty()) owner = EnumOwner(id.value(), apex);
          const uint64_t hash = RrsetHash(type, ttl, rdatas);
          for (size_t si = 0; si < signers.size(); ++si) {
            const uint64_t key =
                SignatureKey(owner, type, hash, signers[si].tag);
            if (!seen.insert(key).second) continue;
            ++distinct;
            auto have = signatures_->Find(key);
            if (have && static_cast<int64_t>(have->expiration) > keep_until) {
              continue;
            }
            SignTask task;
            task.owner = owner;
            task.type = type;
            task.ttl = ttl;
            task.rdatas = rdatas;
            task.hash = hash;
            task.key = key;
            task.signer = si;
            batch.push_back(std::move(task));
          }
        }
      }
      if (batch.size() >= kBatch) go_on = flush();
      return go_on;
    };
    if (only_tns == nullptr) {
      view.ForEach(lufd::v1::OBJECT_KIND_IDENTIFIER, visit);
    } else {
      for (const std::string& tn : *only_tns) {
        auto o =
            view.Get(lufd::v1::OBJECT_KIND_IDENTIFIER, absl::StrCat("tn:", tn));
        if (o.has_value() && !visit("", *o)) break;
      }
    }
    if (go_on) flush();
    if (!status.ok()) return status;
    if (!go_on) {
      // Stopped part-way: what was signed is stored, but the pass did not
      // cover the view, so no checkpoint may say it did.
      return absl::CancelledError("sign-ahead pass stopped");
    }
  }
  if (only_tns == nullptr) {
    stats_.rrsets_seen.store(distinct);
    stats_.passes.fetch_add(1);
  }
  stats_.last_pass_micros.store(absl::ToInt64Microseconds(absl::Now() - start));
  return made_total;
}

}  // namespace lufd::dns
