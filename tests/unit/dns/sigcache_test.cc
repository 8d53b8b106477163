// SignatureCache / SignatureLru: compact <-> RDATA round trip, stable keys,
// later-expiring wins, eviction by expiry, true LRU order, and concurrent
// readers while a writer inserts.
#include "server/dns/sigcache.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace lufd::dns {
namespace {

CompactRrsig Sig(uint32_t expiration, uint8_t fill = 0xab) {
  CompactRrsig s;
  s.expiration = expiration;
  s.inception = 1000;
  s.original_ttl = 3600;
  s.key_tag = 12345;
  s.algorithm = 13;
  s.labels = 11;
  s.signature.fill(fill);
  return s;
}

const std::string kApex(
    "\x04"
    "e164\x04"
    "arpa\x00",
    11);

TEST(SigCacheTest, CompactRoundTrip) {
  CompactRrsig s = Sig(2000000000);
  for (size_t i = 0; i < 64; ++i) s.signature[i] = static_cast<uint8_t>(i);
  std::string rdata = RdataFromCompact(s, 35, kApex);
  EXPECT_EQ(rdata.size(), 18 + kApex.size() + 64);
  EXPECT_EQ(static_cast<uint8_t>(rdata[0]), 0);
  EXPECT_EQ(static_cast<uint8_t>(rdata[1]), 35);
  uint16_t covered = 0;
  auto back = CompactFromRdata(rdata, &covered);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(covered, 35);
  EXPECT_EQ(back->expiration, s.expiration);
  EXPECT_EQ(back->inception, s.inception);
  EXPECT_EQ(back->original_ttl, s.original_ttl);
  EXPECT_EQ(back->key_tag, s.key_tag);
  EXPECT_EQ(back->algorithm, s.algorithm);
  EXPECT_EQ(back->labels, s.labels);
  EXPECT_EQ(back->signature, s.signature);
  EXPECT_EQ(RdataFromCompact(*back, covered, kApex), rdata);
}

TEST(SigCacheTest, CompactRejectsMalformed) {
  std::string rdata = RdataFromCompact(Sig(1), 35, kApex);
  EXPECT_FALSE(CompactFromRdata(rdata.substr(0, rdata.size() - 1)));
  EXPECT_FALSE(CompactFromRdata(rdata + "x"));
  EXPECT_FALSE(CompactFromRdata(""));
  EXPECT_FALSE(CompactFromRdata(rdata.substr(0, 20)));
  std::string compressed = rdata;
  compressed[18] = static_cast<char>(0xc0);  // A pointer as signer name.
  EXPECT_FALSE(CompactFromRdata(compressed));
}

TEST(SigCacheTest, SignatureKeyIsStableAndDiscriminates) {
  const std::string owner(
      "\x01"
      "1\x04"
      "e164\x04"
      "arpa\x00",
      13);
  uint64_t k = SignatureKey(owner, 35, 42, 7);
  EXPECT_EQ(k, SignatureKey(owner, 35, 42, 7));
  EXPECT_EQ(k, SignatureKey(std::string(owner), 35, 42, 7));
  EXPECT_NE(k, SignatureKey(owner, 256, 42, 7));
  EXPECT_NE(k, SignatureKey(owner, 35, 43, 7));
  EXPECT_NE(k, SignatureKey(owner, 35, 42, 8));
  EXPECT_NE(k, SignatureKey(kApex, 35, 42, 7));
}

TEST(SigCacheTest, StoreKeepsLaterExpiringAndEvicts) {
  SignatureCache store;
  EXPECT_FALSE(store.Find(1));
  store.Insert(1, Sig(100, 1));
  store.Insert(1, Sig(50, 2));  // Earlier: ignored.
  EXPECT_EQ(store.Find(1)->signature[0], 1);
  store.Insert(1, Sig(200, 3));  // Later: replaces.
  EXPECT_EQ(store.Find(1)->expiration, 200u);
  store.Insert(2, Sig(90));
  store.Insert(3, Sig(300));
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(store.EvictExpiring(201), 2u);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(store.Find(3));
  EXPECT_FALSE(store.Find(1));
}

TEST(SigCacheTest, StoreEvictionKeepsTheRestFindable) {
  SignatureCache store;
  for (uint32_t i = 0; i < 10000; ++i) {
    store.Insert(SignatureKey("", 1, i, 1), Sig(i));
  }
  EXPECT_EQ(store.EvictExpiring(5000), 5000u);
  EXPECT_EQ(store.EvictExpiring(5000), 0u);
  EXPECT_EQ(store.size(), 5000u);
  for (uint32_t i = 0; i < 10000; ++i) {
    auto s = store.Find(SignatureKey("", 1, i, 1));
    if (i < 5000) {
      EXPECT_FALSE(s.has_value()) << i;
    } else {
      ASSERT_TRUE(s.has_value()) << i;
      EXPECT_EQ(s->expiration, i);
    }
  }
  store.Insert(SignatureKey("", 1, 1, 1), Sig(20000));  // Insert after.
  EXPECT_EQ(store.Find(SignatureKey("", 1, 1, 1))->expiration, 20000u);
}

// InsertMany ends where Insert() one by one would: duplicates keep the
// later-expiring (the first of equals), over what was there before.
TEST(SigCacheTest, InsertManyEqualsInsertOneByOne) {
  SignatureCache one, many;
  for (uint32_t i = 0; i < 100; ++i) {
    one.Insert(SignatureKey("", 1, i, 1), Sig(1000, 1));
    many.Insert(SignatureKey("", 1, i, 1), Sig(1000, 1));
  }
  std::vector<std::pair<uint64_t, CompactRrsig>> rows;
  for (uint32_t i = 0; i < 20000; ++i) {
    // Keys 0..9999 twice, with expirations around the earlier 1000.
    const uint32_t k = i % 10000;
    rows.emplace_back(SignatureKey("", 1, k, 1),
                      Sig(900 + (i * 37) % 200, static_cast<uint8_t>(i)));
  }
  for (const auto& [key, sig] : rows) one.Insert(key, sig);
  many.InsertMany([&](SignatureCache::AddFn add) {
    for (const auto& [key, sig] : rows) add(key, sig);
  });
  EXPECT_EQ(many.size(), one.size());
  for (uint32_t k = 0; k < 10001; ++k) {
    auto a = one.Find(SignatureKey("", 1, k, 1));
    auto b = many.Find(SignatureKey("", 1, k, 1));
    ASSERT_EQ(a.has_value(), b.has_value()) << k;
    if (!a) continue;
    EXPECT_EQ(a->expiration, b->expiration) << k;
    EXPECT_EQ(a->signature, b->signature) << k;
  }
  many.InsertMany([](SignatureCache::AddFn) {});  // Nothing: no change.
  EXPECT_EQ(many.size(), one.size());

  // Into an empty store (the start-up load), repeated keys included.
  SignatureCache one2, many2;
  for (const auto& [key, sig] : rows) one2.Insert(key, sig);
  many2.InsertMany([&](SignatureCache::AddFn add) {
    for (const auto& [key, sig] : rows) add(key, sig);
  });
  EXPECT_EQ(many2.size(), one2.size());
  EXPECT_EQ(many2.size(), 10000u);
  for (uint32_t k = 0; k < 10000; ++k) {
    auto a = one2.Find(SignatureKey("", 1, k, 1));
    auto b = many2.Find(SignatureKey("", 1, k, 1));
    ASSERT_TRUE(a.has_value() && b.has_value()) << k;
    EXPECT_EQ(a->expiration, b->expiration) << k;
    EXPECT_EQ(a->signature, b->signature) << k;
  }
  // Later inserts and evictions work on what InsertMany built.
  many2.Insert(SignatureKey("", 1, 3, 1), Sig(5000, 9));
  EXPECT_EQ(many2.Find(SignatureKey("", 1, 3, 1))->expiration, 5000u);
  one2.Insert(SignatureKey("", 1, 3, 1), Sig(5000, 9));
  EXPECT_EQ(many2.EvictExpiring(1000), one2.EvictExpiring(1000));
  EXPECT_EQ(many2.size(), one2.size());
}

TEST(SigCacheTest, LruEvictsLeastRecentlyUsed) {
  SignatureLru lru(3);
  EXPECT_EQ(lru.capacity(), 3u);
  lru.Insert(1, Sig(1));
  lru.Insert(2, Sig(2));
  lru.Insert(3, Sig(3));
  EXPECT_TRUE(lru.Find(1));  // 1 is now the most recent; 2 the least.
  lru.Insert(4, Sig(4));
  EXPECT_FALSE(lru.Find(2));
  EXPECT_TRUE(lru.Find(3));  // Order now (most recent first): 3 4 1.
  lru.Insert(5, Sig(5));     // Evicts 1.
  EXPECT_FALSE(lru.Find(1));
  EXPECT_TRUE(lru.Find(4));
  EXPECT_TRUE(lru.Find(5));
  EXPECT_TRUE(lru.Find(3));
  EXPECT_EQ(lru.size(), 3u);
  lru.Insert(4, Sig(44));  // Update in place, becomes most recent.
  EXPECT_EQ(lru.Find(4)->expiration, 44u);
  lru.Insert(6, Sig(6));  // Least recent was 5.
  EXPECT_FALSE(lru.Find(5));
  EXPECT_EQ(lru.size(), 3u);
}

TEST(SigCacheTest, LargeLruStaysBoundedAndKeepsRecentEntries) {
  SignatureLru lru(20000);
  for (uint64_t i = 0; i < 100000; ++i) {
    lru.Insert(SignatureKey("", 1, i, 1), Sig(static_cast<uint32_t>(i)));
  }
  EXPECT_LE(lru.size(), 20000u);
  EXPECT_GT(lru.size(), 19000u);
  // The most recent ones survive (each shard holds its own recent tail).
  size_t recent_hits = 0;
  for (uint64_t i = 99000; i < 100000; ++i) {
    if (lru.Find(SignatureKey("", 1, i, 1))) ++recent_hits;
  }
  EXPECT_EQ(recent_hits, 1000u);
  size_t old_hits = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    if (lru.Find(SignatureKey("", 1, i, 1))) ++old_hits;
  }
  EXPECT_EQ(old_hits, 0u);
}

TEST(SigCacheTest, ConcurrentReadersWhileInserting) {
  SignatureCache store;
  SignatureLru lru(5000);
  constexpr uint64_t kKeys = 20000;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> bad{0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      uint64_t i = static_cast<uint64_t>(t);
      for (int rounds = 0; rounds < 2000000 && !done.load() &&
                           std::chrono::steady_clock::now() < deadline;
           ++rounds) {
        uint64_t key = SignatureKey("", 1, i % kKeys, 1);
        if (auto s = store.Find(key)) {
          // Every value written for key i carries expiration i.
          if (s->expiration != i % kKeys) bad.fetch_add(1);
        }
        if (auto s = lru.Find(key)) {
          if (s->expiration != i % kKeys) bad.fetch_add(1);
        }
        i += 7;
      }
    });
  }
  for (uint64_t i = 0; i < kKeys; ++i) {
    uint64_t key = SignatureKey("", 1, i, 1);
    store.Insert(key, Sig(static_cast<uint32_t>(i)));
    lru.Insert(key, Sig(static_cast<uint32_t>(i)));
  }
  done.store(true);
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(store.size(), kKeys);
  EXPECT_LE(lru.size(), 5000u);
}

}  // namespace
}  // namespace lufd::dns
