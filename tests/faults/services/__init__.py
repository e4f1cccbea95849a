"""Controllers for fault injection against real services: the fault suite and the soak share them.

- `PrivateRedis`: a `redis-server` of our own on a free port (append-only file, like the
  production compose file), to stop, kill and restart without touching the shared instance.
- `PrivatePostgres`: a PostgreSQL cluster of our own in a temporary directory (`initdb` runs as
  the `postgres` user when we are root: it refuses root), to restart mid-write.
- `ServiceProcess`: a child process (`autointel worker`, `autointel bot`) to SIGKILL and start
  again, with its resident memory; `worker_process(..., clock_skew=N)` runs a worker whose
  wall clock is N seconds off.
- `ModelServerProcess`: the scripted OpenAI-compatible server (fakes.openai_server) in its own
  process on a fixed port, so it can be killed mid-call and restarted at the same address;
  its switches (delay, failure rate) are set at run time over its stdin.
- `SmallDisk`: a small tmpfs mounted for a data dir, filled with a ballast file to get a real
  ENOSPC, and emptied to give the space back.

A service that cannot start raises `ServiceUnavailable` (tests turn it into a skip, or a failure
under AUTOINTEL_TEST_REQUIRE_SERVICES=1). Import everything from here; the submodules split
the code by kind (databases, processes, disk).
"""

from faults.services.common import ROOT, ServiceUnavailable, free_port, rss_bytes, until
from faults.services.databases import PrivatePostgres, PrivateRedis
from faults.services.disk import SmallDisk, small_disk
from faults.services.processes import (
    ModelServerProcess,
    ServiceProcess,
    bot_process,
    child_env,
    worker_process,
)

__all__ = [
    "ROOT",
    "ModelServerProcess",
    "PrivatePostgres",
    "PrivateRedis",
    "ServiceProcess",
    "ServiceUnavailable",
    "SmallDisk",
    "bot_process",
    "child_env",
    "free_port",
    "rss_bytes",
    "small_disk",
    "until",
    "worker_process",
]
