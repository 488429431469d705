// Commands whose capability has not landed yet: they say so plainly and exit 1 (no fake output).
#include <iostream>

#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"

namespace opescare::app {
namespace {
int NotYet(const char* command, const char* issue) {
  std::cerr << "opescare-bridge " << command << ": not available in this build yet (" << issue << ")\n";
  return kExitFailure;
}
}  // namespace

int CmdStatus(const GlobalOptions&, bool) { return NotYet("status", "lands with the outbox issue"); }
int CmdEnqueue(const GlobalOptions&, const std::vector<std::string>&) {
  return NotYet("enqueue", "lands with the outbox issue");
}
int CmdDeadLetters(const GlobalOptions&, const std::string&, const std::vector<std::string>&, bool) {
  return NotYet("dead-letters", "lands with the outbox issue");
}
int CmdDoctor(const GlobalOptions&) { return NotYet("doctor", "lands with the service issue"); }
int CmdService(const GlobalOptions&, const std::string&) { return NotYet("service", "lands with the service issue"); }

}  // namespace opescare::app
