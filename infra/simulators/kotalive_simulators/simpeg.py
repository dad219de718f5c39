"""Simpeg simulator: ``GET /{city}/api/v1/pegawai`` (paged) and ``/pegawai/{nip}`` (contract in
../README.md). ``set_status`` changes an employee the way a transfer or retirement would."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from kotalive_simulators.common import CityGate, control_handlers, error
from kotalive_simulators.data import DemoCity, Employee

MAX_PER_PAGE = 100
STATUSES = ("aktif", "pensiun", "mutasi", "berhenti")


class StaffRegister:
    def __init__(self, employees: list[Employee]) -> None:
        self.employees = {e.nip: e for e in employees}

    def ordered(self) -> list[Employee]:
        return [self.employees[nip] for nip in sorted(self.employees)]

    def set_status(self, nip: str, status: str, when: datetime | None = None) -> Employee:
        """Change an employee; ``updated_at`` becomes ``when``, by default now but always later than any
        record's (the demo data is dated in 2026, and incremental syncs ask "changed since")."""
        latest = max(e.updated_at for e in self.employees.values()) + timedelta(seconds=1)
        when = when or max(datetime.now().astimezone(), latest)
        employee = replace(self.employees[nip], status=status, updated_at=when)
        self.employees[nip] = employee
        return employee


def simpeg_app(cities: dict[str, DemoCity]) -> Litestar:
    gate = CityGate({slug: city.simpeg_api_key for slug, city in cities.items()})
    registers = {slug: StaffRegister(city.employees) for slug, city in cities.items()}

    @get("/{city:str}/api/v1/pegawai")
    async def pegawai_list(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        refused = await gate.check(request, city)
        if refused is not None:
            return refused
        try:
            page = int(request.query_params.get("page", "1"))
            per_page = int(request.query_params.get("per_page", "20"))
        except ValueError:
            return error(400, "invalid_paging", "page and per_page are integers")
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            return error(400, "invalid_paging", f"page >= 1, per_page 1..{MAX_PER_PAGE}")
        employees = registers[city].ordered()
        since = request.query_params.get("updated_since")
        if since:
            try:
                threshold = datetime.fromisoformat(since)
            except ValueError:
                return error(400, "invalid_updated_since", "updated_since is an ISO 8601 date-time")
            if threshold.tzinfo is None:
                return error(400, "invalid_updated_since", "updated_since needs a UTC offset")
            employees = [e for e in employees if e.updated_at >= threshold]
        start = (page - 1) * per_page
        return Response(
            {
                "data": [e.to_json() for e in employees[start : start + per_page]],
                "page": page,
                "per_page": per_page,
                "total": len(employees),
                "total_pages": math.ceil(len(employees) / per_page),
            }
        )

    @get("/{city:str}/api/v1/pegawai/{nip:str}")
    async def pegawai(
        request: Request[Any, Any, Any], city: FromPath[str], nip: FromPath[str]
    ) -> Response[Any]:
        refused = await gate.check(request, city)
        if refused is not None:
            return refused
        if not re.fullmatch(r"\d{18}", nip):
            return error(400, "invalid_nip", "a NIP is 18 digits")
        employee = registers[city].employees.get(nip)
        if employee is None:
            return error(404, "not_found", "NIP tidak terdaftar")
        return Response(employee.to_json())

    @post("/{city:str}/_control/pegawai/{nip:str}", status_code=200)
    async def change(
        city: FromPath[str], nip: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> Response[Any]:
        """Make an employee leave (or come back): {"status": "pensiun"}."""
        register = registers.get(city)
        if register is None or nip not in register.employees:
            return error(404, "not_found", "unknown city or NIP")
        if data.get("status") not in STATUSES:
            return error(400, "invalid_status", f"status is one of {', '.join(STATUSES)}")
        return Response(register.set_status(nip, data["status"]).to_json())

    def reset(city: str) -> None:
        registers[city] = StaffRegister(cities[city].employees)

    app = Litestar([pegawai_list, pegawai, change, *control_handlers(gate, reset)], debug=False)
    app.state.gate = gate
    app.state.registers = registers
    return app
