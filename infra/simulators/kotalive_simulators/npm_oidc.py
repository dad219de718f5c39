"""Run the npm ``oidc-provider`` (an OpenID provider no one here wrote) on loopback, for tests.

    with start_npm_oidc_provider(0, client, users, audience="kotalive-test-api") as op:
        op.issuer  # http://127.0.0.1:<port>; discovery at op.issuer + "/.well-known/openid-configuration"

Needs ``node`` and the root ``node_modules`` (``npm ci``; ``make setup`` runs it). The script is
../oidc-provider-npm/server.mjs; how a test logs in without a person is described there: send the
account's username as ``login_hint`` and follow the redirects.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kotalive_simulators.data import OidcClient, OidcUser

SCRIPT = Path(__file__).resolve().parents[1] / "oidc-provider-npm" / "server.mjs"
REPO_ROOT = Path(__file__).resolve().parents[3]


class NpmOidcUnavailable(RuntimeError):
    """node or the npm package is missing, or the provider did not come up."""


@dataclass
class NpmOidcHandle:
    issuer: str
    process: subprocess.Popen[str]
    _config_dir: tempfile.TemporaryDirectory[str]
    _stderr: list[str] = field(default_factory=list)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def log(self) -> str:
        return "".join(self._stderr)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout:
            self.process.stdout.close()
        self._config_dir.cleanup()

    def __enter__(self) -> NpmOidcHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _user_json(user: OidcUser | dict[str, Any]) -> dict[str, Any]:
    if isinstance(user, OidcUser):
        return {
            "sub": user.sub,
            "username": user.username,
            "name": user.name,
            "email": user.email,
            "nip": user.nip,
        }
    return dict(user)


def _client_json(client: OidcClient | dict[str, Any]) -> dict[str, Any]:
    if isinstance(client, OidcClient):
        data: dict[str, Any] = {
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "redirect_uris": list(client.redirect_uris),
        }
        if client.post_logout_redirect_uris:
            data["post_logout_redirect_uris"] = list(client.post_logout_redirect_uris)
        return data
    return dict(client)


def start_npm_oidc_provider(
    port: int,
    client: OidcClient | dict[str, Any],
    users: list[OidcUser] | list[dict[str, Any]],
    *,
    host: str = "127.0.0.1",
    audience: str | None = None,
    timeout: float = 20.0,
) -> NpmOidcHandle:
    """Start the provider (``port`` 0 = a free one) and return once its discovery document answers."""
    node = shutil.which("node")
    if node is None:
        raise NpmOidcUnavailable("node is not installed (the npm oidc-provider runs on Node.js)")
    if not (REPO_ROOT / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise NpmOidcUnavailable("node_modules/oidc-provider is missing: run `npm ci` (or `make setup`)")
    config_dir = tempfile.TemporaryDirectory(prefix="npm-oidc-")
    config_file = Path(config_dir.name) / "config.json"
    config = {
        "host": host,
        "port": port,
        "client": _client_json(client),
        "users": [_user_json(u) for u in users],
        "audience": audience,
    }
    config_file.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}
    env["NODE_ENV"] = "test"
    process = subprocess.Popen(
        [node, str(SCRIPT), str(config_file)],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    stderr: list[str] = []

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            stderr.append(line)

    threading.Thread(target=drain, name="npm-oidc-stderr", daemon=True).start()
    handle = NpmOidcHandle(issuer="", process=process, _config_dir=config_dir, _stderr=stderr)
    try:
        handle.issuer = _read_issuer(process, timeout)
        _wait_for_discovery(handle, timeout)
    except BaseException:
        handle.stop()
        raise
    return handle


def _read_issuer(process: subprocess.Popen[str], timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(
        target=lambda: result.append(process.stdout.readline() if process.stdout else "")
    )
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    line = result[0] if result else ""
    if not line:
        raise NpmOidcUnavailable(f"oidc-provider did not start (exit code {process.poll()})")
    issuer = json.loads(line)["issuer"]
    if not isinstance(issuer, str):
        raise NpmOidcUnavailable(f"unexpected first line from server.mjs: {line!r}")
    return issuer


def _wait_for_discovery(handle: NpmOidcHandle, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(handle.discovery_url, timeout=2.0)
            if response.status_code == 200 and response.json().get("issuer") == handle.issuer:
                return
        except httpx.HTTPError:
            pass
        if handle.process.poll() is not None or time.monotonic() > deadline:
            raise NpmOidcUnavailable(f"oidc-provider discovery did not answer: {handle.log[-2000:]}")
        time.sleep(0.05)
