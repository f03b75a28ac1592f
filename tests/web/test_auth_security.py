"""The login under attack, through the real app over real databases: parallel guesses against the
lockout (over a real uvicorn server on 127.0.0.1, with real threads), a flood of logins against the
rate limits and the hashing pool, unknown login names that must answer like real ones, weak
passwords, and the login form's CSRF token bound to its pre-session cookie."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import FakeClock
from yuqing.accounts import passwords
from yuqing.accounts import service as accounts
from yuqing.accounts.models import (
    Account,
    AccountLocked,
    AuthenticationFailed,
    KnownDevice,
    PasswordPolicyError,
)
from yuqing.cli.main import app as cli_app
from yuqing.db import transaction
from yuqing.org import service as org
from yuqing.runtime import Runtime
from yuqing.web.app import create_app
from yuqing.web.auth import DEVICE_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE

PASSWORD = "monitor-pass-1"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ERROR = re.compile(r'<p class="[^"]*error[^"]*" role="alert">(.*?)</p>', re.S)
LOCKED = "登录失败次数过多"
MAX_FAILURES = 5


class SpyHasher(PasswordHasher):
    """Still argon2id, with parameters cheap enough for a test suite, counting what the login does
    with it: which hashes passwords were checked against, and how many argon2 runs were at once.
    `delay` stretches each run, as the real 64 MiB parameters do, so parallel requests overlap."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.delay = delay
        self.checked: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    @contextmanager
    def _run(self) -> Iterator[None]:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.delay)
            yield
        finally:
            with self._lock:
                self.running -= 1

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._run():
            with self._lock:
                self.checked.append(hash if isinstance(hash, str) else hash.decode())
            return super().verify(hash, password)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self._run():
            return super().hash(password, salt=salt)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> SpyHasher:
    hasher = SpyHasher()
    monkeypatch.setattr(accounts, "_hasher", hasher)
    return hasher


def _configure(rt: Runtime, **settings: Any) -> None:
    """Settings of this test; the app reads the hashing slots when it is created, so call this first."""
    rt.settings = rt.settings.model_copy(update=settings)


@pytest.fixture
def unit(rt: Runtime) -> int:
    with transaction(rt.sessions) as session:
        return org.create_unit(session, "市卫生健康委员会").id


def _add_person(rt: Runtime, clock: FakeClock, unit: int, login: str, password: str = PASSWORD) -> int:
    """A 监测员 with an account; its id."""
    with transaction(rt.sessions) as session:
        person = org.add_person(session, f"人员{login}", unit)
        org.grant_role(session, person.id, "monitor", unit)
        return accounts.create_account(session, person.id, login, password, now=clock()).id


def _stored_hash(rt: Runtime, account_id: int) -> str:
    with rt.sessions() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.password_hash


@dataclass
class Browser:
    """One browser at the login page: its own cookies and the form's token."""

    client: httpx.Client
    token: str

    def submit(self, login: str, password: str) -> httpx.Response:
        data = {"login": login, "password": password, "csrf_token": self.token, "next": "/"}
        return self.client.post("/login", data=data)


@dataclass
class Server:
    base_url: str
    clients: list[httpx.Client]

    def browsers(self, count: int) -> list[Browser]:
        """`count` browsers, each of which has loaded the login page."""
        browsers = []
        for _ in range(count):
            client = httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=60)
            self.clients.append(client)
            page = client.get("/login")
            found = TOKEN.search(page.text)
            assert page.status_code == 200 and found is not None
            browsers.append(Browser(client, found.group(1)))
        return browsers


