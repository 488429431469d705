# Packages of the agent (included at the end of the top CMakeLists): a .deb and, when rpmbuild is
# found, an .rpm with the binary, the systemd unit, sysusers/tmpfiles entries and the service's
# config.yaml (the tarball: packaging/tarball.cmake); on Windows the MSI (packaging/windows/msi.cmake), which registers the Windows service. The simulator is
# never installed (it has no install rule). Build them with scripts/ci-package.sh.
set(OB_PKG_DIR ${CMAKE_CURRENT_LIST_DIR})
set(OB_PKG_NAME opescare-bridge)

# ---- The service's config.yaml, derived from the annotated example ------------------------------
# Same file, with the three settings the packaged service needs. Each replacement must match, so
# a reworded example fails the configure step instead of shipping a config that points nowhere.
set(OB_EXAMPLE_CONFIG ${CMAKE_SOURCE_DIR}/config.example.yaml)
set(OB_SERVICE_CONFIG ${CMAKE_BINARY_DIR}/packaging/config.yaml)
if(EXISTS ${OB_EXAMPLE_CONFIG})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${OB_EXAMPLE_CONFIG})
  file(READ ${OB_EXAMPLE_CONFIG} ob_config_text)
  set(ob_edits
    "  path: ./opescare-bridge.db" "  path: /var/lib/opescare-bridge/outbox.db"
    "  watch_folder: ./data/incoming" "  watch_folder: /var/spool/opescare-bridge/incoming")
  list(LENGTH ob_edits ob_edit_count)
  math(EXPR ob_last "${ob_edit_count} - 1")
  foreach(i RANGE 0 ${ob_last} 2)
    math(EXPR j "${i} + 1")
    list(GET ob_edits ${i} from)
    list(GET ob_edits ${j} to)
    string(FIND "${ob_config_text}" "${from}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "packaging: config.example.yaml no longer contains '${from}'; update packaging/CPackConfig.cmake")
    endif()
    string(REPLACE "${from}" "${to}" ob_config_text "${ob_config_text}")
  endforeach()
  set(ob_header "# Installed by the opescare-bridge package for the systemd service (a conffile: upgrades never\n# overwrite your changes). Outbox in /var/lib/opescare-bridge, watch folder\n# /var/spool/opescare-bridge/incoming, logs to the journal (journalctl -u opescare-bridge).\n# Put the agent key in /etc/opescare-bridge/agent.key (owner root, mode 0600); the service\n# receives it as the systemd credential agent_key.\n#\n")
  file(WRITE ${OB_SERVICE_CONFIG} "${ob_header}${ob_config_text}")
else()
  message(WARNING "packaging: ${OB_EXAMPLE_CONFIG} is missing; packages will lack /etc/opescare-bridge/config.yaml")
endif()

set(CPACK_PACKAGE_NAME ${OB_PKG_NAME})
set(CPACK_PACKAGE_VENDOR "OpesCare")
set(CPACK_PACKAGE_CONTACT "OpesCare Bridge maintainers <bridge@opescare.test>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "OpesCare Bridge Agent: carries a facility's data to OpesCare")
# Lines of at most 80 characters: the .deb shows them as they are.
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "The Bridge Agent watches a folder for the CSV exports of a facility's systems,\n"
  "queues their records durably in a local SQLite outbox and delivers them to the\n"
  "OpesCare health platform over HTTPS, retrying until the server has acknowledged\n"
  "each one. It runs as a hardened systemd service with a watchdog and serves a\n"
  "local status page.")
set(CPACK_PACKAGE_FILE_NAME "${OB_PKG_NAME}-${PROJECT_VERSION}")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CHECKSUM SHA256)
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)

if(WIN32)
  include(${OB_PKG_DIR}/windows/msi.cmake)  # wixl, not CPack: CPack's WIX generator needs Windows
  return()
endif()

# ---- Linux: files beside the binary (which agent/app installs to bin) ---------------------------
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Absolute destinations: the unit's folder differs between the .deb (/lib, Debian 12's usrmerge
# rule) and the .rpm (/usr/lib), so each has its own component, chosen per generator below.
install(FILES ${CMAKE_SOURCE_DIR}/systemd/opescare-bridge.service DESTINATION /lib/systemd/system COMPONENT deb)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/opescare-bridge.service DESTINATION /usr/lib/systemd/system COMPONENT rpm)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/opescare-bridge.sysusers DESTINATION /usr/lib/sysusers.d
        RENAME opescare-bridge.conf COMPONENT common)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/opescare-bridge.tmpfiles DESTINATION /usr/lib/tmpfiles.d
        RENAME opescare-bridge.conf COMPONENT common)
