#include "server/dns/keyring.h"

#include <utility>

namespace lufd::dns {

std::shared_ptr<const ZoneKeys> KeyRing::Get(const std::string& zone_wire) const {
  auto zones = zones_.load();
  if (zones == nullptr) return nullptr;
  for (const auto& z : *zones) {
    if (z->zone_wire == zone_wire) return z;
  }
  return nullptr;
}

void KeyRing::Publish(std::vector<std::shared_ptr<const ZoneKeys>> zones) {
  zones_.store(std::make_shared<const std::vector<std::shared_ptr<const ZoneKeys>>>(
      std::move(zones)));
  generation_.fetch_add(1);
}

}  // namespace lufd::dns