@contextmanager
def _server(rt: Runtime) -> Iterator[Server]:
    """The real app under uvicorn on 127.0.0.1, in a thread of this process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    running = Server(f"http://127.0.0.1:{port}", [])
    try:
        yield running
    finally:
        for client in running.clients:
            client.close()
        server.should_exit = True
        thread.join(10)


def _all_at_once(jobs: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the jobs in threads of their own, released together by a barrier."""
    barrier = threading.Barrier(len(jobs))

    def run(job: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return job()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def _error(text: str) -> str:
    found = ERROR.search(text)
    return found.group(1).strip() if found else ""


def _form_login(client: TestClient, login: str, password: str) -> httpx.Response:
    page = client.get("/login")
    found = TOKEN.search(page.text)
    assert found is not None
    form = {"login": login, "password": password, "csrf_token": found.group(1), "next": "/"}
    response: httpx.Response = client.post("/login", data=form)
    return response


# ---- 1: parallel guesses against the lockout ----------------------------------------------------


# Generous limits and many hashing slots, so what is tested is the lockout's count, not the throttle.
RACE_SETTINGS = {
    "login_attempts_per_address": 1000,
    "login_attempts_per_login": 1000,
    "login_hashing_slots": 24,
    "login_hashing_wait_seconds": 60.0,
}


def test_parallel_wrong_passwords_get_no_more_checks_than_the_lockout_allows(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _configure(rt, **RACE_SETTINGS)
    account_id = _add_person(rt, clock, unit, "lilei")
    stored = _stored_hash(rt, account_id)
    spy.delay = 0.2  # as long as a real check: every guess is in flight at once
    with _server(rt) as server:
        first = server.browsers(20)
        answers = _all_at_once(
            [lambda b=b, i=i: b.submit("lilei", f"guess-{i}-xx") for i, b in enumerate(first)]
        )
        assert [a.status_code for a in answers] == [401] * 20
        assert spy.checked.count(stored) <= MAX_FAILURES  # not 20: each guess was counted before its check
        assert sum(LOCKED in a.text for a in answers) >= 20 - MAX_FAILURES + 1
        assert spy.most_at_once > 1  # the guesses really ran in parallel

        [late] = server.browsers(1)
        right = late.submit("lilei", PASSWORD)  # the right password, after the burst: still locked
        assert right.status_code == 401 and LOCKED in right.text
        assert SESSION_COOKIE not in right.cookies

        second = server.browsers(20)
        again = _all_at_once(
            [lambda b=b, i=i: b.submit("lilei", f"again-{i}-xx") for i, b in enumerate(second)]
        )
        assert all(a.status_code == 401 and LOCKED in a.text for a in again)
    assert spy.checked.count(stored) <= MAX_FAILURES  # two bursts of 20, still at most 5 checks
    with rt.sessions() as session:
        account = session.get(Account, account_id)
        assert account is not None and account.locked_until is not None and account.locked_until > clock()


def test_the_right_password_among_parallel_guesses_gets_no_extra_checks(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _configure(rt, **RACE_SETTINGS)
    account_id = _add_person(rt, clock, unit, "lilei")
    stored = _stored_hash(rt, account_id)
    spy.delay = 0.2
    with _server(rt) as server:
        browsers = server.browsers(12)
        jobs = [lambda b=b, i=i: b.submit("lilei", f"guess-{i}-xx") for i, b in enumerate(browsers[:11])]
        jobs.insert(6, lambda: browsers[11].submit("lilei", PASSWORD))
        answers = _all_at_once(jobs)
        checks = spy.checked.count(stored)
        assert checks <= MAX_FAILURES
        # Only an attempt whose password was checked can log in; the rest were refused unchecked.
        assert sum(a.status_code == 303 for a in answers) <= 1
        assert sum(LOCKED in a.text for a in answers) >= len(answers) - MAX_FAILURES
        if answers[6].status_code != 303:  # the right one was not among the checked: it stays out
            [late] = server.browsers(1)
            after = late.submit("lilei", PASSWORD)
            assert after.status_code == 401 and LOCKED in after.text


def test_a_lock_set_while_the_right_password_is_checked_keeps_it_out(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    """The last allowed guess is in flight; a guess beyond it locks the account at once; the right
    password, checked meanwhile, does not unlock it."""
    account_id = _add_person(rt, clock, unit, "lilei")
    for attempt in range(MAX_FAILURES - 1):
        with pytest.raises(AuthenticationFailed):
            accounts.authenticate(rt, "lilei", f"wrong-{attempt}-xx")
    original, armed = spy.verify, [True]

    def verify_while_another_guess_arrives(password_hash: str | bytes, password: str | bytes) -> bool:
        if armed:
            armed.clear()
            with pytest.raises(AccountLocked):
                accounts.authenticate(rt, "lilei", "one-more-guess")  # every allowed attempt is taken
        return original(password_hash, password)

    spy.verify = verify_while_another_guess_arrives  # type: ignore[method-assign]
    with pytest.raises(AccountLocked):
        accounts.authenticate(rt, "lilei", PASSWORD)
    with rt.sessions() as session:
        account = session.get(Account, account_id)
        assert account is not None and account.last_login_at is None


# ---- 5: a flood of logins ----------------------------------------------------------------------


def test_a_flood_of_unknown_logins_is_throttled_before_hashing_and_hashing_is_bounded(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _configure(
        rt,
        login_attempts_per_address=6,
        login_attempts_per_login=1000,
        login_hashing_slots=1,
        login_hashing_wait_seconds=60.0,
    )
    _add_person(rt, clock, unit, "lilei")
    spy.delay = 0.05
    with _server(rt) as server:
        browsers = server.browsers(30)
        answers = _all_at_once(
            [lambda b=b, i=i: b.submit(f"nobody-{i}", "whatever-123") for i, b in enumerate(browsers)]
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [401] * 6 + [429] * 24
    for answer in answers:
        if answer.status_code == 429:
            assert "登录尝试过于频繁" in _error(answer.text)
            assert int(answer.headers["retry-after"]) >= 1
            assert SESSION_COOKIE not in answer.cookies
    assert len(spy.checked) == 6  # the 24 refused attempts cost no hashing at all
    assert spy.most_at_once == 1  # the hashing pool of one slot was never exceeded
    throttled = accounts.list_audit(rt, 100, action="login_throttled")
    assert len(throttled) == 1 and throttled[0].detail["scope"] == "address"  # one line, not 24


def test_attempts_at_one_login_are_limited_from_any_address_and_the_window_slides(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _configure(rt, login_attempts_per_login=3, login_attempt_window_seconds=60.0)
    _add_person(rt, clock, unit, "lilei")
    app = create_app(rt)
    clients = [TestClient(app, follow_redirects=False, client=(f"203.0.113.{n}", 5000)) for n in range(5)]
    answers = [_form_login(client, "lilei", f"guess-{n}-xx").status_code for n, client in enumerate(clients)]
    assert answers == [401, 401, 401, 429, 429]
    assert len(spy.checked) == 3
    clock.advance(seconds=61)
    assert _form_login(clients[4], "lilei", PASSWORD).status_code == 303
    for client in clients:
        client.close()


def test_successful_logins_do_not_use_up_the_address_limit(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _configure(rt, login_attempts_per_address=2, login_attempts_per_login=2)
    _add_person(rt, clock, unit, "lilei")
    with TestClient(create_app(rt), follow_redirects=False) as client:
        for _ in range(5):  # an office behind one address, its people logging in all morning
            assert _form_login(client, "lilei", PASSWORD).status_code == 303
            client.cookies.clear()
        assert _form_login(client, "lilei", "wrong-one-xx").status_code == 401
        assert _form_login(client, "lilei", "wrong-two-xx").status_code == 401
        refused = _form_login(client, "lilei", PASSWORD)
        assert refused.status_code == 429 and "登录尝试过于频繁" in refused.text


def test_logins_wait_briefly_for_a_hashing_slot_then_get_503(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _configure(rt, login_hashing_slots=1, login_hashing_wait_seconds=0.3, login_attempts_per_address=1000)
    spy.delay = 1.5
    _add_person(rt, clock, unit, "lilei")
    spy.checked.clear()
    with _server(rt) as server:
        browsers = server.browsers(5)
        answers = _all_at_once(
            [lambda b=b, i=i: b.submit(f"nobody-{i}", "whatever-123") for i, b in enumerate(browsers)]
        )
    busy = [a for a in answers if a.status_code == 503]
    assert len(busy) >= 3 and sum(a.status_code == 401 for a in answers) >= 1
    for answer in busy:
        assert "服务器正忙" in _error(answer.text) and int(answer.headers["retry-after"]) >= 1
    assert spy.most_at_once == 1


def test_an_unknown_or_locked_login_costs_one_check_with_the_same_parameters(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _configure(rt, login_max_failures=1)
    account_id = _add_person(rt, clock, unit, "lilei")
    stored = _stored_hash(rt, account_id)
    parameters = stored.split("$")[1:4]  # argon2id, v=19, m=…,t=…,p=…
    with TestClient(create_app(rt), follow_redirects=False) as client:
        spy.checked.clear()
        assert _form_login(client, "nobody", "whatever-123").status_code == 401
        [dummy] = spy.checked  # checked against a hash, as long as a real check takes
        assert dummy != stored and dummy.split("$")[1:4] == parameters
        assert LOCKED in _form_login(client, "lilei", "wrong-one-xx").text  # locks at the first failure
        spy.checked.clear()
        assert LOCKED in _form_login(client, "lilei", PASSWORD).text
        assert spy.checked == [dummy]  # locked: one check, and not of the real hash


# ---- 12: unknown logins answer like real ones --------------------------------------------------


def test_unknown_logins_lock_after_as_many_failures_with_the_same_answer(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _add_person(rt, clock, unit, "lilei")
    with TestClient(create_app(rt), follow_redirects=False) as client:

        def answers(login: str) -> list[tuple[int, str]]:
            seen = []
            for attempt in range(MAX_FAILURES + 2):
                response = _form_login(client, login, f"guess-{attempt}-xx")
                seen.append((response.status_code, _error(response.text).replace(login, "LOGIN")))
            return seen

        real, unknown = answers("lilei"), answers("zhangsan")
        assert real == unknown
        assert [status for status, _ in real] == [401] * (MAX_FAILURES + 2)
        assert [LOCKED in text for _, text in real] == [False] * (MAX_FAILURES - 1) + [True] * 3
        assert "15 分钟" in real[MAX_FAILURES - 1][1]
        clock.advance(minutes=16)
        assert _error(_form_login(client, "zhangsan", "guess-x-xx").text) == "用户名或密码错误"
        assert _form_login(client, "lilei", PASSWORD).status_code == 303
    reasons = [e.detail["reason"] for e in accounts.list_audit(rt, 100, action="login_failed")]
    assert reasons.count("unknown_login") == MAX_FAILURES + 3  # the audit log still tells the truth


def test_a_stranger_locking_an_account_does_not_keep_its_owner_out_of_a_browser_they_used(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    """Five wrong guesses at the duty officer's login name from anywhere locked the account for
    everyone, the duty officer's own browser too, in the middle of an emergency. A browser that has
    logged in to the account before counts its own failures and passes the account's lockout and
    the login name's rate limit; a new browser (or the stranger's) is still refused."""
    _configure(rt, login_attempts_per_login=MAX_FAILURES + 1)
    _add_person(rt, clock, unit, "lilei")
    _add_person(rt, clock, unit, "hanmei")
    app = create_app(rt)
    owner = TestClient(app, follow_redirects=False, client=("198.51.100.7", 5000))
    stranger = TestClient(app, follow_redirects=False, client=("203.0.113.9", 5000))
    new_browser = TestClient(app, follow_redirects=False, client=("198.51.100.8", 5000))
    assert _form_login(owner, "lilei", PASSWORD).status_code == 303
    device = owner.cookies.get(DEVICE_COOKIE)
    assert device and device not in str(_devices(rt))  # only its digest is stored
    owner.cookies.delete(SESSION_COOKIE)

    for attempt in range(MAX_FAILURES + 1):
        assert _form_login(stranger, "lilei", f"guess-{attempt}-xx").status_code == 401
    assert _form_login(new_browser, "lilei", PASSWORD).status_code in (401, 429)  # locked, and throttled
    assert _form_login(stranger, "lilei", PASSWORD).status_code in (401, 429)

    assert _form_login(owner, "lilei", PASSWORD).status_code == 303  # the owner's browser
    assert owner.cookies.get(DEVICE_COOKIE) == device  # the same browser, remembered once
    assert len(_devices(rt)) == 1
    # another account's login from the owner's browser is an unknown browser for that account
    owner.cookies.delete(SESSION_COOKIE)
    for attempt in range(MAX_FAILURES):
        _form_login(stranger, "hanmei", f"guess-{attempt}-yy")
    assert LOCKED in _error(_form_login(owner, "hanmei", PASSWORD).text)

    # the browser's own wrong passwords count on it: after as many as lock an account it is
    # forgotten, and the lockout applies to it like to any other
    clock.advance(minutes=1)
    for attempt in range(MAX_FAILURES):
        assert _form_login(owner, "lilei", f"mine-{attempt}-xx").status_code == 401
    assert _devices(rt) == []
    refused = _form_login(owner, "lilei", PASSWORD)
    assert refused.status_code == 401 and LOCKED in _error(refused.text)
    assert "此前登录过的浏览器上仍可照常登录" in _error(refused.text)
    for client in (owner, stranger, new_browser):
        client.close()


def test_a_made_up_or_disabled_accounts_device_cookie_opens_nothing(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    account_id = _add_person(rt, clock, unit, "lilei")
    with TestClient(create_app(rt), follow_redirects=False) as client:
        for attempt in range(MAX_FAILURES):
            _form_login(client, "lilei", f"guess-{attempt}-xx")
        client.cookies.set(DEVICE_COOKIE, "made-up-token", path="/login")
        assert LOCKED in _error(_form_login(client, "lilei", PASSWORD).text)
        clock.advance(minutes=16)
        assert _form_login(client, "lilei", PASSWORD).status_code == 303
        assert len(_devices(rt)) == 1
        with transaction(rt.sessions) as session:
            accounts.set_active(session, account_id, False)
        assert _devices(rt) == []  # a disabled account's browsers are forgotten
        client.cookies.delete(SESSION_COOKIE)
        assert _form_login(client, "lilei", PASSWORD).status_code == 401


def _devices(rt: Runtime) -> list[tuple[str, str, int]]:
    with rt.sessions() as session:
        rows = session.execute(
            select(Account.login, KnownDevice.token_sha256, KnownDevice.failed_attempts).join(
                Account, Account.id == KnownDevice.account_id
            )
        ).all()
    return [(login, digest, failed) for login, digest, failed in rows]


# ---- 11: weak passwords ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "login", "message"),
    [
        ("12345678", None, "至少需要 10 个字符"),
        ("password", None, "至少需要 10 个字符"),
        ("1234567890", None, "全是数字"),
        ("13912345678", None, "全是数字"),
        ("password123", None, "太常见"),
        ("Password2024!", None, "太常见"),
        ("P@ssw0rd2026", None, "太常见"),
        ("qwertyuiop", None, "太常见"),
        ("1qaz2wsx3edc", None, "太常见"),
        ("woaini1314520", None, "太常见"),
        ("abcdabcdabcd", None, "过于简单"),
        ("zhangwei-office", "Zhangwei-Office", "不能与登录名相同"),
        ("lilei-2026-spring", "lilei", "不能包含登录名"),
        ("MyLiLei-secret-9", "lilei", "不能包含登录名"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, login: str | None, message: str) -> None:
    with pytest.raises(PasswordPolicyError, match=message):
        passwords.check_password(password, login=login)


@pytest.mark.parametrize(
    "password",
    [
        accounts.DEMO_PASSWORD,
        "correct-horse-battery",
        "西湖边的三棵老柳树下",
        "monitor-pass-1",
        "li-is-a-short-login",
    ],
)
def test_reasonable_passwords_pass(password: str) -> None:
    passwords.check_password(password, login="li")


def test_the_common_password_list_ships_with_the_package() -> None:
    listed = passwords.common_passwords()
    assert len(listed) >= 3000
    assert {"123456", "password", "12345678", "qwerty", "woaini1314", "1qaz2wsx", "admin123"} <= listed
    assert all(entry == entry.lower() and entry.strip() == entry and entry for entry in listed)
    generated = accounts.generate_password("admin")
    passwords.check_password(generated, login="admin")


def test_weak_passwords_are_refused_by_the_cli(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _add_person(rt, clock, unit, "lilei")
    with transaction(rt.sessions) as session:
        org.add_person(session, "赵六", unit)
    runner = CliRunner()
    common = runner.invoke(
        cli_app, ["users", "add", "赵六", "--login", "zhaoliu", "--password", "password123"]
    )
    assert common.exit_code == 1 and "太常见" in common.output
    prompted = runner.invoke(
        cli_app, ["users", "add", "赵六", "--login", "zhaoliu"], input="12345678\n12345678\n"
    )
    assert prompted.exit_code == 1 and "至少需要 10 个字符" in prompted.output
    named = runner.invoke(cli_app, ["users", "passwd", "lilei", "--password", "lilei-2026-spring"])
    assert named.exit_code == 1 and "不能包含登录名" in named.output
    assert accounts.authenticate(rt, "lilei", PASSWORD).login == "lilei"  # nothing changed
    with rt.sessions() as session:
        assert session.scalar(select(Account.id).where(Account.login == "zhaoliu")) is None


def test_weak_passwords_are_refused_by_the_password_page(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _add_person(rt, clock, unit, "lilei")
    with TestClient(create_app(rt), follow_redirects=False) as client:
        assert _form_login(client, "lilei", PASSWORD).status_code == 303
        page = client.get("/me/password")
        assert "常见密码" in page.text
        token = TOKEN.search(page.text)
        assert token is not None
        for weak, message in [
            ("password123", "太常见"),
            ("1234567890", "全是数字"),
            ("lilei-2026-abc", "登录名"),
        ]:
            form = {
                "csrf_token": token.group(1),
                "current_password": PASSWORD,
                "new_password": weak,
                "new_password_again": weak,
            }
            refused = client.post("/me/password", data=form)
            assert refused.status_code == 400 and message in _error(refused.text)
    assert accounts.authenticate(rt, "lilei", PASSWORD).login == "lilei"


# ---- 14: the login form's CSRF token is bound to its pre-session -------------------------------


def test_a_made_up_login_csrf_cookie_and_token_are_refused(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _add_person(rt, clock, unit, "lilei")
    with TestClient(create_app(rt), follow_redirects=False) as client:
        client.cookies.set(LOGIN_CSRF_COOKIE, "forged", path="/login")
        form = {"login": "lilei", "password": PASSWORD, "csrf_token": "forged", "next": "/"}
        refused = client.post("/login", data=form)
        assert refused.status_code == 403 and "登录页面已过期" in refused.text
        assert SESSION_COOKIE not in client.cookies


def test_a_login_token_works_only_with_the_cookie_it_was_served_with(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _add_person(rt, clock, unit, "lilei")
    app = create_app(rt)
    mine, theirs = TestClient(app, follow_redirects=False), TestClient(app, follow_redirects=False)
    page = mine.get("/login")
    found = TOKEN.search(page.text)
    assert found is not None
    token, cookie = found.group(1), mine.cookies[LOGIN_CSRF_COOKIE]
    assert token not in cookie  # the cookie does not give the token away
    form = {"login": "lilei", "password": PASSWORD, "csrf_token": token, "next": "/"}

    assert theirs.post("/login", data=form).status_code == 403  # no cookie at all
    theirs.get("/login")
    assert theirs.post("/login", data=form).status_code == 403  # a cookie of its own
    theirs.cookies.clear()
    theirs.cookies.set(LOGIN_CSRF_COOKIE, token, path="/login")
    assert theirs.post("/login", data=form).status_code == 403  # the token as its cookie
    nonce, issued, signature = cookie.split(".")
    theirs.cookies.clear()
    theirs.cookies.set(LOGIN_CSRF_COOKIE, f"{nonce}x.{issued}.{signature}", path="/login")
    assert theirs.post("/login", data=form).status_code == 403  # a tampered cookie
    assert SESSION_COOKIE not in theirs.cookies

    assert mine.post("/login", data=form).status_code == 303  # the browser it was served to
    for client in (mine, theirs):
        client.close()


def test_a_login_page_expires_or_dies_with_a_restart_and_offers_a_fresh_form(
    rt: Runtime, clock: FakeClock, unit: int, spy: SpyHasher
) -> None:
    _add_person(rt, clock, unit, "lilei")
    with TestClient(create_app(rt), follow_redirects=False) as client:
        found = TOKEN.search(client.get("/login").text)
        assert found is not None
        clock.advance(hours=3)
        form = {"login": "lilei", "password": PASSWORD, "csrf_token": found.group(1), "next": "/"}
        expired = client.post("/login", data=form)
        assert expired.status_code == 403 and "登录页面已过期" in expired.text
        fresh = TOKEN.search(expired.text)
        assert fresh is not None
        assert client.post("/login", data={**form, "csrf_token": fresh.group(1)}).status_code == 303

    with TestClient(create_app(rt), follow_redirects=False) as before:
        found = TOKEN.search(before.get("/login").text)
        assert found is not None
        cookie = before.cookies[LOGIN_CSRF_COOKIE]
    with TestClient(create_app(rt), follow_redirects=False) as after:  # restarted: a new signing key
        after.cookies.set(LOGIN_CSRF_COOKIE, cookie, path="/login")
        form = {"login": "lilei", "password": PASSWORD, "csrf_token": found.group(1), "next": "/"}
        assert after.post("/login", data=form).status_code == 403
