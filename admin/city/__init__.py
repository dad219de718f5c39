"""The city admin: /admin/ on each city's host (city_admin only).

Pages only: the rules stay in the services they belong to (Laksa's configuration, the Live Room's
shifts, the core's role grants, notify's wording, the tenants' integrations); ``agencies.py`` holds
the one service of the agency catalogue the core has no writer for.
"""
