"""A small tmpfs for a data dir: a real ENOSPC once it is filled, space back once it is emptied."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from faults.services.common import ServiceUnavailable


@dataclass
class SmallDisk:
    """A tmpfs of `size` bytes mounted at `path`; `fill` leaves only `leave` bytes free (ENOSPC)."""

    path: Path
    size: int = 16 * 1024 * 1024
    mounted: bool = False

    @property
    def ballast(self) -> Path:
        """The file that takes the space."""
        return self.path / ".ballast"

    def mount(self) -> SmallDisk:
        """Mount the tmpfs (needs CAP_SYS_ADMIN: root in the CI container)."""
        self.path.mkdir(parents=True, exist_ok=True)
        mount = shutil.which("mount")
        if mount is None:
            raise ServiceUnavailable("no mount command")
        options = f"size={self.size},mode=0777"
        done = subprocess.run(
            [mount, "-t", "tmpfs", "-o", options, "tmpfs", str(self.path)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).decode(errors="replace").strip()
            raise ServiceUnavailable(f"cannot mount a tmpfs at {self.path}: {reason}")
        self.mounted = True
        return self

    def free_bytes(self) -> int:
        """Bytes still free on the filesystem."""
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Grow the ballast until at most `leave` bytes are free."""
        block = b"\0" * 65536
        with self.ballast.open("ab") as ballast:
            try:
                while self.free_bytes() > leave:
                    ballast.write(block[: max(1, min(len(block), self.free_bytes() - leave))])
                    ballast.flush()
            except OSError:  # ENOSPC: full
                pass

    def empty(self) -> None:
        """Give the space back (delete the ballast)."""
        self.ballast.unlink(missing_ok=True)

    def unmount(self) -> None:
        """Unmount (lazily: a process may still hold a file there)."""
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)
            self.mounted = False


@contextlib.contextmanager
def small_disk(path: Path, size: int = 16 * 1024 * 1024) -> Iterator[SmallDisk]:
    """A mounted `SmallDisk`, unmounted afterwards."""
    disk = SmallDisk(path, size).mount()
    try:
        yield disk
    finally:
        disk.unmount()
