#include "client/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/unsafe_text.h"
#include "server/core/record_ttl.h"

namespace lufd::client {
namespace {

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string NaptrText(const lufd::v1::NaptrRecord& n) {
  return absl::StrCat("NAPTR ", n.order(), " ", n.preference(), " ",
                      Quoted(n.flags()), " ", Quoted(n.services()), " ",
                      Quoted(n.regexp()), " ",
                      n.replacement().empty() ? "." : n.replacement());
}

std::string UriText(const lufd::v1::UriRecord& u) {
  return absl::StrCat("URI ", u.priority(), " ", u.weight(), " ",
                      Quoted(u.target()));
}

const char* YesNo(bool b) { return b ? "yes" : "no"; }

std::string EnumName(const google::protobuf::EnumDescriptor* d, int v,
                     absl::string_view strip_prefix) {
  const auto* value = d->FindValueByNumber(v);
  if (value == nullptr) return absl::StrCat(v);
  std::string name = value->name();
  if (absl::StartsWith(name, strip_prefix)) {
    name = name.substr(strip_prefix.size());
  }
  for (char& c : name) c = static_cast<char>(std::tolower(c));
  return name;
}

std::string IdentifierValue(const lufd::v1::PublicIdentifier& id) {
  if (id.kind() == lufd::v1::IDENTIFIER_KIND_TN_RANGE) {
    return absl::StrCat(id.value(), "-", id.range_end());
  }
  return id.value();
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::AddRow(std::vector<std::string> row) {
  row.resize(headers_.size());
  // Cells hold server data; data stored before the server refused bidi and
  // invisible characters may still hold them (common/unsafe_text.h).
  for (std::string& cell : row) {
    if (HasUnsafeText(cell)) cell = EscapeUnsafeText(cell);
  }
  rows_.push_back(std::move(row));
}

std::string Table::Render() const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line.append(row[c]);
      if (c + 1 < row.size()) line.append(width[c] - row[c].size() + 2, ' ');
    }
    // No trailing blanks: friendlier to diff and grep.
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.append(line);
    out.push_back('\n');
  };
  std::vector<std::string> upper = headers_;
  for (auto& h : upper) {
    for (char& ch : h) ch = static_cast<char>(std::toupper(ch));
  }
  emit(upper);
  for (const auto& row : rows_) emit(row);
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = false;
  auto st = google::protobuf::util::MessageToJsonString(message, &out, opts);
  if (!st.ok()) return "{}";
  // The encoder leaves bidi and invisible characters raw; their \u escapes
  // decode to the same strings.
  return HasUnsafeText(out) ? EscapeUnsafeText(out) : out;
}

std::vector<std::string> ObjectHeaders(lufd::v1::ObjectKind kind) {
  switch (kind) {
    case lufd::v1::OBJECT_KIND_ORG:
      return {"id", "name", "roles", "registrar", "disabled", "quota"};
    case lufd::v1::OBJECT_KIND_CREDENTIAL:
      return {"id",      "org",  "role",    "spki_sha256",
              "san_uri", "tsig", "disabled"};
    case lufd::v1::OBJECT_KIND_IDENTIFIER:
      return {"kind", "value", "registrant", "dest_groups", "records"};
    case lufd::v1::OBJECT_KIND_DEST_GROUP:
      return {"id", "registrant"};
    case lufd::v1::OBJECT_KIND_SED_RECORD:
      return {"id", "registrant", "ttl", "in_service", "rdata"};
    case lufd::v1::OBJECT_KIND_SED_GROUP:
      return {"id",         "registrant", "dest_groups", "records",
              "in_service", "public",     "priority"};
    case lufd::v1::OBJECT_KIND_OFFER:
      return {"sed_group", "peer", "status"};
    case lufd::v1::OBJECT_KIND_DNS_KEY:
      return {"zone",      "tag",    "role",    "alg",        "state",
              "published", "active", "retired", "ds_pending", "owner"};
    case lufd::v1::OBJECT_KIND_HOLDING:
      return {"kind", "block", "registrant", "ported_from", "created"};
    default:
      return {"object"};
  }
}

