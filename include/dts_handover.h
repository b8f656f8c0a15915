/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dts_handover.h - request_handover and Socket Cloning for programs written
 * in C.
 *
 * A proxy on a DTS node reads a client's request from a connection the dts
 * module redirected to it, decides which node should serve it, and asks the
 * module to move the connection there:
 *
 *	setsockopt(fd, IPPROTO_IP, DTS_SO_HANDOVER, &req, sizeof(req));
 *
 * on the connected client socket, with a struct dts_handover_req (or simply
 * dts_request_handover() below). The call blocks (at most 3 s, normally one
 * round trip on the cluster's control mesh) while the module sends the
 * connection's state and the bytes to the destination node, which builds
 * the connection in its own stack.
 *
 * buf_ptr/buf_len: the bytes the proxy has read from the socket, normally
 * all of them (the request). They must be the *last* buf_len bytes read:
 * the module sends them to the destination, followed by whatever the proxy
 * has not read yet (the socket's receive queue). At most
 * DTS_HANDOVER_MAX_BUF bytes; buf_len 0 (and buf_ptr 0) is allowed. The
 * proxy must not have written anything the client has not acknowledged.
 *
 * Return 0: the connection now belongs to the destination node, which
 * answers the client directly. The proxy must only close(fd): the module
 * has set SO_LINGER 0 on it and drops the RST; writing to or shutting down
 * the socket is an error.
 *
 * Return -1 with errno: the client connection is intact and still owned by
 * the proxy socket; the proxy can serve the request itself (it still has
 * the bytes it read) or try another node.
 *
 *	EPERM        the caller lacks CAP_NET_ADMIN.
 *	EINVAL       bad struct (size, version, flags, reserved, buf_len over
 *	             DTS_HANDOVER_MAX_BUF, buf_ptr 0 with buf_len > 0), unknown
 *	             destination node or the node itself, the socket is not a
 *	             client connection the module redirected to this proxy, or
 *	             buf_len is more than the proxy has read.
 *	EFAULT       buf_ptr (or the struct) cannot be read.
 *	EBADF        the connection is not established any more (the client
 *	             closed or reset it).
 *	EALREADY     a handover of this connection is in progress or done.
 *	ELOOP        DTS_HANDOVER_REFORWARD on a connection that was itself
 *	             re-forwarded here: serve it locally.
 *	EBUSY        the proxy has sent data the client has not acknowledged
 *	             yet, or too many handovers are in flight; retry later or
 *	             serve locally.
 *	EMSGSIZE     the request and the unread bytes exceed one HANDOVER
 *	             message (65415 bytes); serve locally.
 *	EOPNOTSUPP   the connection's timestamps count microseconds.
 *	ECONNREFUSED nothing listens at the destination's application port.
 *	EAGAIN       the destination's listener did not take the connection
 *	             (its queues are full); retry or serve locally.
 *	EHOSTUNREACH this node has no route to the destination.
 *	EHOSTDOWN    the control mesh sees the destination down, or lost its
 *	             connection to it before the answer (serve locally or pick
 *	             another node).
 *	ESHUTDOWN    the destination drains (Documentation/drain.md): it takes
 *	             no new connection; place the request elsewhere.
 *	ETIMEDOUT    the destination did not answer within 3 s (it refuses a
 *	             handover message older than 1 s, so it will not take the
 *	             connection after this).
 *	EINTR        a signal ended the wait (as ETIMEDOUT).
 *	EPROTO       the destination announced another TCP window-scale shift
 *	             than the proxy's SYN-ACK did (different buffer settings on
 *	             the two nodes); serve locally.
 *	ENOMEM       out of memory.
 *	ENOSPC       the flow table is full.
 *	ENOPROTOOPT  (from the kernel, not the module) the dts module is not
 *	             loaded.
 *
 * Socket Cloning (a service with mode = "sc") is the other interface of
 * this header: the server application itself clones a connection to another
 * node, see DTS_SO_CLONE below.
 *
 * All fields are in native byte order. The layouts are checked against the
 * module's (rust/pure/abi/: HandoverReqV1, FlowInfoV1, CloneReqV1,
 * CloneStatusV1) by tests/host/c-header.sh.
 */
#ifndef DTS_HANDOVER_H
#define DTS_HANDOVER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Socket level (IPPROTO_IP) and option name of request_handover. */
#define DTS_SO_LEVEL		IPPROTO_IP
#define DTS_SO_HANDOVER		3402

