#include "client/zone_file.h"

#include <ldns/ldns.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/core/holdings.h"
#include "server/core/keys.h"
#include "server/core/normalize.h"

namespace lufd::client {
namespace {

using lufd::v1::RegistryObject;

// ---------------------------------------------------------------- text

// A <character-string> in zone-file form: quoted, '"' and '\' escaped, bytes
// outside printable ASCII as \DDD (RFC 1035 section 5.1), so any registry
// value survives the round trip through a zone parser.
std::string CharString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      absl::StrAppendFormat(&out, "\\%03d", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

// Replacement and NS names are stored as typed; a zone file needs them
// absolute or they would be read relative to $ORIGIN.
std::string AbsoluteName(absl::string_view name) {
  if (name.empty() || name == ".") return ".";
  std::string out(name);
  if (out.back() != '.') out.push_back('.');
  return out;
}

// "+1202" -> "2.0.2.1.e164.arpa." (digits only, no '+').
std::string ReversedOwner(absl::string_view digits, absl::string_view zone) {
  std::string out;
  out.reserve(digits.size() * 2 + zone.size());
  for (size_t i = digits.size(); i > 0; --i) {
    out.push_back(digits[i - 1]);
    out.push_back('.');
  }
  out.append(zone.data(), zone.size());
  return out;
}

struct RrsetText {
  std::vector<std::string> naptr, uri;  // RDATA text.
  uint32_t naptr_ttl = 0, uri_ttl = 0;  // Minimum over the records.
  bool empty() const { return naptr.empty() && uri.empty(); }
};

// The answer records as zone-file RDATA; NS answers (a delegation of the
// number) cannot share an owner with NAPTRs and are counted, not written.
RrsetText ToRrsets(const std::vector<lufd::v1::SedAnswer>& records,
                   size_t* skipped_ns) {
  RrsetText out;
  auto min_ttl = [](uint32_t* cur, uint32_t ttl, bool first) {
    if (first || ttl < *cur) *cur = ttl;
  };
  for (const auto& r : records) {
    if (r.has_naptr()) {
      const auto& n = r.naptr();
      min_ttl(&out.naptr_ttl, r.ttl(), out.naptr.empty());
      out.naptr.push_back(absl::StrCat(
          n.order(), " ", n.preference(), " ", CharString(n.flags()), " ",
          CharString(n.services()), " ", CharString(n.regexp()), " ",
          AbsoluteName(n.replacement())));
    } else if (r.has_uri()) {
      const auto& u = r.uri();
      min_ttl(&out.uri_ttl, r.ttl(), out.uri.empty());
      out.uri.push_back(absl::StrCat(u.priority(), " ", u.weight(), " ",
                                     CharString(u.target())));
    } else if (r.has_ns()) {
      ++*skipped_ns;
    }
  }
  return out;
}

void AppendRrsets(const std::string& owner, const RrsetText& rr,
                  std::string* out, size_t* records) {
  for (const auto& n : rr.naptr) {
    absl::StrAppend(out, owner, " ", rr.naptr_ttl, " IN NAPTR ", n, "\n");
  }
  for (const auto& u : rr.uri) {
    absl::StrAppend(out, owner, " ", rr.uri_ttl, " IN URI ", u, "\n");
  }
  *records += rr.naptr.size() + rr.uri.size();
}

// ---------------------------------------------------------------- ranges

// [first, last] (same digit count, no '+') as aligned decimal blocks: each
// is (digits kept, trailing wildcard digits). A block with 0 wildcard digits
// is one number. Greedy from the low end: at most 2 * 9 blocks per digit.
std::vector<std::pair<std::string, size_t>> DecimalBlocks(
    const std::string& first, const std::string& last) {
  std::vector<std::pair<std::string, size_t>> out;
  const size_t len = first.size();
  uint64_t a = 0, b = 0;
  for (char c : first) a = a * 10 + static_cast<uint64_t>(c - '0');
  for (char c : last) b = b * 10 + static_cast<uint64_t>(c - '0');
  std::vector<uint64_t> pow10(len + 1, 1);
  for (size_t i = 1; i <= len; ++i) pow10[i] = pow10[i - 1] * 10;
  while (a <= b) {
    size_t k = 0;
    while (k < len && a % pow10[k + 1] == 0 && a + pow10[k + 1] - 1 <= b) ++k;
    std::string digits = absl::StrFormat("%0*d", static_cast<int>(len), a);
    out.emplace_back(digits.substr(0, len - k), k);
    a += pow10[k];
  }
  return out;
}

// "+1202" -> "1202"; "" for anything without the '+' (never throws: the
// objects come from the server, but a malformed one must not crash lufctl).
std::string Digits(const std::string& e164) {
  return e164.size() > 1 && e164[0] == '+' ? e164.substr(1) : std::string();
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
}

// Where a wildcard comes from; a lower rank wins for the same digits
// (resolution order: narrowest range, then prefix).
struct WildcardSource {
  int rank_kind = 0;  // 0 = range, 1 = prefix.
  uint64_t rank_size = 0;
  std::string describe;  // "prefix +1202", "range +1..-+1...".
  size_t synthetic = 0;  // Index of its synthetic TN in the helper view.
  RrsetText rr;
};

}  // namespace

absl::StatusOr<std::string> CanonicalDomainName(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  if (n.empty()) return absl::InvalidArgumentError("empty domain name");
  if (n == ".") return n;
  if (n.back() != '.') n.push_back('.');
  if (n.size() > 254) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "': too long"));
  }
  for (absl::string_view label :
       absl::StrSplit(absl::string_view(n).substr(0, n.size() - 1), '.')) {
    if (label.empty() || label.size() > 63) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "': not a domain name"));
    }
    for (char c : label) {
      if (!(absl::ascii_isalnum(c) || c == '-' || c == '_')) {
        return absl::InvalidArgumentError(absl::StrCat(
            "'", name, "': only letters, digits, '-' and '_' in labels"));
      }
    }
  }
  return n;
}

