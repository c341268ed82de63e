"""A cheap HTTP client for the load app: one keep-alive connection per thread.

On a small machine the load generator competes with the server for CPU, so
this does as little as it can: ``http.client`` on a persistent connection, the
session cookie kept as one string (no cookie jar, no redirects), bodies read
as bytes and left unparsed unless the caller asks.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlencode

COOKIE_NAME = "sessionid"


class Jar:
    """One browser's session cookie, shared by its tabs (threads)."""

    def __init__(self) -> None:
        self.value = ""

    def update(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            name, _, rest = header.partition("=")
            if name.strip() != COOKIE_NAME:
                continue
            value, _, attributes = rest.partition(";")
            value = value.strip().strip('"')
            # Django deletes a cookie with an empty value and Max-Age=0.
            if not value or "max-age=0" in attributes.replace(" ", "").lower():
                self.value = ""
            else:
                self.value = value


class Client:
    """One tab: its own connection, the jar of the browser it belongs to."""

    def __init__(self, host: str, port: int, jar: Jar | None = None, timeout: float = 30) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.jar = jar if jar is not None else Jar()
        self.connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        headers = {}
        if self.jar.value:
            headers["Cookie"] = f"{COOKIE_NAME}={self.jar.value}"
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(method, path, body, headers)
                response = connection.getresponse()
                content = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            set_cookies = response.headers.get_all("Set-Cookie")
            if set_cookies:
                self.jar.update(set_cookies)
            return response.status, content
        raise AssertionError("unreachable")

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str] | None = None) -> tuple[int, bytes]:
        return self.request("POST", path, form or {})
