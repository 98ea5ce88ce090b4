"""What the leases and messages of runs and ingestions share, on the web side and the worker side alike. Imports
no app: the apps' services and worker-side modules import it, and the worker's boot (nasweb/worker_boot.py) imports
them."""

import os
import socket
import threading

import redis
from dramatiq.errors import BrokerConnectionError

# What sending a message raises while the broker is down: Dramatiq's Redis broker lets redis-py's errors through.
BROKER_UNREACHABLE = (BrokerConnectionError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# A queued run or upload no worker claimed for this long is sent again (its message may have died with a broker).
REQUEUE_AFTER_SECONDS = 120
# PostgreSQL ends a worker's session that has sat this long inside a transaction: a worker frozen there (paused,
# swapped out, its machine stalled) would otherwise hold its row locks for ever, and the reaper, waiting on the
# run's row, could never hand the run to another worker. Far above any transaction of ours (storing a run's model
# files, the longest, takes seconds).
FROZEN_TRANSACTION_SECONDS = 60


def worker_identity() -> str:
    """Who holds a lease (on a run or a dataset being ingested): host:pid:thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def postgres_url(database: dict, drivername: str, **query: str) -> str:
    """A Django PostgreSQL database's settings as an SQLAlchemy-style URL, password included."""
    from sqlalchemy.engine import URL

    return URL.create(drivername, username=database["USER"] or None, password=database["PASSWORD"] or None,
                      host=database["HOST"] or None, port=int(database["PORT"]) if database["PORT"] else None,
                      database=database["NAME"], query=query).render_as_string(hide_password=False)
