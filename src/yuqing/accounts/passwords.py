"""The password policy: what a new password must be, checked the same way by `yuqing users`, the
console's password page and account creation.

A password has at least `PASSWORD_MIN_LENGTH` characters and at most `PASSWORD_MAX_LENGTH`; it is not
only spaces, not only digits (those are birthdays and telephone numbers), not one short block
repeated; it neither is nor contains the login name; and it is not in the shipped list of common
passwords (`common_passwords.txt`), compared in lower case, as typed and with digits and punctuation
stripped from both ends (so `Password2024!` is refused through `password`) and with the usual letter
swaps undone (`p@ssw0rd`).
"""

from __future__ import annotations

import secrets
import string
from functools import lru_cache
from importlib import resources

from yuqing.accounts.models import PasswordPolicyError

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256  # hashing a megabyte "password" is only work for an attacker to cause
# A login shorter than this is not looked for inside a password: "li" is in too many good ones.
LOGIN_IN_PASSWORD_MIN = 3
# A core shorter than this is not looked up: "qq" left of "qq12345678" is too short to mean anything.
COMMON_CORE_MIN = 4
COMMON_PASSWORDS_FILE = "common_passwords.txt"

_EDGES = string.digits + string.punctuation + " "
_UNDO_SWAPS = (
    str.maketrans({"@": "a", "4": "a", "0": "o", "$": "s", "5": "s", "3": "e", "1": "i", "7": "t"}),
    str.maketrans({"@": "a", "4": "a", "0": "o", "$": "s", "5": "s", "3": "e", "1": "l", "7": "t"}),
)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower case (a few thousand, read once)."""
    text = resources.files("yuqing.accounts").joinpath(COMMON_PASSWORDS_FILE).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def is_common(password: str) -> bool:
    """The password, or its core (digits and punctuation stripped from one end or both, the usual
    letter swaps undone), is one people pick first."""
    listed = common_passwords()
    lowered = password.strip().lower()
    cores = {lowered.strip(_EDGES), lowered.rstrip(_EDGES), lowered.lstrip(_EDGES)}
    cores |= {core.translate(swap).strip(_EDGES) for core in cores for swap in _UNDO_SWAPS}
    cores |= {lowered.translate(swap) for swap in _UNDO_SWAPS}
    if lowered in listed:
        return True
    return any(len(core) >= COMMON_CORE_MIN and core in listed for core in cores)


def _is_repeated_block(password: str) -> bool:
    """`abcabcabcabc`, `1212121212`: one block of at most a third of the password, repeated."""
    size = len(password)
    blocks = range(1, size // 3 + 1)
    return any(size % block == 0 and password[:block] * (size // block) == password for block in blocks)


def check_password(password: str, *, login: str | None = None) -> None:
    """Refuse a password the policy does not allow, saying in Chinese what to change."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordPolicyError(f"密码至少需要 {PASSWORD_MIN_LENGTH} 个字符")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise PasswordPolicyError(f"密码不能超过 {PASSWORD_MAX_LENGTH} 个字符")
    if not password.strip():
        raise PasswordPolicyError("密码不能全是空格")
    if len(set(password)) < 3 or _is_repeated_block(password):
        raise PasswordPolicyError("密码过于简单：至少要有 3 个不同的字符，且不能是同一段字符的重复")
    if password.strip().isdigit():
        raise PasswordPolicyError("密码不能全是数字：生日、电话号码一类的数字很容易被猜中，请加入字母或符号")
    name = (login or "").strip().lower()
    if name and password.strip().lower() == name:
        raise PasswordPolicyError("密码不能与登录名相同")
    if len(name) >= LOGIN_IN_PASSWORD_MIN and name in password.lower():
        raise PasswordPolicyError("密码不能包含登录名")
    if is_common(password):
        raise PasswordPolicyError(
            "这个密码太常见，很容易被猜中：请换一个（例如用几个不相关的词语组成较长的密码）"
        )


def generate_password(login: str | None = None) -> str:
    """A random password that passes the policy (16 URL-safe characters, 96 bits)."""
    while True:
        candidate = secrets.token_urlsafe(12)
        try:
            check_password(candidate, login=login)
        except PasswordPolicyError:
            continue
        return candidate
