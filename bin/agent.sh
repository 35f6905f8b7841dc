#!/bin/sh
# `npm run agent <command>`.
#   start   the production worker: the compiled JavaScript in dist/ on plain Node (npm run build
#           first); needs only the production dependencies, as in the Docker image.
#   other   dev, connect, console: the TypeScript sources through tsx (a development dependency).
set -eu
if [ "${1:-}" = start ]; then
  if [ ! -f dist/agents/receptionist.js ]; then
    echo 'error [build_missing]: no production build in dist/. Run `npm run build`, then `npm run agent start`.' >&2
    exit 1
  fi
  if [ -d src ] && [ -n "$(find src agents -name '*.ts' -newer dist/agents/receptionist.js 2>/dev/null | head -n 1)" ]; then
    echo 'error [build_stale]: dist/ is older than the TypeScript sources. Run `npm run build`, then `npm run agent start`.' >&2
    exit 1
  fi
  exec node dist/agents/receptionist.js "$@"
fi
exec node --import tsx agents/receptionist.ts "$@"
