# The Windows installer (CPack NSIS, used only when building on Windows): installs the agent under
# Program Files, writes %ProgramData%\OpesCare\Bridge\config.yaml once (never over an existing
# one), and registers the service through the agent's own `service install` (the SCM settings and
# folder ACLs live in agent/service/windows_service_win.cpp, not here). Uninstalling removes the
# service and the program, never %ProgramData%\OpesCare\Bridge (outbox, config, unsent files).
set(CPACK_GENERATOR NSIS)
set(CPACK_PACKAGE_INSTALL_DIRECTORY "OpesCare Bridge")
set(CPACK_NSIS_PACKAGE_NAME "OpesCare Bridge Agent")
set(CPACK_NSIS_DISPLAY_NAME "OpesCare Bridge Agent ${PROJECT_VERSION}")
set(CPACK_NSIS_CONTACT "${CPACK_PACKAGE_CONTACT}")
set(CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL ON)
set(CPACK_NSIS_MODIFY_PATH OFF)
# The template already asks for elevation (RequestExecutionLevel admin): registering a service needs it.

if(EXISTS ${OB_SERVICE_CONFIG})
  install(FILES ${OB_SERVICE_CONFIG} DESTINATION share RENAME config.service.yaml)
endif()

# NSIS script lines; a backslash must be doubled for CMake. $INSTDIR and $APPDATA-style variables
# are NSIS's. SetShellVarContext all makes $APPDATA mean %ProgramData%.
set(CPACK_NSIS_EXTRA_INSTALL_COMMANDS [=[
  SetShellVarContext all
  CreateDirectory "$APPDATA\OpesCare\Bridge"
  IfFileExists "$APPDATA\OpesCare\Bridge\config.yaml" +2 0
    CopyFiles /SILENT "$INSTDIR\share\config.service.yaml" "$APPDATA\OpesCare\Bridge\config.yaml"
  ExecWait '"$INSTDIR\bin\opescare-bridge.exe" service uninstall'
  ExecWait '"$INSTDIR\bin\opescare-bridge.exe" service install --config "$APPDATA\OpesCare\Bridge\config.yaml"' $0
  IntCmp $0 0 +2
    MessageBox MB_ICONEXCLAMATION "Registering the OpesCare Bridge service failed (exit code $0). Run: opescare-bridge service install"
]=])
set(CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS [=[
  ExecWait '"$INSTDIR\bin\opescare-bridge.exe" service uninstall'
]=])
