#include "client/import_stream.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/client.h"

namespace lufd::client {

std::string CsvImportSource::Describe(size_t i) const {
  const ImportNumber& num = plan_.number(i);
  return absl::StrCat("line ", num.line, " (tn ", num.tn_view(), ")");
}

std::string MapObjectErrorToLine(const std::string& message,
                                 const ImportPlan& plan) {
  return MapObjectErrorToLine(message, CsvImportSource(plan));
}

std::string MapObjectErrorToLine(const std::string& message,
                                 const ImportSource& source) {
  static const std::string kObject = "object ";
  size_t pos = 0;
  while ((pos = message.find(kObject, pos)) != std::string::npos) {
    size_t start = pos + kObject.size();
    size_t end = start;
    while (end < message.size() && message[end] >= '0' && message[end] <= '9') {
      ++end;
    }
    uint64_t index = 0;
    if (end > start &&
        absl::SimpleAtoi(message.substr(start, end - start), &index) &&
        index < source.size()) {
      return absl::StrCat(message.substr(0, pos), source.Describe(index),
                          message.substr(end));
    }
    pos = start;
  }
  return message;
}

std::string FormatProgressBar(const ImportProgressInfo& p, int width) {
  // Progress is what the server has received (what we merely wrote may sit
  // in transport buffers), so rate and ETA describe the real pipeline.
  const uint64_t done = p.received > 0 ? p.received : p.sent;
  double frac = p.total == 0 ? 1.0 : static_cast<double>(done) / p.total;
  frac = std::clamp(frac, 0.0, 1.0);
  int filled = static_cast<int>(frac * width);
  std::string bar(filled, '#');
  bar.append(width - filled, '.');
  double rate = p.elapsed_seconds > 0 ? done / p.elapsed_seconds : 0;
  std::string eta = "?";
  if (done >= p.total && p.committed < p.total) {
    eta = "committing";
  } else if (rate > 0) {
    eta = absl::StrFormat("%.0fs", (p.total - done) / rate);
  }
  return absl::StrFormat(
      "\r[%s] %3.0f%% %d/%d received, %d committed, %.0f/s, ETA %s   ", bar,
      frac * 100, done, p.total, p.committed, rate, eta);
}

absl::StatusOr<ImportResult> RunImport(
    lufd::v1::AdminService::StubInterface* admin, grpc::ClientContext* context,
    const ImportPlan& plan, const ImportOptions& options) {
  return RunImport(admin, context, CsvImportSource(plan), options);
}

namespace {

// Set by the SIGINT handler while a RunImport with stop_on_sigint runs.
volatile std::sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) { g_interrupted = 1; }

// Installs OnInterrupt for one RunImport. SA_RESETHAND: the first Ctrl-C
// asks for a clean stop, a second one ends the process as usual.
class ScopedInterruptHandler {
 public:
  explicit ScopedInterruptHandler(bool enable) : enabled_(enable) {
    if (!enabled_) return;
    g_interrupted = 0;
    struct sigaction action = {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &action, &previous_);
  }
  ~ScopedInterruptHandler() {
    if (enabled_) sigaction(SIGINT, &previous_, nullptr);
  }
  ScopedInterruptHandler(const ScopedInterruptHandler&) = delete;
  ScopedInterruptHandler& operator=(const ScopedInterruptHandler&) = delete;

 private:
  bool enabled_;
  struct sigaction previous_ = {};
};

// "objects 3-7 (line 4 (tn +1...) to line 8 (tn +1...))", 0-based [begin, end).
std::string Span(const ImportSource& source, uint64_t begin, uint64_t end) {
  if (end <= begin || end > source.size()) {
    return absl::StrCat("objects ", begin + 1, "-", end);
  }
  if (end - begin == 1) {
    return absl::StrCat("object ", begin + 1, " (", source.Describe(begin),
                        ")");
  }
  return absl::StrCat("objects ", begin + 1, "-", end, " (",
                      source.Describe(begin), " to ", source.Describe(end - 1),
                      ")");
}

}  // namespace

