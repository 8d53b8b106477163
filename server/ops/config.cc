#include "server/ops/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/private_file.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/text_format.h"
#include "server/guard/guard_rule.h"  // Header-only.
#include "server/ops/config_values.h"
#include "server/ops/tls_files.h"
#include "yaml-cpp/yaml.h"

namespace lufd {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The defaults table: every default of the schema, in one place. Applied
// when the YAML is loaded (ApplyConfigDefaults): a field the operator left
// unset (an implicit-presence scalar that is 0 or "", an `optional` field
// that is absent) takes the value here; modules then read the filled-in
// config and never default a field themselves. Defaults that depend on
// other fields (a zone's NS, SOA names) and on the machine (dns.workers)
// are computed in ApplyDnsDefaults.
constexpr char kDefaults[] = R"pb(
  grpc {
    listen: "127.0.0.1:50051"
    tls { reload_interval: "10s" }
    max_message_bytes: 4194304
    max_concurrent_streams: 100
    max_deadline: "30s"
    idle_timeout: "5m"
    reflection: false
    max_connections: 1000
    max_connections_per_source: 64
    handshake_timeout: "5s"
    max_calls_per_identity: 64
    max_threads: 256
  }
  store { poll_interval: "20ms" max_view_lag: "5s" }
  log { level: "info" format: "text" }
  drain_timeout: "10s"
  audit {
    denials_max_rows: 10000
    denials_max_pending: 1000
    denials_flush_interval: "5s"
  }
  guard {
    enabled: true
    max_identities: 100000
    peer {
      lookups_per_second: 10000
      burst: 20000
      miss_cost: 2
      distinct_numbers_per_day: 0
      dry_run: false
    }
    anonymous {
      lookups_per_second: 200
      burst: 400
      miss_cost: 2
      distinct_numbers_per_day: 0
      scan_threshold: 0
      signatures_per_second: 100
      signing_burst: 200
    }
    v4_prefix: 24
    v6_prefix: 56
    slip: 2
    offence_memory: "24h"
    offence_denials: 1000
    scan_window: "60s"
    lease_chunk_percent: 1
  }
  dns {
    max_udp_payload: 1232
    max_tcp_connections: 1000
    max_tcp_per_source: 16
    tcp_reserved_for_peers: 100
    tcp_idle_timeout: "10s"
    max_tcp_queries_in_flight: 100
    udp_batch: 32
    udp_receive_buffer: 4194304
    dot {
      client_cert: "optional"
      min_tls_version: "1.3"
      tls { reload_interval: "10s" }
    }
    dnssec {
      enabled: true
      algorithm: 13
      scheme: "csk"
      signature_validity: "14d"
      refresh_before: "5d"
      inception_offset: "1h"
      jitter: "12h"
      zsk_lifetime: "30d"
      publish_safety: "1h"
      retire_safety: "1h"
      on_demand_cache_entries: 100000
      sign_ahead: true
      sign_threads: 1
      auto_generate: true
      purge_keys: "90d"
      denial: "covering"
    }
  }
)pb";

// Per zone (each dns.zones entry), besides the computed names.
constexpr char kZoneDefaults[] = R"pb(
  soa_refresh: 3600
  soa_retry: 600
  soa_expire: 1209600
  soa_minimum: 300
  ttl: 3600
)pb";

template <typename T>
T ParseTable(const char* text) {
  T table;
  // The tables are constants of this file; config_test checks they parse.
  google::protobuf::TextFormat::ParseFromString(text, &table);
  return table;
}

// `*config` on top of `defaults`: proto merge semantics are exactly "set
// fields win" (implicit-presence scalars count as set when not 0 / "";
// `optional` ones when present); repeated fields have no defaults.
template <typename T>
void MergeOver(const T& defaults, T* config) {
  T merged = defaults;
  merged.MergeFrom(*config);
  *config = std::move(merged);
}

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : absl::StrCat(path, ".", key);
}

