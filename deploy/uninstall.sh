#!/bin/sh
# Take away what deploy/install.sh and the installation made on this host (issue 22 item 5).
#
#   deploy/uninstall.sh            # as root (or: sudo deploy/uninstall.sh); keeps the data
#   deploy/uninstall.sh --purge    # also the configuration, the database, [data] root, and the
#                                  # host accounts and group that `users create --host-account` made
#
# Always removed: the broker (stopped), its systemd unit, the sshd snippet, /usr/local/bin/ipynbsrv-tui,
# /opt/ipynbsrv (venv, image folders, documentation), and the Docker Engine objects labelled with
# this installation's id (notebook containers and services, the images its builds, snapshots and
# clones made, its networks and volumes). Kept unless --purge: /etc/ipynbsrv, /var/lib/ipynbsrv,
# [data] root (homes, shares, public folders, archives), host accounts and the host group.
# It says what it removed and what it kept.
set -eu

PREFIX=${PREFIX:-/opt/ipynbsrv}
CONFIG_DIR=${CONFIG_DIR:-/etc/ipynbsrv}
STATE_DIR=${STATE_DIR:-/var/lib/ipynbsrv}
UNIT=${UNIT:-/etc/systemd/system/ipynbsrv-broker.service}
SSHD_DROPIN=${SSHD_DROPIN:-/etc/ssh/sshd_config.d/ipynbsrv.conf}
LINK=${LINK:-/usr/local/bin/ipynbsrv-tui}
PURGE=0

fail() { echo "uninstall.sh: $*" >&2; exit 1; }
step() { echo "==> $*"; }

for argument in "$@"; do
    case "$argument" in
        --purge) PURGE=1 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) fail "unknown option $argument (--purge, --help)" ;;
    esac
done
[ "$(id -u)" -eq 0 ] || fail "run me as root (as root: $0; with sudo: sudo $0)"

PROGRAM="$PREFIX/venv/bin/ipynbsrv-tui"
CONFIG="$CONFIG_DIR/config.toml"
setting() {  # setting SECTION KEY DEFAULT: a value of the configuration file (read even after the program went)
    /usr/bin/python3 - "$CONFIG" "$1" "$2" "$3" <<'EOF' 2>/dev/null || echo "$3"
import sys
import tomllib

path, section, key, default = sys.argv[1:]
try:
    with open(path, "rb") as stream:
        value = tomllib.load(stream).get(section, {}).get(key, default)
except FileNotFoundError:
    value = default
print(value if isinstance(value, str) else default)
EOF
}
DATABASE=$(setting database path "")
[ -n "$DATABASE" ] || DATABASE="$STATE_DIR/ipynbsrv.db"
DATA_ROOT=$(setting data root /srv/ipynbsrv/data)
USERS_GROUP=$(setting directory users_group ipynbsrv-users)
DOCKER_URL=$(setting docker url "")

step "the broker"
if [ -d /run/systemd/system ] && [ -f "$UNIT" ]; then
    systemctl disable --now ipynbsrv-broker 2>/dev/null || true
    echo "    stopped and disabled (systemd)"
fi
pids=$(pgrep -f "^$PREFIX/venv/bin/python[0-9.]* $PROGRAM .*serve|^$PROGRAM .*serve" || true)
if [ -n "$pids" ]; then
    # shellcheck disable=SC2086  # one pid per word
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 100); do
        still=$(pgrep -f "^$PREFIX/venv/bin/python[0-9.]* $PROGRAM .*serve|^$PROGRAM .*serve" || true)
        [ -z "$still" ] && break
        sleep 0.2
    done
    echo "    stopped (SIGTERM to $pids)"
fi

step "Docker Engine objects of this installation"
if [ -x "$PREFIX/venv/bin/python" ] && [ -n "$DATABASE" ] && [ -f "$DATABASE" ]; then
    DOCKER_URL="$DOCKER_URL" "$PREFIX/venv/bin/python" - "$DATABASE" <<'EOF'
