// SPDX-License-Identifier: GPL-2.0

//! Flow control blocks as the module stores them: one per logical client
//! connection on this node, shared (reference-counted) by the flow-table
//! entries of its 4-tuples.
//!
//! Every mutable field is an atomic, so the packet path (softirq, any CPU)
//! and `request_handover` (process context) read and update an FCB without
//! a lock. The ordering rules:
//!
//! - fields that describe the handover connection (`peer`, `self_addr`,
//!   `c_base`, `p_base`) are written before the entry that
//!   makes them reachable is published (the flow table's release store), or
//!   before the state change (release) that makes the hooks read them;
//! - a delta is stored with its "known" bit in one 64-bit word;
//! - at a destination, the fake handshake's marker (`injecting`) is set and
//!   cleared by the injecting thread around a synchronous delivery
//!   ([`crate::xmit::inject_marked`]); what the stack answered (`fake`) is
//!   recorded by the send-path hook and read by that thread after the
//!   delivery returned.
//!
//! The decisions themselves are pure: see [`crate::pure::fcb`].

use core::any::Any;
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

use kernel::prelude::*;
use kernel::sync::Arc;

use crate::loadepoch;
use crate::pure::fcb::{self, Learn, Params, State};
use crate::pure::flow::FlowKey;
use crate::pure::http::{HeadAcc, HeadStep, ReqCopy, RespTrack, Response, HEAD_MAX};
use crate::pure::mesh::CloseReason;

const KNOWN: u64 = 1 << 32;

/// [`Fcb::fake`]: the stack answered the fake SYN with a SYN-ACK.
const FAKE_SYNACK: u64 = 1 << 63;
/// [`Fcb::fake`]: the stack sent an RST.
const FAKE_RST: u64 = 1 << 62;
/// [`Fcb::fake`]: the stack sent an ACK (its number in the low 32 bits).
const FAKE_ACK: u64 = 1 << 61;
/// [`Fcb::fake`]: the SYN-ACK's window-scale shift is in bits 32..40.
const FAKE_WSCALE: u64 = 1 << 60;

/// What the destination's stack answered the fake handshake of a handover
/// (the takeover, `handoff/takeover.rs`).
#[derive(Clone, Copy, Default)]
pub(crate) struct Fake {
    /// A SYN-ACK came, with this window-scale shift (if it had one).
    pub(crate) synack: Option<Option<u8>>,
    /// An RST came.
    pub(crate) rst: bool,
    /// The last acknowledgement number the stack sent.
    pub(crate) acked: Option<u32>,
}

/// A feature's own state for one connection, carried in an FCB's extension
/// slot ([`Fcb::with_ext`]). The FCB never looks inside; the feature that
/// put it there gets its type back with [`Fcb::ext`]. Socket Cloning keeps
/// its router's or clone's state there (`sc/`).
pub(crate) trait FcbExt: Send + Sync + 'static {
    /// `self`, for [`Fcb::ext`]'s downcast.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Send + Sync + 'static> FcbExt for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The connection's HTTP responses as its server sends them
/// ([`RespTrack`]), and a copy of its client's latest request head
/// ([`ReqCopy`]), for a draining node (`crate::handoff::drain`).
///
/// Memory: about 1.2 KiB per connection that sent or received data (the
/// request copy is [`crate::pure::http::REQUEST_MAX`] bytes), allocated at its first data
/// segment.
///
/// The send path that updates it is serialized per connection by the
/// socket's own lock; a reader (the drain's work item, the receive path)
/// may run at the same time on another CPU. A flag taken by
/// compare-and-swap guards the tracker; a holder only copies the tracker
/// out or updates it. A reader that finds it taken gives up at once (the
/// connection is then not at rest for it); the send path retries
/// [`WRITER_TRIES`] times, then gives its segment up and marks the tracker
/// lost (a reader preempted while holding it), which the next holder turns
/// into [`crate::pure::http::Phase::Opaque`]: the safe side, never idle.
///
/// # Invariants
///
/// `traffic` is read or written only by the holder of `busy` (who set it
/// from `false` by compare-and-swap and clears it when done).
struct RespCell {
    busy: AtomicBool,
    lost: AtomicBool,
    traffic: UnsafeCell<Traffic>,
}

/// What a [`RespCell`] guards.
struct Traffic {
    track: RespTrack,
    req: ReqCopy,
}

// SAFETY: `track` is only reached under `busy` (type invariant); the other
// fields are atomics.
unsafe impl Sync for RespCell {}
// SAFETY: as above; `RespTrack` is plain data.
unsafe impl Send for RespCell {}

