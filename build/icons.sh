#!/usr/bin/env bash
# Renders Sluice's mark (build/appicon.svg) into every icon the builds and
# packages use, and writes them beside it. The results are committed, so
# building needs none of this; run it after changing the SVG.
# Needs rsvg-convert (apt-get install librsvg2-bin), ImageMagick's convert
# (apt-get install imagemagick) and Go.
set -euo pipefail
cd "$(dirname "$0")"

svg=appicon.svg
render() { rsvg-convert --width "$1" --height "$1" "$svg" -o "$2"; }

# Wails' own input: 1024×1024, from which wails build makes the macOS icon.
render 1024 appicon.png

# The freedesktop icon theme's sizes, as installed under
# /usr/share/icons/hicolor/SIZExSIZE/apps/sluice.png, and the SVG itself
# as the scalable one.
for size in 16 22 24 32 48 64 128 256 512; do
  mkdir -p "linux/icons/${size}x${size}"
  render "$size" "linux/icons/${size}x${size}/sluice.png"
done
mkdir -p linux/icons/scalable
cp "$svg" linux/icons/scalable/sluice.svg

# Windows: one .ico with each size Explorer and the taskbar ask for, each
# rendered from the SVG rather than scaled from a big bitmap.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ico=()
for size in 16 20 24 32 40 48 64 128 256; do
  render "$size" "$tmp/$size.png"
  ico+=("$tmp/$size.png")
done
convert "${ico[@]}" windows/icon.ico

# macOS: the .app bundle's icon, for bundles laid out without iconutil.
(cd ../tools && go run ./icns ../build/appicon.png ../build/darwin/iconfile.icns)
