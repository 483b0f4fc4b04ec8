#!/bin/sh
# Install ipynbsrv-tui for every account on this host (DESIGN §9): a venv under /opt made from the
# system Python, the broker's systemd unit (only where systemd runs), /etc/ipynbsrv/config.toml
# and the sshd snippet.
#
#   deploy/install.sh                 # as root, from a checkout of the repository (or: sudo deploy/install.sh)
#   PIP_OPTIONS="--no-index --find-links /srv/wheels" deploy/install.sh   # offline (sudo -E keeps the variable)
#
# Re-running it upgrades the package and keeps an existing config.toml, the sshd snippet, the
# wheels builds downloaded and image folders of your own. deploy/uninstall.sh undoes it.
set -eu

# Every path can be overridden from the environment (e.g. to try it out under a temp folder).
PREFIX=${PREFIX:-/opt/ipynbsrv}
PIP_OPTIONS=${PIP_OPTIONS:-}
SYSTEM_PYTHON=/usr/bin/python3
SOURCE=$(cd "$(dirname "$0")/.." && pwd)
CONFIG_DIR=${CONFIG_DIR:-/etc/ipynbsrv}
STATE_DIR=${STATE_DIR:-/var/lib/ipynbsrv}
UNIT=${UNIT:-/etc/systemd/system/ipynbsrv-broker.service}
SSHD_DROPIN=${SSHD_DROPIN:-/etc/ssh/sshd_config.d/ipynbsrv.conf}
LINK=${LINK:-/usr/local/bin/ipynbsrv-tui}

fail() { echo "install.sh: $*" >&2; exit 1; }
step() { echo "==> $*"; }

[ "$(id -u)" -eq 0 ] || fail "run me as root (as root: $0; with sudo: sudo $0)"
[ -x "$SYSTEM_PYTHON" ] || fail "$SYSTEM_PYTHON is missing: apt-get install python3 python3-venv"
"$SYSTEM_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "$SYSTEM_PYTHON is older than 3.11 (Debian 12 or newer is needed)"
"$SYSTEM_PYTHON" -c 'import ensurepip, venv' 2>/dev/null \
    || fail "the system Python cannot make venvs: apt-get install python3-venv"
[ -f "$SOURCE/pyproject.toml" ] || fail "run me from a checkout: $SOURCE has no pyproject.toml"

umask 022

step "venv $PREFIX/venv (from $SYSTEM_PYTHON, readable by every account)"
mkdir -p "$PREFIX"
chmod 0755 "$PREFIX"
[ -x "$PREFIX/venv/bin/python" ] || "$SYSTEM_PYTHON" -m venv "$PREFIX/venv"
# shellcheck disable=SC2086  # PIP_OPTIONS holds several options on purpose
"$PREFIX/venv/bin/pip" install --quiet --disable-pip-version-check $PIP_OPTIONS --upgrade "$SOURCE"
ln -sf "$PREFIX/venv/bin/ipynbsrv-tui" "$LINK"

