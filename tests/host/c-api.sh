#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test of the C API: include/dts_handover.h and the example that uses
# it (examples/c/), without the module (the handover itself is
# tests/vm/t16-capi.sh's). Complements tests/host/c-header.sh, which checks
# the header's constants at compile time.
#
#  1. the header compiles warning-free (-Wall -Wextra -Werror -pedantic) as
#     C99, C11 and C17, and with the C++ compiler as C++11 and C++17
#     (-fsyntax-only; its extern "C" block and static_asserts), with each
#     of gcc and clang that is installed;
#  2. a program compiled against it reports every size, member offset and
#     member size of its four structures, every constant, and
#     dts_errno_name()'s table; tests/host/c_abi.py compares them with the
#     Rust sources: the layout each structure's encoder (to_bytes) writes,
#     its documented table and its SIZE; the constants of rust/pure/abi/
#     (and the bounds of rust/pure/homsg.rs, rust/handoff/handover.rs,
#     rust/pure/config.rs); the tools' errno names (dts-core);
#  3. examples/c/Makefile builds dts-c-handover-proxy (-std=c11 -Wall
#     -Wextra -Werror -O2) with cc, and with clang if installed;
#  4. the example runs: a usage error exits 2; listening on a free local
#     port, it answers a request with "502 Bad Gateway" naming ENOPROTOOPT
#     (no module here: the kernel refuses the option) and logs one line
#     with result=ENOPROTOOPT action=close status=502; a connection closed
#     before its request head is logged error=eof; a head without its end
#     within 16 KiB is refused with 431.
#  5. if nginx's development files are installed (Debian: nginx-dev, which
#     is configured here in a scratch copy; or NGINX_SRC=<a configured nginx
#     source tree>, NGINX_CFLAGS=<more flags it needs>),
#     examples/c/nginx/ngx_http_dts_module.c compiles against them
#     (-fsyntax-only, -Werror); otherwise that step is skipped and said so.
#
# Prints one line, `PASS c-api` or `FAIL c-api: why`; exits non-zero on
# failure. CC and CXX override the compilers (then only they are used).
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
header=$repo/include/dts_handover.h
example=$repo/examples/c

fail() {
	echo "FAIL c-api: $*"
	exit 1
}
note() { echo "c-api: $*"; }

[ -r "$header" ] || fail "$header is missing"
[ -r "$example/handover_proxy.c" ] || fail "$example/handover_proxy.c is missing"
command -v python3 >/dev/null || fail "python3 is missing"

ccs=() cxxs=()
if [ -n "${CC:-}" ]; then
	ccs=("$CC")
else
	for c in gcc clang; do command -v "$c" >/dev/null 2>&1 && ccs+=("$c"); done
fi
if [ -n "${CXX:-}" ]; then
	cxxs=("$CXX")
else
	for c in g++ clang++; do command -v "$c" >/dev/null 2>&1 && cxxs+=("$c"); done