// Converts one YAML scalar into field `field` of `msg` (appending when the
// field is repeated). Errors name `path`.
void SetScalar(const YAML::Node& node, Message* msg,
               const FieldDescriptor* field, const std::string& path,
               std::vector<std::string>* errors) {
  if (!node.IsScalar()) {
    errors->push_back(absl::StrCat(path, ": expected a scalar value"));
    return;
  }
  const std::string text = node.Scalar();
  const Reflection* r = msg->GetReflection();
  const bool rep = field->is_repeated();
  auto bad = [&](absl::string_view what) {
    errors->push_back(
        absl::StrCat(path, ": expected ", what, ", got \"", text, "\""));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(msg, field, text) : r->SetString(msg, field, text);
      return;
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v = false;
      if (!YAML::convert<bool>::decode(node, v)) return bad("a boolean");
      rep ? r->AddBool(msg, field, v) : r->SetBool(msg, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      rep ? r->AddInt32(msg, field, v) : r->SetInt32(msg, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(text, &v)) return bad("an integer");
      rep ? r->AddInt64(msg, field, v) : r->SetInt64(msg, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v = 0;
      // SimpleAtoi accepts a leading '-' for unsigned types on some inputs;
      // reject it explicitly so "-1" is a type error, not 4294967295.
      if (absl::StartsWith(text, "-") || !absl::SimpleAtoi(text, &v)) {
        return bad("an unsigned 32-bit integer");
      }
      rep ? r->AddUInt32(msg, field, v) : r->SetUInt32(msg, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = 0;
      if (absl::StartsWith(text, "-") || !absl::SimpleAtoi(text, &v)) {
        return bad("an unsigned integer");
      }
      rep ? r->AddUInt64(msg, field, v) : r->SetUInt64(msg, field, v);
      return;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v = 0;
      if (!absl::SimpleAtod(text, &v)) return bad("a number");
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        rep ? r->AddDouble(msg, field, v) : r->SetDouble(msg, field, v);
      } else {
        const float f = static_cast<float>(v);
        rep ? r->AddFloat(msg, field, f) : r->SetFloat(msg, field, f);
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = field->enum_type()->FindValueByName(text);
      if (value == nullptr) {
        std::vector<std::string> names;
        for (int i = 0; i < field->enum_type()->value_count(); ++i) {
          names.push_back(field->enum_type()->value(i)->name());
        }
        return bad(absl::StrCat("one of ", absl::StrJoin(names, ", ")));
      }
      rep ? r->AddEnum(msg, field, value) : r->SetEnum(msg, field, value);
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;  // Handled by the caller.
  }
  errors->push_back(absl::StrCat(path, ": unsupported field type"));
}

void ConvertMessage(const YAML::Node& node, Message* msg,
                    const std::string& path, std::vector<std::string>* errors);

void ConvertValue(const YAML::Node& value, Message* msg,
                  const FieldDescriptor* field, const std::string& path,
                  std::vector<std::string>* errors) {
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    Message* child = field->is_repeated()
                         ? msg->GetReflection()->AddMessage(msg, field)
                         : msg->GetReflection()->MutableMessage(msg, field);
    ConvertMessage(value, child, path, errors);
  } else {
    SetScalar(value, msg, field, path, errors);
  }
}

void ConvertMessage(const YAML::Node& node, Message* msg,
                    const std::string& path, std::vector<std::string>* errors) {
  if (node.IsNull()) return;  // "tls:" with nothing under it: all defaults.
  if (!node.IsMap()) {
    errors->push_back(
        absl::StrCat(path.empty() ? "<root>" : path, ": expected a mapping"));
    return;
  }
  const auto* desc = msg->GetDescriptor();
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      errors->push_back(
          absl::StrCat(Join(path, "<key>"), ": keys must be scalars"));
      continue;
    }
    const std::string key = kv.first.Scalar();
    const std::string field_path = Join(path, key);
    const FieldDescriptor* field = desc->FindFieldByName(key);
    if (field == nullptr) {
      errors->push_back(absl::StrCat(field_path, ": unknown field"));
      continue;
    }
    const YAML::Node& value = kv.second;
    if (value.IsNull()) continue;  // Explicit "key:" / "key: ~" = unset.
    if (field->is_repeated()) {
      if (!value.IsSequence()) {
        errors->push_back(absl::StrCat(field_path, ": expected a sequence"));
        continue;
      }
      msg->GetReflection()->ClearField(msg, field);
      for (size_t i = 0; i < value.size(); ++i) {
        ConvertValue(value[i], msg, field,
                     absl::StrCat(field_path, "[", i, "]"), errors);
      }
    } else {
      ConvertValue(value, msg, field, field_path, errors);
    }
  }
}

