#include "client/commands.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/csv_import.h"
#include "client/import_stream.h"
#include "client/json_import.h"
#include "client/local_db.h"
#include "client/output.h"
#include "client/spki.h"
#include "client/zone_file.h"
#include "openssl/evp.h"
#include "openssl/rand.h"
#include "server/core/keys.h"
#include "server/core/view.h"

namespace lufd::client {
namespace {

using lufd::Identity;
using lufd::KeyOf;
using lufd::KindOf;
using lufd::RegistryView;
using lufd::v1::ObjectKind;
using lufd::v1::RegistryObject;

// Every flag of every command lands here; each command's set-up function
// registers only the flags it uses.
struct Args {
  std::string id, name, registrar, org, role, spki, cert_file, san_uri,
      description;
  std::vector<std::string> roles;
  bool disabled = false;
  uint32_t lookups_per_second = 0, burst = 0, distinct_per_day = 0,
           miss_cost = 0, scan_threshold = 0;
  bool dry_run = false;

  std::string value;  // Positional: TN, prefix, RN, URI, query, file.
  std::string start, end, registrant;
  std::vector<std::string> dgs, naptrs, record_refs;
  uint32_t ttl = 0;

  std::string type = "naptr";
  uint32_t order = 0, preference = 0, priority = 0, weight = 0;
  std::string flags, services, regexp, replacement, target, host;
  bool in_service = true, is_public = false;

  std::string sedgroup, peer;
  uint32_t limit = 0;
  // 50000: a failed import leaves whole batches committed (and says which),
  // and lufd holds one batch at a time (0 = the whole file, all or nothing).
  size_t batch_size = 50000, chunk_size = 2000;
  bool check_only = false;
  bool no_wait = false;
  std::string import_format;  // csv | json; empty = by file extension.
  std::string format = "csv", output_file;
  std::vector<std::string> kinds;
  uint64_t after_serial = 0;
  std::string key, actor, store, service;
  std::string credential_id = "bootstrap-admin";

  // DNS: keys, TSIG credentials, zone files.
  std::string zone, key_role, view = "anonymous", key_dir, sed_group;
  uint32_t algorithm = 13;
  bool activate = false, ds_published = false, signed_zone = false;
  std::string tsig_name, tsig_secret, tsig_algorithm = "hmac-sha256";
  bool tsig_generate = false;
  std::vector<std::string> ns, ns_addresses;
};

struct GlobalOptions {
  ConnectionOptions conn;
  std::string output = "table";
  double timeout_seconds = 30;
  std::string txn_id;
};

class Context {
 public:
  Context(const GlobalOptions& g, const Args& a, std::ostream& out,
          std::ostream& err)
      : g(g), a(a), out(out), err(err) {}

  const GlobalOptions& g;
  const Args& a;
  std::ostream& out;
  std::ostream& err;

  OutputFormat format() const {
    return g.output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
  }
  bool json() const { return format() == OutputFormat::kJson; }

  absl::StatusOr<LufdClient*> Client() {
    if (!client_) {
      ConnectionOptions conn = g.conn;
      conn.timeout = absl::Seconds(g.timeout_seconds);
      auto c = LufdClient::Connect(conn);
      if (!c.ok()) return c.status();
      client_ = *std::move(c);
    }
    return client_.get();
  }

 private:
  std::unique_ptr<LufdClient> client_;
};

using Handler = std::function<absl::Status(Context&)>;
using Setup = std::function<void(CLI::App*, Args*)>;

struct Command {
  const char* noun;
  const char* verb;
  const char* synopsis;
  const char* help;
  Setup setup;
  Handler run;
};

// ---------------------------------------------------------------- helpers

absl::Status PrintWrite(Context& ctx, const lufd::v1::WriteResponse& resp) {
  if (ctx.json()) {
    ctx.out << ToJson(resp) << "\n";
  } else {
    ctx.out << "ok: serial " << resp.serial() << ", " << resp.changes()
            << " change(s)\n";
  }
  return absl::OkStatus();
}

absl::Status Put(Context& ctx, const RegistryObject& object) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::PutRequest req;
  *req.mutable_object() = object;
  req.set_client_txn_id(ctx.g.txn_id);
  lufd::v1::WriteResponse resp;
  auto c = (*client)->NewContext();
  absl::Status st = FromGrpc((*client)->admin()->Put(c.get(), req, &resp));
  if (!st.ok()) return st;
  return PrintWrite(ctx, resp);
}

absl::Status Delete(Context& ctx, ObjectKind kind, const std::string& key) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::DeleteRequest req;
  req.mutable_ref()->set_kind(kind);
  req.mutable_ref()->set_key(key);
  req.set_client_txn_id(ctx.g.txn_id);
  lufd::v1::WriteResponse resp;
  auto c = (*client)->NewContext();
  absl::Status st = FromGrpc((*client)->admin()->Delete(c.get(), req, &resp));
  if (!st.ok()) return st;
  return PrintWrite(ctx, resp);
}

absl::StatusOr<RegistryObject> GetObject(Context& ctx, ObjectKind kind,
                                         const std::string& key) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::GetRequest req;
  req.mutable_ref()->set_kind(kind);
  req.mutable_ref()->set_key(key);
  RegistryObject obj;
  auto c = (*client)->NewContext();
  absl::Status st = FromGrpc((*client)->admin()->Get(c.get(), req, &obj));
  if (!st.ok()) return st;
  return obj;
}

// TSIG secrets are shown once, when generated, and never again: get/list
// print that a credential has one, not what it is.
RegistryObject Redacted(const RegistryObject& object) {
  RegistryObject out = object;
  if (out.has_credential()) out.mutable_credential()->clear_tsig_secret();
  return out;
}

void PrintObjects(Context& ctx, ObjectKind kind,
                  const std::vector<RegistryObject>& objects) {
  if (ctx.json()) {
    ctx.out << "[";
    for (size_t i = 0; i < objects.size(); ++i) {
      ctx.out << (i ? ",\n" : "\n") << ToJson(Redacted(objects[i]));
    }
    ctx.out << (objects.empty() ? "]\n" : "\n]\n");
    return;
  }
  Table table(ObjectHeaders(kind));
  for (const auto& o : objects) table.AddRow(ObjectRow(o));
  ctx.out << table.Render();
}

absl::Status Get(Context& ctx, ObjectKind kind, const std::string& key) {
  auto obj = GetObject(ctx, kind, key);
  if (!obj.ok()) return obj.status();
  if (ctx.json()) {
    ctx.out << ToJson(Redacted(*obj)) << "\n";
    return absl::OkStatus();
  }
  PrintObjects(ctx, kind, {*obj});
  return absl::OkStatus();
}

absl::Status List(
    Context& ctx, ObjectKind kind,
    const std::function<bool(const RegistryObject&)>& keep = nullptr) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::ListRequest req;
  req.set_kind(kind);
  req.set_registrant_id(ctx.a.registrant);
  // A client-side filter needs the unfiltered stream; apply the limit here.
  if (!keep) req.set_limit(ctx.a.limit);
  auto c = (*client)->NewContext(false);
  auto reader = (*client)->admin()->List(c.get(), req);
  std::vector<RegistryObject> objects;
  RegistryObject obj;
  bool cancelled = false;
  while (reader->Read(&obj)) {
    if (keep && !keep(obj)) continue;
    objects.push_back(obj);
    if (ctx.a.limit != 0 && objects.size() >= ctx.a.limit) {
      // Enough: stop the server streaming the rest (it may be millions).
      c->TryCancel();
      cancelled = true;
      break;
    }
  }
  absl::Status st = FromGrpc(reader->Finish());
  if (!st.ok() && !(cancelled && absl::IsCancelled(st))) return st;
  PrintObjects(ctx, kind, objects);
  return absl::OkStatus();
}

// "order pref flags services regexp replacement", tokens separated by
// blanks, double quotes group (with \" and \\ escapes); "." or "" as
// replacement means none. Same order as a zone file NAPTR.
absl::StatusOr<lufd::v1::NaptrRecord> ParseNaptrSpec(absl::string_view spec) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < spec.size()) {
    while (i < spec.size() && absl::ascii_isspace(spec[i])) ++i;
    if (i >= spec.size()) break;
    std::string tok;
    if (spec[i] == '"') {
      ++i;
      bool closed = false;
      while (i < spec.size()) {
        char c = spec[i++];
        // Only \" and \\ are escapes: a regexp's \1 must pass through.
        if (c == '\\' && i < spec.size() &&
            (spec[i] == '"' || spec[i] == '\\')) {
          tok.push_back(spec[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          tok.push_back(c);
        }
      }
      if (!closed) {
        return absl::InvalidArgumentError(
            absl::StrCat("--naptr '", spec, "': unterminated quote"));
      }
    } else {
      while (i < spec.size() && !absl::ascii_isspace(spec[i])) {
        tok.push_back(spec[i++]);
      }
    }
    tokens.push_back(std::move(tok));
  }
  if (tokens.size() == 5) tokens.push_back(".");
  if (tokens.size() != 6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--naptr '", spec,
        "': need \"order preference flags services regexp replacement\""));
  }
  lufd::v1::NaptrRecord n;
  uint32_t order = 0, pref = 0;
  if (!absl::SimpleAtoi(tokens[0], &order) || order > 65535 ||
      !absl::SimpleAtoi(tokens[1], &pref) || pref > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--naptr '", spec, "': order and preference must be 0..65535"));
  }
  n.set_order(order);
  n.set_preference(pref);
  n.set_flags(tokens[2]);
  n.set_services(tokens[3]);
  n.set_regexp(tokens[4]);
  if (tokens[5] != ".") n.set_replacement(tokens[5]);
  return n;
}

absl::StatusOr<std::string> RequireTn(absl::string_view v) {
  return NormalizeTn(v);
}

// Key of an identifier, as server/core/keys.h forms it.
absl::StatusOr<std::string> IdentifierKeyFor(lufd::v1::IdentifierKind kind,
                                             const Args& a) {
  switch (kind) {
    case lufd::v1::IDENTIFIER_KIND_TN: {
      auto tn = RequireTn(a.value);
      if (!tn.ok()) return tn.status();
      return "tn:" + *tn;
    }
    case lufd::v1::IDENTIFIER_KIND_TN_RANGE: {
      auto s = RequireTn(a.start);
      if (!s.ok()) return s.status();
      auto e = RequireTn(a.end);
      if (!e.ok()) return e.status();
      return absl::StrCat("range:", *s, "-", *e);
    }
    case lufd::v1::IDENTIFIER_KIND_TN_PREFIX: {
      auto p = RequireTn(a.value);
      if (!p.ok()) return p.status();
      return "prefix:" + *p;
    }
    case lufd::v1::IDENTIFIER_KIND_RN:
      return "rn:" + std::string(absl::StripAsciiWhitespace(a.value));
    case lufd::v1::IDENTIFIER_KIND_URI:
      return "uri:" + std::string(absl::StripAsciiWhitespace(a.value));
    default:
      return absl::InvalidArgumentError("bad identifier kind");
  }
}

