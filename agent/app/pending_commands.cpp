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

int CmdDoctor(const GlobalOptions&) { return NotYet("doctor", "lands with the service issue"); }
int CmdService(const GlobalOptions&, const std::string&) { return NotYet("service", "lands with the service issue"); }

}  // namespace opescare::app
