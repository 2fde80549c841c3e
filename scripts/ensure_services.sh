#!/usr/bin/env bash
# Make sure Redis and PostgreSQL's server programs are there for class mode (make class) and
# its tests (tests/classroom): Debian's packages when we are root on Debian, otherwise an
# explanation (the classroom tests then skip and say why).
set -u
have_redis() { [ -n "${DLL_REDIS_SERVER:-}" ] && [ -x "${DLL_REDIS_SERVER}" ] || command -v redis-server >/dev/null 2>&1; }
pg_bindir() {
  if [ -n "${DLL_POSTGRES_BIN:-}" ] && [ -x "${DLL_POSTGRES_BIN}/postgres" ]; then echo "$DLL_POSTGRES_BIN"; return 0; fi
  if command -v postgres >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v postgres)")"; return 0; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  return 1
}
report() { echo "class mode uses $(command -v redis-server || echo "$DLL_REDIS_SERVER") and PostgreSQL in $(pg_bindir)"; }

if have_redis && pg_bindir >/dev/null; then report; exit 0; fi
missing=()
have_redis || missing+=(redis-server)
pg_bindir >/dev/null || missing+=(postgresql)
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} for class mode (about 30 s)…"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d: install the programs only, without starting the system-wide services
  # (class mode starts its own, on free ports, in its own folder)
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1; fi
  ok=0
  if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then ok=1; fi
  [ "$made_policy" = "1" ] && rm -f "$policy"
  if [ "$ok" = "1" ] && have_redis && pg_bindir >/dev/null; then report; exit 0; fi
  echo "apt-get could not install ${missing[*]}" >&2
fi
cat <<MSG
Not found: ${missing[*]}, so the classroom tests (tests/classroom) will be skipped and
'make class' cannot start.
Get them with your package manager (e.g. 'sudo apt-get install redis-server postgresql', or
'brew install redis postgresql' on macOS), or point DLL_REDIS_SERVER at a redis-server binary
and DLL_POSTGRES_BIN at the folder holding PostgreSQL's initdb and postgres.
MSG
exit 0
