#!/usr/bin/env bash
# Installs what the local stack and the tests need, and only what is missing:
#   1. Debian packages (apt), 2. the npm dependencies (npm ci), 3. livekit-server and livekit-sip,
#   built from their Go modules into a versioned cache outside the repository.
# Safe to run again: every step checks first. A failing step names itself and what to do.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${SWITCHBOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/switchboard}"
BIN="$CACHE/bin"
LOGS="$CACHE/build-logs"
mkdir -p "$BIN" "$LOGS"

step() { printf '[install] %s\n' "$*"; }
fail() { printf '[install] FAILED: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else fail "installing Debian packages needs root; run as root or install sudo"; fi
}

# --- 1. Debian packages ------------------------------------------------------------------------
# redis-server: the stack's Redis; sip-tester: SIPp (phone and human in tests);
# pkg-config + libopus/opusfile/soxr -dev: cgo libraries livekit-sip links; espeak-ng + sox: the
# offline speech server; pocketsphinx(-en-us): its recognizer; python3-pocketsphinx: the bindings its
# long-lived decoder (stack/offline-speech/decoder.py) runs on, with /usr/bin/python3; chromium: the
# browser caller; iproute2: the network namespace; openssl: the TURN certificate
# (stack/turn-certificate.ts); nftables: the firewall of test/e2e/browser-turn.test.ts's browser.
APT_PACKAGES=(redis-server sip-tester pkg-config gcc libc6-dev libopus-dev libopusfile-dev libsoxr-dev
  espeak-ng sox pocketsphinx pocketsphinx-en-us python3-pocketsphinx chromium iproute2
  openssl nftables)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "apt: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOGS/apt.log" 2>&1 \
    || fail "step 'apt-get update' (log: $LOGS/apt.log): $(tail -n 3 "$LOGS/apt.log")"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >>"$LOGS/apt.log" 2>&1 \
    || fail "step 'apt-get install ${missing[*]}' (log: $LOGS/apt.log): $(tail -n 3 "$LOGS/apt.log")"
fi

# --- 2. npm dependencies -----------------------------------------------------------------------
# onnxruntime-node's install script would download CUDA libraries from outside the npm registry:
# package.json's allowScripts denies it (npm 11), and this variable makes it a no-op elsewhere.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error || fail "step 'npm ci': see the npm output above"
fi

# --- 3. livekit-server and livekit-sip ---------------------------------------------------------
command -v go >/dev/null || fail "Go is not installed; install Go 1.26 or newer (both servers need it)"
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 26 ] || fail "Go 1.26 or newer is needed to build livekit-server/livekit-sip, found $(go env GOVERSION)"
export GOTOOLCHAIN=local GOFLAGS=-trimpath

build() { # key binary-name
  local key=$1 name=$2 module pkg version cgo versionVar out log ldflags=()
  module=$(node -p "require('./stack/versions.json').$key.module")
  pkg=$(node -p "require('./stack/versions.json').$key.package")
  version=$(node -p "require('./stack/versions.json').$key.version")
  cgo=$(node -p "require('./stack/versions.json').$key.cgo ? 1 : 0")
  versionVar=$(node -p "require('./stack/versions.json').$key.versionVar ?? ''")
  out="$BIN/$name-$version"
  [ -x "$out" ] && return 0
  log="$LOGS/$name-$version.log"
  step "building $name $version from $module/$pkg (log: $log)"
  local tmp; tmp=$(mktemp -d)
  # `go install <module>/<pkg>@<version>` would first read the module's version list to look for a
  # deprecation notice; `go mod download` of the exact version plus `go build` inside it builds the
  # same thing with the module's own go.mod and go.sum, and needs only that version from the proxy.
  if ! dir=$(go mod download -json "$module@$version" 2>>"$log" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.Error){console.error(j.Error);process.exit(1)}console.log(j.Dir)})' 2>>"$log"); then
    fail "step 'download $module@$version' (module $module): $(tail -n 3 "$log")"
  fi
  [ -n "$versionVar" ] && ldflags=(-ldflags "-X $versionVar=${version#v}")
  if ! (cd "$dir" && CGO_ENABLED=$cgo go build "${ldflags[@]}" -o "$tmp/$name" "./$pkg") >>"$log" 2>&1; then
    fail "step 'go build $module/$pkg@$version' (CGO_ENABLED=$cgo): $(tail -n 5 "$log")"
  fi
  mv "$tmp/$name" "$out"
  rmdir "$tmp"
}
build livekitServer livekit-server
build livekitSip livekit-sip
