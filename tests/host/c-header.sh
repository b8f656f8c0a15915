#!/usr/bin/env bash
# Host test of include/dts_handover.h, the C header of request_handover and
# Socket Cloning.
#
# Compiles a small C program that includes the header with
# `-Wall -Wextra -Werror -std=c11 -pedantic`, checks at compile time that
# the header's constants and struct layout equal the module's
# (rust/pure/abi/*.rs: HANDOVER_REQ_V1_SIZE, DTS_SO_HANDOVER, CLONE_REQ_V1_SIZE,
# DTS_SO_CLONE, ...), then runs it: dts_request_handover(), dts_handed_in(),
# dts_clone() and dts_clone_wait() on a socket that is not a proxied or
# cloned connection must fail with -1 and an errno (ENOPROTOOPT without the
# module). If g++ is
# installed the header is also compiled as C++11.
#
# Prints one line, `PASS c-header` or `FAIL c-header: why`; exits non-zero
# on failure. CC overrides the compiler (default gcc, else clang).
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
abi=$repo/rust/pure/abi
header=$repo/include/dts_handover.h

fail() {
	echo "FAIL c-header: $*"
	exit 1
}

[ -r "$header" ] || fail "$header is missing"
[ -r "$abi/mod.rs" ] || fail "$abi/mod.rs is missing"

cc=${CC:-}
if [ -z "$cc" ]; then
	for c in gcc clang; do
		if command -v "$c" >/dev/null 2>&1; then
			cc=$c
			break
		fi
	done
fi
[ -n "$cc" ] || fail "no C compiler (gcc or clang)"

