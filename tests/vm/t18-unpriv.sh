#!/bin/sh
# t18-unpriv: dts-proxy runs without CAP_NET_ADMIN, allowed by its service's
# grant (allowed_uid, allowed_gid in the cluster file), on 3 nodes + client.
#   nodes:  the 3-node cluster configured (self = own id) with the service's
#           allowed_uid = [1500], allowed_gid = [1600]; mesh formed,
#           counters zeroed; stock nginx on port 80; under /tmp/www/u/ a
#           256 KiB random file per node (each node's own bytes, sha256
#           published); `dtsctl config show` on node 1 shows both lists;
#   node 1 runs dts-proxy on the proxy port 8080 (every /u/ request to node
#           2) five times in turn, each started by setpriv with no
#           capabilities (--inh-caps=-all --bounding-set=-all; the running
#           proxy's CapEff is 0 and its uid the one asked for):
#     (a)   uid 1500, gid 1500, no groups: granted by uid;
#     (b1)  uid 1700, gid 1600, no groups: granted by the filesystem gid;
#     (b2)  uid 1700, gid 1700, supplementary group 1600: granted by group;
#     (c)   uid 1700, gid 1700, no groups: not granted;
#     (d)   uid 1500 inside a user namespace of its own (unshare -U; its
#           socket still in the initial network namespace): not granted,
#           whatever its ids (the grant names the host's ids);
#   client: per run, from a port node 1 owns (dtsctl owner), curl
#           http://VIP/u/file: 200 and, for (a), (b1), (b2), node 2's bytes
#           (handed over: node 2's nginx logged the client's own address
#           and port to VIP:80), for (c) and (d) node 1's bytes (the proxy
#           fell back to serving locally);
#   node 1: the proxy's log line for the request says result=ok
#           action=handover for (a), (b1), (b2), and result=EPERM
#           action=local for (c), (d); over each granted run
#           sockopt_granted and handover_done rose and sockopt_not_granted
#           did not; over each refused run sockopt_not_granted and
#           sockopt_denied rose and handover_done did not; handover_failed
#           stays 0 (an EPERM is refused before a handover starts);
#   node 1: the read-only cluster queries a placing proxy polls
#           (DTS_SO_GET_INFO, DTS_SO_GET_PEERS) answer uid 1500 (granted by
#           a service) and refuse uid 1700 (EPERM);
#   node 1: as uid 1500 (no capabilities), `dtsctl config apply`, `dtsctl
#           show flows` and `dtsctl flush` fail with "permission denied"
#           (the configuration, the flow table and every admin option still
#           need CAP_NET_ADMIN), and the configuration is unchanged;
#   all:    the flow tables drain, config clear, rmmod; clean kernel logs.
# rig-nodes: 3
. "$RIG_REPO/tests/vm/lib.sh"

ALL=$(all_vms)
CONF=/tmp/cluster.toml
EXAMPLES=$RIG_REPO/userspace-tools/dtsctl/examples
REAL_PROXY=$DTS_PROXY
SIZE=262144         # bytes of each node's file
PORT=24000          # port_of counts up from here
# The runs: TAG:UID:GID:GROUPS:USERNS:EXPECT (GROUPS "-": none; USERNS 1:
# in a user namespace of its own; EXPECT ok or EPERM).
RUNS="a:1500:1500:-:0:ok b1:1700:1600:-:0:ok b2:1700:1700:1600:0:ok c:1700:1700:-:0:EPERM d:1500:1500:-:1:EPERM"
NOCAPS="--inh-caps=-all --bounding-set=-all"

# count NAME FILE: counter NAME in the `dtsctl status --json` output FILE.
count() {
    json_get "counters.$1" "$2"
}

# proxy_as TAG UID GID GROUPS USERNS: write /tmp/proxy-as-TAG, a wrapper
# that runs dts-proxy (with its arguments) as UID:GID with GROUPS ("-":
# none) and no capabilities, in a user namespace of its own if USERNS is 1.
proxy_as() {
    if [ "$4" = - ]; then _g=--clear-groups; else _g=--groups=$4; fi
    _ns=
    [ "$5" = 1 ] && _ns="unshare -U --"
    cat >"/tmp/proxy-as-$1" <<EOF || return 1
#!/bin/sh
exec setpriv --reuid=$2 --regid=$3 $_g $NOCAPS -- $_ns "$REAL_PROXY" "\$@"
EOF
    chmod 755 "/tmp/proxy-as-$1"
}

