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
def redis_cluster(tmp: Path, primaries: int = 3, timeout: float = 20) -> Iterator[list[int]]:
    """A Redis Cluster of ``primaries`` primaries (no replicas) on free loopback ports.

    Yields the ports. Slots are assigned with ``CLUSTER ADDSLOTSRANGE`` and the nodes
    introduced with ``CLUSTER MEET`` (what ``redis-cli --cluster create`` does), and the
    block starts once every node reports ``cluster_state:ok``.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    ports = [free_port() for _ in range(primaries)]
    # The bus would default to port + 10000, past 65535 for high ephemeral
    # ports: each node gets a free port of its own for it.
    bus_ports = [free_port() for _ in range(primaries)]
    processes: list[subprocess.Popen[bytes]] = []
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
        deadline = time.monotonic() + timeout
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
        for i, node in enumerate(nodes):
            last = 16383 if i == primaries - 1 else (i + 1) * per_node - 1
            node.execute_command("CLUSTER ADDSLOTSRANGE", i * per_node, last)
        for port, bus_port in zip(ports[1:], bus_ports[1:], strict=True):
            nodes[0].execute_command("CLUSTER MEET", "127.0.0.1", port, bus_port)
        for node in nodes:
            while node.cluster("INFO").get("cluster_state") != "ok":
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the cluster on {ports} was not ready in {timeout:.0f} s")
                time.sleep(0.05)
        for node in nodes:
            node.close()
        yield ports
    finally:
        for process in processes:
            stop_process(process)
