"""SIAK simulator: ``GET /{city}/api/v1/penduduk/{nik}`` (contract in ../README.md)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.params import FromPath

from kotalive_simulators.common import CityGate, control_handlers, error
from kotalive_simulators.data import DemoCity


def siak_app(cities: dict[str, DemoCity]) -> Litestar:
    gate = CityGate({slug: city.siak_api_key for slug, city in cities.items()})
    registers = {slug: {r.nik: r for r in city.residents} for slug, city in cities.items()}

    @get("/{city:str}/api/v1/penduduk/{nik:str}")
    async def penduduk(
        request: Request[Any, Any, Any], city: FromPath[str], nik: FromPath[str]
    ) -> Response[Any]:
        refused = await gate.check(request, city)
        if refused is not None:
            return refused
        if not re.fullmatch(r"\d{16}", nik):
            return error(400, "invalid_nik", "a NIK is 16 digits")
        resident = registers[city].get(nik)
        if resident is None:
            return error(404, "not_found", "NIK tidak terdaftar")
        return Response(resident.to_json())

    app = Litestar([penduduk, *control_handlers(gate)], debug=False)
    app.state.gate = gate
    return app
