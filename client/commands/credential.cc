// `lufctl credential add|get|list|del|disable|enable`: the identities (a
// client certificate's SPKI pin and/or SAN URI, and/or a TSIG key) bound to
// an org and a role.
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/commands/command.h"
#include "client/spki.h"
#include "client/zone_file.h"
#include "openssl/rand.h"

namespace lufd::client::cli {
namespace {

using lufd::v1::RegistryObject;

constexpr auto kKind = lufd::v1::OBJECT_KIND_CREDENTIAL;

struct CredentialAddFlags {
  std::string id, org, role, spki, cert_file, san_uri, description;
  bool disabled = false;
  std::string tsig_name, tsig_secret, tsig_algorithm = "hmac-sha256";
  bool tsig_generate = false;

  void Register(CLI::App* c) {
    c->add_option("id,--id", id, "Credential id")->required();
    c->add_option("--org", org, "Org id")->required();
    c->add_option("--role", role, "Role")
        ->required()
        ->check(CLI::IsMember({"peer", "registrar", "admin"}));
    c->add_option("--spki", spki,
                  "SHA-256 hex of the DER SubjectPublicKeyInfo");
    c->add_option("--cert-file", cert_file,
                  "PEM certificate to compute the SPKI pin from");
    c->add_option("--san-uri", san_uri, "SAN URI the certificate must carry");
    c->add_option("--description", description, "Free text");
    c->add_flag("--disabled", disabled, "Create disabled");
    c->add_option("--tsig-name", tsig_name,
                  "TSIG key name for DNS queries (RFC 8945)");
    c->add_option("--tsig-secret", tsig_secret,
                  "TSIG secret, base64 (16..64 bytes)");
    c->add_option("--tsig-algorithm", tsig_algorithm,
                  "hmac-sha256 (the only one)")
        ->check(CLI::IsMember({"hmac-sha256"}));
    c->add_flag("--tsig-generate", tsig_generate,
                "Generate a random 32-byte secret and print it once");
  }
};

// Strict base64: padded, standard alphabet, surrounding blanks ignored.
absl::StatusOr<std::string> Base64Decode(absl::string_view text) {
  std::string t(absl::StripAsciiWhitespace(text));
  std::string out;
  if (t.empty() || t.size() % 4 != 0 ||
      t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789+/=") != std::string::npos ||
      !absl::Base64Unescape(t, &out)) {
    return absl::InvalidArgumentError("--tsig-secret is not base64");
  }
  return out;
}

// The TSIG part of a credential (RFC 8945): a key name bound to the org for
// DNS queries, with a given or generated HMAC-SHA256 secret.
absl::Status SetTsig(const CredentialAddFlags& f, lufd::v1::Credential* cred) {
  if (!f.tsig_secret.empty() && f.tsig_generate) {
    return absl::InvalidArgumentError(
        "give --tsig-secret or --tsig-generate, not both");
  }
  if ((!f.tsig_secret.empty() || f.tsig_generate) && f.tsig_name.empty()) {
    return absl::InvalidArgumentError("a TSIG secret needs --tsig-name");
  }
  if (f.tsig_name.empty()) return absl::OkStatus();
  auto name = CanonicalDomainName(f.tsig_name);
  if (!name.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tsig-name: ", name.status().message()));
  }
  if (f.tsig_algorithm != "hmac-sha256") {
    return absl::InvalidArgumentError(
        "--tsig-algorithm: only hmac-sha256 is supported");
  }
  std::string secret;
  if (f.tsig_generate) {
    secret.resize(32);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), 32) != 1) {
      return absl::InternalError("no random bytes for the TSIG secret");
    }
  } else if (f.tsig_secret.empty()) {
    return absl::InvalidArgumentError(
        "--tsig-name needs --tsig-secret BASE64 or --tsig-generate");
  } else {
    auto decoded = Base64Decode(f.tsig_secret);
    if (!decoded.ok()) return decoded.status();
    secret = *std::move(decoded);
  }
  if (secret.size() < 16 || secret.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tsig-secret: ", secret.size(),
                     " bytes; an HMAC-SHA256 key must be 16..64 bytes"));
  }
  cred->set_tsig_key_name(*name);
  cred->set_tsig_algorithm(f.tsig_algorithm);
  cred->set_tsig_secret(secret);
  return absl::OkStatus();
}

