// The import stream as lufctl drives it, shared by `lufctl import`
// (client/commands/import.cc) and `lufctl zone import` (zone.cc): stream a
// source over AdminService.Import with a progress bar on a terminal, wait
// until the server's view serves the result, print the summary; and report
// a file's bad lines as FILE:LINE: reason. Same threading as command.h.
#ifndef LUFD_CLIENT_COMMANDS_IMPORT_H_
#define LUFD_CLIENT_COMMANDS_IMPORT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "client/commands/command.h"
#include "client/csv_import.h"
#include "client/import_stream.h"

namespace lufd::client::cli {

// How an import is cut into atomic batches and stream messages, and whether
// lufctl waits for the server's view to serve it.
struct StreamFlags {
  // 50000: a failed import leaves whole batches committed (and says which),
  // and lufd holds one batch at a time (0 = the whole file, all or nothing).
  size_t batch_size = 50000, chunk_size = 2000;
  bool no_wait = false;
  // A dry run: lufd checks the stream exactly as an import and writes
  // nothing (`import --check`).
  bool validate_only = false;
};

// --batch-size and --chunk-size (--no-wait is registered by each command,
// with its own help line).
void AddBatchFlags(CLI::App* c, StreamFlags* a);

// Prints "FILE:LINE: message" for each error and returns INVALID_ARGUMENT
// ("N bad line(s) in FILE; nothing was sent").
absl::Status ReportBadLines(Context& ctx, const std::string& value,
                            const std::vector<LineError>& errors);

// Streams `source`, then (unless --no-wait) waits for the view, and prints
// "imported N <what> in S s (R/s), serial X" or its JSON.
absl::Status StreamImport(Context& ctx, const ImportSource& source,
                          absl::string_view what, const StreamFlags& a);

}  // namespace lufd::client::cli

#endif  // LUFD_CLIENT_COMMANDS_IMPORT_H_
