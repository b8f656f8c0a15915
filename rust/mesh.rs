// SPDX-License-Identifier: GPL-2.0

//! The control mesh: one persistent kernel TCP connection to every other
//! configured node, heartbeats, membership and close notifications.
//!
//! Everything that touches a mesh socket runs in one kernel thread,
//! `dts_mesh` (process context, may sleep), so the sockets need no lock.
//! Other contexts talk to it through atomics and a small queue:
//!
//! - the packet path (softirq) reads the membership [`View`] with one atomic
//!   load ([`view`]) and queues close notifications ([`notify_closed`]);
//! - `DTS_SO_SET_CONFIG` (process context) tells it that the configuration
//!   changed ([`config_changing`]); `DTS_SO_GET_PEERS` reads [`PEERS`].
//!
//! Connections: the node with the lower id connects (from its internal
//! address) to the one with the higher id, on the configured mesh port, and
//! sends HELLO; the other answers HELLO-ACK once it checked that the sender
//! is a configured node at that address and that both run the same
//! configuration ([`Config::fingerprint`]). A connection from an address
//! that is not a configured node is reset at once and counted
//! ([`Counter::MeshRefused`]).
//!
//! Authentication: HELLO and HELLO-ACK each carry a fresh random nonce;
//! HELLO-ACK carries the listener's proof and the connecting node answers
//! with HELLO-PROOF, its own: HMAC-SHA256 under the cluster's mesh key
//! ([`crate::pure::hmac::hello_proof`], hashed by [`crate::crypto`]) over
//! both nonces, both node ids and the fingerprint, with a label per
//! direction. A connection is established on each side only once the
//! other's proof checked (in constant time), so that nothing but HELLO
//! frames is taken from a peer that has not proven it knows the key; a
//! proof that does not check resets the connection and is counted
//! ([`Counter::MeshAuthFailed`], with a rate-limited warning).
//!
//! A lost connection is reopened with a bounded
//! exponential backoff (100 ms doubling up to 2 s). Any malformed frame
//! (see [`crate::pure::mesh`]) is counted under its reason and resets the
//! connection; nothing else is affected.
//!
//! Membership ([`crate::pure::member`]): any frame from a peer makes it up;
//! a peer silent for `heartbeat_ms × dead_after` is down. The thread
//! publishes the resulting view for the SYN acceptance of [`crate::handoff::filter`]
//! and for `request_handover` (`EHOSTDOWN` towards a down node).
//!
//! Wake-ups: the thread sleeps until its next deadline (heartbeat, a
//! peer's death, a reconnection, a HELLO timeout, the listener's retry) or
//! until [`wake`] is called, and never polls. Every event that gives it
//! work calls [`wake`]: a mesh socket's `sk_data_ready`,
//! `sk_state_change` and `sk_write_space` (input, connection progress,
//! send-buffer space), a queued close notification or SC message, a
//! configuration change, module exit. [`wake`] bumps a generation counter
//! under the [`Waker`]'s lock and notifies its condition variable; the
//! thread compares the counter with the one it read before its last round
//! under the same lock, and `CondVar` puts it on the wait queue before
//! releasing that lock, so no wake-up is lost.
//!
//! Locks: the [`Waker`]'s `SpinLockBh` (innermost: nothing is taken under
//! it), taken by [`wake`] in any context and by the thread; the thread
//! takes `sc::Shared` and the close queue's lock for one batch each, never
//! with the waker's held.
//!
//! The wire protocol is documented in `Documentation/mesh-protocol.md`, the
//! design in `Documentation/mesh.md`.

use core::ffi::{c_int, c_void};
use core::pin::Pin;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::Jiffies;

use crate::calls;
use crate::clock;
use crate::crypto;
use crate::fcb::Fcb;
use crate::flowtab::FlowTable;
use crate::global::{Global, Published};
use crate::ksock::{self, Callbacks, KSock, TCP_ESTABLISHED};
use crate::lock::{new_spinlock_bh, SpinLockBh};
use crate::pure::abi::{Counter, PeerConn, PeerState};
use crate::pure::config::{Config, MeshKey, NodeSet, MAX_NODES};
use crate::pure::fcb::{Role, State as FcbState};
use crate::pure::flow::FlowKey;
use crate::pure::hmac::{self, Direction, Exchange, MAC_LEN, NONCE_LEN};
use crate::pure::homsg::{self, HandoverAck};
use crate::pure::member::{Change, Membership, View};
use crate::pure::mesh::{
    self as wire, CloseReason, Closed, Decoded, Frame, FrameError, Heartbeat, Hello, HelloAck,
    HelloProof, HelloStatus, Load, Msg, MsgType, RxCheck,
};
use crate::pure::scmsg::ACK_LEN;
use crate::rcu;
use crate::state;
use crate::stats;
use crate::wake::{self, wake, Waker};

/// First reconnection delay.
const BACKOFF_MIN_MS: u64 = 100;
/// Longest reconnection delay.
const BACKOFF_MAX_MS: u64 = 2000;
/// How long a connection may take to connect and exchange HELLOs.
const HELLO_TIMEOUT_MS: u64 = 3000;
/// Shortest interval between two warnings of failed mesh proofs.
const AUTH_WARN_MS: u64 = 5000;
/// Accepted connections that have not sent their HELLO yet.
const MAX_PENDING: usize = 4;
/// Room for frames waiting to be sent on one connection.
const TX_CAP: usize = 4 * wire::MAX_FRAME;
/// Close notifications queued for the thread.
const TXQ_CAP: usize = 256;

/// Per-peer figures for `DTS_SO_GET_PEERS`, written by the mesh thread and
/// read by the socket option (any context; relaxed atomics).
pub(crate) struct PeerStats {
    pub(crate) state: AtomicU32,
    pub(crate) conn: AtomicU32,
    pub(crate) rtt_us: AtomicU32,
    /// Mesh clock (ms) of the last frame, `u64::MAX` if never.
    pub(crate) last_heard: AtomicU64,
    pub(crate) tx: AtomicU64,
    pub(crate) rx: AtomicU64,
    pub(crate) errors: AtomicU32,
    pub(crate) connects: AtomicU32,
    pub(crate) down_count: AtomicU32,
    /// The peer's last LOAD: active flows, handed in, handed out,
    /// handovers (low 32 bits).
    pub(crate) load: [AtomicU32; 4],
}

impl PeerStats {
    const fn new() -> Self {
        Self {
            state: AtomicU32::new(0),
            conn: AtomicU32::new(PeerConn::None as u32),
            rtt_us: AtomicU32::new(0),
            last_heard: AtomicU64::new(u64::MAX),
            tx: AtomicU64::new(0),
            rx: AtomicU64::new(0),
            errors: AtomicU32::new(0),
            connects: AtomicU32::new(0),
            down_count: AtomicU32::new(0),
            load: [const { AtomicU32::new(0) }; 4],
        }
    }

