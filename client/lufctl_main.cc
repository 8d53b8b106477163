// lufctl: the lufd admin CLI. All logic is in commands.cc and commands/
// (testable in-process through RunLufctl).
#include <iostream>

#include "client/commands.h"

int main(int argc, char** argv) {
  return lufd::client::RunLufctl(argc, argv, std::cout, std::cerr);
}
