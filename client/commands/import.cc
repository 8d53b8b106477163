// `lufctl import FILE`: bulk-load TNs from CSV, or any objects from JSON
// lines as `export --format json` writes them; and the import stream that
// `zone import` shares (import.h).
#include "client/commands/import.h"

#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/csv_import.h"
#include "client/import_stream.h"
#include "client/json_import.h"
#include "client/spki.h"

namespace lufd::client::cli {

using lufd::v1::RegistryObject;

void AddBatchFlags(CLI::App* c, StreamFlags* a) {
  c->add_option("--batch-size", a->batch_size,
                "Objects per atomic batch (default 50000; 0 = the whole "
                "file, all or nothing)");
  c->add_option("--chunk-size", a->chunk_size,
                "Objects per stream message (default 2000)")
      ->check(CLI::Range(1, 100000));
}

absl::Status ReportBadLines(Context& ctx, const std::string& value,
                            const std::vector<LineError>& errors) {
  for (const auto& e : errors) {
    ctx.err << value << ":" << e.line << ": " << e.message << "\n";
  }
  return absl::InvalidArgumentError(absl::StrCat(
      errors.size(), " bad line(s) in ", value, "; nothing was sent"));
}

absl::Status StreamImport(Context& ctx, const ImportSource& source,
                          absl::string_view what, const StreamFlags& a) {
  auto client = ctx.Client();
  if (!client.ok()) return client.status();
  ImportOptions opts;
  opts.batch_size = a.batch_size;
  opts.chunk_size = a.chunk_size;
  opts.client_txn_id = ctx.g.txn_id;
  opts.validate_only = a.validate_only;
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
  if (a.validate_only) {
    ctx.out << result->validated << " " << what
            << " checked by the server, OK (nothing was written)\n";
    return absl::OkStatus();
  }
  if (!a.no_wait) {
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

namespace {

struct ImportFlags : StreamFlags {
  std::string value;          // The file.
  std::string import_format;  // csv | json; empty = by file extension.
  bool check_only = false;

  void Register(CLI::App* c) {
    c->add_option("file", value, "CSV or JSON-lines file")->required();
    c->add_option("--format", import_format,
                  "csv or json (default: by extension, .json/.jsonl = "
                  "json)")
        ->check(CLI::IsMember({"csv", "json"}));
    AddBatchFlags(c, this);
    c->add_flag("--check", check_only,
                "Check the file here, then have the server check it "
                "exactly as an import (references, authorization, "
                "NAPTR chains: every bad line), writing nothing");
    c->add_flag("--no-wait", no_wait,
                "Return once committed, without waiting until the "
                "server's view serves the import");
  }
};

// The same stream as a validate-only dry run (`--check`).
StreamFlags ServerCheck(const StreamFlags& a) {
  StreamFlags check = a;
  check.validate_only = true;
  return check;
}

absl::Status Import(Context& ctx, const ImportFlags& a) {
  std::string format = a.import_format;
  if (format.empty()) {
    format = absl::EndsWith(a.value, ".json") ||
                     absl::EndsWith(a.value, ".jsonl") ||
                     absl::EndsWith(a.value, ".ndjson")
                 ? "json"
                 : "csv";
  }
  if (format == "json") {
    auto text = ReadSmallFile(a.value);
    if (!text.ok()) return text.status();
    JsonImport source = ParseJsonLines(*text);
    if (!source.ok()) return ReportBadLines(ctx, a.value, source.errors());
    if (a.check_only) {
      ctx.out << a.value << ": " << source.size() << " objects, OK\n";
      return StreamImport(ctx, source, "objects", ServerCheck(a));
    }
    absl::Status st = StreamImport(ctx, source, "objects", a);
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
  auto plan = ParseImportCsvFile(a.value);
  if (!plan.ok()) return plan.status();
  if (!plan->ok()) return ReportBadLines(ctx, a.value, plan->errors());
  if (a.check_only) {
    ctx.out << a.value << ": " << plan->size() << " numbers, "
            << plan->record_count() << " NAPTR records, OK\n";
    return StreamImport(ctx, CsvImportSource(*plan), "numbers", ServerCheck(a));
  }
  return StreamImport(ctx, CsvImportSource(*plan), "numbers", a);
}

}  // namespace

Command ImportCommand() {
  return Cmd<ImportFlags>(
      "import", "",
      "import FILE [--format csv|json] [--batch-size N] [--chunk-size N] "
      "[--check] [--no-wait]",
      "Bulk-load TNs from CSV (tn,registrant,dest_groups[,ttl,order,"
      "preference,flags,services,regexp,replacement]), or any objects from "
      "JSON lines as export writes them.",
      Import);
}

}  // namespace lufd::client::cli