std::string DescribeOutcome(const ImportOutcome& o,
                            const ImportSource& source) {
  std::string out;
  if (o.validate_only) {
    out = "checked only: nothing was written\n";
  } else if (o.committed == 0) {
    out = "nothing was committed\n";
  } else {
    absl::StrAppend(&out, "committed ", o.committed, " of ", o.total, " ",
                    Span(source, 0, o.committed), ", serial ", o.serial, "\n");
  }
  if (o.unconfirmed_end > o.committed) {
    absl::StrAppend(
        &out, "unconfirmed: ", Span(source, o.committed, o.unconfirmed_end),
        " were sent, but the connection ended before the server "
        "confirmed their commit; they may be committed (importing "
        "them again is safe: import is an upsert)\n");
  }
  if (o.interrupted) absl::StrAppend(&out, "interrupted\n");
  if (o.error_count > 0) {
    absl::StrAppend(&out, o.error_count, " failing object(s)",
                    o.validate_only ? ""
                                    : " in the failed batch, none of which"
                                      " was committed",
                    ":\n");
    for (const std::string& e : o.errors) absl::StrAppend(&out, e, "\n");
    if (o.error_count > o.errors.size()) {
      absl::StrAppend(&out, "... and ", o.error_count - o.errors.size(),
                      " more failing objects not listed\n");
    }
  }
  return out;
}

