// SourceBlocks: which datagrams of a blocked anonymous prefix are dropped
// before parsing, for how long, and what the denial audit learns of them.
#include "server/dns/source_blocks.h"

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/denial_audit.h"
#include "tests/unit/testing/client_address.h"

namespace lufd::dns {
namespace {

using testing::V4;

ClientAddress V6(uint8_t byte6, uint8_t byte7, uint8_t last) {
  ClientAddress client;
  client.bytes[0] = 0x20;
  client.bytes[1] = 0x01;
  client.bytes[2] = 0x0d;
  client.bytes[3] = 0xb8;
  client.bytes[6] = byte6;
  client.bytes[7] = byte7;
  client.bytes[15] = last;
  client.size = 16;
  return client;
}

DenialRecorder::Options Manual() {
  DenialRecorder::Options o;
  o.background_flush = false;
  return o;
}

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

int Dropped(SourceBlocks& blocks, const ClientAddress& from, int n,
            absl::Time now) {
  int dropped = 0;
  for (int i = 0; i < n; ++i) dropped += blocks.ShouldDrop(from, now) ? 1 : 0;
  return dropped;
}

TEST(SourceBlocksTest, DropsAllButOneInPassEveryOfTheBlockedPrefixOnly) {
  SourceBlocks blocks(24, 56, nullptr);
  EXPECT_TRUE(blocks.empty());
  EXPECT_FALSE(blocks.ShouldDrop(V4(192, 0, 2, 7), kT0));
  blocks.Block(V4(192, 0, 2, 7), kT0 + absl::Minutes(1),
               *GuardKey::Parse("192.0.2.0/24"), kT0);
  EXPECT_EQ(blocks.size(), 1u);
  const int n = 10 * SourceBlocks::kPassEvery;
  // Any address of the /24 counts against the same entry.
  int dropped = 0;
  for (int i = 0; i < n; ++i) {
    dropped += blocks.ShouldDrop(V4(192, 0, 2, static_cast<uint8_t>(i)), kT0);
  }
  EXPECT_EQ(dropped, n - 10);
  EXPECT_EQ(blocks.dropped(), static_cast<uint64_t>(n - 10));
  EXPECT_EQ(Dropped(blocks, V4(192, 0, 3, 7), 100, kT0), 0);
  EXPECT_EQ(Dropped(blocks, V4(192, 0, 1, 255), 100, kT0), 0);
}

TEST(SourceBlocksTest, TheBlockEndsOnTimeAndLiftEndsItAtOnce) {
  SourceBlocks blocks(24, 56, nullptr);
  const ClientAddress a = V4(198, 51, 100, 1);
  blocks.Block(a, kT0 + absl::Minutes(1), *GuardKey::Parse("198.51.100.0/24"),
               kT0);
  EXPECT_GT(Dropped(blocks, a, 32, kT0 + absl::Seconds(59)), 0);
  EXPECT_EQ(Dropped(blocks, a, 32, kT0 + absl::Minutes(1)), 0);
  // A later block extends it.
  blocks.Block(a, kT0 + absl::Minutes(5), *GuardKey::Parse("198.51.100.0/24"),
               kT0);
  EXPECT_GT(Dropped(blocks, a, 32, kT0 + absl::Minutes(2)), 0);
  blocks.Lift(a, kT0 + absl::Minutes(2));
  EXPECT_TRUE(blocks.empty());
  EXPECT_EQ(Dropped(blocks, a, 32, kT0 + absl::Minutes(2)), 0);
  // An ended block leaves the list when the next one arrives.
  blocks.Block(a, kT0 + absl::Minutes(3), *GuardKey::Parse("198.51.100.0/24"),
               kT0 + absl::Minutes(2));
  blocks.Block(V4(203, 0, 113, 1), kT0 + absl::Minutes(10),
               *GuardKey::Parse("203.0.113.0/24"), kT0 + absl::Minutes(4));
  EXPECT_EQ(blocks.size(), 1u);
  // A block already over is not listed.
  blocks.Block(V4(203, 0, 114, 1), kT0, *GuardKey::Parse("203.0.114.0/24"),
               kT0 + absl::Minutes(4));
  EXPECT_EQ(blocks.size(), 1u);
}

TEST(SourceBlocksTest, Ipv6IsMaskedToTheConfiguredPrefix) {
  SourceBlocks blocks(24, 56, nullptr);
  blocks.Block(V6(0x12, 0x34, 1), kT0 + absl::Minutes(1),
               *GuardKey::Parse("2001:db8:0:1234::/56"), kT0);
  // Same /56 (byte 7's low bits and the host part differ).
  EXPECT_GT(Dropped(blocks, V6(0x12, 0x00, 9), 32, kT0), 0);
  // Another /56.
  EXPECT_EQ(Dropped(blocks, V6(0x13, 0x34, 1), 32, kT0), 0);
  // Unknown addresses (tests, fakes) are never dropped.
  EXPECT_EQ(Dropped(blocks, ClientAddress{}, 32, kT0), 0);
}

TEST(SourceBlocksTest, TheListIsBounded) {
  SourceBlocks blocks(32, 128, nullptr);
  const GuardKey key = *GuardKey::Parse("10.0.0.0/24");
  for (size_t i = 0; i < SourceBlocks::kMaxEntries + 10; ++i) {
    blocks.Block(V4(10, static_cast<uint8_t>(i >> 16),
                    static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)),
                 kT0 + absl::Minutes(1), key, kT0);
  }
  EXPECT_EQ(blocks.size(), SourceBlocks::kMaxEntries);
}

TEST(SourceBlocksTest, DropsAreCountedInTheDenialAudit) {
  DenialRecorder recorder(nullptr, Manual());
  {
    SourceBlocks blocks(24, 56, &recorder);
    const ClientAddress a = V4(192, 0, 2, 9);
    blocks.Block(a, kT0 + absl::Minutes(1), *GuardKey::Parse("192.0.2.0/24"),
                 kT0);
    // 3 x 16: three passed, 45 dropped; the drops before each pass are
    // recorded at that pass (2 x 15 so far), the rest when the list goes.
    EXPECT_EQ(Dropped(blocks, a, 3 * SourceBlocks::kPassEvery, kT0), 45);
    EXPECT_EQ(recorder.stats().recorded, 30u);
  }
  EXPECT_EQ(recorder.stats().recorded, 45u);
  ASSERT_TRUE(recorder.Flush().ok());
  auto rows = recorder.List(DenialQuery{});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].count, 45u);
  EXPECT_EQ((*rows)[0].actor, "prefix 192.0.2.0/24");
  EXPECT_EQ((*rows)[0].peer, "192.0.2.0/24");
  EXPECT_EQ((*rows)[0].method, "dns/udp");
}

}  // namespace
}  // namespace lufd::dns