absl::Status IdentifierAdd(Context& ctx, lufd::v1::IdentifierKind kind) {
  const Args& a = ctx.a;
  RegistryObject obj;
  auto* id = obj.mutable_identifier();
  id->set_kind(kind);
  switch (kind) {
    case lufd::v1::IDENTIFIER_KIND_TN:
    case lufd::v1::IDENTIFIER_KIND_TN_PREFIX: {
      auto v = RequireTn(a.value);
      if (!v.ok()) return v.status();
      id->set_value(*v);
      break;
    }
    case lufd::v1::IDENTIFIER_KIND_TN_RANGE: {
      auto s = RequireTn(a.start);
      if (!s.ok()) return s.status();
      auto e = RequireTn(a.end);
      if (!e.ok()) return e.status();
      if (s->size() != e->size()) {
        return absl::InvalidArgumentError(
            "--start and --end must have the same number of digits");
      }
      id->set_value(*s);
      id->set_range_end(*e);
      break;
    }
    default:
      id->set_value(std::string(absl::StripAsciiWhitespace(a.value)));
  }
  id->set_registrant_id(a.registrant);
  for (const auto& dg : a.dgs) id->add_dest_group_ids(dg);
  for (const auto& spec : a.naptrs) {
    auto n = ParseNaptrSpec(spec);
    if (!n.ok()) return n.status();
    auto* rec = id->add_records();
    rec->set_ttl(a.ttl);
    rec->set_in_service(true);
    *rec->mutable_naptr() = *n;
  }
  return Put(ctx, obj);
}

absl::Status IdentifierDel(Context& ctx, lufd::v1::IdentifierKind kind) {
  auto key = IdentifierKeyFor(kind, ctx.a);
  if (!key.ok()) return key.status();
  return Delete(ctx, lufd::v1::OBJECT_KIND_IDENTIFIER, *key);
}

absl::Status IdentifierGet(Context& ctx, lufd::v1::IdentifierKind kind) {
  auto key = IdentifierKeyFor(kind, ctx.a);
  if (!key.ok()) return key.status();
  return Get(ctx, lufd::v1::OBJECT_KIND_IDENTIFIER, *key);
}

absl::Status IdentifierList(Context& ctx, lufd::v1::IdentifierKind kind) {
  return List(ctx, lufd::v1::OBJECT_KIND_IDENTIFIER,
              [kind](const RegistryObject& o) {
                return o.identifier().kind() == kind;
              });
}

bool ParseKind(absl::string_view name, ObjectKind* kind) {
  static const std::map<std::string, ObjectKind> kKinds = {
      {"org", lufd::v1::OBJECT_KIND_ORG},
      {"credential", lufd::v1::OBJECT_KIND_CREDENTIAL},
      {"identifier", lufd::v1::OBJECT_KIND_IDENTIFIER},
      {"dest-group", lufd::v1::OBJECT_KIND_DEST_GROUP},
      {"dg", lufd::v1::OBJECT_KIND_DEST_GROUP},
      {"sed-record", lufd::v1::OBJECT_KIND_SED_RECORD},
      {"record", lufd::v1::OBJECT_KIND_SED_RECORD},
      {"sed-group", lufd::v1::OBJECT_KIND_SED_GROUP},
      {"sedgroup", lufd::v1::OBJECT_KIND_SED_GROUP},
      {"offer", lufd::v1::OBJECT_KIND_OFFER},
  };
  auto it = kKinds.find(absl::AsciiStrToLower(name));
  if (it != kKinds.end()) {
    *kind = it->second;
    return true;
  }
  if (lufd::v1::ObjectKind_Parse(absl::AsciiStrToUpper(name), kind)) {
    return true;
  }
  return false;
}

// Flag groups shared by several commands.
void AddIdentifierFlags(CLI::App* c, Args* a) {
  c->add_option("--registrant", a->registrant, "Registrant org id")->required();
  c->add_option("--dg", a->dgs, "Destination group id (repeatable)");
  c->add_option("--naptr", a->naptrs,
                "Inline NAPTR \"order pref flags services regexp "
                "replacement\" (repeatable)");
  c->add_option("--ttl", a->ttl, "TTL of the inline records");
}

void AddLimitFlags(CLI::App* c, Args* a) {
  c->add_option("--registrant", a->registrant, "Only this registrant");
  c->add_option("--limit", a->limit, "At most N objects (0 = all)");
}

// ---------------------------------------------------------------- handlers

absl::Status OrgAdd(Context& ctx) {
  const Args& a = ctx.a;
  RegistryObject obj;
  auto* org = obj.mutable_org();
  org->set_id(a.id);
  org->set_name(a.name);
  for (const auto& r : a.roles) {
    if (r == "registrant") org->add_roles(lufd::v1::ORG_ROLE_REGISTRANT);
    if (r == "registrar") org->add_roles(lufd::v1::ORG_ROLE_REGISTRAR);
    if (r == "peer") org->add_roles(lufd::v1::ORG_ROLE_PEER);
  }
  org->set_registrar_id(a.registrar);
  org->set_disabled(a.disabled);
  auto* q = org->mutable_quota();
  q->set_lookups_per_second(a.lookups_per_second);
  q->set_burst(a.burst);
  q->set_distinct_numbers_per_day(a.distinct_per_day);
  q->set_miss_cost(a.miss_cost);
  q->set_scan_threshold(a.scan_threshold);
  q->set_dry_run(a.dry_run);
  return Put(ctx, obj);
}

std::string Base64Encode(absl::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text) {
  std::string t(absl::StripAsciiWhitespace(text));
  if (t.empty() || t.size() % 4 != 0 ||
      t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789+/=") != std::string::npos) {
    return absl::InvalidArgumentError("--tsig-secret is not base64");
  }
  std::string out(t.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(t.data()),
                          static_cast<int>(t.size()));
  if (n < 0) return absl::InvalidArgumentError("--tsig-secret is not base64");
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the bytes the '=' padding stands for.
  if (absl::EndsWith(t, "==")) {
    len -= 2;
  } else if (absl::EndsWith(t, "=")) {
    len -= 1;
  }
  out.resize(len);
  return out;
}

absl::Status CredentialAdd(Context& ctx) {
  const Args& a = ctx.a;
  RegistryObject obj;
  auto* cred = obj.mutable_credential();
  cred->set_id(a.id);
  cred->set_org_id(a.org);
  if (a.role == "peer") cred->set_role(lufd::v1::ROLE_PEER);
  if (a.role == "registrar") cred->set_role(lufd::v1::ROLE_REGISTRAR);
  if (a.role == "admin") cred->set_role(lufd::v1::ROLE_ADMIN);
  if (!a.spki.empty() && !a.cert_file.empty()) {
    return absl::InvalidArgumentError("give --spki or --cert-file, not both");
  }
  if (!a.cert_file.empty()) {
    auto spki = SpkiSha256FromCertFile(a.cert_file);
    if (!spki.ok()) return spki.status();
    cred->set_spki_sha256(*spki);
  } else {
    std::string spki = absl::AsciiStrToLower(a.spki);
    if (!spki.empty() &&
        (spki.size() != 64 ||
         spki.find_first_not_of("0123456789abcdef") != std::string::npos)) {
      return absl::InvalidArgumentError(
          "--spki must be 64 hex digits (SHA-256 of the DER "
          "SubjectPublicKeyInfo)");
    }
    cred->set_spki_sha256(spki);
  }
  cred->set_san_uri(a.san_uri);
  // TSIG (RFC 8945): a key name bound to this org for DNS queries.
  if (!a.tsig_secret.empty() && a.tsig_generate) {
    return absl::InvalidArgumentError(
        "give --tsig-secret or --tsig-generate, not both");
  }
  if ((!a.tsig_secret.empty() || a.tsig_generate) && a.tsig_name.empty()) {
    return absl::InvalidArgumentError("a TSIG secret needs --tsig-name");
  }
  if (!a.tsig_name.empty()) {
    auto name = CanonicalDomainName(a.tsig_name);
    if (!name.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tsig-name: ", name.status().message()));
    }
    if (a.tsig_algorithm != "hmac-sha256") {
      return absl::InvalidArgumentError(
          "--tsig-algorithm: only hmac-sha256 is supported");
    }
    std::string secret;
    if (a.tsig_generate) {
      secret.resize(32);
      if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), 32) !=
          1) {
        return absl::InternalError("no random bytes for the TSIG secret");
      }
    } else if (a.tsig_secret.empty()) {
      return absl::InvalidArgumentError(
          "--tsig-name needs --tsig-secret BASE64 or --tsig-generate");
    } else {
      auto decoded = Base64Decode(a.tsig_secret);
      if (!decoded.ok()) return decoded.status();
      secret = *std::move(decoded);
    }
    if (secret.size() < 16 || secret.size() > 64) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tsig-secret: ", secret.size(),
                       " bytes; an HMAC-SHA256 key must be 16..64 bytes"));
    }
    cred->set_tsig_key_name(*name);
    cred->set_tsig_algorithm(a.tsig_algorithm);
    cred->set_tsig_secret(secret);
  }
  if (cred->spki_sha256().empty() && cred->san_uri().empty() &&
      cred->tsig_key_name().empty()) {
    return absl::InvalidArgumentError(
        "need --spki, --cert-file or --san-uri to identify the certificate, "
        "or --tsig-name for a TSIG key");
  }
  cred->set_disabled(a.disabled);
  cred->set_description(a.description);
  absl::Status st = Put(ctx, obj);
  if (!st.ok() || !a.tsig_generate) return st;
  // Shown this once: the registry keeps it, lufctl never prints it again.
  const std::string b64 = Base64Encode(cred->tsig_secret());
  const std::string& name = cred->tsig_key_name();
  if (ctx.json()) {
    ctx.out << absl::StrFormat(
        "{\"tsigKeyName\":\"%s\",\"tsigAlgorithm\":\"hmac-sha256\","
        "\"tsigSecret\":\"%s\",\"digY\":\"hmac-sha256:%s:%s\"}\n",
        name, b64, name, b64);
    return absl::OkStatus();
  }
  ctx.out << "\nTSIG secret (shown once; store it now):\n\n"
          << "  dig -y hmac-sha256:" << name << ":" << b64 << " ...\n\n"
          << "BIND (named.conf) / unbound-style key clause:\n"
          << "  key \"" << name << "\" {\n"
          << "    algorithm hmac-sha256;\n"
          << "    secret \"" << b64 << "\";\n"
          << "  };\n\n"
          << "Knot DNS (knot.conf):\n"
          << "  key:\n"
          << "    - id: " << name << "\n"
          << "      algorithm: hmac-sha256\n"
          << "      secret: " << b64 << "\n";
  return absl::OkStatus();
}