absl::StatusOr<ImportResult> RunImport(
    lufd::v1::AdminService::StubInterface* admin, grpc::ClientContext* context,
    const ImportSource& source, const ImportOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto elapsed = [&start] {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  const size_t total = source.size();
  const size_t batch_size =
      options.batch_size == 0 ? total : options.batch_size;
  const size_t chunk_size = std::max<size_t>(1, options.chunk_size);
  ScopedInterruptHandler interrupt_handler(options.stop_on_sigint);
  auto stop_requested = [&options] {
    return (options.stop_on_sigint && g_interrupted != 0) ||
           (options.stop != nullptr && options.stop->load());
  };

  auto stream = admin->Import(context);
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> committed{0};
  std::atomic<uint64_t> validated{0};
  std::atomic<uint64_t> serial{0};
  // The server's last progress with errors (written once, before the
  // reader exits; read after join).
  lufd::v1::ImportProgress failure;
  absl::Notification reader_done;
  // Signalled on every progress (and at the end) for the batch window.
  absl::Mutex progress_mu;
  absl::CondVar progressed;
  // The reader drains progress so the server never blocks on its writes.
  std::thread reader([&] {
    lufd::v1::ImportProgress progress;
    while (stream->Read(&progress)) {
      received.store(progress.received(), std::memory_order_relaxed);
      committed.store(progress.committed(), std::memory_order_relaxed);
      validated.store(progress.validated(), std::memory_order_relaxed);
      serial.store(progress.serial(), std::memory_order_relaxed);
      if (progress.error_count() > 0) failure = progress;
      absl::MutexLock lock(&progress_mu);
      progressed.SignalAll();
    }
    absl::MutexLock lock(&progress_mu);
    reader_done.Notify();
    progressed.SignalAll();
  });
  // Objects the server has confirmed (committed, or checked in a dry run).
  auto confirmed = [&] {
    return options.validate_only ? validated.load() : committed.load();
  };

  ImportProgressInfo info;
  info.total = total;
  auto report = [&] {
    if (!options.on_progress) return;
    info.received = received.load(std::memory_order_relaxed);
    info.committed = committed.load(std::memory_order_relaxed);
    info.serial = serial.load(std::memory_order_relaxed);
    info.elapsed_seconds = elapsed();
    options.on_progress(info);
  };
  auto last_report = Clock::now();

  lufd::v1::ImportChunk chunk;
  bool write_failed = false;
  bool interrupted = false;
  uint64_t batches_end = 0;  // Objects up to here went out with end_batch.
  // Asks the server to stop after what it is committing; false when the
  // stream is already broken.
  auto send_cancel = [&] {
    lufd::v1::ImportChunk cancel;
    cancel.set_cancel(true);
    cancel.set_validate_only(options.validate_only);
    return stream->Write(cancel);
  };
  size_t i = 0;
  while (i < total && !write_failed && !interrupted) {
    // Window of two batches: the server commits one while the next
    // arrives, and no further one is sent until the first is confirmed.
    // So a broken connection leaves at most two batches in doubt (and
    // transport buffers hold at most two batches).
    if (i >= 2 * batch_size) {
      absl::MutexLock lock(&progress_mu);
      while (confirmed() + 2 * batch_size <= i &&
             !reader_done.HasBeenNotified() && !stop_requested()) {
        progressed.WaitWithTimeout(&progress_mu, absl::Milliseconds(100));
        progress_mu.Unlock();
        report();
        progress_mu.Lock();
      }
    }
    const size_t batch_end = std::min(total, i + batch_size);
    while (i < batch_end) {
      if (stop_requested()) {
        interrupted = true;
        write_failed = !send_cancel();
        break;
      }
      const size_t chunk_end = std::min(batch_end, i + chunk_size);
      // Reuse the message's sub-objects: Clear keeps them allocated.
      auto* objects = chunk.mutable_objects();
      const int n = static_cast<int>(chunk_end - i);
      while (objects->size() > n) objects->RemoveLast();
      for (int k = 0; k < n; ++k) {
        lufd::v1::RegistryObject* obj =
            k < objects->size() ? objects->Mutable(k) : objects->Add();
        source.Fill(i + k, obj);
      }
      chunk.set_end_batch(chunk_end == batch_end);
      chunk.set_client_txn_id(options.client_txn_id);
      chunk.set_validate_only(options.validate_only);
      if (!stream->Write(chunk)) {
        // The server ended the stream (an error); Finish() says why.
        write_failed = true;
        break;
      }
      i = chunk_end;
      info.sent = i;
      if (chunk.end_batch()) batches_end = i;
      if (Clock::now() - last_report > std::chrono::milliseconds(100)) {
        report();
        last_report = Clock::now();
      }
    }
  }
  // Keep the stream open until the server has confirmed every batch, so
  // that an interrupt while it commits can still be sent as a cancel chunk
  // and the final count stays exact. A dry run has nothing to confirm.
  if (!write_failed && !interrupted && !options.validate_only) {
    while (
        committed.load() < total &&
        !reader_done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
      report();
      if (stop_requested()) {
        interrupted = true;
        write_failed = !send_cancel();
        break;
      }
    }
  }
  if (!write_failed) stream->WritesDone();
  // Keep the progress display alive while the server finishes; the wait
  // ends when the server closes the stream (each wait is bounded). A dry
  // run that is interrupted is simply cancelled: it writes nothing.
  while (!reader_done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
    report();
    if (options.validate_only && stop_requested() && !interrupted) {
      interrupted = true;
      context->TryCancel();
    }
  }
  reader.join();
  grpc::Status status = stream->Finish();
  report();

  if (options.outcome != nullptr) {
    ImportOutcome& o = *options.outcome;
    o = ImportOutcome();
    o.total = total;
    o.committed = committed.load();
    o.serial = serial.load();
    o.validate_only = options.validate_only;
    o.interrupted = interrupted;
    // A batch is committed only once its end went out; the server confirms
    // each commit before reading on, so only a broken stream leaves doubt.
    const bool broken =
        !status.ok() && failure.error_count() == 0 &&
        status.error_code() != grpc::StatusCode::CANCELLED &&
        status.error_code() != grpc::StatusCode::INVALID_ARGUMENT &&
        status.error_code() != grpc::StatusCode::PERMISSION_DENIED;
    if (broken && !options.validate_only && batches_end > o.committed) {
      o.unconfirmed_end = batches_end;
    }
    o.error_count = failure.error_count();
    for (const lufd::v1::ImportError& e : failure.errors()) {
      o.errors.push_back(MapObjectErrorToLine(
          absl::StrCat("object ", e.index(), ": ", e.message()), source));
    }
  }
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        MapObjectErrorToLine(status.error_message(), source));
  }
  if (interrupted) {
    return absl::CancelledError("import interrupted");
  }
  // The server ends Import with OK only after confirming everything; if it
  // did not (another server, or a chunk it could not parse right after a
  // batch's end), say so rather than "imported".
  if (const uint64_t n = confirmed(); n != total) {
    return absl::DataLossError(absl::StrCat(
        "the server ended the import after confirming ", n, " of ", total,
        options.validate_only ? " objects checked" : " objects"));
  }
  ImportResult result;
  result.objects = total;
  result.committed = committed.load();
  result.validated = validated.load();
  result.serial = serial.load();
  result.seconds = elapsed();
  return result;
}

}  // namespace lufd::client
