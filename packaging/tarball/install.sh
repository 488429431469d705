#!/bin/sh
# install.sh of the opescare-bridge tarball: installs the static binary, the systemd unit, the
# sysusers/tmpfiles entries and the service's config.yaml on any systemd Linux, as root.
# Idempotent: run it again to upgrade; it never overwrites /etc/opescare-bridge/config.yaml or
# touches the outbox. --root DIR installs into DIR (a folder root, e.g. for a test or an image):
# the user and folders are then created only if DIR has systemd-sysusers/-tmpfiles for --root.
set -eu

root=""
while [ $# -gt 0 ]; do
	case "$1" in
		--root) [ $# -ge 2 ] || { echo "install.sh: --root needs a folder" >&2; exit 2; }; root="$2"; shift 2 ;;
		--root=*) root="${1#--root=}"; shift ;;
		-h|--help) echo "usage: sh install.sh [--root DIR]"; exit 0 ;;
		*) echo "install.sh: unknown argument '$1' (usage: sh install.sh [--root DIR])" >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: run as root (sudo sh install.sh), or give --root DIR for a folder you own" >&2
	[ -n "$root" ] || exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "$root" ]; then
	mkdir -p "$root"
	root=$(cd "$root" && pwd)
fi

install -d -m 0755 "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/usr/lib/sysusers.d" \
	"$root/usr/lib/tmpfiles.d" "$root/usr/share/doc/opescare-bridge"
# Into a temporary name, then renamed: a running agent keeps its old binary until restarted.
install -m 0755 "$here/bin/opescare-bridge" "$root/usr/bin/.opescare-bridge.new"
mv -f "$root/usr/bin/.opescare-bridge.new" "$root/usr/bin/opescare-bridge"
install -m 0644 "$here/systemd/opescare-bridge.service" "$root/usr/lib/systemd/system/opescare-bridge.service"
install -m 0644 "$here/systemd/opescare-bridge.sysusers" "$root/usr/lib/sysusers.d/opescare-bridge.conf"
install -m 0644 "$here/systemd/opescare-bridge.tmpfiles" "$root/usr/lib/tmpfiles.d/opescare-bridge.conf"
install -m 0644 "$here/README.md" "$here/config.example.yaml" "$root/usr/share/doc/opescare-bridge/"

# The user and the folders: systemd's own tools, which read the two files just installed.
install -d -m 0755 "$root/etc"
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers ${root:+--root="$root"} "$root/usr/lib/sysusers.d/opescare-bridge.conf"
fi
# The group's number as the target root knows it (with --root, the host's names do not apply).
gid=$(awk -F: '$1 == "opescare-bridge" { print $3 }' "$root/etc/group" 2>/dev/null || true)
if command -v systemd-tmpfiles >/dev/null 2>&1 && [ -n "$gid" ]; then
	systemd-tmpfiles ${root:+--root="$root"} --create "$root/usr/lib/tmpfiles.d/opescare-bridge.conf"
fi

# The config: written once, never over the admin's; root owns it, the service's group reads it.
install -d -m 0750 "$root/etc/opescare-bridge"
if [ ! -e "$root/etc/opescare-bridge/config.yaml" ]; then
	install -m 0640 "$here/config.yaml" "$root/etc/opescare-bridge/config.yaml"
	fresh=1
else
	fresh=0
fi
if [ "$(id -u)" -eq 0 ] && [ -n "$gid" ]; then
	chgrp "$gid" "$root/etc/opescare-bridge" "$root/etc/opescare-bridge/config.yaml"
fi

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable opescare-bridge.service >/dev/null 2>&1 || true
	systemctl try-restart opescare-bridge.service || true
fi
if [ "$fresh" -eq 1 ]; then
	cat <<'MSG'
opescare-bridge: installed and enabled, not started. To start it:
  1. edit /etc/opescare-bridge/config.yaml (agent_id, facility_id, server_url)
  2. put the agent key in /etc/opescare-bridge/agent.key (owner root, mode 0600)
  3. systemctl start opescare-bridge; journalctl -u opescare-bridge shows any config problem
MSG
else
	echo "opescare-bridge: upgraded to $("$root/usr/bin/opescare-bridge" version | head -n 1); config.yaml kept"
fi
