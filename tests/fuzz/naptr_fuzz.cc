// Fuzz target for server/core/validate.h. The input is used three ways:
//  1. whole, as the regexp of a terminal ENUM NAPTR;
//  2. split at '\n' into flags, services, regexp, replacement;
//  3. as a serialized RegistryObject, run through ValidateAndNormalize,
//     which must be idempotent (normalizing a normalized object changes
//     nothing and still validates).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "google/protobuf/stubs/logging.h"
#include "absl/strings/string_view.h"
#include "lufd/v1/registry.pb.h"
#include "server/core/validate.h"

namespace {
// Invalid UTF-8 in string fields makes protobuf log every parse failure;
// that noise would drown the fuzzer's output.
const bool kQuietProtobuf = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)kQuietProtobuf;
  absl::string_view input(reinterpret_cast<const char*>(data), size);

  lufd::v1::NaptrRecord naptr;
  naptr.set_flags("u");
  naptr.set_services("E2U+sip");
  naptr.set_regexp(std::string(input));
  (void)lufd::ValidateNaptr(naptr);

  std::vector<absl::string_view> fields =
      absl::StrSplit(input, absl::MaxSplits('\n', 3));
  fields.resize(4);
  lufd::v1::SedRecord record;
  lufd::v1::NaptrRecord* split = record.mutable_naptr();
  split->set_order(size);
  split->set_preference(size > 0 ? data[0] : 0);
  split->set_flags(std::string(fields[0]));
  split->set_services(std::string(fields[1]));
  split->set_regexp(std::string(fields[2]));
  split->set_replacement(std::string(fields[3]));
  (void)lufd::ValidateSedRecord(record);

  lufd::v1::RegistryObject object;
  if (object.ParseFromArray(data, static_cast<int>(size))) {
    if (lufd::ValidateAndNormalize(&object).ok()) {
      std::string once = object.SerializeAsString();
      if (!lufd::ValidateAndNormalize(&object).ok()) std::abort();
      if (object.SerializeAsString() != once) std::abort();
    }
  }
  return 0;
}