namespace {

// A credential's TSIG key, without the secret: only whether there is one,
// or (in change-log images) the fingerprint kept in its place.
std::string TsigText(const lufd::v1::Credential& c) {
  if (c.tsig_key_name().empty()) return "";
  std::string secret = ", no secret";
  if (!c.tsig_secret().empty()) {
    secret = ", secret set";
  } else if (!c.tsig_secret_sha256().empty()) {
    secret = absl::StrCat(", secret sha256 ", c.tsig_secret_sha256());
  }
  return absl::StrCat(
      c.tsig_key_name(), " (",
      c.tsig_algorithm().empty() ? "hmac-sha256" : c.tsig_algorithm(), secret,
      ")");
}

}  // namespace

std::vector<std::string> ObjectRow(const lufd::v1::RegistryObject& object) {
  using lufd::v1::RegistryObject;
  switch (object.object_case()) {
    case RegistryObject::kOrg: {
      const auto& o = object.org();
      std::vector<std::string> roles;
      for (int r : o.roles()) {
        roles.push_back(
            EnumName(lufd::v1::OrgRole_descriptor(), r, "ORG_ROLE_"));
      }
      const auto& q = o.quota();
      std::string quota = absl::StrCat(
          "lps=", q.lookups_per_second(), " burst=", q.burst(),
          " distinct/day=", q.distinct_numbers_per_day(),
          " miss=", q.miss_cost(), " scan=", q.scan_threshold(),
          " misses/day=", q.misses_per_day(),
          " sig/s=", q.signatures_per_second(), q.dry_run() ? " dry-run" : "");
      if (!q.dry_run() && q.dry_run_rules_size() > 0) {
        absl::StrAppend(&quota,
                        " dry-run=", absl::StrJoin(q.dry_run_rules(), ","));
      }
      return {o.id(),
              o.name(),
              absl::StrJoin(roles, ","),
              o.registrar_id(),
              YesNo(o.disabled()),
              quota};
    }
    case RegistryObject::kCredential: {
      const auto& c = object.credential();
      return {c.id(),
              c.org_id(),
              EnumName(lufd::v1::Role_descriptor(), c.role(), "ROLE_"),
              c.spki_sha256(),
              c.san_uri(),
              TsigText(c),
              YesNo(c.disabled())};
    }
    case RegistryObject::kIdentifier: {
      const auto& id = object.identifier();
      std::vector<std::string> recs;
      for (const auto& r : id.records()) recs.push_back(SedRecordText(r));
      return {EnumName(lufd::v1::IdentifierKind_descriptor(), id.kind(),
                       "IDENTIFIER_KIND_"),
              IdentifierValue(id), id.registrant_id(),
              absl::StrJoin(id.dest_group_ids(), ";"),
              absl::StrJoin(recs, " | ")};
    }
    case RegistryObject::kDestGroup:
      return {object.dest_group().id(), object.dest_group().registrant_id()};
    case RegistryObject::kSedRecord: {
      const auto& r = object.sed_record();
      // What DNS serves: a record written without a TTL gets the default.
      std::string ttl =
          r.ttl() == 0 ? absl::StrCat(lufd::kDefaultRecordTtl, " (default)")
                       : absl::StrCat(r.ttl());
      return {r.id(), r.registrant_id(), ttl, YesNo(r.in_service()),
              SedRecordText(r)};
    }
    case RegistryObject::kSedGroup: {
      const auto& g = object.sed_group();
      std::vector<std::string> refs;
      for (const auto& ref : g.records()) {
        refs.push_back(absl::StrCat(ref.record_id(), ":", ref.priority()));
      }
      return {g.id(),
              g.registrant_id(),
              absl::StrJoin(g.dest_group_ids(), ";"),
              absl::StrJoin(refs, ","),
              YesNo(g.in_service()),
              YesNo(g.public_()),
              absl::StrCat(g.priority())};
    }
    case RegistryObject::kOffer: {
      const auto& o = object.offer();
      return {o.sed_group_id(), o.peer_org_id(),
              EnumName(lufd::v1::OfferStatus_descriptor(), o.status(),
                       "OFFER_STATUS_")};
    }
    case RegistryObject::kDnsKey: {
      const auto& k = object.dns_key();
      auto when = [](int64_t t) {
        return t == 0 ? std::string("-")
                      : absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                         absl::FromUnixSeconds(t),
                                         absl::UTCTimeZone());
      };
      return {k.zone(), absl::StrCat(k.key_tag()),
              EnumName(lufd::v1::DnsKeyRole_descriptor(), k.role(),
                       "DNS_KEY_ROLE_"),
              absl::StrCat(k.algorithm()),
              EnumName(lufd::v1::DnsKeyState_descriptor(), k.state(),
                       "DNS_KEY_STATE_"),
              when(k.published_unix()), when(k.active_unix()),
              when(k.retired_unix()), YesNo(k.ds_pending()),
              // Multi-signer: the instance that holds this ZSK ("-" =
              // shared, wherever its private file is).
              k.owner().empty()
                  ? std::string("-")
                  : absl::StrCat(k.owner_host().empty() ? "?" : k.owner_host(),
                                 "/", k.owner().substr(0, 8))};
    }
    case RegistryObject::kHolding: {
      const auto& h = object.holding();
      std::string block = h.value();
      if (h.kind() == lufd::v1::IDENTIFIER_KIND_TN_RANGE) {
        absl::StrAppend(&block, "..", h.range_end());
      } else if (h.kind() == lufd::v1::IDENTIFIER_KIND_TN_PREFIX) {
        block.push_back('*');
      }
      return {EnumName(lufd::v1::IdentifierKind_descriptor(), h.kind(),
                       "IDENTIFIER_KIND_"),
              block, h.registrant_id(),
              h.ported() ? (h.ported_from().empty() ? std::string("(ported)")
                                                    : h.ported_from())
                         : std::string(),
              h.created_unix() == 0
                  ? std::string("-")
                  : absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                     absl::FromUnixSeconds(h.created_unix()),
                                     absl::UTCTimeZone())};
    }
    default:
      return {ToJson(object)};
  }
}

