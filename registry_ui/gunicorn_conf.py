"""gunicorn settings for the registry. Threads, not sync workers: a 1 GiB layer upload holds a
request for minutes, and a sync worker would be killed by its timeout half way through."""

import os

bind = os.environ.get("REGISTRY_BIND", "0.0.0.0:5000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, (os.cpu_count() or 1)))))
threads = int(os.environ.get("REGISTRY_THREADS", "8"))
# Only the worker's heartbeat counts against this with gthread, not a long upload.
timeout = 120
keepalive = 75
# Large headers: docker sends long Accept lists and bearer tokens.
limit_request_field_size = 16384
accesslog = "-"
# One fixed socket path per host would be shared by every instance (tests start several).
control_socket_disable = True
