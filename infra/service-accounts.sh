#!/usr/bin/env bash
# Each service's own broker user and database role, allowed what it needs and nothing more (README.md,
# "Service accounts"). The administrator (RabbitMq__Username, Postgres__Username) stays for infra/, the
# CLI's tools and the tests' setup; no host runs as it. One definition, used three ways:
#   service-accounts.sh accounts           one line per service, tab-separated: service, broker user, database
#                                          role, password, broker tags (- for none), configure, write and read
#                                          regexes, and its database: server host, port, database name
#   service-accounts.sh roles-sql          SQL creating or updating the roles (run as a superuser, on every
#                                          server); the administrator becomes a member of each, to set up
#                                          databases for them
#   service-accounts.sh database-sql DB    SQL for one database (run as its owner): the schemas of the services
#                                          whose database it is, owned by them, connect for them alone, and the
#                                          Api's read access to the transfers
#   service-accounts.sh rabbitmq VHOST     creates the users and sets their permissions on VHOST, with
#                                          rabbitmqctl, or with rabbitmqadmin against RABBITMQADMIN_HOST
# infra/up.sh runs roles-sql, database-sql and rabbitmq; the tests' SagaSystem runs accounts and database-sql
# for the virtual host and databases of each run; the CLI reads accounts to start each host as itself, with
# its own database. Where each database is comes from infra/config.sh (Postgres__*, Saga__LedgerServers__*).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/config.sh
source "$here/config.sh"

ledgers=()
for id in $Saga__Ledgers; do ledgers+=("$(tr '[:upper:]' '[:lower:]' <<<"$id")"); done

# Regexes are matched against queue and exchange names alike, unanchored unless anchored.
# MassTransit's bus endpoint of every process (responses come back to it): machine_process_bus_id.
bus='^[A-Za-z0-9]*_[A-Za-z0-9]*_bus_[a-z0-9]+(_error|_skipped)?$'
# The exchanges MassTransit publishes a consumer's Fault<T> to (the coordinator's queue is bound to them).
faults='^MassTransit:Fault'

# Saga__Passwords__<service> (coordinator, api, ledger_a, ...); the user's own name for local development only.
password() { local var="Saga__Passwords__$1" dev="saga-${1//_/-}"; printf '%s' "${!var:-$dev}"; }

# A ledger's database: its name, and the server (host:port) infra/config.sh places it on.
ledger_database() { printf '%s_ledger_%s' "$Postgres__Database" "$1"; }
ledger_server() { # id, lower case
  local id var
  for id in $Saga__Ledgers; do
    [ "$(tr '[:upper:]' '[:lower:]' <<<"$id")" = "$1" ] && var="Saga__LedgerServers__$id" && printf '%s' "${!var}" && return
  done
}

accounts() {
  local t=$'\t' l server
  # The coordinator's database, which the Api shares (schema api, and the coordinator's published view).
  local main="$Postgres__Host${t}$Postgres__Port${t}$Postgres__Database"
  # Receives transfers (half messages, ledger answers, repairs) and schedules; sends a ledger its part
  # of each transfer: the only service that may write to a ledger's transfer queue, ledger-{id}.
  local coordinator='^(transfers|half-messages|repairs|scheduler|ledger-[a-z0-9]+)(_error|_skipped)?$|^Saga\.Contracts:|^MassTransit|'"$bus"
  echo "coordinator${t}saga-coordinator${t}saga_coordinator${t}$(password coordinator)${t}-${t}$coordinator${t}$coordinator${t}$coordinator${t}$main"
  # Submits (half-messages), asks for repairs (repairs), opens and reads accounts (ledger-{id}-accounts);
  # reads the error queues' depth through the management API. Never transfers, where commits arrive.
  local api='^(half-messages|repairs|ledger-[a-z0-9]+-accounts)$|'"$bus"
  echo "api${t}saga-api${t}saga_api${t}$(password api)${t}management${t}$api${t}$api${t}$api${t}$main"
  for l in "${ledgers[@]}"; do
    # Consumes ledger-{id} (declaring that queue needs configure, never write: MassTransit's binding
    # is left to the coordinator's first send, so the ledger cannot publish into it) and
    # ledger-{id}-accounts; answers to transfers, schedules its credits' redelivery.
    local own="^ledger-$l(-accounts)?(_error|_skipped)?\$|^(transfers|scheduler)\$|$faults|$bus"
    local write="^ledger-$l-accounts(_error|_skipped)?\$|^ledger-$l(_error|_skipped)\$|^(transfers|scheduler)\$|$faults|$bus"
    server=$(ledger_server "$l")
    echo "ledger-$l${t}saga-ledger-$l${t}saga_ledger_$l${t}$(password "ledger_$l")${t}-${t}$own${t}$write${t}$own${t}${server%:*}${t}${server##*:}${t}$(ledger_database "$l")"
  done
}

