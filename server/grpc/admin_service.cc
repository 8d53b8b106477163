#include "server/grpc/admin_service.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/quote.h"
#include "common/status_macros.h"
#include "server/core/authz.h"
#include "server/core/denial.h"
#include "server/core/denial_audit.h"
#include "server/core/keys.h"
#include "server/core/validate.h"
#include "spdlog/spdlog.h"
#include "storage/write_router.h"

namespace lufd {
namespace {

constexpr uint32_t kDefaultAuditLimit = 1000;
constexpr uint32_t kMaxAuditLimit = 10000;
constexpr uint32_t kDefaultDenialLimit = 100;
constexpr uint32_t kMaxDenialLimit = 10000;
constexpr uint32_t kDefaultGuardLimit = 100;
constexpr uint32_t kMaxGuardLimit = 10000;
// Bounds the pages an Audit by a registrar may scan while filtering.
constexpr int kMaxAuditPages = 100;
// How often long loops check for cancellation / deadline.
constexpr uint64_t kAliveCheckEvery = 256;

// `renamed` with the primary endpoint a standby's refusal names
// (storage/write_router.h), which call.cc sends as trailing metadata for
// lufctl to follow.
absl::Status KeepPayloads(const absl::Status& original, absl::Status renamed) {
  if (absl::optional<absl::Cord> p = original.GetPayload(kPrimaryEndpointUrl);
      p.has_value()) {
    renamed.SetPayload(kPrimaryEndpointUrl, *p);
  }
  return renamed;
}

// Registry batch errors start "operation <i>: "; Import reports the index
// over the whole stream instead: "object <batch_start + i>: ".
absl::Status RenumberImportError(const absl::Status& status,
                                 uint64_t batch_start) {
  absl::string_view message = status.message();
  constexpr absl::string_view kPrefix = "operation ";
  if (absl::StartsWith(message, kPrefix)) {
    absl::string_view rest = message.substr(kPrefix.size());
    const size_t colon = rest.find(": ");
    uint64_t index = 0;
    if (colon != absl::string_view::npos &&
        absl::SimpleAtoi(rest.substr(0, colon), &index)) {
      return KeepPayloads(
          status, absl::Status(status.code(),
                               absl::StrCat("object ", batch_start + index,
                                            ": ", rest.substr(colon + 2))));
    }
  }
  return KeepPayloads(
      status,
      absl::Status(status.code(), absl::StrCat("batch starting at object ",
                                               batch_start, ": ", message)));
}

// Import reports at most this many failing objects (and counts the rest),
// each message clipped: the answer stays far below message-size limits.
constexpr size_t kMaxImportErrors = 1000;
constexpr size_t kMaxErrorBytes = 300;

// At most `max` bytes of `message`, cut at a UTF-8 character boundary.
std::string ClipMessage(absl::string_view message, size_t max) {
  if (message.size() <= max) return std::string(message);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(message[end]) & 0xC0) == 0x80) {
    --end;
  }
  return absl::StrCat(message.substr(0, end), "...");
}

// What one write operation touches, for the denial audit.
std::string DescribeOperation(const lufd::v1::Operation& op) {
  switch (op.op_case()) {
    case lufd::v1::Operation::kPut:
      return absl::StrCat(KindName(KindOf(op.put())), " ", KeyOf(op.put()));
    case lufd::v1::Operation::kDelete:
      return absl::StrCat("delete ", KindName(op.delete_().kind()), " ",
                          op.delete_().key());
    case lufd::v1::Operation::kAcceptOffer:
      return absl::StrCat("accept offer ",
                          OfferKey(op.accept_offer().sed_group_id(),
                                   op.accept_offer().peer_org_id()));
    case lufd::v1::Operation::kRejectOffer:
      return absl::StrCat("reject offer ",
                          OfferKey(op.reject_offer().sed_group_id(),
                                   op.reject_offer().peer_org_id()));
    default:
      return "empty operation";
  }
}

