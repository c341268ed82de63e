"""Every supported way to reach Redis, each against a real server process."""

from __future__ import annotations

import pytest
import redis
from django_redis import get_redis_connection

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.exceptions import SessionStoreError
from django_redis_sessions.storage import connection

from .servers import free_port, make_tls_files, redis_server

pytestmark = pytest.mark.real_redis


def round_trip() -> None:
    s = SessionStore()
    s["_auth_user_id"] = "1"
    s["v"] = "x"
    s.save()
    assert SessionStore(s.session_key)["v"] == "x"


async def around_trip() -> None:
    s = SessionStore()
    await s.aset("v", "y")
    await s.asave()
    assert await SessionStore(s.session_key).aget("v") == "y"


def test_url_db_number_is_used(r, settings):
    # The test server's host and port (the suite may have started its own), db 11.
    settings.SESSION_REDIS_URL = settings.SESSION_REDIS_URL.rsplit("/", 1)[0] + "/11"
    s = SessionStore()
    s["v"] = 1
    s.save()
    other_db = redis.Redis.from_url(settings.SESSION_REDIS_URL)
    written = list(other_db.scan_iter(match=f"{settings.SESSION_REDIS_PREFIX}:s:*"))
    other_db.delete(*written)
    assert len(written) == 1


def test_cache_alias_reuses_django_redis_pool(r, settings):
    settings.SESSION_REDIS_CACHE_ALIAS = "redis"
    assert connection.get_client() is get_redis_connection("redis")
    round_trip()


async def test_cache_alias_async_uses_same_server(r, settings):
    settings.SESSION_REDIS_CACHE_ALIAS = "redis"
    client = connection.get_async_client()
    sync_params = get_redis_connection("redis").connection_pool.connection_kwargs
    params = client.connection_pool.connection_kwargs
    assert (params["host"], params["port"], params.get("db")) == (
        sync_params["host"],
        sync_params["port"],
        sync_params.get("db"),
    )
    await around_trip()


async def test_async_clients_are_per_event_loop(r):
    first = connection.get_async_client()
    assert connection.get_async_client() is first
    await around_trip()


def test_password_and_db_in_url(tmp_path, settings):
    port = free_port()
    with redis_server(
        "--port",
        str(port),
        "--requirepass",
        "s3cret-pw",
        ping={"port": port, "password": "s3cret-pw"},
        tmp=tmp_path,
    ):
        settings.SESSION_REDIS_URL = f"redis://:s3cret-pw@127.0.0.1:{port}/3"
        round_trip()
        assert redis.Redis(port=port, password="s3cret-pw", db=3).dbsize() >= 1

        settings.SESSION_REDIS_URL = f"redis://:wrong-pw@127.0.0.1:{port}/3"
        with pytest.raises(SessionStoreError) as info:
            SessionStore("a" * 32).load()
        assert f"127.0.0.1:{port}" in str(info.value)
        assert "wrong-pw" not in str(info.value)


@pytest.fixture
def unix_socket_redis(tmp_path, settings):
    """A Redis listening only on a unix socket; the settings point at its db 2."""
    sock = tmp_path / "redis.sock"
    options = ("--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700")
    with redis_server(*options, ping={"unix_socket_path": str(sock)}, tmp=tmp_path):
        settings.SESSION_REDIS_URL = f"unix://{sock}?db=2"
        yield sock


def test_unix_socket_url(unix_socket_redis):
    round_trip()
    client = redis.Redis(unix_socket_path=str(unix_socket_redis), db=2)
    assert client.dbsize() >= 1
    client.close()


async def test_unix_socket_url_async(unix_socket_redis):
    await around_trip()


def test_tls_url(tmp_path, settings):
    files = make_tls_files(tmp_path)
    port = free_port()
    with redis_server(
        "--port",
        "0",
        "--tls-port",
        str(port),
        "--tls-cert-file",
        str(files["cert"]),
        "--tls-key-file",
        str(files["key"]),
        "--tls-ca-cert-file",
        str(files["ca"]),
        "--tls-auth-clients",
        "no",
        ping={"port": port, "ssl": True, "ssl_ca_certs": str(files["ca"])},
        tmp=tmp_path,
    ):
        settings.SESSION_REDIS_URL = f"rediss://127.0.0.1:{port}/0"
        settings.SESSION_REDIS_CONNECTION_KWARGS = {"ssl_ca_certs": str(files["ca"])}
        round_trip()

        # Without the CA the certificate is refused: TLS is really verified.
        connection.reset_clients()
        settings.SESSION_REDIS_CONNECTION_KWARGS = {}
        with pytest.raises(SessionStoreError):
            SessionStore("a" * 32).load()


def _open_sockets() -> int:
    import os

    fds = os.listdir("/proc/self/fd")
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self/fd"), reason="needs Linux /proc")
def test_async_views_under_wsgi_do_not_leak_connections(r, alice):
    # Django runs an async view under WSGI in a fresh event loop per request
    # (asgiref's AsyncToSync). Each loop's client must be closed with its loop,
    # or every such request leaves a connection to Redis open.
    from django.test import Client

    def sign_in() -> None:
        client = Client()
        response = client.post("/alogin/", {"username": "alice", "password": "pw-alice"})
        assert response.status_code == 200
        assert client.get("/aread/").status_code == 200

    sign_in()  # warm up: the sync client, the database connection
    before = _open_sockets()
    for _ in range(40):
        sign_in()
    assert _open_sockets() - before <= 2
