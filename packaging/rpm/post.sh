# %post of opescare-bridge: the folders with tight modes (never their contents), and on first
# install the distribution's preset for the service (as %systemd_post does).
if command -v systemd-tmpfiles >/dev/null 2>&1; then
  systemd-tmpfiles --create /usr/lib/tmpfiles.d/opescare-bridge.conf || :
else
  install -d -o opescare-bridge -g opescare-bridge -m 0700 /var/lib/opescare-bridge
  install -d -o opescare-bridge -g opescare-bridge -m 0750 /var/log/opescare-bridge /var/spool/opescare-bridge
  install -d -o opescare-bridge -g opescare-bridge -m 2770 /var/spool/opescare-bridge/incoming
  install -d -o opescare-bridge -g opescare-bridge -m 0750 \
    /var/spool/opescare-bridge/incoming/processed /var/spool/opescare-bridge/incoming/failed
fi
if [ "$1" -eq 1 ] && [ -d /run/systemd/system ]; then
  systemctl --no-reload preset opescare-bridge.service >/dev/null 2>&1 || :
fi
exit 0
