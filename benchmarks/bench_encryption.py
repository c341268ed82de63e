"""What encryption at rest (``SESSION_REDIS_ENCRYPTION_KEYS``) adds to a request.

Run from the repository root against a local Redis (db 15 by default); needs the
``cryptography`` package (the ``encryption`` extra)::

    python benchmarks/bench_encryption.py [--redis-url URL] [--rounds N] [--requests N]
                                          [--json PATH]

Our engine only, side by side in one process: encryption **off** (the default)
and **on** (one Fernet key), on the two primary requests of ``bench_sessions.py``
through Django's real ``SessionMiddleware``: a signed-in request that reads its
session (``read``: the view reads ``_auth_user_id`` and ``_auth_user_hash``) and
one that also increments a counter in it (``modify``). Each runs for two session
payloads: what ``login()`` writes (3 values, plus the counter) and that plus five
small keys a shop would keep (8 values, plus the counter), since encryption
works value by value.

Off and on run in interleaved rounds (every round times each pair back to back,
in an order rotated every round) and the report uses medians over rounds: µs per
request, the extra µs, the ratio on/off, and the median of the per-round ratios
(a check on the first). Round trips are counted in a separate, untimed pass
(expected: 1 for a read, 2 for a modifying request, on and off alike), and the
stored record's length is read after warm-up. The warm-up also checks that every
session loads signed in and that the "on" records hold only Fernet tokens and the
"off" ones none. Every key written starts with a random 6-character run tag and
is deleted at the end whatever happens. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ``python benchmarks/bench_encryption.py`` puts benchmarks/ (not the repository
# root) on sys.path; benchmark the checkout's engine even when it is not installed.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if (_REPO_ROOT / "django_redis_sessions").is_dir() and str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import django  # noqa: E402
import redis  # noqa: E402
from benchlib import (  # noqa: E402
    Timing,
    add_run_arguments,
    connect,
    new_run_tag,
    redacted,
    session_modify_view,
    session_read_view,
    time_batch,
)
from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_ROUNDS = 30
DEFAULT_REQUESTS = 150
WARMUP_REQUESTS = 20
COUNTED_REQUESTS = 20
ENGINE = "django_redis_sessions.backend"
AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"
#: The same extra keys as bench_sessions.py's richer memory payload.
RICH_EXTRA: dict[str, Any] = {
    "cart": [1017, 2203, 3391],
    "currency": "EUR",
    "theme": "dark",
    "seen_welcome": True,
    "newsletter_prompted": False,
}
PAYLOADS: dict[str, dict[str, Any]] = {"signed-in": {}, "signed-in+5": RICH_EXTRA}
PAYLOAD_TITLES = {
    "signed-in": "signed-in session (user id, backend, auth hash, counter: 4 values)",
    "signed-in+5": "richer session (signed in + cart, currency, theme, 2 flags: 9 values)",
}

Handler = Callable[[HttpRequest], HttpResponse]
#: A middleware chain (SessionMiddleware around a view), as Django calls it.
Chain = Callable[[HttpRequest], Any]


@dataclass(frozen=True, kw_only=True)
class Mode:
    name: str
    label: str
    #: The value of SESSION_REDIS_ENCRYPTION_KEYS while this mode runs.
    keys: list[str] | None


def make_modes() -> list[Mode]:
    from cryptography.fernet import Fernet

    return [
        Mode(name="off", label="encryption off (default)", keys=None),
        Mode(name="on", label="encryption on (1 key)", keys=[Fernet.generate_key().decode()]),
    ]


# -- settings and requests ----------------------------------------------------------


def configure_django(redis_url: str, run_tag: str) -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_redis_sessions",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        SESSION_ENGINE=ENGINE,
        SESSION_REDIS_URL=redis_url,
        SESSION_REDIS_PREFIX=run_tag,
        SESSION_REDIS_ENCRYPTION_KEYS=None,
    )
    django.setup()


@contextmanager
def mode_settings(mode: Mode) -> Iterator[None]:
    """Put a mode's keys in effect (assigned, as bench_sessions.py does, not overridden).

    Assigning a configured setting sends no ``setting_changed``, so the app's
    settings cache is cleared by hand, outside the timed region.
    """
    from django_redis_sessions.conf import conf

    saved = getattr(settings, "SESSION_REDIS_ENCRYPTION_KEYS", None)
    settings.SESSION_REDIS_ENCRYPTION_KEYS = mode.keys
    conf.reset()
    try:
        yield
    finally:
        settings.SESSION_REDIS_ENCRYPTION_KEYS = saved
        conf.reset()


SCENARIOS: dict[str, tuple[str, Handler]] = {
    "read": ("read-only signed-in request, SessionMiddleware only", session_read_view),
    "modify": ("signed-in request that increments a counter", session_modify_view),
}


def sign_in(user: Any, extra: dict[str, Any]) -> str:
    """A signed-in session as ``django.contrib.auth.login`` makes it, plus ``extra``."""
    from django.contrib.auth import login
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    from django_redis_sessions.backend import SessionStore

    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.user = AnonymousUser()
    login(request, user, backend=AUTH_BACKEND)
    request.session.update({**extra, "counter": 0})
    request.session.save()
    session_key = request.session.session_key
    assert session_key is not None
    return session_key


def make_requests(session_key: str, count: int) -> list[HttpRequest]:
    """Requests carrying the session cookie, built outside the timed region."""
    from django.test import RequestFactory

    factory = RequestFactory()
    factory.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return [factory.get("/") for _ in range(count)]


@contextmanager
def counting_round_trips() -> Iterator[list[int]]:
    """Counts calls to ``send_packed_command`` (one per round trip) into ``[n]``."""
    connection_class = redis.connection.AbstractConnection
    original: Any = connection_class.send_packed_command
    count = [0]

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        count[0] += 1
        original(self, command, check_health)

    connection_class.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield count
    finally:
        connection_class.send_packed_command = original  # type: ignore[method-assign]


# -- the run ----------------------------------------------------------------------------

#: One measured cell: (payload, mode name).
Cell = tuple[str, str]


@dataclass
class Bench:
    run_tag: str
    rounds: int
    requests: int
    client: redis.Redis
    modes: list[Mode]
    users: dict[Cell, Any] = field(default_factory=dict)
    session_keys: dict[Cell, str] = field(default_factory=dict)
    chains: dict[str, Chain] = field(default_factory=dict)
    record_bytes: dict[Cell, int] = field(default_factory=dict)

    def mode(self, name: str) -> Mode:
        return next(m for m in self.modes if m.name == name)

    def setup(self) -> None:
        from django.contrib.auth.models import User
        from django.contrib.sessions.middleware import SessionMiddleware
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        for payload, extra in PAYLOADS.items():
            for mode in self.modes:
                user = User.objects.create_user(f"bench-{payload}-{mode.name}", password="x")
                self.users[payload, mode.name] = user
                with mode_settings(mode):
                    self.session_keys[payload, mode.name] = sign_in(user, extra)
        # The engine is the same in every cell: one chain per scenario.
        for name, (_, view) in SCENARIOS.items():
            self.chains[name] = SessionMiddleware(view)

    def run(self, payload: str, mode: Mode, scenario: str, count: int) -> list[bytes]:
        requests = make_requests(self.session_keys[payload, mode.name], count)
        chain = self.chains[scenario]
        with mode_settings(mode):
            return [chain(request).content for request in requests]

    def warm_up_and_check(self) -> None:
        """Open the connection, load the scripts, and prove every cell works as labelled."""
        from django_redis_sessions.policies import encryption
        from django_redis_sessions.storage import keys, record

        for payload in PAYLOADS:
            for mode in self.modes:
                expected = str(self.users[payload, mode.name].pk).encode()
                for scenario in SCENARIOS:
                    bodies = self.run(payload, mode, scenario, WARMUP_REQUESTS)
                    if any(body.split(b":")[0] != expected for body in bodies):
                        raise SystemExit(
                            f"{payload}/{mode.name}/{scenario}: the view saw {bodies[0]!r}, "
                            f"expected user {expected!r}: the session did not load."
                        )
                redis_key = keys.session_redis_key(
                    self.run_tag, keys.digest(self.session_keys[payload, mode.name])
                )
                raw = self.client.get(redis_key)
                assert isinstance(raw, bytes)
                values = record.decode(raw).data.values()
                tokens = [v.startswith(encryption.TOKEN_PREFIX) for v in values]
                if tokens != [mode.keys is not None] * len(tokens):
                    raise SystemExit(f"{payload}/{mode.name}: stored values are {tokens}.")
                self.record_bytes[payload, mode.name] = len(raw)

    def count_round_trips(self) -> dict[str, dict[str, float]]:
        """Round trips per request, by ``payload/scenario`` then mode."""
        result: dict[str, dict[str, float]] = {}
        for payload in PAYLOADS:
            for scenario in SCENARIOS:
                row = result.setdefault(f"{payload}/{scenario}", {})
                for mode in self.modes:
                    with counting_round_trips() as count:
                        self.run(payload, mode, scenario, COUNTED_REQUESTS)
                    row[mode.name] = count[0] / COUNTED_REQUESTS
        return result

    def time_rounds(self) -> dict[str, dict[str, Timing]]:
        """Timings by ``payload/scenario`` then mode; off and on back to back each round."""
        timings = {
            f"{p}/{s}": {m.name: Timing() for m in self.modes} for p in PAYLOADS for s in SCENARIOS
        }
        total = self.rounds * len(timings) * len(self.modes)
        done = 0
        for round_index in range(self.rounds):
            shift = round_index % len(self.modes)
            order = self.modes[shift:] + self.modes[:shift]
            for payload in PAYLOADS:
                for scenario in SCENARIOS:
                    for mode in order:
                        requests = make_requests(
                            self.session_keys[payload, mode.name], self.requests
                        )
                        with mode_settings(mode):
                            sample = time_batch(self.chains[scenario], requests)
                        timings[f"{payload}/{scenario}"][mode.name].samples_us.append(sample)
                        done += 1
            print(f"\r  timed {done}/{total} batches", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return timings

    def cipher_costs(self) -> dict[str, float]:
        """µs per value to encrypt and to decrypt one short session value, for context."""
        from django_redis_sessions.policies.encryption import Cipher

        on = self.mode("on")
        assert on.keys is not None
        cipher = Cipher(on.keys)
        values = {"_auth_user_id": b'"1"'}
        sealed = cipher.seal(values)
        number = 5000
        return {
            "encrypt_us": timeit.timeit(lambda: cipher.seal(values), number=number) / number * 1e6,
            "decrypt_us": timeit.timeit(lambda: cipher.open(sealed), number=number) / number * 1e6,
        }

    def cleanup(self) -> int:
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in f"{self.run_tag}:") + "*"
        found = list(self.client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(found), 500):
            self.client.delete(*found[start : start + 500])
        return len(found)


# -- report -----------------------------------------------------------------------------


def summarize(
    bench: Bench,
    timings: dict[str, dict[str, Timing]],
    trips: dict[str, dict[str, float]],
    cipher: dict[str, float],
    args: argparse.Namespace,
) -> dict[str, Any]:
    import cryptography

    rows: dict[str, Any] = {}
    for cell, by_mode in timings.items():
        off, on = by_mode["off"], by_mode["on"]
        payload = cell.split("/")[0]
        paired = [b / a for a, b in zip(off.samples_us, on.samples_us, strict=True)]
        rows[cell] = {
            "off": off.as_dict(),
            "on": on.as_dict(),
            "extra_us": on.median - off.median,
            "ratio": on.median / off.median,
            "paired_ratio": statistics.median(paired),
            "round_trips": trips[cell],
            "record_bytes": {m.name: bench.record_bytes[payload, m.name] for m in bench.modes},
        }
    return {
        "config": {
            "redis_url": redacted(args.redis_url),
            "rounds": args.rounds,
            "requests": args.requests,
            "run_tag": bench.run_tag,
            "python": platform.python_version(),
            "django": django.get_version(),
            "redis_py": redis.__version__,
            "cryptography": cryptography.__version__,
            "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        },
        "cipher_per_value": cipher,
        "rows": rows,
    }


def print_report(results: dict[str, Any]) -> None:
    config = results["config"]
    print(
        f"\nEncryption at rest: ours, off vs on, {config['rounds']} rounds x "
        f"{config['requests']} requests (Python {config['python']}, Django {config['django']}, "
        f"redis-py {config['redis_py']}, cryptography {config['cryptography']})"
    )
    for payload, title in PAYLOAD_TITLES.items():
        print(f"\n{title}")
        header = (
            f"  {'request':<8} {'off µs':>8} {'iqr':>5} {'on µs':>8} {'iqr':>5} "
            f"{'extra µs':>9} {'on/off':>7} {'paired':>7} {'trips off/on':>13} {'record B':>12}"
        )
        print(header)
        for scenario in SCENARIOS:
            row = results["rows"][f"{payload}/{scenario}"]
            trips = row["round_trips"]
            sizes = row["record_bytes"]
            print(
                f"  {scenario:<8} {row['off']['median_us']:>8.1f} {row['off']['iqr_pct']:>4.0f}% "
                f"{row['on']['median_us']:>8.1f} {row['on']['iqr_pct']:>4.0f}% "
                f"{row['extra_us']:>+9.1f} {row['ratio']:>6.2f}x {row['paired_ratio']:>6.2f}x "
                f"{trips['off']:>6g}/{trips['on']:<6g} {sizes['off']:>5}/{sizes['on']:<6}"
            )
    cipher = results["cipher_per_value"]
    print(
        f"\nOne short value through the cipher: encrypt {cipher['encrypt_us']:.1f} µs, "
        f"decrypt {cipher['decrypt_us']:.1f} µs (a load decrypts every value; a save "
        "encrypts only the values it writes)."
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="What SESSION_REDIS_ENCRYPTION_KEYS adds to a signed-in request.",
    )
    add_run_arguments(
        parser,
        redis_url=DEFAULT_REDIS_URL,
        rounds=DEFAULT_ROUNDS,
        requests=DEFAULT_REQUESTS,
        requests_per="mode, scenario, payload",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests must be >= 1")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        parser.error('needs the cryptography package: pip install "cryptography>=42"')
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    client = connect(args.redis_url)
    if client is None:
        return 2
    run_tag = new_run_tag()
    configure_django(args.redis_url, run_tag)
    bench = Bench(
        run_tag=run_tag,
        rounds=args.rounds,
        requests=args.requests,
        client=client,
        modes=make_modes(),
    )
    started = time.monotonic()
    print(f"Keys under {run_tag}:* on {redacted(args.redis_url)}", file=sys.stderr)
    try:
        bench.setup()
        bench.warm_up_and_check()
        trips = bench.count_round_trips()
        timings = bench.time_rounds()
        cipher = bench.cipher_costs()
        results = summarize(bench, timings, trips, cipher, args)
    finally:
        removed = bench.cleanup()
        print(f"  removed {removed} keys under {run_tag}:*", file=sys.stderr)
    results["config"]["elapsed_s"] = round(time.monotonic() - started, 1)
    print_report(results)
    print(f"\n({results['config']['elapsed_s']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"Results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
