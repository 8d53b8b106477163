// Migration embedding, checksums and comparison; Store::Open URL handling;
// request validation.
#include "storage/migrate.h"

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "storage/common.h"
#include "storage/store.h"

namespace lufd::storage_internal {
namespace {

std::string ReadSourceFile(const std::string& rel) {
  std::ifstream in(std::string(LUFD_SOURCE_DIR) + "/" + rel, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Sha256Hex, KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MigrationsFor, EmbedsEveryFileByteForByteInOrder) {
  for (const char* backend : {"sqlite", "postgres"}) {
    auto files = MigrationsFor(backend);
    ASSERT_TRUE(files.ok()) << files.status();
    ASSERT_GE(files->size(), 2u) << backend;
    for (size_t i = 0; i < files->size(); ++i) {
      const MigrationFile& f = (*files)[i];
      EXPECT_EQ(f.version, i + 1) << f.path;
      const std::string on_disk = ReadSourceFile(f.path);
      ASSERT_FALSE(on_disk.empty()) << f.path;
      EXPECT_EQ(f.sql, on_disk) << f.path;
      EXPECT_EQ(f.checksum, Sha256Hex(on_disk));
    }
  }
  EXPECT_TRUE(MigrationsFor("nosuchbackend")->empty());
}

TEST(MigrationsFor, BackendsShareVersionsAndNames) {
  auto a = MigrationsFor("sqlite");
  auto b = MigrationsFor("postgres");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].version, (*b)[i].version);
    EXPECT_EQ((*a)[i].name, (*b)[i].name);
  }
}

TEST(CompareWithApplied, MergesAndDetectsDrift) {
  std::vector<MigrationFile> files(2);
  files[0] = {1, "init", "migrations/x/0001_init.sql", "A", Sha256Hex("A")};
  files[1] = {2, "more", "migrations/x/0002_more.sql", "B", Sha256Hex("B")};
  std::vector<MigrationInfo> applied = {
      {1, "init", Sha256Hex("A"), true, "2026-01-01T00:00:00Z"}};
  auto merged = CompareWithApplied(files, applied);
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged->size(), 2u);
  EXPECT_TRUE((*merged)[0].applied);
  EXPECT_EQ((*merged)[0].applied_at, "2026-01-01T00:00:00Z");
  EXPECT_FALSE((*merged)[1].applied);

  applied[0].checksum = "0000";
  auto drift = CompareWithApplied(files, applied);
  EXPECT_EQ(drift.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(drift.status().message().find("migrations/x/0001_init.sql"),
            std::string::npos);

  std::vector<MigrationInfo> newer = {
      {7, "future", "ff", true, "2026-01-01T00:00:00Z"}};
  auto unknown = CompareWithApplied(files, newer);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unknown.status().message().find("0007_future"), std::string::npos);
}

TEST(Validate, Utf8WithoutNul) {
  EXPECT_TRUE(IsValidUtf8NoNul(""));
  EXPECT_TRUE(IsValidUtf8NoNul("plain ascii 'quotes' \\ \t\n"));
  EXPECT_TRUE(IsValidUtf8NoNul("\u00fc \u260e \U0001F4DE"));
  EXPECT_FALSE(IsValidUtf8NoNul(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidUtf8NoNul("\xff"));
  EXPECT_FALSE(IsValidUtf8NoNul("\xc3"));              // Truncated.
  EXPECT_FALSE(IsValidUtf8NoNul("\xc0\xaf"));          // Overlong.
  EXPECT_FALSE(IsValidUtf8NoNul("\xed\xa0\x80"));      // Surrogate.
  EXPECT_FALSE(IsValidUtf8NoNul("\xf4\x90\x80\x80"));  // > U+10FFFF.
}

TEST(StoreOpen, SchemesAndErrors) {
  auto mem = Store::Open("memory:");
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ((*mem)->Backend(), "memory");
  EXPECT_EQ(Store::Open("mysql://x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Store::Open("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Store::Open("sqlite:").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Store::Open("sqlite:/nonexistent-dir-lufd/x/y.db").status().code(),
            absl::StatusCode::kUnavailable);
  // Nothing listens on port 1 of the loopback: a connection error.
  EXPECT_EQ(Store::Open("postgresql://postgres@127.0.0.1:1/x?connect_timeout=2")
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Store::Open("postgres:host=127.0.0.1 port=1 connect_timeout=2")
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
}

// Rows parsed one after another into one object (as the snapshot scans
// do) come out exactly as a fresh parse of each, errors included.
TEST(ParseObjectReusing, SameAsAFreshParse) {
  lufd::v1::RegistryObject tn;
  auto* id = tn.mutable_identifier();
  id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
  id->set_value("+442035081368");
  id->set_registrant_id("reg");
  id->add_dest_group_ids("dg");
  for (int i = 0; i < 3; ++i) {
    id->add_records()->mutable_naptr()->set_regexp("!^.*$!sip:x@y!");
  }
  lufd::v1::RegistryObject small;
  small.mutable_identifier()->set_value("+1");
  lufd::v1::RegistryObject org;
  org.mutable_org()->set_id("o");
  const std::string big = tn.SerializeAsString();
  std::string bad = big;
  bad[bad.size() - 3] = '\xff';  // Breaks a nested length or tag.
  std::string truncated = big.substr(0, big.size() - 1);
  std::vector<std::string> rows = {big,
                                   small.SerializeAsString(),
                                   big,
                                   org.SerializeAsString(),
                                   big,
                                   big + small.SerializeAsString(),
                                   bad,
                                   big,
                                   truncated,
                                   "",
                                   std::string("\x1a\x00", 2),
                                   big};
  lufd::v1::RegistryObject reused;
  for (size_t i = 0; i < rows.size(); ++i) {
    lufd::v1::RegistryObject fresh;
    absl::Status want = ParseObject(rows[i], "k", &fresh);
    absl::Status got = ParseObjectReusing(rows[i], "k", &reused);
    EXPECT_EQ(got.code(), want.code()) << i;
    if (want.ok()) {
      EXPECT_EQ(reused.SerializeAsString(), fresh.SerializeAsString()) << i;
    }
  }
}

}  // namespace
}  // namespace lufd::storage_internal
