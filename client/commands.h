// lufctl's command table and entry point, knotc/pdnsutil style: every
// command is one `<noun> <verb>` row (or a lone noun such as `import`) with a
// synopsis, a help line, and its own options struct, flags and handler
// (client/commands/command.h; each noun's rows are in
// client/commands/<noun>.cc). The table is the single source of truth for
// parsing, `--help` and the tests.
//
// Exit codes: 0 success; 1 a failed operation ("lufctl: <CODE>: <message>"
// on stderr); 2 a usage error (unknown command, bad or missing flag).
// Reentrant: all parse state is local to a RunLufctl call; the command
// table is immutable. Output goes only to the given streams (plus the
// progress bar on stderr when stderr is a terminal).
#ifndef LUFD_CLIENT_COMMANDS_H_
#define LUFD_CLIENT_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace lufd::client {

struct CommandInfo {
  std::string noun;
  std::string verb;  // Empty for single-word commands (import, lookup, ...).
  std::string synopsis;
  std::string help;
};

// The rows of the command table, in help order.
std::vector<CommandInfo> CommandTable();

int RunLufctl(int argc, const char* const* argv, std::ostream& out,
              std::ostream& err);

}  // namespace lufd::client

#endif  // LUFD_CLIENT_COMMANDS_H_