# proxy_creds TAG UID USERNS: the running proxy of run TAG has uid UID
# (real, effective, saved and filesystem, as this namespace sees them) and,
# with USERNS 0, no effective capability; with USERNS 1 it is in another
# user namespace than this shell (there it holds every capability, none of
# which counts in the initial namespace).
proxy_creds() {
    _pid=$(cat "/tmp/proxy-$1.pid") || return 1
    grep -E '^(Uid|Gid|Groups|CapEff)' "/proc/$_pid/status"
    grep -Eq "^Uid:[[:space:]]+$2[[:space:]]+$2[[:space:]]+$2[[:space:]]+$2\$" "/proc/$_pid/status" ||
        { echo "not uid $2"; return 1; }
    if [ "$3" = 1 ]; then
        _own=$(readlink /proc/self/ns/user) _its=$(readlink "/proc/$_pid/ns/user")
        echo "user namespace: $_its (this shell's: $_own)"
        [ -n "$_its" ] && [ "$_its" != "$_own" ] || { echo "not in a user namespace of its own"; return 1; }
    else
        grep -Eq '^CapEff:[[:space:]]+0+$' "/proc/$_pid/status" || { echo "has capabilities"; return 1; }
    fi
}

# proxy_logged TAG PORT PATTERN...: run TAG's proxy log line for client port
# PORT contains every PATTERN.
proxy_logged() {
    _l=$(grep "client=$CLIENT_IP:$2 " "/tmp/proxy-$1.log")
    printf '%s\n' "$_l"
    [ -n "$_l" ] || { echo "no proxy log line for client $CLIENT_IP:$2"; return 1; }
    shift 2
    for _p in "$@"; do
        printf '%s\n' "$_l" | grep -q -- "$_p" || { echo "lacks '$_p'"; return 1; }
    done
}

# delta NAME A B: counter NAME's increase from /tmp/A.json to /tmp/B.json.
delta() {
    echo $(( $(count "$1" "/tmp/$3.json") - $(count "$1" "/tmp/$2.json") ))
}

# denied CMD...: CMD fails with status 1 and says "permission denied".
denied() {
    "$@" >/tmp/denied.out 2>&1
    rc=$?
    cat /tmp/denied.out
    [ "$rc" = 1 ] && grep -qi "permission denied" /tmp/denied.out
}

# getsockopt_py OPTION SIZE: a python program that calls getsockopt(2)
# (IPPROTO_IP, OPTION) with a SIZE-byte buffer through libc (Python's
# socket.getsockopt() refuses buffers over 1024 bytes) and prints the
# length answered, or the errno's name and exits 3.
getsockopt_py() {
    echo "
import ctypes, errno, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket()
buf = ctypes.create_string_buffer($2)
n = ctypes.c_uint32($2)
if libc.getsockopt(s.fileno(), socket.IPPROTO_IP, $1, buf, ctypes.byref(n)) != 0:
    e = ctypes.get_errno()
    print(errno.errorcode.get(e, e))
    sys.exit(3 if e == errno.EPERM else 4)
print(n.value, 'bytes')"
}

# query AS OPTION SIZE: getsockopt(IPPROTO_IP, OPTION) with a SIZE-byte
# buffer as AS (a setpriv prefix) succeeds.
query() {
    # shellcheck disable=SC2086
    $1 "$PY" -c "$(getsockopt_py "$2" "$3")"
}

# query_eperm AS OPTION SIZE: the same query as AS fails with EPERM.
query_eperm() {
    # shellcheck disable=SC2086
    $1 "$PY" -c "$(getsockopt_py "$2" "$3")"
    [ $? = 3 ]
}

