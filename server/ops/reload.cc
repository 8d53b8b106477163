#include "server/ops/reload.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace lufd {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr absl::string_view kUnset = "(unset)";
// A log line per change: a long repeated field (zones) is cut, with its
// length said, rather than flooding the log.
constexpr size_t kMaxValueText = 200;

std::string ElementText(const Message& m, const FieldDescriptor* f, int index) {
  std::string out;
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Message& element =
        f->is_repeated() ? m.GetReflection()->GetRepeatedMessage(m, f, index)
                         : m.GetReflection()->GetMessage(m, f);
    return absl::StrCat("{", element.ShortDebugString(), "}");
  }
  google::protobuf::TextFormat::PrintFieldValueToString(m, f, index, &out);
  return out;
}

// The full text of a field (untruncated: also the equality test).
std::string FieldText(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  if (f->is_repeated()) {
    std::vector<std::string> items;
    const int n = r->FieldSize(m, f);
    items.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) items.push_back(ElementText(m, f, i));
    return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
  }
  if (f->has_presence() && !r->HasField(m, f)) return std::string(kUnset);
  return ElementText(m, f, -1);
}

std::string Shorten(std::string text) {
  if (text.size() <= kMaxValueText) return text;
  const size_t full = text.size();
  text.resize(kMaxValueText);
  absl::StrAppend(&text, "... (", full, " chars)");
  return text;
}

void DiffMessage(const Message& a, const Message& b, const std::string& prefix,
                 ConfigDiff* out) {
  const Descriptor* d = a.GetDescriptor();
  const Reflection* r = a.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string path =
        prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    // Singular messages: field by field, so the log names what changed
    // ("guard.peer.burst", not "guard"). An absent message reads as its
    // defaults, which is what the server runs with.
    if (!f->is_repeated() &&
        f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      DiffMessage(r->GetMessage(a, f), r->GetMessage(b, f), path, out);
      continue;
    }
    std::string old_text = FieldText(a, f);
    std::string new_text = FieldText(b, f);
    if (old_text == new_text) continue;
    ConfigChange change;
    change.field = path;
    change.old_value = Shorten(std::move(old_text));
    change.new_value = Shorten(std::move(new_text));
    change.live = IsLiveField(path);
    out->changes.push_back(std::move(change));
  }
}

// Copies one field (a path to a scalar or repeated field) from `from` into
// `to`, presence included.
void CopyFieldAt(const Message& from, Message* to, absl::string_view path) {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  const Message* src = &from;
  Message* dst = to;
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f =
        src->GetDescriptor()->FindFieldByName(std::string(parts[i]));
    if (f == nullptr) return;  // Not a path DiffConfigs makes.
    if (i + 1 < parts.size()) {
      src = &src->GetReflection()->GetMessage(*src, f);
      dst = dst->GetReflection()->MutableMessage(dst, f);
      continue;
    }
    // SwapFields handles every kind (scalar, repeated, presence) alike.
    std::unique_ptr<Message> copy(src->New());
    copy->CopyFrom(*src);
    dst->GetReflection()->SwapFields(dst, copy.get(), {f});
  }
}

}  // namespace

std::vector<std::string> ConfigDiff::live_fields() const {
  std::vector<std::string> out;
  for (const ConfigChange& c : changes) {
    if (c.live) out.push_back(c.field);
  }
  return out;
}

std::vector<std::string> ConfigDiff::restart_fields() const {
  std::vector<std::string> out;
  for (const ConfigChange& c : changes) {
    if (!c.live) out.push_back(c.field);
  }
  return out;
}

bool IsLiveField(absl::string_view field) {
  // Each of these has a consumer that takes a new value while serving:
  // logging (InitLogging replaces the logger), the guard's class defaults
  // (read per request by both front doors from a swappable policy).
  return field == "log.level" || field == "log.format" ||
         field == "guard.slip" || absl::StartsWith(field, "guard.peer.") ||
         absl::StartsWith(field, "guard.anonymous.");
}

ConfigDiff DiffConfigs(const lufd::v1::ServerConfig& running,
                       const lufd::v1::ServerConfig& next) {
  ConfigDiff diff;
  DiffMessage(running, next, "", &diff);
  return diff;
}

lufd::v1::ServerConfig MergeLiveFields(const lufd::v1::ServerConfig& running,
                                       const lufd::v1::ServerConfig& next,
                                       const ConfigDiff& diff) {
  lufd::v1::ServerConfig merged = running;
  for (const ConfigChange& c : diff.changes) {
    if (c.live) CopyFieldAt(next, &merged, c.field);
  }
  return merged;
}

}  // namespace lufd
