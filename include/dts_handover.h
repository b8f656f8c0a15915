/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dts_handover.h - the dts module's socket options for servers written in C
 * (and C++): request_handover, the handed-in query, Socket Cloning and its
 * wait. Documentation/c-api.md is the guide; this header is the reference.
 *
 * Everything here is one setsockopt()/getsockopt() call at level IPPROTO_IP
 * on an IPv4 TCP socket of the initial network namespace, made by a process
 * with CAP_NET_ADMIN in the initial user namespace, or by one whose
 * credentials belong to the initial user namespace and whose filesystem
 * uid, filesystem gid or a supplementary group is listed in the
 * allowed_uid / allowed_gid of the service the socket's connection belongs
 * to (the cluster file's [[service]]; Documentation/config.md, "Running the
 * proxy unprivileged"). Otherwise EPERM (counted: sockopt_denied,
 * sockopt_not_granted). The module finds the service from the socket's own
 * addresses and its flow entry, never from the arguments.
 * Without the dts module loaded, the kernel answers every one of them with
 * ENOPROTOOPT. The header needs only the libc and the kernel's UAPI headers;
 * it compiles as C99, C11 and C++11 or later.
 *
 *   interface                  option (level IPPROTO_IP)       helper
 *   -------------------------  ------------------------------  ----------------------
 *   hand a connection over     set DTS_SO_HANDOVER   (3402)    dts_request_handover()
 *   was it handed in?          get DTS_SO_GET_FLOW   (3402)    dts_handed_in(), dts_flow_info()
 *   clone a connection (SC)    set DTS_SO_CLONE      (3405)    dts_clone()
 *   wait for a clone's answer  get DTS_SO_CLONE_WAIT (3405)    dts_clone_wait()
 *
 * Every helper returns 0 (or a documented non-negative value) on success and
 * -1 with errno set on failure, like the system calls it wraps. The errno
 * lists below are the module's (rust/handoff/handover.rs, rust/sc/call.rs,
 * rust/ctl.rs, rust/calls.rs and the destination's refusals in
 * rust/handoff/takeover.rs and rust/pure/scmsg.rs), not a guess;
 * dts_errno_name() names each of them. After any failure the connection is
 * intact and still the caller's.
 *
 * All fields are in native byte order. The layouts are the module's
 * (rust/pure/abi/: HandoverReqV1, FlowInfoV1, CloneReqV1, CloneStatusV1):
 * the static asserts below check sizes and offsets at compile time, and
 * tests/host/c-header.sh and tests/host/c-api.sh check every constant, size
 * and offset against the Rust sources.
 *
 * ---------------------------------------------------------------------------
 * request_handover: DTS_SO_HANDOVER
 *
 * A proxy on a DTS node reads a client's request from a connection the dts
 * module redirected to it (the service's proxy port), decides which node
 * should serve it, and asks the module to move the connection there:
 *
 *	setsockopt(fd, IPPROTO_IP, DTS_SO_HANDOVER, &req, sizeof(req));
 *
 * on the connected client socket, with a struct dts_handover_req (or simply
 * dts_request_handover() below). The call blocks (at most
 * DTS_HANDOVER_TIMEOUT_MS, normally one round trip on the cluster's control
 * mesh) while the module sends the connection's state and the bytes to the
 * destination node, which builds the connection in its own stack and gives
 * it to the server listening on the service's port there.
 *
 * buf_ptr/buf_len: the bytes the proxy has read from the socket, normally
 * all of them (the request). They must be the *last* buf_len bytes read:
 * the module sends them to the destination, followed by whatever the proxy
 * has not read yet (the socket's receive queue), so the destination's
 * server sees the client's byte stream from the first byte of buf. At most
 * DTS_HANDOVER_MAX_BUF bytes; buf_len 0 (and buf_ptr 0) is allowed. buf and
 * the unread bytes together must fit one HANDOVER message,
 * DTS_HANDOVER_MAX_DATA bytes (else EMSGSIZE). The proxy must not have
 * written anything the client has not acknowledged (EBUSY; see
 * dts_unacked_bytes()).
 *
 * Return 0: the connection now belongs to the destination node, which
 * answers the client directly. The proxy must only close(fd): the module
 * has set SO_LINGER 0 on it and drops the RST; writing to or shutting down
 * the socket is an error.
 *
 * Return -1 with errno: the client connection is intact and still owned by
 * the proxy socket; the proxy can serve the request itself (it still has
 * the bytes it read), answer an error, or try another node.
 *
 *	EPERM        the caller lacks CAP_NET_ADMIN and the service of the
 *	             connection does not grant its uid or groups
 *	             (allowed_uid, allowed_gid), or its credentials belong to
 *	             another user namespace, or the socket is in another
 *	             network namespace.
 *	EINVAL       bad struct (size, version, unknown flag, reserved not 0,
 *	             buf_len over DTS_HANDOVER_MAX_BUF, buf_ptr 0 with
 *	             buf_len > 0, dest_node 0 or over DTS_MAX_NODE_ID); a
 *	             destination that is this node, not configured, or not
 *	             serving the socket's service; a socket that is not IPv4
 *	             TCP, is listening, or is not a client connection the
 *	             module redirected to this proxy port (no configuration
 *	             either); buf_len more than the proxy has read;
 *	             DTS_HANDOVER_REFORWARD on a connection that was not
 *	             handed in.
 *	EFAULT       buf_ptr (or the struct) cannot be read.
 *	EBADF        the connection is not established any more (the client
 *	             closed or reset it).
 *	EALREADY     a handover of this connection is in progress or done.
 *	ELOOP        DTS_HANDOVER_REFORWARD on a connection that was itself
 *	             re-forwarded here: serve it locally.
 *	EBUSY        the proxy has sent data the client has not acknowledged
 *	             yet, or too many handovers are in flight (the module's
 *	             calls table is full), or the socket's state moved under
 *	             the call, or the destination still had an entry for this
 *	             client; retry later or serve locally.
 *	EMSGSIZE     buf and the unread bytes exceed DTS_HANDOVER_MAX_DATA;
 *	             serve locally.
 *	EOPNOTSUPP   the connection's timestamps count microseconds.
 *	ECONNREFUSED nothing listens at the destination's port (its server is
 *	             down).
 *	EAGAIN       the destination's listener did not take the connection
 *	             (its queues are full); retry or serve locally.
 *	EHOSTUNREACH this node has no route to the destination.
 *	EHOSTDOWN    the control mesh sees the destination down (at once), or
 *	             lost its connection to it before the answer (serve locally
 *	             or pick another node).
 *	ESHUTDOWN    the destination drains (Documentation/drain.md): it takes
 *	             no new connection; place the request elsewhere.
 *	ETIMEDOUT    the destination did not answer within
 *	             DTS_HANDOVER_TIMEOUT_MS (it refuses a handover message
 *	             older than 1 s, so it will not take the connection after
 *	             this), or it refused the message as too old.
 *	EINTR        a signal ended the wait (as ETIMEDOUT).
 *	EPROTO       the destination announced another TCP window-scale shift
 *	             than the proxy's SYN-ACK did (different buffer settings on
 *	             the two nodes); serve locally.
 *	ECONNRESET, EIO
 *	             the destination built the connection and had to undo it
 *	             (its client entry changed meanwhile; an internal error).
 *	ENOMEM       out of memory (here or at the destination).
 *	ENOSPC       a flow table is full.
 *	ENOPROTOOPT  (from the kernel, not the module) the dts module is not
 *	             loaded.
 *
 * ---------------------------------------------------------------------------
 * Handed-in connections: DTS_SO_GET_FLOW
 *
 *	getsockopt(fd, IPPROTO_IP, DTS_SO_GET_FLOW, &info, &len);
 *
 * on an accepted client socket of a service's *proxy* port: whether the
 * connection was handed over to this node by another one. That happens only
 * for a service with handover_to = "proxy" (keep-alive re-handover,
 * Documentation/proxy.md): a handed-in connection's first request is the
 * one the other node routed here, so serve it locally; later requests may
 * be handed over again. (With the default handover_to = "server" a
 * handed-over connection goes to the server on the application port, where
 * this query answers ENOENT: the server needs no such test.)
 *
 *	EPERM        the caller lacks CAP_NET_ADMIN and is not granted (as
 *	             for dts_request_handover; also when the socket is not a
 *	             client connection of a service's proxy port).
 *	EINVAL       len < DTS_FLOW_INFO_SIZE.
 *	ENOENT       not a client connection the module tracks on a service's
 *	             proxy port of this node (also: not IPv4 TCP, no
 *	             configuration).
 *	EFAULT       the answer cannot be written.
 *	ENOPROTOOPT  (from the kernel) the dts module is not loaded.
 *
 * ---------------------------------------------------------------------------
 * Socket Cloning: DTS_SO_CLONE and DTS_SO_CLONE_WAIT
 *
 * On a connected socket of a Socket Cloning service (handover_to = "clone",
 * Documentation/socket-cloning.md), owned by the server application,
 *
 *	setsockopt(fd, IPPROTO_IP, DTS_SO_CLONE, &req, sizeof(req));
 *
 * with a struct dts_clone_req (or dts_clone() below) makes a clone of the
 * connection on node target_node, whose server (listening on the service's
 * port there) receives the asf_len bytes at asf_ptr (the ASF: the request
 * to serve, at most DTS_CLONE_MAX_ASF bytes, normally with "Connection:
 * close") as if the client had sent them, and answers the client directly.
 * The original socket stays with the application, which reads the client's
 * next request from it. With DTS_CLONE_F_RESP_LEN, resp_len is the exact
 * length of the clone's response (status line, headers and body), so that
 * the module can tell when it is complete (pipelining clients, or a
 * connection the application closes after the clone); then the application
 * must wait with DTS_SO_CLONE_WAIT before it writes anything else on the
 * socket, clones again or closes it.
 *
 * Return 0 once the target acknowledged the clone (at most
 * DTS_CLONE_ACK_TIMEOUT_MS). Return -1 with errno: the original socket is
 * intact, the application may serve the request itself.
 *
 *	EPERM        the caller lacks CAP_NET_ADMIN and the Socket Cloning
 *	             service whose application port the socket is on does not
 *	             grant it (allowed_uid, allowed_gid).
 *	EINVAL       bad struct (size, version, flags, resp_len without
 *	             DTS_CLONE_F_RESP_LEN, asf_len 0 or over DTS_CLONE_MAX_ASF,
 *	             asf_ptr 0, target_node 0 or over DTS_MAX_NODE_ID), a
 *	             target that is this node or not a member of the socket's
 *	             service, a socket that is not IPv4 TCP, is listening, or is
 *	             not a connection of a Socket Cloning service's application
 *	             port; the target refused the clone as malformed (its socket seed
 *	             missing or disagreeing with its fields included) or for an
 *	             unknown service.
 *	EFAULT       the ASF (or the struct) cannot be read.
 *	EBADF        the connection is not established (or its clone state
 *	             ended).
 *	EBUSY        the socket has sent data the client has not acknowledged,
 *	             or the clone cannot join the clones of the connection in
 *	             flight ([limits] sc_max_inflight, 8 by default, one per
 *	             target; the one before must have a declared or reported
 *	             response length; see DTS_SO_CLONE_WAIT), or too many mesh
 *	             calls are in flight, or the target is busy with this
 *	             client (an earlier clone of the connection it could not
 *	             end yet).
 *	EHOSTDOWN    the control mesh has the target down or not connected, or
 *	             lost it before the answer.
 *	ETIMEDOUT    the target did not acknowledge the clone in time.
 *	EINTR        a signal ended the wait for the acknowledgement.
 *	ECONNREFUSED nothing listens on the service's port at the target.
 *	EPROTO       the target's stack chose another window-scale shift than
 *	             the original socket announced.
 *	EOPNOTSUPP   the connection uses microsecond timestamps.
 *	EAGAIN       the router holds no socket seed for the connection (the
 *	             client's last headers), or the one it holds does not
 *	             match the socket yet (a segment the stack has not taken):
 *	             serve the request here (counted sc_seed_stale).
 *	EIO          the target failed to build the clone.
 *	ENOMEM       out of memory (here or at the target).
 *	ENOSPC       the flow table is full.
 *	ENOPROTOOPT  (from the kernel) the dts module is not loaded.
 *
 *	getsockopt(fd, IPPROTO_IP, DTS_SO_CLONE_WAIT, &st, &len);
 *
 * with len at least DTS_CLONE_STATUS_SIZE: waits (at most
 * DTS_CLONE_WAIT_MS, interruptible) until every clone of the socket's
 * connection in flight is fully acknowledged by the client, as long as the
 * oldest one's response length is known (declared, or reported by its
 * node) or expected, then fills a struct dts_clone_status (state
 * DTS_CLONE_ACTIVE: a clone whose length cannot be known is still in
 * flight, and nothing may be written). Returns at once if no clone is
 * pending.
 *
 *	EPERM        the caller lacks CAP_NET_ADMIN and is not granted (as
 *	             for dts_clone).
 *	EINVAL       len < DTS_CLONE_STATUS_SIZE, or not an IPv4 TCP socket.
 *	ENOENT       the socket was never cloned (no clone state).
 *	ETIMEDOUT    the wait ran out (DTS_CLONE_WAIT_MS).
 *	EINTR        a signal ended the wait.
 *	EFAULT       the answer cannot be written.
 *	ENOPROTOOPT  (from the kernel) the dts module is not loaded.
 */
#ifndef DTS_HANDOVER_H
#define DTS_HANDOVER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/sockios.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Socket level (IPPROTO_IP) of every option below. */
#define DTS_SO_LEVEL		IPPROTO_IP

/* Node ids range over 1..=DTS_MAX_NODE_ID. */
#define DTS_MAX_NODE_ID		32

/* --- request_handover ---------------------------------------------------- */

#define DTS_SO_HANDOVER		3402

/* Version and size of struct dts_handover_req. */
#define DTS_HANDOVER_VERSION	1
#define DTS_HANDOVER_REQ_SIZE	32

/* Most bytes buf_len may announce (256 KiB). */
#define DTS_HANDOVER_MAX_BUF	(256u * 1024u)

/*
 * Most bytes one handover carries: buf_len plus the socket's unread bytes
 * (one HANDOVER message; EMSGSIZE above).
 */
#define DTS_HANDOVER_MAX_DATA	65415u

/* Longest a DTS_SO_HANDOVER call waits for the destination's answer. */
#define DTS_HANDOVER_TIMEOUT_MS	3000

/*
 * struct dts_handover_req.flags: owner re-forwarding. The connection was
 * handed in to this node and another node owns the request's content: hand
 * it over again, once. EINVAL if the connection was not handed in, ELOOP if
 * it was itself re-forwarded here (DTS_FLOW_REFORWARDED).
 */
#define DTS_HANDOVER_REFORWARD	1u

/* The argument of DTS_SO_HANDOVER (Rust: HandoverReqV1). */
struct dts_handover_req {
	__u32 version;		/* DTS_HANDOVER_VERSION */
	__u32 flags;		/* DTS_HANDOVER_REFORWARD or 0 */
	__u32 dest_node;	/* destination node id, 1..=32, not this node */
	__u32 reserved;		/* 0 */
	__u64 buf_ptr;		/* address of the bytes read */
	__u64 buf_len;		/* their number, <= DTS_HANDOVER_MAX_BUF */
};

/* --- handed-in query ---------------------------------------------------- */

/* Same option number as DTS_SO_HANDOVER, on the get side. */
#define DTS_SO_GET_FLOW		3402

/* Version and size of struct dts_flow_info. */
#define DTS_FLOW_INFO_VERSION	1
#define DTS_FLOW_INFO_SIZE	16

/* struct dts_flow_info.flags: handed over to this node. */
#define DTS_FLOW_HANDED_IN	1u
/* struct dts_flow_info.flags: re-forwarded to this node; serve it here. */
#define DTS_FLOW_REFORWARDED	2u

/* The answer of DTS_SO_GET_FLOW (Rust: FlowInfoV1). */
struct dts_flow_info {
	__u32 version;		/* DTS_FLOW_INFO_VERSION */
	__u32 flags;		/* DTS_FLOW_HANDED_IN | DTS_FLOW_REFORWARDED */
	__u32 from_node;	/* the node that handed it over, or 0 */
	__u32 state;		/* the module's state of the connection */
};

/* --- Socket Cloning ------------------------------------------------------ */

/* The set and the get side of the same option number. */
#define DTS_SO_CLONE		3405
#define DTS_SO_CLONE_WAIT	3405

/* Version and size of struct dts_clone_req. */
#define DTS_CLONE_VERSION	1
#define DTS_CLONE_REQ_SIZE	32

/* struct dts_clone_req.flags: resp_len is the response's exact length. */
#define DTS_CLONE_F_RESP_LEN	1u

/* Most ASF bytes (the clone receives them as one segment). */
#define DTS_CLONE_MAX_ASF	8192u

/* Longest DTS_SO_CLONE waits for the target's acknowledgement. */
#define DTS_CLONE_ACK_TIMEOUT_MS 3000

/* Longest DTS_SO_CLONE_WAIT waits. */
#define DTS_CLONE_WAIT_MS	10000

/* Version and size of struct dts_clone_status. */
#define DTS_CLONE_STATUS_VERSION 1
#define DTS_CLONE_STATUS_SIZE	24

/* struct dts_clone_status.state */
#define DTS_CLONE_IDLE		0u	/* no clone is pending */
#define DTS_CLONE_ACTIVE	1u	/* the last clone's response is not through */

/* The argument of DTS_SO_CLONE (Rust: CloneReqV1). */
struct dts_clone_req {
	__u32 version;		/* DTS_CLONE_VERSION */
	__u32 flags;		/* DTS_CLONE_F_RESP_LEN or 0 */
	__u32 target_node;	/* the clone's node, 1..=32, not this node */
	__u32 resp_len;		/* with DTS_CLONE_F_RESP_LEN, else 0 */
	__u64 asf_ptr;		/* address of the ASF */
	__u64 asf_len;		/* its length, 1..=DTS_CLONE_MAX_ASF */
};

/* The answer of DTS_SO_CLONE_WAIT (Rust: CloneStatusV1). */
struct dts_clone_status {
	__u32 version;		/* DTS_CLONE_STATUS_VERSION */
	__u32 state;		/* DTS_CLONE_IDLE or DTS_CLONE_ACTIVE */
	__u32 node;		/* the last clone's node */
	__u32 clones;		/* clones made on this connection */
	__u64 cloned_bytes;	/* bytes the clones sent, as acknowledged */
};

/* --- layout checks ------------------------------------------------------- */

#if defined(__cplusplus) && __cplusplus >= 201103L
#define DTS_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define DTS_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
/* C99 (and C++98): an array of negative size if cond is false. */
#define DTS_SA_CAT_(a, b) a##b
#define DTS_SA_CAT(a, b) DTS_SA_CAT_(a, b)
#define DTS_STATIC_ASSERT(cond, msg) \
	typedef char DTS_SA_CAT(dts_static_assert_line_, __LINE__)[(cond) ? 1 : -1]
#endif

DTS_STATIC_ASSERT(sizeof(struct dts_handover_req) == DTS_HANDOVER_REQ_SIZE,
		  "struct dts_handover_req must be 32 bytes");
DTS_STATIC_ASSERT(offsetof(struct dts_handover_req, version) == 0, "version at 0");
DTS_STATIC_ASSERT(offsetof(struct dts_handover_req, flags) == 4, "flags at 4");
DTS_STATIC_ASSERT(offsetof(struct dts_handover_req, dest_node) == 8, "dest_node at 8");
DTS_STATIC_ASSERT(offsetof(struct dts_handover_req, reserved) == 12, "reserved at 12");
DTS_STATIC_ASSERT(offsetof(struct dts_handover_req, buf_ptr) == 16, "buf_ptr at 16");
DTS_STATIC_ASSERT(offsetof(struct dts_handover_req, buf_len) == 24, "buf_len at 24");
DTS_STATIC_ASSERT(sizeof(struct dts_flow_info) == DTS_FLOW_INFO_SIZE,
		  "struct dts_flow_info must be 16 bytes");
DTS_STATIC_ASSERT(offsetof(struct dts_flow_info, version) == 0, "version at 0");
DTS_STATIC_ASSERT(offsetof(struct dts_flow_info, flags) == 4, "flags at 4");
DTS_STATIC_ASSERT(offsetof(struct dts_flow_info, from_node) == 8, "from_node at 8");
DTS_STATIC_ASSERT(offsetof(struct dts_flow_info, state) == 12, "state at 12");
DTS_STATIC_ASSERT(sizeof(struct dts_clone_req) == DTS_CLONE_REQ_SIZE,
		  "struct dts_clone_req must be 32 bytes");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_req, version) == 0, "version at 0");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_req, flags) == 4, "flags at 4");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_req, target_node) == 8, "target_node at 8");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_req, resp_len) == 12, "resp_len at 12");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_req, asf_ptr) == 16, "asf_ptr at 16");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_req, asf_len) == 24, "asf_len at 24");