    fn reset(&self) {
        self.state.store(0, Ordering::Relaxed);
        self.conn.store(PeerConn::None as u32, Ordering::Relaxed);
        self.rtt_us.store(0, Ordering::Relaxed);
        self.last_heard.store(u64::MAX, Ordering::Relaxed);
        for a in [&self.tx, &self.rx] {
            a.store(0, Ordering::Relaxed);
        }
        for a in [&self.errors, &self.connects, &self.down_count] {
            a.store(0, Ordering::Relaxed);
        }
        for a in &self.load {
            a.store(0, Ordering::Relaxed);
        }
    }
}

/// Per-peer figures, index `id - 1`.
pub(crate) static PEERS: [PeerStats; MAX_NODES] = [const { PeerStats::new() }; MAX_NODES];

/// The membership view ([`View::pack`]) the packet path uses.
static VIEW: AtomicU64 = AtomicU64::new(View::ALL.pack());

/// Bumped on every configuration change the thread must act on.
static GEN: AtomicU32 = AtomicU32::new(0);

/// Whether the mesh runs (for `DTS_SO_GET_PEERS`).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// The membership view. Any context.
pub(crate) fn view() -> View {
    View::unpack(VIEW.load(Ordering::Acquire))
}

/// Whether the mesh runs. Any context.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

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
const OURS: Callbacks = Callbacks {
    data_ready: Some(on_sock_event),
    state_change: Some(on_sock_event),
    write_space: Some(on_sock_event),
};

/// The view of a configuration that was just applied: every peer presumed
/// up, this node not ready until it heard from them. Any context.
fn initial_view(cfg: Option<&Config>) -> View {
    match cfg {
        Some(c) if c.mesh().enabled() => {
            Membership::new(c.self_id(), node_set(c), c.mesh().dead_ms(), 0, 0).view()
        }
        _ => View::ALL,
    }
}

/// How long a joining node waits for a peer it has not heard from yet: the
/// dead time plus the peer's longest reconnection delay and HELLO exchange.
fn grace_ms(dead_ms: u32) -> u32 {
    dead_ms.saturating_add((BACKOFF_MAX_MS + HELLO_TIMEOUT_MS) as u32)
}

/// The ids of the configured nodes.
fn node_set(c: &Config) -> NodeSet {
    let mut s = NodeSet::EMPTY;
    for n in c.nodes() {
        s.insert(n.id);
    }
    s
}

/// Called by `DTS_SO_SET_CONFIG` before `new` is published. If the mesh
/// must be rebuilt (another cluster, another node id or other mesh
/// settings), publishes the new configuration's initial view and tells the
/// thread. Re-applying the same configuration changes nothing. Process
/// context.
pub(crate) fn config_changing(old: Option<&Config>, new: Option<&Config>) {
    // The mesh key is not part of the fingerprint: a new key alone
    // rebuilds the mesh too.
    let key = |c: Option<&Config>| c.map(|c| (c.fingerprint(), c.self_id(), *c.mesh_key()));
    if key(old) == key(new) {
        return;
    }
    VIEW.store(initial_view(new).pack(), Ordering::Release);
    GEN.fetch_add(1, Ordering::AcqRel);
    wake();
}

/// A close notification waiting for the thread.
#[derive(Clone, Copy)]
struct QueuedClose {
    /// The internal address of the node to tell.
    to: u32,
    msg: Closed,
}

/// The queue of close notifications, filled by the packet path.
pub(crate) struct TxQueue {
    items: [Option<QueuedClose>; TXQ_CAP],
    len: usize,
}

impl TxQueue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Self {
            items: [None; TXQ_CAP],
            len: 0,
        }
    }
}

/// The close notifications waiting for the thread.
static TXQ: Global<SpinLockBh<TxQueue>> = Global::new();

/// Owns [`TXQ`]: a field of the module, created before and dropped after
/// everything that queues close notifications (the hooks, the socket
/// options, the collector) and the thread.
pub(crate) struct QueueOwner {
    _q: Published<SpinLockBh<TxQueue>>,
}

impl QueueOwner {
    /// Allocates and publishes the queue. Process context (module init).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            _q: Published::new(&TXQ, new_spinlock_bh!(TxQueue::new(), "dts_mesh_txq"))?,
        })
    }
}

/// Queues a CLOSED message for the node at internal address `to`: the
/// connection of `fcb` ended here for `reason`. Sent at most once per FCB.
/// Any context but hard interrupts.
pub(crate) fn notify_closed(fcb: &Fcb, to: u32, reason: CloseReason) {
    if to == 0 || !enabled() || !fcb.mark_notified() {
        return;
    }
    notify(fcb, to, reason);
}

/// Queues a CLOSED message with `reason` about `fcb`'s connection for the
/// node at internal address `to`, however often it was sent before (a
/// Socket Cloning connection reports each clone's end). Any context but
/// hard interrupts.
pub(crate) fn notify(fcb: &Fcb, to: u32, reason: CloseReason) {
    if to == 0 || !enabled() {
        return;
    }
    let msg = Closed {
        client_addr: fcb.client_addr,
        vip: fcb.vip,
        client_port: fcb.client_port,
        app_port: fcb.app_port,
        reason,
    };
    let queued = TXQ
        .with(|q| {
            let mut q = q.lock();
            let len = q.len;
            match q.items.get_mut(len) {
                Some(slot) => {
                    *slot = Some(QueuedClose { to, msg });
                    q.len = len + 1;
                    true
                }
                None => false,
            }
        })
        .unwrap_or(false);
    if queued {
        wake();
    } else {
        stats::inc(Counter::MeshTxDropped);
    }
}

/// Answers a `HANDOVER`: queues the `HANDOVER_ACK` on the connection it
/// came by; whether it could.
pub(crate) type Answer<'a> = &'a mut dyn FnMut(&HandoverAck) -> bool;

/// [`Upcalls::handover`].
pub(crate) type OnHandover = for<'a> fn(Option<&[u8]>, u8, Option<u64>, Answer<'a>) -> bool;

