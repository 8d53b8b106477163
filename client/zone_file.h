// RFC 1035 zone files of the registry, for `lufctl zone export|import`.
//
// Export turns a RegistryView, as seen by one viewer, into the zone file an
// authoritative server would need to give the same NAPTR/URI answers lufd
// synthesizes: SOA and NS at the apex, one owner per TN, and wildcards for
// prefixes and for the decimal blocks a range decomposes into (a range that
// is not one block becomes a few blocks plus single numbers at its ragged
// ends, so no range is ever skipped). Because a DNS wildcard does not match
// below a name that exists, every empty non-terminal under a wildcard gets
// its own copy of the covering wildcard. What DNS cannot express is reported
// as a warning (see ZoneExportResult). SignZoneText signs such a text with
// ldns (offline: a full NSEC chain is fine in a file; the live server never
// publishes one) with the zone's keys from the registry and the key
// directory.
//
// Import is the reverse for NAPTR records: each NAPTR owner under the zone
// becomes a TN (wildcard owners "*.<digits>.<zone>" become TN prefixes) with
// its NAPTRs as inline records. The whole text is checked first and every
// bad line reported (nothing is sent, like the CSV import); SOA, NS, DNSKEY,
// RRSIG, NSEC, NSEC3, NSEC3PARAM, CDS, CDNSKEY and ZONEMD are ignored, and
// so are A/AAAA at the target of an NS record (glue); any other type is an
// error naming its line.
//
// All functions are pure over their arguments (no globals; ldns state is
// per call), thread-safe, and never throw. Inputs are untrusted: the import
// parser is fuzzed by tests/fuzz/zone_import_fuzz.cc.
#ifndef LUFD_CLIENT_ZONE_FILE_H_
#define LUFD_CLIENT_ZONE_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/csv_import.h"
#include "client/import_stream.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/identity.h"
#include "server/core/view.h"

namespace lufd::client {

// Defaults follow DnsZoneConfig (proto/lufd/v1/config.proto).
struct ZoneExportOptions {
  std::string zone = "e164.arpa.";  // Absolute; lowercased.
  std::vector<std::string> ns;      // Default {"ns1.<zone>"}.
  // Glue: A/AAAA records written for every NS target inside the zone
  // (without them such a zone has no reachable NS; a warning says so).
  std::vector<std::string> ns_addresses;
  std::string soa_rname;  // Default "hostmaster.<zone>".
  uint32_t soa_refresh = 3600, soa_retry = 600, soa_expire = 1209600,
           soa_minimum = 300, ttl = 3600;
  uint32_t serial = 1;    // SOA serial: the registry serial (mod 2^32).
  lufd::Identity viewer;  // Default anonymous: public SED groups only.
};

struct ZoneExportResult {
  std::string text;          // The zone file.
  size_t numbers = 0;        // TN owners written (incl. range singles).
  size_t wildcards = 0;      // Wildcard owners from prefixes and ranges.
  size_t ent_wildcards = 0;  // Copies under empty non-terminals.
  size_t records = 0;        // NAPTR + URI records written.
  size_t skipped_ns = 0;     // NS SED records (a delegation): not written.
  std::vector<std::string> warnings;  // One line each, for stderr.
};

absl::StatusOr<ZoneExportResult> BuildZoneText(
    const lufd::RegistryView& view, const ZoneExportOptions& options);

struct ZoneSignOptions {
  std::string key_dir;  // Where the DNS_KEY objects' private_file live.
  absl::Time now = absl::Now();
  absl::Duration validity = absl::Hours(14 * 24);
  absl::Duration inception_offset = absl::Hours(1);
  uint32_t dnskey_ttl = 3600;  // The zone's ttl, as for SOA and NS.
};

// Signs `zone_text` (as BuildZoneText writes it) with the zone's keys:
// DNSKEY RRset = the PUBLISHED, ACTIVE and RETIRED keys of `keys` for the
// zone; signers = the ACTIVE ones (KSKs sign only the DNSKEY RRset when a
// ZSK is active). Every ACTIVE key's private file must be in key_dir and
// match the registry's public key. Returns the signed zone text with a full
// NSEC chain.
absl::StatusOr<std::string> SignZoneText(
    absl::string_view zone_text, absl::string_view zone,
    const std::vector<lufd::v1::DnsKey>& keys, const ZoneSignOptions& options);

struct ZoneImportOptions {
  std::string zone = "e164.arpa.";
  std::string registrant;                // Registrant of every TN.
  std::vector<std::string> dest_groups;  // Destination groups of every TN.
  size_t max_errors = 100;               // Stop collecting after this many.
};

struct ZoneImportEntry {
  uint32_t line = 0;  // Line of the owner's first NAPTR.
  lufd::v1::PublicIdentifier identifier;
};

class ZoneImport {
 public:
  const std::vector<ZoneImportEntry>& entries() const { return entries_; }
  const std::vector<LineError>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }
  size_t record_count() const { return records_; }
  size_t ignored() const { return ignored_; }  // SOA, NS, DNSSEC records.

 private:
  friend ZoneImport ParseZoneImport(absl::string_view text,
                                    const ZoneImportOptions& options);
  std::vector<ZoneImportEntry> entries_;
  std::vector<LineError> errors_;
  size_t records_ = 0;
  size_t ignored_ = 0;
};

// Never fails as a whole: problems are in errors(), in line order.
ZoneImport ParseZoneImport(absl::string_view text,
                           const ZoneImportOptions& options);

// ImportSource over a parsed zone (which must outlive it), optionally
// preceded by scaffolding objects (destination group, SED group) that the
// import creates first.
class ZoneImportSource final : public ImportSource {
 public:
  ZoneImportSource(const ZoneImport& zone,
                   std::vector<lufd::v1::RegistryObject> preamble)
      : zone_(zone), preamble_(std::move(preamble)) {}
  size_t size() const override {
    return preamble_.size() + zone_.entries().size();
  }
  void Fill(size_t i, lufd::v1::RegistryObject* out) const override;
  std::string Describe(size_t i) const override;

 private:
  const ZoneImport& zone_;
  std::vector<lufd::v1::RegistryObject> preamble_;
};

// "NAME." lowercased with the trailing dot; INVALID_ARGUMENT when it is not
// a domain name (used for --zone and TSIG key names).
absl::StatusOr<std::string> CanonicalDomainName(absl::string_view name);

}  // namespace lufd::client

#endif  // LUFD_CLIENT_ZONE_FILE_H_
