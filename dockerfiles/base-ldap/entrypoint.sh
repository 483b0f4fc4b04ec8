#!/bin/sh
# ipynbsrv base-ldap entrypoint. Runs as root under tini, prepares the container for its owner,
# then execs the image's command as the owner (never as root).
#
# Environment:
#   OWNER          (required) user the command runs as; the only user who may log in
#   NB_UID, NB_GID uid/gid of OWNER when LDAP is not configured (or does not know OWNER)
#   NB_GROUPS      comma-separated gids of the shares OWNER may use (supplementary groups of the command)
#   LDAP_URI       LDAP server(s) for nslcd, e.g. ldap://10.0.0.1 (space-separated list allowed)
#   LDAP_BASE      search base for users and groups, e.g. dc=example,dc=org
#   LDAP_USER_BASE, LDAP_GROUP_BASE  narrower bases for users / groups (optional)
#   LDAP_START_TLS 1 = upgrade ldap:// with StartTLS
#   LDAP_TLS_REQCERT  nslcd tls_reqcert (never, allow, try, demand; default demand)
#   LDAP_WAIT      seconds to wait for LDAP to answer for OWNER (default 15)
#   PUBLIC_PORTS   the image's public ports ("22", "22,8080"); sshd starts when 22 is among them
#   SSHD           1 / 0 forces sshd on / off regardless of PUBLIC_PORTS
#   SSHD_PORT      port sshd listens on inside the container (default 22; for host networking)
#   SSHD_LISTEN_ADDRESS  address sshd listens on (default: all)
set -eu

PROG=ipynbsrv-entrypoint

die() {
    echo "$PROG: $*" >&2
    exit 64
}

say() {
    echo "$PROG: $*" >&2
}

is_number() {
    case "$1" in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

is_user_id() {
    # a uid/gid a person may have: plain decimal 1..4294967294 (0 is root; 00 and 4294967295 = -1 mean it too)
    case "$1" in
        '' | 0* | *[!0-9]*) return 1 ;;
    esac
    [ "${#1}" -le 10 ] && [ "$1" -le 4294967294 ]
}

# ---------------------------------------------------------------- checks

[ "$(id -u)" = 0 ] || die "the entrypoint must start as root to prepare the container (it then runs the command as \$OWNER); do not start it with --user"

OWNER="${OWNER:-}"
[ -n "$OWNER" ] || die "OWNER is not set. Start the container with -e OWNER=<username>: the notebook runs as that user and only that user may log in."
[ "$(printf '%s' "$OWNER" | wc -l)" = 0 ] && printf '%s\n' "$OWNER" | grep -Eq '^[A-Za-z_][A-Za-z0-9_.-]{0,31}$' \
    || die "OWNER='$OWNER' is not a valid user name (letters, digits, _ . -, at most 32, not starting with a digit, . or -)."
[ "$OWNER" != root ] || die "OWNER=root is refused: the command never runs as root."
local_uid=$(awk -F: -v u="$OWNER" '$1 == u { print $3 }' /etc/passwd)
if [ -n "$local_uid" ] && [ "$local_uid" -lt 1000 ]; then
    die "OWNER='$OWNER' is a system account of the image (uid $local_uid); use a person's user name."
fi
NB_GROUPS="${NB_GROUPS:-}"
for extra_gid in $(printf '%s' "$NB_GROUPS" | tr ',' ' '); do
    is_user_id "$extra_gid" || die "NB_GROUPS='$NB_GROUPS' must be gids from 1 to 4294967294, separated by commas."
done
for var in NB_UID NB_GID; do
    eval "value=\${$var:-}"
    if [ -n "$value" ]; then
        [ "$value" != 0 ] || die "$var=0 is refused: the command never runs as root."
        is_user_id "$value" || die "$var='$value' is not a plain number from 1 to 4294967294."
    fi
done

# ---------------------------------------------------------------- users

set_nsswitch() {
    sed -ri "s/^(passwd|group|shadow):.*/\1: $1/" /etc/nsswitch.conf
}

remove_entry() {
    # remove_entry NAME FILE...: drop NAME's line from colon-separated account files
    name=$1
    shift
    for file in "$@"; do
        awk -F: -v n="$name" '$1 != n' "$file" >"$file.ipynbsrv-new"
        chmod --reference="$file" "$file.ipynbsrv-new"
        chown --reference="$file" "$file.ipynbsrv-new"
        mv "$file.ipynbsrv-new" "$file"
    done
}