absl::Status CredentialSetDisabled(Context& ctx, bool disabled) {
  auto obj = GetObject(ctx, lufd::v1::OBJECT_KIND_CREDENTIAL, ctx.a.id);
  if (!obj.ok()) return obj.status();
  obj->mutable_credential()->set_disabled(disabled);
  return Put(ctx, *obj);
}

absl::Status RecordAdd(Context& ctx) {
  const Args& a = ctx.a;
  RegistryObject obj;
  auto* rec = obj.mutable_sed_record();
  rec->set_id(a.id);
  rec->set_registrant_id(a.registrant);
  rec->set_ttl(a.ttl);
  rec->set_in_service(a.in_service);
  if (!a.naptrs.empty()) {
    if (a.naptrs.size() > 1 || a.type != "naptr") {
      return absl::InvalidArgumentError(
          "a record holds one NAPTR; give --naptr once");
    }
    auto n = ParseNaptrSpec(a.naptrs[0]);
    if (!n.ok()) return n.status();
    *rec->mutable_naptr() = *n;
  } else if (a.type == "naptr") {
    auto* n = rec->mutable_naptr();
    n->set_order(a.order);
    n->set_preference(a.preference);
    n->set_flags(a.flags);
    n->set_services(a.services);
    n->set_regexp(a.regexp);
    n->set_replacement(a.replacement == "." ? "" : a.replacement);
  } else if (a.type == "uri") {
    auto* u = rec->mutable_uri();
    u->set_priority(a.priority);
    u->set_weight(a.weight);
    if (a.target.empty()) return absl::InvalidArgumentError("need --target");
    u->set_target(a.target);
  } else {
    if (a.host.empty()) return absl::InvalidArgumentError("need --host");
    rec->mutable_ns()->set_host(a.host);
  }
  return Put(ctx, obj);
}

absl::Status SedGroupAdd(Context& ctx) {
  const Args& a = ctx.a;
  RegistryObject obj;
  auto* g = obj.mutable_sed_group();
  g->set_id(a.id);
  g->set_registrant_id(a.registrant);
  for (const auto& dg : a.dgs) g->add_dest_group_ids(dg);
  for (const auto& ref : a.record_refs) {
    auto* r = g->add_records();
    // ID[:priority]: the part after the last ':' is the priority when it is
    // a number (record ids may themselves contain ':').
    size_t colon = ref.rfind(':');
    uint32_t prio = 0;
    if (colon != std::string::npos &&
        absl::SimpleAtoi(ref.substr(colon + 1), &prio)) {
      r->set_record_id(ref.substr(0, colon));
      r->set_priority(prio);
    } else {
      r->set_record_id(ref);
    }
  }
  g->set_in_service(a.in_service);
  g->set_public_(a.is_public);
  g->set_priority(a.priority);
  return Put(ctx, obj);
}

absl::Status OfferDecide(Context& ctx, bool accept) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::OfferDecision req;
  req.set_sed_group_id(ctx.a.sedgroup);
  req.set_peer_org_id(ctx.a.peer);
  req.set_client_txn_id(ctx.g.txn_id);
  lufd::v1::WriteResponse resp;
  auto c = (*client)->NewContext();
  grpc::Status st = accept
                        ? (*client)->admin()->AcceptOffer(c.get(), req, &resp)
                        : (*client)->admin()->RejectOffer(c.get(), req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return PrintWrite(ctx, resp);
}

absl::Status Batch(Context& ctx) {
  auto text = ReadSmallFile(ctx.a.value);
  if (!text.ok()) return text.status();
  lufd::v1::BatchRequest req;
  // The file is a JSON array of Operation; wrapping it makes it a
  // BatchRequest, parsed in one call. A whole BatchRequest object is
  // accepted too.
  size_t first = text->find_first_not_of(" \t\r\n");
  std::string json = (first != std::string::npos && (*text)[first] == '[')
                         ? "{\"operations\":" + *text + "}"
                         : *text;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(json, &req, opts);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ctx.a.value, ": ", std::string(st.message())));
  }
  if (req.client_txn_id().empty()) req.set_client_txn_id(ctx.g.txn_id);
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::WriteResponse resp;
  auto c = (*client)->NewContext();
  absl::Status s = FromGrpc((*client)->admin()->Batch(c.get(), req, &resp));
  if (!s.ok()) return s;
  return PrintWrite(ctx, resp);
}

absl::Status ReportBadLines(Context& ctx,
                            const std::vector<LineError>& errors) {
  for (const auto& e : errors) {
    ctx.err << ctx.a.value << ":" << e.line << ": " << e.message << "\n";
  }
  return absl::InvalidArgumentError(absl::StrCat(
      errors.size(), " bad line(s) in ", ctx.a.value, "; nothing was sent"));
}

absl::Status StreamImport(Context& ctx, const ImportSource& source,
                          absl::string_view what) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  ImportOptions opts;
  opts.batch_size = ctx.a.batch_size;
  opts.chunk_size = ctx.a.chunk_size;
  opts.client_txn_id = ctx.g.txn_id;
  opts.validate_only = ctx.a.check_only;
  opts.stop_on_sigint = true;
  ImportOutcome outcome;
  opts.outcome = &outcome;
  const bool tty = ::isatty(STDERR_FILENO) == 1 && &ctx.err == &std::cerr;
  if (tty) {
    opts.on_progress = [&ctx](const ImportProgressInfo& p) {
      ctx.err << FormatProgressBar(p, 30) << std::flush;
    };
  }
  auto c = (*client)->NewContext(false);
  auto result = RunImport((*client)->admin(), c.get(), source, opts);
  if (tty) ctx.err << "\n";
  if (!result.ok()) {
    ctx.err << DescribeOutcome(outcome, source);
    return result.status();
  }
  if (ctx.a.check_only) {
    ctx.out << ctx.a.value << ": " << result->validated << " " << what
            << " checked by the server, OK (nothing was written)\n";
    return absl::OkStatus();
  }
  if (!ctx.a.no_wait) {
    // Committed is not yet served: lufd's view catches up with the change
    // log asynchronously. Wait (bounded by --timeout) until the server's view
    // reaches the import's serial, so "imported" means "visible to lookups".
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + absl::Seconds(ctx.g.timeout_seconds);
    uint64_t view_serial = 0;
    bool known = false;
    while (absl::Now() < deadline) {
      lufd::v1::ServerInfo info;
      auto ic = (*client)->NewContext();
      absl::Status st = FromGrpc((*client)->admin()->GetServerInfo(
          ic.get(), lufd::v1::ServerInfoRequest(), &info));
      if (!st.ok()) break;  // Not allowed or not answering: don't wait.
      known = true;
      view_serial = info.serial();
      if (view_serial >= result->serial) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    if (known && view_serial < result->serial) {
      ctx.err << "lufctl: warning: committed at serial " << result->serial
              << " but the server view is at " << view_serial
              << "; the numbers will be served once it catches up\n";
    }
    result->seconds += absl::ToDoubleSeconds(absl::Now() - start);
  }
  double rate = result->seconds > 0 ? result->objects / result->seconds : 0;
  if (ctx.json()) {
    ctx.out << absl::StrFormat(
        "{\"imported\":%d,\"seconds\":%.3f,\"rate\":%.0f,\"serial\":\"%d\"}\n",
        result->objects, result->seconds, rate, result->serial);
  } else {
    ctx.out << absl::StrFormat("imported %d %s in %.2f s (%.0f/s), serial %d\n",
                               result->objects, what, result->seconds, rate,
                               result->serial);
  }
  return absl::OkStatus();
}

absl::Status Import(Context& ctx) {
  std::string format = ctx.a.import_format;
  if (format.empty()) {
    format = absl::EndsWith(ctx.a.value, ".json") ||
                     absl::EndsWith(ctx.a.value, ".jsonl") ||
                     absl::EndsWith(ctx.a.value, ".ndjson")
                 ? "json"
                 : "csv";
  }
  if (format == "json") {
    auto text = ReadSmallFile(ctx.a.value);
    if (!text.ok()) return text.status();
    JsonImport source = ParseJsonLines(*text);
    if (!source.ok()) return ReportBadLines(ctx, source.errors());
    if (ctx.a.check_only) {
      ctx.out << ctx.a.value << ": " << source.size() << " objects, OK\n";
      return StreamImport(ctx, source, "objects");
    }
    absl::Status st = StreamImport(ctx, source, "objects");
    if (!st.ok()) return st;
    // Import (like Put) creates offers PENDING; a dump's accepted/rejected
    // decisions are replayed in one batch so the restore is faithful.
    lufd::v1::BatchRequest decisions;
    decisions.set_client_txn_id(ctx.g.txn_id);
    for (size_t i = 0; i < source.size(); ++i) {
      const RegistryObject& o = source.object(i);
      if (!o.has_offer()) continue;
      lufd::v1::OfferDecision* d = nullptr;
      if (o.offer().status() == lufd::v1::OFFER_STATUS_ACCEPTED) {
        d = decisions.add_operations()->mutable_accept_offer();
      } else if (o.offer().status() == lufd::v1::OFFER_STATUS_REJECTED) {
        d = decisions.add_operations()->mutable_reject_offer();
      } else {
        continue;
      }
      d->set_sed_group_id(o.offer().sed_group_id());
      d->set_peer_org_id(o.offer().peer_org_id());
    }
    if (decisions.operations_size() == 0) return absl::OkStatus();
    auto client = ctx.Client();
    if (!client.ok()) return client.status();
    lufd::v1::WriteResponse resp;
    auto c = (*client)->NewContext();
    st = FromGrpc((*client)->admin()->Batch(c.get(), decisions, &resp));
    if (!st.ok()) {
      return absl::Status(st.code(),
                          absl::StrCat("objects imported, but restoring offer "
                                       "decisions failed: ",
                                       st.message()));
    }
    if (!ctx.json()) {
      ctx.out << "restored " << decisions.operations_size()
              << " offer decision(s), serial " << resp.serial() << "\n";
    }
    return absl::OkStatus();
  }
  auto plan = ParseImportCsvFile(ctx.a.value);
  if (!plan.ok()) return plan.status();
  if (!plan->ok()) return ReportBadLines(ctx, plan->errors());
  if (ctx.a.check_only) {
    ctx.out << ctx.a.value << ": " << plan->size() << " numbers, "
            << plan->record_count() << " NAPTR records, OK\n";
  }
  return StreamImport(ctx, CsvImportSource(*plan), "numbers");
}

