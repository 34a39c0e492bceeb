#!/bin/sh
# Starts one Valkey server of the StatefulSet: the primary or a replica of it, and never an empty primary
# that would wipe a replica holding the data (its replicas would copy its empty data set: the hazard of
# valkey-io/valkey-helm#22 and bitnami/charts#11083).
#
#   SENTINEL=1: the primary is the one the Sentinels name. If they name this node while it has no data
#               (its volume was lost) and a peer holds data, they are asked to fail over first.
#   SENTINEL=0: node 0 is the primary. Node 0 without data while a peer holds data copies it first: the
#               peer stops following it, node 0 replicates the peer, then takes the primary's place again.
# Environment: NODES (host:port:sentinel-port of every node, node 0 first), NODE_INDEX (default: the pod
# name's ordinal), VALKEY_CONFIG (the base configuration), VALKEY_ACL (users.acl: each user's rules),
# VALKEY_USERS_DIR (the Secret: a file per user holding its password), DATA_DIR, SENTINEL, SENTINEL_NAME.
# The script logs in as admin; the password reaches valkey-cli through REDISCLI_AUTH, never its command line.
# VALKEY_TLS_DIR (tls.crt, tls.key, ca.crt), when set: TLS only, on the same port, replication included.
set -eu
umask 077

: "${DATA_DIR:=/data}" "${VALKEY_CONFIG:=/etc/valkey/valkey.conf}" "${SENTINEL:=0}" "${SENTINEL_NAME:=bf}"
: "${NODE_INDEX:=${POD_NAME##*-}}" "${RUN_DIR:=/tmp}"
: "${VALKEY_ACL:=/etc/valkey/users.acl}" "${VALKEY_USERS_DIR:=/etc/valkey/users}"

say() { printf 'valkey-node: %s\n' "$*" >&2; }
password() { cat "$VALKEY_USERS_DIR/$1"; }
# The "user" lines of an ACL rules file: each user on, with its password's SHA-256 (no password is written
# down); the default user off: no client gets in without a login. It keeps every permission (and has no
# password): Valkey replays the append-only file as the default user, and drops at load each transaction
# (a script's effects) the default user may not run, with the aggregates it wrote.
acl_users() {
  echo "user default off resetpass ~* &* +@all"
  grep -v '^[[:space:]]*\(#\|$\)' "$1" | while read -r name rules; do
    [ -s "$VALKEY_USERS_DIR/$name" ] || { say "no password for the Valkey user $name in $VALKEY_USERS_DIR"; exit 1; }
    echo "user $name reset on #$(printf '%s' "$(password "$name")" | sha256sum | cut -d' ' -f1) $rules"
  done
}
REDISCLI_AUTH="$(password admin)"
export REDISCLI_AUTH
field() { echo "$1" | cut -d: -f"$2"; }
node() { echo "$NODES" | tr ' ' '\n' | grep -v '^$' | sed -n "$(($1 + 1))p"; }
count=$(echo "$NODES" | tr ' ' '\n' | grep -vc '^$')
self=$(node "$NODE_INDEX")
host=$(field "$self" 1)
port=$(field "$self" 2)
tls=""; [ -z "${VALKEY_TLS_DIR:-}" ] || tls="--tls --cacert $VALKEY_TLS_DIR/ca.crt"
# shellcheck disable=SC2086 # $tls: its words
cli() { valkey-cli --no-auth-warning --user admin $tls "$@" 2>/dev/null; }
info_field() { cli -h "$1" -p "$2" info "$3" | tr -d '\r' | sed -n "s/^$4://p"; }

# A volume this server never ran on (no append-only file) holds no data.
has_data() { [ -f "$DATA_DIR/appendonlydir/appendonly.aof.manifest" ] || [ -s "$DATA_DIR/dump.rdb" ]; }

# The peer holding the most keys ("host port keys"), if any holds some.
richest_peer() {
  best=""; best_keys=0; i=0
  while [ "$i" -lt "$count" ]; do
    if [ "$i" -ne "$NODE_INDEX" ]; then
      peer=$(node "$i")
      keys=$(cli -h "$(field "$peer" 1)" -p "$(field "$peer" 2)" dbsize | tr -dc '0-9')
      if [ -n "$keys" ] && [ "$keys" -gt "$best_keys" ]; then best="$(field "$peer" 1) $(field "$peer" 2)"; best_keys=$keys; fi
    fi
    i=$((i + 1))
  done
  [ -n "$best" ] && echo "$best $best_keys"
}

