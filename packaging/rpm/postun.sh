# %postun of opescare-bridge: reload units; on upgrade restart the agent if it was running. Never
# removes /var/lib/opescare-bridge (the outbox and its -wal: unacknowledged patient records),
# /var/spool/opescare-bridge, the logs, the key or the user.
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || :
  if [ "$1" -ge 1 ]; then
    systemctl try-restart opescare-bridge.service >/dev/null 2>&1 || :
  fi
fi
exit 0
