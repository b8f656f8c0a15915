// SPDX-License-Identifier: GPL-2.0

//! One mesh connection ([`Conn`]): its socket, with the callbacks every
//! mesh socket gets ([`OURS`]: they ring the thread's doorbell), where it
//! is in the HELLO exchange ([`Phase`]), its receive and send buffers
//! ([`ByteBuf`]), its framing ([`Conn::queue`], [`Conn::flush`],
//! [`Conn::fill`]), the messages it delivers ([`In`]) and why it ends
//! ([`Close`]); and the timing of every connection: the reconnection
//! backoff and the HELLO timeout. What the thread does with a connection's
//! frames is in `rx.rs`; how it opens, accepts and drops one, in
//! `links.rs`.
//!
//! Contexts: the mesh thread (process context) for everything but
//! [`on_sock_event`], which the network stack calls in softirq or process
//! context, under the socket's lock. Locks: [`on_sock_event`] takes
//! `dts_mesh_wake` ([`wake`]) under the socket's lock, as the lock order
//! allows; the socket calls take the mesh socket's own lock, and
//! [`KSock::swap_callbacks`] its `sk_callback_lock`, with nothing of the
//! module's held.

use core::sync::atomic::Ordering;
use kernel::bindings;
use kernel::prelude::*;

use crate::ksock::{Callbacks, KSock};
use crate::pure::abi::Counter;
use crate::pure::hmac::{Exchange, NONCE_LEN};
use crate::pure::homsg::HandoverAck;
use crate::pure::mesh::{
    self as wire, Closed, Drain, Frame, FrameError, Heartbeat, Hello, HelloAck, HelloProof, Load,
    Msg, RxCheck,
};
use crate::stats;
use crate::wake::wake;

use super::member::peer_stats;

/// First reconnection delay.
pub(super) const BACKOFF_MIN_MS: u64 = 100;
/// Longest reconnection delay.
pub(super) const BACKOFF_MAX_MS: u64 = 2000;
/// How long a connection may take to connect and exchange HELLOs.
pub(super) const HELLO_TIMEOUT_MS: u64 = 3000;
/// Room for frames waiting to be sent on one connection.
const TX_CAP: usize = 4 * wire::MAX_FRAME;

/// The socket callback of every mesh socket: data, a new connection, a
/// state change or send-buffer space. Softirq or process context.
///
/// # Safety
///
/// Called by the network stack with a valid socket (unused).
unsafe extern "C" fn on_sock_event(_sk: *mut bindings::sock) {
    wake();
}

/// Our callbacks.
///
/// `sk_write_space` replaces the stack's `sk_stream_write_space()`, which
/// would wake the socket's waiters (there are none: the thread never
/// blocks on a mesh socket) and clear `SOCK_NOSPACE` (not exported to
/// modules). Left set, that flag only makes later ACKs on the connection
/// call this again: a spare wake-up of the thread, which then finds
/// nothing to send.
pub(super) const OURS: Callbacks = Callbacks {
    data_ready: Some(on_sock_event),
    state_change: Some(on_sock_event),
    write_space: Some(on_sock_event),
};

/// A byte buffer with a consumed prefix (for the receive and send sides of
/// a connection).
pub(super) struct ByteBuf {
    buf: KVVec<u8>,
    start: usize,
    end: usize,
}

impl ByteBuf {
    fn new(cap: usize) -> Result<Self> {
        let mut buf = KVVec::with_capacity(cap, GFP_KERNEL)?;
        buf.extend_with(cap, 0, GFP_KERNEL)?;
        Ok(Self {
            buf,
            start: 0,
            end: 0,
        })
    }

    pub(super) fn data(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The free room at the end, after moving the data to the front.
    fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let end = self.end;
        self.buf.get_mut(end..).unwrap_or(&mut [])
    }

    fn commit(&mut self, n: usize) {
        self.end = self.end.saturating_add(n).min(self.buf.len());
    }
}

