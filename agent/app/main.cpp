// Entry point of opescare-bridge: everything happens in the command-line layer.
#include "agent/app/cli.h"

int main(int argc, char** argv) { return opescare::app::RunCli(argc, argv); }
