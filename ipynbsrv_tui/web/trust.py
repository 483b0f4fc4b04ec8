"""What the gateway checks about a request before a notebook sees it (DESIGN §16, threat model).

nginx adds the notebook's token to every request it forwards, so Jupyter takes each one as
token-authenticated and skips its own XSRF and websocket Origin checks. These checks stand in
for them, on the request as nginx received it:

- `cross_origin`: a request that changes something (any method but GET/HEAD) or opens a
  websocket must come from the gateway's own origin (`Origin`, else `Sec-Fetch-Site`, else
  `Referer`). A sibling subdomain is the same *site*, so `SameSite=Lax` alone lets it through.
- `xsrf_ok`: such a request (websockets aside) carries Jupyter's `_xsrf` cookie and the same
  token in `X-XSRFToken` (or `_xsrf` in the query), as Jupyter itself would demand.
- `cookie_values`: every value of a cookie, found the way nginx's map finds the session cookie.
- `notebook_of`: the notebook an address names, for the raw and the normalised path alike.
"""

from __future__ import annotations

import binascii
import hmac
import re
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD"})
_NOTEBOOK_PATH = re.compile(r"^/user/([^/?#]+)/([^/?#]+)(?:/|$)")


def notebook_of(uri: str) -> tuple[str, str] | None:
    """(owner, name) of a `/user/<owner>/<name>/…` address."""
    match = _NOTEBOOK_PATH.match(urlsplit(uri).path)
    return (match.group(1), match.group(2)) if match else None


def cookie_values(headers: Iterable[str], name: str) -> list[str]:
    """Every value of cookie `name` in these Cookie headers, matched as nginx's map matches it
    (`(^|;) *name=` up to the next `;`), so the broker and nginx never disagree on what is there."""
    joined = "; ".join(headers)
    return re.findall(rf"(?:^|;)\s*{re.escape(name)}=([^;]*)", joined)


def cookie_value(headers: Iterable[str], name: str) -> str | None:
    values = cookie_values(headers, name)
    return values[0].strip().strip('"') if len(values) == 1 else None


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme.lower(), parts.hostname.lower(), port or default


def same_origin(url: str, host: str) -> bool:
    """True when `url`'s origin is `https://<host>` (the Host the browser asked nginx for)."""
    if not host:
        return False
    return _origin(url) is not None and _origin(url) == _origin(f"https://{host}")


def cross_origin(method: str, upgrade: str, origin: str | None, fetch_site: str | None,
                 referer: str | None, host: str) -> str | None:
    """Why this request must not reach a notebook as coming from another origin, or None.

    GET and HEAD pass (they change nothing in Jupyter); any other method and every websocket
    upgrade must show the gateway's own origin. A client that sends none of the three headers is
    not a browser (curl, a script holding its own cookie) and cannot be made to send a request.
    """
    if method.upper() in SAFE_METHODS and upgrade.lower() != "websocket":
        return None
    if origin is not None:
        return None if same_origin(origin, host) else f"Origin {origin[:100]!r}"
    if fetch_site is not None:
        return None if fetch_site in ("same-origin", "none") else f"Sec-Fetch-Site {fetch_site[:30]!r}"
    if referer is not None:
        return None if same_origin(referer, host) else "a Referer from another origin"
    return None


def needs_xsrf(method: str, upgrade: str) -> bool:
    return method.upper() not in SAFE_METHODS | {"OPTIONS"} and upgrade.lower() != "websocket"


def _xsrf_secret(token: str) -> bytes | None:
    """The secret inside one of Tornado's `_xsrf` tokens (versions 2, 1 and 0 of its format)."""
    token = token.strip().strip('"')
    if not token:
        return None
    try:
        if token.startswith("2|"):
            _version, mask_hex, masked_hex, _timestamp = token.split("|")
            mask, masked = binascii.a2b_hex(mask_hex), binascii.a2b_hex(masked_hex)
        elif len(token) == 64 and all(ch in "0123456789abcdefABCDEF" for ch in token):
            raw = binascii.a2b_hex(token)
            mask, masked = raw[:4], raw[4:]
        else:
            return token.encode()
    except (ValueError, binascii.Error):
        return None
    if len(mask) != 4 or not masked:
        return None
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(masked))


def xsrf_ok(cookie_headers: Iterable[str], header: str | None, uri: str) -> bool:
    """Jupyter's rule: an `_xsrf` cookie and the header (or `_xsrf` query argument) hold the same secret."""
    given = header or next(iter(parse_qs(urlsplit(uri).query).get("_xsrf", [])), None)
    offered = _xsrf_secret(given) if given else None
    if offered is None:
        return False
    for cookie in cookie_values(cookie_headers, "_xsrf"):  # one per notebook path the browser holds
        expected = _xsrf_secret(cookie)
        if expected is not None and hmac.compare_digest(expected, offered):
            return True
    return False
