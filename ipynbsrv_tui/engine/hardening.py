"""What every notebook container runs with, in both modes (DESIGN §5, README "Security").

Every capability is dropped, then only those base-ldap's entrypoint and sshd use come back:
CHOWN, DAC_OVERRIDE, FOWNER (the entrypoint lays out /data and hands files to the owner),
SETUID, SETGID (nslcd, setpriv to the owner, sshd's login), KILL (tini and sshd signal their
children), SYS_CHROOT (sshd's privilege separation), AUDIT_WRITE (sshd's and PAM's login records).
Binding port 22 needs no NET_BIND_SERVICE: Docker sets ip_unprivileged_port_start=0 in a
container's own network namespace.
"""

from __future__ import annotations

DROPPED_CAPABILITIES = ("ALL",)
KEPT_CAPABILITIES = (
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "KILL",
    "SETGID",
    "SETUID",
    "SYS_CHROOT",
)
# Single-host containers only: Docker 20.10's service API has no such option, so in swarm mode
# base-ldap's entrypoint sets it itself (`setpriv --no-new-privs`) on the command it runs as the owner.
SECURITY_OPTIONS = ("no-new-privileges",)