/// What the features over the mesh do with what it receives and notices.
/// The module root gives them to [`Thread::start`]; the thread calls them
/// (process context) and knows nothing else of the features.
#[derive(Clone, Copy)]
pub(crate) struct Upcalls {
    /// A `HANDOVER` from node `from` (`None`: it could not be copied for
    /// lack of memory), whose clock is the given delta behind ours (`None`:
    /// no heartbeat yet). The feature answers through `answer`, which
    /// queues the `HANDOVER_ACK` and says whether it could; returns whether
    /// it could (if not, the connection is closed).
    pub(crate) handover: OnHandover,
    /// An `SC_CLONE` from the node at internal address `from` (`None`: not
    /// copied): the `SC_ACK` to answer.
    pub(crate) sc_clone: fn(Option<&[u8]>, u32) -> [u8; ACK_LEN],
    /// An `SC_ACK` from node `from`; `Err` if it is malformed (the
    /// connection is reset).
    pub(crate) sc_ack: fn(u8, &[u8]) -> core::result::Result<(), ()>,
    /// A `CLOSED` about the connection `key` from the node at internal
    /// address `from`, before the handover's own handling: whether a
    /// feature (Socket Cloning) took it.
    pub(crate) closed: fn(&FlowKey, u32) -> bool,
    /// The membership declared node `id` down (the calls to it fail too:
    /// the root's upcall settles them, [`calls::node_down`], in its order).
    pub(crate) node_down: fn(u8),
}

/// The thread's argument: its doorbell and the features' upcalls.
#[pin_data]
struct ThreadArg {
    #[pin]
    waker: Waker,
    up: Upcalls,
}

/// The mesh thread, started at module load and stopped at unload.
///
/// # Invariants
///
/// `task` is the thread's task, on which this value holds a reference;
/// `arg` is the thread's argument, whose [`Waker`] is the installed
/// [`wake`] doorbell, alive until the thread has exited.
pub(crate) struct Thread {
    task: NonNull<bindings::task_struct>,
    arg: Pin<KBox<ThreadArg>>,
}

// SAFETY: the task pointer is only used to stop the thread, from any task;
// the waker is shared with the thread and `wake` callers by design (a lock
// and a condition variable).
unsafe impl Send for Thread {}
// SAFETY: `&Thread` gives no access to the task or the waker.
unsafe impl Sync for Thread {}

impl Thread {
    /// Starts the thread, which calls the features through `up`. Process
    /// context (module init), after the state exists.
    pub(crate) fn start(up: Upcalls) -> Result<Self> {
        let arg = KBox::pin_init(
            pin_init!(ThreadArg {
                waker <- Waker::new(),
                up,
            }),
            GFP_KERNEL,
        )?;
        let ap: *const ThreadArg = &*arg;
        let wp: *const Waker = &arg.waker;
        // SAFETY: `thread_main` has the signature kthreads expect; its
        // argument is `arg`, which outlives the thread (`drop` stops the
        // thread first); the name is a NUL-terminated format without
        // conversions.
        let t = unsafe {
            bindings::kthread_create_on_node(
                Some(thread_main),
                ap.cast_mut().cast(),
                bindings::NUMA_NO_NODE,
                c"dts_mesh".as_ptr().cast(),
            )
        };
        let t = kernel::error::from_err_ptr(t)?;
        if t.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `t` is a new, live task; the reference keeps it alive until
        // `drop` (the thread may exit on its own only when stopped).
        unsafe { bindings::get_task_struct(t) };
        // SAFETY: the waker lives in `arg`, in `Thread`, whose `drop`
        // uninstalls it before dropping it.
        unsafe { wake::install(wp) };
        // SAFETY: `t` is live; this starts it.
        unsafe { bindings::wake_up_process(t) };
        // INVARIANT: a reference was taken above; the thread's argument is
        // `arg`, whose waker was installed.
        Ok(Self {
            task: NonNull::new(t).ok_or(ENOMEM)?,
            arg,
        })
    }
}

impl Drop for Thread {
    /// Process context (module exit): stops the thread, which closes every
    /// mesh socket and restores their callbacks before it returns.
    fn drop(&mut self) {
        // The thread stops; no `wake` uses the waker after this.
        wake::uninstall(&self.arg.waker);
        // SAFETY: the task is alive (we hold a reference); `kthread_stop()`
        // wakes the thread and waits until `thread_main` returned.
        unsafe { bindings::kthread_stop(self.task.as_ptr()) };
        // SAFETY: drops the reference taken in `start`.
        unsafe { bindings::put_task_struct(self.task.as_ptr()) };
        // Socket callbacks that were running on another CPU when the thread
        // restored the originals are finished after this.
        rcu::synchronize();
        VIEW.store(View::ALL.pack(), Ordering::Release);
        ENABLED.store(false, Ordering::Relaxed);
        // The argument is dropped with `self`, after the thread has exited.
    }
}

/// The thread's body. Process context.
///
/// # Safety
///
/// Called once by the kthread machinery, as the body of the thread
/// `Thread::start` created, whose argument `data` is the `ThreadArg` that
/// the `Thread` keeps alive until the thread has exited.
unsafe extern "C" fn thread_main(data: *mut c_void) -> c_int {
    // SAFETY: per the function contract, `data` is a live `ThreadArg` for
    // the whole life of the thread.
    let arg = unsafe { &*data.cast::<ThreadArg>() };
    let waker = &arg.waker;
    match KBox::new(Runner::new(arg.up), GFP_KERNEL) {
        Ok(mut r) => {
            r.run(waker);
            r.teardown();
        }
        Err(_) => {
            pr_err!("mesh: out of memory, the control mesh does not run\n");
            while !should_stop() {
                waker.sleep(waker.generation(), Jiffies::MAX);
            }
        }
    }
    0
}

/// A byte buffer with a consumed prefix (for the receive and send sides of
/// a connection).
struct ByteBuf {
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

