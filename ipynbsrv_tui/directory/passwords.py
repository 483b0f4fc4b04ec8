"""Password checks and hashing for both directories.

- LocalDirectory keeps a salted scrypt hash (`hash_password` / `verify_password`) in
  `store.User.password_hash`; the clear text is never stored or logged.
- LdapDirectory writes `{SSHA}` (salted SHA-1) `userPassword` values (`ldap_password_hash`).
  slapd verifies `{SSHA}` natively on every simple bind, and nslcd/PAM authenticate by
  binding as the user, so the same value serves the host, the containers and this app.
  `{CRYPT}$6$` would need the `crypt` module, which Python 3.13 removes, and depends on
  slapd's crypt(3) build.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

# scrypt cost: n=2**14, r=8, p=1 uses 16 MiB and about 50 ms per hash.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32
_SALT_BYTES = 16
_PREFIX = "scrypt"


def hash_password(password: str) -> str:
    """A salted scrypt hash: `scrypt$<n>$<r>$<p>$<salt b64>$<key b64>`."""
    salt = os.urandom(_SALT_BYTES)
    key = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _SCRYPT_LEN)
    return "$".join([_PREFIX, str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(key)])


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches a hash made by `hash_password` (constant-time compare)."""
    if not password or not stored:
        return False
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _PREFIX:
        return False
    try:
        n, r, p = (int(value) for value in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return False
    if not (2 <= n <= 2**17 and 1 <= r <= 32 and 1 <= p <= 16 and 16 <= len(expected) <= 64):
        return False
    actual = _scrypt(password, salt, n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)


def ldap_password_hash(password: str) -> str:
    """A salted `{SSHA}` userPassword value for slapd (8 random bytes of salt)."""
    from ldap3 import HASHED_SALTED_SHA  # imported here: the local directory never needs ldap3
    from ldap3.utils.hashed import hashed

    value: str = hashed(HASHED_SALTED_SHA, password)  # ldap3 writes the scheme as "{ssha}"
    return "{SSHA}" + value[len("{ssha}") :]


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=128 * r * (n + p) + 2**20
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
