"""A local SMTP server for the mail benchmark: accepts and counts, then reports on SIGTERM."""

import json
import resource
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class CountingSink:
    """Counts connections and messages; keeps nothing."""

    def __init__(self):
        self.connections = 0
        self.messages = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        return "250 OK"


def main(port: int) -> None:
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {"connections": sink.connections, "messages": sink.messages}
    print(json.dumps(report | {"cpu_seconds": usage.ru_utime + usage.ru_stime}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
