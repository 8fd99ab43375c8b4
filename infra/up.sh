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
  say "Docker engine found: docker compose up rabbitmq postgres postgres-ledgers"
  docker compose -f "$here/../docker-compose.yml" up -d --wait rabbitmq postgres postgres-ledgers
  wait_for RabbitMQ amqp_open 60 || fail "RabbitMQ (docker) does not answer AMQP on $RabbitMq__Host:$RabbitMq__Port"
  wait_for PostgreSQL sql_ok 60 || fail "PostgreSQL (docker) does not answer 'select 1' on $Postgres__Host:$Postgres__Port"
  # Each service's own user and role (infra/service-accounts.sh), by the same one-shot services the hosts wait for.
  docker compose -f "$here/../docker-compose.yml" run --rm service-accounts-rabbitmq >/dev/null || fail "creating the services' RabbitMQ users (docker)"
  docker compose -f "$here/../docker-compose.yml" run --rm service-accounts-postgres >/dev/null || fail "creating the services' PostgreSQL roles (docker)"
  say "ready"; exit 0
fi

[ "$(id -u)" = 0 ] || fail "without Docker this script installs and starts Debian packages: run it as root"

# --- PostgreSQL -----------------------------------------------------------------------------------
# Two servers (clusters) on this machine: "main" on Postgres__Port holds the coordinator's database (the
# Api's too) and the first ledger's; "ledgers" on Saga__LedgerServerPort holds every other ledger's
# (infra/config.sh places them; README.md, "Databases").
if ! command -v pg_ctlcluster >/dev/null || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  say "installing postgresql"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
    || fail "apt-get install postgresql"
fi
pg_version=$(ls /etc/postgresql | sort -n | tail -1)
# Each service's database: host, port, name (infra/service-accounts.sh accounts), each once.
databases=$(bash "$here/service-accounts.sh" accounts | cut -f1,9-11) || fail "infra/service-accounts.sh accounts"
cluster_on() { # port: the local cluster this script runs there
  case $1 in "$Postgres__Port") echo main ;; "$Saga__LedgerServerPort") echo ledgers ;; *) return 1 ;; esac
}
while IFS=$'\t' read -r service host port db; do
  [ "$host" = "$Postgres__Host" ] && cluster_on "$port" >/dev/null \
    || fail "$service's database $db is placed on $host:$port, where this script runs no server ($Postgres__Host:$Postgres__Port and :$Saga__LedgerServerPort): set that server up as README.md, \"Databases\" says, or change Saga__LedgerServers__*"
done <<<"$databases"
ports=$(cut -f3 <<<"$databases" | sort -un)

psql_on() { su postgres -c "psql -p $1 -v ON_ERROR_STOP=1 -Atq ${2:+-d '$2'} ${3:-}"; } # port [database [options]], SQL on stdin, as the superuser
for port in $ports; do
  cluster=$(cluster_on "$port")
  if [ ! -d "/etc/postgresql/$pg_version/$cluster" ]; then
    say "creating PostgreSQL cluster $cluster on port $port"
    pg_createcluster "$pg_version" "$cluster" -p "$port" >/dev/null || fail "pg_createcluster $pg_version $cluster -p $port"
  fi
  # The benchmark runs many pooled connections; durability stays on (fsync, synchronous_commit,
  # full_page_writes: the defaults, checked below). Checkpoints are spaced out: at 1 GB of WAL one came
  # every minute under load, and the full-page images after each were 60 % of all WAL written. The
  # ledgers' server holds less: smaller buffers.
  buffers=512MB; [ "$cluster" = main ] || buffers=256MB
  pg_conf=/etc/postgresql/$pg_version/$cluster/conf.d/saga.conf
  want_conf=$'listen_addresses = \'127.0.0.1\'\nport = '"$port"$'\nmax_connections = 400\nshared_buffers = '"$buffers"$'\nmax_wal_size = 8GB\ncheckpoint_timeout = 30min'
  if [ ! -f "$pg_conf" ] || [ "$(cat "$pg_conf")" != "$want_conf" ]; then
    printf '%s\n' "$want_conf" > "$pg_conf"
    pg_ctlcluster "$pg_version" "$cluster" stop >/dev/null 2>&1 || true
  fi
  if ! pg_ctlcluster "$pg_version" "$cluster" status >/dev/null 2>&1; then
    say "starting PostgreSQL $pg_version $cluster (port $port)"
    pg_ctlcluster "$pg_version" "$cluster" start || fail "pg_ctlcluster $pg_version $cluster start (see /var/log/postgresql/)"
  fi
  for _ in $(seq 60); do psql_on "$port" <<<'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
  [ "$(psql_on "$port" <<<"select current_setting('fsync') || current_setting('synchronous_commit') || current_setting('full_page_writes')")" = ononon ] \
    || fail "PostgreSQL $cluster (port $port) runs without fsync, synchronous_commit or full_page_writes: a commit could be lost"
  psql_on "$port" <<SQL || fail "creating PostgreSQL role $Postgres__Username on port $port"
do \$\$ begin
  if not exists (select from pg_roles where rolname = '$Postgres__Username') then
    create role "$Postgres__Username" login password '$Postgres__Password';
  end if;
end \$\$;
-- End-to-end tests give each run databases of their own.
alter role "$Postgres__Username" createdb;
SQL
  # Each service's own role, on every server (infra/service-accounts.sh).
  bash "$here/service-accounts.sh" roles-sql | psql_on "$port" || fail "creating the services' PostgreSQL roles on port $port"
