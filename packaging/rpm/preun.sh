# %preun of opescare-bridge: on erase (not upgrade) stop and disable the service; it drains on TERM.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
  systemctl --no-reload disable --now opescare-bridge.service >/dev/null 2>&1 || :
fi
exit 0
