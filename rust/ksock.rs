// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: kernel TCP sockets (the handover connection) and a
//! read-mostly view of a user's TCP socket (the proxy's client connection).
//!
//! Everything here runs in process context and may sleep: it is used by
//! `request_handover` (a `setsockopt()` call), by the control mesh's
//! thread ([`crate::mesh`]) and by a draining node's work item. Two
//! exceptions are called from the packet path (softirq) and never sleep:
//! [`stack_half_open`] and [`stack_has`] (RCU look-ups in the established
//! hash, as the stack's own receive path makes) and [`syncookie_valid`] (a
//! computation), the filter's pickup of a client whose entry was dropped
//! early and the Socket Cloning router's tracking of a connection.
//!
//! Locks: a user socket's own lock (`lock_sock()`, `UserTcp`'s reads of its
//! sequence and option state), with nothing of the module's taken under it.

use core::ffi::c_int;
use core::ptr::{addr_of_mut, read_volatile, NonNull};
use kernel::bindings;
use kernel::prelude::*;

/// `sizeof(struct sockaddr_in)`.
const SIN_LEN: c_int = core::mem::size_of::<bindings::sockaddr_in>() as c_int;

fn sockaddr(addr: u32, port: u16) -> bindings::sockaddr_in {
    bindings::sockaddr_in {
        sin_family: bindings::AF_INET as _,
        sin_port: port.to_be(),
        sin_addr: bindings::in_addr {
            s_addr: addr.to_be(),
        },
        __pad: [0; 8],
    }
}

/// The kernel error for the positive errno `n` (for the networking errnos
/// the `kernel` crate does not name).
pub(crate) fn errno(n: u32) -> Error {
    Error::from_errno(-(n as c_int))
}

/// Whether `e` is the positive errno `n`.
pub(crate) fn is(e: Error, n: u32) -> bool {
    e.to_errno() == -(n as c_int)
}

fn check(ret: c_int) -> Result<c_int> {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(ret)
    }
}

/// A kernel TCP socket in `init_net` that holds a reference on it (as a
/// user's socket does), released on drop.
///
/// # Invariants
///
/// `sock`: a socket created by `sock_create_kern()` and not released.
pub(crate) struct KSock {
    sock: NonNull<bindings::socket>,
}

impl KSock {
    /// Creates an IPv4 TCP socket. Process context.
    pub(crate) fn tcp() -> Result<Self> {
        let mut sock: *mut bindings::socket = core::ptr::null_mut();
        // SAFETY: `init_net` is the always-present initial namespace; `sock`
        // is a valid out-pointer.
        let ret = unsafe {
            bindings::sock_create_kern(
                addr_of_mut!(bindings::init_net),
                bindings::AF_INET as c_int,
                bindings::sock_type_SOCK_STREAM as c_int,
                bindings::IPPROTO_TCP as c_int,
                &mut sock,
            )
        };
        check(ret)?;
        // INVARIANT: on success `sock` is a new, unreleased socket.
        let ks = Self {
            sock: NonNull::new(sock).ok_or(ENOMEM)?,
        };
        // A kernel socket holds no reference on its namespace, so
        // `tcp_close()` stops its timers for good (6.12: "tcp: properly
        // terminate timers for kernel sockets"): released after its FIN, it
        // would stay an orphan in FIN-WAIT-1 that never retransmits and
        // never times out. With the reference it lives on like a user's
        // socket: the FIN is retransmitted, the destination's stack answers
        // the retransmit with an RST (see `pure::fcb::plan`), or the orphan
        // times out.
        // SAFETY: `sk` is a new socket that no one else uses or has locked
        // yet, as `sk_net_refcnt_upgrade()` requires.
        unsafe { bindings::sk_net_refcnt_upgrade(ks.sk()) };
        Ok(ks)
    }

    fn sk(&self) -> *mut bindings::sock {
        // SAFETY: `sock` is valid (type invariant); an inet socket always
        // has its `sk`.
        unsafe { (*self.sock.as_ptr()).sk }
    }

    /// Binds to `addr:port` (port 0: an ephemeral port, allocated now).
    pub(crate) fn bind(&self, addr: u32, port: u16) -> Result {
        let mut sin = sockaddr(addr, port);
        // SAFETY: the socket is valid; `sin` is a `sockaddr_in` of `SIN_LEN`
        // bytes that lives across the call.
        check(unsafe { bindings::kernel_bind(self.sock.as_ptr(), (&raw mut sin).cast(), SIN_LEN) })
            .map(|_| ())
    }