fi
[ ${#ccs[@]} -gt 0 ] || fail "no C compiler (gcc or clang)"
[ ${#cxxs[@]} -gt 0 ] || fail "no C++ compiler (g++ or clang++)"

tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- 1. the header in every language mode -------------------------------------
cat >"$tmp/inc.c" <<'EOF'
#include "dts_handover.h"
/* Every helper called, as a C program would. */
int use_helpers(int fd);
int use_helpers(int fd)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	unsigned int from = 0;
	struct dts_flow_info fi;
	struct dts_clone_status st;
	const char *name = dts_errno_name(EBUSY);

	return dts_request_handover(fd, 2, req, sizeof(req) - 1) +
	       dts_request_handover_flags(fd, 2, req, sizeof(req) - 1, DTS_HANDOVER_REFORWARD) +
	       dts_flow_info(fd, &fi) + dts_handed_in(fd, &from) +
	       dts_clone(fd, 2, req, sizeof(req) - 1, -1) + dts_clone_wait(fd, &st) +
	       dts_unacked_bytes(fd) + (name ? (int)name[0] : 0);
}
EOF
cat >"$tmp/inc.cc" <<'EOF'
#include "dts_handover.h"
#include <cstring>
// The helpers as a C++ program would call them.
int use_helpers(int fd)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	unsigned int from = 0;
	struct dts_flow_info fi;
	struct dts_clone_status st;
	const char *name = dts_errno_name(EBUSY);

	static_assert(sizeof(dts_handover_req) == DTS_HANDOVER_REQ_SIZE, "size");
	return dts_request_handover(fd, 2, req, sizeof(req) - 1) +
	       dts_request_handover_flags(fd, 2, req, sizeof(req) - 1, DTS_HANDOVER_REFORWARD) +
	       dts_flow_info(fd, &fi) + dts_handed_in(fd, &from) +
	       dts_clone(fd, 2, req, sizeof(req) - 1, -1) + dts_clone_wait(fd, &st) +
	       dts_unacked_bytes(fd) + (name ? (int)std::strlen(name) : 0);
}
EOF
for cc in "${ccs[@]}"; do
	for std in c99 c11 c17; do
		"$cc" -std=$std -Wall -Wextra -Werror -pedantic -I"$repo/include" -c -o "$tmp/inc.o" \
			"$tmp/inc.c" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "$cc -std=$std: the header does not compile"; }
	done
done
for cxx in "${cxxs[@]}"; do
	for std in c++11 c++17; do
		"$cxx" -std=$std -Wall -Wextra -Werror -pedantic -I"$repo/include" -fsyntax-only \
			"$tmp/inc.cc" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "$cxx -std=$std: the header does not compile"; }
	done
done
note "header: ${ccs[*]} as C99/C11/C17, ${cxxs[*]} as C++11/C++17: warning-free"

# --- 2. layouts, constants and errno names against the Rust sources ----------
cat >"$tmp/layout.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include "dts_handover.h"

#define SIZEOF(s) printf("sizeof %s %zu\n", #s, sizeof(struct s))
#define FIELD(s, f) printf("field %s %s %zu %zu\n", #s, #f, offsetof(struct s, f), \
			   sizeof(((struct s *)0)->f))
#define CONST(c) printf("const %s %lld\n", #c, (long long)(c))

int main(void)
{
	int e;

	SIZEOF(dts_handover_req);
	FIELD(dts_handover_req, version);
	FIELD(dts_handover_req, flags);
	FIELD(dts_handover_req, dest_node);
	FIELD(dts_handover_req, reserved);
	FIELD(dts_handover_req, buf_ptr);
	FIELD(dts_handover_req, buf_len);
	SIZEOF(dts_flow_info);
	FIELD(dts_flow_info, version);
	FIELD(dts_flow_info, flags);
	FIELD(dts_flow_info, from_node);
	FIELD(dts_flow_info, state);
	SIZEOF(dts_clone_req);
	FIELD(dts_clone_req, version);
	FIELD(dts_clone_req, flags);
	FIELD(dts_clone_req, target_node);
	FIELD(dts_clone_req, resp_len);
	FIELD(dts_clone_req, asf_ptr);
	FIELD(dts_clone_req, asf_len);
	SIZEOF(dts_clone_status);
	FIELD(dts_clone_status, version);
	FIELD(dts_clone_status, state);
	FIELD(dts_clone_status, node);
	FIELD(dts_clone_status, clones);
	FIELD(dts_clone_status, cloned_bytes);

	CONST(DTS_SO_LEVEL);
	CONST(DTS_MAX_NODE_ID);
	CONST(DTS_SO_HANDOVER);
	CONST(DTS_HANDOVER_VERSION);
	CONST(DTS_HANDOVER_REQ_SIZE);
	CONST(DTS_HANDOVER_MAX_BUF);
	CONST(DTS_HANDOVER_MAX_DATA);
	CONST(DTS_HANDOVER_TIMEOUT_MS);
	CONST(DTS_HANDOVER_REFORWARD);
	CONST(DTS_SO_GET_FLOW);
	CONST(DTS_FLOW_INFO_VERSION);
	CONST(DTS_FLOW_INFO_SIZE);
	CONST(DTS_FLOW_HANDED_IN);
	CONST(DTS_FLOW_REFORWARDED);
	CONST(DTS_SO_CLONE);
	CONST(DTS_SO_CLONE_WAIT);
	CONST(DTS_CLONE_VERSION);
	CONST(DTS_CLONE_REQ_SIZE);
	CONST(DTS_CLONE_F_RESP_LEN);
	CONST(DTS_CLONE_MAX_ASF);
	CONST(DTS_CLONE_ACK_TIMEOUT_MS);
	CONST(DTS_CLONE_WAIT_MS);
	CONST(DTS_CLONE_STATUS_VERSION);
	CONST(DTS_CLONE_STATUS_SIZE);
	CONST(DTS_CLONE_IDLE);
	CONST(DTS_CLONE_ACTIVE);

	for (e = 1; e < 4096; e++)
		if (dts_errno_name(e))
			printf("errno %d %s\n", e, dts_errno_name(e));
	return 0;
}
EOF
"${ccs[0]}" -std=c11 -Wall -Wextra -Werror -I"$repo/include" -o "$tmp/layout" "$tmp/layout.c" \
	>"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "the layout program does not compile"; }
