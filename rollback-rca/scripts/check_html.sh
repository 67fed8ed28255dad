#!/usr/bin/env bash
# Renders an RCA HTML report in headless Chromium and checks it: a non-empty PNG screenshot,
# no uncaught script or console errors, and the DOM holds the report's sections and inline SVG
# charts.
#
#   rollback-rca/scripts/check_html.sh REPORT.html [SCREENSHOT.png [TEXT...]]
#
# Every TEXT must be in the rendered DOM too (sections a given report should have).
# Needs Debian's `chromium` (apt-get install -y chromium). Exit status 0 = all checks passed.
set -euo pipefail

html=${1:?usage: check_html.sh REPORT.html [SCREENSHOT.png]}
png=${2:-$(mktemp --suffix=.png)}
shift $(( $# < 2 ? $# : 2 ))
extra=("$@")
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z "$browser" ]]; then
  echo "check_html: chromium not found (apt-get install -y chromium)" >&2
  exit 3
fi
[[ -s "$html" ]] || { echo "check_html: $html is missing or empty" >&2; exit 1; }
url="file://$(realpath "$html")"
profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
       --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile")

rm -f "$png"
timeout 120 "$browser" "${flags[@]}" --enable-logging=stderr --v=0 \
  --screenshot="$png" --window-size=1200,2000 "$url" 2>"$log" >/dev/null || true
if [[ ! -s "$png" ]] || [[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]]; then
  echo "check_html: no PNG screenshot written to $png" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
if grep -E "Uncaught|CONSOLE\([0-9]+\).*(Error|error)|:ERROR:CONSOLE" "$log" >&2; then
  echo "check_html: script or console errors while rendering $html" >&2
  exit 1
fi
dom=$(timeout 120 "$browser" "${flags[@]}" --dump-dom "$url" 2>/dev/null || true)
for want in "<svg" "Failure Timeline" "Root Causes Identified" "Recommended Fixes" "${extra[@]}"; do
  if ! grep -qF "$want" <<<"$dom"; then
    echo "check_html: rendered DOM lacks \"$want\"" >&2
    exit 1
  fi
done
echo "check_html: ok ($png, $(stat -c %s "$png") bytes)"
