"""A private PostgreSQL cluster on loopback (Debian's postgresql) for DuckLake's catalog in
the tests and local trials. ``make postgres`` installs the Debian package when missing."""

from __future__ import annotations

import glob
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flows.local_s3 import free_port

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalPostgres:
    port: int
    user: str = "postgres"

    def lake_catalog(self, dbname: str) -> str:
        """``CALLSCOPE_LAKE_CATALOG`` for database ``dbname`` of this cluster."""
        return f"postgres:dbname={dbname} host=127.0.0.1 port={self.port} user={self.user}"

    def create_database(self, dbname: str) -> None:
        _run(_as_owner([_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", self.user, dbname]))  # fmt: skip


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or (
        [p] if (p := shutil.which(name)) else []
    )
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run `make postgres` (Debian)")
    return found[-1]


def _as_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the `postgres` system user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout}")


@contextmanager
def local_postgres() -> Iterator[LocalPostgres]:
    """initdb a throw-away cluster (trust auth, loopback only) and run it for the block."""
    root = Path(tempfile.mkdtemp(prefix="callscope-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    root.chmod(0o755)
    port = free_port()
    try:
        _run(_as_owner([_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]))
        _run(_as_owner([_bin("pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
                        "-o", f"-h 127.0.0.1 -p {port} -k {sock}", "start"]))  # fmt: skip
        log.info("PostgreSQL on 127.0.0.1:%d (%s)", port, data)
        try:
            yield LocalPostgres(port)
        finally:
            _run(_as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
