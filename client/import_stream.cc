#include "client/import_stream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

  auto stream = admin->Import(context);
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> committed{0};
  std::atomic<uint64_t> serial{0};
  absl::Notification reader_done;
  // The reader drains progress so the server never blocks on its writes.
  std::thread reader([&] {
    lufd::v1::ImportProgress progress;
    while (stream->Read(&progress)) {
      received.store(progress.received(), std::memory_order_relaxed);
      committed.store(progress.committed(), std::memory_order_relaxed);
      serial.store(progress.serial(), std::memory_order_relaxed);
    }
    reader_done.Notify();
  });

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
  size_t i = 0;
  while (i < total && !write_failed) {
    const size_t batch_end = std::min(total, i + batch_size);
    while (i < batch_end) {
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
      if (!stream->Write(chunk)) {
        // The server ended the stream (an error); Finish() says why.
        write_failed = true;
        break;
      }
      i = chunk_end;
      info.sent = i;
      if (Clock::now() - last_report > std::chrono::milliseconds(100)) {
        report();
        last_report = Clock::now();
      }
    }
  }
  if (!write_failed) stream->WritesDone();
  // Keep the progress display alive while the server commits; the wait ends
  // when the server closes the stream (each wait is bounded).
  while (!reader_done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
    report();
  }
  reader.join();
  grpc::Status status = stream->Finish();
  report();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        MapObjectErrorToLine(status.error_message(), source));
  }
  ImportResult result;
  result.objects = total;
  result.committed = committed.load();
  result.serial = serial.load();
  result.seconds = elapsed();
  return result;
}

}  // namespace lufd::client