absl::Status Export(Context& ctx) {
  const Args& a = ctx.a;
  const bool csv = a.format == "csv";
  lufd::v1::ExportRequest req;
  req.set_registrant_id(a.registrant);
  if (csv) {
    req.add_kinds(lufd::v1::OBJECT_KIND_IDENTIFIER);
  } else {
    for (const auto& k : a.kinds) {
      ObjectKind kind;
      if (!ParseKind(k, &kind)) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown kind '", k, "'"));
      }
      req.add_kinds(kind);
    }
  }
  std::ofstream file;
  std::ostream* out = &ctx.out;
  if (!a.output_file.empty() && a.output_file != "-") {
    file.open(a.output_file, std::ios::binary | std::ios::trunc);
    if (!file) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot write ", a.output_file));
    }
    out = &file;
  }
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  auto c = (*client)->NewContext(false);
  auto reader = (*client)->admin()->Export(c.get(), req);
  std::string buf;
  if (csv) buf = kTnCsvHeader;
  uint64_t count = 0, skipped = 0;
  RegistryObject obj;
  while (reader->Read(&obj)) {
    if (csv) {
      if (!obj.has_identifier() ||
          obj.identifier().kind() != lufd::v1::IDENTIFIER_KIND_TN) {
        continue;
      }
      absl::Status st = AppendTnCsv(obj.identifier(), &buf);
      if (!st.ok()) {
        ctx.err << "lufctl: skipped: " << st.message() << "\n";
        ++skipped;
        continue;
      }
    } else {
      buf.append(ToJson(obj));
      buf.push_back('\n');
    }
    ++count;
    if (buf.size() > (1 << 20)) {
      out->write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  absl::Status st = FromGrpc(reader->Finish());
  out->write(buf.data(), static_cast<std::streamsize>(buf.size()));
  out->flush();
  if (!st.ok()) return st;
  if (!*out) return absl::DataLossError("write failed");
  if (out != &ctx.out) {
    ctx.err << "exported " << count << " object(s) to " << a.output_file
            << "\n";
  }
  if (skipped > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        skipped, " TN(s) could not be written as CSV; use --format json"));
  }
  return absl::OkStatus();
}

absl::Status Audit(Context& ctx) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::AuditRequest req;
  req.set_after_serial(ctx.a.after_serial);
  req.set_limit(ctx.a.limit);
  req.set_key(ctx.a.key);
  req.set_actor(ctx.a.actor);
  auto c = (*client)->NewContext(false);
  auto reader = (*client)->admin()->Audit(c.get(), req);
  std::vector<lufd::v1::Change> changes;
  lufd::v1::Change change;
  while (reader->Read(&change)) changes.push_back(change);
  absl::Status st = FromGrpc(reader->Finish());
  if (!st.ok()) return st;
  if (ctx.json()) {
    ctx.out << "[";
    for (size_t i = 0; i < changes.size(); ++i) {
      ctx.out << (i ? ",\n" : "\n") << ToJson(changes[i]);
    }
    ctx.out << (changes.empty() ? "]\n" : "\n]\n");
  } else {
    Table table(ChangeHeaders());
    for (const auto& ch : changes) table.AddRow(ChangeRow(ch));
    ctx.out << table.Render();
  }
  return absl::OkStatus();
}

absl::Status Lookup(Context& ctx) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::LookupRequest req;
  req.set_query(ctx.a.value);
  lufd::v1::LookupResponse resp;
  auto c = (*client)->NewContext();
  grpc::Status st = (*client)->lookup()->Lookup(c.get(), req, &resp);
  // No oracle: NOT_FOUND and found=false are the same answer to the user.
  if (st.error_code() == grpc::StatusCode::NOT_FOUND ||
      (st.ok() && !resp.found())) {
    return absl::NotFoundError("not found");
  }
  if (!st.ok()) return FromGrpc(st);
  if (ctx.json()) {
    ctx.out << ToJson(resp) << "\n";
    return absl::OkStatus();
  }
  ctx.out << resp.normalized() << "  " << resp.domain() << "  serial "
          << resp.serial() << "\n";
  Table table({"ttl", "rdata"});
  for (const auto& r : resp.records()) {
    table.AddRow({absl::StrCat(r.ttl()), SedAnswerText(r)});
  }
  ctx.out << table.Render();
  return absl::OkStatus();
}

absl::Status Health(Context& ctx) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  auto status = (*client)->CheckHealth(ctx.a.service);
  if (!status.ok()) return status.status();
  if (ctx.json()) {
    ctx.out << "{\"status\":\"" << *status << "\"}\n";
  } else {
    ctx.out << *status << "\n";
  }
  if (*status != "SERVING") {
    return absl::UnavailableError(absl::StrCat("server is ", *status));
  }
  return absl::OkStatus();
}

absl::Status Info(Context& ctx) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::ServerInfo info;
  auto c = (*client)->NewContext();
  absl::Status st = FromGrpc((*client)->admin()->GetServerInfo(
      c.get(), lufd::v1::ServerInfoRequest(), &info));
  if (!st.ok()) return st;
  if (ctx.json()) {
    ctx.out << ToJson(info) << "\n";
    return absl::OkStatus();
  }
  Table table({"field", "value"});
  table.AddRow({"version", info.version()});
  table.AddRow({"serial", absl::StrCat(info.serial())});
  table.AddRow({"store_serial", absl::StrCat(info.store_serial())});
  table.AddRow({"store_backend", info.store_backend()});
  table.AddRow({"schema_version", absl::StrCat(info.schema_version())});
  table.AddRow({"started",
                absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                 absl::FromUnixSeconds(info.start_time_unix()),
                                 absl::UTCTimeZone())});
  table.AddRow({"caller_org", info.caller_org_id()});
  table.AddRow({"caller_role", lufd::v1::Role_Name(info.caller_role())});
  ctx.out << table.Render();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- DNS

absl::StatusOr<lufd::v1::DnsKeyRole> ParseKeyRole(const std::string& role) {
  if (role.empty() || role == "csk") return lufd::v1::DNS_KEY_ROLE_CSK;
  if (role == "ksk") return lufd::v1::DNS_KEY_ROLE_KSK;
  if (role == "zsk") return lufd::v1::DNS_KEY_ROLE_ZSK;
  return absl::InvalidArgumentError("--role must be csk, ksk or zsk");
}

absl::Status PrintKeys(Context& ctx, const lufd::v1::DnsKeyResponse& resp) {
  if (ctx.json()) {
    ctx.out << ToJson(resp) << "\n";
    return absl::OkStatus();
  }
  std::vector<RegistryObject> objects;
  for (const auto& k : resp.keys()) {
    RegistryObject o;
    *o.mutable_dns_key() = k;
    objects.push_back(std::move(o));
  }
  PrintObjects(ctx, lufd::v1::OBJECT_KIND_DNS_KEY, objects);
  ctx.out << "serial " << resp.serial() << "\n";
  return absl::OkStatus();
}

absl::Status KeyGenerate(Context& ctx) {
  auto zone = CanonicalDomainName(ctx.a.zone);
  if (!zone.ok()) return zone.status();
  auto role = ParseKeyRole(ctx.a.key_role);
  if (!role.ok()) return role.status();
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::GenerateDnsKeyRequest req;
  req.set_zone(*zone);
  req.set_role(*role);
  req.set_algorithm(ctx.a.algorithm);
  req.set_activate(ctx.a.activate);
  lufd::v1::DnsKeyResponse resp;
  auto c = (*client)->NewContext();
  absl::Status st =
      FromGrpc((*client)->admin()->GenerateDnsKey(c.get(), req, &resp));
  if (!st.ok()) return st;
  return PrintKeys(ctx, resp);
}

