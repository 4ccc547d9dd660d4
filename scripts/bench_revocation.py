"""Benchmark: what ending streams on revocation costs, and how soon they end (issue 13 item 7).

1. **Sweep cost**, in process: N open subscriptions registered under P distinct principals (user, API token,
   case) in :class:`lexintel.auth.revocation.OpenStreams` on a real SQLite file; the time of one sweep (every
   principal re-checked against the database; it runs on the event loop every
   ``LEXINTEL_REVOCATION_CHECK_INTERVAL`` seconds while streams are open), median of 5.
2. **Time to end**, end to end: ``lexintel serve`` (auth on, default check interval 2 s), S case streams opened
   with one API token; the token is revoked over the API (the streams end at once) and, for a second user,
   ``lexintel user disable`` runs on the data dir (another process: the sweep notices). Wall time from the
   revoking call to the last stream's end.

    python -m scripts.bench_revocation                 # 10,000 subscriptions / 1,000 principals; 20 streams
    python -m scripts.bench_revocation --subs 1000 --principals 100 --streams 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from lexintel.auth.revocation import OpenStreams, Principal
from lexintel.auth.tokens import ApiTokens
from lexintel.auth.users import Users
from lexintel.events.broadcaster import Broadcaster
from lexintel.settings import Settings
from lexintel.store.db import Database
from lexintel.store.records import Records
from tests.auth_helpers import add_account
from tests.support import ServerProcess, StreamFollower, wait_for

PASSWORD = "benchmark passphrase"


def sweep_cost(root: Path, subs: int, principals: int) -> tuple[float, float]:
    """(median wall, median CPU) seconds of one sweep over ``subs`` subscriptions of ``principals`` principals
    (CPU time too: on a loaded machine the wall time mostly measures the other processes)."""
    db = Database(root / "sweep.db")
    try:
        users = Users(db)
        tokens = ApiTokens(db, users)
        records = Records(db)
        keys: list[Principal] = []
        for n in range(principals):
            user = users._insert(f"user{n}", "member", "not-a-real-hash")  # no argon2: not what is measured
            token = tokens.create(user, "bench", 86400.0)
            case_id = records.create_case(f"case {n}", owner_id=user.id)["id"]
            keys.append(Principal(user.id, f"token:{token['id']}", case_id))
        streams = OpenStreams(users)
        broadcaster = Broadcaster()
        for n in range(subs):
            streams.track(keys[n % principals], broadcaster.subscribe(f"case:{n}"))
        walls, cpus = [], []
        for _ in range(5):
            start, cpu = time.perf_counter(), time.process_time()
            ended = streams.sweep()
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
            assert ended == 0
        return statistics.median(walls), statistics.median(cpus)
    finally:
        db.close()


def time_to_end(root: Path, count: int) -> tuple[float, float]:
    """(seconds after revoking a token over the API, seconds after ``lexintel user disable``) until the last of
    ``count`` case streams ended."""
    data = root / "data"
    settings = Settings(data_dir=data)
    alice, bob = add_account(settings, "alice"), add_account(settings, "bob")
    server = ServerProcess(data, env={"LEXINTEL_AUTH": "on", "LEXINTEL_PING_INTERVAL": "1",
                                      "LEXINTEL_EXTRACTION_WORKERS": "1"}).start()
    try:
        results = []
        for who, revoke in ((alice, "api"), (bob, "cli")):
            case_id = httpx.post(f"{server.url}/cases", json={"name": "bench"}, headers=who.headers).json()["id"]
            streams = [StreamFollower(f"{server.url}/cases/{case_id}/stream", timeout=120,
                                      headers=who.headers).start() for _ in range(count)]
            wait_for(lambda streams=streams: all(s.comments for s in streams), timeout=60, what="streams open")
            start = time.perf_counter()
            if revoke == "api":
                token_id = httpx.get(f"{server.url}/auth/tokens", headers=who.headers).json()[0]["id"]
                assert httpx.delete(f"{server.url}/auth/tokens/{token_id}", headers=who.headers).status_code == 204
            else:
                cli = subprocess.Popen([sys.executable, "-m", "lexintel", "user", "disable", "bob", "--data-dir",
                                        str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for stream in streams:
                assert stream.join(60), "a stream did not end"
            results.append(time.perf_counter() - start)
            if revoke == "cli":
                cli.wait(60)
        return results[0], results[1]
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subs", type=int, default=10_000)
    parser.add_argument("--principals", type=int, default=1_000)
    parser.add_argument("--streams", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = sweep_cost(Path(tmp), args.subs, args.principals)
        print(f"sweep of {args.subs} subscriptions / {args.principals} principals: median {wall * 1000:.1f} ms wall, "
              f"{cpu * 1000:.1f} ms CPU (on the event loop, every check interval while streams are open)")
        api, cli = time_to_end(Path(tmp), args.streams)
        print(f"{args.streams} case streams ended {api:.2f} s after DELETE /auth/tokens/{{id}} (at once, by the API)")
        print(f"{args.streams} case streams ended {cli:.2f} s after starting `lexintel user disable` "
              "(another process: CLI start-up + the 2 s sweep)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
