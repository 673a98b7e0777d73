#!/usr/bin/env bash
# Starts a local three-master Redis Cluster for the cluster test pass (.ci/run) and for trying
# `REDIS_CLUSTER_NODES=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 npx mpu demo`.
#
# Each node is `redis-server --cluster-enabled yes`, daemonized, without persistence, with its own
# --dir (nodes.conf, log) under $MPU_CLUSTER_DIR (default: /tmp/mpu-cluster-<first port>). Then
# `redis-cli --cluster create … --cluster-replicas 0` assigns the 16,384 slots, and the script waits
# for `cluster_state:ok` on every node. Idempotent: nodes already answering are kept, a cluster
# already formed is not created again. Prints the REDIS_CLUSTER_NODES value on its last line.
#
# Ports: MPU_CLUSTER_PORTS (default "7101 7102 7103").
set -euo pipefail

PORTS=(${MPU_CLUSTER_PORTS:-7101 7102 7103})
HOST=127.0.0.1
DIR=${MPU_CLUSTER_DIR:-/tmp/mpu-cluster-${PORTS[0]}}

answers() { redis-cli -h "$HOST" -p "$1" ping >/dev/null 2>&1; }
state_ok() { redis-cli -h "$HOST" -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found: apt-get install -y redis-server" >&2
  exit 1
fi

for port in "${PORTS[@]}"; do
  if answers "$port"; then continue; fi
  mkdir -p "$DIR/$port"
  # A nodes.conf left by an earlier cluster would make the node rejoin it: start clean.
  rm -f "$DIR/$port/nodes.conf"
  redis-server --port "$port" --bind "$HOST" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 5000 --dir "$DIR/$port" --save "" --appendonly no \
    --daemonize yes --logfile "$DIR/$port/redis.log" --pidfile "$DIR/$port/redis.pid"
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 1 100); do answers "$port" && break; sleep 0.05; done
  answers "$port" || { echo "node $port did not start (see $DIR/$port/redis.log)" >&2; exit 1; }
done

formed=1
for port in "${PORTS[@]}"; do state_ok "$port" || formed=0; done
if [ "$formed" = 0 ]; then
  known=$(redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')
  if [ "${known:-1}" -le 1 ]; then
    nodes=()
    for port in "${PORTS[@]}"; do nodes+=("$HOST:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  fi
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 200); do state_ok "$port" && break; sleep 0.05; done
    state_ok "$port" || { echo "cluster not ok on $port after 10 s" >&2; exit 1; }
  done
fi
list=""
for port in "${PORTS[@]}"; do list="${list:+$list,}$HOST:$port"; done
echo "$list"