// ---------------------------------------------------------------- export

absl::StatusOr<ZoneExportResult> BuildZoneText(
    const lufd::RegistryView& view, const ZoneExportOptions& options) {
  auto zone_or = CanonicalDomainName(options.zone);
  if (!zone_or.ok()) return zone_or.status();
  const std::string zone = *zone_or;
  std::vector<std::string> ns = options.ns;
  if (ns.empty()) ns.push_back("ns1." + zone);
  for (auto& n : ns) n = AbsoluteName(absl::AsciiStrToLower(n));
  std::string rname = options.soa_rname.empty()
                          ? "hostmaster." + zone
                          : AbsoluteName(options.soa_rname);

  ZoneExportResult result;
  auto warn = [&result](std::string w) {
    if (result.warnings.size() < 1000) result.warnings.push_back(std::move(w));
  };

  // Pass 1: TNs, and the prefixes/ranges that become wildcards.
  std::map<std::string, RrsetText> owners;           // Digits -> RRsets.
  std::vector<lufd::v1::PublicIdentifier> wild_ids;  // Synthetic index -> id.
  std::map<std::string, WildcardSource> wild;        // Digits -> source.
  std::vector<std::string> singles;  // Range numbers resolved one by one.
  auto add_wild = [&](const std::string& digits, WildcardSource src,
                      const lufd::v1::PublicIdentifier& id) {
    auto it = wild.find(digits);
    if (it != wild.end() &&
        std::tie(it->second.rank_kind, it->second.rank_size) <=
            std::tie(src.rank_kind, src.rank_size)) {
      return;
    }
    src.synthetic = wild_ids.size();
    wild_ids.push_back(id);
    wild[digits] = std::move(src);
  };
  // Holdings (issue 8): lufd answers a number only from identifiers of its
  // holder. A prefix or range whose block now lies in another registrant's
  // holding (a port) answers nothing in lufd, so it must not become a
  // wildcard (TNs and range singles are resolved, which filters them).
  auto of_former_holder = [&](const lufd::v1::PublicIdentifier& id) -> bool {
    std::optional<NumberBlock> block = BlockOf(id);
    if (!block.has_value()) return false;
    std::optional<lufd::v1::Holding> h = InnermostHolding(view, *block);
    return h.has_value() && h->registrant_id() != id.registrant_id();
  };
  view.ForEach(lufd::v1::OBJECT_KIND_IDENTIFIER, [&](absl::string_view,
                                                     const RegistryObject& o) {
    const auto& id = o.identifier();
    if (id.kind() != lufd::v1::IDENTIFIER_KIND_TN && of_former_holder(id)) {
      warn(absl::StrCat(IdentifierKey(id), " of ", id.registrant_id(),
                        " lies in a holding of another registrant (ported): "
                        "not exported"));
      return true;
    }
    switch (id.kind()) {
      case lufd::v1::IDENTIFIER_KIND_TN: {
        Resolution r = view.ResolveNumber(id.value(), options.viewer);
        if (!r.found) break;
        RrsetText rr = ToRrsets(r.records, &result.skipped_ns);
        std::string d = Digits(id.value());
        if (!rr.empty() && AllDigits(d)) owners[d] = std::move(rr);
        break;
      }
      case lufd::v1::IDENTIFIER_KIND_TN_PREFIX: {
        std::string d = Digits(id.value());
        if (!AllDigits(d)) break;
        add_wild(d, {1, 0, "prefix " + id.value(), 0, {}}, id);
        break;
      }
      case lufd::v1::IDENTIFIER_KIND_TN_RANGE: {
        std::string s = Digits(id.value());
        std::string e = Digits(id.range_end());
        if (!AllDigits(s) || !AllDigits(e) || s.size() != e.size() || s > e ||
            s.size() > 15) {
          warn(absl::StrCat("range ", id.value(), "-", id.range_end(),
                            ": malformed, skipped"));
          break;
        }
        uint64_t a = 0, b = 0;
        if (!absl::SimpleAtoi(s, &a) || !absl::SimpleAtoi(e, &b)) break;
        for (auto& [digits, k] : DecimalBlocks(s, e)) {
          if (k == 0) {
            singles.push_back(digits);
          } else {
            add_wild(digits,
                     {0,
                      b - a + 1,
                      absl::StrCat("range ", id.value(), "-", id.range_end()),
                      0,
                      {}},
                     id);
          }
        }
        break;
      }
      default:
        break;  // RN and URI identifiers have no ENUM name.
    }
    return true;
  });

  // The numbers at a range's ragged ends: exactly what lufd answers for
  // them (a TN or a narrower range there wins, as in the server).
  for (const auto& d : singles) {
    if (owners.count(d)) continue;
    Resolution r = view.ResolveNumber("+" + d, options.viewer);
    if (!r.found) continue;
    RrsetText rr = ToRrsets(r.records, &result.skipped_ns);
    if (!rr.empty()) owners[d] = std::move(rr);
  }

  // Wildcard records: resolve each prefix/range as if it were the only
  // identifier, through a helper view holding every other object plus one
  // synthetic TN per wildcard source ("+9" + 14-digit index).
  if (!wild.empty()) {
    RegistryView::Builder builder;
    for (auto kind :
         {lufd::v1::OBJECT_KIND_ORG, lufd::v1::OBJECT_KIND_CREDENTIAL,
          lufd::v1::OBJECT_KIND_DEST_GROUP, lufd::v1::OBJECT_KIND_SED_RECORD,
          lufd::v1::OBJECT_KIND_SED_GROUP, lufd::v1::OBJECT_KIND_OFFER}) {
      view.ForEach(kind, [&](absl::string_view key, const RegistryObject& o) {
        builder.Add(kind, key, o);
        return true;
      });
    }
    for (size_t i = 0; i < wild_ids.size(); ++i) {
      RegistryObject o;
      *o.mutable_identifier() = wild_ids[i];
      auto* id = o.mutable_identifier();
      id->set_kind(lufd::v1::IDENTIFIER_KIND_TN);
      id->set_value(absl::StrFormat("+9%014d", i));
      id->clear_range_end();
      builder.Add(lufd::v1::OBJECT_KIND_IDENTIFIER, IdentifierKey(*id), o);
    }
    auto helper = std::move(builder).Build(view.serial());
    for (auto it = wild.begin(); it != wild.end();) {
      Resolution r = helper->ResolveNumber(
          absl::StrFormat("+9%014d", it->second.synthetic), options.viewer);
      it->second.rr = ToRrsets(r.records, &result.skipped_ns);
      if (it->second.rr.empty()) {
        it = wild.erase(it);  // Nothing visible: no wildcard.
      } else {
        ++it;
      }
    }
  }

  // Ports carved out of a wildcard's block: lufd answers their numbers
  // only from the new holder, but a DNS wildcard also matches them unless
  // the new holder's own names exist there. Ports are few (one holding per
  // number moved), so every one is checked against every wildcard.
  if (!wild.empty()) {
    view.ForEach(lufd::v1::OBJECT_KIND_HOLDING, [&](absl::string_view key,
                                                    const RegistryObject& o) {
      const lufd::v1::Holding& h = o.holding();
      if (!h.ported()) return true;
      std::optional<NumberBlock> port = BlockOf(h);
      if (!port.has_value()) return true;
      for (const auto& [digits, src] : wild) {
        const lufd::v1::PublicIdentifier& id = wild_ids[src.synthetic];
        std::optional<NumberBlock> block = BlockOf(id);
        std::optional<NumberBlock> under = BlockOf(
            lufd::v1::IDENTIFIER_KIND_TN_PREFIX, absl::StrCat("+", digits), "");
        if (id.registrant_id() == h.registrant_id() || !block.has_value() ||
            !under.has_value() || !block->Intersects(*port) ||
            !under->Intersects(*port)) {
          continue;
        }
        warn(absl::StrCat("holding ", key, " ported to ", h.registrant_id(),
                          " lies under the wildcard of ", src.describe,
                          ": DNS answers the wildcard there where the new "
                          "holder has no name, lufd does not"));
        break;
      }
      return true;
    });
  }

  // DNS longest match versus registry precedence: a prefix below a range's
  // block answers with the prefix in DNS, with the range in lufd.
  for (const auto& [digits, src] : wild) {
    if (src.rank_kind != 1) continue;
    for (size_t k = 1; k < digits.size(); ++k) {
      auto it = wild.find(digits.substr(0, k));
      if (it != wild.end() && it->second.rank_kind == 0) {
        warn(absl::StrCat(src.describe, " lies inside ", it->second.describe,
                          ": DNS answers the prefix there, lufd the range"));
        break;
      }
    }
  }

  // A wildcard does not match below a name that exists (RFC 4592): every
  // empty non-terminal between a wildcard and a deeper name gets a copy of
  // the closest covering wildcard.
  std::map<std::string, std::string> ent;  // ENT digits -> wildcard digits.
  auto walk = [&](const std::string& name) {
    const std::string* cover = nullptr;
    for (size_t k = 1; k < name.size(); ++k) {
      std::string a = name.substr(0, k);
      auto it = wild.find(a);
      if (it != wild.end()) {
        cover = &it->first;
      } else if (cover != nullptr) {
        ent.emplace(std::move(a), *cover);
      }
    }
  };
  if (!wild.empty()) {
    for (const auto& [digits, rr] : owners) walk(digits);
    for (const auto& [digits, src] : wild) walk(digits);
  }

  // Write.
  std::string& out = result.text;
  absl::StrAppend(
      &out, "; ", zone, " exported by lufctl from registry serial ",
      options.serial, " for ",
      options.viewer.anonymous()
          ? std::string("anonymous")
          : absl::StrCat(options.viewer.org_id,
                         options.viewer.is_admin() ? " (admin)" : ""),
      "\n");
  absl::StrAppend(&out, "$TTL ", options.ttl, "\n");
  absl::StrAppend(&out, zone, " ", options.ttl, " IN SOA ", ns[0], " ", rname,
                  " ", options.serial, " ", options.soa_refresh, " ",
                  options.soa_retry, " ", options.soa_expire, " ",
                  options.soa_minimum, "\n");
  for (const auto& n : ns) {
    absl::StrAppend(&out, zone, " ", options.ttl, " IN NS ", n, "\n");
  }
  for (const auto& n : ns) {
    if (!absl::EndsWith(n, "." + zone)) continue;  // Out of zone: no glue.
    if (options.ns_addresses.empty()) {
      warn(absl::StrCat("NS ", n,
                        " is inside the zone but has no address "
                        "(give --ns-address; kzonecheck reports missing "
                        "glue)"));
    }
    for (const auto& addr : options.ns_addresses) {
      absl::StrAppend(
          &out, n, " ", options.ttl,
          addr.find(':') == std::string::npos ? " IN A " : " IN AAAA ", addr,
          "\n");
    }
  }
  for (const auto& [digits, rr] : owners) {
    AppendRrsets(ReversedOwner(digits, zone), rr, &out, &result.records);
    ++result.numbers;
  }
  for (const auto& [digits, src] : wild) {
    AppendRrsets("*." + ReversedOwner(digits, zone), src.rr, &out,
                 &result.records);
    ++result.wildcards;
  }
  for (const auto& [digits, cover] : ent) {
    AppendRrsets("*." + ReversedOwner(digits, zone), wild[cover].rr, &out,
                 &result.records);
    ++result.ent_wildcards;
  }
  if (result.skipped_ns > 0) {
    warn(absl::StrCat(result.skipped_ns,
                      " NS SED record(s) not written (a delegation cannot "
                      "share an owner with NAPTRs)"));
  }
  return result;
}