absl::Status KeyRollover(Context& ctx) {
  auto zone = CanonicalDomainName(ctx.a.zone);
  if (!zone.ok()) return zone.status();
  auto role = ParseKeyRole(ctx.a.key_role);
  if (!role.ok()) return role.status();
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::RolloverDnsKeyRequest req;
  req.set_zone(*zone);
  req.set_role(*role);
  req.set_ds_published(ctx.a.ds_published);
  lufd::v1::DnsKeyResponse resp;
  auto c = (*client)->NewContext();
  absl::Status st =
      FromGrpc((*client)->admin()->RolloverDnsKey(c.get(), req, &resp));
  if (!st.ok()) return st;
  st = PrintKeys(ctx, resp);
  if (!st.ok() || ctx.json()) return st;
  for (const auto& k : resp.keys()) {
    if (k.ds_pending()) {
      ctx.out << "\nKey " << k.key_tag() << " waits for its DS at the parent:"
              << " publish the DS from 'lufctl key ds --zone " << *zone
              << "', wait for the parent's DS TTL, then run 'lufctl key "
                 "rollover --zone "
              << *zone << " --role "
              << (ctx.a.key_role.empty() ? "csk" : ctx.a.key_role)
              << " --ds-published'.\n";
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status KeyDs(Context& ctx) {
  auto zone = CanonicalDomainName(ctx.a.zone);
  if (!zone.ok()) return zone.status();
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  lufd::v1::GetDsRequest req;
  req.set_zone(*zone);
  lufd::v1::GetDsResponse resp;
  auto c = (*client)->NewContext();
  absl::Status st = FromGrpc((*client)->admin()->GetDs(c.get(), req, &resp));
  if (!st.ok()) return st;
  if (ctx.json()) {
    ctx.out << ToJson(resp) << "\n";
    return absl::OkStatus();
  }
  if (resp.ds().empty()) {
    return absl::NotFoundError(absl::StrCat(
        "zone ", *zone, " has no KSK or CSK (lufctl key generate --zone ",
        *zone, " --activate)"));
  }
  ctx.out << "; DS records for the parent zone (SHA-256)\n";
  for (const auto& l : resp.ds()) ctx.out << l << "\n";
  ctx.out << "; DNSKEY trust anchors (e.g. unbound trust-anchor-file)\n";
  for (const auto& l : resp.dnskey()) ctx.out << l << "\n";
  return absl::OkStatus();
}

absl::StatusOr<Identity> ViewerFor(const std::string& view) {
  if (view.empty() || view == "anonymous") return Identity{};
  if (view == "admin") {
    return Identity{"", "lufctl-export", lufd::v1::ROLE_ADMIN};
  }
  if (view.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        "--view must be anonymous, admin or an org id (namespace:value)");
  }
  return Identity{view, "lufctl-export", lufd::v1::ROLE_PEER};
}

absl::Status ZoneExport(Context& ctx) {
  const Args& a = ctx.a;
  ZoneExportOptions opts;
  auto zone = CanonicalDomainName(a.zone);
  if (!zone.ok()) return zone.status();
  opts.zone = *zone;
  opts.ns = a.ns;
  opts.ns_addresses = a.ns_addresses;
  auto viewer = ViewerFor(a.view);
  if (!viewer.ok()) return viewer.status();
  opts.viewer = *viewer;
  if (a.signed_zone && a.key_dir.empty()) {
    return absl::InvalidArgumentError("--signed needs --key-dir");
  }
  auto client = ctx.Client();
  if (!client.ok()) return client.status();

  // The SOA serial is the registry serial. Read before the export, so a
  // write racing the export gives a newer serial to the next export.
  lufd::v1::ServerInfo info;
  {
    auto c = (*client)->NewContext();
    absl::Status st = FromGrpc((*client)->admin()->GetServerInfo(
        c.get(), lufd::v1::ServerInfoRequest(), &info));
    if (!st.ok()) return st;
  }
  const uint64_t serial = std::max(info.store_serial(), info.serial());
  opts.serial = static_cast<uint32_t>(serial);  // RFC 1982 arithmetic.
  if (opts.serial == 0) opts.serial = 1;

  lufd::v1::ExportRequest req;  // All kinds: the view needs every object.
  auto c = (*client)->NewContext(false);
  auto reader = (*client)->admin()->Export(c.get(), req);
  RegistryView::Builder builder;
  std::vector<lufd::v1::DnsKey> keys;
  RegistryObject obj;
  size_t objects = 0;
  while (reader->Read(&obj)) {
    ++objects;
    if (obj.has_dns_key()) {
      keys.push_back(obj.dns_key());
      continue;
    }
    builder.Add(KindOf(obj), KeyOf(obj), obj);
  }
  absl::Status st = FromGrpc(reader->Finish());
  if (!st.ok()) return st;
  auto view = std::move(builder).Build(serial);
  auto result = BuildZoneText(*view, opts);
  if (!result.ok()) return result.status();
  std::string text = std::move(result->text);
  size_t signers = 0;
  if (a.signed_zone) {
    ZoneSignOptions sign;
    sign.key_dir = a.key_dir;
    sign.dnskey_ttl = opts.ttl;
    for (const auto& k : keys) {
      if (k.state() == lufd::v1::DNS_KEY_STATE_ACTIVE &&
          CanonicalDomainName(k.zone()).value_or("") == *zone) {
        ++signers;
      }
    }
    auto signed_text = SignZoneText(text, *zone, keys, sign);
    if (!signed_text.ok()) return signed_text.status();
    text = *std::move(signed_text);
  }
  for (const auto& w : result->warnings) {
    ctx.err << "lufctl: warning: " << w << "\n";
  }
  if (a.output_file.empty() || a.output_file == "-") {
    ctx.out << text;
  } else {
    std::ofstream file(a.output_file, std::ios::binary | std::ios::trunc);
    if (!file) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot write ", a.output_file));
    }
    file << text;
    file.close();
    if (!file) return absl::DataLossError("write failed");
  }
  ctx.err << absl::StrFormat(
      "zone %s serial %d (view %s): %d numbers, %d wildcards (+%d under empty "
      "non-terminals), %d records%s%s\n",
      *zone, opts.serial, a.view, result->numbers, result->wildcards,
      result->ent_wildcards, result->records,
      a.signed_zone ? absl::StrCat(", signed with ", signers, " key(s)") : "",
      result->warnings.empty()
          ? ""
          : absl::StrCat(", ", result->warnings.size(), " warning(s)"));
  return absl::OkStatus();
}

absl::Status ZoneImportCmd(Context& ctx) {
  const Args& a = ctx.a;
  auto zone = CanonicalDomainName(a.zone);
  if (!zone.ok()) return zone.status();
  auto text = ReadSmallFile(a.value);
  if (!text.ok()) return text.status();
  ZoneImportOptions opts;
  opts.zone = *zone;
  opts.registrant = a.registrant;
  opts.dest_groups = a.dgs;
  ZoneImport parsed = ParseZoneImport(*text, opts);
  if (!parsed.ok()) return ReportBadLines(ctx, parsed.errors());
  if (a.dgs.empty()) {
    ctx.err << "lufctl: warning: no --dest-group: the imported numbers "
               "resolve to nothing until they are attached to one\n";
  }
  if (a.check_only) {
    ctx.out << a.value << ": " << parsed.entries().size() << " numbers, "
            << parsed.record_count() << " NAPTR records, " << parsed.ignored()
            << " records ignored (SOA, NS, DNSSEC), OK\n";
    return absl::OkStatus();
  }
  // Scaffolding that does not exist yet is created in the same import (the
  // same atomic batch unless --batch-size splits it); existing objects are
  // never replaced.
  std::vector<RegistryObject> preamble;
  for (const auto& dg : a.dgs) {
    auto got = GetObject(ctx, lufd::v1::OBJECT_KIND_DEST_GROUP, dg);
    if (got.ok()) continue;
    if (!absl::IsNotFound(got.status())) return got.status();
    RegistryObject o;
    o.mutable_dest_group()->set_id(dg);
    o.mutable_dest_group()->set_registrant_id(a.registrant);
    preamble.push_back(std::move(o));
  }
  if (!a.sed_group.empty()) {
    auto got = GetObject(ctx, lufd::v1::OBJECT_KIND_SED_GROUP, a.sed_group);
    if (got.ok()) {
      for (const auto& dg : a.dgs) {
        const auto& ids = got->sed_group().dest_group_ids();
        if (std::find(ids.begin(), ids.end(), dg) == ids.end()) {
          ctx.err << "lufctl: warning: existing SED group " << a.sed_group
                  << " is not on destination group " << dg
                  << " (left unchanged)\n";
        }
      }
    } else if (absl::IsNotFound(got.status())) {
      RegistryObject o;
      auto* g = o.mutable_sed_group();
      g->set_id(a.sed_group);
      g->set_registrant_id(a.registrant);
      for (const auto& dg : a.dgs) g->add_dest_group_ids(dg);
      g->set_in_service(true);
      g->set_public_(a.is_public);
      preamble.push_back(std::move(o));
    } else {
      return got.status();
    }
  }
  ZoneImportSource source(parsed, std::move(preamble));
  return StreamImport(ctx, source, "objects");
}

// ---------------------------------------------------------------- the table

const std::vector<Command>& Commands() {
  using IK = lufd::v1::IdentifierKind;
  static const auto* kCommands = new std::vector<Command>{
      // org
      {"org", "add",
       "org add --id NS:ID [--name N] [--role registrant|registrar|peer]... "
       "[--registrar ORG] [--disabled] [quota flags]",
       "Create or replace an organization (and its anti-harvesting quota).",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Org id, namespace:value")->required();
         c->add_option("--name", a->name, "Display name");
         c->add_option("--role", a->roles, "Org role (repeatable)")
             ->check(CLI::IsMember({"registrant", "registrar", "peer"}));
         c->add_option("--registrar", a->registrar,
                       "Registrar org that provisions for this registrant");
         c->add_flag("--disabled", a->disabled, "Disable the org");
         c->add_option("--lookups-per-second", a->lookups_per_second,
                       "Token-bucket rate (0 = default)");
         c->add_option("--burst", a->burst, "Bucket depth (0 = default)");
         c->add_option("--distinct-per-day", a->distinct_per_day,
                       "Distinct numbers disclosed per day");
         c->add_option("--miss-cost", a->miss_cost,
                       "Tokens a not-found answer costs");
         c->add_option("--scan-threshold", a->scan_threshold,
                       "Distinct misses per prefix per window");
         c->add_flag("--dry-run", a->dry_run,
                     "Quota counts and logs but never denies");
       },
       OrgAdd},
      {"org", "get", "org get ID", "Show one organization.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Org id")->required();
       },
       [](Context& ctx) {
         return Get(ctx, lufd::v1::OBJECT_KIND_ORG, ctx.a.id);
       }},
      {"org", "list", "org list [--limit N]", "List organizations.",
       [](CLI::App* c, Args* a) {
         c->add_option("--limit", a->limit, "At most N (0 = all)");
       },
       [](Context& ctx) { return List(ctx, lufd::v1::OBJECT_KIND_ORG); }},
      {"org", "del", "org del ID",
       "Delete an organization and everything it owns (cascade).",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Org id")->required();
       },
       [](Context& ctx) {
         return Delete(ctx, lufd::v1::OBJECT_KIND_ORG, ctx.a.id);
       }},
      // credential
      {"credential", "add",
       "credential add --id ID --org ORG --role peer|registrar|admin "
       "(--spki HEX | --cert-file PEM) [--san-uri URI] [--tsig-name NAME "
       "(--tsig-secret BASE64 | --tsig-generate)] [--disabled]",
       "Bind a client certificate (SPKI pin and/or SAN URI) and/or a TSIG "
       "key to an org and a role.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Credential id")->required();
         c->add_option("--org", a->org, "Org id")->required();
         c->add_option("--role", a->role, "Role")
             ->required()
             ->check(CLI::IsMember({"peer", "registrar", "admin"}));
         c->add_option("--spki", a->spki,
                       "SHA-256 hex of the DER SubjectPublicKeyInfo");
         c->add_option("--cert-file", a->cert_file,
                       "PEM certificate to compute the SPKI pin from");
         c->add_option("--san-uri", a->san_uri,
                       "SAN URI the certificate must carry");
         c->add_option("--description", a->description, "Free text");
         c->add_flag("--disabled", a->disabled, "Create disabled");
         c->add_option("--tsig-name", a->tsig_name,
                       "TSIG key name for DNS queries (RFC 8945)");
         c->add_option("--tsig-secret", a->tsig_secret,
                       "TSIG secret, base64 (16..64 bytes)");
         c->add_option("--tsig-algorithm", a->tsig_algorithm,
                       "hmac-sha256 (the only one)")
             ->check(CLI::IsMember({"hmac-sha256"}));
         c->add_flag("--tsig-generate", a->tsig_generate,
                     "Generate a random 32-byte secret and print it once");
       },
       CredentialAdd},
      {"credential", "get", "credential get ID", "Show one credential.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Credential id")->required();
       },
       [](Context& ctx) {
         return Get(ctx, lufd::v1::OBJECT_KIND_CREDENTIAL, ctx.a.id);
       }},
      {"credential", "list", "credential list [--org ORG] [--limit N]",
       "List credentials.",
       [](CLI::App* c, Args* a) {
         c->add_option("--org", a->org, "Only this org's");
         c->add_option("--limit", a->limit, "At most N (0 = all)");
       },
       [](Context& ctx) {
         if (ctx.a.org.empty()) {
           return List(ctx, lufd::v1::OBJECT_KIND_CREDENTIAL);
         }
         std::string org = ctx.a.org;
         return List(ctx, lufd::v1::OBJECT_KIND_CREDENTIAL,
                     [org](const RegistryObject& o) {
                       return o.credential().org_id() == org;
                     });
       }},
      {"credential", "del", "credential del ID", "Delete a credential.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Credential id")->required();
       },
       [](Context& ctx) {
         return Delete(ctx, lufd::v1::OBJECT_KIND_CREDENTIAL, ctx.a.id);
       }},
      {"credential", "disable", "credential disable ID",
       "Disable a credential (its certificate is refused).",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Credential id")->required();
       },
       [](Context& ctx) { return CredentialSetDisabled(ctx, true); }},
      {"credential", "enable", "credential enable ID",
       "Re-enable a credential.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Credential id")->required();
       },
       [](Context& ctx) { return CredentialSetDisabled(ctx, false); }},
      // number (TN)
      {"number", "add",
       "number add TN --registrant ORG [--dg DG]... [--naptr \"o p f s re "
       "repl\"]... [--ttl S]",
       "Create or replace a telephone number (E.164) with optional inline "
       "NAPTRs.",
       [](CLI::App* c, Args* a) {
         c->add_option("tn", a->value, "E.164 number, +CC...")->required();
         AddIdentifierFlags(c, a);
       },
       [](Context& ctx) { return IdentifierAdd(ctx, IK::IDENTIFIER_KIND_TN); }},
      {"number", "get", "number get TN", "Show one telephone number.",
       [](CLI::App* c, Args* a) {
         c->add_option("tn", a->value, "E.164 number")->required();
       },
       [](Context& ctx) { return IdentifierGet(ctx, IK::IDENTIFIER_KIND_TN); }},
      {"number", "del", "number del TN", "Delete a telephone number.",
       [](CLI::App* c, Args* a) {
         c->add_option("tn", a->value, "E.164 number")->required();
       },
       [](Context& ctx) { return IdentifierDel(ctx, IK::IDENTIFIER_KIND_TN); }},
      {"number", "list", "number list [--registrant ORG] [--limit N]",
       "List telephone numbers.", AddLimitFlags,
       [](Context& ctx) {
         return IdentifierList(ctx, IK::IDENTIFIER_KIND_TN);
       }},
      // range
      {"range", "add",
       "range add --start TN --end TN --registrant ORG [--dg DG]... "
       "[--naptr ...]",
       "Create or replace an inclusive TN range (same digit count).",
       [](CLI::App* c, Args* a) {
         c->add_option("start,--start", a->start, "First TN")->required();
         c->add_option("end,--end", a->end, "Last TN")->required();
         AddIdentifierFlags(c, a);
       },
       [](Context& ctx) {
         return IdentifierAdd(ctx, IK::IDENTIFIER_KIND_TN_RANGE);
       }},
      {"range", "del", "range del --start TN --end TN", "Delete a TN range.",
       [](CLI::App* c, Args* a) {
         c->add_option("start,--start", a->start, "First TN")->required();
         c->add_option("end,--end", a->end, "Last TN")->required();
       },
       [](Context& ctx) {
         return IdentifierDel(ctx, IK::IDENTIFIER_KIND_TN_RANGE);
       }},
      {"range", "list", "range list [--registrant ORG] [--limit N]",
       "List TN ranges.", AddLimitFlags,
       [](Context& ctx) {
         return IdentifierList(ctx, IK::IDENTIFIER_KIND_TN_RANGE);
       }},
      // prefix
      {"prefix", "add",
       "prefix add +DIGITS --registrant ORG [--dg DG]... [--naptr ...]",
       "Create or replace a TN prefix (covers every number under it).",
       [](CLI::App* c, Args* a) {
         c->add_option("prefix", a->value, "+CC... prefix")->required();
         AddIdentifierFlags(c, a);
       },
       [](Context& ctx) {
         return IdentifierAdd(ctx, IK::IDENTIFIER_KIND_TN_PREFIX);
       }},
      {"prefix", "del", "prefix del +DIGITS", "Delete a TN prefix.",
       [](CLI::App* c, Args* a) {
         c->add_option("prefix", a->value, "+CC... prefix")->required();
       },
       [](Context& ctx) {
         return IdentifierDel(ctx, IK::IDENTIFIER_KIND_TN_PREFIX);
       }},
      {"prefix", "list", "prefix list [--registrant ORG] [--limit N]",
       "List TN prefixes.", AddLimitFlags,
       [](Context& ctx) {
         return IdentifierList(ctx, IK::IDENTIFIER_KIND_TN_PREFIX);
       }},
      // rn
      {"rn", "add", "rn add DIGITS --registrant ORG [--dg DG]... [--naptr ...]",
       "Create or replace a routing number.",
       [](CLI::App* c, Args* a) {
         c->add_option("rn", a->value, "Routing number digits")->required();
         AddIdentifierFlags(c, a);
       },
       [](Context& ctx) { return IdentifierAdd(ctx, IK::IDENTIFIER_KIND_RN); }},
      {"rn", "del", "rn del DIGITS", "Delete a routing number.",
       [](CLI::App* c, Args* a) {
         c->add_option("rn", a->value, "Routing number digits")->required();
       },
       [](Context& ctx) { return IdentifierDel(ctx, IK::IDENTIFIER_KIND_RN); }},
      {"rn", "list", "rn list [--registrant ORG] [--limit N]",
       "List routing numbers.", AddLimitFlags,
       [](Context& ctx) {
         return IdentifierList(ctx, IK::IDENTIFIER_KIND_RN);
       }},
      // uri
      {"uri", "add", "uri add URI --registrant ORG [--dg DG]... [--naptr ...]",
       "Create or replace a URI public identifier.",
       [](CLI::App* c, Args* a) {
         c->add_option("uri", a->value, "The URI")->required();
         AddIdentifierFlags(c, a);
       },
       [](Context& ctx) {
         return IdentifierAdd(ctx, IK::IDENTIFIER_KIND_URI);
       }},
      {"uri", "del", "uri del URI", "Delete a URI public identifier.",
       [](CLI::App* c, Args* a) {
         c->add_option("uri", a->value, "The URI")->required();
       },
       [](Context& ctx) {
         return IdentifierDel(ctx, IK::IDENTIFIER_KIND_URI);
       }},
      {"uri", "list", "uri list [--registrant ORG] [--limit N]",
       "List URI public identifiers.", AddLimitFlags,
       [](Context& ctx) {
         return IdentifierList(ctx, IK::IDENTIFIER_KIND_URI);
       }},
      // destination groups
      {"dg", "add", "dg add --id ID --registrant ORG",
       "Create or replace a destination group.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Destination group id")->required();
         c->add_option("--registrant", a->registrant, "Registrant org id")
             ->required();
       },
       [](Context& ctx) {
         RegistryObject obj;
         obj.mutable_dest_group()->set_id(ctx.a.id);
         obj.mutable_dest_group()->set_registrant_id(ctx.a.registrant);
         return Put(ctx, obj);
       }},
      {"dg", "get", "dg get ID", "Show one destination group.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Destination group id")->required();
       },
       [](Context& ctx) {
         return Get(ctx, lufd::v1::OBJECT_KIND_DEST_GROUP, ctx.a.id);
       }},
      {"dg", "del", "dg del ID",
       "Delete a destination group (removed from identifiers and SED "
       "groups).",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Destination group id")->required();
       },
       [](Context& ctx) {
         return Delete(ctx, lufd::v1::OBJECT_KIND_DEST_GROUP, ctx.a.id);
       }},
      {"dg", "list", "dg list [--registrant ORG] [--limit N]",
       "List destination groups.", AddLimitFlags,
       [](Context& ctx) {
         return List(ctx, lufd::v1::OBJECT_KIND_DEST_GROUP);
       }},
      // SED records
      {"record", "add",
       "record add --id ID --registrant ORG --type naptr|uri|ns [--ttl S] "
       "[--out-of-service] (naptr: --order --preference --flags --services "
       "--regexp|--replacement; uri: --priority --weight --target; ns: "
       "--host)",
       "Create or replace a standalone SED record.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Record id")->required();
         c->add_option("--registrant", a->registrant, "Registrant org id")
             ->required();
         c->add_option("--type", a->type, "Record type")
             ->check(CLI::IsMember({"naptr", "uri", "ns"}));
         c->add_option("--ttl", a->ttl, "TTL in seconds");
         c->add_flag("--in-service,!--out-of-service", a->in_service,
                     "In service (default) or not");
         c->add_option("--order", a->order, "NAPTR order");
         c->add_option("--preference", a->preference, "NAPTR preference");
         c->add_option("--flags", a->flags, "NAPTR flags, e.g. u");
         c->add_option("--services", a->services,
                       "NAPTR services, e.g. E2U+sip");
         c->add_option("--regexp", a->regexp, "NAPTR regexp, !^.*$!uri!");
         c->add_option("--replacement", a->replacement,
                       "NAPTR replacement domain");
         c->add_option("--priority", a->priority, "URI priority");
         c->add_option("--weight", a->weight, "URI weight");
         c->add_option("--target", a->target, "URI target");
         c->add_option("--host", a->host, "NS host name");
         c->add_option("--naptr", a->naptrs,
                       "Whole NAPTR \"order pref flags services regexp "
                       "replacement\" instead of the separate flags");
       },
       RecordAdd},
      {"record", "get", "record get ID", "Show one SED record.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Record id")->required();
       },
       [](Context& ctx) {
         return Get(ctx, lufd::v1::OBJECT_KIND_SED_RECORD, ctx.a.id);
       }},
      {"record", "del", "record del ID",
       "Delete a SED record (removed from SED groups).",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "Record id")->required();
       },
       [](Context& ctx) {
         return Delete(ctx, lufd::v1::OBJECT_KIND_SED_RECORD, ctx.a.id);
       }},
      {"record", "list", "record list [--registrant ORG] [--limit N]",
       "List SED records.", AddLimitFlags,
       [](Context& ctx) {
         return List(ctx, lufd::v1::OBJECT_KIND_SED_RECORD);
       }},
      // SED groups
      {"sedgroup", "add",
       "sedgroup add --id ID --registrant ORG [--dg DG]... "
       "[--record ID[:PRIORITY]]... [--public] [--out-of-service] "
       "[--priority N]",
       "Create or replace a SED group (records attached to destination "
       "groups).",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "SED group id")->required();
         c->add_option("--registrant", a->registrant, "Registrant org id")
             ->required();
         c->add_option("--dg", a->dgs, "Destination group (repeatable)");
         c->add_option("--record", a->record_refs,
                       "Record id, optional :priority (repeatable)");
         c->add_flag("--public", a->is_public,
                     "Visible to every authenticated peer and anonymous DNS");
         c->add_flag("--in-service,!--out-of-service", a->in_service,
                     "In service (default) or not");
         c->add_option("--priority", a->priority, "Lower first among groups");
       },
       SedGroupAdd},
      {"sedgroup", "get", "sedgroup get ID", "Show one SED group.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "SED group id")->required();
       },
       [](Context& ctx) {
         return Get(ctx, lufd::v1::OBJECT_KIND_SED_GROUP, ctx.a.id);
       }},
      {"sedgroup", "del", "sedgroup del ID",
       "Delete a SED group and its offers.",
       [](CLI::App* c, Args* a) {
         c->add_option("id,--id", a->id, "SED group id")->required();
       },
       [](Context& ctx) {
         return Delete(ctx, lufd::v1::OBJECT_KIND_SED_GROUP, ctx.a.id);
       }},
      {"sedgroup", "list", "sedgroup list [--registrant ORG] [--limit N]",
       "List SED groups.", AddLimitFlags,
       [](Context& ctx) {
         return List(ctx, lufd::v1::OBJECT_KIND_SED_GROUP);
       }},
      // offers
      {"offer", "add", "offer add --sedgroup ID --peer ORG",
       "Offer a SED group to a peer org (pending until the peer accepts).",
       [](CLI::App* c, Args* a) {
         c->add_option("sedgroup,--sedgroup", a->sedgroup, "SED group id")->required();
         c->add_option("peer,--peer", a->peer, "Peer org id")->required();
       },
       [](Context& ctx) {
         RegistryObject obj;
         obj.mutable_offer()->set_sed_group_id(ctx.a.sedgroup);
         obj.mutable_offer()->set_peer_org_id(ctx.a.peer);
         return Put(ctx, obj);
       }},
      {"offer", "accept", "offer accept --sedgroup ID --peer ORG",
       "Accept an offer on behalf of the peer org.",
       [](CLI::App* c, Args* a) {
         c->add_option("sedgroup,--sedgroup", a->sedgroup, "SED group id")->required();
         c->add_option("peer,--peer", a->peer, "Peer org id")->required();
       },
       [](Context& ctx) { return OfferDecide(ctx, true); }},
      {"offer", "reject", "offer reject --sedgroup ID --peer ORG",
       "Reject an offer on behalf of the peer org.",
       [](CLI::App* c, Args* a) {
         c->add_option("sedgroup,--sedgroup", a->sedgroup, "SED group id")->required();
         c->add_option("peer,--peer", a->peer, "Peer org id")->required();
       },
       [](Context& ctx) { return OfferDecide(ctx, false); }},
      {"offer", "del", "offer del --sedgroup ID --peer ORG",
       "Withdraw an offer.",
       [](CLI::App* c, Args* a) {
         c->add_option("sedgroup,--sedgroup", a->sedgroup, "SED group id")->required();
         c->add_option("peer,--peer", a->peer, "Peer org id")->required();
       },
       [](Context& ctx) {
         return Delete(ctx, lufd::v1::OBJECT_KIND_OFFER,
                       ctx.a.sedgroup + "|" + ctx.a.peer);
       }},
      {"offer", "list", "offer list [--sedgroup ID] [--peer ORG] [--limit N]",
       "List offers.",
       [](CLI::App* c, Args* a) {
         c->add_option("--sedgroup", a->sedgroup, "Only this SED group's");
         c->add_option("--peer", a->peer, "Only offers to this peer");
         c->add_option("--limit", a->limit, "At most N (0 = all)");
       },
       [](Context& ctx) {
         std::string g = ctx.a.sedgroup, p = ctx.a.peer;
         return List(ctx, lufd::v1::OBJECT_KIND_OFFER,
                     [g, p](const RegistryObject& o) {
                       return (g.empty() || o.offer().sed_group_id() == g) &&
                              (p.empty() || o.offer().peer_org_id() == p);
                     });
       }},
      // DNSSEC keys
      {"key", "generate",
       "key generate --zone Z [--role csk|ksk|zsk] [--algorithm 13|15] "
       "[--activate]",
       "Generate a DNSSEC key for a zone on the server (private key in its "
       "key directory, public key and state in the registry).",
       [](CLI::App* c, Args* a) {
         c->add_option("--zone", a->zone, "Zone apex, e.g. e164.arpa.")
             ->required();
         c->add_option("--role", a->key_role, "csk (default), ksk or zsk")
             ->check(CLI::IsMember({"csk", "ksk", "zsk"}));
         c->add_option("--algorithm", a->algorithm,
                       "13 = ECDSA P-256 (default), 15 = Ed25519")
             ->check(CLI::IsMember({13, 15}));
         c->add_flag("--activate", a->activate,
                     "ACTIVE at once (a zone's first key) instead of "
                     "PUBLISHED");
       },
       KeyGenerate},
      {"key", "list", "key list [--zone Z]",
       "List DNSSEC keys: zone, tag, role, algorithm, state, times, "
       "ds_pending.",
       [](CLI::App* c, Args* a) {
         c->add_option("--zone", a->zone, "Only this zone's keys");
         c->add_option("--limit", a->limit, "At most N (0 = all)");
       },
       [](Context& ctx) {
         if (ctx.a.zone.empty()) {
           return List(ctx, lufd::v1::OBJECT_KIND_DNS_KEY);
         }
         auto zone = CanonicalDomainName(ctx.a.zone);
         if (!zone.ok()) return zone.status();
         std::string z = *zone;
         return List(ctx, lufd::v1::OBJECT_KIND_DNS_KEY,
                     [z](const RegistryObject& o) {
                       return CanonicalDomainName(o.dns_key().zone())
                                  .value_or("") == z;
                     });
       }},
      {"key", "ds", "key ds --zone Z",
       "Print the zone's DS records (for the parent) and DNSKEY trust "
       "anchors.",
       [](CLI::App* c, Args* a) {
         c->add_option("--zone", a->zone, "Zone apex")->required();
       },
       KeyDs},
      {"key", "rollover",
       "key rollover --zone Z --role zsk|ksk|csk [--ds-published]",
       "Start a key rollover (pre-publication); for KSK/CSK confirm the new "
       "DS at the parent with --ds-published.",
       [](CLI::App* c, Args* a) {
         c->add_option("--zone", a->zone, "Zone apex")->required();
         c->add_option("--role", a->key_role, "zsk, ksk or csk")
             ->required()
             ->check(CLI::IsMember({"csk", "ksk", "zsk"}));
         c->add_flag("--ds-published", a->ds_published,
                     "The parent now serves the new key's DS");
       },
       KeyRollover},
      // zone files
      {"zone", "export",
       "zone export --zone Z [--view anonymous|admin|ORG] [--ns NAME]... "
       "[--ns-address IP]... "
       "[--signed --key-dir DIR] [-o FILE]",
       "Write the registry as an RFC 1035 zone file as one viewer sees it "
       "(prefixes and ranges as wildcards), optionally DNSSEC-signed.",
       [](CLI::App* c, Args* a) {
         c->add_option("--zone", a->zone, "Zone apex, e.g. e164.arpa.")
             ->required();
         c->add_option("--view", a->view,
                       "anonymous (default: public SED only), admin, or a "
                       "peer org id");
         c->add_option("--ns", a->ns, "NS target (repeatable; default "
                                      "ns1.<zone>)");
         c->add_option("--ns-address", a->ns_addresses,
                       "Glue A/AAAA for the NS targets inside the zone "
                       "(repeatable)");
         c->add_flag("--signed", a->signed_zone,
                     "Sign with the zone's ACTIVE keys (full NSEC chain)");
         c->add_option("--key-dir", a->key_dir,
                       "Directory holding the keys' private files");
         c->add_option("-o,--out", a->output_file, "Output file (- = stdout)");
       },
       ZoneExport},
      {"zone", "import",
       "zone import FILE --zone Z --registrant ORG [--dest-group DG]... "
       "[--sed-group SG [--public]] [--check] [--batch-size N]",
       "Load the NAPTR records of a zone file as TNs (wildcards as "
       "prefixes); all or nothing.",
       [](CLI::App* c, Args* a) {
         c->add_option("file", a->value, "Zone file")->required();
         c->add_option("--zone", a->zone, "Zone apex (the file's origin)")
             ->required();
         c->add_option("--registrant", a->registrant, "Registrant org id")
             ->required();
         c->add_option("--dest-group,--dg", a->dgs,
                       "Destination group of every number (repeatable; "
                       "created when missing)");
         c->add_option("--sed-group", a->sed_group,
                       "SED group on those destination groups, created "
                       "(in service) when missing, so the NAPTRs resolve");
         c->add_flag("--public", a->is_public,
                     "A created SED group is public (anonymous DNS sees it)");
         c->add_flag("--check", a->check_only,
                     "Only parse and check the file; send nothing");
         c->add_option("--batch-size", a->batch_size,
                       "Objects per atomic batch (default 50000; 0 = the "
                       "whole file, all or nothing)");
         c->add_option("--chunk-size", a->chunk_size,
                       "Objects per stream message (default 2000)")
             ->check(CLI::Range(1, 100000));
         c->add_flag("--no-wait", a->no_wait,
                     "Return once committed, without waiting for the view");
       },
       ZoneImportCmd},
      // bulk
      {"batch", "", "batch FILE",
       "Send a JSON array of Operation (protobuf JSON) as one atomic batch.",
       [](CLI::App* c, Args* a) {
         c->add_option("file", a->value, "JSON file")->required();
       },
       Batch},
      {"import", "",
       "import FILE [--format csv|json] [--batch-size N] [--chunk-size N] "
       "[--check] [--no-wait]",
       "Bulk-load TNs from CSV (tn,registrant,dest_groups[,ttl,order,"
       "preference,flags,services,regexp,replacement]), or any objects from "
       "JSON lines as export writes them.",
       [](CLI::App* c, Args* a) {
         c->add_option("file", a->value, "CSV or JSON-lines file")->required();
         c->add_option("--format", a->import_format,
                       "csv or json (default: by extension, .json/.jsonl = "
                       "json)")
             ->check(CLI::IsMember({"csv", "json"}));
         c->add_option("--batch-size", a->batch_size,
                       "Objects per atomic batch (default 50000; 0 = the "
                       "whole file, all or nothing)");
         c->add_option("--chunk-size", a->chunk_size,
                       "Objects per stream message (default 2000)")
             ->check(CLI::Range(1, 100000));
         c->add_flag("--check", a->check_only,
                     "Check the file here, then have the server check it "
                     "exactly as an import (references, authorization, "
                     "NAPTR chains: every bad line), writing nothing");
         c->add_flag("--no-wait", a->no_wait,
                     "Return once committed, without waiting until the "
                     "server's view serves the import");
       },
       Import},
      {"export", "",
       "export [--format csv|json] [--kind K]... [--registrant ORG] "
       "[-o FILE]",
       "Export TNs as import-compatible CSV, or any objects as JSON lines.",
       [](CLI::App* c, Args* a) {
         c->add_option("--format", a->format, "csv (TNs) or json (lines)")
             ->check(CLI::IsMember({"csv", "json"}));
         c->add_option("--kind", a->kinds,
                       "json only: org, credential, identifier, dg, record, "
                       "sedgroup, offer (repeatable; default all)");
         c->add_option("--registrant", a->registrant, "Only this registrant");
         c->add_option("-o,--out", a->output_file, "Output file (- = stdout)");
       },
       Export},
      {"audit", "",
       "audit [--after-serial N] [--key K] [--actor A] [--limit N]",
       "Show the change log (audit trail).",
       [](CLI::App* c, Args* a) {
         c->add_option("--after-serial", a->after_serial,
                       "Changes after this serial");
         c->add_option("--key", a->key, "Only this object key");
         c->add_option("--actor", a->actor, "Only this actor (org/cred)");
         c->add_option("--limit", a->limit, "At most N (0 = server default)");
       },
       Audit},
      {"lookup", "", "lookup QUERY",
       "Look up the SED visible to this client for a number or URI.",
       [](CLI::App* c, Args* a) {
         c->add_option("query", a->value, "E.164 number, tel: or sip: URI")
             ->required();
       },
       Lookup},
      {"health", "", "health [--service NAME]",
       "grpc.health.v1 Check; exit 0 only when SERVING.",
       [](CLI::App* c, Args* a) {
         c->add_option("--service", a->service, "Service name (default '')");
       },
       Health},
      {"info", "", "info", "Show server version, serials and caller identity.",
       [](CLI::App*, Args*) {}, Info},
      // local database
      {"db", "migrate", "db migrate --store URL",
       "Apply pending schema migrations to a store (local, no server).",
       [](CLI::App* c, Args* a) {
         c->add_option("--store", a->store,
                       "sqlite:/path.db or postgresql://...")
             ->required();
       },
       [](Context& ctx) {
         return DbMigrate(ctx.a.store, ctx.format(), ctx.out);
       }},
      {"db", "status", "db status --store URL",
       "Show migrations: version, name, checksum, applied_at.",
       [](CLI::App* c, Args* a) {
         c->add_option("--store", a->store,
                       "sqlite:/path.db or postgresql://...")
             ->required();
       },
       [](Context& ctx) {
         return DbStatus(ctx.a.store, ctx.format(), ctx.out);
       }},
      {"db", "bootstrap",
       "db bootstrap --store URL --org ID --name NAME --cert-file admin.pem "
       "[--san-uri URI] [--credential-id ID]",
       "Create the first org and ADMIN credential directly in the store.",
       [](CLI::App* c, Args* a) {
         c->add_option("--store", a->store,
                       "sqlite:/path.db or postgresql://...")
             ->required();
         c->add_option("--org", a->org, "Org id, namespace:value")
             ->required();
         c->add_option("--name", a->name, "Org name")->required();
         c->add_option("--cert-file", a->cert_file, "Admin certificate PEM")
             ->required();
         c->add_option("--san-uri", a->san_uri, "Also require this SAN URI");
         c->add_option("--credential-id", a->credential_id,
                       "Credential id (default bootstrap-admin)");
       },
       [](Context& ctx) {
         BootstrapOptions o;
         o.store_url = ctx.a.store;
         o.org_id = ctx.a.org;
         o.org_name = ctx.a.name;
         o.cert_file = ctx.a.cert_file;
         o.san_uri = ctx.a.san_uri;
         o.credential_id = ctx.a.credential_id;
         return DbBootstrap(o, ctx.format(), ctx.out);
       }},
  };
  return *kCommands;
}