DTS_STATIC_ASSERT(sizeof(struct dts_clone_status) == DTS_CLONE_STATUS_SIZE,
		  "struct dts_clone_status must be 24 bytes");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_status, version) == 0, "version at 0");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_status, state) == 4, "state at 4");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_status, node) == 8, "node at 8");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_status, clones) == 12, "clones at 12");
DTS_STATIC_ASSERT(offsetof(struct dts_clone_status, cloned_bytes) == 16, "cloned_bytes at 16");

/* --- helpers ------------------------------------------------------------- */

/*
 * DTS_SO_HANDOVER with flags (0 or DTS_HANDOVER_REFORWARD): hands the
 * connection on fd over to node dest_node; buf/len are the bytes read from
 * fd so far (the last len bytes read, normally all of them). Blocks for at
 * most DTS_HANDOVER_TIMEOUT_MS. Returns 0 (then only close(fd)) or -1 with
 * errno set (then the connection is still the caller's), as described
 * above.
 */
static inline int dts_request_handover_flags(int fd, unsigned int dest_node,
					     const void *buf, size_t len,
					     unsigned int flags)
{
	struct dts_handover_req req;

	req.version = DTS_HANDOVER_VERSION;
	req.flags = flags;
	req.dest_node = dest_node;
	req.reserved = 0;
	req.buf_ptr = (__u64)(uintptr_t)buf;
	req.buf_len = (__u64)len;
	return setsockopt(fd, DTS_SO_LEVEL, DTS_SO_HANDOVER, &req,
			  (socklen_t)sizeof(req));
}

