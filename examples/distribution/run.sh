#!/usr/bin/env bash
# The README's "Distribute a Forge app" and "Move from Connect to Forge" walk-throughs on a local
# Redis, under a throw-away prefix: a daemon, a Forge app deployed and shared by link, sites with
# their admins, installs by link (refused ones too), regenerate and stop; then a Connect app served
# from a local folder publishing forgeAppLink and forgeAppId, the Forge installation fetching its
# Connect clientKey, and blockInstall. Stops the daemon and deletes the keys.
#   bash examples/distribution/run.sh        (REDIS_URL, default redis://127.0.0.1:6379)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=examples/distribution
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export MPU_PREFIX=readme-$RANDOM PORT=${PORT:-3918} LOG_LEVEL=warn
export MPU_WEBHOOK_SECRET=$(openssl rand -hex 24) MPU_OPERATOR_TOKENS=vendor:$(openssl rand -hex 24)
export MPU_PUBLIC_URL=http://127.0.0.1:$PORT
SERVE=${SERVE_PORT:-3919}
export MPU_FETCH_ALLOW_NETWORKS=127.0.0.1/32 MPU_FETCH_EXTRA_PORTS=$SERVE
F=ari:cloud:ecosystem::app/2b7e4f1a-8c3d-4e5f-9a6b-7c8d9e0f1a2b
C=com.example.issue-notes
tmp=$(mktemp -d)

node bin/mpu.js daemon --no-scheduler 2>"$tmp/daemon.log" &
daemon=$!
python3 -m http.server "$SERVE" --bind 127.0.0.1 --directory "$tmp" >/dev/null 2>&1 &
server=$!
cleanup() {
  kill "$daemon" "$server" 2>/dev/null && wait "$daemon" "$server" 2>/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "*$MPU_PREFIX*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done
run() { echo "\$ npx mpu $*"; npx mpu "$@" || echo "(exit $?)"; echo; }

npx mpu apps add forge "$F" >/dev/null
npx mpu forge deploy --app "$F" --env production --manifest "$here/manifest.yml" >/dev/null
until npx mpu versions "$F" --json | grep -q '"2.0.0"'; do sleep 0.2; done

echo "## Distribute a Forge app"
run sites add acme.atlassian.net --products jira,confluence --admins jira:alice,confluence:bob
run sites add beta.atlassian.net --products jira --admins jira:carol
run apps sharing enable "$F" --products jira,confluence
link=$(npx mpu apps sharing show "$F" --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).link')
run --actor alice install "$link" --site acme.atlassian.net --admin-of jira
run --actor bob install "$link" --site acme.atlassian.net --admin-of confluence
run --actor carol install "$link" --site beta.atlassian.net --admin-of jira
echo "\$ curl -s -o /dev/null -w '%{http_code}\n' '$link'"; curl -s -o /dev/null -w '%{http_code}\n' "$link"; echo
run apps sharing regenerate "$F"
run --actor alice install "$link" --site acme.atlassian.net --admin-of jira
run apps sharing stop "$F"
run apps sharing show "$F"
run apps listing submit "$F"
run apps sharing enable "$F" --products jira,confluence

echo "## Move from Connect to Forge"
desc() { # extra JSON fields
  printf '{"key":"%s","baseUrl":"https://notes.example.com","scopes":["READ"],"modules":{"jiraIssueGlances":[{"key":"g","name":{"value":"Notes"}}]}%s}' "$C" "$1" >"$tmp/atlassian-connect.json"
}
desc ''
npx mpu apps add connect "http://127.0.0.1:$SERVE/atlassian-connect.json" --product jira >/dev/null
npx mpu poll "$C" >/dev/null
run install connect "$C" --site beta.atlassian.net
old=$(npx mpu installations list --app "$C" --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).installations[0].id')
desc ",\"forgeAppLink\":\"https://mpu.example.com/install/forge-notes?signature=abc&product=jira,confluence\",\"forgeAppId\":\"$F\""
run poll "$C"
run install connect "$C" --site acme.atlassian.net --json
new=$(npx mpu installations list --app "$C" --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).installations[1].id')
run installations show "$new"
run installations show "$old"
forge=$(npx mpu installations list --app "$F" --json | node -pe 'JSON.parse(require("fs").readFileSync(0)).installations[0].id')
run installations client-key --forge-installation "$forge" --addon "$C"
desc ",\"forgeAppId\":\"$F\",\"blockInstall\":true"
run poll "$C"
run sites add gamma.atlassian.net --products jira
run install connect "$C" --site gamma.atlassian.net
run audit --limit 6
