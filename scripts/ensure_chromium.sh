#!/usr/bin/env bash
# Make sure a Chromium is there for the browser tests (tests/browser).
set -u
for b in "${DLL_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$b" ] && [ -x "$b" ]; then echo "browser tests use $b"; exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests (about 30 s)…"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; then
    echo "browser tests use /usr/bin/chromium"; exit 0
  fi
  echo "apt-get could not install chromium" >&2
fi
cat <<MSG
No Chromium found, so the browser tests will be skipped.
Get one with your package manager (e.g. 'sudo apt-get install chromium'), or run
'.venv/bin/playwright install chromium', or point DLL_CHROMIUM at a Chromium binary.
MSG
exit 0