# fetch PORT SHA_FILE: GET /u/file from PORT: 200 and the bytes of SHA_FILE.
fetch() { fetch_sha256 "$1" "http://$VIP/u/file" "$2"; }

case "$RIG_ROLE" in
node)
    sed "s/^self = 1$/self = $RIG_ID/; s/^nodes = \[1, 2, 3\]$/nodes = [1, 2, 3]\nallowed_uid = [1500]\nallowed_gid = [1600]/" \
        "$EXAMPLES/cluster3.toml" >"$CONF"
    check "the cluster file grants uid 1500 and gid 1600" \
        grep -qx "allowed_gid = \[1600\]" "$CONF"
    check "dtsctl config apply (self = $RIG_ID)" "$DTSCTL" config apply "$CONF"
    check "control mesh formed (dtsctl peers --wait)" "$DTSCTL" peers --wait 120
    check "dtsctl zero" "$DTSCTL" zero
    mkdir -p /tmp/www/u
    check "a $SIZE-byte random file under /tmp/www/u" \
        sh -c "head -c $SIZE /dev/urandom >/tmp/www/u/file"
    check "node $RIG_ID publishes its file's sha256" \
        sh -c "sha256sum /tmp/www/u/file | cut -d' ' -f1 >'$RIG_SHARED/sha.u.n$RIG_ID'"
    nginx_start_without_proxy_port
    if [ "$RIG_ID" = 1 ]; then
        "$DTSCTL" config show >/tmp/shown.toml
        check "config show: allowed_uid = [1500]" grep -qx "allowed_uid = \[1500\]" /tmp/shown.toml
        check "config show: allowed_gid = [1600]" grep -qx "allowed_gid = \[1600\]" /tmp/shown.toml
        check "setpriv is there" command -v setpriv
    fi
    barrier ready "$ALL"

    for run in $RUNS; do
        IFS=: read -r tag uid gid groups userns expect <<EOF