// A generated secret, shown this once: the registry keeps it, lufctl never
// prints it again.
void PrintGeneratedSecret(Context& ctx, const lufd::v1::Credential& cred) {
  const std::string b64 = absl::Base64Escape(cred.tsig_secret());
  const std::string& name = cred.tsig_key_name();
  if (ctx.json()) {
    ctx.out << absl::StrFormat(
        "{\"tsigKeyName\":\"%s\",\"tsigAlgorithm\":\"hmac-sha256\","
        "\"tsigSecret\":\"%s\",\"digY\":\"hmac-sha256:%s:%s\"}\n",
        name, b64, name, b64);
    return;
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
}

absl::Status CredentialAdd(Context& ctx, const CredentialAddFlags& f) {
  RegistryObject obj;
  auto* cred = obj.mutable_credential();
  cred->set_id(f.id);
  cred->set_org_id(f.org);
  if (f.role == "peer") cred->set_role(lufd::v1::ROLE_PEER);
  if (f.role == "registrar") cred->set_role(lufd::v1::ROLE_REGISTRAR);
  if (f.role == "admin") cred->set_role(lufd::v1::ROLE_ADMIN);
  if (!f.spki.empty() && !f.cert_file.empty()) {
    return absl::InvalidArgumentError("give --spki or --cert-file, not both");
  }
  if (!f.cert_file.empty()) {
    auto spki = SpkiSha256FromCertFile(f.cert_file);
    if (!spki.ok()) return spki.status();
    cred->set_spki_sha256(*spki);
  } else {
    std::string spki = absl::AsciiStrToLower(f.spki);
    if (!spki.empty() &&
        (spki.size() != 64 ||
         spki.find_first_not_of("0123456789abcdef") != std::string::npos)) {
      return absl::InvalidArgumentError(
          "--spki must be 64 hex digits (SHA-256 of the DER "
          "SubjectPublicKeyInfo)");
    }
    cred->set_spki_sha256(spki);
  }
  cred->set_san_uri(f.san_uri);
  absl::Status st = SetTsig(f, cred);
  if (!st.ok()) return st;
  if (cred->spki_sha256().empty() && cred->san_uri().empty() &&
      cred->tsig_key_name().empty()) {
    return absl::InvalidArgumentError(
        "need --spki, --cert-file or --san-uri to identify the certificate, "
        "or --tsig-name for a TSIG key");
  }
  cred->set_disabled(f.disabled);
  cred->set_description(f.description);
  st = Put(ctx, obj);
  if (!st.ok() || !f.tsig_generate) return st;
  PrintGeneratedSecret(ctx, *cred);
  return absl::OkStatus();
}

// `credential disable|enable ID`: read, flip, write back.
Command SetDisabledCommand(const char* verb, bool disabled, const char* help) {
  return Cmd<IdFlags>(
      "credential", verb, absl::StrCat("credential ", verb, " ID"), help,
      [](CLI::App* c, IdFlags* f) { AddIdFlag(c, &f->id, "Credential id"); },
      [disabled](Context& ctx, const IdFlags& f) {
        auto obj = GetObject(ctx, kKind, f.id);
        if (!obj.ok()) return obj.status();
        obj->mutable_credential()->set_disabled(disabled);
        return Put(ctx, *obj);
      });
}

}  // namespace

std::vector<Command> CredentialCommands() {
  return {
      Cmd<CredentialAddFlags>(
          "credential", "add",
          "credential add --id ID --org ORG --role peer|registrar|admin "
          "(--spki HEX | --cert-file PEM) [--san-uri URI] [--tsig-name NAME "
          "(--tsig-secret BASE64 | --tsig-generate)] [--disabled]",
          "Bind a client certificate (SPKI pin and/or SAN URI) and/or a TSIG "
          "key to an org and a role.",
          CredentialAdd),
      ListWhereCommand(
          "credential", kKind, "List credentials.", "--org", "ORG",
          "Only this org's",
          [](const RegistryObject& o) { return o.credential().org_id(); }),
      SetDisabledCommand("disable", true,
                         "Disable a credential (its certificate is refused)."),
      SetDisabledCommand("enable", false, "Re-enable a credential.")};
}

}  // namespace lufd::client::cli
