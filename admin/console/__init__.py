"""The platform console: /console/ on the platform host, for platform staff (see routes.py)."""
