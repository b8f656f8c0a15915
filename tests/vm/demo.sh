#!/bin/sh
# The narrated demo run by qemu/demo.sh: the client's console shows each node's
# `dtsctl status`, fetches with sha256, the VIP ping answered by every node,
# connections to the VIP each accepted by exactly one node (the rendezvous
# hash of the client's port), and the counters afterwards. Not a test (no tNN- prefix), but it records
# PASS/FAIL lines like one.
. "$RIG_REPO/tests/vm/lib.sh"
ALL=$(all_vms)

say() { echo; echo "======== $* ========"; }

case "$RIG_ROLE" in
node)
    sed "s/^self = 1$/self = $RIG_ID/" "$RIG_REPO/userspace-tools/dtsctl/examples/cluster3.toml" >/tmp/cluster.toml
    check "dtsctl config apply" "$DTSCTL" config apply /tmp/cluster.toml
    mkdir -p /tmp/www
    echo "served by node$RIG_ID" >/tmp/www/whoami
    dd if=/dev/urandom of=/tmp/www/file-1m bs=1M count=1 2>/dev/null
    sha256_of /tmp/www/file-1m >"$RIG_SHARED/node$RIG_ID.sha256"
    "$DTSCTL" status >"$RIG_SHARED/node$RIG_ID.status-before.txt" 2>&1
    check "nginx started" nginx_start
    barrier ready "$ALL"
    barrier fetched "$ALL"
    "$DTSCTL" status >"$RIG_SHARED/node$RIG_ID.status-after.txt" 2>&1
    barrier counted "$ALL"
    ;;
client)
    barrier ready "$ALL" >/dev/null
    for i in $(seq 1 "$RIG_NODES"); do
        say "node$i ($(node_ip "$i")): dtsctl status"
        cat "$RIG_SHARED/node$i.status-before.txt"
    done

    say "client $CLIENT_IP fetches a random 1 MiB file from every node"
    for i in $(seq 1 "$RIG_NODES"); do
        f=/tmp/file-1m.node$i
        t=$(curl -sS --fail --max-time 60 -o "$f" -w '%{size_download} bytes in %{time_total} s' \
            "http://$(node_ip "$i")/file-1m") || { fail "GET from node$i"; continue; }
        got=$(sha256_of "$f") want=$(cat "$RIG_SHARED/node$i.sha256")
        echo "node$i: $t"
        echo "    sha256 received  $got"
        echo "    sha256 published $want"
        [ "$got" = "$want" ] && pass "node$i sha256 matches" || fail "node$i sha256 differs"
    done

    say "ping the shared VIP $VIP: every node answers (DUP!)"
    /bin/busybox ping -c 3 -W 3 "$VIP"   # the last one exits on its first reply

    say "the nodes run the cluster configuration (node1's copy)"
    cat "$RIG_REPO/userspace-tools/dtsctl/examples/cluster3.toml" | grep -v '^#'
    say "TCP to the VIP: each connection is accepted by one node only"
    for p in 42000 42001 42002 42003 42004 42005; do
        owner=$("$DTSCTL" owner "$CLIENT_IP:$p" --nodes 1,2,3)
        body=$(curl -sS --max-time 20 --local-port "$p" "http://$VIP/whoami" 2>&1)
        echo "from port $p: \"$body\"   (rendezvous hash says node$owner)"
        [ "$body" = "served by node$owner" ] && pass "port $p: node$owner" || fail "port $p: $body"
    done
    barrier fetched "$ALL" >/dev/null
    barrier counted "$ALL" >/dev/null
    for i in $(seq 1 "$RIG_NODES"); do
        say "node$i: dtsctl status after the traffic"
        cat "$RIG_SHARED/node$i.status-after.txt"
    done
    say "demo done"
    ;;
esac
exit 0
