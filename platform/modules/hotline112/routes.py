"""Every 112 route, from the module's route files (calls and incidents; units and dispatch)."""

from __future__ import annotations

from kotalive.modules.hotline112.controllers import route_handlers as _status

route_handlers = [*_status]