import os
import sqlite3
import sys

import docker
import docker.errors

database = sys.argv[1]
row = sqlite3.connect(f"file:{database}?mode=ro", uri=True).execute(
    "SELECT value FROM setting WHERE key = 'instance.id'").fetchone()
if row is None:
    print("    none: the database names no installation id (nothing was ever made)")
    sys.exit(0)
label = f"ipynbsrv.instance={row[0]}"
url = os.environ.get("DOCKER_URL") or None
client = docker.DockerClient(base_url=url) if url else docker.from_env()
removed = []
try:
    for service in client.services.list(filters={"label": label}):
        service.remove()
        removed.append(f"service {service.name}")
except docker.errors.APIError:
    pass  # not a swarm manager: no services
for container in client.containers.list(all=True, filters={"label": label}):
    container.remove(force=True, v=True)
    removed.append(f"container {container.name}")
for image in client.images.list(filters={"label": label}):
    try:
        client.images.remove(image.id, force=True)
        removed.append(f"image {', '.join(image.tags) or image.short_id}")
    except docker.errors.ImageNotFound:
        pass  # went with a parent removed before it
for network in client.networks.list(filters={"label": label}):
    network.remove()
    removed.append(f"network {network.name}")
for volume in client.volumes.list(filters={"label": label}):
    volume.remove(force=True)
    removed.append(f"volume {volume.name}")
print(f"    {label}: " + (", ".join(removed) if removed else "nothing left"))
EOF
else
    echo "    skipped: no program or database to name the installation (already uninstalled?)"
fi

step "files of the program"
for path in "$UNIT" "$SSHD_DROPIN" "$LINK" "$PREFIX"; do
    if [ -e "$path" ] || [ -L "$path" ]; then
        rm -rf "$path"
        echo "    removed $path"
    fi
done
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
rm -rf /run/ipynbsrv

if [ "$PURGE" = 1 ]; then
    step "--purge: configuration, database, data and the host accounts made for users"
    for path in "$CONFIG_DIR" "$STATE_DIR" "$DATABASE" "$DATABASE-wal" "$DATABASE-shm" "$DATA_ROOT"; do
        [ -n "$path" ] && [ "$path" != / ] && [ -e "$path" ] || continue
        rm -rf "$path"
        echo "    removed $path"
    done
    if gid=$(getent group "$USERS_GROUP" | cut -d: -f3) && [ -n "$gid" ]; then
        # `users create --host-account` makes each account with this group as its primary group,
        # and never changes an existing one: those are the accounts it made.
        getent passwd | awk -F: -v gid="$gid" '$4 == gid { print $1 }' | while read -r account; do
            pkill -KILL -u "$account" 2>/dev/null || true
            userdel -r "$account" 2>/dev/null || userdel "$account"
            echo "    removed the host account $account (and its home)"
        done
        groupdel "$USERS_GROUP" && echo "    removed the host group $USERS_GROUP"
    fi
else
    step "kept (deploy/uninstall.sh --purge removes them)"
    for path in "$CONFIG_DIR" "$STATE_DIR" "$DATA_ROOT"; do
        [ -n "$path" ] && [ -e "$path" ] && echo "    $path"
    done
    if getent group "$USERS_GROUP" >/dev/null; then
        echo "    the host group $USERS_GROUP and the accounts whose primary group it is:" \
            "$(getent passwd | awk -F: -v gid="$(getent group "$USERS_GROUP" | cut -d: -f3)" '$4 == gid { printf "%s ", $1 }')"
    fi
fi
if [ -d "$(dirname "$SSHD_DROPIN")" ]; then
    echo "Reload sshd so the login of the removed snippet ends: sshd -t && systemctl reload ssh (or: kill -HUP \$(cat /run/sshd.pid))"
fi
echo "Uninstalled."