/* dts_request_handover_flags() without a flag: the usual handover. */
static inline int dts_request_handover(int fd, unsigned int dest_node,
				       const void *buf, size_t len)
{
	return dts_request_handover_flags(fd, dest_node, buf, len, 0);
}

/*
 * DTS_SO_GET_FLOW: fills *info (if info is not NULL) with what the module
 * knows of the connection on fd. Returns 0, or -1 with errno set (ENOENT:
 * not a tracked client connection of a proxy port; EPROTO: an answer of
 * another version than this header's).
 */
static inline int dts_flow_info(int fd, struct dts_flow_info *info)
{
	struct dts_flow_info fi;
	socklen_t len = (socklen_t)sizeof(fi);

	if (getsockopt(fd, DTS_SO_LEVEL, DTS_SO_GET_FLOW, &fi, &len) != 0)
		return -1;
	if (len < (socklen_t)sizeof(fi) || fi.version != DTS_FLOW_INFO_VERSION) {
		errno = EPROTO;
		return -1;
	}
	if (info)
		*info = fi;
	return 0;
}

/*
 * Whether the connection on fd was handed over to this node: 1 (and
 * *from_node set, if from_node is not NULL), 0, or -1 with errno set (as
 * dts_flow_info()).
 */
static inline int dts_handed_in(int fd, unsigned int *from_node)
{
	struct dts_flow_info info;

	if (dts_flow_info(fd, &info) != 0)
		return -1;
	if (from_node)
		*from_node = info.from_node;
	return (info.flags & DTS_FLOW_HANDED_IN) ? 1 : 0;
}

