#!/usr/bin/env bash
# The README's "Bulk upgrades" walk-through on a local Redis, under a throw-away prefix: a daemon,
# two Forge apps deployed as 2.0.0 (the first Forge version), 3.0.0 (an sql module: a major
# version, eligible for a bulk upgrade) and 4.0.0 (a new scope: not eligible), installations on
# 2.0.0, then bulk-upgrade start (a dry run, a start, a refusal), list and cancel. Stops the
# daemon and deletes the prefix's keys at the end.
#   bash examples/bulk-upgrade/run.sh        (REDIS_URL, default redis://127.0.0.1:6379)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=examples/bulk-upgrade
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export MPU_PREFIX=readme-$RANDOM PORT=${PORT:-3917} LOG_LEVEL=warn
export MPU_WEBHOOK_SECRET=$(openssl rand -hex 24) MPU_OPERATOR_TOKENS=alice:$(openssl rand -hex 24)
APP=ari:cloud:ecosystem::app/5d1e7c2a-9b3f-4e8d-a6c1-0f2b3c4d5e6f
OTHER=ari:cloud:ecosystem::app/7a4c0e1b-3d5f-4a2e-9c8b-1e6f2a3b4c5d
tmp=$(mktemp -d)
# The commands below act as alice: the audit trail's actor (cli:alice) and the developer account.

# The launcher itself (not npx, which would leave it running when killed).
node bin/mpu.js daemon --no-scheduler 2>"$tmp/daemon.log" &
daemon=$!
cleanup() {
  kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "*$MPU_PREFIX*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.2; done

# Installations without maintenance windows (a window defers a move by up to 4 h): JSON Lines.
installations() { # app count version prefix
  awk -v app="$1" -v n="$2" -v v="$3" -v p="$4" 'BEGIN {
    for (i = 0; i < n; i++) printf "{\"id\":\"%s-%06d\",\"appId\":\"%s\",\"site\":\"%s%d.example.net\",\"version\":\"%s\"}\n", p, i, app, p, i, v }'
}

for app in "$APP" "$OTHER"; do
  npx mpu apps add forge "$app" >/dev/null
  for n in 1 2 3; do
    sed "s|5d1e7c2a-9b3f-4e8d-a6c1-0f2b3c4d5e6f|${app##*/}|" "$here/manifest-$n.yml" >"$tmp/manifest.yml"
    npx mpu forge deploy --app "$app" --env production --manifest "$tmp/manifest.yml" >/dev/null
  done
done
until npx mpu versions "$OTHER" --json | grep -q '"4.0.0"'; do sleep 0.2; done
installations "$APP" 2000 2.0.0 site >"$tmp/a.jsonl"
installations "$OTHER" 200000 2.0.0 big >"$tmp/b.jsonl"
npx mpu installations import "$tmp/a.jsonl" >/dev/null
npx mpu installations import "$tmp/b.jsonl" >/dev/null

echo "\$ npx mpu --actor alice forge version bulk-upgrade start --app $APP --env production --from 2 --to 3 --dry-run"
npx mpu --actor alice forge version bulk-upgrade start --app "$APP" --env production --from 2 --to 3 --dry-run
echo
echo "\$ npx mpu --actor alice forge version bulk-upgrade start --app $APP --env production --from 2 --to 3"
npx mpu --actor alice forge version bulk-upgrade start --app "$APP" --env production --from 2 --to 3
echo
echo "\$ npx mpu --actor alice forge version bulk-upgrade start --app $APP --env production --from 3 --to 4"
npx mpu --actor alice forge version bulk-upgrade start --app "$APP" --env production --from 3 --to 4 || echo "(exit $?)"
sleep 3
echo
echo "\$ npx mpu --actor alice forge version bulk-upgrade list --app $APP"
npx mpu --actor alice forge version bulk-upgrade list --app "$APP"
echo
echo "\$ npx mpu --actor alice forge version bulk-upgrade start --app $OTHER --env production --from 2 --to 3 --json | jq -r .id"
id=$(npx mpu --actor alice forge version bulk-upgrade start --app "$OTHER" --env production --from 2 --to 3 --json | jq -r .id)
echo "$id"
echo "\$ npx mpu --actor alice forge version bulk-upgrade cancel --app $OTHER --id $id"
npx mpu --actor alice forge version bulk-upgrade cancel --app "$OTHER" --id "$id"
echo
echo "\$ npx mpu --actor alice forge version bulk-upgrade list --app $OTHER --json | jq '.[0] | {id, status, from, to, completed, pending, failed, startedAt, completedAt}'"
npx mpu --actor alice forge version bulk-upgrade list --app "$OTHER" --json | jq '.[0] | {id, status, from, to, completed, pending, failed, startedAt, completedAt}'
echo
echo "\$ npx mpu --actor alice audit --limit 3"
npx mpu --actor alice audit --limit 3