void SetIfEmpty(std::string* field, absl::string_view value) {
  if (field->empty()) *field = std::string(value);
}

// Readable regular file check; `what` is the field path. True when the
// file is there to read.
bool CheckReadable(const std::string& file, const std::string& what,
                   bool required, std::vector<std::string>* errors) {
  if (file.empty()) {
    if (required) errors->push_back(absl::StrCat(what, ": required"));
    return false;
  }
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) {
    errors->push_back(absl::StrCat(what, ": cannot read \"", file, "\""));
    return false;
  }
  std::fclose(f);
  return true;
}

// A TLS block (`field` = "grpc.tls" / "dns.dot.tls"): the files exist and
// hold what the listener will load at start-up.
void CheckTlsFiles(const lufd::v1::TlsConfig& tls, const std::string& field,
                   bool ca_required, std::vector<std::string>* errors) {
  const bool cert =
      CheckReadable(tls.cert_file(), field + ".cert_file", true, errors);
  const bool key =
      CheckReadable(tls.key_file(), field + ".key_file", true, errors);
  const bool ca = CheckReadable(tls.client_ca_file(), field + ".client_ca_file",
                                ca_required, errors);
  CheckReadable(tls.crl_file(), field + ".crl_file", false, errors);
  if (cert && key) {
    if (absl::Status s =
            CheckTlsKeyPair(field, tls.cert_file(), tls.key_file());
        !s.ok()) {
      errors->push_back(std::string(s.message()));
    }
  }
  if (ca) {
    if (absl::Status s = CheckCaBundle(field, tls.client_ca_file()); !s.ok()) {
      errors->push_back(std::string(s.message()));
    }
  }
}

// A duration field: parseable, and at least `min` (zero when "0" is
// allowed, e.g. "0" = never).
void CheckDuration(const std::string& text, const std::string& what,
                   std::vector<std::string>* errors,
                   absl::Duration min = absl::Nanoseconds(1)) {
  absl::StatusOr<absl::Duration> d = ParseConfigDuration(text);
  if (!d.ok()) {
    errors->push_back(absl::StrCat(what, ": ", d.status().message()));
  } else if (*d < min) {
    errors->push_back(
        min == absl::Nanoseconds(1)
            ? absl::StrCat(what, ": must be positive")
            : absl::StrCat(what, ": at least ", absl::FormatDuration(min)));
  }
}

// A listen address whose host is an IP literal (the DNS listeners bind
// exactly what is written; no name resolution).
void CheckIpListen(const std::string& listen, const std::string& what,
                   std::vector<std::string>* errors) {
  sockaddr_storage addr;
  socklen_t len = 0;
  if (absl::Status s = ParseIpListenAddress(listen, &addr, &len); !s.ok()) {
    errors->push_back(absl::StrCat(what, ": ", s.message()));
  }
}

// An absolute domain name in presentation form ("e164.arpa."): labels of
// 1-63 octets, at most 255 octets on the wire. Escapes are not supported
// in configuration.
bool ValidAbsoluteName(absl::string_view name) {
  if (name == ".") return true;
  if (name.empty() || name.back() != '.' || name.size() > 254) return false;
  size_t label = 0;
  for (size_t i = 0; i + 1 < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (c == '\\' || c == ' ' || static_cast<unsigned char>(c) < 0x21 ||
        static_cast<unsigned char>(c) > 0x7e) {
      return false;
    }
    if (++label > 63) return false;
  }
  return label > 0;
}

std::string Absolute(const std::string& name) {
  return absl::EndsWith(name, ".") ? name : name + ".";
}

