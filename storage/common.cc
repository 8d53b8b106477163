#include "storage/common.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lufd::storage_internal {

bool IsValidUtf8NoNul(absl::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= n) return false;
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
        (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

absl::Status ValidateRequest(const CommitRequest& request) {
  if (!IsValidUtf8NoNul(request.actor)) {
    return absl::InvalidArgumentError(
        "actor must be UTF-8 without NUL characters");
  }
  if (!IsValidUtf8NoNul(request.client_txn_id)) {
    return absl::InvalidArgumentError(
        "client_txn_id must be UTF-8 without NUL characters");
  }
  for (size_t i = 0; i < request.mutations.size(); ++i) {
    if (!IsValidUtf8NoNul(request.mutations[i].key)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mutation ", i, ": key must be UTF-8 without NUL characters"));
    }
  }
  return absl::OkStatus();
}

std::string SerializeObject(const lufd::v1::RegistryObject& object) {
  std::string out;
  SerializeObjectTo(object, &out);
  return out;
}

void SerializeObjectTo(const lufd::v1::RegistryObject& object,
                       std::string* out) {
  out->clear();
  object.AppendToString(out);
}

absl::Status ParseObject(absl::string_view bytes, absl::string_view what,
                         lufd::v1::RegistryObject* out) {
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InternalError(
        absl::StrCat("stored object does not parse: ", what));
  }
  return absl::OkStatus();
}

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

}  // namespace lufd::storage_internal
