"""Web sessions: signed expiring cookies, CSRF tokens, and the login throttle.

A cookie is `<session id>.<expiry>.<HMAC-SHA256 of both>` under a secret only the broker holds.
The session ids live in the broker's memory too, so logout ends a session for good (a copied
cookie stops working) and a broker restart signs everyone out. A session is bound to the account
as it was at login (row, uid, credential version): the caller compares that binding with the
store on every request, so a delete, a password change or a disable ends it at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class Session:
    """One browser's login."""

    sid: str
    username: str
    expires: float
    binding: str = ""  # the account's row, uid and credential version at login (DESIGN §16)


class SessionStore:
    """The live sessions, and the cookies that name them."""

    def __init__(self, secret: bytes, lifetime: float) -> None:
        self._secret = secret
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def create(self, username: str, binding: str = "") -> tuple[Session, str]:
        """A new session for `username` (bound to `binding`) and its cookie value."""
        session = Session(secrets.token_urlsafe(24), username, time.time() + self.lifetime, binding)
        with self._lock:
            now = time.time()
            for sid in [sid for sid, s in self._sessions.items() if s.expires < now]:
                del self._sessions[sid]
            self._sessions[session.sid] = session
        body = f"{session.sid}.{int(session.expires)}"
        return session, f"{body}.{self._sign(body)}"

    def lookup(self, cookie: str | None) -> Session | None:
        """The live session a cookie names, or None (unsigned, altered, expired or ended)."""
        if not cookie or len(cookie) > 200:
            return None
        body, _, signature = cookie.rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            return None
        sid, _, expires = body.partition(".")
        if not expires.isdigit() or int(expires) < time.time():
            return None
        with self._lock:
            session = self._sessions.get(sid)
        if session is None or session.expires < time.time():
            return None
        return session

    def end(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def end_user(self, username: str, keep: str | None = None) -> int:
        """End every session of a user but those bound to `keep` (the account as it is now); how many
        ended."""
        with self._lock:
            ended = [sid for sid, s in self._sessions.items()
                     if s.username == username and (keep is None or s.binding != keep)]
            for sid in ended:
                del self._sessions[sid]
        return len(ended)

    def csrf_token(self, purpose: str, binding: str) -> str:
        """The form token for `purpose`, bound to a value of the browser's own cookie."""
        return self._sign(f"csrf:{purpose}:{binding}")

    def check_csrf(self, purpose: str, binding: str | None, token: str | None) -> bool:
        if not binding or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(purpose, binding))


class LoginThrottle:
    """Failed logins, counted so that guessing is slow and nobody can lock another user out.

    - per address and account: `pair_limit` failures within `window` block that address for that
      account only (another address still logs in: the account is not locked);
    - per address: `address_limit` failures within `address_window` block the address for every
      account (nginx also limits login posts per address);
    - per account, from all addresses together: `account_limit` failures within `account_window`,
      the slower global cap against guesses spread over many addresses. It blocks only addresses
      that have not logged into the account before, so the account's owner keeps logging in
      from where they did.

    The account is the exact name the directory authenticates (`validation.username`).
    """

    KNOWN_MAX = 10_000

    def __init__(
        self,
        pair_limit: int = 5,
        window: float = 60.0,
        address_limit: int = 30,
        address_window: float = 300.0,
        account_limit: int = 50,
        account_window: float = 3600.0,
    ) -> None:
        self._rules = {"pair": (pair_limit, window), "addr": (address_limit, address_window),
                       "account": (account_limit, account_window)}
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._known: dict[tuple[str, str], float] = {}  # (account, address) that logged in, and when
        self._lock = threading.Lock()

    def _keys(self, account: str, address: str) -> list[tuple[str, ...]]:
        keys: list[tuple[str, ...]] = [("addr", address)]
        if account:
            keys.append(("pair", account, address))
            if (account, address) not in self._known:
                keys.append(("account", account))
        return keys

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] < now - self._rules[key[0]][1]:
            times.popleft()
        return times

    def blocked(self, account: str, address: str) -> float:
        """Seconds to wait before this address may try this account again (0 = go ahead)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in self._keys(account, address):
                limit, window = self._rules[key[0]]
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[-limit] + window - now)
        return wait

    def failed(self, account: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 10_000:
                longest = max(window for _limit, window in self._rules.values())
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - longest}
            keys = [("addr", address)] + (
                [("pair", account, address), ("account", account)] if account else []
            )
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, account: str, address: str) -> None:
        with self._lock:
            self._failures.pop(("pair", account, address), None)
            if len(self._known) >= self.KNOWN_MAX:
                for pair in sorted(self._known, key=self._known.__getitem__)[: self.KNOWN_MAX // 10]:
                    del self._known[pair]
            self._known[(account, address)] = time.monotonic()
