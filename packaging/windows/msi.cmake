# The Windows installer: `cmake --build build/windows/agent --target msi` builds
# packages/opescare-bridge-VERSION-x64.msi from packaging/windows/opescare-bridge.wxs with msitools'
# wixl (Debian packages wixl and msitools), on the Linux machine that cross-compiles the agent.
# Included by packaging/CPackConfig.cmake on Windows builds. The MSI carries config.example.yaml, from
# which `service install` makes %ProgramData%\OpesCare\Bridge\config.yaml (agent/app/service_config.h).
find_program(OB_WIXL wixl)
find_program(OB_MSIBUILD msibuild)
if(NOT OB_WIXL OR NOT OB_MSIBUILD)
  message(STATUS "packaging: wixl or msibuild not found (apt-get install wixl msitools): no msi target")
  return()
endif()

set(ob_msi_stage ${CMAKE_BINARY_DIR}/packaging/msi)
file(MAKE_DIRECTORY ${ob_msi_stage})  # the commands run in it
set(ob_msi ${CMAKE_BINARY_DIR}/packages/${OB_PKG_NAME}-${PROJECT_VERSION}-x64.msi)
# The public properties the elevated part of the install must see (wixl writes its own
# SecureCustomProperties for MajorUpgrade; this list replaces it, keeping those two).
# MSI lists use ';', which CMake would split a command argument at.
set(ob_msi_secure "WIX_DOWNGRADE_DETECTED$<SEMICOLON>WIX_UPGRADE_DETECTED$<SEMICOLON>SERVER_URL$<SEMICOLON>AGENT_ID")
string(APPEND ob_msi_secure "$<SEMICOLON>FACILITY_ID$<SEMICOLON>AGENT_KEY_FILE")
add_custom_command(
  OUTPUT ${ob_msi}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${ob_msi_stage} ${CMAKE_BINARY_DIR}/packages
  COMMAND ${CMAKE_STRIP} -o ${ob_msi_stage}/opescare-bridge.exe $<TARGET_FILE:opescare-bridge>
  COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/config.example.yaml ${ob_msi_stage}/config.example.yaml
  # wixl resolves Source= relative to the working folder only.
  COMMAND ${OB_WIXL} -a x64 -D Version=${PROJECT_VERSION} -D AgentExe=opescare-bridge.exe
          -D ConfigExample=config.example.yaml -o ${ob_msi} ${OB_PKG_DIR}/windows/opescare-bridge.wxs
  COMMAND ${OB_MSIBUILD} ${ob_msi} -q
          "UPDATE Property SET Value='${ob_msi_secure}' WHERE Property='SecureCustomProperties'"
  WORKING_DIRECTORY ${ob_msi_stage}
  DEPENDS opescare-bridge ${OB_PKG_DIR}/windows/opescare-bridge.wxs ${CMAKE_SOURCE_DIR}/config.example.yaml
  COMMENT "packaging: ${ob_msi}"
  VERBATIM)
add_custom_target(msi DEPENDS ${ob_msi})
