// Network-order (big-endian) integers in DNS wire data: read from bytes,
// write into bytes, or append to a string. One definition for the parser,
// the writer, DNSSEC, TSIG and the signature cache; inline because the
// UDP hot path calls them per field.
#ifndef LUFD_SERVER_DNS_BYTES_H_
#define LUFD_SERVER_DNS_BYTES_H_

#include <cstdint>
#include <string>

namespace lufd::dns {

inline uint16_t Get16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t Get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) |
         (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
inline void Append16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}
inline void Append32(std::string* out, uint32_t v) {
  Append16(out, static_cast<uint16_t>(v >> 16));
  Append16(out, static_cast<uint16_t>(v));
}

}  // namespace lufd::dns

#endif  // LUFD_SERVER_DNS_BYTES_H_
