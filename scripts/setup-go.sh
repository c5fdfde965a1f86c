#!/usr/bin/env bash
# Go for the interoperability test (tests/interop/go-peer, go-libp2p). Uses the machine's Go when
# it is at least the version the peer's go.mod names. Otherwise (as root): Debian's golang-go is
# too old for go-libp2p, so it only serves as the client that fetches a newer Go, published on the
# Go module proxy as the golang.org/toolchain module, into $EDGECODER_GO_ROOT (/usr/local/go).
# Prints the path of the go binary on its last line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need="$(awk '$1 == "go" { print $2 }' "$root/tests/interop/go-peer/go.mod")"
# The Go the toolchain module brings when the machine's is missing or too old.
toolchain="${EDGECODER_GO_TOOLCHAIN:-go1.27.3}"
goroot="${EDGECODER_GO_ROOT:-/usr/local/go}"

# version_ge A B: true when Go version A (1.26.8, 1.27) is at least B.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }
go_version() { "$1" env GOVERSION 2>/dev/null | sed 's/^go//'; }

for candidate in "$goroot/bin/go" "$(command -v go || true)"; do
  [ -n "$candidate" ] && [ -x "$candidate" ] || continue
  have="$(go_version "$candidate")"
  if [ -n "$have" ] && version_ge "$have" "$need"; then
    echo "$candidate"
    exit 0
  fi
done

if [ "$(id -u)" != 0 ]; then
  echo "edgecoder: the interoperability test needs Go >= $need; install it (as root: $0)" >&2
  exit 1
fi
bootstrap="${EDGECODER_GO_BOOTSTRAP:-$(command -v go || true)}"
if [ -z "$bootstrap" ]; then
  echo "edgecoder: installing Debian's golang-go to fetch Go $toolchain" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  bootstrap="$(command -v go)"
fi
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) echo "edgecoder: no Go toolchain module for $(uname -m)" >&2; exit 1 ;;
esac
echo "edgecoder: fetching Go $toolchain (golang.org/toolchain) with $("$bootstrap" version)" >&2
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# A throwaway module and module cache: `go mod download` in module mode works on any Go version.
(
  cd "$work"
  export GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod" GOFLAGS= GOTOOLCHAIN=local GO111MODULE=on
  "$bootstrap" mod init fetch-go >/dev/null 2>&1
  "$bootstrap" mod download "golang.org/toolchain@v0.0.1-$toolchain.linux-$arch"
)
dir="$work/gopath/pkg/mod/golang.org/toolchain@v0.0.1-$toolchain.linux-$arch"
[ -x "$dir/bin/go" ] || chmod -R u+w,a+rX "$dir"
# Files from a module zip carry no execute bits: give them back to the programs.
chmod a+x "$dir/bin/"* "$dir/pkg/tool/"*/*
rm -rf "$goroot.new"
cp -a "$dir" "$goroot.new"
rm -rf "$goroot"
mv "$goroot.new" "$goroot"
have="$(go_version "$goroot/bin/go")"
version_ge "$have" "$need" || { echo "edgecoder: $goroot/bin/go is $have, not >= $need" >&2; exit 1; }
echo "$goroot/bin/go"
