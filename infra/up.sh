#!/usr/bin/env bash
# Brings up RabbitMQ and PostgreSQL on loopback for development, tests and the demo.
# With --cluster, also a three-node RabbitMQ cluster beside the single node (infra/cluster.sh).
# Idempotent: a second run finds everything in place and changes nothing.
# With a Docker engine it uses docker-compose.yml; without one it installs and starts the Debian
# packages (it then needs root, as on CI).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/config.sh
source "$here/config.sh"

say()  { printf '[infra] %s\n' "$*"; }
fail() { printf '[infra] FAILED: %s\n' "$*" >&2; exit 1; }

# Waits until RabbitMQ answers the AMQP 0-9-1 protocol header with a frame (Connection.Start).
amqp_open() {
  local reply
  reply=$(timeout 5 bash -c "exec 3<>/dev/tcp/$RabbitMq__Host/$RabbitMq__Port && printf 'AMQP\x00\x00\x09\x01' >&3 && head -c 1 <&3 | od -An -tx1" 2>/dev/null) || return 1
  [ "$(echo "$reply" | tr -d ' ')" = "01" ]
}
sql_ok() {
  PGPASSWORD=$Postgres__Password psql -h "$Postgres__Host" -p "$Postgres__Port" -U "$Postgres__Username" \
    -d "$Postgres__Database" -Atqc 'select 1' 2>/dev/null | grep -qx 1
}
wait_for() { # what, probe, seconds
  local i
  for ((i = 0; i < $3 * 2; i++)); do "$2" && return 0; sleep 0.5; done
  return 1
}

if docker info >/dev/null 2>&1; then
  say "Docker engine found: docker compose up rabbitmq postgres"
  docker compose -f "$here/../docker-compose.yml" up -d --wait rabbitmq postgres
  wait_for RabbitMQ amqp_open 60 || fail "RabbitMQ (docker) does not answer AMQP on $RabbitMq__Host:$RabbitMq__Port"
  wait_for PostgreSQL sql_ok 60 || fail "PostgreSQL (docker) does not answer 'select 1' on $Postgres__Host:$Postgres__Port"
  # Each service's own user and role (infra/service-accounts.sh), by the same one-shot services the hosts wait for.
  docker compose -f "$here/../docker-compose.yml" run --rm service-accounts-rabbitmq >/dev/null || fail "creating the services' RabbitMQ users (docker)"
  docker compose -f "$here/../docker-compose.yml" run --rm service-accounts-postgres >/dev/null || fail "creating the services' PostgreSQL roles (docker)"
  say "ready"; exit 0
fi

[ "$(id -u)" = 0 ] || fail "without Docker this script installs and starts Debian packages: run it as root"

# --- PostgreSQL -----------------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  say "installing postgresql"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
    || fail "apt-get install postgresql"
fi
pg_version=$(ls /etc/postgresql | sort -n | tail -1)
pg_conf=/etc/postgresql/$pg_version/main/conf.d/saga.conf
# The benchmark runs many pooled connections; durability stays on (fsync, synchronous_commit,
# full_page_writes). Checkpoints are spaced out: at 1 GB of WAL one came every minute under load, and
# the full-page images after each were 60 % of all WAL written.
want_conf=$'listen_addresses = \'127.0.0.1\'\nport = '"$Postgres__Port"$'\nmax_connections = 400\nshared_buffers = 512MB\nmax_wal_size = 8GB\ncheckpoint_timeout = 30min'
if [ ! -f "$pg_conf" ] || [ "$(cat "$pg_conf")" != "$want_conf" ]; then
  printf '%s\n' "$want_conf" > "$pg_conf"
  pg_ctlcluster "$pg_version" main stop >/dev/null 2>&1 || true
fi
if ! pg_ctlcluster "$pg_version" main status >/dev/null 2>&1; then
  say "starting PostgreSQL $pg_version"
  pg_ctlcluster "$pg_version" main start || fail "pg_ctlcluster $pg_version main start (see /var/log/postgresql/)"
fi
for _ in $(seq 60); do su postgres -c "psql -Atqc 'select 1'" >/dev/null 2>&1 && break; sleep 0.5; done
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -Atq" ; }
psql_admin <<SQL || fail "creating PostgreSQL role/database $Postgres__Username/$Postgres__Database"
do \$\$ begin
  if not exists (select from pg_roles where rolname = '$Postgres__Username') then
    create role "$Postgres__Username" login password '$Postgres__Password';
  end if;
end \$\$;
-- End-to-end tests give each run a database of its own.
alter role "$Postgres__Username" createdb;
SQL
if ! su postgres -c "psql -Atqc \"select 1 from pg_database where datname = '$Postgres__Database'\"" | grep -qx 1; then
  su postgres -c "createdb -O '$Postgres__Username' '$Postgres__Database'" || fail "createdb $Postgres__Database"
