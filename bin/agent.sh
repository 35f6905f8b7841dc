#!/bin/sh
# `npm run agent [<agent>] <command> [options]` (`npm run dev [<agent>]` for dev): one worker for
# one agent, as LiveKit runs them.
#   <agent>  a file of agents/ by name (receptionist, appointments, ...), before or right after
#            the command; default receptionist
#   start    the production worker: the compiled JavaScript in dist/ on plain Node (npm run build
#            first); needs only the production dependencies, as in the Docker image.
#   other    dev, connect, console: the TypeScript sources through tsx (a development dependency).
set -eu
agent=${AGENT:-receptionist}
usage="Usage: npm run agent [<agent>] dev|start|connect|console (agents: $(ls agents | sed -n 's/\.ts$//p' | tr '\n' ' '))"
if [ $# -gt 0 ] && [ -f "agents/$1.ts" ]; then
  agent=$1
  shift
elif [ $# -gt 1 ] && [ -f "agents/$2.ts" ]; then
  command=$1
  agent=$2
  shift 2
  set -- "$command" "$@"
fi
case "${1:-}" in
  start | dev | connect | console | download-files | -*) ;;
  "") echo "error [usage]: no command. $usage" >&2; exit 2 ;;
  *) echo "error [agent_unknown]: \"$1\" is neither an agent in agents/ nor a command. $usage" >&2; exit 2 ;;
esac
[ -f "agents/$agent.ts" ] || [ -f "dist/agents/$agent.js" ] || {
  echo "error [agent_unknown]: no agent \"$agent\". $usage" >&2
  exit 2
}
if [ "$1" = start ]; then
  js="dist/agents/$agent.js"
  if [ ! -f "$js" ]; then
    echo "error [build_missing]: no production build of $agent in dist/. Run \`npm run build\`, then \`npm run agent start\`." >&2
    exit 1
  fi
  if [ -d src ] && [ -n "$(find src agents -name '*.ts' -newer "$js" 2>/dev/null | head -n 1)" ]; then
    echo 'error [build_stale]: dist/ is older than the TypeScript sources. Run `npm run build`, then `npm run agent start`.' >&2
    exit 1
  fi
  exec node "$js" "$@"
fi
exec node --import tsx "agents/$agent.ts" "$@"
