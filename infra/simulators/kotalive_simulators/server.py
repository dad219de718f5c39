"""Start the simulators on loopback ports, in a background thread of this process.

    handle = start_simulators(tmp_path)              # free ports
    handle = start_simulators(base_port=8100)        # 8100 SIAK, 8101 Simpeg, 8102 SMS, 8103 OIDC,
                                                     # 8104 SMTP (the mail sink)
    handle.base_url("siak", "tangerang")             # -> http://127.0.0.1:8100/tangerang
    handle.mail("tangerang", "agus.setiawan@pemkot-tangerang.test")  # what the sink received
    handle.stop()                                    # or: with start_simulators() as handle: ...

Sockets are bound before the servers start, so a free port cannot be taken in between and the
OpenID issuer URLs are known when the apps are built. The mail sink's SMTP server runs on the same
event loop as the HTTP servers; its inbox page and API are routes of the SMS simulator's app.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import uvicorn

from kotalive_simulators.common import Faults
from kotalive_simulators.data import DemoCity, Persona, demo_cities, personas
from kotalive_simulators.mail import Mail, MailFaults, MailSink, mail_http_handlers
from kotalive_simulators.oidc import Issuer, IssuerConfig, demo_issuers, oidc_app
from kotalive_simulators.siak import siak_app
from kotalive_simulators.simpeg import StaffRegister, simpeg_app
from kotalive_simulators.sms import Message, sms_app

Kind = Literal["siak", "simpeg", "sms", "oidc", "smtp"]
# In port order from the base port. "smtp" is SMTP, not HTTP: its pages are on the SMS port.
KINDS: tuple[Kind, ...] = ("siak", "simpeg", "sms", "oidc", "smtp")
HTTP_KINDS: tuple[Kind, ...] = ("siak", "simpeg", "sms", "oidc")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


class _ServerThread:
    """Several uvicorn servers (and the mail sink's SMTP server) on one event loop in one daemon
    thread."""

    def __init__(
        self, apps: list[tuple[Any, socket.socket]], smtp: tuple[MailSink, socket.socket] | None = None
    ) -> None:
        self.sockets = [sock for _, sock in apps]
        self.smtp = smtp
        self.smtp_started = smtp is None
        self.servers = [
            uvicorn.Server(
                uvicorn.Config(
                    app,
                    log_config=None,  # leave the host process's logging alone
                    log_level="warning",
                    access_log=False,
                    lifespan="on",
                    timeout_graceful_shutdown=1,
                )
            )
            for app, _ in apps
        ]
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="kotalive-simulators", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()
            self.error = exc

    async def _serve(self) -> None:
        smtp_server: asyncio.Server | None = None
        if self.smtp is not None:
            # Listening before the HTTP servers start: whoever waits for the HTTP ports (make run)
            # finds the SMTP port open too.
            sink, sock = self.smtp
            smtp_server = await asyncio.get_running_loop().create_server(sink.protocol, sock=sock)
            self.smtp_started = True
        try:
            await asyncio.gather(
                *(s.serve(sockets=[sock]) for s, sock in zip(self.servers, self.sockets, strict=True))
            )
        finally:
            if smtp_server is not None:
                smtp_server.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(smtp_server.wait_closed(), 1)

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not (self.smtp_started and all(s.started for s in self.servers)):
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the simulators did not start: {self.error!r}")
            time.sleep(0.01)

    def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()
        if self.smtp is not None:
            self.smtp[1].close()


@dataclass
class SimulatorHandle:
    host: str
    ports: dict[Kind, int]
    cities: dict[str, DemoCity]
    issuers: dict[str, Issuer]
    apps: dict[Kind, Any]
    _thread: _ServerThread
    mail_sink: MailSink | None = None

    def root(self, kind: Kind) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "smtp" if kind == "smtp" else "http"
        return f"{scheme}://{host}:{self.ports[kind]}"

    def base_url(self, kind: Kind, city: str) -> str:
        """What a city configures as the base URL of that system (the OpenID issuer for "oidc")."""
        if kind == "smtp":
            raise ValueError("the mail sink speaks SMTP: city_settings(city)['smtp'] has its host and port")
        return f"{self.root(kind)}/{city}"

    def sms_inbox_url(self, city: str) -> str:
        return f"{self.base_url('sms', city)}/inbox"

    def mail_inbox_url(self, city: str) -> str:
        """The mail sink's page of what ``city`` e-mailed (served on the SMS simulator's port)."""
        return f"{self.base_url('sms', city)}/mail"

    @property
    def urls(self) -> dict[Kind, str]:
        return {kind: self.root(kind) for kind in KINDS}

    def issuer(self, city: str) -> Issuer:
        return self.issuers[city]

    def city_settings(self, city: str) -> dict[str, dict[str, Any]]:
        """The integration settings of a demo city by kind, shaped for the ``from_dict`` of SiakConfig,
        SimpegConfig, SmsConfig (kotalive.integrations) and OidcConfig (kotalive.auth.oidc)."""
        demo = self.cities[city]
        settings: dict[str, dict[str, Any]] = {
            "siak": {
                "base_url": self.base_url("siak", city),
                "api_key": demo.siak_api_key,
                "timeout_seconds": 5.0,
            },
            "simpeg": {
                "base_url": self.base_url("simpeg", city),
                "api_key": demo.simpeg_api_key,
                "timeout_seconds": 10.0,
            },
            "sms": {
                "base_url": self.base_url("sms", city),
                "api_key": demo.sms_api_key,
                "timeout_seconds": 5.0,
            },
        }
        issuer = self.issuers.get(city)
        if issuer is not None:
            client = next(iter(issuer.clients.values()))
            settings["oidc"] = {
                "issuer": issuer.url,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "scopes": "openid profile email",
                "api_audience": client.api_audience,
                "redirect_uri": client.redirect_uris[0],
            }
        # Shaped for the "smtp" integration: config keys, plus "password", its secret.
        settings["smtp"] = {
            "host": self.host,
            "port": self.ports["smtp"],
            "security": "none",
            "username": demo.smtp_username,
            "password": demo.smtp_password,
            "from_address": demo.mail_from,
            "from_name": demo.mail_from_name,
            "timeout_seconds": 5.0,
        }
        return settings

    def personas(self, city: str) -> list[Persona]:
        return personas(self.cities[city])

    # --- in-process access to simulator state (tests) --------------------------------------------

    def sms_messages(self, city: str, to: str | None = None) -> list[Message]:
        return self.apps["sms"].state.outboxes[city].for_number(to)

    def mail(self, city: str, to: str | None = None) -> list[Mail]:
        """What the mail sink accepted from ``city`` (addressed to ``to``), oldest first."""
        assert self.mail_sink is not None
        return self.mail_sink.messages(city, to)

    def mail_faults(self, city: str) -> MailFaults:
        """``.fail_count = 2`` (``.fail_code = 451`` or 550): the city's next two e-mails are refused."""
        assert self.mail_sink is not None
        return self.mail_sink.faults(city)

    def faults(self, kind: Literal["siak", "simpeg", "sms"], city: str) -> Faults:
        faults: Faults = self.apps[kind].state.gate.faults[city]
        return faults

    def staff(self, city: str) -> StaffRegister:
        register: StaffRegister = self.apps["simpeg"].state.registers[city]
        return register

    def stop(self) -> None:
        for kind in ("siak", "simpeg", "sms"):
            for faults in self.apps[kind].state.gate.faults.values():
                faults.stopping = True
        self._thread.stop()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulators(
    state_dir: Path | str | None = None,
    *,
    host: str = "127.0.0.1",
    base_port: int | None = None,
    cities: dict[str, DemoCity] | None = None,
    issuers: dict[str, IssuerConfig] | None = None,
    platform_port: int = 8000,
    callback_path: str = "/staff/callback",
) -> SimulatorHandle:
    """Start SIAK, Simpeg, SMS and OpenID simulators and the mail sink; returns when all answer.

    ``state_dir`` keeps the OpenID signing keys across restarts (else new keys each start).
    ``base_port`` None takes free ports; else base, base+1, ... base+4 in KINDS order.
    ``issuers`` replaces the demo OpenID clients/accounts; by default each demo city's client
    redirects to ``http://<city>.localhost:<platform_port><callback_path>``.
    """
    cities = demo_cities() if cities is None else cities
    issuer_configs = demo_issuers(cities, platform_port, callback_path) if issuers is None else issuers
    sockets: dict[Kind, socket.socket] = {}
    try:
        for i, kind in enumerate(KINDS):
            sockets[kind] = _bind(host, 0 if base_port is None else base_port + i)
    except OSError:
        for sock in sockets.values():
            sock.close()
        raise
    ports: dict[Kind, int] = {kind: sock.getsockname()[1] for kind, sock in sockets.items()}
    shown_host = f"[{host}]" if ":" in host else host
    oidc_root = f"http://{shown_host}:{ports['oidc']}"
    state = Path(state_dir) if state_dir is not None else None
    issuers_by_city = {
        slug: Issuer(
            slug, f"{oidc_root}/{slug}", cfg, key_file=state / f"oidc-{slug}.jwks.json" if state else None
        )
        for slug, cfg in issuer_configs.items()
    }
    sink = MailSink({slug: (city.smtp_username, city.smtp_password) for slug, city in cities.items()})
    apps: dict[Kind, Any] = {
        "siak": siak_app(cities),
        "simpeg": simpeg_app(cities),
        "sms": sms_app(cities, extra_handlers=mail_http_handlers(sink)),
        "oidc": oidc_app(issuers_by_city),
    }
    apps["sms"].state.mail = sink
    thread = _ServerThread([(apps[kind], sockets[kind]) for kind in HTTP_KINDS], smtp=(sink, sockets["smtp"]))
    thread.start()
    return SimulatorHandle(host, ports, cities, issuers_by_city, apps, thread, sink)
