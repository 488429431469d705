# cmake -DOB_BINARY=... -DOB_SOURCE_DIR=... -DOB_BUILD_DIR=... -DOB_VERSION=... -P packaging/tarball.cmake
# Makes packages/opescare-bridge-VERSION-linux-x86_64.tar.gz for distributions without dpkg/rpm:
# the stripped static binary, the unit, the sysusers/tmpfiles entries, the service's config.yaml,
# the example config and install.sh (packaging/tarball/install.sh). Run by scripts/ci-package.sh.
foreach(var OB_BINARY OB_SOURCE_DIR OB_BUILD_DIR OB_VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "packaging/tarball.cmake: -D${var}=... is missing")
  endif()
endforeach()
set(name opescare-bridge-${OB_VERSION}-linux-x86_64)
set(stage ${OB_BUILD_DIR}/tarball)
file(REMOVE_RECURSE ${stage})
file(MAKE_DIRECTORY ${stage}/${name}/bin ${stage}/${name}/systemd)
execute_process(COMMAND strip --strip-unneeded -o ${stage}/${name}/bin/opescare-bridge ${OB_BINARY}
                COMMAND_ERROR_IS_FATAL ANY)
file(COPY ${OB_SOURCE_DIR}/systemd/opescare-bridge.service ${OB_SOURCE_DIR}/systemd/opescare-bridge.sysusers
          ${OB_SOURCE_DIR}/systemd/opescare-bridge.tmpfiles DESTINATION ${stage}/${name}/systemd)
file(COPY ${OB_BUILD_DIR}/packaging/config.yaml ${OB_SOURCE_DIR}/config.example.yaml
          ${OB_SOURCE_DIR}/packaging/README.md DESTINATION ${stage}/${name})
file(COPY ${OB_SOURCE_DIR}/packaging/tarball/install.sh DESTINATION ${stage}/${name}
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(MAKE_DIRECTORY ${OB_BUILD_DIR}/packages)
execute_process(COMMAND tar --owner=0 --group=0 --numeric-owner --sort=name -czf
                        ${OB_BUILD_DIR}/packages/${name}.tar.gz ${name}
                WORKING_DIRECTORY ${stage} COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "packages/${name}.tar.gz")