    /// Releases the socket with an abortive close (RST, no FIN).
    pub(crate) fn abort(self) {
        // SAFETY: `sk` is valid; `sock_no_linger()` takes the socket lock.
        unsafe { bindings::sock_no_linger(self.sk()) };
        drop(self);
    }
}

/// A socket callback (`sk_data_ready`, `sk_state_change`,
/// `sk_write_space`).
pub(crate) type SockCb = Option<unsafe extern "C" fn(sk: *mut bindings::sock)>;

/// The `(sk_data_ready, sk_state_change, sk_write_space)` callbacks of a
/// socket.
#[derive(Clone, Copy)]
pub(crate) struct Callbacks {
    pub(crate) data_ready: SockCb,
    pub(crate) state_change: SockCb,
    /// Called when send-buffer space frees up after a send that found the
    /// buffer full (`SOCK_NOSPACE`).
    pub(crate) write_space: SockCb,
}

/// Non-blocking operations for the control mesh. Process context (the mesh
/// thread), which is the only user of these sockets.
impl KSock {
    /// Lets a listener bind an address whose old connections linger in
    /// TIME-WAIT (after a configuration change or a module reload).
    pub(crate) fn set_reuseaddr(&self) {
        // SAFETY: `sk` is valid; the function takes the socket lock.
        unsafe { bindings::sock_set_reuseaddr(self.sk()) };
    }

    /// Sends small messages at once (`TCP_NODELAY`).
    pub(crate) fn set_nodelay(&self) {
        // SAFETY: `sk` is a valid TCP socket; the function takes the lock.
        unsafe { bindings::tcp_sock_set_nodelay(self.sk()) };
    }

    /// Starts listening with a backlog of `backlog`.
    pub(crate) fn listen(&self, backlog: c_int) -> Result {
        // SAFETY: the socket is valid and bound.
        check(unsafe { bindings::kernel_listen(self.sock.as_ptr(), backlog) }).map(|_| ())
    }