    fn data(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn consume(&mut self, n: usize) {
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
enum Phase {
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
struct Conn {
    sock: KSock,
    /// The callbacks to put back before the socket is released.
    old: Callbacks,
    phase: Phase,
    peer_addr: u32,
    /// The peer's node id (0 until an accepted connection's HELLO).
    peer: u8,
    since: u64,
    rx: ByteBuf,
    tx: ByteBuf,
    check: RxCheck,
    tx_seq: u32,
    /// Reset (RST) instead of closing (FIN) when dropped.
    reset: bool,
    /// Ours: the nonce our HELLO carried.
    nonce: [u8; NONCE_LEN],
    /// Accepted, in [`Phase::AwaitProof`]: the exchange the connecting
    /// node's proof must cover (its claimed id is `connector`).
    exchange: Option<Exchange>,
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
enum In {
    Hello(Hello),
    HelloAck(HelloAck),
    HelloProof(HelloProof),
    Heartbeat(Heartbeat),
    Load(Load),
    Closed(Closed),
    /// SC-CLONE (Socket Cloning): the payload, `None` if it could not be
    /// copied (out of memory: answered as such).
    ScClone(Option<KVec<u8>>),
    /// SC-ACK: the payload (at most `scmsg::ACK_LEN` bytes are meaningful;
    /// anything else is refused by the feature, [`Upcalls::sc_ack`]).
    ScAck(KVec<u8>),
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
            Msg::ScClone(p) => Self::ScClone(copy_payload(p)),
            Msg::ScAck(p) => Self::ScAck(copy_payload(p).unwrap_or_default()),
            Msg::Handover(p) => Self::Handover(copy_payload(p)),
            Msg::HandoverAck(p) => Self::HandoverAck(HandoverAck::decode(p).ok()),
        }
    }
}

/// Why a connection is closed.
enum Close {
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

fn frame_counter(e: FrameError) -> Counter {
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
    fn new(
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
    fn queue(&mut self, self_id: u8, msg: &Msg<'_>) -> bool {
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
    fn flush(&mut self) -> core::result::Result<(), Close> {
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
    fn fill(&mut self) -> core::result::Result<bool, Close> {
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

fn peer_stats(id: u8) -> Option<&'static PeerStats> {
    PEERS.get(usize::from(id).checked_sub(1)?)
}

/// The part of the configuration the mesh uses, copied out of RCU.
struct MeshCfg {
    self_id: u8,
    self_addr: u32,
    port: u16,
    heartbeat_ms: u64,
    fingerprint: u64,
    /// The cluster's mesh key (set: the configuration was validated).
    key: MeshKey,
    /// Address of each node, index `id - 1` (0: not a node).
    addrs: [u32; MAX_NODES],
}

impl MeshCfg {
    fn addr(&self, id: u8) -> Option<u32> {
        let a = *self.addrs.get(usize::from(id).checked_sub(1)?)?;
        (a != 0).then_some(a)
    }

    fn id_of(&self, addr: u32) -> Option<u8> {
        let i = self.addrs.iter().position(|&a| a == addr && a != 0)?;
        u8::try_from(i + 1).ok()
    }

    fn peers(&self) -> impl Iterator<Item = u8> + '_ {
        (1..=MAX_NODES as u8).filter(move |&id| id != self.self_id && self.addr(id).is_some())
    }
}

/// The connection slot and timers of one peer.
struct Peer {
    conn: Option<KBox<Conn>>,
    backoff: u64,
    next_try: u64,
    /// `sent_us` of the peer's last heartbeat and when it arrived (µs).
    echo_us: u64,
    echo_at: u64,
    /// Our clock minus the peer's, plus the smallest recent one-way delay
    /// (µs, wrapping; [`crate::pure::homsg::clock_delta`]), once a
    /// heartbeat came: the lease of its `HANDOVER`s.
    clock_delta: Option<u64>,
}

impl Peer {
    const fn new() -> Self {
        Self {
            conn: None,
            backoff: BACKOFF_MIN_MS,
            next_try: 0,
            echo_us: 0,
            echo_at: 0,
            clock_delta: None,
        }
    }
}

/// The thread's own state; only the thread touches it.
struct Runner {
    gen: u32,
    cfg: Option<MeshCfg>,
    incarnation: u32,
    listener: Option<(KSock, Callbacks)>,
    next_listen: u64,
    peers: [Peer; MAX_NODES],
    pending: [Option<KBox<Conn>>; MAX_PENDING],
    member: Option<Membership>,
    next_hb: u64,
    /// Mesh clock (ms) of the last warning of a failed proof, and the
    /// failures not warned of since.
    auth_warned: Option<u64>,
    auth_unwarned: u32,
    /// The features' upcalls.
    up: Upcalls,
}

/// Whether the thread is asked to stop.
fn should_stop() -> bool {
    // SAFETY: called from the kthread itself.
    wake::stopping() || unsafe { bindings::kthread_should_stop() }
}

impl Runner {
    fn new(up: Upcalls) -> Self {
        Self {
            up,
            gen: GEN.load(Ordering::Acquire).wrapping_sub(1),
            cfg: None,
            incarnation: 0,
            listener: None,
            next_listen: 0,
            peers: [const { Peer::new() }; MAX_NODES],
            pending: [const { None }; MAX_PENDING],
            member: None,
            next_hb: 0,
            auth_warned: None,
            auth_unwarned: 0,
        }
    }

    fn run(&mut self, waker: &Waker) {
        while !should_stop() {
            // Read before the round: a `wake` during it makes the sleep
            // below return at once.
            let seen = waker.generation();
            self.sync_config();
            let now = clock::now_ms();
            if self.cfg.is_some() {
                self.listen(now);
                self.accept(now);
                self.connect(now);
                self.poll(now);
                self.drain_queue();
                self.drain_calls();
                if now >= self.next_hb {
                    self.heartbeat();
                    let hb = self.cfg.as_ref().map_or(500, |c| c.heartbeat_ms);
                    self.next_hb = now + hb;
                }
                self.tick(clock::now_ms());
                self.flush_all();
            }
            let jiffies = match self.next_deadline() {
                // `msecs_to_jiffies` rounds up: the deadline has passed
                // when the thread wakes.
                Some(d) => {
                    let ms = d.saturating_sub(clock::now_ms()).max(1);
                    clock::msecs_to_jiffies(u32::try_from(ms).unwrap_or(u32::MAX))
                }
                None => Jiffies::MAX,
            };
            waker.sleep(seen, jiffies);
        }
    }

    /// The earliest time (mesh clock, ms) at which the thread has work that
    /// no [`wake`] announces: the next heartbeat, a peer's death, a
    /// reconnection, the listener's retry, a connection's HELLO timeout.
    /// `None` without a configuration.
    fn next_deadline(&self) -> Option<u64> {
        self.cfg.as_ref()?;
        let mut next = self.next_hb;
        if let Some(d) = self.member.as_ref().and_then(|m| m.next_deadline()) {
            next = next.min(d);
        }
        if self.listener.is_none() {
            next = next.min(self.next_listen);
        }
        let hello = |c: &Conn| {
            (c.phase != Phase::Established).then(|| c.since.saturating_add(HELLO_TIMEOUT_MS + 1))
        };
        for p in &self.peers {
            match p.conn.as_deref() {
                Some(c) => next = hello(c).map_or(next, |d| next.min(d)),
                None if p.next_try > 0 => next = next.min(p.next_try),
                None => {}
            }
        }
        for c in self.pending.iter().flatten() {
            next = hello(c).map_or(next, |d| next.min(d));
        }
        Some(next)
    }

    /// Drops every connection and the listener.
    fn teardown(&mut self) {
        for (id, p) in (1u8..).zip(self.peers.iter_mut()) {
            if p.conn.is_some() {
                calls::connection_lost(id);
            }
            *p = Peer::new();
        }
        for c in &mut self.pending {
            *c = None;
        }
        if let Some((l, old)) = self.listener.take() {
            l.swap_callbacks(old);
        }
        self.cfg = None;
        self.member = None;
    }

    /// Picks up a configuration change.
    fn sync_config(&mut self) {
        let gen = GEN.load(Ordering::Acquire);
        if gen == self.gen {
            return;
        }
        self.gen = gen;
        self.teardown();
        for p in &PEERS {
            p.reset();
        }
        let guard = rcu::Guard::new();
        let cfg = state::with(|st| {
            let c = st.config.get(&guard)?;
            let mesh = c.mesh();
            if !mesh.enabled() {
                return None;
            }
            let me = c.self_node()?;
            let mut addrs = [0u32; MAX_NODES];
            for n in c.nodes() {
                if let Some(a) = addrs.get_mut(usize::from(n.id).wrapping_sub(1)) {
                    *a = n.addr;
                }
            }
            Some((
                MeshCfg {
                    self_id: me.id,
                    self_addr: me.addr,
                    port: mesh.port,
                    heartbeat_ms: u64::from(mesh.heartbeat_ms),
                    fingerprint: c.fingerprint(),
                    key: *c.mesh_key(),
                    addrs,
                },
                Membership::new(
                    me.id,
                    node_set(c),
                    mesh.dead_ms(),
                    grace_ms(mesh.dead_ms()),
                    clock::now_ms(),
                ),
            ))
        })
        .flatten();
        drop(guard);
        match cfg {
            Some((cfg, member)) => {
                pr_info!(
                    "mesh: node {} on port {}, {} peer(s)\n",
                    cfg.self_id,
                    cfg.port,
                    cfg.peers().count()
                );
                VIEW.store(member.view().pack(), Ordering::Release);
                self.member = Some(member);
                self.cfg = Some(cfg);
                // SAFETY: `get_random_u32()` may be called from any context.
                self.incarnation = unsafe { bindings::get_random_u32() };
                self.next_hb = 0;
                self.next_listen = 0;
                ENABLED.store(true, Ordering::Relaxed);
            }
            None => {
                VIEW.store(View::ALL.pack(), Ordering::Release);
                ENABLED.store(false, Ordering::Relaxed);
            }
        }
        self.publish();
    }

    /// Opens the listener (retried every second until it works: the
    /// internal address may not be up yet).
    fn listen(&mut self, now: u64) {
        if self.listener.is_some() || now < self.next_listen {
            return;
        }
        let Some(cfg) = self.cfg.as_ref() else { return };
        let r = (|| -> Result<(KSock, Callbacks)> {
            let s = KSock::tcp()?;
            s.set_reuseaddr();
            let old = s.swap_callbacks(OURS);
            let res = s.bind(cfg.self_addr, cfg.port).and_then(|()| s.listen(16));
            if let Err(e) = res {
                s.swap_callbacks(old);
                return Err(e);
            }
            Ok((s, old))
        })();
        match r {
            Ok(l) => self.listener = Some(l),
            Err(e) => {
                pr_warn!(
                    "mesh: cannot listen on port {}: error {}\n",
                    cfg.port,
                    e.to_errno()
                );
                self.next_listen = now + 1000;
            }
        }
    }

    /// Accepts new connections: configured nodes wait for their HELLO,
    /// anything else is reset.
    fn accept(&mut self, now: u64) {
        let Some((l, old)) = self.listener.as_ref() else {
            return;
        };
        let old = *old;
        loop {
            let s = match l.accept() {
                Ok(Some(s)) => s,
                Ok(None) | Err(_) => return,
            };
            // The child inherited our callbacks from the listener, not
            // `TCP_NODELAY`: small frames (a HANDOVER_ACK) go out at once.
            s.set_nodelay();
            let addr = s.peer_addr().unwrap_or(0);
            let node = self.cfg.as_ref().and_then(|c| c.id_of(addr));
            if node.is_none() || node == self.cfg.as_ref().map(|c| c.self_id) {
                stats::inc(Counter::MeshRefused);
                s.swap_callbacks(old);
                s.abort();
                continue;
            }
            let Ok(c) = Conn::new(s, old, Phase::AwaitHello, addr, 0, now) else {
                continue;
            };
            // A full pending list: the oldest goes.
            let slot = match self.pending.iter().position(|p| p.is_none()) {
                Some(i) => i,
                None => {
                    let oldest = (0..MAX_PENDING)
                        .min_by_key(|&i| {
                            self.pending
                                .get(i)
                                .and_then(|p| p.as_ref())
                                .map_or(0, |c| c.since)
                        })
                        .unwrap_or(0);
                    if let Some(Some(mut o)) = self.pending.get_mut(oldest).map(|p| p.take()) {
                        o.reset = true;
                    }
                    oldest
                }
            };
            if let Some(p) = self.pending.get_mut(slot) {
                *p = Some(c);
            }
        }
    }

    /// Opens the connections this node owes (to every peer with a higher
    /// id) when their backoff allows.
    fn connect(&mut self, now: u64) {
        let Some(cfg) = self.cfg.as_ref() else { return };
        for id in cfg.peers().filter(|&id| id > cfg.self_id) {
            let (Some(addr), Some(p)) = (cfg.addr(id), self.peers.get_mut(usize::from(id) - 1))
            else {
                continue;
            };
            if p.conn.is_some() || now < p.next_try {
                continue;
            }
            let r = (|| -> Result<KBox<Conn>> {
                let s = KSock::tcp()?;
                s.set_nodelay();
                let old = s.swap_callbacks(OURS);
                let c = Conn::new(s, old, Phase::Connecting, addr, id, now)?;
                c.sock.bind(cfg.self_addr, 0)?;
                c.sock.connect_start(addr, cfg.port)?;
                Ok(c)
            })();
            match r {
                Ok(c) => {
                    p.conn = Some(c);
                    set_conn(id, PeerConn::Connecting);
                }
                Err(_) => backoff(p, now),
            }
        }
    }

    /// Services every connection: progress of connects, input, timeouts.
    fn poll(&mut self, now: u64) {
        for i in 0..MAX_PENDING {
            let Some(mut c) = self.pending.get_mut(i).and_then(|p| p.take()) else {
                continue;
            };
            match self.service(&mut c, now) {
                Ok(()) if c.phase == Phase::Established => self.install(c),
                Ok(()) => {
                    if let Some(p) = self.pending.get_mut(i) {
                        *p = Some(c);
                    }
                }
                Err(why) => self.closed(c, why, now),
            }
        }
        for i in 0..MAX_NODES {
            let Some(mut c) = self.peers.get_mut(i).and_then(|p| p.conn.take()) else {
                continue;
            };
            match self.service(&mut c, now) {
                Ok(()) => {
                    if let Some(p) = self.peers.get_mut(i) {
                        p.conn = Some(c);
                    }
                }
                Err(why) => self.closed(c, why, now),
            }
        }
    }

    /// Makes an accepted connection whose HELLO was accepted the peer's
    /// connection (replacing an older one: the peer restarted).
    fn install(&mut self, c: KBox<Conn>) {
        let id = c.peer;
        if let Some(p) = self.peers.get_mut(usize::from(id).wrapping_sub(1)) {
            p.conn = Some(c);
            p.backoff = BACKOFF_MIN_MS;
            set_conn(id, PeerConn::Established);
        }
    }

    /// Handles the end of a connection.
    fn closed(&mut self, mut c: KBox<Conn>, why: Close, now: u64) {
        let id = c.peer;
        match why {
            Close::Bad(e) => {
                stats::inc(frame_counter(e));
                c.reset = true;
                count_error(id);
            }
            Close::Refused => {
                c.reset = true;
                count_error(id);
            }
            Close::AuthFailed => {
                stats::inc(Counter::MeshAuthFailed);
                c.reset = true;
                count_error(id);
                self.warn_auth(&c, now);
            }
            Close::Error | Close::Timeout => count_error(id),
            Close::Eof => {}
        }
        let ours = c.phase == Phase::Connecting || c.phase == Phase::HelloSent;
        // An accepted connection that failed its proof names no peer.
        let id = if c.phase == Phase::AwaitProof { 0 } else { id };
        let was_up = c.phase == Phase::Established;
        drop(c);
        if id == 0 {
            return;
        }
        if was_up {
            // The requests that went out on it get no answer any more.
            calls::connection_lost(id);
        }
        set_conn(id, PeerConn::None);
        if let Some(p) = self.peers.get_mut(usize::from(id) - 1) {
            if ours {
                backoff(p, now);
            } else if was_up {
                p.next_try = now + BACKOFF_MIN_MS;
                p.backoff = BACKOFF_MIN_MS;
            }
        }
    }

    /// One round on one connection. Process context.
    fn service(&mut self, c: &mut Conn, now: u64) -> core::result::Result<(), Close> {
        let Some(cfg) = self.cfg.as_ref() else {
            return Err(Close::Timeout);
        };
        let me = cfg.self_id;
        if c.phase == Phase::Connecting {
            let (state, err) = c.sock.tcp_state();
            if err != 0 || state == ksock::TCP_CLOSE {
                return Err(Close::Error);
            }
            if state != TCP_ESTABLISHED {
                return if now.saturating_sub(c.since) > HELLO_TIMEOUT_MS {
                    Err(Close::Timeout)
                } else {
                    Ok(())
                };
            }
            c.nonce = crypto::nonce();
            let hello = Msg::Hello(Hello {
                fingerprint: cfg.fingerprint,
                incarnation: self.incarnation,
                nonce: c.nonce,
            });
            if !c.queue(me, &hello) {
                return Err(Close::Error);
            }
            c.phase = Phase::HelloSent;
            set_conn(c.peer, PeerConn::Hello);
        }
        if c.phase != Phase::Established && now.saturating_sub(c.since) > HELLO_TIMEOUT_MS {
            stats::inc(Counter::MeshHelloRefused);
            return Err(Close::Timeout);
        }
        c.flush()?;
        let eof = c.fill()?;
        loop {
            let (frame_len, sender, msg) = match wire::decode(c.rx.data()) {
                Ok(Decoded::Frame(f, n)) => {
                    c.check.check(&f.header).map_err(Close::Bad)?;
                    (n, f.header.sender, In::from(&f))
                }
                Ok(Decoded::Incomplete) => break,
                Err(e) => return Err(Close::Bad(e)),
            };
            c.rx.consume(frame_len);
            self.handle(c, sender, msg, now)?;
        }
        if eof {
            if !c.rx.is_empty() {
                return Err(Close::Bad(FrameError::Truncated));
            }
            return Err(Close::Eof);
        }
        c.flush()
    }

    /// Handles one frame from `sender` on `c`.
    fn handle(
        &mut self,
        c: &mut Conn,
        sender: u8,
        msg: In,
        now: u64,
    ) -> core::result::Result<(), Close> {
        let Some(cfg) = self.cfg.as_ref() else {
            return Err(Close::Timeout);
        };
        let me = cfg.self_id;
        match (c.phase, msg) {
            (Phase::AwaitHello, In::Hello(h)) => {
                let status = if cfg.addr(sender) != Some(c.peer_addr) || sender == me {
                    HelloStatus::NotAPeer
                } else if h.fingerprint != cfg.fingerprint {
                    HelloStatus::ConfigMismatch
                } else {
                    HelloStatus::Ok
                };
                let (nonce, proof, exchange) = if status == HelloStatus::Ok {
                    let x = Exchange {
                        connector: sender,
                        listener: me,
                        fingerprint: cfg.fingerprint,
                        connector_nonce: h.nonce,
                        listener_nonce: crypto::nonce(),
                    };
                    let proof = hmac::hello_proof(
                        crypto::sha256_digest,
                        &cfg.key.0,
                        Direction::Listener,
                        &x,
                    );
                    (x.listener_nonce, proof, Some(x))
                } else {
                    ([0; NONCE_LEN], [0; MAC_LEN], None)
                };
                let ack = Msg::HelloAck(HelloAck {
                    fingerprint: cfg.fingerprint,
                    incarnation: self.incarnation,
                    status,
                    nonce,
                    proof,
                });
                c.queue(me, &ack);
                if status != HelloStatus::Ok {
                    stats::inc(Counter::MeshHelloRefused);
                    let _ = c.flush();
                    pr_warn!(
                        "mesh: refused HELLO from node {} ({})\n",
                        sender,
                        if status == HelloStatus::NotAPeer {
                            "not a peer"
                        } else {
                            "configuration differs"
                        }
                    );
                    return Err(Close::Refused);
                }
                // Established only once the connecting node proved that
                // it has the key.
                c.exchange = exchange;
                c.phase = Phase::AwaitProof;
            }
            (Phase::AwaitProof, In::HelloProof(p)) => {
                let ok = c.exchange.as_ref().is_some_and(|x| {
                    x.connector == sender
                        && hmac::check_proof(
                            crypto::sha256_digest,
                            &cfg.key.0,
                            Direction::Connector,
                            x,
                            &p.proof,
                        )
                });
                if !ok {
                    return Err(Close::AuthFailed);
                }
                c.exchange = None;
                c.peer = sender;
                c.phase = Phase::Established;
                self.up(sender, now);
            }
            (Phase::HelloSent, In::HelloAck(a)) => {
                if a.status != HelloStatus::Ok || a.fingerprint != cfg.fingerprint {
                    stats::inc(Counter::MeshHelloRefused);
                    pr_warn!("mesh: node {} refused our HELLO\n", c.peer);
                    return Err(Close::Refused);
                }
                let x = Exchange {
                    connector: me,
                    listener: c.peer,
                    fingerprint: cfg.fingerprint,
                    connector_nonce: c.nonce,
                    listener_nonce: a.nonce,
                };
                let key = &cfg.key.0;
                if !hmac::check_proof(
                    crypto::sha256_digest,
                    key,
                    Direction::Listener,
                    &x,
                    &a.proof,
                ) {
                    return Err(Close::AuthFailed);
                }
                let proof = HelloProof {
                    proof: hmac::hello_proof(crypto::sha256_digest, key, Direction::Connector, &x),
                };
                if !c.queue(me, &Msg::HelloProof(proof)) {
                    return Err(Close::Error);
                }
                c.phase = Phase::Established;
                if let Some(p) = self.peers.get_mut(usize::from(c.peer) - 1) {
                    p.backoff = BACKOFF_MIN_MS;
                }
                set_conn(c.peer, PeerConn::Established);
                let id = c.peer;
                self.up(id, now);
            }
            (Phase::Established, In::Heartbeat(h)) => {
                let us = clock::now_us();
                if let Some(p) = self.peers.get_mut(usize::from(c.peer) - 1) {
                    p.echo_us = h.sent_us;
                    p.echo_at = us;
                    p.clock_delta = Some(homsg::clock_delta(p.clock_delta, h.sent_us, us));
                }
                if let Some(m) = self.member.as_mut() {
                    m.peer_view(c.peer, h.view);
                }
                if h.echo_us != 0 {
                    let rtt = us
                        .saturating_sub(h.echo_us)
                        .saturating_sub(u64::from(h.echo_delay_us));
                    if let Some(s) = peer_stats(c.peer) {
                        s.rtt_us
                            .store(u32::try_from(rtt).unwrap_or(u32::MAX), Ordering::Relaxed);
                    }
                }
            }
            (Phase::Established, In::Load(l)) => {
                if let Some(s) = peer_stats(c.peer) {
                    let v = [
                        l.active_flows,
                        l.handed_in,
                        l.handed_out,
                        l.handovers_total as u32,
                    ];
                    for (a, v) in s.load.iter().zip(v) {
                        a.store(v, Ordering::Relaxed);
                    }
                }
            }
            (Phase::Established, In::Closed(m)) => closed_received(&self.up, &m, c.peer_addr),
            (Phase::Established, In::ScClone(p)) => {
                let ack = (self.up.sc_clone)(p.as_deref(), c.peer_addr);
                if !c.queue(me, &Msg::ScAck(&ack)) {
                    return Err(Close::Error);
                }
            }
            (Phase::Established, In::ScAck(p)) => {
                (self.up.sc_ack)(c.peer, &p).map_err(|()| Close::Bad(FrameError::BadPayload))?
            }
            (Phase::Established, In::Handover(p)) => {
                let delta = self
                    .peers
                    .get(usize::from(c.peer) - 1)
                    .and_then(|p| p.clock_delta);
                let from = c.peer;
                let mut answer =
                    |ack: &HandoverAck| c.queue(me, &Msg::HandoverAck(&ack.to_bytes()));
                if !(self.up.handover)(p.as_deref(), from, delta, &mut answer) {
                    return Err(Close::Error);
                }
            }
            (Phase::Established, In::HandoverAck(Some(a))) => {
                let e = i32::try_from(a.errno).unwrap_or(i32::MAX);
                calls::answered(c.peer, MsgType::Handover, a.call_id, e);
            }
            _ => return Err(Close::Bad(FrameError::BadPayload)),
        }
        if c.peer != 0 {
            if let Some(s) = peer_stats(c.peer) {
                s.rx.fetch_add(1, Ordering::Relaxed);
                s.last_heard.store(now, Ordering::Relaxed);
            }
            if let Some(m) = self.member.as_mut() {
                if let Some(ch) = m.heard(c.peer, now) {
                    changed(&self.up, ch);
                }
            }
        }
        Ok(())
    }

    /// Warns of a failed proof on `c`, at most once per [`AUTH_WARN_MS`]
    /// (the failures in between are summed up in the next warning).
    fn warn_auth(&mut self, c: &Conn, now: u64) {
        if self
            .auth_warned
            .is_some_and(|t| now.saturating_sub(t) < AUTH_WARN_MS)
        {
            self.auth_unwarned = self.auth_unwarned.saturating_add(1);
            return;
        }
        let a = c.peer_addr.to_be_bytes();
        pr_warn!(
            "mesh: {}.{}.{}.{} failed to prove the mesh key ({}; {} more since the last warning): connection reset\n",
            a[0],
            a[1],
            a[2],
            a[3],
            if c.phase == Phase::AwaitProof {
                "its HELLO-PROOF"
            } else {
                "its HELLO-ACK"
            },
            self.auth_unwarned
        );
        self.auth_warned = Some(now);
        self.auth_unwarned = 0;
    }

    /// A HELLO exchange completed with `id`.
    fn up(&mut self, id: u8, now: u64) {
        stats::inc(Counter::MeshConnected);
        if let Some(s) = peer_stats(id) {
            s.connects.fetch_add(1, Ordering::Relaxed);
            s.last_heard.store(now, Ordering::Relaxed);
        }
        // The peer's first heartbeat goes out now.
        self.next_hb = 0;
    }

    /// Sends the close notifications the packet path queued.
    fn drain_queue(&mut self) {
        let mut batch = [None; TXQ_CAP];
        let n = TXQ
            .with(|q| {
                let mut q = q.lock();
                let n = q.len;
                for (d, s) in batch.iter_mut().zip(q.items.iter_mut()).take(n) {
                    *d = s.take();
                }
                q.len = 0;
                n
            })
            .unwrap_or(0);
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        for item in batch.iter().take(n).flatten() {
            let id = self
                .cfg
                .as_ref()
                .and_then(|c| c.id_of(item.to))
                .unwrap_or(0);
            let sent = match self
                .peers
                .get_mut(usize::from(id).wrapping_sub(1))
                .and_then(|p| p.conn.as_mut())
            {
                Some(c) if c.phase == Phase::Established => c.queue(me, &Msg::Closed(item.msg)),
                _ => false,
            };
            stats::inc(if sent {
                Counter::MeshClosedSent
            } else {
                Counter::MeshTxDropped
            });
        }
    }

    /// Sends the requests of waiting mesh calls (handovers, clones).
    fn drain_calls(&mut self) {
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        let batch = calls::take_outgoing();
        if batch.is_empty() {
            return;
        }
        // A CLOSED (a clone settled, a connection ended) queued before a
        // call must reach the peer before the call's request: the payloads
        // are taken first, then the close notifications go out, then the
        // payloads.
        self.drain_queue();
        for o in batch.iter() {
            let msg = match o.kind {
                MsgType::Handover => Msg::Handover(&o.payload),
                _ => Msg::ScClone(&o.payload),
            };
            let sent = match self
                .peers
                .get_mut(usize::from(o.to).wrapping_sub(1))
                .and_then(|p| p.conn.as_mut())
            {
                Some(c) if c.phase == Phase::Established => c.queue(me, &msg),
                _ => false,
            };
            if sent {
                calls::sent(o.id);
            } else {
                calls::send_failed(o.id);
            }
        }
    }

    /// Sends HEARTBEAT and LOAD to every established peer.
    fn heartbeat(&mut self) {
        let Some(me) = self.cfg.as_ref().map(|c| c.self_id) else {
            return;
        };
        let load = state::with(|st| census(&st.flows)).unwrap_or(Load {
            active_flows: 0,
            handed_in: 0,
            handed_out: 0,
            handovers_total: 0,
        });
        let view = view().live.mask();
        let us = clock::now_us();
        for p in &mut self.peers {
            let (echo_us, echo_at) = (p.echo_us, p.echo_at);
            let Some(c) = p.conn.as_mut() else { continue };
            if c.phase != Phase::Established {
                continue;
            }
            let hb = Msg::Heartbeat(Heartbeat {
                sent_us: us,
                echo_us,
                echo_delay_us: if echo_us == 0 {
                    0
                } else {
                    u32::try_from(us.saturating_sub(echo_at)).unwrap_or(u32::MAX)
                },
                view,
            });
            if !c.queue(me, &hb) || !c.queue(me, &Msg::Load(load)) {
                c.reset = true;
                p.conn = None;
            }
        }
    }

    /// Marks silent peers down and publishes the view.
    fn tick(&mut self, now: u64) {
        let up = self.up;
        if let Some(m) = self.member.as_mut() {
            m.tick(now, |ch| changed(&up, ch));
        }
        self.publish();
    }

    /// Publishes the view and the peers' states.
    fn publish(&self) {
        let Some(m) = self.member.as_ref() else {
            return;
        };
        VIEW.store(m.view().pack(), Ordering::Release);
        for id in m.peers() {
            if let Some(s) = peer_stats(id) {
                s.state.store(m.liveness(id) as u32, Ordering::Relaxed);
            }
        }
    }

    fn flush_all(&mut self) {
        for p in &mut self.peers {
            if let Some(c) = p.conn.as_mut() {
                if c.flush().is_err() {
                    c.reset = true;
                    p.conn = None;
                }
            }
        }
    }
}

/// Logs and counts a peer's change of state. Process context.
fn changed(up: &Upcalls, ch: Change) {
    match ch.to {
        PeerState::Down => {
            stats::inc(Counter::MeshNodeDown);
            if let Some(s) = peer_stats(ch.id) {
                s.down_count.fetch_add(1, Ordering::Relaxed);
            }
            pr_info!("mesh: node {} is down\n", ch.id);
            (up.node_down)(ch.id);
        }
        PeerState::Up => {
            stats::inc(Counter::MeshNodeUp);
            pr_info!("mesh: node {} is up\n", ch.id);
        }
        PeerState::Unknown => {}
    }
}

fn set_conn(id: u8, v: PeerConn) {
    if let Some(s) = peer_stats(id) {
        s.conn.store(v as u32, Ordering::Relaxed);
    }
}

fn count_error(id: u8) {
    if let Some(s) = peer_stats(id) {
        s.errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn backoff(p: &mut Peer, now: u64) {
    p.next_try = now + p.backoff;
    p.backoff = (p.backoff * 2).min(BACKOFF_MAX_MS);
}

/// This node's LOAD figures. Process context.
fn census(flows: &FlowTable) -> Load {
    let (mut handed_in, mut handed_out) = (0u32, 0u32);
    flows.for_each(|f| match (f.role, f.fcb.state()) {
        (Role::ClientDst, _) => handed_in = handed_in.saturating_add(1),
        (Role::Client, FcbState::HandedOver) => handed_out = handed_out.saturating_add(1),
        _ => {}
    });
    Load {
        active_flows: u32::try_from(flows.len()).unwrap_or(u32::MAX),
        handed_in,
        handed_out,
        handovers_total: stats::get(Counter::HandoverDone),
    }
}

/// A CLOSED from the node that served a connection this node handed over:
/// releases what this node kept of it and tells the node it came from, if
/// it was handed in here. `from` is the internal address of the node that
/// sent it (over an authenticated connection); a CLOSED about a connection
/// that was handed to another node is ignored and counted
/// ([`Counter::ClosedForged`]). Process context (the mesh thread).
fn closed_received(up: &Upcalls, m: &Closed, from: u32) {
    stats::inc(Counter::MeshClosedReceived);
    let key = FlowKey {
        laddr: m.vip,
        lport: m.app_port,
        raddr: m.client_addr,
        rport: m.client_port,
    };
    if (up.closed)(&key, from) {
        return;
    }
    state::with(|st| {
        let fcb = {
            let g = rcu::Guard::new();
            match st.flows.lookup(&key, &g) {
                Some(f) if f.role == Role::Client => {
                    let now = f.fcb.state();
                    matches!(now, FcbState::HandedOver | FcbState::HandingOver)
                        .then(|| (f.fcb.clone(), now))
                }
                _ => None,
            }
        };
        let Some((fcb, now)) = fcb else { return };
        if fcb.peer().0 != from {
            stats::inc(Counter::ClosedForged);
            return;
        }
        // The CLOSED overtook the handover caller's wake-up: unless the
        // caller marked the handover done meanwhile, it frees the entry
        // itself ([`crate::handoff::handover`]). The state is the one read above:
        // read again, a handover that failed meanwhile (`Proxying`) would
        // look done, and the proxied connection's entry would be freed.
        let reason = if now == FcbState::HandingOver {
            match fcb.defer_closed(m.reason) {
                Some(r) => r,
                None => return,
            }
        } else {
            m.reason
        };
        release(st, &fcb, reason);
    });
}

/// Frees the entry of `fcb`'s connection, handed over and now ended at its
/// destination (`reason`), and reports the end to the node the connection
/// was handed in from, if any. Process context.
pub(crate) fn release(st: &state::State, fcb: &Arc<Fcb>, reason: CloseReason) {
    stats::inc(Counter::MeshClosedFreed);
    if st.flows.remove_entry(&fcb.client_key(), fcb) {
        stats::inc(Counter::FlowRemoved);
    }
    let origin = fcb.origin();
    if origin != 0 {
        notify_closed(fcb, origin, reason);
    }
}
