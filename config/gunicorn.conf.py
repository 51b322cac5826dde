"""gunicorn settings of the production command (README, "Production").

    gunicorn config.wsgi -c config/gunicorn.conf.py

One file, so the README's command and ``make bench BENCH=http`` run the same server. Each setting can
still be overridden on the command line (``--bind``, ``--workers``) or by ``GUNICORN_CMD_ARGS``.

Why gthread, not sync (docs/operations.md, "The web server"): a sync worker serves one connection at a
time and reads it with blocking calls that only the 30 s worker timeout ends, so clients that keep
connections open (every pooled HTTP client does: urllib3, aiohttp, httpx) or send slowly pin the
workers, and five idle connections stop the whole server (measured: ``make bench BENCH=http``'s open
loop). gthread workers wait for a connection's request in a poller and hand only readable ones to a
thread, and keep connections alive between calls, so a client posting many events pays one TCP (and
TLS) handshake, not one per event.
"""

import os

import gunicorn.workers.gthread

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
# Processes for the CPUs (threads share one interpreter lock); threads for requests waiting on the
# database or Redis meanwhile.
workers = 2 * (os.cpu_count() or 1) + 1
threads = 4
# Idle keep-alive connections wait in each worker's poller (not in a thread) for this long.
keepalive = 20
# gunicorn 27 opens $HOME/.gunicorn/gunicorn.ctl and removes another instance's socket of the same user.
control_socket_disable = True

# TRICKY: gthread hands a newly accepted connection to a thread that waits up to 5 s for its first bytes
# before parking it in the poller (gunicorn 27's module constant, not a setting). A client pool that opens
# many connections up front and uses a few (urllib3's pool is last-in first-out) then pins every thread:
# measured, 64 pooled connections at 20 events/s stalled the server for 20 s at the start. A connection
# whose request is not there at once is parked in the poller, where it costs no thread.
if hasattr(gunicorn.workers.gthread, "DEFAULT_WORKER_DATA_TIMEOUT"):
    gunicorn.workers.gthread.DEFAULT_WORKER_DATA_TIMEOUT = 0.05
