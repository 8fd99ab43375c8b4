# Configuration shared by infra/up.sh, infra/down.sh, the hosts and the tests.
# RabbitMq__Username/Password and Postgres__Username/Password are the administrator's (infra/, the CLI's
# tools, the tests' setup); the hosts run as their own service accounts (infra/service-accounts.sh).
# Every value can be overridden from the environment; the names are the hosts' own configuration
# keys (`Section__Key`), so one export configures the servers, the hosts and the tests alike.
# The table in README.md ("Configuration") lists them.
: "${RabbitMq__Host:=127.0.0.1}"
: "${RabbitMq__Port:=5672}"
: "${RabbitMq__ManagementPort:=15672}"
: "${RabbitMq__VirtualHost:=saga}"
: "${RabbitMq__Username:=saga}"
: "${RabbitMq__Password:=saga}"
: "${Postgres__Host:=127.0.0.1}"
: "${Postgres__Port:=5432}"
: "${Postgres__Database:=saga}"
: "${Postgres__Username:=saga}"
: "${Postgres__Password:=saga}"
# The ledgers there are: each gets a broker user and a database role of its own (infra/service-accounts.sh).
: "${Saga__Ledgers:=A B}"
# Each service has a database of its own (README.md, "Databases"): the coordinator (and the Api, in a
# schema of its own) in Postgres__Database on the main server; each ledger in ${Postgres__Database}_ledger_{id},
# on the server Saga__LedgerServers__{ID} names (host:port). Unset, the first ledger's is on the main
# server and every other ledger's on the second local server, which infra/up.sh makes on Saga__LedgerServerPort.
: "${Saga__LedgerServerPort:=5433}"
first_ledger=1
for id in $Saga__Ledgers; do
  var="Saga__LedgerServers__$id"
  if [ -z "${!var:-}" ]; then
    if [ -n "$first_ledger" ]; then printf -v "$var" '%s' "$Postgres__Host:$Postgres__Port"; else printf -v "$var" '%s' "$Postgres__Host:$Saga__LedgerServerPort"; fi
  fi
  export "${var?}"
  first_ledger=
done
unset first_ledger id var
# Each service's password, for its broker user and its database role alike: Saga__Passwords__coordinator,
# Saga__Passwords__api, Saga__Passwords__ledger_a, ... Unset, a service's password is its user name
# (saga-api): for local development only; set them from a secret store anywhere else.
export Saga__Ledgers Saga__LedgerServerPort
export RabbitMq__Host RabbitMq__Port RabbitMq__ManagementPort RabbitMq__VirtualHost RabbitMq__Username RabbitMq__Password
export Postgres__Host Postgres__Port Postgres__Database Postgres__Username Postgres__Password