if(EXISTS ${OB_SERVICE_CONFIG})
  # 0640: root writes it, the service's group reads it (postinst/%attr set the group).
  install(FILES ${OB_SERVICE_CONFIG} DESTINATION /etc/opescare-bridge
          PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ COMPONENT common)
endif()
# The .deb's /etc/opescare-bridge is 0750 (postinst gives it the group); the .rpm says so in its file list.
install(DIRECTORY DESTINATION /etc/opescare-bridge
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE COMPONENT deb)
set(OB_DOC_DIR /usr/share/doc/${OB_PKG_NAME})
install(FILES ${OB_PKG_DIR}/copyright ${OB_PKG_DIR}/README.md DESTINATION ${OB_DOC_DIR} COMPONENT common)
# Debian wants the changelog gzip -9n (no name or timestamp, reproducible).
configure_file(${OB_PKG_DIR}/deb/changelog.in ${CMAKE_BINARY_DIR}/packaging/changelog @ONLY)
find_program(OB_GZIP gzip)
if(OB_GZIP)
  execute_process(COMMAND ${OB_GZIP} -9n -c ${CMAKE_BINARY_DIR}/packaging/changelog
                  OUTPUT_FILE ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/changelog.gz DESTINATION ${OB_DOC_DIR}
          PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT deb)
endif()

install(FILES ${OB_PKG_DIR}/deb/lintian-overrides DESTINATION /usr/share/lintian/overrides RENAME ${OB_PKG_NAME}
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ COMPONENT deb)

set(CPACK_GENERATOR DEB)
find_program(OB_RPMBUILD rpmbuild)
if(OB_RPMBUILD)
  list(APPEND CPACK_GENERATOR RPM)
endif()
# One package per generator holding the components that generator lists (project config file).
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_PROJECT_CONFIG_FILE ${OB_PKG_DIR}/generator-config.cmake)
# The binary's install rule (agent/app) has no component.
set(CPACK_COMPONENTS_ALL Unspecified common deb rpm)

# ---- .deb ---------------------------------------------------------------------------------------
set(CPACK_DEBIAN_PACKAGE_NAME ${OB_PKG_NAME})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The portable (static) binary needs no library: no Depends at all. Its postinst needs only what a
# debootstrap minbase has (getent, useradd from passwd, install, dpkg-statoverride) or systemd's tools.
if(OB_PORTABLE)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${OB_PKG_DIR}/deb/postinst ${OB_PKG_DIR}/deb/prerm ${OB_PKG_DIR}/deb/postrm ${OB_PKG_DIR}/deb/conffiles)

# ---- .rpm ---------------------------------------------------------------------------------------
set(CPACK_RPM_PACKAGE_NAME ${OB_PKG_NAME})
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "Unspecified")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "shadow-utils")
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE ${OB_PKG_DIR}/rpm/pre.sh)
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${OB_PKG_DIR}/rpm/post.sh)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${OB_PKG_DIR}/rpm/preun.sh)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${OB_PKG_DIR}/rpm/postun.sh)
# The user exists before the files land (%pre), so rpm can give the config its group directly.
# Every file installed to an absolute path must be listed here, or CPack marks it %config.
set(CPACK_RPM_USER_FILELIST
    "%config(noreplace) %attr(0640,root,opescare-bridge) /etc/opescare-bridge/config.yaml"
    "%dir %attr(0750,root,opescare-bridge) /etc/opescare-bridge"
    "%attr(0644,root,root) /usr/lib/systemd/system/opescare-bridge.service"
    "%attr(0644,root,root) /usr/lib/sysusers.d/opescare-bridge.conf"
    "%attr(0644,root,root) /usr/lib/tmpfiles.d/opescare-bridge.conf"
    "%doc /usr/share/doc/opescare-bridge/README.md"
    "%doc /usr/share/doc/opescare-bridge/copyright")
# No /usr/lib/.build-id links: the package holds exactly the files above and the binary.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
configure_file(${OB_PKG_DIR}/rpm/changelog.in ${CMAKE_BINARY_DIR}/packaging/rpm-changelog @ONLY)
set(CPACK_RPM_CHANGELOG_FILE ${CMAKE_BINARY_DIR}/packaging/rpm-changelog)
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /etc /lib /lib/systemd /lib/systemd/system /usr/lib/systemd /usr/lib/systemd/system /usr/lib/sysusers.d
    /usr/lib/tmpfiles.d /usr/share/doc)

include(CPack)