/* Version of struct dts_handover_req. */
#define DTS_HANDOVER_VERSION	1

/* Most bytes buf_len may announce (256 KiB). */
#define DTS_HANDOVER_MAX_BUF	(256u * 1024u)

/* Size of struct dts_handover_req. */
#define DTS_HANDOVER_REQ_SIZE	32

/* Node ids range over 1..=DTS_MAX_NODE_ID. */
#define DTS_MAX_NODE_ID		32

/*
 * getsockopt(fd, IPPROTO_IP, DTS_SO_GET_FLOW, &info, &len) on an accepted
 * client socket: whether the connection was handed over to this node by
 * another one (a service with handover_to = "proxy": keep-alive
 * re-handover). A handed-in connection's first request is the one the other
 * node routed here: serve it locally; later requests may be handed over
 * again. Errors: ENOENT (not a tracked client connection), EPERM (no
 * CAP_NET_ADMIN), EINVAL (len < DTS_FLOW_INFO_SIZE), ENOPROTOOPT (module
 * not loaded). Same option number as DTS_SO_HANDOVER, on the get side.
 */
#define DTS_SO_GET_FLOW		3402
#define DTS_FLOW_INFO_VERSION	1
#define DTS_FLOW_INFO_SIZE	16
/* struct dts_flow_info.flags: handed over to this node. */
#define DTS_FLOW_HANDED_IN	1u
/* struct dts_flow_info.flags: re-forwarded to this node; serve it here. */
#define DTS_FLOW_REFORWARDED	2u

struct dts_flow_info {
	__u32 version;		/* DTS_FLOW_INFO_VERSION */
	__u32 flags;		/* DTS_FLOW_HANDED_IN | DTS_FLOW_REFORWARDED */
	__u32 from_node;	/* the node that handed it over, or 0 */
	__u32 state;		/* the module's state of the connection */
};

/*
 * Socket Cloning: on a connected socket of a Socket Cloning service, owned
 * by the server application,
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
 * Return 0 once the target acknowledged the clone. Return -1 with errno: the
 * original socket is intact, the application may serve the request itself.
 *
 *	EINVAL       bad struct (size, version, flags, resp_len without
 *	             DTS_CLONE_F_RESP_LEN, asf_len 0 or over DTS_CLONE_MAX_ASF,
 *	             asf_ptr 0), a target that is this node or not a member of
 *	             the socket's service, a socket that is not a connection of
 *	             a Socket Cloning service.
 *	EFAULT       the ASF (or the struct) cannot be read.
 *	EBADF        the connection is not established.
 *	EBUSY        the socket has sent data the client has not acknowledged,
 *	             or the previous clone's declared response is not fully
 *	             acknowledged yet (see DTS_SO_CLONE_WAIT).
 *	EHOSTDOWN    the control mesh has the target down or not connected.
 *	ETIMEDOUT    the target did not acknowledge the clone in time.
 *	ECONNREFUSED nothing listens on the service's port at the target.
 *	EPROTO       the target's stack chose another window-scale shift than
 *	             the original socket announced.
 *	EOPNOTSUPP   the connection uses microsecond timestamps.
 *	ENOMEM       out of memory.
 *	ENOPROTOOPT  (from the kernel, not the module) the dts module is not
 *	             loaded.
 *
 * getsockopt(fd, IPPROTO_IP, DTS_SO_CLONE_WAIT, &st, &len), len at least
 * DTS_CLONE_STATUS_SIZE: waits (bounded, interruptible) until the socket's
 * last clone with a declared response length is fully acknowledged by the
 * client, then fills a struct dts_clone_status. Returns at once if no clone
 * is pending. Errors: ETIMEDOUT (the wait ran out), EINTR (a signal),
 * ENOENT (the socket was never cloned). Same option number as
 * DTS_SO_CLONE, on the get side.
 */
#define DTS_SO_CLONE		3405
#define DTS_SO_CLONE_WAIT	3405

/* Version of struct dts_clone_req. */
#define DTS_CLONE_VERSION	1

/* Size of struct dts_clone_req. */
#define DTS_CLONE_REQ_SIZE	32

/* struct dts_clone_req.flags: resp_len is the response's exact length. */
#define DTS_CLONE_F_RESP_LEN	1u

/* Most ASF bytes (the clone receives them as one segment). */
#define DTS_CLONE_MAX_ASF	8192u

/* Version and size of struct dts_clone_status. */
#define DTS_CLONE_STATUS_VERSION 1
#define DTS_CLONE_STATUS_SIZE	24