// The DNSSEC rules (also what KeyManager::Create and
// DnssecTiming::FromConfig check, through ValidateDnssecConfig).
void ValidateDnssec(const lufd::v1::DnssecConfig& sec,
                    std::vector<std::string>* errors) {
  if (sec.algorithm() != 13 && sec.algorithm() != 15) {
    errors->push_back(absl::StrCat("dns.dnssec.algorithm: ", sec.algorithm(),
                                   " is not supported (13 or 15)"));
  }
  if (sec.scheme() != "csk" && sec.scheme() != "ksk-zsk") {
    errors->push_back(absl::StrCat("dns.dnssec.scheme: unknown scheme \"",
                                   sec.scheme(), "\" (csk, ksk-zsk)"));
  }
  // Empty means the default (covering) for configs built without kDefaults.
  if (!sec.denial().empty() && sec.denial() != "covering" &&
      sec.denial() != "compact") {
    errors->push_back(absl::StrCat("dns.dnssec.denial: unknown mode \"",
                                   sec.denial(), "\" (covering, compact)"));
  }
  // Shorter signatures would expire before resolvers' caches do.
  CheckDuration(sec.signature_validity(), "dns.dnssec.signature_validity",
                errors, absl::Hours(1));
  CheckDuration(sec.refresh_before(), "dns.dnssec.refresh_before", errors);
  const absl::Duration zero = absl::ZeroDuration();
  CheckDuration(sec.inception_offset(), "dns.dnssec.inception_offset", errors,
                zero);
  CheckDuration(sec.jitter(), "dns.dnssec.jitter", errors, zero);
  CheckDuration(sec.zsk_lifetime(), "dns.dnssec.zsk_lifetime", errors, zero);
  CheckDuration(sec.publish_safety(), "dns.dnssec.publish_safety", errors,
                zero);
  CheckDuration(sec.retire_safety(), "dns.dnssec.retire_safety", errors, zero);
  CheckDuration(sec.purge_keys(), "dns.dnssec.purge_keys", errors, zero);
  absl::StatusOr<absl::Duration> validity =
      ParseConfigDuration(sec.signature_validity());
  absl::StatusOr<absl::Duration> refresh =
      ParseConfigDuration(sec.refresh_before());
  absl::StatusOr<absl::Duration> jitter = ParseConfigDuration(sec.jitter());
  if (validity.ok() && refresh.ok() && jitter.ok() &&
      *refresh + *jitter >= *validity) {
    errors->push_back(
        "dns.dnssec.refresh_before: refresh_before + jitter must be less than "
        "signature_validity (signatures would be re-made at once)");
  }
  // A new ZSK is published publish_safety before it signs; a lifetime not
  // longer than that would roll again before the last roll completed.
  absl::StatusOr<absl::Duration> lifetime =
      ParseConfigDuration(sec.zsk_lifetime());
  absl::StatusOr<absl::Duration> publish =
      ParseConfigDuration(sec.publish_safety());
  if (lifetime.ok() && publish.ok() && *lifetime > zero &&
      *lifetime <= *publish) {
    errors->push_back(
        "dns.dnssec.zsk_lifetime: must exceed publish_safety (or be \"0\" "
        "for never)");
  }
  if (sec.sign_threads() > 64) {
    errors->push_back("dns.dnssec.sign_threads: at most 64");
  }
}