// ---------------------------------------------------------------- signing

namespace {

struct LdnsKeyListDeleter {
  void operator()(ldns_key_list* l) const { ldns_key_list_free(l); }
};
struct DnssecZoneDeleter {
  void operator()(ldns_dnssec_zone* z) const { ldns_dnssec_zone_deep_free(z); }
};
struct RdfDeleter {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
struct FileCloser {
  void operator()(FILE* f) const { fclose(f); }
};

std::string Base64(absl::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

std::string DnskeyLine(const std::string& zone, uint32_t ttl,
                       const lufd::v1::DnsKey& k) {
  return absl::StrCat(zone, " ", ttl, " IN DNSKEY ", k.flags(), " 3 ",
                      k.algorithm(), " ", Base64(k.public_key()), "\n");
}

}  // namespace

absl::StatusOr<std::string> SignZoneText(
    absl::string_view zone_text, absl::string_view zone_name,
    const std::vector<lufd::v1::DnsKey>& keys, const ZoneSignOptions& options) {
  auto zone_or = CanonicalDomainName(zone_name);
  if (!zone_or.ok()) return zone_or.status();
  const std::string zone = *zone_or;

  // DNSKEY RRset and signers, from the registry.
  std::string text(zone_text);
  std::vector<const lufd::v1::DnsKey*> signers;
  for (const auto& k : keys) {
    auto kz = CanonicalDomainName(k.zone());
    if (!kz.ok() || *kz != zone) continue;
    if (k.state() == lufd::v1::DNS_KEY_STATE_PUBLISHED ||
        k.state() == lufd::v1::DNS_KEY_STATE_ACTIVE ||
        k.state() == lufd::v1::DNS_KEY_STATE_RETIRED) {
      absl::StrAppend(&text, DnskeyLine(zone, options.dnskey_ttl, k));
    }
    if (k.state() == lufd::v1::DNS_KEY_STATE_ACTIVE) signers.push_back(&k);
  }
  if (signers.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "zone ", zone, " has no ACTIVE DNS key (lufctl key list --zone ", zone,
        ")"));
  }
  if (options.key_dir.empty()) {
    return absl::InvalidArgumentError("--signed needs --key-dir");
  }