impl RespCell {
    /// A cell with `track` and no request copy, built in place on the heap
    /// (the copy is [`crate::pure::http::REQUEST_MAX`] bytes: not through this stack, which
    /// may be a softirq's). Any context with `GFP_ATOMIC`.
    fn boxed(track: RespTrack, flags: kernel::alloc::Flags) -> Option<KBox<Self>> {
        let mut b = KBox::<Self>::new_uninit(flags).ok()?;
        let p = b.as_mut_ptr();
        // SAFETY: `p` is valid for writes of one `RespCell` (a fresh,
        // exclusively owned allocation); every field is written once,
        // through raw pointers that never read the uninitialized memory:
        // `ReqCopy` is plain data (integers, a `bool`, a byte array), for
        // which all zeros is a valid value, `ReqCopy::NEW`. So the cell is
        // fully initialized when `assume_init` runs.
        unsafe {
            ptr::addr_of_mut!((*p).busy).write(AtomicBool::new(false));
            ptr::addr_of_mut!((*p).lost).write(AtomicBool::new(false));
            let t = UnsafeCell::raw_get(ptr::addr_of!((*p).traffic));
            ptr::addr_of_mut!((*t).track).write(track);
            ptr::write_bytes(ptr::addr_of_mut!((*t).req), 0, 1);
            Some(b.assume_init())
        }
    }

    /// Runs `f` on the tracker if no one else holds it, trying `tries`
    /// times (a holder copies the tracker out or updates it, and lets go
    /// at once).
    fn with<R>(&self, tries: u32, f: impl FnOnce(&mut Traffic) -> R) -> Option<R> {
        let mut n = 0;
        while self
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            n += 1;
            if n >= tries {
                return None;
            }
            core::hint::spin_loop();
        }
        // SAFETY: this thread holds `busy` (type invariant: nobody else
        // reaches `track` until it is cleared below).
        let t = unsafe { &mut *self.traffic.get() };
        if self.lost.swap(false, Ordering::Relaxed) {
            t.track = RespTrack::OPAQUE;
        }
        let r = f(t);
        self.busy.store(false, Ordering::Release);
        Some(r)
    }
}

/// How many times the send path tries to take a connection's response
/// tracker before it gives its segment up ([`RespCell`]).
const WRITER_TRIES: u32 = 256;

/// N2, on a Range continuation: the head of the server's answer gathered
/// so far ([`HeadAcc`]). Only the send path reaches it, serialized per
/// connection by the socket's lock; a flag taken by compare-and-swap
/// makes that a checked fact rather than an assumption (a second holder
/// finds it taken and holds its segment back, as for an incomplete head).
///
/// # Invariants
///
/// `acc` is read or written only by the holder of `busy` (who set it from
/// `false` by compare-and-swap and clears it when done).
struct HeadCell {
    busy: AtomicBool,
    acc: UnsafeCell<HeadAcc>,
}

// SAFETY: `acc` is only reached under `busy` (type invariant).
unsafe impl Sync for HeadCell {}
// SAFETY: as above; `HeadAcc` is plain data.
unsafe impl Send for HeadCell {}

/// [`HEAD_MAX`] as a sequence-number distance.
const HEAD_MAX_U32: u32 = HEAD_MAX as u32;

/// A delta that becomes known once.
struct Delta(AtomicU64);

impl Delta {
    const fn unknown() -> Self {
        Self(AtomicU64::new(0))
    }

    fn get(&self) -> Option<u32> {
        let v = self.0.load(Ordering::Acquire);
        (v & KNOWN != 0).then_some(v as u32)
    }

    fn set(&self, d: u32) {
        self.0.store(KNOWN | u64::from(d), Ordering::Release);
    }

    fn clear(&self) {
        self.0.store(0, Ordering::Release);
    }
}

