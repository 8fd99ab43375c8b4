#!/usr/bin/env bash
# A three-node RabbitMQ cluster on this machine, beside the single node infra/up.sh starts:
#   cluster.sh up       starts the nodes saga-1..3 (idempotent), joins them into one cluster, creates the
#                       vhost, the administrator and the services' users (service-accounts.sh) on it
#   cluster.sh down     stops the three nodes (data stays)
#   cluster.sh status   one line per node: name, AMQP port, running or not, cluster members it sees
#   cluster.sh node N start|stop|kill     one node, for chaos: kill is kill -9 of its Erlang VM
#   cluster.sh node N partition|heal      cut one node off from the others' Erlang distribution (iptables), or
#                       mend it; clients still reach its AMQP port, as when a network splits between brokers
#   cluster.sh leaders  one line per queue of the vhost: name, type, leader (or the node of a classic queue), members
#   cluster.sh env      the hosts' configuration for the cluster (RabbitMq__Nodes, RabbitMq__ManagementPort,
#                       RabbitMq__QuorumQueues)
# Each node is Debian's rabbitmq-server with its own node name, ports, data and log directories, and the
# machine's one Erlang cookie (/var/lib/rabbitmq/.erlang.cookie). Ports: AMQP 5701..5703, management
# 15701..15703, Erlang distribution 25701..25703. On real machines the same settings apply one node each.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=infra/config.sh
source "$here/config.sh"

say()  { printf '[cluster] %s\n' "$*"; }
fail() { printf '[cluster] FAILED: %s\n' "$*" >&2; exit 1; }

: "${Cluster__Nodes:=3}"
: "${Cluster__AmqpBase:=5700}"
host=$(hostname -s)
base=/var/lib/saga-rabbitmq
logs=/var/log/saga-rabbitmq

name() { echo "saga-$1@$host"; }
amqp_port() { echo $((Cluster__AmqpBase + $1)); }
mgmt_port() { echo $((Cluster__AmqpBase + 10000 + $1)); }
dist_port() { echo $((Cluster__AmqpBase + 20000 + $1)); }
ctl() { local n=$1; shift; rabbitmqctl -q -n "$(name "$n")" "$@"; }
running() { ctl "$1" status >/dev/null 2>&1; }

