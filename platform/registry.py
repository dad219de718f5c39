"""Modules and how the core finds them.

A module's ``__init__.py`` holds only ``module = ModuleSpec(...)``. The core loads specs through
the ``kotalive.modules`` entry points, so it never imports a module by name, and refuses to start
when two modules claim the same route, permission or hashtag.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kotalive.db import TenantSession

ENTRY_POINT_GROUP = "kotalive.modules"
SURFACE_ENTRY_POINT_GROUP = "kotalive.surfaces"

# An event handler receives the event's type, its payload and the city's session; it runs
# inside the city the event came from, in the same transaction as its dedupe receipt.
EventHandler = Callable[[str, dict[str, Any], "TenantSession"], Awaitable[None]]
SeedHook = Callable[["TenantSession"], Awaitable[None]]
# The demo data of one of the demo cities `make run` seeds (its slug), beside the defaults.
DemoHook = Callable[["TenantSession", str], Awaitable[list[str]]]


class ModuleConfigError(RuntimeError):
    """Two modules clash, or a module spec is malformed; the process refuses to start."""


@dataclass(frozen=True, slots=True)
class Permission:
    name: str  # "<module>.<verb>", e.g. "laksa.complaint.forward"
    description: str
    default_roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """Work the scheduler enqueues once per city that has the module switched on."""

    name: str
    actor_name: str
    every_seconds: int


@dataclass(frozen=True, slots=True)
class Link:
    """A way into a module from the city's pages: the home page (``public``, ``citizen``) or the
    employees' home (``staff``), shown when the person holds ``permission`` (if any)."""

    audience: str  # public | citizen | staff
    text_key: str  # an i18n key
    path: str
    permission: str | None = None


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    name: str
    title: str
    # Everything below is named by import path ("package.module" or "package.module:attr") and
    # resolved only when needed, so loading a spec stays cheap and imports nothing of the module.
    routes: str | None = None  # -> a sequence of Litestar route handlers / routers
    permissions: tuple[Permission, ...] = ()
    hashtags: tuple[str, ...] = ()  # hashtags the module claims for itself (e.g. #darurat)
    subscribers: dict[str, str] = field(default_factory=dict)  # event type -> EventHandler
    periodic: tuple[PeriodicJob, ...] = ()
    models: str | None = None  # imported so the tables join TenantBase.metadata
    jobs: str | None = None  # imported in the worker so the actors are declared
    seed: str | None = None  # -> SeedHook: a new city's defaults (idempotent)
    demo: str | None = None  # -> DemoHook: demo data for the demo cities (idempotent)
    texts: str | None = None  # -> {"id": {...}, "en": {...}}: the module's texts, merged at load
    commands: str | None = None  # -> a sequence of click commands added to ``kotalive``
    messages: str | None = None  # -> a sequence of kotalive.notify.Message the module sends
    links: tuple[Link, ...] = ()
    enabled_by_default: bool = True


