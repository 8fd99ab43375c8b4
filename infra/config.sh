# Configuration shared by infra/up.sh, infra/down.sh, the hosts and the tests.
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
export RabbitMq__Host RabbitMq__Port RabbitMq__ManagementPort RabbitMq__VirtualHost RabbitMq__Username RabbitMq__Password
export Postgres__Host Postgres__Port Postgres__Database Postgres__Username Postgres__Password