write_local_user() {
    uid=$1
    gid=$2
    group=$(awk -F: -v g="$gid" '$3 == g { print $1; exit }' /etc/group)
    if [ -z "$group" ]; then
        group=$OWNER
        remove_entry "$OWNER" /etc/group /etc/gshadow
        printf '%s:x:%s:\n' "$group" "$gid" >>/etc/group
        printf '%s:!::\n' "$group" >>/etc/gshadow
    fi
    remove_entry "$OWNER" /etc/passwd /etc/shadow
    printf '%s:x:%s:%s:%s:/home/%s:/bin/bash\n' "$OWNER" "$uid" "$gid" "$OWNER" "$OWNER" >>/etc/passwd
    printf '%s:*:%s:0:99999:7:::\n' "$OWNER" "$(($(date +%s) / 86400))" >>/etc/shadow
    say "wrote a local account $OWNER (uid $uid, gid $gid) without a password"
}

start_nslcd() {
    [ -n "${LDAP_BASE:-}" ] || die "LDAP_URI is set but LDAP_BASE is not; pass -e LDAP_BASE=<search base>, e.g. dc=example,dc=org."
    umask 027
    {
        echo "# written by $PROG from LDAP_URI / LDAP_BASE"
        echo "uid nslcd"
        echo "gid nslcd"
        echo "uri $LDAP_URI"
        echo "base $LDAP_BASE"
        if [ -n "${LDAP_USER_BASE:-}" ]; then
            echo "base passwd $LDAP_USER_BASE"
            echo "base shadow $LDAP_USER_BASE"
        fi
        if [ -n "${LDAP_GROUP_BASE:-}" ]; then
            echo "base group $LDAP_GROUP_BASE"
        fi
        echo "nss_min_uid 1000"
        echo "nss_initgroups_ignoreusers ALLLOCAL"
        echo "map passwd homeDirectory \"/home/\$uid\""
        echo "map passwd loginShell \"/bin/bash\""
        echo "tls_cacertfile /etc/ssl/certs/ca-certificates.crt"
        echo "tls_reqcert ${LDAP_TLS_REQCERT:-demand}"
        case "${LDAP_START_TLS:-0}" in
            1 | yes | true) echo "ssl start_tls" ;;
        esac
    } >/etc/nslcd.conf
    umask 022
    chown root:nslcd /etc/nslcd.conf
    install -d -o nslcd -g nslcd -m 0755 /run/nslcd
    rm -f /run/nslcd/nslcd.pid /run/nslcd/socket
    set_nsswitch "files ldap"
    /usr/sbin/nslcd || die "nslcd did not start; check LDAP_URI='$LDAP_URI' and LDAP_BASE='$LDAP_BASE'."
}

if [ -n "${LDAP_URI:-}" ]; then
    # A local entry left by an earlier start without LDAP would hide the directory's.
    if [ -n "$local_uid" ]; then
        remove_entry "$OWNER" /etc/passwd /etc/shadow
    fi
    start_nslcd
    wait=${LDAP_WAIT:-15}
    is_number "$wait" || die "LDAP_WAIT='$wait' is not a number of seconds."
    tries=$((wait * 5))
    while ! getent passwd "$OWNER" >/dev/null; do
        tries=$((tries - 1))
        if [ "$tries" -le 0 ]; then
            if [ -n "${NB_UID:-}" ]; then
                say "LDAP at $LDAP_URI does not know $OWNER after ${wait}s; falling back to NB_UID/NB_GID"
                write_local_user "$NB_UID" "${NB_GID:-$NB_UID}"
                break
            fi
            die "LDAP at $LDAP_URI (base $LDAP_BASE) does not know user $OWNER after ${wait}s. Check the URI, the base and that the user exists, or pass NB_UID/NB_GID."
        fi
        sleep 0.2
    done
else
    set_nsswitch "files"
    if [ -z "$(awk -F: -v u="$OWNER" '$1 == u' /etc/passwd)" ] || [ -n "${NB_UID:-}" ]; then
        [ -n "${NB_UID:-}" ] || die "neither LDAP_URI nor NB_UID is set: pass -e LDAP_URI=… -e LDAP_BASE=… or -e NB_UID=<uid> [-e NB_GID=<gid>] for $OWNER."
        current=$(awk -F: -v u="$OWNER" '$1 == u { print $3 ":" $4 }' /etc/passwd)
        if [ "$current" != "$NB_UID:${NB_GID:-$NB_UID}" ]; then
            write_local_user "$NB_UID" "${NB_GID:-$NB_UID}"
        fi
    fi
fi

entry=$(getent passwd "$OWNER") || die "user $OWNER cannot be resolved"
uid=$(echo "$entry" | cut -d: -f3)
gid=$(echo "$entry" | cut -d: -f4)
[ "$uid" != 0 ] || die "user $OWNER resolves to uid 0; refusing to run the command as root."
is_user_id "$uid" || die "user $OWNER resolves to uid $uid; refusing to run the command with it."
is_user_id "$gid" || die "user $OWNER resolves to group id $gid; refusing to run the command with it (0 is root's group)."
if [ -n "${NB_UID:-}" ] && [ "$NB_UID" != "$uid" ]; then
    say "NB_UID=$NB_UID differs from $OWNER's uid $uid in the directory; using $uid"
