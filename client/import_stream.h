// Streaming bulk import (AdminService.Import) of a parsed CSV ImportPlan.
//
// The plan is cut into batches of `batch_size` objects (0 = the whole file is
// one batch, i.e. all or nothing) and each batch into ImportChunk messages of
// `chunk_size` objects; the last chunk of a batch has end_batch=true so the
// server commits it atomically. A writer (the calling thread) streams chunks
// while a reader thread consumes ImportProgress, so the HTTP/2 window stays
// full. Protos are built per chunk into a reused message: no per-object
// allocation beyond what protobuf itself reuses.
//
// The server evaluates a whole batch and names every failing object (the
// first 1000, and a count) by its 0-based index in the stream
// ("object <i>: ..."); RunImport rewrites those to input lines
// ("line <L> (tn +...): ...") so the user can fix the file in one pass.
//
// What was committed is always known: the server confirms each batch with
// its serial, and an ImportOutcome (DescribeOutcome) says which objects
// were committed, after a bad batch, an interrupt (stop_on_sigint: the first
// Ctrl-C asks the server to stop after the batch it is committing, with a
// `cancel` chunk, so the answer stays exact) or a lost connection (then the
// batches sent but not confirmed are named as uncertain: at most two, as
// no batch is sent before the one two back is confirmed).
//
// validate_only is the dry run of `lufctl import --check`: the server checks
// everything an import would (authorization included) and writes nothing.
//
// Thread-safety: RunImport is a blocking call; the progress callback runs on
// the calling thread. stop_on_sigint installs a process-wide SIGINT handler
// for the duration of the call (the previous one is restored), so at most
// one such RunImport may run at a time.
#ifndef LUFD_CLIENT_IMPORT_STREAM_H_
#define LUFD_CLIENT_IMPORT_STREAM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/csv_import.h"
#include "lufd/v1/admin.grpc.pb.h"

namespace lufd::client {

// Where RunImport gets its objects, in stream order: the CSV plan, or JSON
// lines (json_import.h). Implementations are read-only during the import.
class ImportSource {
 public:
  virtual ~ImportSource() = default;
  virtual size_t size() const = 0;
  // Fills `out` with object i (overwriting it; callers reuse one message).
  virtual void Fill(size_t i, lufd::v1::RegistryObject* out) const = 0;
  // How the user finds object i in the input, e.g. "line 14 (tn +1202...)".
  virtual std::string Describe(size_t i) const = 0;
};

// ImportSource over a parsed CSV (the plan must outlive it).
class CsvImportSource final : public ImportSource {
 public:
  explicit CsvImportSource(const ImportPlan& plan) : plan_(plan) {}
  size_t size() const override { return plan_.size(); }
  void Fill(size_t i, lufd::v1::RegistryObject* out) const override {
    plan_.ToObject(i, out);
  }
  std::string Describe(size_t i) const override;

 private:
  const ImportPlan& plan_;
};

struct ImportProgressInfo {
  uint64_t total = 0;      // Objects in the plan.
  uint64_t sent = 0;       // Objects written to the stream.
  uint64_t received = 0;   // As last reported by the server.
  uint64_t committed = 0;  // As last reported by the server.
  uint64_t serial = 0;
  double elapsed_seconds = 0;
};

// What an import left behind, filled whether it succeeded or not.
struct ImportOutcome {
  uint64_t total = 0;      // Objects in the source.
  uint64_t committed = 0;  // Objects 0..committed-1 are committed (confirmed).
  uint64_t serial = 0;     // Serial of the last confirmed batch.
  // Objects [committed, unconfirmed_end) were sent with their batch's end
  // but the stream broke before the server confirmed the commit.
  uint64_t unconfirmed_end = 0;
  bool validate_only = false;
  bool interrupted = false;  // Stopped by SIGINT (stop_on_sigint).
  // Failing objects as the server reported them, mapped to input lines
  // ("line 14 (tn +1202...): bad regexp"), at most the server's bound.
  std::vector<std::string> errors;
  uint64_t error_count = 0;  // All failing objects, also those not listed.
};

struct ImportOptions {
  // Objects per atomic batch; 0 = the whole input is one batch (all or
  // nothing, but the server holds all of it at once).
  size_t batch_size = 0;
  size_t chunk_size = 2000;  // Objects per ImportChunk message.
  std::string client_txn_id;
  // Dry run: the server checks everything and commits nothing.
  bool validate_only = false;
  // The first SIGINT stops the import cleanly (see above); a second one
  // kills the process as usual.
  bool stop_on_sigint = false;
  // Tests: stop as if interrupted once this becomes true.
  const std::atomic<bool>* stop = nullptr;
  // Filled when not null, on success and on failure.
  ImportOutcome* outcome = nullptr;
  // Called at most every ~100 ms and once at the end.
  std::function<void(const ImportProgressInfo&)> on_progress;
};

struct ImportResult {
  uint64_t objects = 0;
  uint64_t committed = 0;
  uint64_t serial = 0;
  uint64_t validated = 0;  // validate_only: objects the server checked.
  double seconds = 0;
};

// For the user, one line per fact: what was committed (or that nothing
// was), what is uncertain, then each failing object, e.g.
//   committed 40000 of 100000 objects, line 2 (tn +1...) to line 40001
//   (tn +1...), serial 1234
//   line 40003 (tn +1...): services: ...
std::string DescribeOutcome(const ImportOutcome& outcome,
                            const ImportSource& source);

absl::StatusOr<ImportResult> RunImport(
    lufd::v1::AdminService::StubInterface* admin, grpc::ClientContext* context,
    const ImportSource& source, const ImportOptions& options);
absl::StatusOr<ImportResult> RunImport(
    lufd::v1::AdminService::StubInterface* admin, grpc::ClientContext* context,
    const ImportPlan& plan, const ImportOptions& options);

// "object 12: bad regexp" -> "line 14 (tn +12025550012): bad regexp" when
// the index is within the plan; other text is kept.
std::string MapObjectErrorToLine(const std::string& message,
                                 const ImportSource& source);
std::string MapObjectErrorToLine(const std::string& message,
                                 const ImportPlan& plan);

// A one-line progress bar ("\r[#####.....]  45% 450000/1000000 ...").
std::string FormatProgressBar(const ImportProgressInfo& p, int width);

}  // namespace lufd::client

#endif  // LUFD_CLIENT_IMPORT_STREAM_H_
