// Registry: the write path. Validates, authorizes and expands (cascades)
// SPPF operations against the current view, then commits them through the
// Store in one transaction.
//
// Rules:
//  - Add = upsert. Objects are validated/normalized (validate.h) and their
//    references must exist (in the view or earlier in the same batch).
//  - A batch stops at the first failing operation and nothing of it is
//    written (RFC 7878 §7.2.5.1); the error message starts with
//    "operation <index>: ".
//  - Authorization: the rules are authz.h's AccessRules, judged against
//    the batch's view plus its own pending writes. Failures are
//    PERMISSION_DENIED with a message that names no other org's data;
//    reading (or deleting, or referring to) an object the caller may not
//    see is NOT_FOUND. Get redacts secrets (authz.h) by itself.
//  - Delete cascades: org -> its credentials, its registrants' objects,
//    offers to it; destination group -> removed from identifiers and SED
//    groups; SED record -> removed from SED groups; SED group -> its offers.
//  - Non-terminal NAPTRs (no flags) that send clients on into e164.arpa may
//    not form a chain longer than 5 hops or a loop (RFC 6116 §5.1; checked
//    on the whole batch, INVALID_ARGUMENT; see WritePlan::CheckChains for what
//    the check sees).
//  - Offers: putting an Offer creates it PENDING (status in the request is
//    ignored); AcceptOffer/RejectOffer set the status.
//  - Bulk callers (Import) may ask for every failing operation of a batch
//    instead of the first (ExecuteOptions::errors; the batch is still all
//    or nothing), and for a dry run that evaluates everything, authorization
//    included, and commits nothing (validate_only; Validation for a stream
//    of batches).
//  - Commit uses expected_serial = view serial; on ABORTED it waits for the
//    follower and retries (bounded). After a commit it waits (bounded) until
//    the view reaches the new serial: read-your-writes for the caller.
//  - Where commits go is the WriteRouter's (storage/write_router.h) when one
//    is set: the local store, the primary (the view still follows the local
//    standby, so the waits above hold for a forwarded write too: the
//    primary's serials are the standby's), or a FAILED_PRECONDITION
//    refusal, decided before the batch is evaluated.
// Thread-safe.
#ifndef LUFD_SERVER_CORE_REGISTRY_H_
#define LUFD_SERVER_CORE_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lufd/v1/admin.pb.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/authz.h"
#include "server/core/identity.h"
#include "server/core/view.h"
#include "storage/store.h"
#include "storage/write_router.h"

namespace lufd {

// One failing operation of a batch.
struct OperationError {
  uint64_t index = 0;   // In the batch (Validation: in the stream).
  absl::Status status;  // Without the "operation <i>: " prefix.
};

// The failing operations of a batch: all are counted, the first `max_kept`
// (by index) are kept, so a huge bad batch costs bounded memory.
struct BatchErrors {
  explicit BatchErrors(size_t max_kept = 1000) : max_kept(max_kept) {}
  void Add(uint64_t index, absl::Status status);
  // Sorted by index (chain checks run after the operations).
  void Sort();
  bool empty() const { return total == 0; }
  void Clear() {
    kept.clear();
    total = 0;
  }
  // The first error as a status: "operation <i>: <message>".
  absl::Status First() const;

  size_t max_kept;
  std::vector<OperationError> kept;
  uint64_t total = 0;
};

struct ExecuteOptions {
  // Not null: evaluate every operation and note each failure here instead
  // of stopping at the first; Execute then returns the first. Nothing of a
  // batch with errors is written either way.
  BatchErrors* errors = nullptr;
  // Evaluate the whole batch (validation, references, authorization, chain
  // checks) but never commit: the response has the view's serial and the
  // number of changes a commit would write.
  bool validate_only = false;
};

class Registry {
 public:
  class Validation;

  // `nudge` (may be empty) is called after each commit so the follower
  // polls at once. Pointers must outlive the Registry.
  Registry(Store* store, ViewHolder* views, std::function<void()> nudge);

  // Sends commits where `router` says (null: always `store`). Set before
  // the first write; must outlive the Registry.
  void set_write_router(WriteRouter* router) { router_ = router; }

  absl::StatusOr<lufd::v1::WriteResponse> Execute(
      const Identity& actor, const std::vector<lufd::v1::Operation>& operations,
      const std::string& client_txn_id, const ExecuteOptions& options = {});

  // A dry run over a stream of batches (`lufctl import --check`): one view,
  // and each batch sees what the earlier ones would have written, as the
  // real import would. Memory grows with the objects checked (the overlay
  // of one batch of that size). Not thread-safe; must not outlive the
  // Registry.
  std::unique_ptr<Validation> StartValidation(const Identity& actor) const;

  // NOT_FOUND if absent or not visible to the actor.
  absl::StatusOr<lufd::v1::RegistryObject> Get(const Identity& actor,
                                               lufd::v1::ObjectKind kind,
                                               const std::string& key) const;

 private:
  Store* store_;
  WriteRouter* router_ = nullptr;
  ViewHolder* views_;
  std::function<void()> nudge_;
  // Serializes this instance's batches (evaluate, commit, wait for the
  // view), so that local writers never conflict with each other; ABORTED
  // retries are left for writers in other processes.
  absl::Mutex write_mu_;
};

class Registry::Validation {
 public:
  ~Validation();
  // Checks `operations`, the stream's objects first_index.. onwards; their
  // failures go to `errors` with stream indices.
  void Add(const std::vector<lufd::v1::Operation>& operations,
           uint64_t first_index, BatchErrors* errors);
  // The checks that need the whole stream (NAPTR chains).
  void Finish(BatchErrors* errors);
  // Changes a commit of everything added so far would write.
  uint64_t changes() const;

 private:
  friend class Registry;
  struct State;
  explicit Validation(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace lufd

#endif  // LUFD_SERVER_CORE_REGISTRY_H_