# The value of `pub const NAME: TYPE = EXPR;` in rust/pure/abi/*.rs,
# evaluated. EXPR may use integers, `+`, `*` and DTS_SO_BASE.
rust_const() {
	local expr
	expr=$(sed -nE "s/^pub const $1: [a-z0-9]+ = (.*);$/\1/p" "$abi"/*.rs | head -n1)
	[ -n "$expr" ] || return 1
	expr=${expr//DTS_SO_BASE/$base}
	[[ $expr =~ ^[0-9\ +*]+$ ]] || return 1
	echo $((expr))
}
base=0
base=$(rust_const DTS_SO_BASE) || fail "DTS_SO_BASE not found in rust/pure/abi/"
level=$(rust_const DTS_SO_LEVEL) || fail "DTS_SO_LEVEL not found in rust/pure/abi/"
opt=$(rust_const DTS_SO_HANDOVER) || fail "DTS_SO_HANDOVER not found in rust/pure/abi/"
size=$(rust_const HANDOVER_REQ_V1_SIZE) || fail "HANDOVER_REQ_V1_SIZE not found in rust/pure/abi/"
version=$(rust_const HANDOVER_REQ_VERSION) || fail "HANDOVER_REQ_VERSION not found in rust/pure/abi/"
maxbuf=$(rust_const HANDOVER_MAX_BUF) || fail "HANDOVER_MAX_BUF not found in rust/pure/abi/"
getflow=$(rust_const DTS_SO_GET_FLOW) || fail "DTS_SO_GET_FLOW not found in rust/pure/abi/"
fsize=$(rust_const FLOW_INFO_V1_SIZE) || fail "FLOW_INFO_V1_SIZE not found in rust/pure/abi/"
fversion=$(rust_const FLOW_INFO_VERSION) || fail "FLOW_INFO_VERSION not found in rust/pure/abi/"
fhanded=$(rust_const FLOW_HANDED_IN) || fail "FLOW_HANDED_IN not found in rust/pure/abi/"
freforwarded=$(rust_const FLOW_REFORWARDED) || fail "FLOW_REFORWARDED not found in rust/pure/abi/"
hreforward=$(rust_const HANDOVER_REFORWARD) || fail "HANDOVER_REFORWARD not found in rust/pure/abi/"
soclone=$(rust_const DTS_SO_CLONE) || fail "DTS_SO_CLONE not found in rust/pure/abi/"
soclonewait=$(rust_const DTS_SO_CLONE_WAIT) || fail "DTS_SO_CLONE_WAIT not found in rust/pure/abi/"
csize=$(rust_const CLONE_REQ_V1_SIZE) || fail "CLONE_REQ_V1_SIZE not found in rust/pure/abi/"
cversion=$(rust_const CLONE_REQ_VERSION) || fail "CLONE_REQ_VERSION not found in rust/pure/abi/"
crespflag=$(rust_const CLONE_F_RESP_LEN) || fail "CLONE_F_RESP_LEN not found in rust/pure/abi/"
cmaxasf=$(rust_const CLONE_MAX_ASF) || fail "CLONE_MAX_ASF not found in rust/pure/abi/"
ssize=$(rust_const CLONE_STATUS_V1_SIZE) || fail "CLONE_STATUS_V1_SIZE not found in rust/pure/abi/"
sidle=$(rust_const CLONE_IDLE) || fail "CLONE_IDLE not found in rust/pure/abi/"
sactive=$(rust_const CLONE_ACTIVE) || fail "CLONE_ACTIVE not found in rust/pure/abi/"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/t.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dts_handover.h"

#ifdef __cplusplus
#define CHECK(c, m) static_assert(c, m)
#else
#define CHECK(c, m) _Static_assert(c, m)
#endif

CHECK(sizeof(struct dts_handover_req) == RUST_REQ_SIZE, "size differs from HANDOVER_REQ_V1_SIZE");
CHECK(DTS_HANDOVER_REQ_SIZE == RUST_REQ_SIZE, "DTS_HANDOVER_REQ_SIZE differs from HANDOVER_REQ_V1_SIZE");
CHECK(DTS_SO_HANDOVER == RUST_SO_HANDOVER, "DTS_SO_HANDOVER differs");
CHECK(DTS_SO_LEVEL == RUST_SO_LEVEL, "DTS_SO_LEVEL differs");
CHECK(DTS_HANDOVER_VERSION == RUST_VERSION, "DTS_HANDOVER_VERSION differs from HANDOVER_REQ_VERSION");
CHECK(DTS_HANDOVER_MAX_BUF == RUST_MAX_BUF, "DTS_HANDOVER_MAX_BUF differs from HANDOVER_MAX_BUF");
/* The layout documented on HandoverReqV1. */
CHECK(offsetof(struct dts_handover_req, version) == 0, "version");
CHECK(offsetof(struct dts_handover_req, flags) == 4, "flags");
CHECK(offsetof(struct dts_handover_req, dest_node) == 8, "dest_node");
CHECK(offsetof(struct dts_handover_req, reserved) == 12, "reserved");
CHECK(offsetof(struct dts_handover_req, buf_ptr) == 16, "buf_ptr");
CHECK(offsetof(struct dts_handover_req, buf_len) == 24, "buf_len");
CHECK(sizeof(((struct dts_handover_req *)0)->buf_ptr) == 8, "buf_ptr is 64-bit");
CHECK(sizeof(((struct dts_handover_req *)0)->buf_len) == 8, "buf_len is 64-bit");
/* DTS_SO_GET_FLOW and the layout documented on FlowInfoV1. */
CHECK(DTS_SO_GET_FLOW == RUST_GET_FLOW, "DTS_SO_GET_FLOW differs");
CHECK(sizeof(struct dts_flow_info) == RUST_FLOW_SIZE, "size differs from FLOW_INFO_V1_SIZE");
CHECK(DTS_FLOW_INFO_SIZE == RUST_FLOW_SIZE, "DTS_FLOW_INFO_SIZE differs");
CHECK(DTS_FLOW_INFO_VERSION == RUST_FLOW_VERSION, "DTS_FLOW_INFO_VERSION differs");
CHECK(DTS_FLOW_HANDED_IN == RUST_FLOW_HANDED_IN, "DTS_FLOW_HANDED_IN differs");
CHECK(DTS_FLOW_REFORWARDED == RUST_FLOW_REFORWARDED, "DTS_FLOW_REFORWARDED differs");
CHECK(DTS_HANDOVER_REFORWARD == RUST_HANDOVER_REFORWARD, "DTS_HANDOVER_REFORWARD differs");
CHECK(offsetof(struct dts_flow_info, version) == 0, "version");
CHECK(offsetof(struct dts_flow_info, flags) == 4, "flags");
CHECK(offsetof(struct dts_flow_info, from_node) == 8, "from_node");
CHECK(offsetof(struct dts_flow_info, state) == 12, "state");
/* DTS_SO_CLONE, DTS_SO_CLONE_WAIT and the layouts documented on CloneReqV1
 * and CloneStatusV1. */
CHECK(DTS_SO_CLONE == RUST_SO_CLONE, "DTS_SO_CLONE differs");
CHECK(DTS_SO_CLONE_WAIT == RUST_SO_CLONE_WAIT, "DTS_SO_CLONE_WAIT differs");
CHECK(sizeof(struct dts_clone_req) == RUST_CLONE_SIZE, "size differs from CLONE_REQ_V1_SIZE");
CHECK(DTS_CLONE_REQ_SIZE == RUST_CLONE_SIZE, "DTS_CLONE_REQ_SIZE differs");
CHECK(DTS_CLONE_VERSION == RUST_CLONE_VERSION, "DTS_CLONE_VERSION differs from CLONE_REQ_VERSION");
CHECK(DTS_CLONE_F_RESP_LEN == RUST_CLONE_F_RESP_LEN, "DTS_CLONE_F_RESP_LEN differs");
CHECK(DTS_CLONE_MAX_ASF == RUST_CLONE_MAX_ASF, "DTS_CLONE_MAX_ASF differs from CLONE_MAX_ASF");
CHECK(offsetof(struct dts_clone_req, version) == 0, "version");
CHECK(offsetof(struct dts_clone_req, flags) == 4, "flags");
CHECK(offsetof(struct dts_clone_req, target_node) == 8, "target_node");
CHECK(offsetof(struct dts_clone_req, resp_len) == 12, "resp_len");
CHECK(offsetof(struct dts_clone_req, asf_ptr) == 16, "asf_ptr");
CHECK(offsetof(struct dts_clone_req, asf_len) == 24, "asf_len");
CHECK(sizeof(((struct dts_clone_req *)0)->asf_ptr) == 8, "asf_ptr is 64-bit");
CHECK(sizeof(((struct dts_clone_req *)0)->asf_len) == 8, "asf_len is 64-bit");
CHECK(sizeof(struct dts_clone_status) == RUST_STATUS_SIZE, "size differs from CLONE_STATUS_V1_SIZE");
CHECK(DTS_CLONE_STATUS_SIZE == RUST_STATUS_SIZE, "DTS_CLONE_STATUS_SIZE differs");
CHECK(DTS_CLONE_IDLE == RUST_CLONE_IDLE, "DTS_CLONE_IDLE differs");
CHECK(DTS_CLONE_ACTIVE == RUST_CLONE_ACTIVE, "DTS_CLONE_ACTIVE differs");
CHECK(offsetof(struct dts_clone_status, version) == 0, "version");
CHECK(offsetof(struct dts_clone_status, state) == 4, "state");
CHECK(offsetof(struct dts_clone_status, node) == 8, "node");
CHECK(offsetof(struct dts_clone_status, clones) == 12, "clones");
CHECK(offsetof(struct dts_clone_status, cloned_bytes) == 16, "cloned_bytes");
CHECK(sizeof(((struct dts_clone_status *)0)->cloned_bytes) == 8, "cloned_bytes is 64-bit");

int main(void)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int rc;

	if (fd < 0) {
		perror("socket");
		return 1;
	}
	errno = 0;
	rc = dts_request_handover(fd, 2, req, sizeof(req) - 1);
	if (rc != -1 || errno == 0) {
		fprintf(stderr, "dts_request_handover on a plain socket returned %d, errno %d\n", rc, errno);
		return 1;
	}
	printf("%s\n", strerror(errno));
	errno = 0;
	rc = dts_handed_in(fd, NULL);
	if (rc != -1 || errno == 0) {
		fprintf(stderr, "dts_handed_in on a plain socket returned %d, errno %d\n", rc, errno);
		return 1;
	}
	printf("%s\n", strerror(errno));
	errno = 0;
	rc = dts_clone(fd, 2, req, sizeof(req) - 1, 100);
	if (rc != -1 || errno == 0) {
		fprintf(stderr, "dts_clone on a plain socket returned %d, errno %d\n", rc, errno);
		return 1;
	}
	printf("%s\n", strerror(errno));
	errno = 0;
	rc = dts_clone(fd, 2, req, sizeof(req) - 1, 0x100000000LL);
	if (rc != -1 || errno != EINVAL) {
		fprintf(stderr, "dts_clone with resp_len 2^32 returned %d, errno %d\n", rc, errno);
		return 1;
	}
	errno = 0;
	rc = dts_clone_wait(fd, NULL);
	if (rc != -1 || errno == 0) {
		fprintf(stderr, "dts_clone_wait on a plain socket returned %d, errno %d\n", rc, errno);
		return 1;
	}
	printf("%s\n", strerror(errno));
	close(fd);
	return 0;
}
EOF

defs=(-DRUST_REQ_SIZE="$size" -DRUST_SO_HANDOVER="$opt" -DRUST_SO_LEVEL="$level"
	-DRUST_VERSION="$version" -DRUST_MAX_BUF="${maxbuf}u" -DRUST_GET_FLOW="$getflow"
	-DRUST_FLOW_SIZE="$fsize" -DRUST_FLOW_VERSION="$fversion" -DRUST_FLOW_HANDED_IN="${fhanded}u"
	-DRUST_FLOW_REFORWARDED="${freforwarded}u" -DRUST_HANDOVER_REFORWARD="${hreforward}u"
	-DRUST_SO_CLONE="$soclone" -DRUST_SO_CLONE_WAIT="$soclonewait" -DRUST_CLONE_SIZE="$csize"
	-DRUST_CLONE_VERSION="$cversion" -DRUST_CLONE_F_RESP_LEN="${crespflag}u"
	-DRUST_CLONE_MAX_ASF="${cmaxasf}u" -DRUST_STATUS_SIZE="$ssize"
	-DRUST_CLONE_IDLE="${sidle}u" -DRUST_CLONE_ACTIVE="${sactive}u")

if ! "$cc" -Wall -Wextra -Werror -std=c11 -pedantic -I"$repo/include" "${defs[@]}" \
	-o "$tmp/t" "$tmp/t.c" >"$tmp/cc.log" 2>&1; then
	cat "$tmp/cc.log" >&2
	fail "$cc -std=c11 failed: $(grep -m1 'error' "$tmp/cc.log")"
fi
if command -v g++ >/dev/null 2>&1 && [ -z "${CC:-}" ]; then
	if ! g++ -Wall -Wextra -Werror -std=c++11 -x c++ -I"$repo/include" "${defs[@]}" \
		-o "$tmp/t++" "$tmp/t.c" >"$tmp/cxx.log" 2>&1; then
		cat "$tmp/cxx.log" >&2
		fail "g++ -std=c++11 failed: $(grep -m1 'error' "$tmp/cxx.log")"
	fi
fi
if ! out=$("$tmp/t" 2>&1); then
	fail "the test program failed: $out"
fi
echo "PASS c-header"
