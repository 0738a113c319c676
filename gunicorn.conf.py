"""gunicorn settings for Debrief: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be set from the environment, so one file serves every deployment.
Logs (access and errors) go to stdout, with survey tokens taken out of request lines
and referrers however the path is spelled: a token in a log is a working link to someone's survey.
In production, several workers with in-process throttle storage refuse to start: each worker
would count alone and allow the full limit (config.shared_throttle_problem).
"""

import logging
import os
import sys

from gunicorn import glogging

from config import config_from_env, shared_throttle_problem
from survey.log_redaction import RedactTokens

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
# %(p)s: the worker's process id, so a line can be tied to the worker that served it.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s" %(p)s'


def on_starting(server) -> None:
    """Refuse to start several production workers that would each keep their own throttle counters."""
    settings = config_from_env()
    if settings.ENV_NAME != "production":
        return
    problem = shared_throttle_problem(
        settings.RATELIMIT_STORAGE_URI, server.cfg.workers, settings.RATELIMIT_ENABLED
    )
    if problem:
        raise SystemExit(f"Refusing to start: {problem}")


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