/// A flow control block.
pub(crate) struct Fcb {
    /// The service's VIP, application port and proxy port.
    pub(crate) vip: u32,
    pub(crate) app_port: u16,
    pub(crate) proxy_port: u16,
    /// The client's address and port.
    pub(crate) client_addr: u32,
    pub(crate) client_port: u16,
    /// N2: the port the stack serves the client on (`Params::dst_port`).
    pub(crate) dst_port: u16,
    /// An adopted `Client` FCB: the old destination's `d2` and `dts`
    /// (`Params::base_seq`, `Params::base_ts`); 0 otherwise.
    base_seq: u32,
    base_ts: u32,
    state: AtomicU8,
    self_addr: AtomicU32,
    /// `addr << 16 | port` of the other end of the handover connection.
    peer: AtomicU64,
    /// N1: client-space sequence number just before the first byte handed
    /// over (`copied_seq − buf_len − 1`).
    c_base: AtomicU32,
    /// Proxy-space sequence number the destination continues from
    /// (`snd_nxt − 1` of the proxy socket).
    p_base: AtomicU32,
    d1: Delta,
    d2: Delta,
    client_win: AtomicU32,
    /// N1: the handover socket's FIN sequence number, once it left.
    h_fin: Delta,
    /// N1: the client's last TSval (known once the client sent one).
    client_tsval: Delta,
    /// N1: the client's last acknowledgement number (its `RCV.NXT`), known
    /// once it acknowledged something ([`crate::pure::fcb::learn_ack`]).
    client_ack: Delta,
    /// N1: the proxy socket's last TSval towards the client.
    proxy_tsval: AtomicU32,
    /// N1: the handover connection's timestamp offset (`Params::o1`).
    o1: Delta,
    /// N2: the proxy's last TSval, carried by the handover SYN.
    carried_tsval: AtomicU32,
    /// N2: the destination's timestamp offset (`Params::dts`).
    dts: Delta,
    /// An adopted FCB: the internal address of the node the connection was
    /// handed in from (told in turn when the connection ends); 0 otherwise.
    origin: u32,
    /// N2: the source re-forwarded the connection here (owner
    /// re-forwarding, [`crate::pure::homsg::FLAG_REFORWARDED`]): it may
    /// not be re-forwarded again. Set before the FCB is shared.
    reforwarded: bool,
    /// N2: a draining node's Range continuation (`Documentation/drain.md`):
    /// the body offset its server's answer must start from and the body's
    /// complete length. Set before the FCB is shared, never changed after.
    continuation: Option<(u64, u64)>,
    /// N2, with `continuation`: the server's answer's head has not been
    /// sent yet; the send path checks it and splices the body
    /// ([`Fcb::splice_head`]).
    cont_pending: AtomicBool,
    /// N2, with `continuation`: the head gathered until it is complete
    /// ([`Fcb::continuation_head`]). Set before the FCB is shared.
    cont_head: Option<KBox<HeadCell>>,
    /// N2, with `continuation`: the head came in pieces, under the
    /// provisional mapping ([`Fcb::head_in_pieces`]).
    cont_pieces: AtomicBool,
    /// The local socket of this (handed-over) connection was aborted under
    /// its application by a draining node (`crate::handoff::drain`): its
    /// RST is not this node's own reset of the client, and is dropped.
    stack_silenced: AtomicBool,
    /// Whether the connection's end was reported over the mesh.
    notified: AtomicBool,
    /// N1, while the FCB is `HandingOver`: the destination's CLOSED came
    /// before `request_handover` marked the handover done (the wire value
    /// of its reason; 0 if none came). See [`Fcb::defer_closed`].
    early_closed: AtomicU8,
    /// A feature's state for this connection ([`FcbExt`]): Socket
    /// Cloning's, for the roles `ScOrigin` and `ScClone`; `None` for DTS
    /// connections. Set before the FCB is shared, never changed after.
    ext: Option<Arc<dyn FcbExt>>,
    /// N2, while the handover's fake handshake runs: the address of the
    /// buffer being injected ([`crate::xmit::inject_marked`]), 0 otherwise.
    injecting: AtomicUsize,
    /// N2: what the stack answered the fake handshake (`FAKE_*` bits).
    fake: AtomicU64,
    /// The responses the stack sent on the connection ([`RespCell`]):
    /// allocated at the first data segment it sends (a half-open
    /// connection costs nothing), null before; owned by this FCB.
    resp: AtomicPtr<RespCell>,
}

