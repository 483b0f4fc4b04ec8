"""The TLS pair nginx serves: checked when configured, made self-signed when not.

The self-signed pair is made with Debian's `openssl` command rather than the `cryptography`
package: the broker then needs no extra Python dependency (nor its import cost in the
broker's memory, DESIGN §12), and `openssl` is on every host that runs nginx with TLS.
Whether a key matches its certificate is checked with the standard `ssl` module.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
from pathlib import Path

from ..domain import ConfigError

SELF_SIGNED_DAYS = 825


def check_pair(cert: str | Path, key: str | Path) -> None:
    """ConfigError (one line saying what to do) unless both files are readable PEM and the key matches."""
    for what, path in (("tls_cert", cert), ("tls_key", key)):
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"web.{what}: cannot read {path}: {exc.strerror}. Check the path and its permissions."
            ) from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        if "KEY_VALUES_MISMATCH" in str(reason).upper():
            raise ConfigError(
                f"web.tls_key {key} does not belong to web.tls_cert {cert}. Give the key of that certificate."
            ) from None
        raise ConfigError(
            f"web.tls_cert / tls_key: {cert} and {key} are not a PEM certificate and key ({reason})."
        ) from None


def make_self_signed(folder: Path, host: str) -> tuple[Path, Path]:
    """A self-signed pair for `host` in `folder` (kept when it is there already and still loads)."""
    cert, key = folder / "self-signed.crt", folder / "self-signed.key"
    if cert.is_file() and key.is_file():
        try:
            check_pair(cert, key)
            return cert, key
        except ConfigError:
            pass
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ConfigError(
            "[web] has no tls_cert and the openssl command is missing to make a self-signed one. "
            "Install it (apt-get install openssl) or set web.tls_cert and web.tls_key."
        )
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            str(SELF_SIGNED_DAYS),
            "-subj",
            f"/CN={host[:64]}",
            "-addext",
            f"subjectAltName={_alt_names(host)}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise ConfigError(f"openssl could not make a self-signed certificate: {result.stderr.strip()[-300:]}")
    key.chmod(0o600)
    return cert, key


def _alt_names(host: str) -> str:
    names = {"DNS:localhost", "IP:127.0.0.1"}
    try:
        names.add(f"IP:{ipaddress.ip_address(host.strip('[]'))}")
    except ValueError:
        names.add(f"DNS:{host}")
    return ",".join(sorted(names))
