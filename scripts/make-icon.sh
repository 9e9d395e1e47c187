#!/usr/bin/env bash
# Draws the application icon, assets/onenet-desk.png (256×256 RGBA): a broadcast mark over a status bar
# on a rounded blue square. Needs ImageMagick (`convert`). The PNG is committed; run this only to change it.
set -euo pipefail
cd "$(dirname "$0")/.."
B='#1f6feb'
convert -size 256x256 xc:"$B" \
    -fill white -draw 'circle 128,150 128,58' -fill "$B" -draw 'circle 128,150 128,74' \
    -fill white -draw 'circle 128,150 128,96' -fill "$B" -draw 'circle 128,150 128,112' \
    -fill "$B" -draw 'polygon 128,150 -22,0 -22,300 278,300 278,0' \
    -fill white -draw 'circle 128,150 128,166' \
    -fill '#3fb950' -draw 'roundrectangle 64,196 192,214 9,9' \
    \( -size 256x256 xc:black -fill white -draw 'roundrectangle 8,8 247,247 48,48' \) \
    -alpha off -compose CopyOpacity -composite \
    -strip -depth 8 -define png:color-type=6 assets/onenet-desk.png
echo "wrote assets/onenet-desk.png"
