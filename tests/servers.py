"""Start throwaway redis-server processes on loopback, and stop any test server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Stop a server the tests started: SIGTERM, then SIGKILL if it will not go."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def start_test_redis(folder: Path, timeout: float = 10) -> tuple[subprocess.Popen[bytes], int]:
    """Start the suite's own ``redis-server`` on a free loopback port; return it and the port.

    Nothing is persisted (``--save ""``, ``--appendonly no``); its log and working
    directory are ``folder``. Raises ``RuntimeError`` (with the log's tail) if it does
    not answer within ``timeout`` seconds.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    port = free_port()
    log = folder / "redis-server.log"
    process = subprocess.Popen(
        [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(folder), "--logfile", str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5)
        try:
            if client.ping():
                return process, port
        except redis.RedisError:
            if time.monotonic() > deadline or process.poll() is not None:
                stop_process(process)
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(
                    f"redis-server on 127.0.0.1:{port} did not answer (log: {log}):\n{tail}"
                ) from None
            time.sleep(0.05)
        finally:
            client.close()


@contextmanager
def redis_server(*args: str, ping: dict[str, Any] | None = None, tmp: Path) -> Iterator[None]:
    """Run ``redis-server`` with ``args`` until the block ends; wait until it answers."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    process = subprocess.Popen(
        [binary, "--save", "", "--appendonly", "no", "--dir", str(tmp), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(**(ping or {}), socket_timeout=0.5).ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield
    finally:
        stop_process(process)


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.crt"
    ext = folder / "ext.cnf"
    # Python 3.13 verifies strictly (VERIFY_X509_STRICT): the CA needs key usage
    # and basic constraints, the server certificate an authority key identifier.
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "subjectKeyIdentifier=hash\n"
    )

    def run(*cmd: str) -> None:
        subprocess.run(["openssl", *cmd], check=True, capture_output=True)

    run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
        "-keyout", str(ca_key), "-out", str(ca_crt),
    )  # fmt: skip
    run(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "1", "-extfile", str(ext), "-out", str(crt),
    )  # fmt: skip
    return {"ca": ca_crt, "key": key, "cert": crt}


@contextmanager
def redis_cluster(
    tmp: Path, primaries: int = 3, timeout: float = 20, replicas: int = 0
) -> Iterator[list[int]]:
    """A Redis Cluster of ``primaries`` primaries on free loopback ports, each with
    ``replicas`` replicas.

    Yields the ports, primaries first (replica ``k`` follows primary ``k % primaries``).
    Slots are assigned with ``CLUSTER ADDSLOTSRANGE``, the nodes introduced with
    ``CLUSTER MEET`` and the replicas attached with ``CLUSTER REPLICATE`` (what
    ``redis-cli --cluster create`` does), and the block starts once every node reports
    ``cluster_state:ok`` and every replica's link to its primary is up.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    total = primaries * (1 + replicas)
    ports = [free_port() for _ in range(total)]
    # The bus would default to port + 10000, past 65535 for high ephemeral
    # ports: each node gets a free port of its own for it.
    bus_ports = [free_port() for _ in range(total)]
    processes: list[subprocess.Popen[bytes]] = []
    deadline = time.monotonic() + timeout

    def wait_for(done: Any, what: str) -> None:
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster on {ports}: {what} not in {timeout:.0f} s")
            time.sleep(0.05)

    try:
        for port, bus_port in zip(ports, bus_ports, strict=True):
            folder = tmp / f"node-{port}"
            folder.mkdir()
            processes.append(
                subprocess.Popen(
                    [
                        binary, "--port", str(port), "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-port", str(bus_port),
                        "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                        "--dir", str(folder),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        nodes = [redis.Redis(port=port, socket_timeout=1) for port in ports]
        for node, process in zip(nodes, processes, strict=True):
            while True:
                try:
                    node.ping()
                    break
                except redis.RedisError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.05)
        per_node = 16384 // primaries
        for i, node in enumerate(nodes[:primaries]):
            last = 16383 if i == primaries - 1 else (i + 1) * per_node - 1
            node.execute_command("CLUSTER ADDSLOTSRANGE", i * per_node, last)
        for port, bus_port in zip(ports[1:], bus_ports[1:], strict=True):
            nodes[0].execute_command("CLUSTER MEET", "127.0.0.1", port, bus_port)
        if replicas:
            # A replica can only follow a primary it has heard of through the bus.
            for node in nodes:
                wait_for(
                    lambda node=node: int(node.cluster("INFO")["cluster_known_nodes"]) == total,
                    "every node knowing every other",
                )
            ids = [node.execute_command("CLUSTER MYID") for node in nodes[:primaries]]
            for k, replica in enumerate(nodes[primaries:]):
                replica.execute_command("CLUSTER REPLICATE", ids[k % primaries])
            for replica in nodes[primaries:]:
                wait_for(
                    lambda replica=replica: (
                        replica.info("replication").get("master_link_status") == "up"
                    ),
                    "replication links up",
                )
        for node in nodes:
            wait_for(lambda node=node: node.cluster("INFO").get("cluster_state") == "ok", "ok")
        for node in nodes:
            node.close()
        yield ports
    finally:
        for process in processes:
            stop_process(process)


@contextmanager
def full_redis_server(tmp: Path, maxmemory: str = "2mb") -> Iterator[int]:
    """A ``redis-server`` on a free loopback port that refuses writes past ``maxmemory``
    (``--maxmemory-policy noeviction``: ``OOM command not allowed``); yields the port."""
    port = free_port()
    with redis_server(
        "--port", str(port), "--bind", "127.0.0.1",
        "--maxmemory", maxmemory, "--maxmemory-policy", "noeviction",
        ping={"host": "127.0.0.1", "port": port},
        tmp=tmp,
    ):  # fmt: skip
        yield port