/// Where a connection is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Ours, the SYN left.
    Connecting,
    /// Ours, HELLO sent, waiting for HELLO-ACK.
    HelloSent,
    /// Accepted, waiting for HELLO.
    AwaitHello,
    /// Accepted, HELLO-ACK (with our proof) sent, waiting for the
    /// connecting node's HELLO-PROOF.
    AwaitProof,
    /// HELLOs exchanged.
    Established,
}

/// One mesh connection.
pub(super) struct Conn {
    pub(super) sock: KSock,
    /// The callbacks to put back before the socket is released.
    old: Callbacks,
    pub(super) phase: Phase,
    pub(super) peer_addr: u32,
    /// The peer's node id (0 until an accepted connection's HELLO).
    pub(super) peer: u8,
    pub(super) since: u64,
    pub(super) rx: ByteBuf,
    tx: ByteBuf,
    pub(super) check: RxCheck,
    tx_seq: u32,
    /// Reset (RST) instead of closing (FIN) when dropped.
    pub(super) reset: bool,
    /// Ours: the nonce our HELLO carried.
    pub(super) nonce: [u8; NONCE_LEN],
    /// Accepted, in [`Phase::AwaitProof`]: the exchange the connecting
    /// node's proof must cover (its claimed id is `connector`).
    pub(super) exchange: Option<Exchange>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.sock.swap_callbacks(self.old);
        if self.reset {
            self.sock.set_no_linger();
        }
    }
}

/// A received message, copied out of the receive buffer.
pub(super) enum In {
    Hello(Hello),
    HelloAck(HelloAck),
    HelloProof(HelloProof),
    Heartbeat(Heartbeat),
    Load(Load),
    Closed(Closed),
    Drain(Drain),
    /// SC-CLONE (Socket Cloning): the payload, `None` if it could not be
    /// copied (out of memory: answered as such).
    ScClone(Option<KVec<u8>>),
    /// SC-ACK: the payload (at most `scmsg::ACK_LEN` bytes are meaningful;
    /// anything else is refused by the feature, [`Upcalls::sc_ack`]).
    ///
    /// [`Upcalls::sc_ack`]: super::upcalls::Upcalls::sc_ack
    ScAck(KVec<u8>),
    /// SC-LEN: the payload (checked by the feature, [`Upcalls::sc_len`]).
    ///
    /// [`Upcalls::sc_len`]: super::upcalls::Upcalls::sc_len
    ScLen(KVec<u8>),
    /// SC-RELEASE: the payload (checked by the feature,
    /// [`Upcalls::sc_release`]).
    ///
    /// [`Upcalls::sc_release`]: super::upcalls::Upcalls::sc_release
    ScRelease(KVec<u8>),
    /// HANDOVER: the payload, `None` if it could not be copied (out of
    /// memory: answered as such).
    Handover(Option<KVec<u8>>),
    /// HANDOVER-ACK, `None` if malformed (refused).
    HandoverAck(Option<HandoverAck>),
}

/// A copy of `p`, or `None` without memory. Process context.
fn copy_payload(p: &[u8]) -> Option<KVec<u8>> {
    let mut v = KVec::new();
    v.extend_from_slice(p, GFP_KERNEL).ok()?;
    Some(v)
}

impl From<&Frame<'_>> for In {
    fn from(f: &Frame<'_>) -> Self {
        match f.msg {
            Msg::Hello(h) => Self::Hello(h),
            Msg::HelloAck(a) => Self::HelloAck(a),
            Msg::HelloProof(p) => Self::HelloProof(p),
            Msg::Heartbeat(h) => Self::Heartbeat(h),
            Msg::Load(l) => Self::Load(l),
            Msg::Closed(c) => Self::Closed(c),
            Msg::Drain(d) => Self::Drain(d),
            Msg::ScClone(p) => Self::ScClone(copy_payload(p)),
            Msg::ScAck(p) => Self::ScAck(copy_payload(p).unwrap_or_default()),
            Msg::ScLen(p) => Self::ScLen(copy_payload(p).unwrap_or_default()),
            Msg::ScRelease(p) => Self::ScRelease(copy_payload(p).unwrap_or_default()),
            Msg::Handover(p) => Self::Handover(copy_payload(p)),
            Msg::HandoverAck(p) => Self::HandoverAck(HandoverAck::decode(p).ok()),
        }
    }
}

