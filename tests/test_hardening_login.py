"""The login limiter (issue 13 item 12; lexintel/auth/ratelimit.py): per (name, address), per account from
anywhere with backoff, a looser per-address ceiling, and known addresses exempt from the last two.

The limiter's clock is an argument, so its rules are checked on the real class with explicit times; the HTTP
test runs a real ``lexintel serve``: a client rotating ``X-Forwarded-For`` through a configured proxy (each
attempt from "another address") is stopped by the per-account limit. Made-up names sprayed from one address
are exercised on the class itself (110 argon2 checks over HTTP take minutes on a busy machine).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from lexintel.auth.ratelimit import LoginLimiter
from lexintel.settings import Settings
from tests.auth_helpers import PASSWORD, add_account
from tests.support import ServerProcess

ServerFactory = Callable[..., ServerProcess]


def test_per_name_and_address_window() -> None:
    limiter = LoginLimiter()
    for i in range(5):
        assert limiter.retry_after("alice", "10.0.0.1", now=100 + i) == 0
        limiter.failed("alice", "10.0.0.1", now=100 + i)
    assert 1 <= limiter.retry_after("alice", "10.0.0.1", now=105) <= 60
    assert limiter.retry_after("alice", "10.0.0.2", now=105) == 0  # another address: its own window
    assert limiter.retry_after("bob", "10.0.0.1", now=105) == 0  # another name at that address
    assert limiter.retry_after("alice", "10.0.0.1", now=161) == 0  # the window slid past


def test_one_account_from_many_addresses_backs_off() -> None:
    limiter = LoginLimiter()
    for i in range(10):  # ten guesses from ten addresses: under every per-address limit
        assert limiter.retry_after("Alice", f"198.51.100.{i}", now=1000 + i) == 0
        limiter.failed("Alice", f"198.51.100.{i}", now=1000 + i)
    waits = []
    t = 1009.2  # 0.2 s after the tenth failure
    for i in range(6):
        wait = limiter.retry_after("alice", f"203.0.113.{i}", now=t)  # a fresh address: still held
        assert wait >= 1
        waits.append(wait)
        t += wait
        assert limiter.retry_after("alice", f"203.0.113.{i}", now=t) == 0
        limiter.failed("alice", f"203.0.113.{i}", now=t)
    assert waits == sorted(waits) and waits[-1] >= 16 * waits[0], waits  # doubling backoff
    start = t
    for i in range(40):  # a patient botnet gets a guess every few minutes, never a wait past 15 minutes
        t += limiter.retry_after("alice", f"192.0.2.{i}", now=t)
        limiter.failed("alice", f"192.0.2.{i}", now=t)
    assert 60 <= limiter.retry_after("alice", "192.0.2.99", now=t) <= 900
    assert t - start >= 40 * 60
    assert limiter.retry_after("bob", "192.0.2.9", now=t) == 0  # another account is not affected


def test_made_up_names_from_one_address_do_not_lock_out_its_known_users() -> None:
    limiter = LoginLimiter()
    limiter.succeeded("alice", "10.1.1.1", now=0)  # alice logs in from the office as usual
    t = 10.0
    for i in range(200):  # a spray of made-up names from that same address
        if limiter.retry_after(f"user{i}", "10.1.1.1", now=t) == 0:
            limiter.failed(f"user{i}", "10.1.1.1", now=t)
        t += 0.1
    assert limiter.retry_after("newcomer", "10.1.1.1", now=t) >= 1  # past the per-address ceiling
    assert limiter.retry_after("alice", "10.1.1.1", now=t) == 0  # known there: only her own 5 a minute
    for i in range(12):  # and a botnet guessing alice's password elsewhere does not keep her out either
        limiter.failed("alice", f"198.51.100.{i}", now=t)
    assert limiter.retry_after("alice", "198.51.100.99", now=t) >= 1
    assert limiter.retry_after("alice", "10.1.1.1", now=t) == 0


def login(server: ServerProcess, name: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    resp = httpx.post(f"{server.url}/auth/login", json={"username": name, "password": password}, headers=headers,
                      timeout=30)
    if resp.status_code == 429:
        assert resp.json()["code"] == "too_many_attempts" and int(resp.headers["retry-after"]) >= 1
    return resp.status_code


def test_rotating_forwarded_addresses_through_a_trusted_proxy_hit_the_account_limit(
        server_factory: ServerFactory, tmp_path: Path) -> None:
    data = tmp_path / "login-data"
    add_account(Settings(data_dir=data), "alice")
    server = server_factory(data, LEXINTEL_AUTH="on", LEXINTEL_TRUSTED_PROXIES="127.0.0.1")
    codes = [login(server, "alice", "wrong guess", forwarded=f"203.0.113.{n}") for n in range(14)]
    assert codes[:10] == [401] * 10 and 429 in codes[10:], codes  # each address alone would allow 5
    assert login(server, "alice", PASSWORD, forwarded="203.0.113.200") == 429  # held, even with the password
