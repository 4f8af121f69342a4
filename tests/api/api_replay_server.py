"""A real HTTP server on loopback for API-source tests: replays recorded responses, and misbehaves on request.

:class:`ReplayServer` runs ``http.server.ThreadingHTTPServer`` on ``127.0.0.1`` port 0 in a daemon thread and
answers every GET with ``route(request)``. :class:`GitHubCassette` turns the betamax recording in
``../shared/real-data/api-recordings/github3py`` into such a route: bodies served decoded (the recording holds
base64 of gzip), absolute ``https://api.github.com`` URLs in ``Location`` and ``Link`` rewritten to the server.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

GITHUB = "https://api.github.com"


@dataclass
class Request:
    """One request as the server saw it."""

    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    count: int  # how many times this path + query has been requested, this one included

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)


@dataclass
class Reply:
    """A response. ``content_length`` overrides the header (larger than the body → a truncated transfer)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_length: int | None = None

    @staticmethod
    def json(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
        return Reply(status, json.dumps(data).encode(), [("Content-Type", "application/json"), *(headers or [])])


Route = Callable[[Request], Reply]


class ReplayServer:
    """Loopback HTTP server; use as a context manager. ``requests`` lists every request received."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.requests: list[Request] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with server._lock:
                    server._counts[(parts.path, parts.query)] += 1
                    req = Request(
                        parts.path,
                        parse_qsl(parts.query, keep_blank_values=True),
                        dict(self.headers.items()),
                        server._counts[(parts.path, parts.query)],
                    )
                    server.requests.append(req)
                reply = server.route(req)
                self.send_response_only(reply.status)
                names = {k.lower() for k, _ in reply.headers}
                for k, v in reply.headers:
                    self.send_header(k, v)
                if "date" not in names:
                    self.send_header("Date", self.date_time_string())
                length = reply.content_length if reply.content_length is not None else len(reply.body)
                self.send_header("Content-Length", str(length))
                if length != len(reply.body):
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(reply.body)
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def hits(self, path: str) -> list[Request]:
        """Requests received for ``path`` (any query)."""
        return [r for r in self.requests if r.path == path]


@dataclass
class Recorded:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class GitHubCassette:
    """The recorded GitHub interactions as a route.

    Requests match a recording by path and query parameters (order ignored). Two pieces of GitHub behaviour are
    derived from the recording itself: the recorded 301 of ``/repos/sigmavirus24/betamax`` applies to every path
    below it (GitHub redirects a renamed repository's sub-resources the same way), and
    ``/repositories/<id>`` is the same resource as ``/repos/<full_name>`` (both from the recorded repository body).
    """

    def __init__(self, cassette: Path) -> None:
        data = json.loads(cassette.read_text(encoding="utf-8"))
        self.recorded: dict[tuple[str, frozenset[tuple[str, str]]], Recorded] = {}
        self.redirects: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        for inter in data["http_interactions"]:
            uri = urlsplit(inter["request"]["uri"])
            resp = inter["response"]
            body_spec = resp["body"]
            if body_spec.get("base64_string"):
                body = gzip.decompress(base64.b64decode(body_spec["base64_string"]))
            else:
                body = body_spec.get("string", "").encode("utf-8")
            headers = [
                (k, v)
                for k, v in resp["headers"].items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding", "connection")
            ]
            key = (uri.path, frozenset(parse_qsl(uri.query)))
            self.recorded[key] = Recorded(resp["status"]["code"], headers, body)
            if resp["status"]["code"] in (301, 302, 307, 308):
                location = dict(headers)["Location"]
                self.redirects[uri.path] = urlsplit(location).path
            if resp["status"]["code"] == 200 and isinstance(repo := json.loads(body), dict) and "full_name" in repo:
                self.aliases[f"/repositories/{repo['id']}"] = f"/repos/{repo['full_name']}"

    def route_for(self, base_url: str) -> Route:
        """The route serving this cassette from ``base_url`` (absolute GitHub URLs rewritten to it)."""

        def rewrite(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
            return [(k, v.replace(GITHUB, base_url) if k in ("Link", "Location") else v) for k, v in headers]

        def route(req: Request) -> Reply:
            for old, new in self.redirects.items():
                if req.path == old or req.path.startswith(old + "/"):
                    rec = self.recorded[(old, frozenset())]
                    target = base_url + new + req.path[len(old) :]
                    if req.query:
                        target += "?" + "&".join(f"{k}={v}" for k, v in req.query)
                    headers = [(k, v) for k, v in rewrite(rec.headers) if k != "Location"]
                    return Reply(rec.status, rec.body, [*headers, ("Location", target)])
            query = frozenset(req.query)
            candidates = [req.path]
            for alias, canonical in self.aliases.items():
                if req.path.startswith(alias):
                    candidates.append(canonical + req.path[len(alias) :])
            for path in candidates:
                rec = self.recorded.get((path, query))
                if rec is not None:
                    return Reply(rec.status, rec.body, rewrite(rec.headers))
            return Reply.json(404, {"message": "Not Found (not in the recording)", "path": req.path})

        return route