/// Why a connection is closed.
pub(super) enum Close {
    /// The peer closed it.
    Eof,
    /// A socket error.
    Error,
    /// A malformed or unexpected frame (counted).
    Bad(FrameError),
    /// The HELLO exchange failed (counted).
    Refused,
    /// The peer's proof of the mesh key did not check (counted when
    /// closed: [`Counter::MeshAuthFailed`]).
    AuthFailed,
    /// Our side gives up (timeout).
    Timeout,
}

pub(super) fn frame_counter(e: FrameError) -> Counter {
    match e {
        FrameError::BadMagic => Counter::MeshBadMagic,
        FrameError::BadVersion => Counter::MeshBadVersion,
        FrameError::BadHeader => Counter::MeshBadHeader,
        FrameError::TooLong => Counter::MeshTooLong,
        FrameError::UnknownType => Counter::MeshUnknownType,
        FrameError::BadLength => Counter::MeshBadLength,
        FrameError::BadPayload => Counter::MeshBadPayload,
        FrameError::BadSequence => Counter::MeshBadSequence,
        FrameError::Truncated => Counter::MeshTruncated,
    }
}

impl Conn {
    pub(super) fn new(
        sock: KSock,
        old: Callbacks,
        phase: Phase,
        peer_addr: u32,
        peer: u8,
        now: u64,
    ) -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                sock,
                old,
                phase,
                peer_addr,
                peer,
                since: now,
                rx: ByteBuf::new(wire::MAX_FRAME)?,
                tx: ByteBuf::new(TX_CAP)?,
                check: RxCheck::new(if peer == 0 { None } else { Some(peer) }),
                // SAFETY: `get_random_u32()` may be called from any context.
                tx_seq: unsafe { bindings::get_random_u32() },
                reset: false,
                nonce: [0; NONCE_LEN],
                exchange: None,
            },
            GFP_KERNEL,
        )?)
    }

    /// Encodes `msg` into the send buffer. `false` if it does not fit (the
    /// peer does not read: the caller resets the connection).
    pub(super) fn queue(&mut self, self_id: u8, msg: &Msg<'_>) -> bool {
        let seq = self.tx_seq;
        match wire::encode(self_id, seq, msg, self.tx.spare()) {
            Ok(n) => {
                self.tx.commit(n);
                self.tx_seq = seq.wrapping_add(1);
                if let Some(p) = peer_stats(self.peer) {
                    p.tx.fetch_add(1, Ordering::Relaxed);
                }
                true
            }
            Err(_) => {
                stats::inc(Counter::MeshTxDropped);
                false
            }
        }
    }

    /// Sends what the send buffer holds, as far as the socket takes it.
    pub(super) fn flush(&mut self) -> core::result::Result<(), Close> {
        while !self.tx.is_empty() {
            match self.sock.send(self.tx.data()) {
                Ok(0) => return Ok(()),
                Ok(n) => self.tx.consume(n),
                Err(e) if e == EAGAIN => return Ok(()),
                Err(_) => return Err(Close::Error),
            }
        }
        Ok(())
    }

    /// Reads what arrived. `Ok(true)` at the end of the stream.
    pub(super) fn fill(&mut self) -> core::result::Result<bool, Close> {
        loop {
            let spare = self.rx.spare();
            if spare.is_empty() {
                return Ok(false);
            }
            match self.sock.recv(spare) {
                Ok(0) => return Ok(true),
                Ok(n) => self.rx.commit(n),
                Err(e) if e == EAGAIN => return Ok(false),
                Err(_) => return Err(Close::Error),
            }
        }
    }
}