@dataclass(frozen=True, slots=True)
class LoadedModules:
    specs: tuple[ModuleSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    def get(self, name: str) -> ModuleSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def subscribers_for(self, event_type: str) -> list[tuple[str, str]]:
        """(consumer name, handler path) for every module that subscribes to ``event_type``."""
        return [
            (f"{s.name}:{event_type}", s.subscribers[event_type])
            for s in self.specs
            if event_type in s.subscribers
        ]

    def import_models(self) -> None:
        for spec in self.specs:
            if spec.models:
                resolve(spec.models)
        import_surface_models()  # the surfaces' city tables too (they have no switch)

    def import_jobs(self) -> None:
        for spec in self.specs:
            if spec.jobs:
                resolve(spec.jobs)

    def seed_hooks(self) -> list[tuple[str, SeedHook]]:
        return [(s.name, resolve(s.seed)) for s in self.specs if s.seed]

    def demo_hooks(self) -> list[tuple[str, DemoHook]]:
        return [(s.name, resolve(s.demo)) for s in self.specs if s.demo]

    def messages(self) -> list[Any]:
        """Every notify.Message the loaded modules declare (the city admin rewords them)."""
        found: list[Any] = []
        for spec in self.specs:
            if spec.messages:
                found.extend(resolve(spec.messages))
        return found

    def links_for(self, audience: str) -> list[tuple[str, Link]]:
        return [(s.name, link) for s in self.specs for link in s.links if link.audience == audience]

    def import_texts(self) -> None:
        """Merge every module's texts into the catalogues (a clash with another text refuses)."""
        from kotalive.i18n import add_texts

        for spec in self.specs:
            if spec.texts:
                add_texts(spec.name, resolve(spec.texts))


@dataclass(frozen=True, slots=True)
class Surface:
    """A set of pages beside the modules (the admin): found through the ``kotalive.surfaces``
    entry points, so the core never imports it. Unlike a module it has no per-city switch; its
    handlers guard themselves (which host, which permission).

    ``routes``, ``texts`` and ``permissions`` are import paths, each resolved when the app starts:
    a sequence of route handlers, a ``{"id": {...}, "en": {...}}`` dict, a sequence of
    ``Permission``. ``jobs`` are modules the worker imports so their actors are declared.
    ``models`` are modules of ``TenantBase`` tables, imported wherever the modules' models are
    (``LoadedModules.import_models``, the migrations' ``load_tenant_models``), so provisioning's
    ``create_all`` and the drift check see them; a module of ``PlatformBase`` tables may be named
    too (the platform migrations' autogenerate then sees them). ``templates`` are folders added to the pages'
    template search path.
    """

    name: str
    routes: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()


def discover_surfaces() -> tuple[Surface, ...]:
    """Every surface installed as an entry point, by name."""
    found: list[Surface] = []
    for ep in sorted(entry_points(group=SURFACE_ENTRY_POINT_GROUP), key=lambda e: e.name):
        spec = ep.load()
        if not isinstance(spec, Surface):
            raise ModuleConfigError(f"surface entry point {ep.name!r} is not a Surface")
        if spec.name != ep.name:
            raise ModuleConfigError(f"surface entry point {ep.name!r} loads a surface named {spec.name!r}")
        found.append(spec)
    return tuple(found)


def surface_permissions(surfaces: Iterable[Surface]) -> list[Permission]:
    return [perm for s in surfaces for path in s.permissions for perm in resolve(path)]


def surface_routes(surfaces: Iterable[Surface]) -> list[Any]:
    return [handler for s in surfaces for path in s.routes for handler in resolve(path)]


def import_surface_jobs(surfaces: Iterable[Surface]) -> None:
    for s in surfaces:
        for path in s.jobs:
            resolve(path)


def import_surface_models() -> None:
    """The surfaces' city tables join ``TenantBase.metadata`` (see ``Surface.models``)."""
    for s in discover_surfaces():
        for path in s.models:
            resolve(path)


def import_surface_texts(surfaces: Iterable[Surface]) -> None:
    from kotalive.i18n import add_texts

    for s in surfaces:
        for path in s.texts:
            add_texts(f"{s.name}:{path}", resolve(path))


def resolve(path: str) -> Any:
    """Import ``package.module`` or ``package.module:attr``."""
    import importlib

    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def discover(names: Iterable[str] | None = None) -> dict[str, ModuleSpec]:
    """All module specs installed as entry points, optionally narrowed to ``names``."""
    found: dict[str, ModuleSpec] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep  # type: ignore[assignment]
    wanted = list(found) if names is None else list(names)
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ModuleConfigError(
            f"unknown module(s) {', '.join(missing)}; installed: {', '.join(sorted(found))}"
        )
    specs: dict[str, ModuleSpec] = {}
    for name in wanted:
        spec = found[name].load()  # type: ignore[attr-defined]
        if not isinstance(spec, ModuleSpec):
            raise ModuleConfigError(f"entry point {name!r} is not a ModuleSpec")
        if spec.name != name:
            raise ModuleConfigError(f"entry point {name!r} loads a module named {spec.name!r}")
        specs[name] = spec
    return specs


def check(specs: Sequence[ModuleSpec], route_paths: dict[str, Iterable[str]] | None = None) -> None:
    """Refuse duplicate module names, permissions, hashtag claims and routes."""
    seen: dict[str, str] = {}

    def claim(kind: str, key: str, owner: str) -> None:
        k = f"{kind}:{key}"
        if k in seen and seen[k] != owner:
            raise ModuleConfigError(f"{kind} {key!r} is claimed by both {seen[k]!r} and {owner!r}")
        if k in seen:
            raise ModuleConfigError(f"{kind} {key!r} is declared twice by {owner!r}")
        seen[k] = owner

    for spec in specs:
        claim("module", spec.name, spec.name)
        for perm in spec.permissions:
            if not perm.name.startswith(spec.name + "."):
                raise ModuleConfigError(
                    f"permission {perm.name!r} of {spec.name!r} must start with {spec.name + '.'!r}"
                )
            claim("permission", perm.name, spec.name)
        for tag in spec.hashtags:
            claim("hashtag", normalise_hashtag(tag), spec.name)
    for owner, paths in (route_paths or {}).items():
        for path in paths:
            claim("route", path, owner)


def normalise_hashtag(tag: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", tag.lstrip("#"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return plain.casefold().replace("_", "").replace("-", "")


def load(names: Iterable[str]) -> LoadedModules:
    specs = discover(names)
    ordered = tuple(specs.values())
    check(ordered)
    loaded = LoadedModules(ordered)
    loaded.import_texts()
    return loaded