// KeyManager::Start creates key_dir (one level, 0700) or uses it: it must
// be a directory, or its parent must exist.
void CheckKeyDir(const std::string& dir, std::vector<std::string>* errors) {
  struct stat sb;
  if (stat(dir.c_str(), &sb) == 0) {
    if (!S_ISDIR(sb.st_mode)) {
      errors->push_back(
          absl::StrCat("dns.dnssec.key_dir: \"", dir, "\" is not a directory"));
    } else if (absl::Status s =
                   CheckSecretDir("dns.dnssec.key_dir", dir,
                                  kDnssecKeyFilePrefix, kDnssecKeyFileSuffix);
               !s.ok()) {
      errors->push_back(std::string(s.message()));  // As KeyManager::Start.
    }
    return;
  }
  std::string parent = dir;
  while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  const size_t slash = parent.rfind('/');
  parent = slash == std::string::npos ? "."
           : slash == 0               ? "/"
                                      : parent.substr(0, slash);
  if (stat(parent.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    errors->push_back(absl::StrCat("dns.dnssec.key_dir: cannot create \"", dir,
                                   "\": \"", parent, "\" is not a directory"));
  }
}

void ValidateDns(const lufd::v1::DnsConfig& dns,
                 std::vector<std::string>* errors) {
  const bool serving = !dns.listen().empty() || !dns.dot().listen().empty();
  for (int i = 0; i < dns.listen_size(); ++i) {
    CheckIpListen(dns.listen(i), absl::StrCat("dns.listen[", i, "]"), errors);
  }
  const auto& dot = dns.dot();
  if (dot.client_cert() != "none" && dot.client_cert() != "optional" &&
      dot.client_cert() != "required") {
    errors->push_back(absl::StrCat("dns.dot.client_cert: unknown value \"",
                                   dot.client_cert(),
                                   "\" (none, optional, required)"));
  }
  if (dot.min_tls_version() != "1.3" && dot.min_tls_version() != "1.2") {
    errors->push_back(absl::StrCat("dns.dot.min_tls_version: unknown value \"",
                                   dot.min_tls_version(), "\" (1.3, 1.2)"));
  }
  if (!dot.listen().empty()) {
    CheckIpListen(dot.listen(), "dns.dot.listen", errors);
    CheckTlsFiles(dot.tls(), "dns.dot.tls", dot.client_cert() != "none",
                  errors);
    CheckDuration(dot.tls().reload_interval(), "dns.dot.tls.reload_interval",
                  errors);
  }
  if (serving && dns.zones().empty()) {
    errors->push_back(
        "dns.zones: at least one zone is required when dns.listen or "
        "dns.dot.listen is set");
  }
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < dns.zones_size(); ++i) {
    const auto& zone = dns.zones(i);
    const std::string path = absl::StrCat("dns.zones[", i, "]");
    if (zone.name().empty()) {
      errors->push_back(absl::StrCat(path, ".name: required"));
    } else if (!ValidAbsoluteName(zone.name())) {
      errors->push_back(absl::StrCat(
          path, ".name: \"", zone.name(),
          "\" is not an absolute domain name (like \"e164.arpa.\")"));
    } else if (!names.insert(absl::AsciiStrToLower(zone.name())).second) {
      errors->push_back(
          absl::StrCat(path, ".name: duplicate zone \"", zone.name(), "\""));
    }
    for (int j = 0; j < zone.ns_size(); ++j) {
      if (!ValidAbsoluteName(Absolute(zone.ns(j)))) {
        errors->push_back(absl::StrCat(path, ".ns[", j, "]: \"", zone.ns(j),
                                       "\" is not a domain name"));
      }
    }
    if (!zone.soa_mname().empty() &&
        !ValidAbsoluteName(Absolute(zone.soa_mname()))) {
      errors->push_back(absl::StrCat(path, ".soa_mname: not a domain name"));
    }
    if (!zone.soa_rname().empty() &&
        !ValidAbsoluteName(Absolute(zone.soa_rname()))) {
      errors->push_back(absl::StrCat(path, ".soa_rname: not a domain name"));
    }
  }
  // Zone transfer out (server/dns/xfr.h).
  const auto& xfr = dns.xfr();
  for (int i = 0; i < xfr.notify_size(); ++i) {
    const std::string what = absl::StrCat("dns.xfr.notify[", i, "]");
    sockaddr_storage addr;
    socklen_t len = 0;
    if (absl::Status s = ParseIpListenAddress(xfr.notify(i), &addr, &len);
        !s.ok()) {
      errors->push_back(absl::StrCat(what, ": ", s.message()));
    } else if (absl::EndsWith(xfr.notify(i), ":0")) {
      errors->push_back(absl::StrCat(what, ": port 0"));
    }
  }
  for (int i = 0; i < xfr.allow_tsig_size(); ++i) {
    if (!ValidAbsoluteName(Absolute(xfr.allow_tsig(i)))) {
      errors->push_back(absl::StrCat("dns.xfr.allow_tsig[", i, "]: \"",
                                     xfr.allow_tsig(i),
                                     "\" is not a TSIG key name"));
    }
  }
  if (!xfr.allow_dot_orgs().empty() &&
      (dot.listen().empty() || dot.client_cert() == "none")) {
    errors->push_back(
        "dns.xfr.allow_dot_orgs: needs dns.dot.listen with client_cert "
        "optional or required (XoT is authenticated by the client "
        "certificate)");
  }
  const auto& sec = dns.dnssec();
  ValidateDnssec(sec, errors);
  if (sec.enabled() && serving && !dns.zones().empty() &&
      sec.key_dir().empty()) {
    errors->push_back(
        "dns.dnssec.key_dir: required when dnssec is enabled (or set "
        "dns.dnssec.enabled: false)");
  }
  if (sec.enabled() && serving && !sec.key_dir().empty()) {
    CheckKeyDir(sec.key_dir(), errors);
  }
  if (dns.workers() > 1024) errors->push_back("dns.workers: at most 1024");
  if (dns.max_udp_payload() < 512 || dns.max_udp_payload() > 65535) {
    errors->push_back("dns.max_udp_payload: must be 512-65535");
  }
  if (dns.udp_batch() > 1024) errors->push_back("dns.udp_batch: at most 1024");
  if (dns.udp_receive_buffer() > (256u << 20)) {
    errors->push_back("dns.udp_receive_buffer: at most 268435456 (256 MiB)");
  }
  CheckDuration(dns.tcp_idle_timeout(), "dns.tcp_idle_timeout", errors);
  if (dns.tcp_reserved_for_peers() >= dns.max_tcp_connections()) {
    errors->push_back(
        "dns.tcp_reserved_for_peers: must be below dns.max_tcp_connections "
        "(anonymous clients need at least one slot)");
  }
}