done
while IFS=$'\t' read -r host port db; do
  if ! psql_on "$port" <<<"select 1 from pg_database where datname = '$db'" | grep -qx 1; then
    su postgres -c "createdb -p $port -O '$Postgres__Username' '$db'" || fail "createdb $db on port $port"
  fi
done < <(cut -f2- <<<"$databases" | sort -u)

# The coordinator's database first: with its connect for the coordinator and the Api alone, nothing writes
# to a ledger schema an earlier version left there while it moves.
bash "$here/service-accounts.sh" database-sql "$Postgres__Database" | psql_on "$Postgres__Port" "$Postgres__Database" >/dev/null \
  || fail "setting up the coordinator's database $Postgres__Database"

# Rows per table of a schema, "table|rows" lines; nothing when there is no such schema.
table_rows() { # port database schema
  psql_on "$1" "$2" <<SQL
select table_name || '|' || (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I.%I', table_schema, table_name), false, true, '')))[1]::text
from information_schema.tables where table_schema = '$3' and table_type = 'BASE TABLE' order by table_name collate "C"
SQL
}
total_rows() { awk -F'|' '{ n += $2 } END { print n + 0 }'; }

# Up to this version every ledger's schema was in the coordinator's database. A ledger's rows found there
# move to its own database, verified table by table before the old schema is renamed out of the way (kept,
# not dropped: drop it when the copy is no longer wanted). Into an empty database the schema moves whole;
# beside rows already there (an earlier version ran again after a move) only the rows, in one transaction
# that a single shared key (an account, a transfer) aborts, leaving both as they were.
while IFS=$'\t' read -r service host port db; do
  case $service in ledger-*) ;; *) continue ;; esac
  id=${service#ledger-} schema=ledger_${service#ledger-} role=saga_ledger_${service#ledger-}
  old=$(table_rows "$Postgres__Port" "$Postgres__Database" "$schema") || fail "reading $Postgres__Database.$schema"
  if [ -z "$old" ] && ! psql_on "$Postgres__Port" "$Postgres__Database" <<<"select 1 from pg_namespace where nspname = '$schema'" | grep -qx 1; then
    continue
  fi
  if [ "$(total_rows <<<"$old")" = 0 ]; then
    psql_on "$Postgres__Port" "$Postgres__Database" <<<"drop schema $schema cascade" || fail "dropping the empty $Postgres__Database.$schema"
    say "dropped the empty schema $schema an earlier version left in $Postgres__Database"
    continue
  fi
  psql_on "$Postgres__Port" "$Postgres__Database" <<<"select pg_terminate_backend(pid) from pg_stat_activity where datname = '$Postgres__Database' and usename = '$role'" >/dev/null
  before=$(table_rows "$port" "$db" "$schema") || fail "reading $db.$schema"
  say "moving ledger ${id^^}'s $(total_rows <<<"$old") rows from $Postgres__Database.$schema (port $Postgres__Port) to database $db (port $port)"
  if [ "$(total_rows <<<"$before")" = 0 ]; then
    { echo "set client_min_messages = warning; drop schema if exists $schema cascade;"; su postgres -c "pg_dump -p $Postgres__Port -n $schema '$Postgres__Database'"; } \
      | psql_on "$port" "$db" --single-transaction >/dev/null || fail "moving $Postgres__Database.$schema to $db: nothing moved, the old schema is as it was"
    expected=$old
  else
    su postgres -c "pg_dump -p $Postgres__Port -n $schema --data-only '$Postgres__Database'" | psql_on "$port" "$db" --single-transaction >/dev/null \
      || fail "ledger ${id^^} has rows in both $Postgres__Database.$schema and $db, and they share a key: nothing moved; reconcile the two by hand"
    expected=$(LC_ALL=C join -t'|' -a1 -a2 -e0 -o 0,1.2,2.2 <(echo "$before") <(echo "$old") | awk -F'|' '$1 != "" { print $1 "|" $2 + $3 }')
  fi
  after=$(table_rows "$port" "$db" "$schema")
  [ "$after" = "$expected" ] || fail "after moving $Postgres__Database.$schema, $db holds rows ($after) other than expected ($expected): the old schema is left as it was"
  moved=${schema}_moved_$(date +%Y%m%d%H%M%S)
  psql_on "$Postgres__Port" "$Postgres__Database" <<<"alter schema $schema rename to $moved; alter schema $moved owner to \"$Postgres__Username\"" \
    || fail "renaming $Postgres__Database.$schema after its rows moved to $db"
  say "moved; the old copy is schema $moved in $Postgres__Database"
done <<<"$databases"

# Each ledger's database, its schema owned by it (infra/service-accounts.sh).
while IFS=$'\t' read -r host port db; do
  [ "$db" = "$Postgres__Database" ] && continue
  bash "$here/service-accounts.sh" database-sql "$db" | psql_on "$port" "$db" >/dev/null || fail "setting up database $db on port $port"
done < <(cut -f2- <<<"$databases" | sort -u)
wait_for PostgreSQL sql_ok 30 || fail "PostgreSQL does not answer 'select 1' as $Postgres__Username@$Postgres__Host:$Postgres__Port/$Postgres__Database"
while IFS=$'\t' read -r service host port db; do
  say "PostgreSQL: $service in database $db on $host:$port (cluster $(cluster_on "$port"))"
done <<<"$databases"

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