  const uint32_t now = static_cast<uint32_t>(absl::ToUnixSeconds(options.now));
  const uint32_t inception = static_cast<uint32_t>(
      absl::ToUnixSeconds(options.now - options.inception_offset));
  const uint32_t expiration = static_cast<uint32_t>(
      absl::ToUnixSeconds(options.now + options.validity));
  (void)now;

  std::unique_ptr<ldns_rdf, RdfDeleter> origin(
      ldns_dname_new_frm_str(zone.c_str()));
  if (!origin) return absl::InvalidArgumentError("bad zone name");

  std::unique_ptr<ldns_key_list, LdnsKeyListDeleter> key_list(
      ldns_key_list_new());
  for (const lufd::v1::DnsKey* k : signers) {
    if (k->private_file().empty() ||
        k->private_file().find('/') != std::string::npos) {
      return absl::FailedPreconditionError(absl::StrCat(
          "DNS key ", zone, "/", k->key_tag(),
          " names no usable private_file ('", k->private_file(), "')"));
    }
    const std::string path = options.key_dir + "/" + k->private_file();
    std::unique_ptr<FILE, FileCloser> f(fopen(path.c_str(), "r"));
    if (!f) {
      return absl::NotFoundError(
          absl::StrCat(path, ": ", std::strerror(errno)));
    }
    EVP_PKEY* pkey = PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr);
    if (pkey == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a PEM private key"));
    }
    ldns_key* key = ldns_key_new();
    if (key == nullptr) {
      EVP_PKEY_free(pkey);
      return absl::ResourceExhaustedError("out of memory");
    }
    switch (k->algorithm()) {
      case 13:
        ldns_key_set_algorithm(key, LDNS_SIGN_ECDSAP256SHA256);
        break;
      case 15:
        ldns_key_set_algorithm(key, LDNS_SIGN_ED25519);
        break;
      default:
        EVP_PKEY_free(pkey);
        ldns_key_free(key);
        return absl::UnimplementedError(
            absl::StrCat("DNS key algorithm ", k->algorithm()));
    }
    ldns_key_set_evp_key(key, pkey);  // The key owns pkey from here.
    ldns_key_set_flags(key, static_cast<uint16_t>(k->flags()));
    ldns_key_set_keytag(key, static_cast<uint16_t>(k->key_tag()));
    ldns_key_set_pubkey_owner(key, ldns_rdf_clone(origin.get()));
    ldns_key_set_inception(key, inception);
    ldns_key_set_expiration(key, expiration);
    ldns_key_list_push_key(key_list.get(), key);  // The list owns it.

