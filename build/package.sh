#!/usr/bin/env bash
# Builds Sluice's packages into dist/, on a Debian or Ubuntu machine:
#
#   dist/sluice_VERSION_amd64.deb                    Linux desktop app (GTK, WebKitGTK)
#   dist/sluice-VERSION-linux-amd64.tar.gz           Linux headless binary
#   dist/sluice.exe                                  Windows desktop app, with icon and manifest
#   dist/sluice-VERSION-windows-amd64-setup.exe      its per-user installer (NSIS)
#   dist/sluice-VERSION-darwin-amd64.tar.gz          macOS headless binary (also arm64)
#   dist/Sluice-VERSION-macos-app.tar.gz             the macOS .app bundle's layout, for a Mac
#                                                    to put its desktop build into
#   dist/SHA256SUMS
#
# Needs Go, gcc, libgtk-3-dev, libwebkit2gtk-4.1-dev and nsis (makensis);
# .ci/run installs them. The Wails CLI and nfpm are built from tools/,
# which pins their versions. The dashboard is the committed frontend/dist.
# VERSION comes from wails.json's info.productVersion; the commit and the
# build date are stamped into each binary (sluice version prints them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

version=$(sed -n 's/^ *"productVersion": *"\([^"]*\)".*/\1/p' wails.json)
[[ -n $version ]] || { echo "package.sh: no info.productVersion in wails.json" >&2; exit 1; }
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || true)
if [[ -n $commit && -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  commit+="+changes"
fi
# SOURCE_DATE_EPOCH, when set, makes the stamped date reproducible.
date=$(date -u ${SOURCE_DATE_EPOCH:+-d @$SOURCE_DATE_EPOCH} +%Y-%m-%dT%H:%M:%SZ)
pkg=github.com/sluicehq/sluice/app
ldflags="-X $pkg.Version=v$version -X $pkg.Commit=$commit -X $pkg.BuildDate=$date"

say() { printf '\npackage.sh: %s\n' "$*"; }

say "Sluice v$version, commit ${commit:-unknown}, built $date"

# The pinned tools, built once into .cache/bin.
bin=$root/.cache/bin
mkdir -p "$bin"
say "building the Wails CLI and nfpm from tools/"
(cd tools && go build -o "$bin/wails" github.com/wailsapp/wails/v2/cmd/wails &&
  go build -o "$bin/nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm)
export PATH=$bin:$PATH

rm -rf dist build/bin
mkdir -p dist
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# wails build: the Linux desktop binary. -s: the committed frontend/dist;
# -m: go.mod as it is; -skipbindings: Sluice binds no Go methods.
wails_build() { wails build -s -m -skipbindings -trimpath -ldflags "$ldflags" "$@"; }

say "Linux desktop build (wails build, webkit2_41)"
wails_build -platform linux/amd64 -tags webkit2_41

say "Debian package (nfpm)"
VERSION=$version nfpm package --config build/linux/nfpm.yaml \
  --packager deb --target "dist/sluice_${version}_amd64.deb"
rm -rf build/bin

say "Windows desktop build and installer (wails build -nsis)"
wails_build -platform windows/amd64 -nsis
mv build/bin/sluice.exe dist/sluice.exe
mv "build/bin/sluice-$version-windows-amd64-setup.exe" dist/
rm -rf build/bin

# Headless binaries: no cgo, no window; serve and the CLI.
for target in linux/amd64 darwin/amd64 darwin/arm64; do
  os=${target%/*} arch=${target#*/}
  name=sluice-$version-$os-$arch
  say "headless $target"
  mkdir -p "$stage/$name"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "-s -w $ldflags" -o "$stage/$name/sluice" .
  cp README.md "$stage/$name/"
  tar -C "$stage" -czf "dist/$name.tar.gz" "$name"
done

# The .app bundle: its Info.plist and icon, and Contents/MacOS waiting for
# the desktop binary, which needs cgo and so a Mac (README: macOS).
say "macOS .app layout"
app=$stage/app/Sluice.app/Contents
mkdir -p "$app/MacOS" "$app/Resources"
(cd tools && go run ./render ../wails.json ../build/darwin/Info.plist) >"$app/Info.plist"
cp build/darwin/iconfile.icns "$app/Resources/iconfile.icns"
tar -C "$stage/app" -czf "dist/Sluice-$version-macos-app.tar.gz" Sluice.app

say "checksums"
(cd dist && sha256sum -- * >SHA256SUMS && cat SHA256SUMS)
