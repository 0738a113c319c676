"""gunicorn settings for Debrief: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be set from the environment, so one file serves every deployment.
Logs (access and errors) go to stdout, with survey tokens taken out of request lines
and referrers: a token in a log is a working link to someone's survey.
"""

import logging
import os
import re
import sys

from gunicorn import glogging

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'

SURVEY_TOKEN = re.compile(r"(/s/)[^/\s?#\"']+")


def redact(line: str) -> str:
    """Replace every survey token in a log line with [redacted]."""
    return SURVEY_TOKEN.sub(r"\1[redacted]", line)


class RedactTokens(logging.Filter):
    """Rewrites each record's final message with tokens redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


class RedactingLogger(glogging.Logger):
    """gunicorn's logger, writing to stdout, with survey tokens redacted."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                    handler.setStream(sys.stdout)
                handler.addFilter(RedactTokens())


logger_class = RedactingLogger
