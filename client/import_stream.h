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
// The server names a failing object by its 0-based index in the stream
// ("object <i>: ..."); RunImport rewrites that to the CSV line
// ("line <L> (tn +...): ...") so the user can fix the file.
//
// Thread-safety: RunImport is a blocking call; the progress callback runs on
// the calling thread.
#ifndef LUFD_CLIENT_IMPORT_STREAM_H_
#define LUFD_CLIENT_IMPORT_STREAM_H_

#include <cstdint>
#include <functional>
#include <string>

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

struct ImportOptions {
  size_t batch_size = 0;     // Objects per atomic batch; 0 = whole file.
  size_t chunk_size = 2000;  // Objects per ImportChunk message.
  std::string client_txn_id;
  // Called at most every ~100 ms and once at the end.
  std::function<void(const ImportProgressInfo&)> on_progress;
};

struct ImportResult {
  uint64_t objects = 0;
  uint64_t committed = 0;
  uint64_t serial = 0;
  double seconds = 0;
};

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