void ValidateGuard(const lufd::v1::GuardConfig& guard,
                   std::vector<std::string>* errors) {
  if (guard.max_identities() == 0) {
    errors->push_back("guard.max_identities: must be positive");
  }
  const auto& peer = guard.peer();
  if (peer.lookups_per_second() == 0) {
    errors->push_back("guard.peer.lookups_per_second: must be positive");
  }
  if (peer.burst() == 0) {
    errors->push_back("guard.peer.burst: must be positive");
  }
  if (peer.miss_cost() == 0) {
    errors->push_back("guard.peer.miss_cost: must be positive");
  }
  for (const auto& [name, limits] :
       {std::pair<std::string, const lufd::v1::GuardLimitsConfig*>{
            "guard.peer", &guard.peer()},
        {"guard.anonymous", &guard.anonymous()}}) {
    for (const std::string& rule : limits->dry_run_rules()) {
      if (!ParseGuardRule(rule).has_value()) {
        errors->push_back(absl::StrCat(
            name, ".dry_run_rules: unknown rule \"", rule,
            "\" (rate, disclosure, misses, scan, block, signing)"));
      }
    }
  }
  if (guard.anonymous().miss_cost() == 0) {
    errors->push_back("guard.anonymous.miss_cost: must be positive");
  }
  if (guard.v4_prefix() < 8 || guard.v4_prefix() > 32) {
    errors->push_back("guard.v4_prefix: must be 8-32");
  }
  if (guard.v6_prefix() < 16 || guard.v6_prefix() > 128) {
    errors->push_back("guard.v6_prefix: must be 16-128");
  }
  for (int i = 0; i < guard.block_ladder_size(); ++i) {
    CheckDuration(guard.block_ladder(i),
                  absl::StrCat("guard.block_ladder[", i, "]"), errors,
                  absl::Seconds(1));
  }
  CheckDuration(guard.offence_memory(), "guard.offence_memory", errors);
  CheckDuration(guard.scan_window(), "guard.scan_window", errors,
                absl::Seconds(1));
  // A larger chunk only widens the overshoot bound (replicas x chunk). 0 =
  // the default (1) for configs built without the defaults.
  if (guard.lease_chunk_percent() > 50) {
    errors->push_back("guard.lease_chunk_percent: must be 1-50");
  }
}