/*
 * Clones the connection on fd to node target_node, whose server receives
 * the len bytes at asf; resp_len is the response's exact length, or a
 * negative number if unknown (EINVAL above 2^32 - 1, without a call).
 * Blocks for at most DTS_CLONE_ACK_TIMEOUT_MS. Returns 0 or -1 with errno
 * set (then the connection is intact), as described at DTS_SO_CLONE.
 */
static inline int dts_clone(int fd, unsigned int target_node, const void *asf,
			    size_t len, long long resp_len)
{
	struct dts_clone_req req;

	if (resp_len > 0xffffffffLL) {
		errno = EINVAL;
		return -1;
	}
	req.version = DTS_CLONE_VERSION;
	req.flags = resp_len >= 0 ? DTS_CLONE_F_RESP_LEN : 0;
	req.target_node = target_node;
	req.resp_len = resp_len >= 0 ? (__u32)resp_len : 0;
	req.asf_ptr = (__u64)(uintptr_t)asf;
	req.asf_len = (__u64)len;
	return setsockopt(fd, DTS_SO_LEVEL, DTS_SO_CLONE, &req,
			  (socklen_t)sizeof(req));
}

/*
 * Waits until the last clone's declared response on fd is fully
 * acknowledged (DTS_SO_CLONE_WAIT, at most DTS_CLONE_WAIT_MS). Returns 0
 * (and fills *st if st is not NULL) or -1 with errno set (EPROTO: an
 * answer of another version than this header's).
 */