"$tmp/layout" >"$tmp/layout.txt" || fail "the layout program failed"
if ! python3 "$repo/tests/host/c_abi.py" "$repo" "$tmp/layout.txt" >"$tmp/abi.log" 2>&1; then
	cat "$tmp/abi.log"
	fail "the header differs from the Rust sources: $(grep -m1 -v 'mismatch(es)' "$tmp/abi.log")"
fi
note "$(tail -n1 "$tmp/abi.log")"

# --- 3. the example's Makefile ------------------------------------------------
for cc in "${ccs[@]}"; do
	out=$tmp/build-$cc
	if ! make --no-print-directory -C "$example" OUT="$out" CC="$cc" >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		fail "make -C examples/c CC=$cc failed"
	fi
	grep -q -- '-std=c11 -Wall -Wextra -Werror -O2' "$tmp/log" ||
		fail "examples/c/Makefile does not build with -std=c11 -Wall -Wextra -Werror -O2"
	[ -x "$out/dts-c-handover-proxy" ] || fail "make -C examples/c CC=$cc: no dts-c-handover-proxy"
done
proxy=$tmp/build-${ccs[0]}/dts-c-handover-proxy
note "examples/c: dts-c-handover-proxy builds with ${ccs[*]} (-Werror)"

# --- 4. the example without the module ----------------------------------------
"$proxy" >/dev/null 2>&1
rc=$?
[ $rc = 2 ] || fail "dts-c-handover-proxy without arguments exited $rc, want 2"
"$proxy" 8080 33 >/dev/null 2>&1
rc=$?
[ $rc = 2 ] || fail "dts-c-handover-proxy 8080 33 (node out of range) exited $rc, want 2"

# A free port: bind port 0 and let the kernel choose (python3), then start
# the example there (retried if someone took it meanwhile).
started=0
for _ in 1 2 3 4 5; do
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$proxy" -l 127.0.0.1 -t 2 "$port" 2 2>"$tmp/proxy.log" &
	pid=$!
	for _ in $(seq 1 50); do
		grep -q "listening on 127.0.0.1:$port node=2" "$tmp/proxy.log" 2>/dev/null && { started=1; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ $started = 1 ] && break
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
done
[ $started = 1 ] || fail "dts-c-handover-proxy did not start: $(cat "$tmp/proxy.log")"

python3 - "$port" >"$tmp/client.log" 2>&1 <<'EOF'
import socket, sys, time
port = int(sys.argv[1])