    // The private key must be the registry's key, or every signature fails
    // validation: compare the DNSKEY public key fields.
    ldns_rr* derived = ldns_key2rr(key);
    bool match = false;
    if (derived != nullptr && ldns_rr_rd_count(derived) == 4) {
      ldns_rdf* pub = ldns_rr_rdf(derived, 3);
      match = ldns_rdf_size(pub) == k->public_key().size() &&
              std::memcmp(ldns_rdf_data(pub), k->public_key().data(),
                          k->public_key().size()) == 0;
    }
    ldns_rr_free(derived);
    if (!match) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " does not hold the private half of DNS key ",
                       zone, "/", k->key_tag()));
    }
  }

  std::unique_ptr<FILE, FileCloser> in(fmemopen(text.data(), text.size(), "r"));
  if (!in) return absl::InternalError("fmemopen failed");
  ldns_dnssec_zone* raw_zone = nullptr;
  int line = 0;
  ldns_status s = ldns_dnssec_zone_new_frm_fp_l(
      &raw_zone, in.get(), origin.get(), 3600, LDNS_RR_CLASS_IN, &line);
  if (s != LDNS_STATUS_OK) {
    return absl::InternalError(absl::StrCat("zone text line ", line, ": ",
                                            ldns_get_errorstr_by_id(s)));
  }
  std::unique_ptr<ldns_dnssec_zone, DnssecZoneDeleter> dz(raw_zone);
  ldns_rr_list* added = ldns_rr_list_new();
  s = ldns_dnssec_zone_sign(dz.get(), added, key_list.get(),
                            ldns_dnssec_default_replace_signatures, nullptr);
  ldns_rr_list_free(added);  // The RRs belong to the zone.
  if (s != LDNS_STATUS_OK) {
    return absl::InternalError(
        absl::StrCat("signing failed: ", ldns_get_errorstr_by_id(s)));
  }
  char* buf = nullptr;
  size_t size = 0;
  FILE* mem = open_memstream(&buf, &size);
  if (mem == nullptr) return absl::InternalError("open_memstream failed");
  ldns_dnssec_zone_print(mem, dz.get());
  fclose(mem);
  std::string out(buf, size);
  free(buf);
  return out;
}