const char* NounHelp(const std::string& noun) {
  static const std::map<std::string, const char*> kHelp = {
      {"org", "Organizations (registrants, registrars, peers)"},
      {"credential", "Client certificate and TSIG identities"},
      {"key", "DNSSEC keys of the DNS zones"},
      {"zone", "DNS zone files (export, import)"},
      {"number", "Telephone numbers (E.164)"},
      {"range", "TN ranges"},
      {"prefix", "TN prefixes"},
      {"rn", "Routing numbers"},
      {"uri", "URI public identifiers"},
      {"dg", "Destination groups"},
      {"record", "SED records (NAPTR, URI, NS)"},
      {"sedgroup", "SED groups"},
      {"offer", "SED group offers to peers"},
      {"db", "Local database (schema, bootstrap)"},
  };
  auto it = kHelp.find(noun);
  return it == kHelp.end() ? "" : it->second;
}

std::string CommandsFooter() {
  std::string out = "\nCommands:\n";
  for (const auto& c : Commands()) {
    absl::StrAppend(&out, "  ", c.synopsis, "\n      ", c.help, "\n");
  }
  absl::StrAppend(&out,
                  "\nEnvironment: LUFCTL_SERVER, LUFCTL_CERT, LUFCTL_KEY, "
                  "LUFCTL_CA, LUFCTL_SERVER_NAME.\n"
                  "Exit status: 0 ok, 1 operation failed, 2 usage error.");
  return out;
}

