#!/bin/sh
# The narrated demo run by qemu/demo.sh: the client's console shows each node's
# `dtsctl status`, fetches with sha256, the VIP ping answered by every node,
# and the counters afterwards. Not a test (no tNN- prefix), but it records
# PASS/FAIL lines like one.
. "$RIG_REPO/tests/vm/lib.sh"
ALL=$(all_vms)

say() { echo; echo "======== $* ========"; }

case "$RIG_ROLE" in
node)
    mkdir -p /tmp/www
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