sql_literal() { printf "'%s'" "${1//\'/\'\'}"; }

roles_sql() {
  local service user role pass rest
  echo "set client_min_messages = warning;"
  while IFS=$'\t' read -r service user role pass rest; do
    cat <<SQL
do \$\$ begin
  if not exists (select from pg_roles where rolname = '$role') then create role $role; end if;
end \$\$;
alter role $role login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password $(sql_literal "$pass");
grant $role to "$Postgres__Username";
SQL
  done < <(accounts)
}

# A schema owned by its service, with whatever an earlier version left in it under another owner.
own_schema() { # schema role
  cat <<SQL
create schema if not exists $1 authorization $2;
alter schema $1 owner to $2;
do \$\$ declare r record; begin
  for r in select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = '$1' and c.relkind in ('r', 'p', 'v', 'm', 'f') and pg_get_userbyid(c.relowner) <> '$2' loop
    execute format('alter %s $1.%I owner to $2',
      case r.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'f' then 'foreign table' else 'table' end, r.relname);
  end loop;
  -- after the tables, which take their own sequences with them
  for r in select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = '$1' and c.relkind = 'S' and pg_get_userbyid(c.relowner) <> '$2' loop
    execute format('alter sequence $1.%I owner to $2', r.relname);
  end loop;
  for r in select p.oid::regprocedure as routine from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = '$1' and pg_get_userbyid(p.proowner) <> '$2' loop
    execute format('alter routine %s owner to $2', r.routine);
  end loop;
end \$\$;
SQL
}

database_sql() { # database
  local db=$1 service user role pass rest database mine=() others=()
  while IFS=$'\t' read -r service user role pass rest; do
    database=${rest##*$'\t'}
    if [ "$database" = "$db" ]; then mine+=("$role"); else others+=("$role"); fi
  done < <(accounts)
  [ ${#mine[@]} -gt 0 ] || { echo "service-accounts.sh: no service has the database '$db' (infra/config.sh)" >&2; return 1; }
  echo "set client_min_messages = warning;"
  echo "revoke all on database \"$db\" from public;"
  # Connect for the services whose database this is, and no other: a query across services cannot hide.
  echo "grant connect on database \"$db\" to $(IFS=,; echo "${mine[*]}");"
  [ ${#others[@]} -eq 0 ] || echo "revoke connect on database \"$db\" from $(IFS=,; echo "${others[*]}");"
  echo "revoke create on schema public from public;"
  if [ "$db" = "$Postgres__Database" ]; then
    own_schema saga saga_coordinator       # the transfers' events and view (Marten)
    own_schema scheduler saga_coordinator  # the durable scheduler (Quartz)
    own_schema api saga_api                # the Api's record of submitted transfers
    cat <<SQL
-- The Api reads transfers (view, events, streams), now and as Marten adds tables; it writes none.
grant usage on schema saga to saga_api;
grant select on all tables in schema saga to saga_api;
alter default privileges for role saga_coordinator in schema saga grant select on tables to saga_api;
SQL
  fi
  for l in "${ledgers[@]}"; do
    [ "$(ledger_database "$l")" = "$db" ] && own_schema "ledger_$l" "saga_ledger_$l"
  done
  return 0
}

rabbitmq() { # vhost
  local vhost=$1 service user role pass tags configure write read _
  while IFS=$'\t' read -r -u 3 service user role pass tags configure write read _; do
    [ "$tags" = - ] && tags=""
    if [ -n "${RABBITMQADMIN_HOST:-}" ]; then
      local admin=(rabbitmqadmin -H "$RABBITMQADMIN_HOST" -P "$RabbitMq__ManagementPort" -u "$RabbitMq__Username" -p "$RabbitMq__Password")
      "${admin[@]}" declare user name="$user" password="$pass" tags="$tags" >/dev/null
      "${admin[@]}" declare permission vhost="$vhost" user="$user" configure="$configure" write="$write" read="$read" >/dev/null
    else
      if ! rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$user"; then
        rabbitmqctl -q add_user "$user" "$pass" >/dev/null
      elif ! rabbitmqctl -q authenticate_user "$user" "$pass" >/dev/null 2>&1; then
        rabbitmqctl -q change_password "$user" "$pass" >/dev/null
      fi
      rabbitmqctl -q set_user_tags "$user" $tags >/dev/null
      rabbitmqctl -q set_permissions -p "$vhost" "$user" "$configure" "$write" "$read" >/dev/null
    fi
  done 3< <(accounts)
}

case "${1:-}" in
  accounts) accounts ;;
  roles-sql) roles_sql ;;
  database-sql) database_sql "${2:?database}" ;;
  rabbitmq) rabbitmq "${2:-$RabbitMq__VirtualHost}" ;;
  *) echo "usage: infra/service-accounts.sh accounts | roles-sql | database-sql DB | rabbitmq [VHOST]" >&2; exit 2 ;;
esac
