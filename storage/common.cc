#include "storage/common.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/message.h"
#include "google/protobuf/wire_format_lite.h"
#include "storage/migrate.h"

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

absl::Status ParseObjectReusing(absl::string_view bytes, absl::string_view what,
                                lufd::v1::RegistryObject* out) {
  // A stored object is one length-delimited field (the oneof member) that
  // spans the whole buffer: its tag, a varint length, the sub-message. Parsing
  // just the sub-message into the one already there then gives what parsing the
  // whole would.
  using google::protobuf::internal::WireFormatLite;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const google::protobuf::Reflection* reflection = out->GetReflection();
  google::protobuf::io::CodedInputStream in(
      p, static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
  const uint32_t tag = in.ReadTag();
  uint32_t len = 0;
  if (tag != 0 &&
      WireFormatLite::GetTagWireType(tag) ==
          WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
      in.ReadVarint32(&len) &&
      len == bytes.size() - static_cast<size_t>(in.CurrentPosition()) &&
      reflection->GetUnknownFields(*out).empty()) {
    const google::protobuf::FieldDescriptor* field =
        lufd::v1::RegistryObject::descriptor()->FindFieldByNumber(
            WireFormatLite::GetTagFieldNumber(tag));
    if (field != nullptr &&
        field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE &&
        reflection->HasField(*out, field)) {
      google::protobuf::Message* sub = reflection->MutableMessage(out, field);
      if (!sub->ParseFromArray(p + in.CurrentPosition(),
                               static_cast<int>(len))) {
        out->Clear();  // No half-parsed sub-message for the next row.
        return absl::InternalError(
            absl::StrCat("stored object does not parse: ", what));
      }
      return absl::OkStatus();
    }
  }
  out->Clear();
  return ParseObject(bytes, what, out);
}

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

std::vector<const StoredSignature*> LastSignatureWins(
    const std::vector<StoredSignature>& signatures) {
  using Key = std::tuple<absl::string_view, uint16_t, uint64_t, uint16_t>;
  // Index of the last occurrence of each key; one pass, no copies.
  absl::flat_hash_map<Key, size_t> last;
  last.reserve(signatures.size());
  for (size_t i = 0; i < signatures.size(); ++i) {
    const StoredSignature& s = signatures[i];
    last[Key(s.owner, s.type_covered, s.rrset_hash, s.key_tag)] = i;
  }
  std::vector<const StoredSignature*> out;
  out.reserve(last.size());
  for (size_t i = 0; i < signatures.size(); ++i) {
    const StoredSignature& s = signatures[i];
    if (last.size() == signatures.size() ||
        last[Key(s.owner, s.type_covered, s.rrset_hash, s.key_tag)] == i) {
      out.push_back(&s);
    }
  }
  return out;
}

namespace {

absl::Mutex& LocalLeaseMutex() {
  static absl::Mutex* mu = new absl::Mutex;
  return *mu;
}

// Names with a live lease. Leaked on purpose: leases may be destroyed
// during static destruction.
absl::flat_hash_set<std::string>& LocalLeases()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(LocalLeaseMutex()) {
  static auto* held = new absl::flat_hash_set<std::string>;
  return *held;
}

class LocalSignerLease : public SignerLease {
 public:
  explicit LocalSignerLease(std::string name) : name_(std::move(name)) {}
  ~LocalSignerLease() override {
    absl::MutexLock lock(&LocalLeaseMutex());
    LocalLeases().erase(name_);
  }
  // Held until destroyed: nothing outside the process can take it away.
  bool Valid() override { return true; }

 private:
  const std::string name_;
};

}  // namespace

std::unique_ptr<SignerLease> TryAcquireLocalSignerLease(
    const std::string& name) {
  absl::MutexLock lock(&LocalLeaseMutex());
  if (!LocalLeases().insert(name).second) return nullptr;
  return std::make_unique<LocalSignerLease>(name);
}

std::string SecretFingerprint(absl::string_view secret) {
  return Sha256Hex(secret).substr(0, 16);
}

const lufd::v1::RegistryObject& ChangeLogImage(
    const lufd::v1::RegistryObject& object, lufd::v1::RegistryObject* scratch) {
  if (!object.has_credential() || object.credential().tsig_secret().empty()) {
    return object;
  }
  *scratch = object;
  ::lufd::RedactForChangeLog(scratch);
  return *scratch;
}

absl::StatusOr<std::optional<std::string>> ScrubChangeLogBlob(
    absl::string_view bytes, absl::string_view what) {
  lufd::v1::RegistryObject object;
  RETURN_IF_ERROR(ParseObject(bytes, what, &object));
  if (!::lufd::RedactForChangeLog(&object)) return std::nullopt;
  return SerializeObject(object);
}

}  // namespace lufd::storage_internal

namespace lufd {

bool RedactForChangeLog(lufd::v1::RegistryObject* object) {
  if (!object->has_credential() || object->credential().tsig_secret().empty()) {
    return false;
  }
  lufd::v1::Credential* c = object->mutable_credential();
  c->set_tsig_secret_sha256(
      storage_internal::SecretFingerprint(c->tsig_secret()));
  c->clear_tsig_secret();
  return true;
}

}  // namespace lufd