namespace {

// SedRecord and SedAnswer carry the same rdata oneof.
template <typename Rdata>
std::string RdataText(const Rdata& r) {
  switch (r.rdata_case()) {
    case Rdata::kNaptr:
      return NaptrText(r.naptr());
    case Rdata::kUri:
      return UriText(r.uri());
    case Rdata::kNs:
      return absl::StrCat("NS ", r.ns().host());
    default:
      return "(empty)";
  }
}

}  // namespace

std::string SedRecordText(const lufd::v1::SedRecord& record) {
  return RdataText(record);
}

std::string SedAnswerText(const lufd::v1::SedAnswer& answer) {
  return RdataText(answer);
}

std::vector<std::string> ChangeHeaders() {
  return {"serial", "seq", "time", "actor", "txn", "op", "kind", "key"};
}

std::string MicrosText(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

std::vector<std::string> ChangeRow(const lufd::v1::Change& c) {
  std::string time = MicrosText(c.time_unix_micros());
  const char* op = c.deleted() ? "del" : (c.has_before() ? "mod" : "add");
  return {absl::StrCat(c.serial()),
          absl::StrCat(c.seq()),
          time,
          c.actor(),
          c.client_txn_id(),
          op,
          EnumName(lufd::v1::ObjectKind_descriptor(), c.kind(), "OBJECT_KIND_"),
          c.key()};
}

namespace {

std::string GuardTime(int64_t micros) {
  return micros == 0 ? "-" : MicrosText(micros);
}

// "-" for 0: every guard limit is "0 = no limit".
std::string Limit(uint32_t v) { return v == 0 ? "-" : absl::StrCat(v); }

// `fallback_now_micros` only counts when the identity lacks the server's
// clock (an older server leaves GuardIdentity.now_unix_micros 0): the block
// ends on the server's clock, so the time left must be counted on it too.
std::string BlockState(const lufd::v1::GuardIdentity& g,
                       int64_t fallback_now_micros) {
  if (!g.blocked()) return "-";
  const int64_t now_micros =
      g.now_unix_micros() != 0 ? g.now_unix_micros() : fallback_now_micros;
  std::string until = GuardTime(g.blocked_until_unix_micros());
  if (now_micros != 0 && g.blocked_until_unix_micros() > now_micros) {
    absl::StrAppend(
        &until, " (",
        absl::FormatDuration(absl::Seconds(
            (g.blocked_until_unix_micros() - now_micros + 999999) / 1000000)),
        " left)");
  }
  return absl::StrCat("blocked until ", until);
}

bool RuleInDryRun(const lufd::v1::GuardIdentity& g, const std::string& rule) {
  return std::find(g.limits().dry_run_rules().begin(),
                   g.limits().dry_run_rules().end(),
                   rule) != g.limits().dry_run_rules().end();
}

}  // namespace

std::vector<std::string> GuardStatusHeaders() {
  return {"identity", "state",  "denied", "offences",    "admitted",
          "hits",     "misses", "tokens", "last denied", "last denial"};
}

std::vector<std::string> GuardStatusRow(const lufd::v1::GuardIdentity& g,
                                        int64_t now_micros) {
  return {g.identity(),
          BlockState(g, now_micros),
          absl::StrCat(g.denied_total()),
          absl::StrCat(g.offences()),
          absl::StrCat(g.admitted()),
          absl::StrCat(g.hits()),
          absl::StrCat(g.misses()),
          absl::StrFormat("%.1f", g.tokens()),
          GuardTime(g.last_denied_unix_micros()),
          g.last_denial()};
}

std::string GuardExplainText(const lufd::v1::GuardIdentity& g,
                             int64_t now_micros) {
  const lufd::v1::GuardLimitsInfo& l = g.limits();
  std::string out;
  auto line = [&out](absl::string_view label, absl::string_view value) {
    absl::StrAppend(
        &out, label, std::string(16 - std::min<size_t>(label.size(), 15), ' '),
        HasUnsafeText(value) ? EscapeUnsafeText(value) : std::string(value),
        "\n");
  };
  line("identity:", g.identity());
  line("state:", g.blocked() ? BlockState(g, now_micros) : "not blocked");
  line("offences:",
       absl::StrCat(g.offences(), " (remembered: ", g.offence_level(),
                    "), blocks imposed: ", g.blocks()));
  line("limits:",
       absl::StrCat("rate ", Limit(l.lookups_per_second()), "/s burst ",
                    Limit(l.burst()), " miss-cost ", l.miss_cost(),
                    "; disclosure ", Limit(l.distinct_numbers_per_day()),
                    "/day; misses ", Limit(l.misses_per_day()),
                    "/day; scan threshold ", Limit(l.scan_threshold()),
                    "; signatures ", Limit(l.signatures_per_second()),
                    "/s burst ", Limit(l.signing_burst())));
  line("dry run:", l.dry_run_rules().empty()
                       ? "none"
                       : absl::StrJoin(l.dry_run_rules(), ","));
  line("tokens:",
       absl::StrFormat("%.2f (signing %.2f)", g.tokens(), g.signing_tokens()));
  line("window (24 h):",
       absl::StrCat("disclosed ", g.disclosed_in_window(), ", misses ",
                    g.misses_in_window(), ", reserved ", g.reserved()));
  line("counts:", absl::StrCat("admitted ", g.admitted(), ", hits ", g.hits(),
                               ", misses ", g.misses(), ", signatures ",
                               g.signatures(), ", denied ", g.denied_total()));
  line("last denial:",
       g.last_denied_unix_micros() == 0
           ? "-"
           : absl::StrCat(GuardTime(g.last_denied_unix_micros()), " ",
                          g.last_denial()));
  line("first seen:", GuardTime(g.first_seen_unix_micros()));
  line("last seen:", GuardTime(g.last_seen_unix_micros()));
  Table rules({"rule", "mode", "denied", "dry-run"});
  for (const lufd::v1::GuardRuleCount& r : g.rules()) {
    rules.AddRow({r.rule(), RuleInDryRun(g, r.rule()) ? "dry-run" : "enforced",
                  absl::StrCat(r.denied()), absl::StrCat(r.dry_run())});
  }
  absl::StrAppend(&out, "\n", rules.Render());
  return out;
}

}  // namespace lufd::client
