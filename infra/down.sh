#!/usr/bin/env bash
# Stops what infra/up.sh started: the hosts infra/hosts.sh started (by their recorded process ids),
# then RabbitMQ (the cluster of infra/cluster.sh too) and PostgreSQL (every cluster: main and ledgers). Data stays; up.sh brings it back.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -x "$here/hosts.sh" ]; then "$here/hosts.sh" stop || true; fi
if docker info >/dev/null 2>&1; then
  docker compose -f "$here/../docker-compose.yml" stop
  exit 0
fi
if command -v rabbitmqctl >/dev/null; then bash "$here/cluster.sh" down; fi
if command -v rabbitmqctl >/dev/null && rabbitmqctl -q status >/dev/null 2>&1; then
  /etc/init.d/rabbitmq-server stop >/dev/null && echo "[infra] RabbitMQ stopped"
fi
# Every cluster: main, and the ledgers' server (infra/up.sh, README.md "Databases").
for dir in /etc/postgresql/*/*/; do
  [ -d "$dir" ] || continue
  v=$(basename "$(dirname "$dir")") cluster=$(basename "$dir")
  if pg_ctlcluster "$v" "$cluster" status >/dev/null 2>&1; then
    pg_ctlcluster "$v" "$cluster" stop && echo "[infra] PostgreSQL $v $cluster stopped"
  fi
done