    /// Accepts one pending connection, `None` if there is none.
    pub(crate) fn accept(&self) -> Result<Option<KSock>> {
        let mut new: *mut bindings::socket = core::ptr::null_mut();
        // SAFETY: the socket is a valid listener; `new` is a valid
        // out-pointer.
        let ret = unsafe {
            bindings::kernel_accept(self.sock.as_ptr(), &mut new, bindings::O_NONBLOCK as c_int)
        };
        match check(ret) {
            // INVARIANT: on success `new` is a new, unreleased socket.
            Ok(_) => Ok(NonNull::new(new).map(|sock| KSock { sock })),
            Err(e) if e == EAGAIN => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts connecting to `addr:port` without waiting. `Ok` once the SYN
    /// left (or the connection is already up); see [`KSock::tcp_state`].
    pub(crate) fn connect_start(&self, addr: u32, port: u16) -> Result {
        let mut sin = sockaddr(addr, port);
        // SAFETY: as in `bind`.
        let ret = unsafe {
            bindings::kernel_connect(
                self.sock.as_ptr(),
                (&raw mut sin).cast(),
                SIN_LEN,
                bindings::O_NONBLOCK as c_int,
            )
        };
        match check(ret) {
            Ok(_) => Ok(()),
            Err(e) if is(e, bindings::EINPROGRESS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The TCP state (`TCP_ESTABLISHED`, ...) and the pending socket error
    /// (positive errno, 0 if none), read without the lock.
    pub(crate) fn tcp_state(&self) -> (u8, i32) {
        let sk = self.sk();
        // SAFETY: `sk` is valid; volatile loads as `READ_ONCE()`.
        unsafe { (sk_state(sk), read_volatile(&raw const (*sk).sk_err)) }
    }

    /// The remote IPv4 address (host order) of a connected socket.
    pub(crate) fn peer_addr(&self) -> Result<u32> {
        let mut sin = sockaddr(0, 0);
        // SAFETY: the socket is valid; `sin` has room for a `sockaddr_in`.
        check(unsafe { bindings::kernel_getpeername(self.sock.as_ptr(), (&raw mut sin).cast()) })?;
        Ok(u32::from_be(sin.sin_addr.s_addr))
    }

    /// Receives what is there into `buf` without waiting: `Ok(0)` at the
    /// end of the stream, `EAGAIN` if nothing is there.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Err(errno(bindings::ENOBUFS));
        }
        let mut iov = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: all-zero is a valid empty `msghdr`.
        let mut msg: bindings::msghdr = unsafe { core::mem::zeroed() };
        // SAFETY: the socket is valid; `iov` describes `buf`, writable and
        // alive across the call.
        let ret = unsafe {
            bindings::kernel_recvmsg(
                self.sock.as_ptr(),
                &mut msg,
                &mut iov,
                1,
                buf.len(),
                bindings::MSG_DONTWAIT as c_int,
            )
        };
        usize::try_from(check(ret)?).map_err(|_| EIO)
    }

    /// Sends as much of `data` as fits without waiting; returns how much
    /// (`EAGAIN` if nothing fits).
    pub(crate) fn send(&self, data: &[u8]) -> Result<usize> {
        let mut iov = bindings::kvec {
            iov_base: data.as_ptr() as *mut _,
            iov_len: data.len(),
        };
        // SAFETY: all-zero is a valid empty `msghdr`.
        let mut msg: bindings::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_flags = (bindings::MSG_NOSIGNAL | bindings::MSG_DONTWAIT) as _;
        // SAFETY: the socket is valid; `iov` describes `data`, which
        // outlives the call and is only read.
        let ret = unsafe {
            bindings::kernel_sendmsg(self.sock.as_ptr(), &mut msg, &mut iov, 1, data.len())
        };
        usize::try_from(check(ret)?).map_err(|_| EIO)
    }

    /// Makes the socket's release abortive (RST, no FIN).
    pub(crate) fn set_no_linger(&self) {
        // SAFETY: `sk` is valid; `sock_no_linger()` takes the socket lock.
        unsafe { bindings::sock_no_linger(self.sk()) };
    }

    /// Installs `cb` as the socket's callbacks and returns the ones it
    /// replaces.
    pub(crate) fn swap_callbacks(&self, cb: Callbacks) -> Callbacks {
        let sk = self.sk();
        // SAFETY: `sk` is valid. The callbacks are read by the stack under
        // `sk_callback_lock` or as single pointer loads, so writing them
        // under the write lock (bottom halves off) is how every in-kernel
        // socket user swaps them.
        unsafe {
            bindings::write_lock_bh(&raw mut (*sk).sk_callback_lock);
            let old = Callbacks {
                data_ready: (*sk).sk_data_ready,
                state_change: (*sk).sk_state_change,
                write_space: (*sk).sk_write_space,
            };
            (*sk).sk_data_ready = cb.data_ready;
            (*sk).sk_state_change = cb.state_change;
            (*sk).sk_write_space = cb.write_space;
            bindings::write_unlock_bh(&raw mut (*sk).sk_callback_lock);
            old
        }
    }
}

impl Drop for KSock {
    fn drop(&mut self) {
        // SAFETY: the socket is valid and released exactly once; a connected
        // TCP socket lives on as an orphan until its FIN is done.
        unsafe { bindings::sock_release(self.sock.as_ptr()) };
    }
}

/// The TCP state numbers this module needs.
pub(crate) const TCP_ESTABLISHED: u8 = bindings::TCP_ESTABLISHED as u8;
/// `TCP_LISTEN`.
pub(crate) const TCP_LISTEN: u8 = bindings::TCP_LISTEN as u8;
/// `TCP_CLOSE`.
pub(crate) const TCP_CLOSE: u8 = bindings::TCP_CLOSE as u8;

/// What a clone or a handover needs of the original socket
/// ([`UserTcp::clone_state`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CloneSnap {
    pub(crate) state: u8,
    pub(crate) copied_seq: u32,
    pub(crate) bytes_received: u64,
    pub(crate) rcv_nxt: u32,
    pub(crate) snd_una: u32,
    pub(crate) snd_nxt: u32,
    pub(crate) write_seq: u32,
    /// The client's window (bytes, scaled).
    pub(crate) snd_wnd: u32,
    /// This socket's receive window (bytes).
    pub(crate) rcv_wnd: u32,
    /// The client's MSS.
    pub(crate) mss_clamp: u16,
    /// The client's window-scale shift.
    pub(crate) snd_wscale: u8,
    /// This socket's window-scale shift.
    pub(crate) rcv_wscale: u8,
    pub(crate) wscale_ok: bool,
    pub(crate) sack_ok: bool,
    pub(crate) tstamp_ok: bool,
    /// The client's last TSval.
    pub(crate) ts_recent: u32,
    /// The socket's timestamp offset (its TSval is the millisecond clock
    /// plus this).
    pub(crate) tsoffset: u32,
    /// The connection's timestamps count microseconds (`tcp_usec_ts`, a
    /// route option), not milliseconds.
    pub(crate) usec_ts: bool,
}

/// A user's TCP socket, borrowed for the duration of a `setsockopt()` call
/// on it (the caller holds a reference to the file, hence to the socket).
///
/// # Invariants
///
/// `sk`: a valid `struct sock` for the lifetime of this value.
pub(crate) struct UserTcp {
    sk: NonNull<bindings::sock>,
}

impl UserTcp {
    /// Wraps `sk` if it is an IPv4 TCP stream socket.
    ///
    /// # Safety
    ///
    /// `sk` must be valid for the lifetime of the returned value (it is the
    /// socket of an ongoing `setsockopt()` call).
    pub(crate) unsafe fn new(sk: *mut bindings::sock) -> Result<Self> {
        let sk = NonNull::new(sk).ok_or(EINVAL)?;
        // SAFETY: `sk` is valid per the function contract.
        let (family, ty, proto) = unsafe {
            let s = sk.as_ptr();
            ((*s).__sk_common.skc_family, (*s).sk_type, (*s).sk_protocol)
        };
        if u32::from(family) != bindings::AF_INET
            || u32::from(ty) != bindings::sock_type_SOCK_STREAM
            || u32::from(proto) != bindings::IPPROTO_TCP
        {
            return Err(EINVAL);
        }
        Ok(Self { sk })
    }

    /// `(local addr, local port, remote addr, remote port)`, host order.
    pub(crate) fn tuple(&self) -> (u32, u16, u32, u16) {
        let sk = self.sk.as_ptr();
        // SAFETY: `sk` is valid (type invariant); the addresses and ports of
        // a connected socket do not change, and the helpers read one field
        // each.
        unsafe {
            (
                u32::from_be(bindings::sk_rcv_saddr(sk)),
                bindings::sk_num(sk),
                u32::from_be(bindings::sk_daddr(sk)),
                u16::from_be(bindings::sk_dport(sk)),
            )
        }
    }

    /// The TCP state (`TCP_ESTABLISHED`, ...), read without the lock.
    pub(crate) fn tcp_state(&self) -> u8 {
        // SAFETY: `sk` is valid (type invariant).
        unsafe { sk_state(self.sk.as_ptr()) }
    }

    /// Runs `f` with the socket and its TCP state under the socket lock,
    /// after running the segments queued in its backlog while it was owned
    /// (taking and releasing the lock does that). Process context.
    fn locked<R>(&self, f: impl FnOnce(*mut bindings::sock, *mut bindings::tcp_sock) -> R) -> R {
        let sk = self.sk.as_ptr();
        // SAFETY: `sk` is valid (type invariant); process context.
        unsafe {
            bindings::lock_sock(sk);
            bindings::release_sock(sk);
            bindings::lock_sock(sk);
        }
        // SAFETY: `sk` is a TCP socket (checked by `new`).
        let r = f(sk, unsafe { bindings::tcp_sk(sk) });
        // SAFETY: taken above.
        unsafe { bindings::release_sock(sk) };
        r
    }

    /// Reads, under the socket lock (after running its backlog), what a
    /// clone of the connection needs (Socket Cloning, `crate::sc`).
    pub(crate) fn clone_state(&self) -> CloneSnap {
        // SAFETY: `locked` holds the socket lock while the closure runs,
        // so the fields are stable; the pointers are valid.
        self.locked(|sk, tp| unsafe {
            let o = &(*tp).rx_opt;
            CloneSnap {
                state: (*sk).__sk_common.skc_state,
                copied_seq: (*tp).copied_seq,
                bytes_received: (*tp).bytes_received,
                rcv_nxt: (*tp).rcv_nxt,
                snd_una: (*tp).snd_una,
                snd_nxt: (*tp).snd_nxt,
                write_seq: (*tp).write_seq,
                snd_wnd: (*tp).snd_wnd,
                rcv_wnd: (*tp).rcv_wnd,
                mss_clamp: o.mss_clamp,
                snd_wscale: o.snd_wscale() as u8,
                rcv_wscale: o.rcv_wscale() as u8,
                wscale_ok: o.wscale_ok() != 0,
                sack_ok: o.sack_ok() != 0,
                tstamp_ok: o.tstamp_ok() != 0,
                ts_recent: o.ts_recent,
                tsoffset: (*tp).tsoffset,
                usec_ts: (*tp).tcp_usec_ts() != 0,
            }
        })
    }

    /// Appends `n` bytes to `out` and fills them with the first `n` unread
    /// bytes of the receive queue, without consuming them (`MSG_PEEK`).
    /// Returns how many were copied.
    pub(crate) fn peek_unread(&self, n: usize, out: &mut KVec<u8>) -> Result<usize> {
        if n == 0 {
            return Ok(0);
        }
        let start = out.len();
        out.extend_with(n, 0, GFP_KERNEL)?;
        let buf = out.as_mut_slice().get_mut(start..).ok_or(EINVAL)?;
        let mut iov = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: n,
        };
        // SAFETY: `sk` is valid (type invariant); a pointer load like
        // `READ_ONCE()`.
        let sock = unsafe { read_volatile(&raw const (*self.sk.as_ptr()).sk_socket) };
        if sock.is_null() {
            // Orphaned (its application closed it): nothing to read with.
            return Err(EBUSY);
        }
        // SAFETY: all-zero is a valid empty `msghdr`.
        let mut msg: bindings::msghdr = unsafe { core::mem::zeroed() };
        // SAFETY: `sock` is the socket of `sk`, whose file the caller holds
        // (the only callers that get here with `n > 0` are `setsockopt()`
        // calls on that very socket: a draining node's eviction refuses a
        // connection with unread bytes before, `crate::handoff::drain`);
        // `iov` describes `n` writable bytes of `out`.
        let ret = unsafe {
            bindings::kernel_recvmsg(
                sock,
                &mut msg,
                &mut iov,
                1,
                n,
                (bindings::MSG_PEEK | bindings::MSG_DONTWAIT) as c_int,
            )
        };
        let got = match check(ret) {
            Ok(r) => usize::try_from(r).map_err(|_| EIO)?,
            Err(e) if e == EAGAIN => 0,
            Err(e) => return Err(e),
        };
        // A short read leaves zeros at the end of `out`; the caller refuses
        // it (the unread queue must be handed over whole).
        Ok(got)
    }

    /// Makes the socket's close abortive and silent towards the module's
    /// filter: `SO_LINGER` with a zero timeout (the RST is dropped).
    pub(crate) fn no_linger(&self) {
        // SAFETY: `sk` is valid; process context; takes the socket lock.
        unsafe { bindings::sock_no_linger(self.sk.as_ptr()) };
    }
}

/// The TCP state of `sk` (`skc_state`: `TCP_ESTABLISHED`, ...), read
/// without its lock: a volatile byte load, as `READ_ONCE()`.
///
/// # Safety
///
/// `sk` is valid to read: a socket the caller owns or holds a reference
/// to, of any kind the established hash holds (a full, request or
/// time-wait socket: each starts with a `sock_common`).
unsafe fn sk_state(sk: *const bindings::sock) -> u8 {
    // SAFETY: `sk` is valid to read (the function's contract).
    unsafe { read_volatile(&raw const (*sk).__sk_common.skc_state) }
}

/// The socket of `init_net`'s established hash (a full, request or
/// time-wait one) whose local end is `laddr:lport` and remote end
/// `raddr:rport` (host order), with a reference taken that the caller
/// releases (`sock_gen_put()`), and its state. Any context: the look-up is
/// RCU-protected, as the stack's own receive path's.
fn lookup_established(
    laddr: u32,
    lport: u16,
    raddr: u32,
    rport: u16,
) -> Option<(NonNull<bindings::sock>, u8)> {
    let net = addr_of_mut!(bindings::init_net);
    // SAFETY: `init_net` is always present; its TCP's established hash
    // (`ipv4.tcp_death_row.hashinfo`, set when the namespace was made)
    // never changes.
    let hashinfo = unsafe { (*net).ipv4.tcp_death_row.hashinfo };
    let guard = crate::rcu::Guard::new();
    // SAFETY: `net` and `hashinfo` are `init_net`'s (above); the look-up
    // runs inside an RCU read-side section (`guard`) as it requires, and
    // returns a socket with a reference taken, or null.
    let sk = unsafe {
        bindings::__inet_lookup_established(
            net,
            hashinfo,
            raddr.to_be(),
            rport.to_be(),
            laddr.to_be(),
            lport,
            0,
            0,
        )
    };
    drop(guard);
    let sk = NonNull::new(sk)?;
    // SAFETY: `sk` holds a reference (above), and is of a kind the
    // established hash holds.
    let state = unsafe { sk_state(sk.as_ptr()) };
    Some((sk, state))
}

/// Whether this node's stack has answered the SYN of the TCP connection
/// whose local end is `laddr:lport` and remote end `raddr:rport` (host
/// order), in `init_net`, and waits for the handshake's end: it holds a
/// request socket for it (`TCP_NEW_SYN_RECV`). Any other socket does not
/// count: a full one that lingers after its connection was handed over
/// must never get the client's segments again. Any context: the look-up is
/// RCU-protected, as the stack's own receive path's.
pub(crate) fn stack_half_open(laddr: u32, lport: u16, raddr: u32, rport: u16) -> bool {
    stack_state(laddr, lport, raddr, rport) == Some(bindings::TCP_NEW_SYN_RECV as u8)
}

/// Whether this node's stack has the TCP connection whose local end is
/// `laddr:lport` and remote end `raddr:rport` (host order), in `init_net`:
/// a full socket (in any state but `TIME_WAIT`) or a request socket that
/// waits for the handshake's end. Any context: the look-up is
/// RCU-protected, as the stack's own receive path's.
pub(crate) fn stack_has(laddr: u32, lport: u16, raddr: u32, rport: u16) -> bool {
    stack_state(laddr, lport, raddr, rport).is_some_and(|st| st != bindings::TCP_TIME_WAIT as u8)
}

/// Runs the backlog of the full socket of `init_net`'s established hash
/// whose local end is `laddr:lport` and remote end `raddr:rport` (host
/// order), if there is one: a segment delivered to it while a system call
/// of its owner held its lock (an RST that ends it, say) waits in the
/// backlog until the lock is released, and taking and releasing the lock
/// runs it now. Returns whether a full socket is still there afterwards.
/// Request and time-wait sockets have no backlog: they are left alone and
/// do not count. Process context: sleeps on the socket lock while its
/// owner holds it; the caller holds no spinlock.
pub(crate) fn run_backlog(laddr: u32, lport: u16, raddr: u32, rport: u16) -> bool {
    let Some((sk, state)) = lookup_established(laddr, lport, raddr, rport) else {
        return false;
    };
    let full = state != bindings::TCP_TIME_WAIT as u8 && state != bindings::TCP_NEW_SYN_RECV as u8;
    if full {
        // SAFETY: `sk` is a full socket (a full socket's state is never
        // `TCP_TIME_WAIT` or `TCP_NEW_SYN_RECV`: those are other objects)
        // that the look-up's reference keeps; process context, no spinlock
        // held (see above).
        unsafe {
            bindings::lock_sock(sk.as_ptr());
            bindings::release_sock(sk.as_ptr());
        }
    }
    let still = full && {
        // SAFETY: as in `lookup_established`: referenced, of a kind the
        // established hash holds.
        let now = unsafe { sk_state(sk.as_ptr()) };
        now != bindings::TCP_CLOSE as u8
    };
    // SAFETY: the look-up's reference, released once (`sock_gen_put()`
    // releases any kind of socket the established hash holds).
    unsafe { bindings::sock_gen_put(sk.as_ptr()) };
    still
}

/// The state of the socket of `init_net`'s established hash (a full,
/// request or time-wait one) whose local end is `laddr:lport` and remote
/// end `raddr:rport` (host order), if there is one; the look-up's
/// reference is released. Any context ([`lookup_established`]).
fn stack_state(laddr: u32, lport: u16, raddr: u32, rport: u16) -> Option<u8> {
    let (sk, state) = lookup_established(laddr, lport, raddr, rport)?;
    // SAFETY: the look-up's reference, released once (`sock_gen_put()`
    // releases any kind of socket the established hash holds).
    unsafe { bindings::sock_gen_put(sk.as_ptr()) };
    Some(state)
}

/// Whether a segment from `raddr:rport` to `laddr:lport` (host order) with
/// sequence number `seq` and acknowledgement number `ack` completes a
/// handshake this node's stack answered with a SYN cookie (its listener's
/// queue was full): `__cookie_v4_check()`, the check the stack makes when
/// that segment reaches it. Any context.
pub(crate) fn syncookie_valid(
    laddr: u32,
    lport: u16,
    raddr: u32,
    rport: u16,
    seq: u32,
    ack: u32,
) -> bool {
    /// An IPv4 header and a TCP header, as on the wire.
    #[repr(C, align(4))]
    struct Headers {
        ip: [u8; 20],
        tcp: [u8; 20],
    }
    let mut h = Headers {
        ip: [0; 20],
        tcp: [0; 20],
    };
    h.ip[0] = 0x45;
    h.ip[9] = bindings::IPPROTO_TCP as u8;
    h.ip[12..16].copy_from_slice(&raddr.to_be_bytes());
    h.ip[16..20].copy_from_slice(&laddr.to_be_bytes());
    h.tcp[0..2].copy_from_slice(&rport.to_be_bytes());
    h.tcp[2..4].copy_from_slice(&lport.to_be_bytes());
    h.tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    h.tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    h.tcp[12] = 5 << 4;
    h.tcp[13] = crate::pure::tcp::TCP_FLAG_ACK;
    // SAFETY: `h.ip` and `h.tcp` are an IPv4 and a TCP header in network
    // order, 4-byte aligned (`repr(align(4))`, each field a multiple of 4
    // bytes long), alive for the call; the function only reads their
    // addresses, ports and sequence numbers.
    unsafe {
        bindings::__cookie_v4_check(
            h.ip.as_ptr().cast::<bindings::iphdr>(),
            h.tcp.as_ptr().cast::<bindings::tcphdr>(),
        ) != 0
    }
}

/// An established TCP socket of this host found by its addresses
/// ([`HeldTcp::lookup`]), with a reference on it, released on drop: the
/// socket of a connection an application (nginx, the proxy) holds, which a
/// draining node hands over (`crate::handoff::drain`).
///
/// # Invariants
///
/// `sk`: a full TCP socket (not a request or time-wait one) on which this
/// value holds one reference, taken by `__inet_lookup_established()`.
pub(crate) struct HeldTcp {
    sk: NonNull<bindings::sock>,
}

impl HeldTcp {
    /// The established TCP socket whose local end is `laddr:lport` and
    /// remote end `raddr:rport` (host order), in `init_net`; `None` if
    /// there is none, or it is not established. Process context.
    pub(crate) fn lookup(laddr: u32, lport: u16, raddr: u32, rport: u16) -> Option<Self> {
        let (sk, state) = lookup_established(laddr, lport, raddr, rport)?;
        if state != TCP_ESTABLISHED {
            // SAFETY: the reference taken by the look-up, released once;
            // `sock_gen_put()` releases any kind of socket the established
            // hash holds (request and time-wait ones included).
            unsafe { bindings::sock_gen_put(sk.as_ptr()) };
            return None;
        }
        // INVARIANT: an established socket is a full one; the reference is
        // the look-up's.
        Some(Self { sk })
    }

