#!/usr/bin/env bash
# Walk the deploy guide (docs/admins/deploy.md) §1–8 as a newcomer, on a fresh Debian root (issue 16 item 6).
#
#   DOCKER_HOST=unix:///path/to/docker.sock deploy/walk.sh
#
# The walk runs in a throw-away container made from debian:bookworm-slim on the engine at
# DOCKER_HOST, so this machine's /etc, /opt and /usr/local are never touched. The container has
# no systemd: the broker runs the README's "without systemd" way (`--init` reaps orphans as a
# host's init would). It gets
#   --network host        its sshd (on a free loopback port) and the notebooks' loopback ports meet;
#   the engine's socket   bind-mounted at /var/run/docker.sock, as on a real host;
#   the data root         bind-mounted at the same path as here, because the notebook containers'
#                         bind mounts name host paths.
# Python packages come from a wheelhouse built here with pip (a container may have no route to
# the package index): install.sh's documented offline path. Debian packages come from the mirror.
#
# Inside, deploy/walk-inside.sh runs the README's commands: install, config, broker, image, two
# users with host accounts, one notebook each, a login over a real `ssh -tt` through the sshd
# snippet, isolation. It prints each step's time and the total; exits non-zero on the first
# failure. Everything it made (container, notebook containers, images, files) is removed.
set -euo pipefail

SOURCE=$(cd "$(dirname "$0")/.." && pwd)
BASE_IMAGE=${WALK_BASE_IMAGE:-debian:bookworm-slim}
PYTHON=${WALK_PYTHON:-$SOURCE/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
: "${DOCKER_HOST:=unix:///var/run/docker.sock}"
export DOCKER_HOST
case "$DOCKER_HOST" in
    unix://*) ENGINE_SOCKET=${DOCKER_HOST#unix://} ;;
    *) echo "walk.sh: DOCKER_HOST must be a unix socket (it is bind-mounted into the walk)" >&2; exit 2 ;;
esac

started=$(date +%s)
tag=walk$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d /tmp/ipynbsrv-walk.XXXXXX)
chmod 0755 "$work"
container=ipynbsrv-$tag

cleanup() {
    status=$?
    if [ "$status" -ne 0 ] && docker inspect "$container" >/dev/null 2>&1; then
        echo "---- broker log (the walk failed)"
        docker exec "$container" sh -c 'cat /var/log/ipynbsrv-broker.log 2>/dev/null | tail -40' || true
    fi
    if [ "${WALK_KEEP:-0}" = 1 ] && [ "$status" -ne 0 ]; then
        echo "walk.sh: WALK_KEEP=1: left $container and $work for a look" >&2
        exit "$status"
    fi
    docker rm -f "$container" >/dev/null 2>&1 || true
    for image in $(docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$tag/" || true); do
        docker ps -aq --filter "ancestor=$image" | xargs -r docker rm -f >/dev/null 2>&1 || true
    done
    docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$tag/" | xargs -r docker rmi -f >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

step() { printf '==> [%4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
free_range() {  # 20 loopback ports that are free now, for [notebooks] port_range
    PYTHONPATH="$SOURCE" "$PYTHON" -c \
        'from tests.integration.broker_support import free_port_range; print(*free_port_range(20))'
}

step "the checkout, as \`git clone\` gives it, and its wheelhouse (on this machine)"
if git -C "$SOURCE" rev-parse --git-dir >/dev/null 2>&1; then
    git clone -q "$SOURCE" "$work/repo"   # the committed state, as a newcomer's clone has it
else  # a tree without its history (e.g. an unpacked archive): make it a repository to clone
    mkdir "$work/repo"
    tar -C "$SOURCE" --exclude=./.venv --exclude='./dockerfiles/*/wheels' -cf - . | tar -C "$work/repo" -xf -
    git -C "$work/repo" init -q
    git -C "$work/repo" add -A
    git -C "$work/repo" -c user.name=walk -c user.email=walk@localhost commit -qm "walk"
fi
"$PYTHON" -m pip wheel -q --disable-pip-version-check -w "$work/wheels" "$work/repo" 2>&1 \
    | grep -v -e '^ *$' -e '^WARNING: Location' || true
"$PYTHON" -m pip download -q --disable-pip-version-check -d "$work/wheels" setuptools wheel 2>&1 \
    | grep -v -e '^ *$' -e '^WARNING: Location' || true
# The [docs] extra, for the Python inside (Debian 12's 3.11.2, older than some releases ask for):
# install.sh builds the documentation site from the clone, which has no site/.
mapfile -t docs_requirements < <("$PYTHON" -c 'import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["docs"]))' "$work/repo/pyproject.toml")
"$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version 3.11 \
    -d "$work/wheels" "${docs_requirements[@]}" 2>&1 | grep -v -e '^ *$' -e '^WARNING: Location' || true
"$PYTHON" - "$work/repo/dockerfiles" <<'EOF'
import sys
from ipynbsrv_tui.engine.dockerfiles import load_folder, prepare_wheelhouse
for report in prepare_wheelhouse(load_folder(sys.argv[1], "ipython3-notebook"), progress=lambda line: None):
    print("    " + report.summary())
EOF
cp "$SOURCE/deploy/walk-inside.sh" "$SOURCE/deploy/walk_login.py" "$work/"

read -r first last < <(free_range)
ssh_port=$(free_port)
step "a fresh $BASE_IMAGE root: $container (ssh on 127.0.0.1:$ssh_port, notebooks on $first-$last)"
docker run -d --init --name "$container" --hostname "$tag" --network host \
    -v "$ENGINE_SOCKET:/var/run/docker.sock" -v "$work:$work" \
    -e WALK="$work" -e WALK_PREFIX="$tag" -e WALK_SSH_PORT="$ssh_port" -e WALK_PORTS="$first $last" \
    -e WALK_STARTED="$started" -e WALK_NO_CACHE="${WALK_NO_CACHE:-0}" \
    "$BASE_IMAGE" sleep infinity >/dev/null

docker exec "$container" bash "$work/walk-inside.sh"
step "walk done in $(( $(date +%s) - started )) s (fresh root, image prefix and wheelhouse; WALK_NO_CACHE=1 rebuilds every layer too)"
