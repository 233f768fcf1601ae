"""A throw-away PostgreSQL cluster for the tests: initdb in a temporary folder, started on a free
loopback port, stopped (and removed) at the end of the session.

`HUIZONG_TEST_PG` set to a server URL (`postgresql+psycopg://user@host:port/db`) uses that server
instead. As root the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's versioned one, else the PATH's."""
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(found).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        self.external = os.environ.get("HUIZONG_TEST_PG", "")
        self.root: Path | None = None
        self.url = self.external

    def start(self) -> Cluster:
        if self.external:
            return self
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (make test installs Debian's postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="huizong-pg-"))
        data, sock = self.root / "data", self.root / "sock"
        sock.mkdir()
        as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.root, sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        self._as_user = as_user
        self._pg_ctl = str(bin_dir / "pg_ctl")
        self.data = data
        run = [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "huizong",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]
        subprocess.run(run, check=True, capture_output=True)
        port = free_port()
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        subprocess.run(
            [*as_user, self._pg_ctl, "-D", str(data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"],
            check=True,
            capture_output=True,
        )
        self.url = f"postgresql+psycopg://huizong@127.0.0.1:{port}/postgres"
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        subprocess.run(
            [*self._as_user, self._pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return sa.make_url(self.url).set(database=name).render_as_string(hide_password=False)
