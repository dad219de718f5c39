#!/usr/bin/env bash
# Front-end libraries (htmx, Alpine.js, Leaflet) from the npm registry, pinned in package.json and
# package-lock.json, copied into platform/static/vendor/ (gitignored: no third-party copies in git).
# Run by `make assets`, which calls it only when package.json, package-lock.json or this file changed.
#
# Layout templates can rely on (versions in vendor/versions.json, e.g. for cache busting):
#   /static/vendor/htmx.min.js
#   /static/vendor/alpine.min.js          (Alpine's self-starting "cdn" build)
#   /static/vendor/leaflet/leaflet.js, leaflet.css, images/*.png
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  cat >&2 <<'MSG'
error: npm (Node.js) is not installed, and the front-end libraries (htmx, Alpine.js, Leaflet)
       are installed from the npm registry at build time.
       Install Node.js 18 or newer with npm, e.g.:
         Debian/Ubuntu:  sudo apt-get install nodejs npm
         macOS:          brew install node
       then run `make setup` again.
MSG
  exit 1
fi

# npm writes node_modules/.package-lock.json on every install: older than the lock file means stale.
marker=node_modules/.package-lock.json
if [[ ! -f $marker || package-lock.json -nt $marker || package.json -nt $marker ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch "$marker"
fi

out=platform/static/vendor
staging="$(mktemp -d platform/static/.vendor.XXXXXX)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/leaflet/images"
cp node_modules/htmx.org/dist/htmx.min.js "$staging/htmx.min.js"
cp node_modules/alpinejs/dist/cdn.min.js "$staging/alpine.min.js"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$staging/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$staging/leaflet/images/"
node -e '
  const names = ["htmx.org", "alpinejs", "leaflet"];
  const versions = Object.fromEntries(names.map(n => [n, require(`./node_modules/${n}/package.json`).version]));
  process.stdout.write(JSON.stringify(versions, null, 2) + "\n");
' >"$staging/versions.json"
chmod -R a+rX "$staging"
# Swap in one step, so a half-copied folder is never served.
rm -rf "$out"
mv "$staging" "$out"
trap - EXIT
echo "front-end libraries in $out: $(tr -d '\n ' <"$out/versions.json")"