    /// Runs `f` with the socket as a [`UserTcp`]. Process context.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&UserTcp) -> Result<R>) -> Result<R> {
        // SAFETY: `self` holds a reference on `sk` (type invariant) for as
        // long as `f` runs; the `UserTcp` does not outlive this call.
        let u = unsafe { UserTcp::new(self.sk.as_ptr()) }?;
        f(&u)
    }

    /// Aborts the connection under its application: the application's
    /// next call on the socket fails with `err` (`ECONNABORTED`), and the
    /// stack forgets it (its RST is the module's filter's to drop: the
    /// connection was handed over). Process context; takes the socket
    /// lock.
    pub(crate) fn abort(&self, err: u32) {
        // SAFETY: `sk` is a full TCP socket with a reference held (type
        // invariant); `tcp_abort()` takes the socket lock itself, and a
        // socket closed meanwhile is answered with `-ENOENT`, which changes
        // nothing.
        let _ = unsafe { bindings::tcp_abort(self.sk.as_ptr(), err as c_int) };
    }
}

impl Drop for HeldTcp {
    fn drop(&mut self) {
        // SAFETY: the reference this value holds (type invariant), released
        // once.
        unsafe { bindings::sock_gen_put(self.sk.as_ptr()) };
    }
}

// SAFETY: a socket reference may be released from any thread.
unsafe impl Send for HeldTcp {}