/* struct dts_clone_status.state */
#define DTS_CLONE_IDLE		0u	/* no clone is pending */
#define DTS_CLONE_ACTIVE	1u	/* the last clone's response is not through */

/* The argument of DTS_SO_CLONE. */
struct dts_clone_req {
	__u32 version;		/* DTS_CLONE_VERSION */
	__u32 flags;		/* DTS_CLONE_F_RESP_LEN or 0 */
	__u32 target_node;	/* the clone's node, 1..=32, not this node */
	__u32 resp_len;		/* with DTS_CLONE_F_RESP_LEN, else 0 */
	__u64 asf_ptr;		/* address of the ASF */
	__u64 asf_len;		/* its length, 1..=DTS_CLONE_MAX_ASF */
};

/* The answer of DTS_SO_CLONE_WAIT. */
struct dts_clone_status {
	__u32 version;		/* DTS_CLONE_STATUS_VERSION */
	__u32 state;		/* DTS_CLONE_IDLE or DTS_CLONE_ACTIVE */
	__u32 node;		/* the last clone's node */
	__u32 clones;		/* clones made on this connection */
	__u64 cloned_bytes;	/* bytes the clones sent, as acknowledged */
};

/*
 * struct dts_handover_req.flags: owner re-forwarding. The connection was
 * handed in to this node and another node owns the request's content: hand
 * it over again, once. EINVAL if the connection was not handed in, ELOOP if
 * it was itself re-forwarded here (DTS_FLOW_REFORWARDED).
 */
#define DTS_HANDOVER_REFORWARD	1u

/* The argument of DTS_SO_HANDOVER. */
struct dts_handover_req {
	__u32 version;		/* DTS_HANDOVER_VERSION */
	__u32 flags;		/* DTS_HANDOVER_REFORWARD or 0 */
	__u32 dest_node;	/* destination node id, 1..=32, not this node */
	__u32 reserved;		/* 0 */
	__u64 buf_ptr;		/* address of the bytes read */
	__u64 buf_len;		/* their number, <= DTS_HANDOVER_MAX_BUF */
};

#ifdef __cplusplus
#define DTS_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define DTS_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
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
DTS_STATIC_ASSERT(offsetof(struct dts_flow_info, from_node) == 8, "from_node at 8");
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
DTS_STATIC_ASSERT(offsetof(struct dts_clone_status, cloned_bytes) == 16, "cloned_bytes at 16");

/*
 * Hands the connection on fd over to node dest_node; buf/len are the bytes
 * read from fd so far. Returns 0 (then only close(fd)) or -1 with errno set
 * (then the connection is still the caller's), as described above.
 */
static inline int dts_request_handover(int fd, unsigned int dest_node,
				       const void *buf, size_t len)
{
	struct dts_handover_req req;

	req.version = DTS_HANDOVER_VERSION;
	req.flags = 0;
	req.dest_node = dest_node;
	req.reserved = 0;
	req.buf_ptr = (__u64)(uintptr_t)buf;
	req.buf_len = (__u64)len;
	return setsockopt(fd, DTS_SO_LEVEL, DTS_SO_HANDOVER, &req,
			  (socklen_t)sizeof(req));
}

/*
 * Whether the connection on fd was handed over to this node: 1 (and
 * *from_node set, if from_node is not NULL), 0, or -1 with errno set.
 */
static inline int dts_handed_in(int fd, unsigned int *from_node)
{
	struct dts_flow_info info;
	socklen_t len = (socklen_t)sizeof(info);

	if (getsockopt(fd, DTS_SO_LEVEL, DTS_SO_GET_FLOW, &info, &len) != 0)
		return -1;
	if (len < (socklen_t)sizeof(info) || info.version != DTS_FLOW_INFO_VERSION) {
		errno = EPROTO;
		return -1;
	}
	if (from_node)
		*from_node = info.from_node;
	return (info.flags & DTS_FLOW_HANDED_IN) ? 1 : 0;
}

/*
 * Clones the connection on fd to node target_node, whose server receives
 * the len bytes at asf; resp_len is the response's exact length, or a
 * negative number if unknown (EINVAL above 2^32 - 1). Returns 0 or -1 with errno set (then the
 * connection is intact), as described at DTS_SO_CLONE.
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
 * acknowledged (DTS_SO_CLONE_WAIT). Returns 0 (and fills *st if st is not
 * NULL) or -1 with errno set.
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

#endif /* DTS_HANDOVER_H */