// ---------------------------------------------------------------- import

ZoneImport ParseZoneImport(absl::string_view text,
                           const ZoneImportOptions& options) {
  ZoneImport result;
  auto error = [&result, &options](int line, std::string msg) {
    if (result.errors_.size() < options.max_errors) {
      result.errors_.push_back(LineError{
          static_cast<uint32_t>(line < 0 ? 0 : line), std::move(msg)});
    }
  };
  auto zone_or = CanonicalDomainName(options.zone);
  if (!zone_or.ok()) {
    error(0, std::string(zone_or.status().message()));
    return result;
  }
  const std::string zone = *zone_or;
  if (text.empty()) return result;

  // fmemopen reads the caller's bytes in place; it needs a mutable buffer.
  std::string buf(text);
  std::unique_ptr<FILE, FileCloser> fp(fmemopen(buf.data(), buf.size(), "r"));
  if (!fp) {
    error(0, "cannot read the zone text");
    return result;
  }
  ldns_rdf* origin = ldns_dname_new_frm_str(zone.c_str());
  ldns_rdf* prev = ldns_dname_new_frm_str(zone.c_str());
  uint32_t default_ttl = 3600;
  int line = 0;

  // Owner digits -> entry index, so an owner's NAPTRs (wherever they are in
  // the file) land in one identifier.
  absl::flat_hash_map<std::string, size_t> by_owner;
  // A/AAAA are glue when their owner is an NS target; known only at the end.
  absl::flat_hash_set<std::string> ns_targets;
  std::vector<std::pair<int, std::string>> addresses;  // Line, owner.
  // Every read consumes input; the bound is a guard against a parser that
  // would not.
  long last_pos = -1;
  for (size_t guard = 0; guard <= buf.size() + 1 && !feof(fp.get()); ++guard) {
    if (result.errors_.size() >= options.max_errors) break;
    ldns_rr* rr = nullptr;
    ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp.get(), &default_ttl, &origin,
                                         &prev, &line);
    long pos = ftell(fp.get());
    if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
        s == LDNS_STATUS_SYNTAX_ORIGIN) {
      if (pos == last_pos) break;
      last_pos = pos;
      continue;
    }
    if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
      error(line, "$INCLUDE is not supported; concatenate the files");
      if (pos == last_pos) break;
      last_pos = pos;
      continue;
    }
    if (s != LDNS_STATUS_OK || rr == nullptr) {
      if (rr != nullptr) ldns_rr_free(rr);
      // ldns reports the end of input after a last comment line as a
      // syntax error: not the user's.
      if (s == LDNS_STATUS_SYNTAX_ERR && feof(fp.get())) break;
      error(line, ldns_get_errorstr_by_id(s));
      if (pos == last_pos) break;
      last_pos = pos;
      continue;
    }
    last_pos = pos;
    std::unique_ptr<ldns_rr, void (*)(ldns_rr*)> holder(rr, ldns_rr_free);
    // As an integer: ldns stores "TYPE927360" as it is, which is no valid
    // ldns_rr_type value (and no DNS type: types are 16 bits).
    const uint32_t type = static_cast<uint32_t>(ldns_rr_get_type(rr));
    if (type > 0xffff) {
      error(line, absl::StrCat("type ", type, " is out of range"));
      continue;
    }
    auto lower_str = [](const ldns_rdf* rdf) {
      char* c = rdf ? ldns_rdf2str(rdf) : nullptr;
      std::string s = c ? absl::AsciiStrToLower(c) : "";
      free(c);
      return s;
    };
    switch (type) {
      case LDNS_RR_TYPE_NS:
        ns_targets.insert(lower_str(ldns_rr_rdf(rr, 0)));
        ++result.ignored_;
        continue;
      case LDNS_RR_TYPE_A:
      case LDNS_RR_TYPE_AAAA:
        addresses.emplace_back(line, lower_str(ldns_rr_owner(rr)));
        continue;
      case LDNS_RR_TYPE_SOA:
      case LDNS_RR_TYPE_DNSKEY:
      case LDNS_RR_TYPE_RRSIG:
      case LDNS_RR_TYPE_NSEC:
      case LDNS_RR_TYPE_NSEC3:
      case LDNS_RR_TYPE_NSEC3PARAM:
      case LDNS_RR_TYPE_CDS:
      case LDNS_RR_TYPE_CDNSKEY:
      case LDNS_RR_TYPE_ZONEMD:
        ++result.ignored_;
        continue;
      case LDNS_RR_TYPE_NAPTR:
        break;
      default: {
        char* t = ldns_rr_type2str(static_cast<ldns_rr_type>(type));
        error(line, absl::StrCat("type ", t ? t : "?",
                                 " cannot be imported (only NAPTR)"));
        free(t);
        continue;
      }
    }
    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
      error(line, "class is not IN");
      continue;
    }
    char* owner_c = ldns_rdf2str(ldns_rr_owner(rr));
    std::string owner = owner_c ? absl::AsciiStrToLower(owner_c) : "";
    free(owner_c);
    bool wildcard = absl::StartsWith(owner, "*.");
    std::string name = wildcard ? owner.substr(2) : owner;
    absl::StatusOr<std::string> e164 = EnumDomainToE164(name, zone);
    if (!e164.ok()) {
      error(line, absl::StrCat("owner ", owner, ": not a number under ", zone,
                               " (", e164.status().message(), ")"));
      continue;
    }
    absl::StatusOr<std::string> norm =
        wildcard ? NormalizeE164Prefix(*e164) : NormalizeE164(*e164);
    if (!norm.ok()) {
      error(line, absl::StrCat("owner ", owner, ": ", norm.status().message()));
      continue;
    }
    // NAPTR RDATA: order, preference, flags, services, regexp, replacement.
    if (ldns_rr_rd_count(rr) != 6) {
      error(line, "NAPTR needs 6 fields");
      continue;
    }
    lufd::v1::NaptrRecord n;
    n.set_order(ldns_rdf2native_int16(ldns_rr_rdf(rr, 0)));
    n.set_preference(ldns_rdf2native_int16(ldns_rr_rdf(rr, 1)));
    auto str_field = [rr](size_t i) {
      const ldns_rdf* f = ldns_rr_rdf(rr, i);
      // LDNS_RDF_TYPE_STR: one length byte, then the bytes.
      const uint8_t* d = ldns_rdf_data(f);
      size_t size = ldns_rdf_size(f);
      if (size == 0) return std::string();
      size_t len = std::min<size_t>(d[0], size - 1);
      return std::string(reinterpret_cast<const char*>(d + 1), len);
    };
    n.set_flags(str_field(2));
    n.set_services(str_field(3));
    n.set_regexp(str_field(4));
    char* repl_c = ldns_rdf2str(ldns_rr_rdf(rr, 5));
    std::string repl = repl_c ? absl::AsciiStrToLower(repl_c) : ".";
    free(repl_c);
    if (repl != ".") n.set_replacement(repl);

    const std::string key = (wildcard ? "p" : "t") + *norm;
    auto [it, inserted] = by_owner.emplace(key, result.entries_.size());
    if (inserted) {
      ZoneImportEntry entry;
      entry.line = static_cast<uint32_t>(line);
      auto& id = entry.identifier;
      id.set_kind(wildcard ? lufd::v1::IDENTIFIER_KIND_TN_PREFIX
                           : lufd::v1::IDENTIFIER_KIND_TN);
      id.set_value(*norm);
      id.set_registrant_id(options.registrant);
      for (const auto& dg : options.dest_groups) id.add_dest_group_ids(dg);
      result.entries_.push_back(std::move(entry));
    }
    auto* rec = result.entries_[it->second].identifier.add_records();
    rec->set_ttl(ldns_rr_ttl(rr));
    rec->set_in_service(true);
    *rec->mutable_naptr() = std::move(n);
    ++result.records_;
  }
  ldns_rdf_deep_free(origin);
  ldns_rdf_deep_free(prev);
  for (const auto& [l, owner] : addresses) {
    if (ns_targets.contains(owner)) {
      ++result.ignored_;
    } else {
      error(l, absl::StrCat("type A/AAAA at ", owner,
                            " cannot be imported (only NAPTR; addresses only "
                            "as glue of an NS target)"));
    }
  }
  std::stable_sort(
      result.errors_.begin(), result.errors_.end(),
      [](const LineError& a, const LineError& b) { return a.line < b.line; });
  return result;
}

void ZoneImportSource::Fill(size_t i, RegistryObject* out) const {
  if (i < preamble_.size()) {
    *out = preamble_[i];
    return;
  }
  out->Clear();
  *out->mutable_identifier() = zone_.entries()[i - preamble_.size()].identifier;
}

std::string ZoneImportSource::Describe(size_t i) const {
  if (i < preamble_.size()) {
    return absl::StrCat("set-up object ", KeyOf(preamble_[i]));
  }
  const auto& e = zone_.entries()[i - preamble_.size()];
  return absl::StrCat(
      "line ", e.line, " (",
      e.identifier.kind() == lufd::v1::IDENTIFIER_KIND_TN ? "tn " : "prefix ",
      e.identifier.value(), ")");
}

}  // namespace lufd::client