static inline int dts_clone_wait(int fd, struct dts_clone_status *st)
{
	struct dts_clone_status s;
	socklen_t len = (socklen_t)sizeof(s);

	if (getsockopt(fd, DTS_SO_LEVEL, DTS_SO_CLONE_WAIT, &s, &len) != 0)
		return -1;
	if (len < (socklen_t)sizeof(s) || s.version != DTS_CLONE_STATUS_VERSION) {
		errno = EPROTO;
		return -1;
	}
	if (st)
		*st = s;
	return 0;
}

/*
 * The bytes sent on fd that the client has not acknowledged yet (plus any
 * not sent yet): ioctl(SIOCOUTQ). A handover or a clone is refused with
 * EBUSY unless this is 0, so a keep-alive server waits for 0 (briefly: the
 * client's next request or its delayed ACK acknowledges the last response)
 * before it asks. Returns the count, or -1 with errno set.
 */
static inline int dts_unacked_bytes(int fd)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n) != 0)
		return -1;
	return n;
}

/*
 * The symbolic name of errno e ("EBUSY"), for log lines: every errno the
 * options above return and the usual socket errors (the names the Rust
 * tools take from nix::errno::Errno, so C and Rust servers log the same
 * tokens), or NULL for any other.
 */
static inline const char *dts_errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ENOSPC: return "ENOSPC";
	case EPIPE: return "EPIPE";
	case ELOOP: return "ELOOP";
	case EPROTO: return "EPROTO";
	case ENOTSOCK: return "ENOTSOCK";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETDOWN: return "ENETDOWN";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNABORTED: return "ECONNABORTED";
	case ECONNRESET: return "ECONNRESET";
	case ENOBUFS: return "ENOBUFS";
	case ENOTCONN: return "ENOTCONN";
	case ESHUTDOWN: return "ESHUTDOWN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EHOSTDOWN: return "EHOSTDOWN";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	default: return NULL;
	}
}

#ifdef __cplusplus
}
#endif

#endif /* DTS_HANDOVER_H */
