# %pre of opescare-bridge: the system user exists before the files land, so that the config's
# %attr(0640,root,opescare-bridge) applies.
getent group opescare-bridge >/dev/null || groupadd -r opescare-bridge
getent passwd opescare-bridge >/dev/null || useradd -r -g opescare-bridge -d /var/lib/opescare-bridge -M \
  -s /usr/sbin/nologin -c "OpesCare Bridge Agent" opescare-bridge
exit 0
