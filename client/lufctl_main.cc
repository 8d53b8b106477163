// lufctl: the lufd admin CLI. All logic is in commands.cc and commands/
// (testable in-process through RunLufctl).
#include <sys/stat.h>

#include <iostream>

#include "client/commands.h"

int main(int argc, char** argv) {
  // Nothing lufctl creates (a registry database in local mode, exported
  // zones and data, key material) is readable by anyone else unless the
  // operator grants it; the SQLite store also opens its file 0600 itself.
  umask(0077);
  return lufd::client::RunLufctl(argc, argv, std::cout, std::cerr);
}