$run
EOF
        if [ "$RIG_ID" = 1 ]; then
            check "($tag) wrapper: uid $uid gid $gid groups $groups userns $userns, no capabilities" \
                proxy_as "$tag" "$uid" "$gid" "$groups" "$userns"
            "$DTSCTL" status --json >"/tmp/$tag-0.json"
            DTS_PROXY=/tmp/proxy-as-$tag DTS_PROXY_TAG=-$tag
            check "($tag) dts-proxy as uid $uid listens on 8080" \
                dts_proxy_start 8080 --listen 0.0.0.0:8080 --self-node 1 --nodes 1,2,3 \
                --route /u/=2 --local 127.0.0.1:80
            check "($tag) the proxy runs as uid $uid without capabilities in the host's namespace" \
                proxy_creds "$tag" "$uid" "$userns"
        fi
        barrier "start-$tag" "$ALL"
        barrier "fetched-$tag" "$ALL"
        p=$(cat "$RIG_SHARED/port-$tag")
        if [ "$RIG_ID" = 1 ]; then
            "$DTSCTL" status --json >"/tmp/$tag-1.json"
            dts_proxy_stop
            DTS_PROXY=$REAL_PROXY DTS_PROXY_TAG=
            cp "/tmp/proxy-$tag.log" "$RIG_OUT/proxy-$tag.log" 2>/dev/null
            granted=$(delta sockopt_granted "$tag-0" "$tag-1")
            refused=$(delta sockopt_not_granted "$tag-0" "$tag-1")
            denied_n=$(delta sockopt_denied "$tag-0" "$tag-1")
            done_n=$(delta handover_done "$tag-0" "$tag-1")
            failed=$(count handover_failed "/tmp/$tag-1.json")
            log "($tag) sockopt_granted +$granted sockopt_not_granted +$refused sockopt_denied +$denied_n handover_done +$done_n"
            check "($tag) handover_failed = 0 ($failed)" test "$failed" = 0
            if [ "$expect" = ok ]; then
                check "($tag) proxy log: $CLIENT_IP:$p result=ok action=handover" \
                    proxy_logged "$tag" "$p" "result=ok" "action=handover"
                check "($tag) sockopt_granted rose ($granted)" test "$granted" -ge 1
                check "($tag) handover_done rose ($done_n)" test "$done_n" -ge 1
                check "($tag) sockopt_not_granted did not rise ($refused)" test "$refused" = 0
            else
                check "($tag) proxy log: $CLIENT_IP:$p result=EPERM action=local" \
                    proxy_logged "$tag" "$p" "result=EPERM" "action=local"
                check "($tag) sockopt_not_granted rose ($refused)" test "$refused" -ge 1
                check "($tag) sockopt_denied rose ($denied_n)" test "$denied_n" -ge "$refused"
                check "($tag) handover_done did not rise ($done_n)" test "$done_n" = 0
                check "($tag) sockopt_granted did not rise ($granted)" test "$granted" = 0
            fi
        fi
        if [ "$RIG_ID" = 2 ] && [ "$expect" = ok ]; then
            check "($tag) access log: $CLIENT_IP:$p $VIP:80 \"GET /u/file\" 200" \
                grep -F "$CLIENT_IP:$p $VIP:80 \"GET /u/file HTTP/1.1\" 200" /tmp/nginx/access.log
        fi
        barrier "checked-$tag" "$ALL"
    done

    # --- the grant opens no admin option
    if [ "$RIG_ID" = 1 ]; then
        "$DTSCTL" config show >/tmp/before.toml
        "$DTSCTL" status --json >/tmp/adm-0.json
        AS1500="setpriv --reuid=1500 --regid=1500 --clear-groups $NOCAPS"
        AS1700="setpriv --reuid=1700 --regid=1700 --clear-groups $NOCAPS"
        check "uid 1500 (granted): DTS_SO_GET_INFO answers" query "$AS1500" 3400 1328
        check "uid 1500 (granted): DTS_SO_GET_PEERS answers" query "$AS1500" 3403 4096
        check "uid 1700 (not granted): DTS_SO_GET_INFO refused with EPERM" query_eperm "$AS1700" 3400 1328
        check "uid 1700 (not granted): DTS_SO_GET_PEERS refused with EPERM" query_eperm "$AS1700" 3403 4096
        "$DTSCTL" status --json >/tmp/adm-q.json
        n=$(delta sockopt_granted adm-0 adm-q)
        check "sockopt_granted counted uid 1500's 2 queries ($n)" test "$n" -ge 2
        n=$(delta sockopt_not_granted adm-0 adm-q)
        check "sockopt_not_granted counted uid 1700's 2 queries ($n)" test "$n" -ge 2
        for c in "config apply $CONF" "show flows" "flush"; do
            # shellcheck disable=SC2086
            check "uid 1500 (granted): dtsctl $c: permission denied" denied $AS1500 "$DTSCTL" $c
        done
        "$DTSCTL" status --json >/tmp/adm-1.json
        n=$(delta sockopt_denied adm-q adm-1)
        check "sockopt_denied counted the 3 refused commands ($n)" test "$n" -ge 3
        n=$(delta sockopt_not_granted adm-q adm-1)
        check "sockopt_not_granted did not count them ($n)" test "$n" = 0
        check "configuration unchanged" sh -c "'$DTSCTL' config show | cmp - /tmp/before.toml"
    fi
    barrier admin "$ALL"

    node_teardown
    ;;
client)
    barrier ready "$ALL"
    for run in $RUNS; do
        IFS=: read -r tag uid gid groups userns expect <<EOF
$run
EOF
        barrier "start-$tag" "$ALL"
        port_of 1
        echo "$PORT" >"$RIG_SHARED/port-$tag"
        if [ "$expect" = ok ]; then
            check "($tag) GET /u/file from port $PORT (node 1's), proxy uid $uid: node 2's bytes" \
                fetch "$PORT" sha.u.n2
        else
            check "($tag) GET /u/file from port $PORT (node 1's), proxy uid $uid: refused, node 1's bytes" \
                fetch "$PORT" sha.u.n1
        fi
        barrier "fetched-$tag" "$ALL"
        barrier "checked-$tag" "$ALL"
    done
    barrier admin "$ALL"
    check "kernel log has no problem report" dmesg_clean
    ;;
esac
