"""A local SMTP server for the mail benchmark: accepts and counts, then reports on SIGTERM.

    python bench/smtp_sink.py PORT [lean|aiosmtpd]

`lean` (the default) is a small SMTP server on asyncio's protocol API: it speaks the protocol a
relay speaks to a client like smtplib (EHLO/HELO, MAIL, RCPT, DATA with its dot-terminated
content, RSET, NOOP, QUIT; anything else refused), reads a message's content in chunks and keeps
nothing. `aiosmtpd` is the test suite's server (tests/helpers.py), which handles DATA line by
line and parses every address with the email package: about 1.3 ms of its own CPU per message
against about 0.1 ms for `lean`. Either way it runs on the benchmark's machine, so its CPU is taken
from the worker's; a production relay runs elsewhere. The report gives its CPU seconds so a
reader sees what the server cost.
"""

import asyncio
import json
import resource
import signal
import sys
import threading

CRLF = b"\r\n"
END_OF_DATA = b"\r\n.\r\n"


class Counts:
    """Connections (greeted with EHLO or HELO) and messages accepted."""

    def __init__(self):
        self.connections = 0
        self.messages = 0


class LeanSmtp(asyncio.Protocol):
    """One client's SMTP session: commands line by line, a message's content as one block."""

    def __init__(self, counts: Counts):
        self.counts = counts
        self.buffer = b""
        self.in_data = False
        self.sender = False
        self.recipients = 0

    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"220 127.0.0.1 ESMTP bench sink\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                # The content so far starts after the 354 reply: an empty message is just ".\r\n".
                if self.buffer.startswith(b".\r\n"):
                    end, skip = 0, 3
                else:
                    end, skip = self.buffer.find(END_OF_DATA), len(END_OF_DATA)
                    if end < 0:
                        return  # wait for the rest (the buffer keeps what came)
                self.buffer = self.buffer[end + skip :]
                self.in_data, self.sender, self.recipients = False, False, 0
                self.counts.messages += 1
                self.transport.write(b"250 OK\r\n")
                continue
            end = self.buffer.find(CRLF)
            if end < 0:
                return
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            self.transport.write(self.reply(line))

    def reply(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            self.counts.connections += 1
            self.sender, self.recipients = False, 0
            if verb == b"HELO":
                return b"250 127.0.0.1\r\n"
            return b"250-127.0.0.1\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        if verb == b"MAIL" and line[4:10].upper() == b" FROM:":
            self.sender, self.recipients = True, 0
            return b"250 OK\r\n"
        if verb == b"RCPT" and line[4:8].upper() == b" TO:":
            if not self.sender:
                return b"503 Error: need MAIL command\r\n"
            self.recipients += 1
            return b"250 OK\r\n"
        if verb == b"DATA":
            if not self.recipients:
                return b"503 Error: need RCPT command\r\n"
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"RSET":
            self.sender, self.recipients = False, 0
            return b"250 OK\r\n"
        if verb == b"NOOP":
            return b"250 OK\r\n"
        if verb == b"QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
            return b""
        return b"500 Error: command not recognized\r\n"


def serve_lean(port: int, counts: Counts, stop: threading.Event) -> None:
    """Serve on 127.0.0.1:port in this thread until `stop` is set."""

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: LeanSmtp(counts), "127.0.0.1", port)
        print("ready", flush=True)
        while not stop.is_set():
            await asyncio.sleep(0.05)
        server.close()

    asyncio.run(run())


def serve_aiosmtpd(port: int, counts: Counts, stop: threading.Event) -> None:
    """The test suite's aiosmtpd server, counting and discarding."""
    from aiosmtpd.controller import Controller

    class CountingSink:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            counts.connections += 1
            session.host_name = hostname
            return responses

        async def handle_DATA(self, server, session, envelope):
            counts.messages += 1
            return "250 OK"

    controller = Controller(CountingSink(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop.wait()
    controller.stop()


SERVERS = {"lean": serve_lean, "aiosmtpd": serve_aiosmtpd}


def main(port: int, kind: str) -> None:
    counts, stop = Counts(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    SERVERS[kind](port, counts, stop)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {"server": kind, "connections": counts.connections, "messages": counts.messages}
    print(json.dumps(report | {"cpu_seconds": usage.ru_utime + usage.ru_stime}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "lean")