fi

# Only the owner may log in (pam_listfile in common-auth and common-account).
printf '%s\n' "$OWNER" >/etc/ipynbsrv/login.allowed
chmod 0644 /etc/ipynbsrv/login.allowed

# ---------------------------------------------------------------- /data layout

home=/home/$OWNER
if [ ! -d "$home" ]; then
    install -d -o "$uid" -g "$gid" -m 0700 "$home"
    say "$home was not mounted; created an empty one inside the container"
fi
install -d -m 0755 /data/shares /data/public
# A share mounted at an earlier start leaves its empty mount point in the container's own layer
# (a restart after a revoke makes the container again from it): remove those not mounted now.
for entry in /data/shares/* /data/shares/.[!.]*; do
    if [ -d "$entry" ] && ! mountpoint -q "$entry"; then
        rmdir "$entry" 2>/dev/null || say "$entry is not a mounted share but not empty either; left in place"
    fi
done
if [ -L /data/home ] || [ ! -e /data/home ]; then
    ln -sfn "$home" /data/home
fi
# /data itself is the container's own notebook folder. After a clone or a commit made for
# another user, hand the container's own files (not home, shares, public) to this owner.
if [ "$(stat -c %u /data)" != "$uid" ]; then
    find /data -xdev -mindepth 1 -maxdepth 1 ! -name home ! -name shares ! -name public \
        -exec chown -R -h "$uid:$gid" {} +
    chown "$uid:$gid" /data
fi

# ---------------------------------------------------------------- sshd

want_sshd=0
case "${SSHD:-}" in
    1 | yes | true) want_sshd=1 ;;
    0 | no | false) want_sshd=0 ;;
    '')
        for port in $(printf '%s' "${PUBLIC_PORTS:-}" | tr ',;' '  '); do
            if [ "${port%/tcp}" = 22 ]; then want_sshd=1; fi
        done
        ;;
    *) die "SSHD='$SSHD' must be 1 or 0 (or unset: then sshd runs when PUBLIC_PORTS contains 22)." ;;
esac
if [ "$want_sshd" = 1 ]; then
    sshd_port=${SSHD_PORT:-22}
    is_number "$sshd_port" || die "SSHD_PORT='$sshd_port' is not a port number."
    sshd_options="-p $sshd_port"
    if [ -n "${SSHD_LISTEN_ADDRESS:-}" ]; then
        printf '%s\n' "$SSHD_LISTEN_ADDRESS" | grep -Eq '^[0-9A-Za-z.:-]+$' \
            || die "SSHD_LISTEN_ADDRESS='$SSHD_LISTEN_ADDRESS' is not an address."
        sshd_options="$sshd_options -o ListenAddress=$SSHD_LISTEN_ADDRESS"
    fi
    install -d -m 0755 /run/sshd
    # Alongside the command, not before it: making host keys on a first start takes seconds, and
    # the notebook must not wait for them (DESIGN §5 readiness). Double fork: sshd is re-parented
    # to tini, and its log (-e) goes to the container's log. A refused configuration is logged and
    # leaves the notebook running without ssh.
    # shellcheck disable=SC2086 # the options are validated words
    ( (
        ssh-keygen -A >/dev/null
        if /usr/sbin/sshd -t $sshd_options; then
            say "sshd starting on port $sshd_port (password login for $OWNER only)"
            exec /usr/sbin/sshd -D -e $sshd_options
        fi
        say "sshd refused its configuration (see above); the container runs without ssh."
    ) &)
fi

# ---------------------------------------------------------------- the command, as the owner

[ "$#" -gt 0 ] || set -- sleep infinity
cd "$home" 2>/dev/null || cd /data
# The owner's groups from the directory plus the share groups the service passed (the local
# directory's groups are unknown to NSS here); files made in shares stay group-writable (umask 002).
groups=$( (id -G "$OWNER" 2>/dev/null || echo "$gid"; printf '%s' "$NB_GROUPS" | tr ',' ' ') \
    | tr ' ' '\n' | grep -E '^[0-9]+$' | grep -vx 0 | sort -un | paste -sd, -)
umask 002
# --no-new-privs: the command and everything it starts can never gain privileges (setuid files,
# file capabilities), also where the engine cannot say so (Docker 20.10's swarm services).
exec env HOME="$home" USER="$OWNER" LOGNAME="$OWNER" SHELL=/bin/bash \
    setpriv --no-new-privs --reuid="$uid" --regid="$gid" --groups="${groups:-$gid}" -- "$@"
