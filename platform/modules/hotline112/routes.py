"""Every 112 route, from the module's route files (calls and incidents; units and dispatch)."""

from __future__ import annotations

from kotalive.modules.hotline112.call_routes import route_handlers as _calls
from kotalive.modules.hotline112.controllers import route_handlers as _status
from kotalive.modules.hotline112.dispatch_pages import route_handlers as _dispatch_pages
from kotalive.modules.hotline112.dispatch_routes import route_handlers as _dispatch
from kotalive.modules.hotline112.pages import route_handlers as _pages

route_handlers = [*_status, *_calls, *_pages, *_dispatch, *_dispatch_pages]
