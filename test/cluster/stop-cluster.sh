#!/usr/bin/env bash
# Stops the nodes start-cluster.sh started (same MPU_CLUSTER_PORTS / MPU_CLUSTER_DIR) and deletes
# their directory. Nodes not running are skipped.
set -euo pipefail

PORTS=(${MPU_CLUSTER_PORTS:-7101 7102 7103})
HOST=127.0.0.1
DIR=${MPU_CLUSTER_DIR:-/tmp/mpu-cluster-${PORTS[0]}}

for port in "${PORTS[@]}"; do
  redis-cli -h "$HOST" -p "$port" shutdown nosave >/dev/null 2>&1 || true
done
rm -rf "$DIR"