bool KnownStoreScheme(absl::string_view url) {
  return absl::StartsWith(url, "sqlite:") || url == "memory:" ||
         absl::StartsWith(url, "postgresql://") ||
         absl::StartsWith(url, "postgres://");
}

}  // namespace

absl::StatusOr<lufd::v1::ServerConfig> ParseConfigYaml(absl::string_view yaml) {
  lufd::v1::ServerConfig config;
  std::vector<std::string> errors;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    ConvertMessage(root, &config, "", &errors);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("YAML syntax error at line ", e.mark.line + 1, ", column ",
                     e.mark.column + 1, ": ", e.msg));
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return config;
}

const lufd::v1::ServerConfig& ConfigDefaults() {
  static const auto* const table =
      new lufd::v1::ServerConfig(ParseTable<lufd::v1::ServerConfig>(kDefaults));
  return *table;
}

namespace {

// The defaults that depend on the machine or on other fields.
void ApplyComputedDnsDefaults(lufd::v1::DnsConfig* dns) {
  if (dns->workers() == 0) {
    dns->set_workers(std::max(1u, std::thread::hardware_concurrency()));
  }
  static const auto* const zone_defaults = new lufd::v1::DnsZoneConfig(
      ParseTable<lufd::v1::DnsZoneConfig>(kZoneDefaults));
  for (auto& zone : *dns->mutable_zones()) {
    MergeOver(*zone_defaults, &zone);
    if (zone.name().empty()) continue;  // Reported by validation.
    const std::string name = Absolute(zone.name());
    if (zone.ns().empty()) zone.add_ns(absl::StrCat("ns1.", name));
    SetIfEmpty(zone.mutable_soa_mname(), zone.ns(0));
    SetIfEmpty(zone.mutable_soa_rname(), absl::StrCat("hostmaster.", name));
  }
}

}  // namespace

void ApplyDnsDefaults(lufd::v1::DnsConfig* dns) {
  MergeOver(ConfigDefaults().dns(), dns);
  ApplyComputedDnsDefaults(dns);
}

void ApplyConfigDefaults(lufd::v1::ServerConfig* config) {
  MergeOver(ConfigDefaults(), config);
  ApplyComputedDnsDefaults(config->mutable_dns());
}

