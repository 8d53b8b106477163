// `lufctl offer add|accept|reject|del|list`: a SED group offered to a peer
// org, visible to that peer once accepted. An offer's key is its SED group
// and peer.
#include <string>

#include "absl/strings/str_cat.h"
#include "client/commands/command.h"
#include "common/status_macros.h"

namespace lufd::client::cli {
namespace {

using lufd::v1::RegistryObject;

constexpr auto kKind = lufd::v1::OBJECT_KIND_OFFER;

struct OfferFlags {
  std::string sedgroup, peer;

  void Register(CLI::App* c) {
    c->add_option("sedgroup,--sedgroup", sedgroup, "SED group id")->required();
    c->add_option("peer,--peer", peer, "Peer org id")->required();
  }
};

// `offer <verb> --sedgroup ID --peer ORG` (or the two positionally).
Command OfferCommand(
    const char* verb, const char* help,
    std::function<absl::Status(Context&, const OfferFlags&)> run) {
  return Cmd<OfferFlags>(
      "offer", verb, absl::StrCat("offer ", verb, " --sedgroup ID --peer ORG"),
      help, std::move(run));
}

absl::Status Decide(Context& ctx, const OfferFlags& f, bool accept) {
  lufd::v1::OfferDecision req;
  req.set_sed_group_id(f.sedgroup);
  req.set_peer_org_id(f.peer);
  req.set_client_txn_id(ctx.g.txn_id);
  lufd::v1::WriteResponse resp;
  RETURN_IF_ERROR(
      CallAdmin(ctx, accept ? &AdminStub::AcceptOffer : &AdminStub::RejectOffer,
                req, &resp));
  return PrintWrite(ctx, resp);
}

struct OfferListFlags {
  OfferFlags only;
  ListFlags list;

  void Register(CLI::App* c) {
    c->add_option("--sedgroup", only.sedgroup, "Only this SED group's");
    c->add_option("--peer", only.peer, "Only offers to this peer");
    AddListFlags(c, &list, false);
  }
};

}  // namespace

Noun OfferNoun() {
  return {
      "offer",
      "SED group offers to peers",
      {OfferCommand(
           "add",
           "Offer a SED group to a peer org (pending until the peer accepts).",
           [](Context& ctx, const OfferFlags& f) {
             RegistryObject obj;
             obj.mutable_offer()->set_sed_group_id(f.sedgroup);
             obj.mutable_offer()->set_peer_org_id(f.peer);
             return Put(ctx, obj);
           }),
       OfferCommand("accept", "Accept an offer on behalf of the peer org.",
                    [](Context& ctx, const OfferFlags& f) {
                      return Decide(ctx, f, true);
                    }),
       OfferCommand("reject", "Reject an offer on behalf of the peer org.",
                    [](Context& ctx, const OfferFlags& f) {
                      return Decide(ctx, f, false);
                    }),
       OfferCommand("del", "Withdraw an offer.",
                    [](Context& ctx, const OfferFlags& f) {
                      return Delete(ctx, kKind, f.sedgroup + "|" + f.peer);
                    }),
       Cmd<OfferListFlags>(
           "offer", "list",
           "offer list [--sedgroup ID] [--peer ORG] [--limit N]",
           "List offers.", [](Context& ctx, const OfferListFlags& f) {
             return List(
                 ctx, kKind, f.list,
                 [g = f.only.sedgroup,
                  p = f.only.peer](const RegistryObject& o) {
                   return (g.empty() || o.offer().sed_group_id() == g) &&
                          (p.empty() || o.offer().peer_org_id() == p);
                 });
           })}};
}

}  // namespace lufd::client::cli
