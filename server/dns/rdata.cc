#include "server/dns/rdata.h"

#include <optional>

#include "server/dns/wire.h"

namespace lufd::dns {

bool NaptrRdataFrom(const lufd::v1::NaptrRecord& naptr, std::string* out) {
  out->clear();
  if (naptr.order() > 0xffff || naptr.preference() > 0xffff) return false;
  const std::string& repl = naptr.replacement();
  std::optional<std::string> repl_wire;
  if (!repl.empty() && repl != ".") {
    repl_wire = NameFromText(repl.back() == '.' ? std::string_view(repl)
                                                : std::string_view(repl + "."));
    if (!repl_wire) return false;
  }
  return AppendNaptrRdata(
      out, static_cast<uint16_t>(naptr.order()),
      static_cast<uint16_t>(naptr.preference()), naptr.flags(),
      naptr.services(), naptr.regexp(),
      repl_wire ? std::string_view(*repl_wire) : std::string_view());
}

bool UriRdataFrom(const lufd::v1::UriRecord& uri, std::string* out) {
  out->clear();
  if (uri.priority() > 0xffff || uri.weight() > 0xffff) return false;
  AppendUriRdata(out, static_cast<uint16_t>(uri.priority()),
                 static_cast<uint16_t>(uri.weight()), uri.target());
  return true;
}

std::string EnumOwner(std::string_view e164, std::string_view apex_wire) {
  std::string out;
  if (!e164.empty() && e164[0] == '+') e164.remove_prefix(1);
  out.reserve(e164.size() * 2 + apex_wire.size());
  for (size_t i = e164.size(); i > 0; --i) {
    out.push_back('\1');
    out.push_back(e164[i - 1]);
  }
  out.append(apex_wire);
  return out;
}

}  // namespace lufd::dns
