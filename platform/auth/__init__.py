"""Identity and access: citizens (NIK, SIAK), employees (OpenID Connect, Simpeg), platform staff."""

import warnings

import authlib.deprecate  # noqa: F401  (installs Authlib's "always" filter, which ours must follow)

# Authlib 1.9 announces at import that its httpx integration will move to an "httpx2" package; the
# integration works with httpx as it is, and the notice would only clutter every process's log.
warnings.filterwarnings("ignore", message=".*httpx module is deprecated.*")
