"""Defences of the login that live in the memory of the one process serving the console, so a flood
of guesses cannot slow everyone else down nor tell real login names from made-up ones:

- sliding windows of login attempts per client address and per login name, checked before any
  password is hashed (`LoginThrottled`, HTTP 429); a successful login gives its attempt back, so an
  office behind one address is not throttled by its own people logging in;
- a bounded pool of password checks (argon2id takes 64 MiB and tens of milliseconds of a core each):
  at most `login_hashing_slots` run at once, a check waits `login_hashing_wait_seconds` for a slot and
  is then refused (`HashingBusy`, HTTP 503);
- failed attempts at login names no account has, counted like an account counts its own, so such a
  name "locks" after as many failures, with the same answer as a real account.

State is bounded: each table forgets its oldest key past `MAX_KEYS`. A restart forgets it all, which
is fine: the lockout of real accounts is in the database.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from yuqing.accounts.models import HashingBusy, LoginThrottled
from yuqing.runtime import Runtime

MAX_KEYS = 10_000
THROTTLED = "登录尝试过于频繁，请 {seconds} 秒后再试"
BUSY = "服务器正忙于处理其他登录，请 {seconds} 秒后再试"


class SlidingWindow:
    """Attempts per key in the last `window` seconds, for at most `max_keys` keys."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_keys = max_keys

    def wait(self, key: str, now: float, limit: int, window: float) -> float:
        """Seconds until `key` may make another attempt; 0 when it may now."""
        hits = self._hits.get(key)
        if hits is None:
            return 0.0
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) < limit:
            return 0.0
        return max(hits[0] + window - now, 0.001)

    def add(self, key: str, now: float) -> None:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        hits.append(now)

    def give_back(self, key: str) -> None:
        """Take back the newest attempt of `key` (it turned out to be a successful login)."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    def __len__(self) -> int:
        return len(self._hits)


@dataclass
class _Strikes:
    failures: int = 0
    locked_until: dt.datetime | None = None


class UnknownLogins:
    """Failed attempts at login names no account has, counted as `accounts.authenticate` counts an
    account's: `max_failures` in a row lock the name for the lockout time."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._strikes: OrderedDict[str, _Strikes] = OrderedDict()
        self._max_keys = max_keys

    def locked_until(self, login: str, now: dt.datetime) -> dt.datetime | None:
        strikes = self._strikes.get(login)
        if strikes is None or strikes.locked_until is None or strikes.locked_until <= now:
            return None
        return strikes.locked_until

    def fail(
        self, login: str, now: dt.datetime, max_failures: int, lockout: dt.timedelta
    ) -> dt.datetime | None:
        """Count one failure; when the name is (now or already) locked, until when."""
        strikes = self._strikes.get(login)
        if strikes is None:
            strikes = self._strikes[login] = _Strikes()
            while len(self._strikes) > self._max_keys:
                self._strikes.popitem(last=False)
        else:
            self._strikes.move_to_end(login)
        if strikes.locked_until is not None and strikes.locked_until > now:
            return strikes.locked_until
        strikes.failures += 1
        if strikes.failures >= max_failures:
            strikes.failures = 0
            strikes.locked_until = now + lockout
            return strikes.locked_until
        return None


class HashingPool:
    """At most `slots` password checks at once; a check waits up to `wait_seconds` for a slot."""

    def __init__(self, slots: int, wait_seconds: float) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._wait = wait_seconds

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self._wait):
            seconds = max(1, math.ceil(self._wait))
            raise HashingBusy(BUSY.format(seconds=seconds), retry_after=seconds, scope="hashing")
        try:
            yield
        finally:
            self._slots.release()


class LoginGuard:
    """The in-memory defences of one serving process (see the module docstring). Limits are read from
    the runtime's settings at each attempt, except the number of hashing slots, read at creation."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._lock = threading.Lock()
        self._by_address = SlidingWindow()
        self._by_login = SlidingWindow()
        self._refused: set[str] = set()  # keys refused since their last admitted attempt
        self.unknown = UnknownLogins()
        self.pool = HashingPool(rt.settings.login_hashing_slots, rt.settings.login_hashing_wait_seconds)

    def admit(self, address: str | None, login: str, now: dt.datetime, *, known_device: bool = False) -> None:
        """Count one login attempt, or raise LoginThrottled (nothing counted) when the address or the
        login name has made its allowed number of attempts within the window. `first` on the error
        is true only for the first refusal of a run, so a flood writes one audit line, not thousands.
        From a browser that has logged in to the account before (`known_device`) the login name's
        limit does not apply: a flood of guesses at the name from elsewhere must not keep its owner
        out (the browser counts its own failures, `accounts.service`)."""
        settings = self._rt.settings
        moment = now.timestamp()
        window = settings.login_attempt_window_seconds
        keys = (
            []
            if known_device
            else [("login", "l:" + login, self._by_login, settings.login_attempts_per_login)]
        )
        if address:
            keys.insert(0, ("address", "a:" + address, self._by_address, settings.login_attempts_per_address))
        with self._lock:
            for scope, key, windows, limit in keys:
                wait = windows.wait(key, moment, limit, window)
                if wait > 0:
                    first = key not in self._refused
                    self._refused.add(key)
                    if len(self._refused) > 2 * MAX_KEYS:
                        self._refused.clear()
                    seconds = max(1, math.ceil(wait))
                    raise LoginThrottled(
                        THROTTLED.format(seconds=seconds), retry_after=seconds, scope=scope, first=first
                    )
            for _scope, key, windows, _limit in keys:
                windows.add(key, moment)
                self._refused.discard(key)

    def succeeded(self, address: str | None, login: str, *, known_device: bool = False) -> None:
        """A successful login gives its attempt back to the address and the login name (a known
        browser's took none from the name)."""
        with self._lock:
            if not known_device:
                self._by_login.give_back("l:" + login)
            if address:
                self._by_address.give_back("a:" + address)

    def unknown_login_failed(self, login: str, now: dt.datetime) -> dt.datetime | None:
        """Count a failure at a login name no account has; until when it is locked, if it is."""
        settings = self._rt.settings
        lockout = dt.timedelta(minutes=settings.login_lockout_minutes)
        with self._lock:
            return self.unknown.fail(login, now, settings.login_max_failures, lockout)

    def unknown_login_locked(self, login: str, now: dt.datetime) -> dt.datetime | None:
        with self._lock:
            return self.unknown.locked_until(login, now)