absl::Status ValidateDnssecConfig(const lufd::v1::DnssecConfig& config) {
  std::vector<std::string> errors;
  ValidateDnssec(config, &errors);
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const lufd::v1::ServerConfig& config) {
  std::vector<std::string> errors;
  const auto& grpc = config.grpc();
  std::string host;
  int port = 0;
  if (absl::Status s = ParseListenAddress(grpc.listen(), &host, &port);
      !s.ok()) {
    errors.push_back(absl::StrCat("grpc.listen: ", s.message()));
  }
  const auto& tls = grpc.tls();
  CheckTlsFiles(tls, "grpc.tls", /*ca_required=*/true, &errors);
  CheckDuration(tls.reload_interval(), "grpc.tls.reload_interval", &errors);
  if (grpc.max_message_bytes() < 1024) {
    errors.push_back("grpc.max_message_bytes: must be at least 1024");
  }
  CheckDuration(grpc.max_deadline(), "grpc.max_deadline", &errors);
  CheckDuration(grpc.idle_timeout(), "grpc.idle_timeout", &errors);
  CheckDuration(grpc.handshake_timeout(), "grpc.handshake_timeout", &errors);
  if (grpc.max_connections() == 0) {
    errors.push_back("grpc.max_connections: must be at least 1");
  }
  if (grpc.max_connections_per_source() == 0 ||
      grpc.max_connections_per_source() > grpc.max_connections()) {
    errors.push_back(
        "grpc.max_connections_per_source: must be 1 .. grpc.max_connections");
  }
  if (grpc.max_calls_per_identity() == 0) {
    errors.push_back("grpc.max_calls_per_identity: must be at least 1");
  }
  if (grpc.max_threads() < 2) {
    errors.push_back("grpc.max_threads: must be at least 2");
  }
  if (!grpc.primary_endpoint().empty()) {
    // Sent to clients as is (lufctl dials it): a host and a real port, no
    // scheme, no whitespace.
    std::string host;
    int port = 0;
    if (!ParseListenAddress(grpc.primary_endpoint(), &host, &port).ok() ||
        port == 0 || absl::StrContains(grpc.primary_endpoint(), "://") ||
        std::any_of(host.begin(), host.end(), [](char c) {
          return absl::ascii_isspace(static_cast<unsigned char>(c)) ||
                 absl::ascii_iscntrl(static_cast<unsigned char>(c));
        })) {
      errors.push_back(
          absl::StrCat("grpc.primary_endpoint: \"", grpc.primary_endpoint(),
                       "\" is not host:port or [v6addr]:port (port 1-65535)"));
    }
  }

  const auto& store = config.store();
  if (store.url().empty()) {
    errors.push_back("store.url: required");
  } else if (!KnownStoreScheme(store.url())) {
    errors.push_back(absl::StrCat(
        "store.url: unknown scheme (want sqlite:, postgresql://, memory:)"));
  }
  if (!store.primary_url().empty()) {
    if (!KnownStoreScheme(store.primary_url())) {
      errors.push_back("store.primary_url: unknown scheme");
    } else if (!absl::StartsWith(store.primary_url(), "postgres")) {
      // Only PostgreSQL has standbys to forward from.
      errors.push_back(
          "store.primary_url: must be a PostgreSQL URL (postgresql://, "
          "postgres://, postgres:)");
    } else if (!absl::StartsWith(store.url(), "postgres")) {
      errors.push_back(
          "store.primary_url: only for a PostgreSQL store.url (a hot "
          "standby)");
    }
  }
  CheckDuration(store.poll_interval(), "store.poll_interval", &errors);
  CheckDuration(store.max_view_lag(), "store.max_view_lag", &errors);
  if (const std::string& listen = config.metrics().listen(); !listen.empty()) {
    // civetweb (prometheus-cpp's exposer) binds an address literal; names
    // are not resolved.
    sockaddr_storage addr;
    socklen_t len = 0;
    if (absl::Status s = ParseIpListenAddress(listen, &addr, &len); !s.ok()) {
      errors.push_back(absl::StrCat("metrics.listen: ", s.message()));
    }
  }

  const auto& log = config.log();
  if (log.level() != "debug" && log.level() != "info" &&
      log.level() != "warn" && log.level() != "error") {
    errors.push_back(absl::StrCat("log.level: unknown level \"", log.level(),
                                  "\" (debug, info, warn, error)"));
  }
  if (log.format() != "text" && log.format() != "json") {
    errors.push_back(absl::StrCat("log.format: unknown format \"", log.format(),
                                  "\" (text, json)"));
  }
  CheckDuration(config.drain_timeout(), "drain_timeout", &errors);
  const auto& audit = config.audit();
  if (audit.denials_max_rows() == 0) {
    errors.push_back("audit.denials_max_rows: must be positive");
  }
  if (audit.denials_max_pending() == 0) {
    errors.push_back("audit.denials_max_pending: must be positive");
  }
  CheckDuration(audit.denials_flush_interval(), "audit.denials_flush_interval",
                &errors, absl::Milliseconds(10));
  ValidateDns(config.dns(), &errors);
  ValidateGuard(config.guard(), &errors);
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return absl::OkStatus();
}

absl::StatusOr<lufd::v1::ServerConfig> LoadConfigFile(
    const std::string& path,
    const std::function<void(lufd::v1::ServerConfig*)>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read config file \"", path, "\""));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  absl::StatusOr<lufd::v1::ServerConfig> config = ParseConfigYaml(buffer.str());
  if (!config.ok()) return config.status();
  ApplyConfigDefaults(&*config);
  if (overrides) overrides(&*config);
  if (absl::Status s = ValidateConfig(*config); !s.ok()) return s;
  return config;
}

}  // namespace lufd
