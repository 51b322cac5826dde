"""gunicorn settings of the production command (README, "Production").

    gunicorn config.wsgi -c config/gunicorn.conf.py

One file, so the README's command and ``make bench BENCH=http`` run the same server. Each setting can
still be overridden on the command line (``--bind``, ``--workers``) or by ``GUNICORN_CMD_ARGS``.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = 2 * (os.cpu_count() or 1) + 1
# gunicorn 27 opens $HOME/.gunicorn/gunicorn.ctl and removes another instance's socket of the same user.
control_socket_disable = True
