"""Services for `make run` and `make test`: the configured ones, the local ones, or embedded ones.

(First cut: configured URLs or local servers; the embedded fallback comes next.)
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class Services:
    database_url: str
    redis_url: str
    embedded: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.embedded):
            server.stop()
        self.embedded.clear()


def ensure_services(*, purpose: Literal["dev", "test"], data_dir: Path | None = None) -> Services:
    db = os.environ.get("KOTALIVE_DATABASE_URL", "")
    redis = os.environ.get("KOTALIVE_REDIS_URL", "")
    if not db and purpose == "test" and port_answers("127.0.0.1", 5432):
        db = "postgresql://postgres@127.0.0.1:5432/postgres"
    if not redis and purpose == "test" and port_answers("127.0.0.1", 6379):
        redis = "redis://127.0.0.1:6379/0"
    if not db or not redis:
        raise RuntimeError("embedded services are not wired yet")
    return Services(db, redis)
