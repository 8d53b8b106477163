// `lufctl guard status|explain|unblock`: what the anti-harvesting guard
// (server/guard/guard.h) refuses and blocks on the server this lufctl talks
// to, and lifting a block. Admin only; the state is that replica's.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/commands/command.h"
#include "common/status_macros.h"
#include "common/unsafe_text.h"

namespace lufd::client::cli {
namespace {

constexpr char kIdentityHelp[] =
    "Identity: \"org NS:ID\", \"prefix 192.0.2.0/24\", or a bare org id or "
    "prefix";

struct GuardStatusFlags {
  uint32_t limit = 0;
  bool all = false;

  void Register(CLI::App* c) {
    c->add_option("--limit", limit,
                  "At most N identities (0 = server default, 100)");
    c->add_flag("--all", all,
                "Also identities without a denial or block (default: only "
                "those the guard refused or blocked)");
  }
};

struct GuardIdentityFlags {
  std::vector<std::string> words;

  void Register(CLI::App* c) {
    // "org iana-en:1" is one argument when quoted; unquoted it is two, so
    // take every positional word and join them.
    c->add_option("identity", words, kIdentityHelp)->required();
  }
};

std::string IdentityText(const GuardIdentityFlags& f) {
  return absl::StrJoin(f.words, " ");
}

// --output json: the whole response, as the server sent it; true when
// printed (the caller prints nothing else).
template <typename Response>
bool PrintedAsJson(Context& ctx, const Response& resp) {
  if (!ctx.json()) return false;
  ctx.out << ToJson(resp) << "\n";
  return true;
}

absl::Status GuardStatus(Context& ctx, const GuardStatusFlags& f) {
  lufd::v1::GuardStatusRequest req;
  req.set_limit(f.limit);
  req.set_only_denied(!f.all);
  lufd::v1::GuardStatusResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::GuardStatus, req, &resp));
  if (PrintedAsJson(ctx, resp)) return absl::OkStatus();
  Table table(GuardStatusHeaders());
  for (const lufd::v1::GuardIdentity& g : resp.identities()) {
    table.AddRow(GuardStatusRow(g, resp.now_unix_micros()));
  }
  ctx.out << table.Render();
  ctx.out << "(" << resp.identities_size() << " shown, " << resp.tracked()
          << " tracked";
  if (resp.evicted_live() > 0) {
    ctx.out << ", " << resp.evicted_live()
            << " evicted with live state (table full)";
  }
  ctx.out << ")\n";
  return absl::OkStatus();
}

absl::Status GuardExplain(Context& ctx, const GuardIdentityFlags& f) {
  lufd::v1::ExplainGuardRequest req;
  req.set_identity(IdentityText(f));
  lufd::v1::GuardIdentity resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::ExplainGuard, req, &resp));
  if (PrintedAsJson(ctx, resp)) return absl::OkStatus();
  // The time left counts on the server's clock the response carries; this
  // host's only when an older server sent none.
  ctx.out << GuardExplainText(resp, absl::ToUnixMicros(absl::Now()));
  return absl::OkStatus();
}

absl::Status GuardUnblock(Context& ctx, const GuardIdentityFlags& f) {
  lufd::v1::UnblockRequest req;
  req.set_identity(IdentityText(f));
  lufd::v1::UnblockResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::Unblock, req, &resp));
  if (PrintedAsJson(ctx, resp)) return absl::OkStatus();
  const std::string who = resp.identity().identity().empty()
                              ? IdentityText(f)
                              : resp.identity().identity();
  if (resp.lifted()) {
    ctx.out << "unblocked " << EscapeUnsafeText(who)
            << " (block lifted, offences forgotten)\n";
  } else {
    ctx.out << EscapeUnsafeText(who)
            << " was not blocked and had no offences: nothing to lift\n";
  }
  return absl::OkStatus();
}

}  // namespace

Noun GuardNoun() {
  return {
      "guard",
      "The anti-harvesting guard: refusals, blocks, unblock (admin)",
      {Cmd<GuardStatusFlags>(
           "guard", "status", "guard status [--limit N] [--all]",
           "List the identities the guard refused or blocked on this server "
           "(blocked first, then by denials); --all lists every tracked one.",
           GuardStatus),
       Cmd<GuardIdentityFlags>(
           "guard", "explain", "guard explain IDENTITY",
           "Show why the guard refuses an identity: limits, tokens, window "
           "counts, per-rule denied/dry-run counters, offences, block, last "
           "denial.",
           GuardExplain),
       Cmd<GuardIdentityFlags>(
           "guard", "unblock", "guard unblock IDENTITY",
           "Lift an identity's block and forget its offences (logged on the "
           "server with your identity).",
           GuardUnblock)}};
}

}  // namespace lufd::client::cli
