#!/usr/bin/env bash
# The README's deploy path, run as root inside the fresh root that deploy/walk.sh made.
# Each numbered step is the deploy guide (docs/admins/deploy.md) §N; checks say what a newcomer would look at.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
: "${WALK:?run me through deploy/walk.sh}"
started=${WALK_STARTED:-$(date +%s)}
read -r first_port last_port <<<"$WALK_PORTS"
PASSWORD_ALICE="alice-walk-$RANDOM$RANDOM"
PASSWORD_BOB="bob-walk-$RANDOM$RANDOM"

step() { printf '==> [%4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
fail() { echo "walk: FAILED: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; data=json.load(sys.stdin); print($1)"; }
# "/user/alice/nb/api/status?token=…" from a notebook URL
status_path() { python3 -c 'import sys; from urllib.parse import urlsplit; u=urlsplit(sys.argv[1]); print(u.path + "api/status?" + u.query)' "$1"; }

step "§1 packages (no systemd here: the engine is the host's, its socket mounted)"
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends \
    python3-venv openssh-server git ca-certificates sshpass openssh-client curl procps >/dev/null

step "§2 install for every account"
git clone -q "$WALK/repo" /usr/local/src/ipynbsrv-tui
cp -R "$WALK/repo/dockerfiles/ipython3-notebook/wheels" /usr/local/src/ipynbsrv-tui/dockerfiles/ipython3-notebook/
cd /usr/local/src/ipynbsrv-tui
PIP_OPTIONS="--no-index --find-links $WALK/wheels" deploy/install.sh | sed 's/^/    /'
[ -L /usr/local/bin/ipynbsrv-tui ] || fail "no /usr/local/bin/ipynbsrv-tui"
[ -f /etc/ssh/sshd_config.d/ipynbsrv.conf ] || fail "no sshd snippet"
docs=$(ipynbsrv-tui images --help | tail -1 | sed 's/^Documentation: //; s/#.*//')
[ -f "$docs" ] || fail "images --help names $docs, which install.sh did not install"

step "§3 configure /etc/ipynbsrv/config.toml"
sed -i -e "s|^root = \"/srv/ipynbsrv/data\"|root = \"$WALK/data\"|" \
       -e "s|^port_range = \[49152, 49999\]|port_range = [$first_port, $last_port]|" \
       -e "s|^public_host = \"\"|public_host = \"127.0.0.1\"|" \
       -e "s|^image_prefix = \"ipynbsrv\"|image_prefix = \"$WALK_PREFIX\"|" /etc/ipynbsrv/config.toml
# Standing in the checkout, the system file is the one in effect (never ./config.toml).
ipynbsrv-tui check-config | head -1 | grep -q "from /etc/ipynbsrv/config.toml" \
    || fail "check-config in the checkout does not read /etc/ipynbsrv/config.toml"
ipynbsrv-tui check-config | grep -q "root = \"$WALK/data\"" || fail "[data] root not in effect"

step "Operating it: an upgrade (re-running install.sh) keeps the configuration and the snippet"
PIP_OPTIONS="--no-index --find-links $WALK/wheels" deploy/install.sh | grep "kept the existing file" | sed 's/^/    /'
grep -q "^root = \"$WALK/data\"" /etc/ipynbsrv/config.toml || fail "install.sh overwrote the configuration"
cd /

step "§4 start the broker, without systemd (docs/admins/deploy.md: \"Without systemd\")"
[ ! -e /run/ipynbsrv ] || fail "/run/ipynbsrv exists before the broker made it"
nohup /opt/ipynbsrv/venv/bin/ipynbsrv-tui --config /etc/ipynbsrv/config.toml serve \
    >>/var/log/ipynbsrv-broker.log 2>&1 &
for _ in $(seq 100); do [ -S /run/ipynbsrv/ipynbsrv.sock ] && break; sleep 0.1; done
[ -S /run/ipynbsrv/ipynbsrv.sock ] || fail "the broker made no socket: $(cat /var/log/ipynbsrv-broker.log)"
[ "$(stat -c '%a %U' /run/ipynbsrv)" = "755 root" ] || fail "socket folder is $(stat -c '%a %U' /run/ipynbsrv)"
[ "$(stat -c '%a' /run/ipynbsrv/ipynbsrv.sock)" = "666" ] || fail "socket mode is not 0666"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+ INFO ipynbsrv.broker: listening on' /var/log/ipynbsrv-broker.log \
    || fail "the broker's log lines carry no timestamp: $(head -3 /var/log/ipynbsrv-broker.log)"

step "§5 images: build ipython3-notebook (base-ldap first), register it"
no_cache=(); [ "${WALK_NO_CACHE:-0}" = 1 ] && no_cache=(--no-cache)
ipynbsrv-tui images build ipython3-notebook "${no_cache[@]}" > /tmp/build.log 2>&1 || { tail -20 /tmp/build.log; fail "image build"; }
tail -1 /tmp/build.log | sed 's/^/    /'
ipynbsrv-tui images register python3 ipython3-notebook | sed 's/^/    /'   # the README's line, with the walk's own prefix

step "Operating it: an upgrade from a fresh clone (no wheels in it) keeps the downloaded wheels"
wheels=/opt/ipynbsrv/dockerfiles/ipython3-notebook/wheels
before=$(find "$wheels" -name '*.whl' | wc -l)
[ "$before" -gt 0 ] || fail "the build left no wheels in $wheels"
rm -rf /usr/local/src/ipynbsrv-tui/dockerfiles/ipython3-notebook/wheels
(cd /usr/local/src/ipynbsrv-tui && PIP_OPTIONS="--no-index --find-links $WALK/wheels" deploy/install.sh) > /tmp/upgrade.log
grep "kept ipython3-notebook/wheels" /tmp/upgrade.log | sed 's/^/    /' || fail "install.sh did not keep the wheels: $(cat /tmp/upgrade.log)"
after=$(find "$wheels" -name '*.whl' | wc -l)
[ "$after" = "$before" ] || fail "the upgrade left $after of $before wheels"
ipynbsrv-tui images build ipython3-notebook > /tmp/rebuild.log 2>&1 || { tail -20 /tmp/rebuild.log; fail "rebuild after the upgrade"; }
grep -q "all reused, no network" /tmp/rebuild.log || fail "the rebuild downloaded wheels again: $(grep -i wheel /tmp/rebuild.log | head -3)"
echo "    $before wheels kept; the rebuild reused all of them, no network"

step "§6 accounts: alice and bob, directory user and host account in one step, no terminal"
for who in alice bob; do
    if [ "$who" = alice ]; then password=$PASSWORD_ALICE; else password=$PASSWORD_BOB; fi
    printf '%s\n' "$password" | ipynbsrv-tui users create "$who" --name "${who^} Walk" \
        --host-account --password-file - --json > "/tmp/$who.json"
    uid=$(json 'data["uid"]' < "/tmp/$who.json")
    [ "$(id -u "$who")" = "$uid" ] || fail "$who: host uid $(id -u "$who") is not the directory's $uid"
    id -nG "$who" | grep -qw ipynbsrv-users || fail "$who is not in the host group ipynbsrv-users"
    echo "    $who: uid $uid, host groups: $(id -nG "$who")"
done
# Never changing an existing account: a second time is refused, and says why.
if printf 'x-long-enough\n' | ipynbsrv-tui users create alice --host-account --password-file - 2>/tmp/again.err; then
    fail "creating alice twice succeeded"
fi
grep -q "never changes an existing account" /tmp/again.err || fail "refusal unclear: $(cat /tmp/again.err)"

step "§7 ssh: the snippet, sshd on 127.0.0.1:$WALK_SSH_PORT (no systemd: started by hand)"
mkdir -p /run/sshd
/usr/sbin/sshd -t
/usr/sbin/sshd -p "$WALK_SSH_PORT" -o ListenAddress=127.0.0.1 -o PasswordAuthentication=yes
SSH=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "$WALK_SSH_PORT")

