#!/usr/bin/env bash
# Install etcd, kubectl and promtool (Debian) and build kube-apiserver and
# kube-controller-manager v1.20.2 from Debian's source package, with the vendored reflect2
# replaced by v1.0.2 so JSON bodies holding maps decode under Go >= 1.18. The binaries are
# cached outside the repository and reused (the controller manager makes workloads roll
# out in the controller's tests).
set -euo pipefail

# ~ (not $HOME) so that a CI without HOME still finds the same cache as Path.home().
CACHE_DIR="${NEBULA_CACHE_DIR:-$(cd ~ && pwd)/.cache/nebula-credential}"
BIN_DIR="$CACHE_DIR/bin"
APISERVER="$BIN_DIR/kube-apiserver"
CONTROLLER_MANAGER="$BIN_DIR/kube-controller-manager"
BUILD_DIR="$CACHE_DIR/build"

log() { printf '[control-plane] %s\n' "$*" >&2; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
command -v etcd >/dev/null 2>&1 || need_apt+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need_apt+=(etcd-client)
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)  # Debian's kubectl
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)  # promtool checks /metrics

missing=()
[ -x "$APISERVER" ] || missing+=(kube-apiserver)
[ -x "$CONTROLLER_MANAGER" ] || missing+=(kube-controller-manager)

if [ "${#missing[@]}" -eq 0 ] && [ "${#need_apt[@]}" -eq 0 ]; then
  log "etcd and cached kube-apiserver, kube-controller-manager present in $BIN_DIR"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ "${#missing[@]}" -gt 0 ]; then
  need_apt+=(golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev)
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ ! -f /etc/apt/sources.list.d/nebula-deb-src.sources ]; then
    log "enabling deb-src for bookworm"
    $SUDO tee /etc/apt/sources.list.d/nebula-deb-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  log "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ "${#missing[@]}" -eq 0 ]; then
  log "cached kube-apiserver and kube-controller-manager present in $BIN_DIR"
  exit 0
fi

mkdir -p "$BUILD_DIR" "$BIN_DIR"
cd "$BUILD_DIR"
src=$(find . -maxdepth 1 -type d -name 'kubernetes-1.20*' | head -n 1)
if [ -z "$src" ]; then
  log "fetching Debian's kubernetes source package"
  apt-get source -qq kubernetes >/dev/null
  src=$(find . -maxdepth 1 -type d -name 'kubernetes-1.20*' | head -n 1)
fi
[ -n "$src" ] || { log "kubernetes source tree not found after apt-get source"; exit 1; }
src=$(cd "$src" && pwd)
log "source tree: $src"

reflect_src=/usr/share/gocode/src/github.com/modern-go/reflect2
vendored="$src/vendor/github.com/modern-go/reflect2"
if ! grep -q 'modern-go/reflect2 v1.0.2' "$src/vendor/modules.txt"; then
  log "replacing vendored reflect2 v1.0.1 with Debian's v1.0.2"
  rm -rf "$vendored"
  mkdir -p "$vendored"
  cp -r "$reflect_src"/. "$vendored"/
  find "$vendored" -name '*_test.go' -delete
  sed -i 's#github.com/modern-go/reflect2 v1.0.1#github.com/modern-go/reflect2 v1.0.2#' \
    "$src/go.mod" "$src/vendor/modules.txt"
  find "$src/staging" -name go.mod -exec \
    sed -i 's#github.com/modern-go/reflect2 v1.0.1#github.com/modern-go/reflect2 v1.0.2#' {} +
fi

mkdir -p "$src/.go/src/k8s.io"
ln -sfn "$src" "$src/.go/src/k8s.io/kubernetes"
cd "$src/.go/src/k8s.io/kubernetes"
export GOPATH="$src/.go" GO111MODULE=off GOFLAGS=-mod=vendor GOCACHE="$CACHE_DIR/gocache"
export KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean KUBE_GIT_COMMIT=debian
for program in "${missing[@]}"; do
  log "building $program (several minutes on two cores)"
  make WHAT="cmd/$program" KUBE_BUILD_PLATFORMS=linux/amd64 >"$CACHE_DIR/build.log" 2>&1 || {
    tail -n 40 "$CACHE_DIR/build.log" >&2; exit 1; }
  built=$(find "$src/_output" -type f -name "$program" -perm -u+x | head -n 1)
  [ -n "$built" ] || { log "build finished but no $program binary found"; exit 1; }
  install -m 0755 "$built" "$BIN_DIR/$program.tmp"
  mv "$BIN_DIR/$program.tmp" "$BIN_DIR/$program"
  log "built $BIN_DIR/$program"
done
