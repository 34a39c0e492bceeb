#!/bin/sh
# Before a Valkey pod stops (deleted, rolled out, drained off its node): a primary hands over first. It asks
# the Sentinels to promote a replica and waits, at most PRESTOP_SECONDS, until it is no longer the primary:
# writes move to the new primary without waiting for the Sentinels to find this one down. Without Sentinel
# (or as a replica) it has nothing to hand over.
# Environment: as node.sh (NODES, NODE_INDEX or POD_NAME, VALKEY_USERS_DIR, SENTINEL, SENTINEL_NAME); it
# logs in as admin.
set -u
: "${SENTINEL:=0}" "${SENTINEL_NAME:=bf}" "${NODE_INDEX:=${POD_NAME##*-}}" "${PRESTOP_SECONDS:=20}"
: "${VALKEY_USERS_DIR:=/etc/valkey/users}"
[ "$SENTINEL" = 1 ] || exit 0
REDISCLI_AUTH="$(cat "$VALKEY_USERS_DIR/admin")"
export REDISCLI_AUTH
tls=""; [ -z "${VALKEY_TLS_DIR:-}" ] || tls="--tls --cacert $VALKEY_TLS_DIR/ca.crt"
self=$(echo "$NODES" | tr ' ' '\n' | grep -v '^$' | sed -n "$((NODE_INDEX + 1))p")
port=$(echo "$self" | cut -d: -f2)
role() { valkey-cli --no-auth-warning --user admin $tls -p "$port" role 2>/dev/null | head -n 1; }
[ "$(role)" = master ] || exit 0
echo "valkey-prestop: this node is the primary: asking the Sentinels to promote a replica" >&2
for n in $NODES; do
  valkey-cli --no-auth-warning --user admin $tls -h "$(echo "$n" | cut -d: -f1)" -p "$(echo "$n" | cut -d: -f3)" \
    sentinel failover "$SENTINEL_NAME" 2>/dev/null | grep -q OK && break
done
tries=0
while [ "$(role)" = master ] && [ "$tries" -lt $((PRESTOP_SECONDS * 2)) ]; do
  sleep 0.5
  tries=$((tries + 1))
done
echo "valkey-prestop: role now $(role)" >&2