// The object a refused write names in the denial audit: its one operation,
// or the failing operation of a batch ("operation <i>: ..." in the message).
std::string DescribeRefusedWrite(
    const std::vector<lufd::v1::Operation>& operations,
    const absl::Status& status) {
  if (operations.size() == 1) return DescribeOperation(operations[0]);
  absl::string_view message = status.message();
  uint64_t index = 0;
  if (absl::ConsumePrefix(&message, "operation ")) {
    const size_t colon = message.find(':');
    if (colon != absl::string_view::npos &&
        absl::SimpleAtoi(message.substr(0, colon), &index) &&
        index < operations.size()) {
      return absl::StrCat("operation ", index, " of ", operations.size(), ": ",
                          DescribeOperation(operations[index]));
    }
  }
  return absl::StrCat("batch of ", operations.size(), " operations");
}

lufd::v1::Operation PutOperation(lufd::v1::RegistryObject object) {
  lufd::v1::Operation op;
  *op.mutable_put() = std::move(object);
  return op;
}

}  // namespace

grpc::Status AdminServiceImpl::RunWrite(
    const char* method, grpc::ServerContext* context,
    const google::protobuf::MessageLite& request,
    std::vector<lufd::v1::Operation> operations,
    const std::string& client_txn_id, lufd::v1::WriteResponse* response) {
  return runner_->Run(
      method, context, request, [&](const CallInfo& call) -> absl::Status {
        // A caller that gave up must not get a write it
        // will never hear about.
        RETURN_IF_ERROR(CheckCallAlive(call));
        absl::StatusOr<lufd::v1::WriteResponse> written =
            registry_->Execute(call.identity, operations, client_txn_id);
        if (!written.ok()) {
          return WithDenialObject(
              written.status(),
              DescribeRefusedWrite(operations, written.status()));
        }
        *response = *std::move(written);
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::Put(grpc::ServerContext* context,
                                   const lufd::v1::PutRequest* request,
                                   lufd::v1::WriteResponse* response) {
  return RunWrite("Put", context, *request, {PutOperation(request->object())},
                  request->client_txn_id(), response);
}

grpc::Status AdminServiceImpl::Delete(grpc::ServerContext* context,
                                      const lufd::v1::DeleteRequest* request,
                                      lufd::v1::WriteResponse* response) {
  lufd::v1::Operation op;
  *op.mutable_delete_() = request->ref();
  return RunWrite("Delete", context, *request, {std::move(op)},
                  request->client_txn_id(), response);
}

grpc::Status AdminServiceImpl::Batch(grpc::ServerContext* context,
                                     const lufd::v1::BatchRequest* request,
                                     lufd::v1::WriteResponse* response) {
  std::vector<lufd::v1::Operation> ops(request->operations().begin(),
                                       request->operations().end());
  return RunWrite("Batch", context, *request, std::move(ops),
                  request->client_txn_id(), response);
}

grpc::Status AdminServiceImpl::AcceptOffer(
    grpc::ServerContext* context, const lufd::v1::OfferDecision* request,
    lufd::v1::WriteResponse* response) {
  lufd::v1::Operation op;
  *op.mutable_accept_offer() = *request;
  return RunWrite("AcceptOffer", context, *request, {std::move(op)},
                  request->client_txn_id(), response);
}

grpc::Status AdminServiceImpl::RejectOffer(
    grpc::ServerContext* context, const lufd::v1::OfferDecision* request,
    lufd::v1::WriteResponse* response) {
  lufd::v1::Operation op;
  *op.mutable_reject_offer() = *request;
  return RunWrite("RejectOffer", context, *request, {std::move(op)},
                  request->client_txn_id(), response);
}

grpc::Status AdminServiceImpl::Get(grpc::ServerContext* context,
                                   const lufd::v1::GetRequest* request,
                                   lufd::v1::RegistryObject* response) {
  return runner_->Run(
      "Get", context, *request, [&](const CallInfo& call) -> absl::Status {
        if (request->ref().kind() == lufd::v1::OBJECT_KIND_UNSPECIFIED) {
          return absl::InvalidArgumentError("ref.kind is required");
        }
        ASSIGN_OR_RETURN(*response,
                         registry_->Get(call.identity, request->ref().kind(),
                                        request->ref().key()));
        return absl::OkStatus();
      });
}

absl::Status AdminServiceImpl::StreamKind(
    const CallInfo& call, ViewAccess& snapshot, lufd::v1::ObjectKind kind,
    const std::string& registrant_id, uint32_t limit, uint64_t* sent,
    grpc::ServerWriter<lufd::v1::RegistryObject>* writer) {
  absl::Status status;
  uint64_t visited = 0;
  snapshot.view().ForEach(
      kind, [&](absl::string_view, const lufd::v1::RegistryObject& object) {
        if (++visited % kAliveCheckEvery == 0) {
          status = CheckCallAlive(call);
          if (!status.ok()) return false;
        }
        if (!registrant_id.empty() && OwnerOf(object) != registrant_id) {
          return true;
        }
        // Judged against the view being streamed (authz.h).
        if (!snapshot.CanRead(object)) return true;
        std::optional<lufd::v1::RegistryObject> redacted;
        if (NeedsRedaction(call.identity, object)) {
          RedactSecrets(call.identity, &redacted.emplace(object));
        }
        if (!WriteToClient(call, writer, redacted ? *redacted : object)) {
          status = absl::CancelledError("client stopped reading");
          return false;
        }
        ++*sent;
        return limit == 0 || *sent < limit;
      });
  return status;
}

grpc::Status AdminServiceImpl::List(
    grpc::ServerContext* context, const lufd::v1::ListRequest* request,
    grpc::ServerWriter<lufd::v1::RegistryObject>* writer) {
  return runner_->RunStream(
      "List", context, request, [&](const CallInfo& call) -> absl::Status {
        if (request->kind() == lufd::v1::OBJECT_KIND_UNSPECIFIED) {
          return absl::InvalidArgumentError("kind is required");
        }
        std::shared_ptr<const RegistryView> view = views_->Current();
        ViewAccess snapshot(*view, call.identity);
        uint64_t sent = 0;
        return StreamKind(call, snapshot, request->kind(),
                          request->registrant_id(), request->limit(), &sent,
                          writer);
      });
}

grpc::Status AdminServiceImpl::Export(
    grpc::ServerContext* context, const lufd::v1::ExportRequest* request,
    grpc::ServerWriter<lufd::v1::RegistryObject>* writer) {
  return runner_->RunStream(
      "Export", context, request, [&](const CallInfo& call) -> absl::Status {
        std::vector<lufd::v1::ObjectKind> kinds;
        for (int k : request->kinds()) {
          kinds.push_back(static_cast<lufd::v1::ObjectKind>(k));
        }
        if (kinds.empty()) {
          // Dependency order, so an export re-imports cleanly.
          kinds = {lufd::v1::OBJECT_KIND_ORG,
                   lufd::v1::OBJECT_KIND_CREDENTIAL,
                   lufd::v1::OBJECT_KIND_HOLDING,
                   lufd::v1::OBJECT_KIND_DEST_GROUP,
                   lufd::v1::OBJECT_KIND_SED_RECORD,
                   lufd::v1::OBJECT_KIND_SED_GROUP,
                   lufd::v1::OBJECT_KIND_IDENTIFIER,
                   lufd::v1::OBJECT_KIND_OFFER,
                   lufd::v1::OBJECT_KIND_DNS_KEY};
        }
        // One view for the whole export: a consistent snapshot.
        // What the caller may read is judged against that same view.
        std::shared_ptr<const RegistryView> view = views_->Current();
        ViewAccess snapshot(*view, call.identity);
        uint64_t sent = 0;
        for (lufd::v1::ObjectKind kind : kinds) {
          if (kind == lufd::v1::OBJECT_KIND_UNSPECIFIED) {
            return absl::InvalidArgumentError("kinds: unspecified kind");
          }
          RETURN_IF_ERROR(StreamKind(call, snapshot, kind,
                                     request->registrant_id(), 0, &sent,
                                     writer));
        }
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::Import(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<lufd::v1::ImportProgress, lufd::v1::ImportChunk>*
        stream) {
  return runner_->RunStream(
      "Import", context, /*request=*/nullptr,
      [&](const CallInfo& call) -> absl::Status {
        lufd::v1::ImportProgress progress;
        std::vector<lufd::v1::Operation> batch;
        uint64_t batch_start = 0;  // Stream index of batch[0].
        std::string client_txn_id;
        std::optional<bool> validate_only;  // Set by the first chunk.
        // validate_only: one dry run over the whole stream.
        std::unique_ptr<Registry::Validation> validation;
        // Failing objects, by stream index (bounded: a 1M-line bad file
        // must not become a 1M-entry answer).
        BatchErrors errors(kMaxImportErrors);
        // The last progress lists the failing objects; the status names the
        // first.
        auto fail = [&]() -> absl::Status {
          // For the denial audit: how many objects failed, the first few
          // by index, and the real reason of the first (before the
          // permission refusals are hidden from the caller below).
          std::string audit_object = absl::StrCat("import: ", errors.total,
                                                  " failing objects; first:");
          for (size_t i = 0; i < errors.kept.size() && i < 5; ++i) {
            absl::StrAppend(&audit_object, i == 0 ? " " : ", ", "object ",
                            errors.kept[i].index);
          }
          const std::string audit_reason =
              errors.kept.empty()
                  ? std::string()
                  : absl::StrCat(
                        "object ", errors.kept.front().index, ": ",
                        DenialReason(errors.kept.front().status)
                            .value_or(std::string(
                                errors.kept.front().status.message())));
          auto audited = [&](absl::Status refusal) {
            if (!audit_reason.empty()) {
              refusal = WithDenialReason(std::move(refusal), audit_reason);
            }
            return WithDenialObject(std::move(refusal), audit_object);
          };
          // For all but admins, how many objects were refused for
          // permission, never which (authz.h).
          const size_t refused =
              MaySeeWhichWritesAreRefused(call.identity)
                  ? 0
                  : std::erase_if(errors.kept, [](const OperationError& e) {
                      return absl::IsPermissionDenied(e.status);
                    });
          for (const OperationError& e : errors.kept) {
            lufd::v1::ImportError* out = progress.add_errors();
            out->set_index(e.index);
            out->set_code(static_cast<int32_t>(e.status.code()));
            out->set_message(
                std::string(ClipMessage(e.status.message(), kMaxErrorBytes)));
          }
          progress.set_error_count(errors.total);
          WriteToClient(call, stream, progress);
          if (refused > 0) {
            return audited(absl::PermissionDeniedError(absl::StrCat(
                "permission denied: ", refused,
                refused == 1 ? " object" : " objects",
                " may not be written by this caller (which ones is not "
                "said); ",
                errors.total, " failing objects in all")));
          }
          const OperationError& first = errors.kept.front();
          return audited(absl::Status(
              first.status.code(),
              absl::StrCat("object ", first.index, ": ",
                           ClipMessage(first.status.message(), kMaxErrorBytes),
                           errors.total > 1
                               ? absl::StrCat(" (and ", errors.total - 1,
                                              " more failing objects)")
                               : "")));
        };
        auto commit = [&]() -> absl::Status {
          if (batch.empty()) return absl::OkStatus();
          if (*validate_only) {
            if (validation == nullptr) {
              validation = registry_->StartValidation(call.identity);
            }
            validation->Add(batch, batch_start, &errors);
            progress.set_validated(progress.validated() + batch.size());
          } else {
            ExecuteOptions options;
            options.errors = &errors;
            absl::StatusOr<lufd::v1::WriteResponse> written =
                registry_->Execute(call.identity, batch, client_txn_id,
                                   options);
            if (!written.ok()) {
              // Not an object's fault (e.g. the store failed).
              if (errors.empty()) {
                return RenumberImportError(written.status(), batch_start);
              }
              for (OperationError& e : errors.kept) e.index += batch_start;
              return fail();
            }
            progress.set_committed(progress.committed() + batch.size());
            progress.set_serial(written->serial());
          }
          batch.clear();
          batch_start = progress.received();
          return absl::OkStatus();
        };
        lufd::v1::ImportChunk chunk;
        // Bounded by the client's stream; each chunk is bounded by the
        // max message size and the batch by max_import_batch.
        while (ReadFromClient(call, stream, &chunk)) {
          RETURN_IF_ERROR(runner_->CheckRequestSize(chunk));
          RETURN_IF_ERROR(CheckCallAlive(call));
          if (!validate_only.has_value()) {
            validate_only = chunk.validate_only();
          } else if (*validate_only != chunk.validate_only()) {
            return absl::InvalidArgumentError(
                "validate_only must be the same on every chunk");
          }
          if (chunk.cancel()) {
            // The client stops (lufctl: Ctrl-C): what was committed stands,
            // the open batch is dropped, and the last progress says so.
            WriteToClient(call, stream, progress);
            return absl::CancelledError(absl::StrCat(
                "import cancelled by the client after ", progress.committed(),
                " committed objects; the open batch was not committed"));
          }
          // A dry run keeps the whole stream's overlay: it is bounded like
          // one batch.
          const uint64_t held = *validate_only
                                    ? progress.received()
                                    : static_cast<uint64_t>(batch.size());
          if (held + chunk.objects_size() > options_.max_import_batch) {
            return absl::ResourceExhaustedError(absl::StrCat(
                *validate_only ? "validate-only import" : "import batch",
                " exceeds ", options_.max_import_batch, " objects",
                *validate_only ? "; check the input in parts"
                               : "; set end_batch more often"));
          }
          for (lufd::v1::RegistryObject& object : *chunk.mutable_objects()) {
            batch.push_back(PutOperation(std::move(object)));
          }
          progress.set_received(progress.received() + chunk.objects_size());
          if (!chunk.client_txn_id().empty()) {
            // Checked here too, so a dry run refuses what the import would.
            RETURN_IF_ERROR(ValidateClientTxnId(chunk.client_txn_id()));
            client_txn_id = chunk.client_txn_id();
          }
          if (chunk.end_batch()) RETURN_IF_ERROR(commit());
          if (!WriteToClient(call, stream, progress)) {
            return absl::CancelledError("client stopped reading");
          }
          chunk.Clear();
        }
        // Read() also ends when the client cancels; a cancelled import
        // must not commit its unfinished batch.
        if (context->IsCancelled()) {
          return absl::CancelledError(
              "import cancelled; the open batch was "
              "not committed");
        }
        // Objects after the last end_batch are never committed: gRPC 1.51
        // ends the read loop the same way for a clean end of stream and for
        // a chunk it could not parse, so only end_batch says "this batch is
        // whole". (lufctl sets it on every batch's last chunk.)
        if (!batch.empty()) {
          WriteToClient(call, stream, progress);
          return absl::InvalidArgumentError(absl::StrCat(
              "the stream ended inside a batch: the last ", batch.size(),
              " objects came without end_batch and were not ",
              validate_only.value_or(false) ? "checked" : "committed",
              " (a chunk the server cannot parse also ends the stream); ",
              progress.committed(), " objects were committed before"));
        }
        if (validate_only.value_or(false)) {
          if (validation != nullptr) validation->Finish(&errors);
          if (!errors.empty()) return fail();
          WriteToClient(call, stream, progress);
        }
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::Audit(
    grpc::ServerContext* context, const lufd::v1::AuditRequest* request,
    grpc::ServerWriter<lufd::v1::Change>* writer) {
  return runner_->RunStream(
      "Audit", context, request, [&](const CallInfo& call) -> absl::Status {
        const uint32_t limit = request->limit() == 0
                                   ? kDefaultAuditLimit
                                   : std::min(request->limit(), kMaxAuditLimit);
        AuditQuery query;
        query.after_serial = request->after_serial();
        query.limit = limit;
        query.key = request->key();
        query.actor = request->actor();
        uint32_t sent = 0;
        // Registrars' ownership is judged against the view current when
        // the audit starts, for the whole audit.
        std::shared_ptr<const RegistryView> view = views_->Current();
        ViewAccess access(*view, call.identity);
        // Admins see everything: one page. Registrars see the changes to
        // objects they may read; filtering may need further pages. Paging
        // resumes after the last serial seen, so a single transaction larger
        // than `limit` is only partly examined.
        for (int page = 0; page < kMaxAuditPages && sent < limit; ++page) {
          ASSIGN_OR_RETURN(std::vector<lufd::v1::Change> changes,
                           store_->Audit(query));
          for (const lufd::v1::Change& change : changes) {
            if (!access.CanReadChange(change)) continue;
            lufd::v1::Change redacted = change;
            access.rules().DropUnreadableImages(&redacted);
            RedactSecrets(call.identity, &redacted);
            if (!WriteToClient(call, writer, redacted)) {
              return absl::CancelledError("client stopped reading");
            }
            if (++sent >= limit) break;
          }
          if (access.rules().ReadsEverything() ||
              changes.size() < query.limit || changes.empty()) {
            break;
          }
          RETURN_IF_ERROR(CheckCallAlive(call));
          query.after_serial = changes.back().serial();
        }
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::GetServerInfo(
    grpc::ServerContext* context, const lufd::v1::ServerInfoRequest* request,
    lufd::v1::ServerInfo* response) {
  return runner_->Run(
      "GetServerInfo", context, *request,
      [&](const CallInfo& call) -> absl::Status {
        response->set_version(options_.version);
        response->set_serial(views_->Current()->serial());
        ASSIGN_OR_RETURN(uint64_t store_serial, store_->LatestSerial());
        response->set_store_serial(store_serial);
        response->set_store_backend(store_->Backend());
        response->set_start_time_unix(absl::ToUnixSeconds(options_.start_time));
        response->set_caller_org_id(call.identity.org_id);
        response->set_caller_role(call.identity.role);
        ASSIGN_OR_RETURN(std::vector<MigrationInfo> migrations,
                         store_->MigrationStatus());
        uint32_t schema = 0;
        for (const MigrationInfo& m : migrations) {
          if (m.applied) schema = std::max(schema, m.version);
        }
        response->set_schema_version(schema);
        return absl::OkStatus();
      });
}

// The DNSSEC key RPCs: ADMIN only, checked before anything else, so other
// roles learn nothing about the zones (not even whether DNS is on).
namespace {

absl::Status CheckDnsKeyRequest(const KeyAdmin* km, const std::string& zone) {
  if (km == nullptr) return absl::FailedPreconditionError("DNS not configured");
  if (zone.empty()) return absl::InvalidArgumentError("zone is required");
  if (!km->ServesZone(zone)) {
    return absl::NotFoundError(absl::StrCat("zone ", QuoteForError(zone),
                                            " is not served by this lufd"));
  }
  return absl::OkStatus();
}

absl::Status CheckRole(lufd::v1::DnsKeyRole role) {
  if (!lufd::v1::DnsKeyRole_IsValid(role)) {
    return absl::InvalidArgumentError("role: csk, ksk or zsk");
  }
  return absl::OkStatus();
}

void FillKeyResponse(const KeyChange& change,
                     lufd::v1::DnsKeyResponse* response) {
  for (const lufd::v1::DnsKey& k : change.keys) *response->add_keys() = k;
  response->set_serial(change.serial);
}

}  // namespace

grpc::Status AdminServiceImpl::GenerateDnsKey(
    grpc::ServerContext* context,
    const lufd::v1::GenerateDnsKeyRequest* request,
    lufd::v1::DnsKeyResponse* response) {
  return runner_->Run(
      "GenerateDnsKey", context, *request,
      [&](const CallInfo& call) -> absl::Status {
        KeyAdmin* km = key_admin_.load();
        RETURN_IF_ERROR(CheckDnsKeyRequest(km, request->zone()));
        RETURN_IF_ERROR(CheckRole(request->role()));
        RETURN_IF_ERROR(CheckCallAlive(call));
        ASSIGN_OR_RETURN(
            KeyChange change,
            km->Generate(request->zone(), request->role(), request->algorithm(),
                         request->activate()));
        FillKeyResponse(change, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::RolloverDnsKey(
    grpc::ServerContext* context,
    const lufd::v1::RolloverDnsKeyRequest* request,
    lufd::v1::DnsKeyResponse* response) {
  return runner_->Run(
      "RolloverDnsKey", context, *request,
      [&](const CallInfo& call) -> absl::Status {
        KeyAdmin* km = key_admin_.load();
        RETURN_IF_ERROR(CheckDnsKeyRequest(km, request->zone()));
        RETURN_IF_ERROR(CheckRole(request->role()));
        RETURN_IF_ERROR(CheckCallAlive(call));
        ASSIGN_OR_RETURN(KeyChange change,
                         km->Rollover(request->zone(), request->role(),
                                      request->ds_published()));
        FillKeyResponse(change, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::GetDs(grpc::ServerContext* context,
                                     const lufd::v1::GetDsRequest* request,
                                     lufd::v1::GetDsResponse* response) {
  return runner_->Run(
      "GetDs", context, *request, [&](const CallInfo& call) -> absl::Status {
        KeyAdmin* km = key_admin_.load();
        RETURN_IF_ERROR(CheckDnsKeyRequest(km, request->zone()));
        ASSIGN_OR_RETURN(DsLines lines, km->GetDs(request->zone()));
        for (std::string& l : lines.ds) response->add_ds(std::move(l));
        for (std::string& l : lines.dnskey) response->add_dnskey(std::move(l));
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::ListDenials(
    grpc::ServerContext* context, const lufd::v1::ListDenialsRequest* request,
    lufd::v1::ListDenialsResponse* response) {
  return runner_->Run(
      "ListDenials", context, *request, [&](const CallInfo&) -> absl::Status {
        DenialRecorder* recorder = denials_.load();
        if (recorder == nullptr) {
          return absl::FailedPreconditionError(
              "the denial audit is not configured");
        }
        DenialQuery query;
        query.limit = request->limit() == 0
                          ? kDefaultDenialLimit
                          : std::min(request->limit(), kMaxDenialLimit);
        query.actor = request->actor();
        ASSIGN_OR_RETURN(std::vector<DenialRecord> rows, recorder->List(query));
        for (const DenialRecord& r : rows) {
          lufd::v1::Denial* d = response->add_denials();
          d->set_id(r.id);
          d->set_first_unix_micros(r.first_unix_micros);
          d->set_last_unix_micros(r.last_unix_micros);
          d->set_actor(r.actor);
          d->set_subject(r.subject);
          d->set_peer(r.peer);
          d->set_method(r.method);
          d->set_object(r.object);
          d->set_reason(r.reason);
          d->set_code(r.code);
          d->set_count(r.count);
        }
        response->set_memory_only(recorder->memory_only());
        return absl::OkStatus();
      });
}

namespace {

absl::Status CheckGuard(const Guard* guard) {
  if (guard == nullptr) {
    return absl::FailedPreconditionError(
        "the guard is disabled on this lufd (config guard.enabled)");
  }
  return absl::OkStatus();
}

// 0 for "never" (InfinitePast), so the client can tell it from a real time.
int64_t MicrosOrZero(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  return absl::ToUnixMicros(t);
}

void FillGuardIdentity(const GuardIdentityStatus& st, absl::Time now,
                       lufd::v1::GuardIdentity* out) {
  out->set_identity(st.key.Describe());
  out->set_kind(st.key.kind == GuardKey::Kind::kOrg ? "org" : "prefix");
  out->set_id(st.key.id);
  lufd::v1::GuardLimitsInfo* l = out->mutable_limits();
  l->set_lookups_per_second(st.limits.lookups_per_second);
  l->set_burst(st.limits.burst);
  l->set_miss_cost(st.limits.miss_cost);
  l->set_distinct_numbers_per_day(st.limits.distinct_numbers_per_day);
  l->set_misses_per_day(st.limits.misses_per_day);
  l->set_scan_threshold(st.limits.scan_threshold);
  l->set_signatures_per_second(st.limits.signatures_per_second);
  l->set_signing_burst(st.limits.signing_burst);
  for (int r = 0; r < kGuardRuleCount; ++r) {
    const GuardRule rule = static_cast<GuardRule>(r);
    if (st.limits.DryRun(rule)) {
      l->add_dry_run_rules(std::string(GuardRuleName(rule)));
    }
  }
  out->set_tokens(st.tokens);
  out->set_signing_tokens(st.signing_tokens);
  out->set_disclosed_in_window(st.disclosed_in_window);
  out->set_misses_in_window(st.misses_in_window);
  out->set_reserved(st.reserved);
  const GuardCounters& c = st.counters;
  out->set_admitted(c.admitted);
  out->set_hits(c.hits);
  out->set_misses(c.misses);
  out->set_signatures(c.signatures);
  out->set_offences(c.offences);
  out->set_blocks(c.blocks);
  out->set_denied_total(c.denied_total());
  for (int r = 0; r < kGuardRuleCount; ++r) {
    lufd::v1::GuardRuleCount* rc = out->add_rules();
    rc->set_rule(std::string(GuardRuleName(static_cast<GuardRule>(r))));
    rc->set_denied(c.denied[r]);
    rc->set_dry_run(c.dry_run[r]);
  }
  out->set_offence_level(st.offence_level);
  out->set_blocked(st.blocked(now));
  out->set_blocked_until_unix_micros(MicrosOrZero(st.blocked_until));
  out->set_first_seen_unix_micros(MicrosOrZero(st.first_seen));
  out->set_last_seen_unix_micros(MicrosOrZero(st.last_seen));
  out->set_last_denied_unix_micros(MicrosOrZero(st.last_denied));
  out->set_last_denial(st.last_denial);
  out->set_now_unix_micros(absl::ToUnixMicros(now));
}

// ExplainGuard and Unblock refuse an identity the guard does not track with
// the same words.
absl::Status GuardNotTracked(const GuardKey& key) {
  return absl::NotFoundError(
      absl::StrCat("the guard does not track ", key.Describe(),
                   " (never seen, or idle and forgotten)"));
}

}  // namespace

grpc::Status AdminServiceImpl::GuardStatus(
    grpc::ServerContext* context, const lufd::v1::GuardStatusRequest* request,
    lufd::v1::GuardStatusResponse* response) {
  return runner_->Run(
      "GuardStatus", context, *request, [&](const CallInfo&) -> absl::Status {
        Guard* guard = guard_.load();
        RETURN_IF_ERROR(CheckGuard(guard));
        const size_t limit = request->limit() == 0
                                 ? kDefaultGuardLimit
                                 : std::min(request->limit(), kMaxGuardLimit);
        const absl::Time now = absl::Now();
        for (const GuardIdentityStatus& st :
             guard->Snapshot(now, limit, request->only_denied())) {
          FillGuardIdentity(st, now, response->add_identities());
        }
        response->set_tracked(guard->tracked());
        response->set_evicted_live(guard->evicted_live());
        response->set_now_unix_micros(absl::ToUnixMicros(now));
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::ExplainGuard(
    grpc::ServerContext* context, const lufd::v1::ExplainGuardRequest* request,
    lufd::v1::GuardIdentity* response) {
  return runner_->Run(
      "ExplainGuard", context, *request, [&](const CallInfo&) -> absl::Status {
        Guard* guard = guard_.load();
        RETURN_IF_ERROR(CheckGuard(guard));
        ASSIGN_OR_RETURN(GuardKey key, GuardKey::Parse(request->identity()));
        const absl::Time now = absl::Now();
        std::optional<GuardIdentityStatus> st = guard->Explain(key, now);
        if (!st.has_value()) {
          return GuardNotTracked(key);
        }
        FillGuardIdentity(*st, now, response);
        return absl::OkStatus();
      });
}

grpc::Status AdminServiceImpl::Unblock(grpc::ServerContext* context,
                                       const lufd::v1::UnblockRequest* request,
                                       lufd::v1::UnblockResponse* response) {
  return runner_->Run(
      "Unblock", context, *request, [&](const CallInfo& call) -> absl::Status {
        Guard* guard = guard_.load();
        RETURN_IF_ERROR(CheckGuard(guard));
        ASSIGN_OR_RETURN(GuardKey key, GuardKey::Parse(request->identity()));
        const absl::Time now = absl::Now();
        std::optional<GuardIdentityStatus> before = guard->Explain(key, now);
        if (!before.has_value()) {
          return GuardNotTracked(key);
        }
        const bool lifted = guard->Unblock(key, now);
        // An admin action on this replica's in-memory state: it has no
        // registry change to record, so the log line is its audit trail.
        spdlog::info(
            "guard: {} unblocked {} (lifted: {}, was blocked: {}, offences "
            "remembered: {})",
            call.identity.AuditName(), key.Describe(), lifted,
            before->blocked(now), before->offence_level);
        response->set_lifted(lifted);
        if (std::optional<GuardIdentityStatus> after =
                guard->Explain(key, now)) {
          FillGuardIdentity(*after, now, response->mutable_identity());
        }
        return absl::OkStatus();
      });
}

}  // namespace lufd
