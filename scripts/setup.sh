#!/usr/bin/env bash
# Installs everything VirtOS needs on a fresh Debian 12 machine, then the npm packages. Safe to run
# again: it installs only what is missing. Needs root for the Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: OCI runtimes, the root filesystem builder, the desktop server, the browser used by
# the shell tests, network tools for the sandbox's network modes, openssl for --tls-self-signed.
DEB_PACKAGES=(
  crun runc runsc busybox-static
  mmdebstrap zstd uidmap
  tigervnc-standalone-server tigervnc-tools
  iproute2 nftables tor wireguard-tools
  chromium xterm
  openssl
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Tor client is only used when an environment asks for it; don't keep it running.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now tor >/dev/null 2>&1 || true; fi
fi

# npm packages: reinstall when the lock file changed since the last install.
stamp=node_modules/.virtos-setup-stamp
lockhash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lockhash" ]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-fund --no-audit --loglevel=error
  echo "$lockhash" >"$stamp"
fi

# The App Shell and the built-in modules: build them when dist/ is missing or older than their
# sources or than the daemon's code (the build writes the canary manifest over both).
manifest=packages/shell/dist/canary-manifest.json
if [ ! -f "$manifest" ] || [ ! -d packages/modules/dist ] || [ -n "$(find packages/*/src \
  packages/modules/*/src packages/modules/shared packages/shell/index.html packages/shell/public packages/shell/vite.config.ts \
  -newer "$manifest" -print -quit 2>/dev/null)" ]; then
  echo "setup: building the shell and the built-in modules" >&2
  npm run build --silent >/dev/null
fi
