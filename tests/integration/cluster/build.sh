#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager v1.20.2 from Debian's `kubernetes` source package
# (the steps of shared/design/REAL-APISERVER.md) and caches them outside the checkout, so a second run
# only checks the cache. Also installs what the integration suite runs: etcd-server and openssl.
# Usage: build.sh [CACHE_DIR]   (default ~/.cache/kubectl-meshdoctor/k8s-1.20.2)
set -euo pipefail

CACHE="${1:-${MESHDOCTOR_K8S_CACHE:-$HOME/.cache/kubectl-meshdoctor/k8s-1.20.2}}"
export DEBIAN_FRONTEND=noninteractive

need_packages() {
    local missing=()
    for cmd in "$@"; do command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd##*:}"); done
    if ((${#missing[@]})); then
        apt-get update -q >/dev/null
        apt-get install -y -q "${missing[@]}" >/dev/null
    fi
}

need_packages etcd:etcd-server openssl:openssl
if [[ -x "$CACHE/kube-apiserver" && -x "$CACHE/kube-controller-manager" ]]; then
    echo "kube-apiserver and kube-controller-manager cached in $CACHE"
    exit 0
fi
need_packages go:golang-go dpkg-source:dpkg-dev

# A deb-src entry for the suite the machine already uses (same URIs and keyring as its deb entry).
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    suite=$(awk '/^Suites:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    cat > /etc/apt/sources.list.d/meshdoctor-deb-src.sources <<SRC
Types: deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -q >/dev/null
fi

WORK=$(mktemp -d /tmp/meshdoctor-k8s-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
echo "fetching Debian's kubernetes source package into $WORK"
apt-get source -q kubernetes >/dev/null 2>&1
SRC=$(ls -d "$WORK"/kubernetes-*/)

export GOPATH="$WORK/gopath" GO111MODULE=off GOPROXY=off CGO_ENABLED=0 GOFLAGS= GOCACHE="$WORK/gocache"
mkdir -p "$GOPATH/src/k8s.io"
ln -s "$SRC" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"

# Fix 1: pkg/generated/openapi/zz_generated.openapi.go is not in the tarball; generate it the way the
# upstream Makefile does (every package tagged +k8s:openapi-gen, staging named as vendor/).
echo "generating the OpenAPI definitions"
go build -o "$WORK/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
dirs=$(find -H . -not \( \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \) -type f -name '*.go' \
        | sed 's|^./staging/src|vendor|; s|^./||; s|/[^/]*$||' | LC_ALL=C sort -u)
tagged=$(for d in $dirs; do find -H "$d" -maxdepth 1 -type f -name '*.go'; done \
        | xargs grep -l '^// *+k8s:' | grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' \
        | xargs grep -l '+k8s:openapi-gen=' | xargs -n1 dirname | LC_ALL=C sort -u)
inputs=$(for d in $tagged; do printf 'k8s.io/kubernetes/%s,' "$d"; done)
"$WORK/openapi-gen" --logtostderr -i "${inputs%,}" -p k8s.io/kubernetes/pkg/generated/openapi \
    -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    -r "$WORK/violations.report" 2>"$WORK/openapi-gen.log"
diff -q "$WORK/violations.report" api/api-rules/violation_exceptions.list >/dev/null \
    || echo "note: the API rule report differs from api/api-rules/violation_exceptions.list"

# Fix 2: vendored reflect2 v1.0.1 segfaults under Go >= 1.18; take v1.0.2 from Debian's package.
echo "replacing the vendored reflect2 with Debian's"
(cd "$WORK" && apt-get download -q golang-github-modern-go-reflect2-dev >/dev/null 2>&1 \
    && dpkg-deb -x golang-github-modern-go-reflect2-dev_*.deb reflect2)
rm -rf vendor/github.com/modern-go/reflect2
cp -r "$WORK/reflect2/usr/share/gocode/src/github.com/modern-go/reflect2" vendor/github.com/modern-go/reflect2
sed -i 's|^# github.com/modern-go/reflect2 v1.0.1|# github.com/modern-go/reflect2 v1.0.2|' vendor/modules.txt

echo "building kube-apiserver and kube-controller-manager (a few minutes)"
version="-X k8s.io/component-base/version.gitVersion=v1.20.2 -X k8s.io/component-base/version.gitMajor=1"
version="$version -X k8s.io/component-base/version.gitMinor=20"
mkdir -p "$CACHE.partial"
go build -tags selinux,notest -ldflags "$version" -o "$CACHE.partial/kube-apiserver" ./cmd/kube-apiserver
go build -tags selinux,notest -ldflags "$version" -o "$CACHE.partial/kube-controller-manager" \
    ./cmd/kube-controller-manager
rm -rf "$CACHE" && mv "$CACHE.partial" "$CACHE"
echo "built into $CACHE"