// The first word that is not a global option or its value: the noun.
std::string FirstWord(int argc, const char* const* argv) {
  static const char* kValued[] = {"--server",  "--cert",        "--key",
                                  "--ca",      "--server-name", "--output",
                                  "--timeout", "--txn-id"};
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::StartsWith(arg, "-")) {
      for (const char* v : kValued) {
        if (arg == v) ++i;  // Its value follows.
      }
      continue;
    }
    return std::string(arg);
  }
  return "";
}

}  // namespace

std::vector<CommandInfo> CommandTable() {
  std::vector<CommandInfo> out;
  for (const auto& c : Commands()) {
    out.push_back(CommandInfo{c.noun, c.verb, c.synopsis, c.help});
  }
  return out;
}

int RunLufctl(int argc, const char* const* argv, std::ostream& out,
              std::ostream& err) {
  GlobalOptions g;
  Args a;
  CLI::App app{
      "lufctl: admin CLI for lufd, the ENUM/SPEERMINT Look-Up "
      "Function registry",
      "lufctl"};
  app.require_subcommand(1);
  // Global options may also follow the command (`org list --output json`);
  // subcommands inherit this setting when they are created.
  app.fallthrough(true);
  app.add_option("--server", g.conn.server, "lufd address host:port")
      ->envname("LUFCTL_SERVER")
      ->capture_default_str();
  app.add_option("--cert", g.conn.cert_file, "Client certificate PEM")
      ->envname("LUFCTL_CERT");
  app.add_option("--key", g.conn.key_file, "Client private key PEM")
      ->envname("LUFCTL_KEY");
  app.add_option("--ca", g.conn.ca_file, "CA bundle PEM for the server")
      ->envname("LUFCTL_CA");
  app.add_option("--server-name", g.conn.server_name,
                 "TLS target name override")
      ->envname("LUFCTL_SERVER_NAME");
  app.add_option("--output", g.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_seconds, "RPC deadline in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--txn-id", g.txn_id, "Client transaction id (audit)");

  std::map<std::string, CLI::App*> nouns;
  std::vector<std::pair<CLI::App*, const Command*>> leaves;
  for (const auto& cmd : Commands()) {
    CLI::App* leaf = nullptr;
    if (cmd.verb[0] == '\0') {
      leaf = app.add_subcommand(cmd.noun, cmd.help);
    } else {
      CLI::App*& noun = nouns[cmd.noun];
      if (noun == nullptr) {
        noun = app.add_subcommand(cmd.noun, NounHelp(cmd.noun));
        noun->require_subcommand(1);
      }
      leaf = noun->add_subcommand(cmd.verb, cmd.help);
    }
    // CLI11 2.1 has no per-command usage line; the synopsis goes in the
    // description so `lufctl <noun> <verb> --help` shows it.
    leaf->description(absl::StrCat(
        cmd.help, "\nUsage: lufctl [global options] ", cmd.synopsis));
    cmd.setup(leaf, &a);
    leaves.emplace_back(leaf, &cmd);
  }

  // Set last: subcommands copy the parent's footer when they are created.
  app.footer(CommandsFooter());

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    std::string noun = FirstWord(argc, argv);
    bool known = false;
    for (const auto& c : Commands()) known = known || noun == c.noun;
    if (!noun.empty() && !known) {
      err << "lufctl: usage: unknown command '" << noun << "'\n"
          << "Run 'lufctl --help' for the command list.\n";
      return 2;
    }
    err << "lufctl: usage: " << e.what() << "\n"
        << "Run 'lufctl --help' for the command list.\n";
    return 2;
  }

  const Command* selected = nullptr;
  for (const auto& [leaf, cmd] : leaves) {
    if (leaf->parsed()) selected = cmd;
  }
  if (selected == nullptr) {
    err << "lufctl: usage: no command given\n";
    return 2;
  }
  Context ctx(g, a, out, err);
  absl::Status st = selected->run(ctx);
  if (!st.ok()) {
    err << "lufctl: " << absl::StatusCodeToString(st.code()) << ": "
        << st.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace lufd::client
