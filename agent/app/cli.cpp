// The command-line interface: CLI11 definitions of every subcommand, dispatching to commands.h.
#include "agent/app/cli.h"

#include <CLI/CLI.hpp>

#include <iostream>

#include "agent/app/commands.h"
#include "agent/app/exit_codes.h"
#include "agent/app/output_redactor.h"

namespace opescare::app {

int RunCli(int argc, char** argv) {
  CLI::App app{"opescare-bridge: carries a facility's data to OpesCare.\n"
               "Without a command it runs the agent (like `run`)."};
  app.require_subcommand(0, 1);
  app.fallthrough();  // global options also after the command: `heartbeat --config F`

  OutputRedactor redactor;  // a server's words printed by heartbeat, doctor, status... may quote the key
  GlobalOptions global;
  global.redactor = &redactor;
  app.add_option("-c,--config", global.config_path, "configuration file (YAML or the Python agent's JSON)");
  app.add_flag("--strict", global.strict, "treat unknown configuration keys as errors");
  app.add_option("--log-level", global.log_level, "override log_level (trace debug info warn error)");

  auto* run = app.add_subcommand(
      "run", "run the agent in the foreground until SIGINT/SIGTERM (a service when the Windows SCM starts it)");

  bool print = false;
  auto* check = app.add_subcommand("check-config", "validate the configuration and exit 0 (valid) or 2");
  check->add_flag("--print", print, "print the effective configuration (the key as ***)");

  auto* doctor = app.add_subcommand("doctor", "check every part of the set-up, one line each with the fix");
  auto* heartbeat = app.add_subcommand("heartbeat", "send one heartbeat and print the outcome");

  bool json = false;
  auto* status = app.add_subcommand("status", "queue depth, dead letters, last sync, connection state");
  status->add_flag("--json", json, "machine-readable output");

  std::vector<std::string> files;
  auto* enqueue = app.add_subcommand("enqueue", "queue files (CSV, JSON or NDJSON records) once");
  enqueue->add_option("files", files, "files to queue")->required()->check(CLI::ExistingFile);

  std::string dl_action;
  std::vector<std::string> dl_ids;
  bool dl_all = false;
  auto* dead = app.add_subcommand("dead-letters", "list, retry or purge records the server refused");
  dead->add_option("action", dl_action, "list | retry | purge")
      ->required()
      ->check(CLI::IsMember({"list", "retry", "purge"}));
  dead->add_option("ids", dl_ids, "record ids (retry, purge)");
  dead->add_flag("--all", dl_all, "every dead letter (retry, purge)");

  std::string svc_action;
  auto* service = app.add_subcommand("service", "Windows: register, start, stop or remove the service; elsewhere: how to");
  service->add_option("action", svc_action, "install | uninstall | start | stop")
      ->required()
      ->check(CLI::IsMember({"install", "uninstall", "start", "stop"}));
  // The installer's settings (the MSI's properties): written into a new config.yaml only.
  InstallSettings install;
  service->add_option("--server-url", install.server_url, "install: server_url of a new config.yaml");
  service->add_option("--agent-id", install.agent_id, "install: agent_id of a new config.yaml");
  service->add_option("--facility-id", install.facility_id, "install: facility_id of a new config.yaml");
  service->add_option("--key-file", install.agent_key_file, "install: agent_key_file of a new config.yaml");

  auto* version = app.add_subcommand("version", "print the version, build and library versions");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  if (*check) return CmdCheckConfig(global, print);
  if (*version) return CmdVersion();
  if (*doctor) return CmdDoctor(global);
  if (*heartbeat) return CmdHeartbeat(global);
  if (*status) return CmdStatus(global, json);
  if (*enqueue) return CmdEnqueue(global, files);
  if (*dead) return CmdDeadLetters(global, dl_action, dl_ids, dl_all);
  if (*service) return CmdService(global, svc_action, install);
  (void)run;  // `run` and no command at all both run the agent
  return CmdRun(global);
}

}  // namespace opescare::app
