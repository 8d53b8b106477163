// A client IPv4 address as the DNS listeners hand it to the responder and
// the guard stage (processor.h's ClientAddress), for the tests of both.
#ifndef LUFD_TESTS_UNIT_TESTING_CLIENT_ADDRESS_H_
#define LUFD_TESTS_UNIT_TESTING_CLIENT_ADDRESS_H_

#include <cstdint>

#include "server/dns/processor.h"

namespace lufd::testing {

inline dns::ClientAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  dns::ClientAddress client;
  client.bytes[0] = a;
  client.bytes[1] = b;
  client.bytes[2] = c;
  client.bytes[3] = d;
  client.size = 4;
  return client;
}

}  // namespace lufd::testing

#endif  // LUFD_TESTS_UNIT_TESTING_CLIENT_ADDRESS_H_
