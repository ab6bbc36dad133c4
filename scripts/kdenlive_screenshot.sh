#!/usr/bin/env bash
# Open a Kdenlive project in the real Kdenlive under Xvfb and save a screenshot PNG: the check by
# eye of what `scenesem cut -o film.kdenlive` gives an editor (not a CI test: minutes, a desktop).
# Usage: scripts/kdenlive_screenshot.sh PROJECT.kdenlive [OUT.png] [SECONDS]
# Needs Debian's kdenlive xvfb xdotool imagemagick (apt-get install -y kdenlive xvfb xdotool
# imagemagick). Kdenlive runs with a throw-away HOME, so no settings of yours are read or changed.
set -euo pipefail
project=$(realpath "$1")
out=$(realpath -m "${2:-kdenlive_shot.png}")
wait_s=${3:-40}
for tool in Xvfb kdenlive xdotool import; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done
display=":$((90 + RANDOM % 9))"
home=$(mktemp -d)
Xvfb "$display" -screen 0 1600x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
kdenlive_pid=
cleanup() {
    [ -n "$kdenlive_pid" ] && kill "$kdenlive_pid" 2>/dev/null
    kill "$xvfb_pid" 2>/dev/null
    rm -rf "$home"
}
trap cleanup EXIT
export DISPLAY=$display HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share
export XDG_CACHE_HOME=$home/.cache XDG_RUNTIME_DIR=$home/run QT_QPA_PLATFORM=xcb
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
sleep 2
dbus-run-session -- kdenlive -qwindowgeometry 1600x900+0+0 "$project" >"$home/kdenlive.log" 2>&1 &
kdenlive_pid=$!
sleep "$wait_s"
# Fit the project into the timeline: Kdenlive 22.12's "Fit Zoom to Project" button sits at the
# right end of the status bar (no default shortcut).
xdotool mousemove 1413 883 click 1 || true
sleep 3
import -window root "$out"
echo "screenshot: $out"
