#include "client/json_import.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace lufd::client {
namespace {

using lufd::v1::RegistryObject;

// Dependency rank: referenced kinds first.
int Rank(const RegistryObject& o) {
  switch (o.object_case()) {
    case RegistryObject::kOrg:
      return 0;
    case RegistryObject::kDestGroup:
      return 1;
    case RegistryObject::kSedRecord:
      return 2;
    case RegistryObject::kSedGroup:
      return 3;
    case RegistryObject::kIdentifier:
      return 4;
    case RegistryObject::kCredential:
      return 5;
    case RegistryObject::kOffer:
      return 6;
    default:
      return 7;
  }
}

// Depth of an org in its registrar chain within the file (registrars
// first). Bounded by the number of orgs, so a cycle cannot loop forever.
int OrgDepth(const std::string& id,
             const absl::flat_hash_map<std::string, std::string>& registrar,
             size_t bound) {
  int depth = 0;
  std::string cur = id;
  for (size_t step = 0; step < bound; ++step) {
    auto it = registrar.find(cur);
    if (it == registrar.end() || it->second.empty() || it->second == cur) {
      break;
    }
    cur = it->second;
    ++depth;
  }
  return depth;
}

}  // namespace

std::string JsonImport::Describe(size_t i) const {
  return absl::StrCat("line ", lines_[i]);
}

JsonImport ParseJsonLines(absl::string_view text) {
  JsonImport in;
  std::vector<RegistryObject> objects;
  std::vector<uint32_t> lines;
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  uint32_t line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    ++line;
    size_t eol = text.find('\n', pos);
    if (eol == absl::string_view::npos) eol = text.size();
    absl::string_view l =
        absl::StripAsciiWhitespace(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (l.empty()) continue;
    RegistryObject obj;
    auto st = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(l.data(), l.size()), &obj, opts);
    if (!st.ok()) {
      in.errors_.push_back(LineError{line, std::string(st.message())});
      continue;
    }
    if (obj.object_case() == RegistryObject::OBJECT_NOT_SET) {
      in.errors_.push_back(LineError{line, "empty object"});
      continue;
    }
    objects.push_back(std::move(obj));
    lines.push_back(line);
  }

  absl::flat_hash_map<std::string, std::string> registrar;
  for (const auto& o : objects) {
    if (o.has_org()) registrar[o.org().id()] = o.org().registrar_id();
  }
  std::vector<int> depth(objects.size(), 0);
  for (size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].has_org()) {
      depth[i] = OrgDepth(objects[i].org().id(), registrar, registrar.size());
    }
  }
  std::vector<size_t> order(objects.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int ra = Rank(objects[a]), rb = Rank(objects[b]);
    if (ra != rb) return ra < rb;
    return depth[a] < depth[b];
  });
  in.objects_.reserve(objects.size());
  in.lines_.reserve(objects.size());
  for (size_t i : order) {
    in.objects_.push_back(std::move(objects[i]));
    in.lines_.push_back(lines[i]);
  }
  return in;
}

}  // namespace lufd::client
