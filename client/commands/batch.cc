// `lufctl batch FILE`: a JSON array of Operation sent as one atomic batch.
#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "client/commands/command.h"
#include "client/spki.h"
#include "common/status_macros.h"

namespace lufd::client::cli {
namespace {

absl::Status Batch(Context& ctx, const std::string& file) {
  ASSIGN_OR_RETURN(const std::string text, ReadSmallFile(file));
  lufd::v1::BatchRequest req;
  // The file is a JSON array of Operation; wrapping it makes it a
  // BatchRequest, parsed in one call. A whole BatchRequest object is
  // accepted too.
  size_t first = text.find_first_not_of(" \t\r\n");
  std::string json = (first != std::string::npos && text[first] == '[')
                         ? "{\"operations\":" + text + "}"
                         : text;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(json, &req, opts);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": ", std::string(st.message())));
  }
  if (req.client_txn_id().empty()) req.set_client_txn_id(ctx.g.txn_id);
  lufd::v1::WriteResponse resp;
  RETURN_IF_ERROR(CallAdmin(ctx, &AdminStub::Batch, req, &resp));
  return PrintWrite(ctx, resp);
}

}  // namespace

Command BatchCommand() {
  return OneArgCommand(
      "batch", "FILE",
      "Send a JSON array of Operation (protobuf JSON) as one atomic batch.",
      "file", "JSON file", Batch);
}

}  // namespace lufd::client::cli