step "§8 one notebook each (as each user, through the broker), then it answers"
for who in alice bob; do
    runuser -u "$who" -- ipynbsrv-tui containers create "${who}nb" --image python3 --json > "/tmp/$who-nb.json" \
        || fail "$who could not create a notebook"
done
alice_id=$(json 'data["id"]' < /tmp/alice-nb.json)
bob_id=$(json 'data["id"]' < /tmp/bob-nb.json)
alice_url=$(runuser -u alice -- ipynbsrv-tui containers list --json | json 'data[0]["url"]')
alice_port=$(json 'data["host_port"]' < /tmp/alice-nb.json)
for _ in $(seq 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$alice_port$(status_path "$alice_url")" 2>/dev/null && break; sleep 0.5
done
curl -fsS -o /dev/null "http://127.0.0.1:$alice_port$(status_path "$alice_url")" \
    || fail "alice's notebook does not answer at $alice_url"
echo "    alice's notebook answers at ${alice_url%%\?*}"

step "§8 first login: ssh -tt alice@host runs the UI (ForceCommand); killing the client ends it"
python3 "$WALK/walk_login.py" alice "$PASSWORD_ALICE" "$WALK_SSH_PORT" alicenb bobnb
out=$(sshpass -p "$PASSWORD_ALICE" ssh "${SSH[@]}" alice@127.0.0.1 ipynbsrv-tui containers list --json 2>&1 || true)
grep -q "ssh -t HOST" <<<"$out" || fail "without -t the hint does not say ssh -t: $out"
echo "    without -t: $(tail -1 <<<"$out")"
tunnel=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sshpass -p "$PASSWORD_ALICE" ssh "${SSH[@]}" -N -L "$tunnel:127.0.0.1:$alice_port" alice@127.0.0.1 &
tunnel_pid=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$tunnel$(status_path "$alice_url")" 2>/dev/null && break; sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$tunnel$(status_path "$alice_url")" || fail "the ssh -L tunnel does not reach the notebook"
kill "$tunnel_pid"
echo "    ssh -N -L $tunnel:127.0.0.1:$alice_port alice@host reaches it"
# Other forwards are refused by the snippet (PermitOpen 127.0.0.1:*).
if sshpass -p "$PASSWORD_ALICE" ssh "${SSH[@]}" -o ExitOnForwardFailure=yes -W 10.255.255.1:22 alice@127.0.0.1 </dev/null 2>/dev/null; then
    fail "a forward outside 127.0.0.1 was allowed"
fi

step "isolation: each sees and controls only their own"
runuser -u alice -- ipynbsrv-tui containers list --json | json '[c["name"] for c in data]' | grep -qx "\['alicenb'\]" \
    || fail "alice sees more than her notebook"
if runuser -u alice -- ipynbsrv-tui containers stop "$bob_id" 2>/tmp/stop.err; then fail "alice stopped bob's notebook"; fi
runuser -u alice -- ipynbsrv-tui containers stop 999999 2>/tmp/none.err || true
[ "$(sed "s/\b$bob_id\b/N/g" /tmp/stop.err)" = "$(sed 's/\b999999\b/N/g' /tmp/none.err)" ] \
    || fail "alice's refusal differs from a missing container's: $(cat /tmp/stop.err) / $(cat /tmp/none.err)"
if runuser -u alice -- ls "$WALK/data/homes/bob" >/dev/null 2>&1; then fail "alice reads bob's home"; fi
bob_url=$(runuser -u bob -- ipynbsrv-tui containers list --json | json 'data[0]["url"]')
bob_port=$(json 'data["host_port"]' < /tmp/bob-nb.json)
alice_token=$(python3 -c 'import sys; from urllib.parse import urlsplit, parse_qs; print(parse_qs(urlsplit(sys.argv[1]).query)["token"][0])' "$alice_url")
bob_path=$(python3 -c 'import sys; from urllib.parse import urlsplit; print(urlsplit(sys.argv[1]).path)' "$bob_url")
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${bob_port}${bob_path}api/contents?token=$alice_token")
[ "$status" = 403 ] || fail "alice's token opens bob's notebook (HTTP $status)"
if runuser -u alice -- test -r /var/lib/ipynbsrv/ipynbsrv.db; then fail "alice reads the database"; fi
if runuser -u alice -- test -w /var/run/docker.sock; then fail "alice may use the Docker socket"; fi
grep -Eq '^[0-9-]{10}T[0-9:.]+ WARNING ipynbsrv.audit: refused alice \(uid [0-9]+\): container\.' /var/log/ipynbsrv-broker.log \
    || fail "the broker log has no refusal line for alice: $(grep -i refus /var/log/ipynbsrv-broker.log | tail -3)"
grep -E 'refused alice' /var/log/ipynbsrv-broker.log | tail -1 | sed 's/^/    broker log: /'

step "operating it: with the broker gone, alice is told so (never embedded mode)"
pkill -TERM -f 'ipynbsrv-tui --config /etc/ipynbsrv/config.toml serve' || true
for _ in $(seq 100); do [ -S /run/ipynbsrv/ipynbsrv.sock ] || break; sleep 0.1; done
out=$(runuser -u alice -- ipynbsrv-tui containers list 2>&1 || true)
grep -q "notebook service is not running" <<<"$out" || fail "alice without a broker: $out"
echo "    $out"

python3 "$WALK/walk_login.py" retry alice "$PASSWORD_ALICE" "$WALK_SSH_PORT" alicenb \
    /opt/ipynbsrv/venv/bin/ipynbsrv-tui --config /etc/ipynbsrv/config.toml serve
[ -S /run/ipynbsrv/ipynbsrv.sock ] || fail "the broker did not come back"

step "Uninstalling: deploy/uninstall.sh, with the broker and both notebooks running"
instance=$(python3 -c 'import sqlite3; print(sqlite3.connect("/var/lib/ipynbsrv/ipynbsrv.db").execute("SELECT value FROM setting WHERE key = ?", ("instance.id",)).fetchone()[0])')
engine() {  # engine KIND: the objects of KIND labelled with this installation's id, as JSON
    curl -fsS --unix-socket /var/run/docker.sock -G "http://engine/$1/json" --data-urlencode all=1 \
        --data-urlencode "filters={\"label\": [\"ipynbsrv.instance=$instance\"]}"
}
[ "$(engine containers)" != "[]" ] || fail "no container carries ipynbsrv.instance=$instance before the uninstall"
cd /usr/local/src/ipynbsrv-tui
deploy/uninstall.sh | sed 's/^/    /'
for path in /opt/ipynbsrv /usr/local/bin/ipynbsrv-tui /etc/ssh/sshd_config.d/ipynbsrv.conf /run/ipynbsrv; do
    [ ! -e "$path" ] || fail "uninstall.sh left $path"
done
pgrep -f 'ipynbsrv-tui .*serve' >/dev/null && fail "uninstall.sh left the broker running"
[ "$(engine containers)" = "[]" ] || fail "uninstall.sh left containers: $(engine containers | head -c 300)"
[ "$(engine images)" = "[]" ] || fail "uninstall.sh left images: $(engine images | head -c 300)"
[ -f /var/lib/ipynbsrv/ipynbsrv.db ] && [ -d "$WALK/data/homes/alice" ] && [ -f /etc/ipynbsrv/config.toml ] \
    || fail "uninstall.sh without --purge removed the data"
id alice >/dev/null 2>&1 || fail "uninstall.sh without --purge removed alice's host account"
deploy/uninstall.sh --purge | sed 's/^/    /'
for path in /etc/ipynbsrv /var/lib/ipynbsrv "$WALK/data" /home/alice /home/bob; do
    [ ! -e "$path" ] || fail "uninstall.sh --purge left $path"
done
for account in alice bob; do
    if id "$account" >/dev/null 2>&1; then fail "uninstall.sh --purge left the host account $account"; fi
done
if getent group ipynbsrv-users >/dev/null; then fail "uninstall.sh --purge left the host group ipynbsrv-users"; fi
echo "    nothing of ours is left: no files, engine objects (ipynbsrv.instance=$instance), accounts or snippet"
cd /