impl Fcb {
    /// A new FCB in `state`. Any context.
    pub(crate) fn new(
        vip: u32,
        app_port: u16,
        proxy_port: u16,
        client_addr: u32,
        client_port: u16,
        state: State,
    ) -> Self {
        Self {
            vip,
            app_port,
            proxy_port,
            client_addr,
            client_port,
            dst_port: app_port,
            base_seq: 0,
            base_ts: 0,
            state: AtomicU8::new(state as u8),
            self_addr: AtomicU32::new(0),
            peer: AtomicU64::new(0),
            c_base: AtomicU32::new(0),
            p_base: AtomicU32::new(0),
            d1: Delta::unknown(),
            d2: Delta::unknown(),
            client_win: AtomicU32::new(0),
            h_fin: Delta::unknown(),
            client_tsval: Delta::unknown(),
            client_ack: Delta::unknown(),
            proxy_tsval: AtomicU32::new(0),
            o1: Delta::unknown(),
            carried_tsval: AtomicU32::new(0),
            dts: Delta::unknown(),
            origin: 0,
            reforwarded: false,
            continuation: None,
            cont_pending: AtomicBool::new(false),
            cont_head: None,
            cont_pieces: AtomicBool::new(false),
            stack_silenced: AtomicBool::new(false),
            notified: AtomicBool::new(false),
            early_closed: AtomicU8::new(0),
            ext: None,
            injecting: AtomicUsize::new(0),
            fake: AtomicU64::new(0),
            resp: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The same FCB, carrying a feature's state `ext` (before it is
    /// shared).
    pub(crate) fn with_ext(mut self, ext: Arc<dyn FcbExt>) -> Self {
        self.ext = Some(ext);
        self
    }

    /// The feature state in the extension slot, if it is a `T`.
    pub(crate) fn ext<T: FcbExt>(&self) -> Option<&T> {
        self.ext.as_deref()?.as_any().downcast_ref::<T>()
    }

    /// Whether a feature's state is attached (such an entry is not dropped
    /// early under pressure: the feature owns its end).
    pub(crate) fn has_ext(&self) -> bool {
        self.ext.is_some()
    }

    /// The same FCB, marked as re-forwarded here or not (before it is
    /// shared).
    pub(crate) fn with_reforwarded(mut self, reforwarded: bool) -> Self {
        self.reforwarded = reforwarded;
        self
    }

    /// The same FCB, a Range continuation from body byte `offset` of
    /// `complete` if `cont` says so (before it is shared). Process context
    /// (it allocates the head's buffer with `GFP_KERNEL`).
    pub(crate) fn with_continuation(mut self, cont: Option<(u64, u64)>) -> Result<Self> {
        if cont.is_some() {
            let cell = HeadCell {
                busy: AtomicBool::new(false),
                acc: UnsafeCell::new(HeadAcc::NEW),
            };
            self.cont_head = Some(KBox::new(cell, GFP_KERNEL)?);
        }
        self.continuation = cont;
        self.cont_pending = AtomicBool::new(cont.is_some());
        Ok(self)
    }

    /// N2: takes a data segment of the server's answer to a continuation
    /// whose head is still to come ([`HeadAcc::on_out`]: `payload` bytes
    /// at `seq`, copied by `read`). [`HeadStep::More`] if another holder
    /// has the buffer (never, as the socket's lock serializes the send
    /// path: the segment is held back and sent again by the stack);
    /// [`HeadStep::Bad`] on a connection that is no continuation. The
    /// send path.
    pub(crate) fn continuation_head(
        &self,
        seq: u32,
        payload: u32,
        read: impl FnOnce(u32, &mut [u8]) -> usize,
    ) -> HeadStep {
        let Some(cell) = self.cont_head.as_deref() else {
            return HeadStep::Bad;
        };
        if cell
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return HeadStep::More;
        }
        // SAFETY: this thread holds `busy` (type invariant: nobody else
        // reaches `acc` until it is cleared below).
        let acc = unsafe { &mut *cell.acc.get() };
        let step = acc.on_out(seq, payload, read);
        cell.busy.store(false, Ordering::Release);
        step
    }

    /// N2: the continuation whose server's answer's head is still to come,
    /// if this connection is one. Any context.
    pub(crate) fn pending_continuation(&self) -> Option<(u64, u64)> {
        self.continuation
            .filter(|_| self.cont_pending.load(Ordering::Acquire))
    }

    /// N2: whether this connection is a Range continuation. Any context.
    pub(crate) fn is_continuation(&self) -> bool {
        self.continuation.is_some()
    }

    /// N2: the server's answer to the continuation starts with a head of
    /// `head_len` bytes, checked: the head is mapped onto the client bytes
    /// just below the cut (which the client has, and drops as a
    /// duplicate), so that the body's first byte lands at the cut. Returns
    /// whether this call did it (once). The send path, serialized by the
    /// socket's lock.
    pub(crate) fn splice_head(&self, head_len: u32) -> bool {
        let Some(d2) = self.d2.get() else {
            return false;
        };
        if !self.cont_pending.swap(false, Ordering::AcqRel) {
            return false;
        }
        // From the provisional mapping if the head came in pieces.
        let base = if self.cont_pieces.load(Ordering::Acquire) {
            d2.wrapping_add(HEAD_MAX_U32)
        } else {
            d2
        };
        self.d2.set(base.wrapping_sub(head_len));
        true
    }

    /// N2: a piece of the continuation's head goes to the client before
    /// the head is complete (its window was smaller than the head): from
    /// the first piece on, the head's first byte maps [`HEAD_MAX_U32`]
    /// bytes below the cut, so that every piece lands on bytes the client
    /// has (it drops them as duplicates and answers with its window, which
    /// the stack needs to send the rest); [`Fcb::splice_head`] then moves
    /// the mapping to the head's real length. The send path, serialized
    /// by the socket's lock.
    pub(crate) fn head_in_pieces(&self) {
        let Some(d2) = self.d2.get() else {
            return;
        };
        if self.cont_pending.load(Ordering::Acquire)
            && !self.cont_pieces.swap(true, Ordering::AcqRel)
        {
            self.d2.set(d2.wrapping_sub(HEAD_MAX_U32));
        }
    }

    /// Marks the local socket as aborted under its application by a
    /// draining node, before it is: its RST must not reach the client
    /// ([`Fcb::stack_silenced`]). Process context.
    pub(crate) fn silence_stack(&self) {
        self.stack_silenced.store(true, Ordering::Release);
    }

    /// Whether the local socket was aborted under its application
    /// ([`Fcb::silence_stack`]): whatever it sends is dropped. Any context.
    pub(crate) fn stack_silenced(&self) -> bool {
        self.stack_silenced.load(Ordering::Acquire)
    }

    /// Whether the connection was re-forwarded to this node (N2).
    pub(crate) fn reforwarded(&self) -> bool {
        self.reforwarded
    }

    /// The same FCB, serving the client on `port` at N2 (before it is
    /// shared).
    pub(crate) fn with_dst_port(mut self, port: u16) -> Self {
        self.dst_port = port;
        self
    }

    /// A `Client` FCB in `Proxying` that takes over from `old`, a completed
    /// destination FCB (`Direct`), so that this node's proxy can hand the
    /// connection over again (keep-alive re-handover). It translates as
    /// `old` did (its `d2` and `dts` become the bases) and starts from what
    /// `old` learnt of the client: its SYN options, window and TSval, and
    /// the stack's last TSval. `None` if `old` has no `d2` yet. Process
    /// context; the caller publishes it with the flow table's release
    /// store.
    pub(crate) fn adopted(old: &Fcb) -> Option<Self> {
        let d2 = old.d2.get()?;
        let mut f = Self::new(
            old.vip,
            old.app_port,
            old.proxy_port,
            old.client_addr,
            old.client_port,
            State::Proxying,
        );
        f.base_seq = d2;
        f.base_ts = old.dts.get().unwrap_or(0);
        // The stack's last TSval towards the client, in its own clock. If
        // it sent the client nothing since it took the connection over (a
        // request re-forwarded at once), the last TSval the client saw is
        // the one the handover carried in: its own-clock equivalent, so
        // that the next hop continues from it (not from 0 plus the offset,
        // which PAWS at the client would take for any value at all).
        let stack_tsval = match old.proxy_tsval.load(Ordering::Relaxed) {
            0 => old
                .carried_tsval
                .load(Ordering::Acquire)
                .wrapping_sub(f.base_ts),
            v => v,
        };
        f.origin = old.peer().0;
        f.client_win
            .store(old.client_win.load(Ordering::Relaxed), Ordering::Relaxed);
        if let Some(v) = old.client_tsval.get() {
            f.client_tsval.set(v);
        }
        f.proxy_tsval.store(stack_tsval, Ordering::Relaxed);
        // The same socket goes on sending: its responses so far carry over
        // (an allocation failure leaves the tracker to start afresh, which
        // makes it opaque at the next segment: the safe side).
        if let Some(cell) = old.cell() {
            if let Some(mut b) = RespCell::boxed(RespTrack::OPAQUE, GFP_KERNEL) {
                let new = b.traffic.get_mut();
                let copied = cell.with(WRITER_TRIES, |t| {
                    new.track = t.track;
                    new.req.clone_from(&t.req);
                });
                if copied.is_some() {
                    f.resp = AtomicPtr::new(KBox::into_raw(b));
                }
            }
        }
        // The port the stack serves the client on: an adopted connection
        // of the application's port (`handover_to = "server"`, moved by a
        // draining node) goes on there.
        f.proxy_port = old.dst_port;
        Some(f)
    }

    /// An adopted FCB: the node the connection was handed in from (0
    /// otherwise).
    pub(crate) fn origin(&self) -> u32 {
        self.origin
    }

    /// Marks the connection's end as reported; `false` if it already was.
    /// Any context.
    pub(crate) fn mark_notified(&self) -> bool {
        !self.notified.swap(true, Ordering::AcqRel)
    }

    /// The key of the client's entry: the client's address and port to the
    /// service's VIP and application port.
    pub(crate) fn client_key(&self) -> FlowKey {
        FlowKey::inbound(self.client_addr, self.client_port, self.vip, self.app_port)
    }

    /// Records that the handover's destination reported the connection's
    /// end while this FCB is still `HandingOver`: a short connection's
    /// CLOSED can reach the mesh thread right behind the HANDOVER_ACK,
    /// before the caller of `request_handover` woke. Whoever sees both the
    /// record and the state `HandedOver` acts on it, exactly once: this
    /// side if the state already changed (returns the reason), else the
    /// caller ([`Fcb::end_handover`] returns it). Both sides use
    /// sequentially consistent operations on `state` and `early_closed`, so
    /// at least one of them sees the other's write. Process context (the
    /// mesh thread).
    pub(crate) fn defer_closed(&self, reason: CloseReason) -> Option<CloseReason> {
        self.early_closed.store(reason as u8, Ordering::SeqCst);
        if self.state.load(Ordering::SeqCst) == State::HandedOver as u8 {
            return self.take_early_closed();
        }
        None
    }

    /// Ends a handover in state `to` (`HandedOver`, or `Proxying` if it
    /// failed) and takes the reason of a CLOSED that [`Fcb::defer_closed`]
    /// recorded meanwhile, if the mesh thread did not act on it. After a
    /// failure the caller drops it: a refused takeover's CLOSED is void.
    /// Process context.
    pub(crate) fn end_handover(&self, to: State) -> Option<CloseReason> {
        self.state.store(to as u8, Ordering::SeqCst);
        loadepoch::touch();
        self.take_early_closed()
    }

    /// Takes the recorded reason, so that only one side acts on it.
    fn take_early_closed(&self) -> Option<CloseReason> {
        CloseReason::from_u8(self.early_closed.swap(0, Ordering::SeqCst))
    }

    /// Whether the connection's end was reported over the mesh. Any
    /// context.
    pub(crate) fn notified(&self) -> bool {
        self.notified.load(Ordering::Relaxed)
    }

    /// The other end of the handover connection: `(address, port)`.
    pub(crate) fn peer(&self) -> (u32, u16) {
        let peer = self.peer.load(Ordering::Acquire);
        ((peer >> 16) as u32, peer as u16)
    }

    /// The current state.
    pub(crate) fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Moves from `from` to `to`; false if the state was not `from`.
    pub(crate) fn transition(&self, from: State, to: State) -> bool {
        let moved = self
            .state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if moved {
            loadepoch::touch();
        }
        moved
    }

    /// Sets the state unconditionally.
    pub(crate) fn set_state(&self, to: State) {
        loadepoch::touch();
        self.state.store(to as u8, Ordering::Release);
    }

    /// Describes the handover connection: this node's internal address, the
    /// other end, and the two sequence bases. Written before the entries or
    /// the state change that make the hooks use them.
    pub(crate) fn set_handover(
        &self,
        self_addr: u32,
        peer_addr: u32,
        peer_port: u16,
        c_base: u32,
        p_base: u32,
    ) {
        self.self_addr.store(self_addr, Ordering::Relaxed);
        self.peer.store(
            u64::from(peer_addr) << 16 | u64::from(peer_port),
            Ordering::Relaxed,
        );
        self.c_base.store(c_base, Ordering::Relaxed);
        self.p_base.store(p_base, Ordering::Release);
        self.d1.clear();
        self.d2.clear();
        self.h_fin.clear();
        self.o1.clear();
        self.dts.clear();
    }

    /// The marker of the buffer the fake handshake is injecting.
    pub(crate) fn injecting(&self) -> &AtomicUsize {
        &self.injecting
    }

    /// Whether `skb` (its address) is the buffer the fake handshake is
    /// injecting. Any context.
    pub(crate) fn is_injected(&self, skb: usize) -> bool {
        skb != 0 && self.injecting.load(Ordering::Acquire) == skb
    }

    /// Records a segment the stack sent during the fake handshake: its
    /// flags, its window-scale option and its acknowledgement number. Any
    /// context.
    pub(crate) fn record_fake(&self, flags: u8, wscale: Option<u8>, ack: u32) {
        use crate::pure::tcp::{TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_SYN};
        let mut bits = 0;
        if flags & TCP_FLAG_RST != 0 {
            bits |= FAKE_RST;
        } else if flags & TCP_FLAG_SYN != 0 {
            bits |= FAKE_SYNACK;
            if let Some(w) = wscale {
                bits |= FAKE_WSCALE | u64::from(w) << 32;
            }
        } else if flags & TCP_FLAG_ACK != 0 {
            // The low bits hold the last ACK number: replace them.
            let _ = self
                .fake
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                    Some((old & !0xffff_ffff) | FAKE_ACK | u64::from(ack))
                });
            return;
        }
        self.fake.fetch_or(bits, Ordering::AcqRel);
    }

    /// What the stack answered the fake handshake so far.
    pub(crate) fn fake(&self) -> Fake {
        let v = self.fake.load(Ordering::Acquire);
        Fake {
            synack: (v & FAKE_SYNACK != 0)
                .then(|| (v & FAKE_WSCALE != 0).then_some((v >> 32) as u8)),
            rst: v & FAKE_RST != 0,
            acked: (v & FAKE_ACK != 0).then_some(v as u32),
        }
    }

    /// The proxy-space base the destination continues from.
    pub(crate) fn p_base(&self) -> u32 {
        self.p_base.load(Ordering::Acquire)
    }

    /// Records what a segment taught the FCB ([`crate::pure::fcb::learn`]).
    /// Any context.
    pub(crate) fn record(&self, l: Learn) {
        match l {
            Learn::Nothing => {}
            Learn::ClientWindow(w) => self.client_win.store(u32::from(w), Ordering::Relaxed),
            Learn::HandoverIsn(h_isn) => {
                if self.d1.get().is_none() {
                    self.d1
                        .set(h_isn.wrapping_sub(self.c_base.load(Ordering::Acquire)));
                }
            }
            Learn::DestIsn(n2_isn) => {
                if self.d2.get().is_none() {
                    self.d2.set(self.p_base().wrapping_sub(n2_isn));
                }
            }
            Learn::HandoverFin(seq) => {
                if self.h_fin.get().is_none() {
                    self.h_fin.set(seq);
                }
            }
            Learn::ClientTsval(v) => self.client_tsval.set(v),
            Learn::ClientAck(a) => self.client_ack.set(a),
            Learn::ProxyTsval(v) => self.proxy_tsval.store(v, Ordering::Relaxed),
            Learn::HandoverTsval(v) => {
                if let (None, Some(c)) = (self.o1.get(), self.client_tsval.get()) {
                    self.o1.set(c.wrapping_sub(v));
                }
            }
            Learn::CarriedTsval(v) => self.carried_tsval.store(v, Ordering::Release),
            Learn::DestTsval(v) => {
                if self.dts.get().is_none() {
                    let carried = self.carried_tsval.load(Ordering::Acquire);
                    self.dts.set(fcb::dest_ts_offset(carried, v));
                }
            }
        }
    }

    /// The sequence number an RST to this connection's client must carry
    /// ([`crate::pure::fcb::reset_seq`]). Any context.
    pub(crate) fn reset_seq(&self) -> u32 {
        fcb::reset_seq(self.client_ack.get(), self.p_base())
    }

    /// The tracker of the stack's responses, allocated if need be (`None`
    /// without memory). Any context (`GFP_ATOMIC`).
    fn resp_cell(&self) -> Option<&RespCell> {
        let p = self.resp.load(Ordering::Acquire);
        // SAFETY: a non-null `resp` is a `RespCell` this FCB owns until it
        // is dropped (`Drop`), and `&self` keeps it alive.
        if let Some(c) = unsafe { p.as_ref() } {
            return Some(c);
        }
        let new = KBox::into_raw(RespCell::boxed(RespTrack::NEW, GFP_ATOMIC)?);
        match self
            .resp
            .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: just published, owned by this FCB from now on.
            Ok(_) => unsafe { new.as_ref() },
            Err(other) => {
                // SAFETY: `new` was not published: it is still ours alone.
                drop(unsafe { KBox::from_raw(new) });
                // SAFETY: `other` is the cell another CPU published, owned
                // by this FCB (as above).
                unsafe { other.as_ref() }
            }
        }
    }

    /// The stack sent a data segment on the connection (sequence number
    /// `seq`, `len` payload bytes, acknowledgement number `ack`, all in the
    /// stack's own spaces); `read(at, buf)` copies the payload's bytes from
    /// offset `at` into `buf` and returns how many (called only if a
    /// response head may start in the segment, from where it would). The
    /// send path, serialized per connection by the socket's lock; never
    /// sleeps.
    pub(crate) fn sent_data(
        &self,
        seq: u32,
        len: u32,
        ack: u32,
        read: impl FnOnce(u32, &mut [u8]) -> usize,
    ) {
        let Some(cell) = self.resp_cell() else {
            return;
        };
        // The send path waits a little for a reader (a copy's time) before
        // it gives the segment up.
        let done = cell.with(WRITER_TRIES, |x| match x.track.head_offset(seq, len) {
            Some(at) => {
                let mut buf = [0u8; crate::pure::http::HEAD_MAX];
                let n = read(at, &mut buf);
                x.track
                    .on_out(seq, len, ack, (at, buf.get(..n).unwrap_or_default()));
            }
            None => x.track.on_out(seq, len, ack, (0, &[])),
        });
        if done.is_none() {
            cell.lost.store(true, Ordering::Relaxed);
        }
    }

    /// The client sent a data segment on the connection (sequence number
    /// `seq`, `len` payload bytes, in the stack's space); `read(at, buf)`
    /// copies the payload's bytes from offset `at` into `buf` and returns
    /// how many (called only if the request copy takes some,
    /// [`ReqCopy::on_in`]). The receive path; never sleeps. A segment the
    /// copy misses (the cell is held too long, no memory) leaves a gap, so
    /// the copy is never used for that request: the safe side.
    pub(crate) fn recv_data(&self, seq: u32, len: u32, read: impl FnOnce(u32, &mut [u8]) -> usize) {
        if let Some(cell) = self.resp_cell() {
            cell.with(WRITER_TRIES, |x| x.req.on_in(seq, len, &x.track, read));
        }
    }

    /// The cell, if there is one (never allocates). Any context.
    fn cell(&self) -> Option<&RespCell> {
        let p = self.resp.load(Ordering::Acquire);
        // SAFETY: as in `resp_cell`.
        unsafe { p.as_ref() }
    }

    /// A copy of the tracker of the stack's responses (`None`: nothing sent
    /// yet, or someone holds it right now). Any context.
    pub(crate) fn responses(&self) -> Option<RespTrack> {
        self.cell()?.with(1, |x| x.track)
    }

    /// Writes into `out` the request that continues response `r` from body
    /// byte `offset` on ([`crate::pure::http::continuation_request`]), from
    /// the request copy, if the copy is exactly `r`'s request and `r` is
    /// resumable. Returns its length. Process context (a drain's cut).
    pub(crate) fn continuation(&self, r: &Response, offset: u64, out: &mut [u8]) -> Result<usize> {
        let v = r
            .head
            .validator
            .filter(|_| r.head.resumable())
            .ok_or(EINVAL)?;
        let cell = self.cell().ok_or(EINVAL)?;
        cell.with(WRITER_TRIES, |x| {
            let req = x.req.request_ending_at(r.req_end).ok_or(EINVAL)?;
            crate::pure::http::continuation_request(req, offset, &v, out).map_err(|_| EINVAL)
        })
        .ok_or(EBUSY)?
    }

    /// Whether the request copy is exactly response `r`'s request (so that
    /// [`Fcb::continuation`] may build its continuation). Any context.
    pub(crate) fn has_request_for(&self, r: &Response) -> bool {
        self.cell()
            .and_then(|c| c.with(1, |x| x.req.request_ending_at(r.req_end).is_some()))
            .unwrap_or(false)
    }

    /// Seeds the request copy of a handed-in connection with the request
    /// its handover carried (`bytes`, from the client's sequence number
    /// `start` on). Process context (the takeover), before the stack sends.
    pub(crate) fn seed_request(&self, start: u32, bytes: &[u8]) {
        if let Some(cell) = self.resp_cell() {
            cell.with(WRITER_TRIES, |x| x.req.restart(start, bytes));
        }
    }

    /// A snapshot for [`crate::pure::fcb::plan`].
    pub(crate) fn params(&self) -> Params {
        let peer = self.peer.load(Ordering::Acquire);
        Params {
            vip: self.vip,
            app_port: self.app_port,
            proxy_port: self.proxy_port,
            client_addr: self.client_addr,
            client_port: self.client_port,
            self_addr: self.self_addr.load(Ordering::Relaxed),
            peer_addr: (peer >> 16) as u32,
            peer_port: peer as u16,
            d1: self.d1.get(),
            d2: self.d2.get(),
            client_win: self.client_win.load(Ordering::Relaxed) as u16,
            h_fin: self.h_fin.get(),
            proxy_tsval: self.proxy_tsval.load(Ordering::Relaxed),
            o1: self.o1.get(),
            dts: self.dts.get(),
            dst_port: self.dst_port,
            base_seq: self.base_seq,
            base_ts: self.base_ts,
        }
    }
}

impl Drop for Fcb {
    fn drop(&mut self) {
        let p = *self.resp.get_mut();
        if !p.is_null() {
            // SAFETY: a non-null `resp` came from `KBox::into_raw` and is
            // owned by this FCB alone, which nothing else can reach now.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}