def exchange(data, close_early=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if data:
        s.sendall(data)
    if close_early:
        s.close()
        return b""
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return got

# A request: the handover fails (no module), the example answers 502.
r = exchange(b"GET /c-api/file HTTP/1.1\r\nHost: x\r\n\r\n")
head, _, body = r.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 502 "), r
assert b"Content-Length: %d" % len(body) in head, r
assert body == b"handover to node 2 failed: ENOPROTOOPT\n", body
print("502:", body.decode().strip())
# A connection closed before its head: logged error=eof, nothing answered.
exchange(b"GET /partial", close_early=True)
# A head that never ends within 16 KiB: 431.
r = exchange(b"GET /big HTTP/1.1\r\nX: " + b"a" * 17000)
assert r.startswith(b"HTTP/1.1 431 "), r[:100]
print("431: ok")
# Let the last child log.
time.sleep(0.5)
EOF
crc=$?
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
if [ $crc != 0 ]; then
	cat "$tmp/client.log" "$tmp/proxy.log"
	fail "the example's answers without the module: $(tail -n1 "$tmp/client.log")"
fi
want=("path=/c-api/file target=2 result=ENOPROTOOPT action=close method=GET bytes=37 status=502"
	"action=close error=eof bytes=12"
	"action=close status=431 error=headers-too-large bytes=16384")
for w in "${want[@]}"; do
	grep -q "^dts-c-handover-proxy: client=127\.0\.0\.1:[0-9]* $w\$" "$tmp/proxy.log" || {
		cat "$tmp/proxy.log"
		fail "the example's log lacks a line with '$w'"
	}
done
lines=$(grep -c '^dts-c-handover-proxy: client=' "$tmp/proxy.log")
[ "$lines" = 3 ] || { cat "$tmp/proxy.log"; fail "the example logged $lines connection lines, want 3"; }
note "example without the module: 502 naming ENOPROTOOPT, eof and 431 logged, one line each"

# --- 5. the nginx module sketch, if nginx's headers are here ------------------
# NGINX_SRC: a configured nginx source tree (objs/ngx_auto_config.h there),
# NGINX_CFLAGS: what else it needs (-I for pcre2.h if configured with PCRE).
# Otherwise Debian's nginx-dev (/usr/share/nginx/src, or NGINX_DEV_DIR:
# headers and configure, no objs/) is configured in a scratch copy, without
# PCRE and zlib.
ngx_src=${NGINX_SRC:-}
ngx_dev=${NGINX_DEV_DIR:-/usr/share/nginx/src}
if [ -z "$ngx_src" ] && [ -x "$ngx_dev/configure" ]; then
	cp -r "$ngx_dev" "$tmp/ngx"
	if (cd "$tmp/ngx" && ./configure --with-compat --with-threads --without-http_rewrite_module \
		--without-http_gzip_module >"$tmp/ngx-configure.log" 2>&1); then
		ngx_src=$tmp/ngx
	else
		note "nginx-dev's configure failed (see below); the sketch is not compiled"
		tail -n 5 "$tmp/ngx-configure.log"
	fi
fi
if [ -n "$ngx_src" ]; then
	ngx_inc=()
	for d in src/core src/event src/event/modules src/os/unix src/http src/http/modules src/http/v2 objs; do
		ngx_inc+=(-I"$ngx_src/$d")
	done
	# shellcheck disable=SC2086
	if ! "${ccs[0]}" -std=gnu11 -Wall -Wextra -Werror -I"$repo/include" "${ngx_inc[@]}" ${NGINX_CFLAGS:-} \
		-fsyntax-only "$example/nginx/ngx_http_dts_module.c" >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		fail "examples/c/nginx/ngx_http_dts_module.c does not compile against nginx's headers ($ngx_src)"
	fi
	note "nginx module sketch: compiles against nginx's headers ($ngx_src)"
else
	note "nginx module sketch: skipped (no nginx headers: install nginx-dev or set NGINX_SRC)"
fi

echo "PASS c-api"