fi
# Each service's own role, owning its own schema (infra/service-accounts.sh).
{ bash "$here/service-accounts.sh" roles-sql; } | psql_admin || fail "creating the services' PostgreSQL roles"
bash "$here/service-accounts.sh" database-sql "$Postgres__Database" | su postgres -c "psql -v ON_ERROR_STOP=1 -Atq -d '$Postgres__Database'" >/dev/null \
  || fail "setting up the services' schemas in $Postgres__Database"
wait_for PostgreSQL sql_ok 30 || fail "PostgreSQL does not answer 'select 1' as $Postgres__Username@$Postgres__Host:$Postgres__Port/$Postgres__Database"
say "PostgreSQL ready on $Postgres__Host:$Postgres__Port (database $Postgres__Database)"

# --- RabbitMQ -------------------------------------------------------------------------------------
if ! command -v rabbitmqctl >/dev/null; then
  say "installing rabbitmq-server (about 10 s)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null \
    || fail "apt-get install rabbitmq-server"
fi
rabbit_conf=/etc/rabbitmq/rabbitmq.conf
want_rabbit=$'listeners.tcp.default = '"$RabbitMq__Host:$RabbitMq__Port"$'\nmanagement.tcp.ip = 127.0.0.1\nmanagement.tcp.port = '"$RabbitMq__ManagementPort"$'\nloopback_users = none'
if [ ! -f "$rabbit_conf" ] || [ "$(cat "$rabbit_conf")" != "$want_rabbit" ]; then
  printf '%s\n' "$want_rabbit" > "$rabbit_conf"
  grep -q '^ERL_EPMD_ADDRESS' /etc/rabbitmq/rabbitmq-env.conf 2>/dev/null || echo 'ERL_EPMD_ADDRESS=127.0.0.1' >> /etc/rabbitmq/rabbitmq-env.conf
  rabbitmqctl -q status >/dev/null 2>&1 && { say "restarting RabbitMQ for its new configuration"; /etc/init.d/rabbitmq-server stop >/dev/null || true; }
fi
# Erlang schedulers spin while idle by default; on a small machine shared with the hosts and PostgreSQL
# that spinning takes CPU the transfer path needs.
rabbit_env=/etc/rabbitmq/rabbitmq-env.conf
want_erl='SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none"'
if ! grep -qxF "$want_erl" "$rabbit_env" 2>/dev/null; then
  sed -i '/^SERVER_ADDITIONAL_ERL_ARGS=/d' "$rabbit_env" 2>/dev/null || true
  echo "$want_erl" >> "$rabbit_env"
  rabbitmqctl -q status >/dev/null 2>&1 && { say "restarting RabbitMQ for its new scheduler settings"; /etc/init.d/rabbitmq-server stop >/dev/null || true; }
fi
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  say "starting RabbitMQ"
  /etc/init.d/rabbitmq-server start >/dev/null || fail "starting rabbitmq-server (see /var/log/rabbitmq/)"
fi
rabbitmqctl -q await_startup --timeout 60 >/dev/null || fail "RabbitMQ did not finish starting (see /var/log/rabbitmq/)"
# The management plugin serves the UI and the counters the benchmark reads.
if ! rabbitmq-plugins -q is_enabled rabbitmq_management >/dev/null 2>&1; then
  rabbitmq-plugins -q enable rabbitmq_management >/dev/null || fail "enabling rabbitmq_management"
fi
rabbitmqctl -q list_vhosts | grep -qx "$RabbitMq__VirtualHost" || rabbitmqctl -q add_vhost "$RabbitMq__VirtualHost" >/dev/null
if ! rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$RabbitMq__Username"; then
  rabbitmqctl -q add_user "$RabbitMq__Username" "$RabbitMq__Password" >/dev/null
  rabbitmqctl -q set_user_tags "$RabbitMq__Username" administrator >/dev/null
fi
rabbitmqctl -q set_permissions -p "$RabbitMq__VirtualHost" "$RabbitMq__Username" '.*' '.*' '.*' >/dev/null
# The package's guest/guest administrator would be reachable from anywhere with loopback_users = none.
if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx guest && [ "$RabbitMq__Username" != guest ]; then
  rabbitmqctl -q delete_user guest >/dev/null
fi
# Each service's own user, with permissions on this virtual host (infra/service-accounts.sh).
bash "$here/service-accounts.sh" rabbitmq "$RabbitMq__VirtualHost" || fail "creating the services' RabbitMQ users"
wait_for RabbitMQ amqp_open 30 || fail "RabbitMQ does not answer AMQP on $RabbitMq__Host:$RabbitMq__Port"
say "RabbitMQ ready on $RabbitMq__Host:$RabbitMq__Port (vhost $RabbitMq__VirtualHost, UI http://127.0.0.1:$RabbitMq__ManagementPort)"
if [ "${1:-}" = --cluster ]; then
  bash "$here/cluster.sh" up || fail "the RabbitMQ cluster"
fi