start_node() {
  local n=$1 dir="$base/saga-$1"
  running "$n" && return 0
  # A VM that answers without RabbitMQ running in it: a minority that stayed paused after its partition healed
  # (seen after a kill -9 followed within seconds by a partition). It holds the node's name and ports: stop it first.
  if alive "$n"; then
    say "$(name "$n") is alive but RabbitMQ is not running in it (paused?): stopping its VM to start it afresh"
    # A paused VM can take the stop and never finish it (seen in chaos --cluster): then it is killed, as a kill -9
    # fault would; its queues' other members hold everything.
    timeout -k 5 20 rabbitmqctl -q -n "$(name "$n")" stop >/dev/null 2>&1 || true
    if alive "$n"; then
      say "$(name "$n") did not stop within 20 s: kill -9"
      kill_vm "$n"
    fi
  fi
  mkdir -p "$dir" "$logs/saga-$n"
  cat > "$dir/rabbitmq.conf" <<EOF
listeners.tcp.default = $RabbitMq__Host:$(amqp_port "$n")
management.tcp.ip = 127.0.0.1
management.tcp.port = $(mgmt_port "$n")
loopback_users = none
# A partitioned minority pauses instead of accepting writes the majority never sees.
cluster_partition_handling = pause_minority
# A silent peer counts as down after about this many seconds (default 60): the minority pauses, and its
# clients fail over, that much sooner. Below 10 s a loaded machine risks false partitions.
net_ticktime = 15
EOF
  echo '[rabbitmq_management].' > "$dir/enabled_plugins"
  chown -R rabbitmq:rabbitmq "$dir" "$logs/saga-$n"
  say "starting $(name "$n") (AMQP $(amqp_port "$n"), management $(mgmt_port "$n"))"
  # In a control group of its own, so a partition can tell this node's packets from the others' (all run as rabbitmq).
  # su keeps the environment: each node reads its own names, ports and directories from it.
  (own_cgroup "$n"
  RABBITMQ_NODENAME=$(name "$n") RABBITMQ_NODE_PORT=$(amqp_port "$n") RABBITMQ_DIST_PORT=$(dist_port "$n") \
  RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
  RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$logs/saga-$n" RABBITMQ_PID_FILE="$dir/pid" \
    su rabbitmq -s /bin/sh -c "cd /var/lib/rabbitmq && HOME=/var/lib/rabbitmq nohup /usr/lib/rabbitmq/bin/rabbitmq-server > '$logs/saga-$n/startup.log' 2>&1 &")
  ctl "$n" wait --timeout 90 "$dir/pid" >/dev/null 2>&1 || fail "$(name "$n") did not start (see $logs/saga-$n/)"
  ctl "$n" await_startup --timeout 90 >/dev/null || fail "$(name "$n") did not finish starting (see $logs/saga-$n/)"
}

# cgroup v2, where iptables' cgroup match looks; none on a machine without it (partition then cannot run).
cgroups() { if [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup; elif [ -d /sys/fs/cgroup/unified ]; then echo /sys/fs/cgroup/unified; fi; }
cgroup_name() { echo "saga-rabbitmq-$1"; }
own_cgroup() {
  local root; root=$(cgroups)
  [ -n "$root" ] || return 0
  mkdir -p "$root/$(cgroup_name "$1")" && echo "$BASHPID" > "$root/$(cgroup_name "$1")/cgroup.procs"
}

# Drops the node's Erlang distribution traffic both ways: what it sends to any node's distribution port, what
# it answers from its own, and what others send to it. Tagged, so heal removes exactly these rules.
partition_rules() { # node
  local n=$1 first last own; first=$(dist_port 1); last=$(dist_port "$Cluster__Nodes"); own=$(dist_port "$n")
  local tag=(-m comment --comment "saga-partition-$n") mine=(-m cgroup --path "$(cgroup_name "$n")")
  echo "OUTPUT -p tcp ${mine[*]} --dport $first:$last ${tag[*]} -j DROP"
  echo "OUTPUT -p tcp ${mine[*]} --sport $own ${tag[*]} -j DROP"
  echo "OUTPUT -p tcp --dport $own ${tag[*]} -j DROP"
}
partition() {
  command -v iptables >/dev/null || fail "partition needs iptables (apt-get install iptables)"
  [ -n "$(cgroups)" ] || fail "partition needs cgroup v2 (the node's packets are told apart by their control group)"
  local rule
  heal "$1"
  while read -r rule; do
    # shellcheck disable=SC2086
    iptables -A $rule || fail "iptables -A $rule"
  done < <(partition_rules "$1")
  say "$(name "$1") cut off from the other nodes"
}
heal() {
  command -v iptables >/dev/null || return 0
  local rule
  while read -r rule; do
    # shellcheck disable=SC2086
    while iptables -D $rule 2>/dev/null; do :; done
  done < <(partition_rules "$1")
}

members() { ctl "$1" cluster_status --formatter json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["running_nodes"])))'; }

join() {
  local n=$1 seed; seed=$(name 1)
  if ctl "$n" cluster_status --formatter json 2>/dev/null | grep -q "\"$seed\""; then return 0; fi
  say "joining $(name "$n") to $seed"
  # A fresh node's own one-node state is thrown away; its warnings about that are noise.
  ctl "$n" stop_app >/dev/null 2>&1
  ctl "$n" reset >/dev/null 2>&1
  ctl "$n" join_cluster "$seed" >/dev/null 2>&1 || fail "$(name "$n") could not join $seed"
  ctl "$n" start_app >/dev/null 2>&1
}

