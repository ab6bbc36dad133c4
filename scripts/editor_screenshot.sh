#!/usr/bin/env bash
# Open a Kdenlive or Shotcut project in the real editor under Xvfb and save a screenshot PNG: the
# check by eye of what `scenesem cut -o film.kdenlive` (or film.mlt) gives an editor (not a CI
# test: minutes, a desktop).
# Usage: scripts/editor_screenshot.sh PROJECT.kdenlive|PROJECT.mlt [OUT.png] [SECONDS] [X Y]
# X Y: a point (1600x900 screen) clicked before the shot, e.g. a clip, to show what it selects.
# Needs Debian's xvfb xdotool ffmpeg and kdenlive or shotcut (apt-get install -y kdenlive shotcut
# xvfb xdotool ffmpeg). The editor runs with a throw-away HOME, so no settings of yours are read
# or changed; Kdenlive needs a D-Bus session (dbus-run-session).
set -euo pipefail
project=$(realpath "$1")
out=$(realpath -m "${2:-editor_shot.png}")
wait_s=${3:-40}
case "$project" in
    *.kdenlive) editor=kdenlive ;;
    *.mlt) editor=shotcut ;;
    *) echo "give a .kdenlive or .mlt project" >&2; exit 2 ;;
esac
for tool in Xvfb "$editor" xdotool ffmpeg dbus-run-session; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done
display=":$((90 + RANDOM % 9))"
home=$(mktemp -d)
Xvfb "$display" -screen 0 1600x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
editor_pid=
cleanup() {
    [ -n "$editor_pid" ] && kill "$editor_pid" 2>/dev/null
    kill "$xvfb_pid" 2>/dev/null
    rm -rf "$home"
}
trap cleanup EXIT
export DISPLAY=$display HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share
export XDG_CACHE_HOME=$home/.cache XDG_RUNTIME_DIR=$home/run QT_QPA_PLATFORM=xcb
# Kdenlive's start-up lock (kdenlivelock) lives in TMPDIR; one left by an editor this script
# killed would greet the next run with "Kdenlive crashed on last startup".
export TMPDIR=$home/tmp
mkdir -p "$XDG_RUNTIME_DIR" "$TMPDIR" && chmod 700 "$XDG_RUNTIME_DIR"
sleep 2
if [ "$editor" = kdenlive ]; then
    dbus-run-session -- kdenlive -qwindowgeometry 1600x900+0+0 "$project" \
        >"$home/editor.log" 2>&1 &
else
    # Shotcut asks nothing on a first start with a project; its window is sized by the WM-less X.
    dbus-run-session -- shotcut --noupgrade "$project" >"$home/editor.log" 2>&1 &
fi
editor_pid=$!
sleep "$wait_s"
if [ "$editor" = kdenlive ]; then
    # Fit the project into the timeline: Kdenlive 22.12's "Fit Zoom to Project" button sits at
    # the right end of the status bar (no default shortcut).
    xdotool mousemove 1413 883 click 1 || true
else
    window=$(xdotool search --onlyvisible --name "Shotcut" | head -1 || true)
    if [ -n "$window" ]; then  # full screen, then Shotcut's "zoom timeline to fit" (Ctrl+0)
        xdotool windowmove "$window" 0 0 windowsize "$window" 1600 900 || true
        sleep 2
        xdotool windowactivate --sync "$window" key ctrl+0 || true
    fi
fi
sleep 3
if [ -n "${4:-}" ] && [ -n "${5:-}" ]; then
    xdotool mousemove "$4" "$5" click 1 || true
    sleep 2
fi
ffmpeg -v error -y -f x11grab -video_size 1600x900 -i "$display" -frames:v 1 "$out"
echo "screenshot: $out"
