#!/bin/sh
# Starts the Sentinel beside one Valkey server. It monitors the primary the other Sentinels name, or else
# the node that says it is a primary, or else node 0 (a new release). Hostnames, not pod addresses, are
# announced and resolved: a pod keeps its name when it is rescheduled, not its address.
# Environment: as node.sh (NODES, NODE_INDEX, VALKEY_USERS_DIR, SENTINEL_NAME), SENTINEL_ACL (the
# Sentinels' users: sentinel-users.acl), and SENTINEL_QUORUM, SENTINEL_DOWN_AFTER_MS,
# SENTINEL_FAILOVER_TIMEOUT_MS. It watches the servers as the user "sentinel", and the Sentinels log in to
# each other as it. VALKEY_TLS_DIR, when set: TLS only, to the servers and between the Sentinels too.
set -eu
umask 077

: "${SENTINEL_NAME:=bf}" "${SENTINEL_QUORUM:=2}" "${SENTINEL_DOWN_AFTER_MS:=5000}"
: "${SENTINEL_FAILOVER_TIMEOUT_MS:=20000}" "${NODE_INDEX:=${POD_NAME##*-}}" "${RUN_DIR:=/tmp}"
: "${SENTINEL_ACL:=/etc/valkey/sentinel-users.acl}" "${VALKEY_USERS_DIR:=/etc/valkey/users}"

say() { printf 'valkey-sentinel: %s\n' "$*" >&2; }
password() { cat "$VALKEY_USERS_DIR/$1"; }
# The "user" lines of an ACL rules file (as node.sh's): each user on with its password's SHA-256, default off.
acl_users() {
  echo "user default reset off"
  grep -v '^[[:space:]]*\(#\|$\)' "$1" | while read -r name rules; do
    [ -s "$VALKEY_USERS_DIR/$name" ] || { say "no password for the Valkey user $name in $VALKEY_USERS_DIR"; exit 1; }
    echo "user $name reset on #$(printf '%s' "$(password "$name")" | sha256sum | cut -d' ' -f1) $rules"
  done
}
REDISCLI_AUTH="$(password admin)"
export REDISCLI_AUTH
field() { echo "$1" | cut -d: -f"$2"; }
node() { echo "$NODES" | tr ' ' '\n' | grep -v '^$' | sed -n "$(($1 + 1))p"; }
tls=""; [ -z "${VALKEY_TLS_DIR:-}" ] || tls="--tls --cacert $VALKEY_TLS_DIR/ca.crt"
# shellcheck disable=SC2086 # $tls: its words
cli() { valkey-cli --no-auth-warning --user admin $tls "$@" 2>/dev/null; }
self=$(node "$NODE_INDEX")
listen="port $(field "$self" 3)"
if [ -n "${VALKEY_TLS_DIR:-}" ]; then
  listen="port 0
tls-port $(field "$self" 3)
tls-cert-file $VALKEY_TLS_DIR/tls.crt
tls-key-file $VALKEY_TLS_DIR/tls.key
tls-ca-cert-file $VALKEY_TLS_DIR/ca.crt
tls-auth-clients no
tls-replication yes"
fi

primary=""
for n in $NODES; do
  [ "$n" = "$self" ] && continue
  answer=$(cli -h "$(field "$n" 1)" -p "$(field "$n" 3)" sentinel get-master-addr-by-name "$SENTINEL_NAME" | tr '\n' ' ')
  set -- $answer
  if [ $# -eq 2 ]; then primary="$1 $2"; say "the Sentinel of $(field "$n" 1) names the primary $1:$2"; break; fi
done
if [ -z "$primary" ]; then
  for n in $NODES; do
    if cli -h "$(field "$n" 1)" -p "$(field "$n" 2)" role | head -n 1 | grep -qx master; then
      primary="$(field "$n" 1) $(field "$n" 2)"; say "no Sentinel names a primary; $(field "$n" 1) says it is one"; break
    fi
  done
fi
if [ -z "$primary" ]; then
  first=$(node 0)
  primary="$(field "$first" 1) $(field "$first" 2)"
  say "no Sentinel and no server names a primary: monitoring node 0"
fi

users=$(acl_users "$SENTINEL_ACL")
cat > "$RUN_DIR/sentinel.conf" <<CONF
$listen
dir $RUN_DIR
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $(field "$self" 1)
sentinel announce-port $(field "$self" 3)
$users
sentinel sentinel-user sentinel
sentinel sentinel-pass $(password sentinel)
sentinel monitor $SENTINEL_NAME $primary $SENTINEL_QUORUM
sentinel auth-user $SENTINEL_NAME sentinel
sentinel auth-pass $SENTINEL_NAME $(password sentinel)
sentinel down-after-milliseconds $SENTINEL_NAME $SENTINEL_DOWN_AFTER_MS
sentinel failover-timeout $SENTINEL_NAME $SENTINEL_FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $SENTINEL_NAME 1
CONF
exec valkey-server "$RUN_DIR/sentinel.conf" --sentinel