up() {
  command -v rabbitmqctl >/dev/null || fail "rabbitmq-server is not installed: run infra/up.sh first"
  # chaos --cluster partitions a node with it.
  if ! command -v iptables >/dev/null; then
    say "installing iptables"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null || fail "apt-get install iptables"
  fi
  # A partition left behind by an interrupted chaos run would keep a node paused.
  for ((n = 1; n <= Cluster__Nodes; n++)); do heal "$n"; done
  for ((n = 1; n <= Cluster__Nodes; n++)); do start_node "$n"; done
  for ((n = 2; n <= Cluster__Nodes; n++)); do join "$n"; done
  # Users, vhosts and permissions are cluster-wide: made once, through the first node.
  export RABBITMQ_NODENAME; RABBITMQ_NODENAME=$(name 1)
  ctl 1 list_vhosts | grep -qx "$RabbitMq__VirtualHost" || ctl 1 add_vhost "$RabbitMq__VirtualHost" >/dev/null
  if ! ctl 1 list_users | awk '{print $1}' | grep -qx "$RabbitMq__Username"; then
    ctl 1 add_user "$RabbitMq__Username" "$RabbitMq__Password" >/dev/null
    ctl 1 set_user_tags "$RabbitMq__Username" administrator >/dev/null
  fi
  ctl 1 set_permissions -p "$RabbitMq__VirtualHost" "$RabbitMq__Username" '.*' '.*' '.*' >/dev/null
  if ctl 1 list_users | awk '{print $1}' | grep -qx guest && [ "$RabbitMq__Username" != guest ]; then ctl 1 delete_user guest >/dev/null; fi
  bash "$here/service-accounts.sh" rabbitmq "$RabbitMq__VirtualHost" || fail "creating the services' RabbitMQ users on the cluster"
  say "cluster ready: $(members 1)"
  say "hosts connect with: $(env_lines | tr '\n' ' ')"
}

env_lines() {
  local nodes=() n
  for ((n = 1; n <= Cluster__Nodes; n++)); do nodes+=("$RabbitMq__Host:$(amqp_port "$n")"); done
  echo "RabbitMq__Nodes=$(IFS=,; echo "${nodes[*]}")"
  echo "RabbitMq__ManagementPort=$(mgmt_port 1)"
  local managers=()
  for ((n = 1; n <= Cluster__Nodes; n++)); do managers+=("$RabbitMq__Host:$(mgmt_port "$n")"); done
  echo "RabbitMq__ManagementNodes=$(IFS=,; echo "${managers[*]}")"
  # Replicated to every node: a queue survives the loss of any one of three.
  echo "RabbitMq__QuorumQueues=true"
}

# The Erlang VM answers, whether or not RabbitMQ runs in it.
alive() { ctl "$1" ping >/dev/null 2>&1; }

kill_vm() {
  local pid
  pid=$(cat "$base/saga-$1/pid" 2>/dev/null) || return 0
  kill -9 "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}

down() {
  for ((n = 1; n <= Cluster__Nodes; n++)); do heal "$n"; done
  for ((n = Cluster__Nodes; n >= 1; n--)); do
    # The last node is left a minority of one and pauses (pause_minority): its VM lives on without RabbitMQ,
    # holding its ports, and the next start fails with dist_port_already_used. Stop the VM, not the app.
    if alive "$n"; then ctl "$n" stop >/dev/null && say "$(name "$n") stopped"; fi
  done
}

status() {
  for ((n = 1; n <= Cluster__Nodes; n++)); do
    if running "$n"; then echo "$(name "$n") $(amqp_port "$n") running members: $(members "$n")"; else echo "$(name "$n") $(amqp_port "$n") down"; fi
  done
}

node() {
  local n=$1 action=$2 pid
  case "$action" in
    start) start_node "$n" ;;
    stop) ctl "$n" stop >/dev/null ;;
    kill) kill_vm "$n" ;;
    partition) partition "$n" ;;
    heal) heal "$n"; say "$(name "$n") reaches the other nodes again" ;;
    *) fail "node N start|stop|kill|partition|heal" ;;
  esac
}

# Asked of the first node that answers: any running member knows every queue's leader.
leaders() {
  local n
  for ((n = 1; n <= Cluster__Nodes; n++)); do
    if running "$n"; then
      ctl "$n" list_queues -p "$RabbitMq__VirtualHost" --no-table-headers name type leader members 2>/dev/null && return 0
    fi
  done
  fail "no node answers"
}

case "${1:-}" in
  up) up ;;
  leaders) leaders ;;
  down) down ;;
  status) status ;;
  env) env_lines ;;
  node) node "${2:?node number}" "${3:?start|stop|kill}" ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
