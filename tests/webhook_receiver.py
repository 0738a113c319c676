"""A real HTTP server on loopback that receives webhooks and answers as a test scripts it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None


@dataclass
class Receiver:
    """Answers each POST with the next scripted status ("hang": never answer until stopped)."""

    script: list = field(default_factory=list)
    default: int = 204
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/debrief"

    @property
    def accepted(self) -> list[Received]:
        """Requests answered 2xx."""
        return [r for r in self.requests if r.answered is not None and 200 <= r.answered < 300]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = receiver.script.pop(0) if receiver.script else receiver.default
                record = Received(self.path, dict(self.headers.items()), body, None)
                receiver.requests.append(record)
                receiver.arrived.set()
                if answer == "hold":  # answer only once the test releases it
                    receiver.release.wait(30)
                    answer = receiver.default
                if answer == "hang":  # never answer: the client must give up by itself
                    receiver.release.wait(30)
                    return
                if answer == "trickle":  # a header byte at a time, each well within a read timeout
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    while not receiver.release.wait(0.2):
                        try:
                            self.wfile.write(b"X")
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                record.answered = answer
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