# The primary the Sentinels name ("host port"), asking each in turn.
sentinel_primary() {
  for n in $NODES; do
    answer=$(cli -h "$(field "$n" 1)" -p "$(field "$n" 3)" sentinel get-master-addr-by-name "$SENTINEL_NAME" | tr '\n' ' ')
    set -- $answer
    if [ $# -eq 2 ]; then echo "$1 $2"; return 0; fi
  done
  return 1
}

wait_until() {  # SECONDS DESCRIPTION COMMAND...: poll COMMAND every half second
  limit=$(($1 * 2)); what=$2; shift 2; tries=0
  until "$@"; do
    tries=$((tries + 1))
    [ "$tries" -lt "$limit" ] || { say "gave up waiting for $what"; return 1; }
    sleep 0.5
  done
}

is_self() { [ "$1" = "$host" ] && [ "$2" = "$port" ]; }
primary=""
restore_from=""
if [ "$SENTINEL" = 1 ] && named=$(sentinel_primary); then
  set -- $named
  if is_self "$1" "$2" && ! has_data && rich=$(richest_peer); then
    say "the Sentinels name this node the primary, but it has no data and $(echo "$rich" | cut -d' ' -f1) holds $(echo "$rich" | cut -d' ' -f3) keys: asking them to fail over"
    for n in $NODES; do cli -h "$(field "$n" 1)" -p "$(field "$n" 3)" sentinel failover "$SENTINEL_NAME" | grep -q OK && break; done
    moved() { named=$(sentinel_primary) && ! is_self $named; }
    wait_until 120 "the Sentinels to name another primary" moved
    set -- $named
  fi
  is_self "$1" "$2" || primary="$1 $2"
elif [ "$NODE_INDEX" -ne 0 ]; then
  first=$(node 0)
  primary="$(field "$first" 1) $(field "$first" 2)"
fi
if [ -z "$primary" ] && ! has_data && rich=$(richest_peer); then
  set -- $rich
  say "this node has no data and $1:$2 holds $3 keys: copying them before serving as the primary"
  cli -h "$1" -p "$2" replicaof no one >/dev/null  # it stops following this empty node, and can be copied
  restore_from="$1 $2"
fi

{
  cat "$VALKEY_CONFIG"
  if [ -n "${VALKEY_TLS_DIR:-}" ]; then
    echo "port 0"
    echo "tls-port $port"
    echo "tls-cert-file $VALKEY_TLS_DIR/tls.crt"
    echo "tls-key-file $VALKEY_TLS_DIR/tls.key"
    echo "tls-ca-cert-file $VALKEY_TLS_DIR/ca.crt"
    echo "tls-auth-clients no"  # clients prove who they are with their user's password
    echo "tls-replication yes"
  else
    echo "port $port"
  fi
  echo "dir $DATA_DIR"
  acl_users "$VALKEY_ACL"
  # Any node may become a replica (a failover): each follows its primary as the replication user.
  echo "primaryuser replica"
  echo "primaryauth $(password replica)"
  echo "replica-announce-ip $host"
  echo "replica-announce-port $port"
  if [ -n "$primary" ]; then echo "replicaof $primary"; fi
  if [ -n "$restore_from" ]; then echo "replicaof $restore_from"; fi
} > "$RUN_DIR/valkey.conf"

if [ -z "$restore_from" ]; then
  say "starting as $([ -n "$primary" ] && echo "a replica of $primary" || echo "the primary")"
  exec valkey-server "$RUN_DIR/valkey.conf"
fi

valkey-server "$RUN_DIR/valkey.conf" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT
synced() { [ "$(info_field "$host" "$port" replication master_link_status)" = up ] && \
  [ "$(info_field "$host" "$port" replication master_sync_in_progress)" = 0 ] && \
  [ "$(info_field "$host" "$port" persistence loading)" = 0 ]; }
wait_until 600 "the copy from $restore_from" synced
set -- $restore_from
cli -h "$host" -p "$port" replicaof no one >/dev/null
cli -h "$1" -p "$2" replicaof "$host" "$port" >/dev/null
say "copied $(cli -h "$host" -p "$port" dbsize) keys from $1:$2; serving as the primary, $1:$2 follows it again"
while kill -0 "$server" 2>/dev/null; do wait "$server" || true; done