step "image folders $PREFIX/dockerfiles (downloaded wheels and folders of your own kept)"
# An upgrade replaces the folders this release ships, but keeps what builds downloaded into them
# (<image>/wheels: an offline site rebuilds from it) and image folders the release does not have.
rm -rf "$PREFIX/dockerfiles.new"
cp -R "$SOURCE/dockerfiles" "$PREFIX/dockerfiles.new"
if [ -d "$PREFIX/dockerfiles" ]; then
    for old in "$PREFIX/dockerfiles"/*/; do
        [ -d "$old" ] || continue
        name=$(basename "$old")
        if [ ! -d "$PREFIX/dockerfiles.new/$name" ]; then
            mv "$old" "$PREFIX/dockerfiles.new/$name"
            echo "    kept $name (not in this release: an image folder of your own?)"
        elif [ -d "$old/wheels" ]; then
            rm -rf "$PREFIX/dockerfiles.new/$name/wheels"
            mv "$old/wheels" "$PREFIX/dockerfiles.new/$name/wheels"
            echo "    kept $name/wheels ($(find "$PREFIX/dockerfiles.new/$name/wheels" -type f | wc -l) files)"
        fi
    done
    rm -rf "$PREFIX/dockerfiles"
fi
mv "$PREFIX/dockerfiles.new" "$PREFIX/dockerfiles"

step "documentation $PREFIX/docs (every --help ends with its page there)"
install_docs() {
    if [ -f "$SOURCE/site/index.html" ]; then
        rm -rf "$PREFIX/docs.new" && cp -R "$SOURCE/site" "$PREFIX/docs.new"
    else
        # No site in the checkout (`make docs` builds it): build one in a throwaway venv.
        build=$(mktemp -d)
        # shellcheck disable=SC2086
        "$SYSTEM_PYTHON" -m venv "$build/venv" \
            && "$build/venv/bin/pip" install --quiet --disable-pip-version-check $PIP_OPTIONS "$SOURCE[docs]" \
            && (cd "$SOURCE" && NO_MKDOCS_2_WARNING=1 "$build/venv/bin/mkdocs" build --quiet --site-dir "$PREFIX/docs.new")
        status=$?
        rm -rf "$build"
        [ "$status" -eq 0 ] || return 1
    fi
    rm -rf "$PREFIX/docs" && mv "$PREFIX/docs.new" "$PREFIX/docs"
}
if install_docs; then
    echo "    $PREFIX/docs/index.html"
else
    rm -rf "$PREFIX/docs.new"
    echo "    not built (mkdocs could not be installed: offline?); run \`make docs\` in $SOURCE and re-run me"
fi

step "configuration $CONFIG_DIR/config.toml"
install -d -m 0755 "$CONFIG_DIR"
if [ -e "$CONFIG_DIR/config.toml" ]; then
    echo "    kept the existing file"
else
    sed -e "s|^path = \"\"|path = \"$STATE_DIR/ipynbsrv.db\"|" \
        -e "s|^dockerfiles = \"dockerfiles\"|dockerfiles = \"$PREFIX/dockerfiles\"|" \
        "$SOURCE/config.toml" > "$CONFIG_DIR/config.toml"
    chmod 0644 "$CONFIG_DIR/config.toml"
fi
"$PREFIX/venv/bin/ipynbsrv-tui" --config "$CONFIG_DIR/config.toml" check-config > /dev/null \
    || fail "$CONFIG_DIR/config.toml does not validate (see above)"
install -d -m 0700 "$STATE_DIR"

if [ -d /run/systemd/system ]; then
    step "systemd unit $UNIT"
    sed -e "s|/opt/ipynbsrv|$PREFIX|g" -e "s|/etc/ipynbsrv|$CONFIG_DIR|g" "$SOURCE/deploy/ipynbsrv-broker.service" > "$UNIT"
    chmod 0644 "$UNIT"
    systemctl daemon-reload
    START="systemctl enable --now ipynbsrv-broker && systemctl status ipynbsrv-broker"
    RELOAD_SSH="sshd -t && systemctl reload ssh"
else
    step "no systemd unit: systemd does not run here (/run/systemd/system is absent)"
    echo "    start the broker under your supervisor, or as below (\"Without systemd\" in the deploy guide)"
    START="nohup $PREFIX/venv/bin/ipynbsrv-tui --config $CONFIG_DIR/config.toml serve >>/var/log/ipynbsrv-broker.log 2>&1 &"
    RELOAD_SSH="sshd -t && kill -HUP \$(cat /run/sshd.pid)   (or: service ssh reload)"
fi

if [ -d "$(dirname "$SSHD_DROPIN")" ]; then
    step "sshd snippet $SSHD_DROPIN"
    if [ -e "$SSHD_DROPIN" ]; then
        echo "    kept the existing file"
    else
        sed -e "s|/opt/ipynbsrv|$PREFIX|g" "$SOURCE/deploy/sshd_config.d/ipynbsrv.conf" > "$SSHD_DROPIN"
        chmod 0644 "$SSHD_DROPIN"
    fi
fi

step "check: an ordinary account can run it"
runuser -u nobody -- "$PREFIX/venv/bin/ipynbsrv-tui" --version \
    || fail "the nobody account cannot run $PREFIX/venv/bin/ipynbsrv-tui: check the modes under $PREFIX"

cat <<NEXT

Installed. Next:
  1. Edit $CONFIG_DIR/config.toml ([data] root, [notebooks] port_range, public_host, idle_timeout).
  2. $START
  3. $RELOAD_SSH
Images, accounts and the first login: $PREFIX/docs/admins/deploy.html
NEXT
