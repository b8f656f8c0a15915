//! Handing a client connection over to another node: `DTS_SO_HANDOVER`
//! ([`Handover`], [`HandoverError`]), and the other side of it,
//! `DTS_SO_GET_FLOW` ([`handed_in`], [`flow_info`]).
//!
//! A proxy on the node that accepted a connection reads the client's
//! request, decides which node serves it, and asks the module to move the
//! connection there, with the bytes it read ([`Handover::request`]). On
//! success the connection belongs to the destination node, which answers
//! the client directly: the caller must only drop (close) its
//! `TcpStream` (the module has set `SO_LINGER` 0 on it and drops the
//! resulting RST); writing to it or shutting it down is an error. On
//! failure the connection is intact and still the caller's: it can serve
//! the request itself (it still has the bytes), try another node, or try
//! the same one again later ([`HandoverError::is_transient`]).
//!
//! The errno values are those of `include/dts_handover.h` and
//! `Documentation/proxy.md`; [`HandoverError`] has one variant for each.

use std::io;
use std::net::TcpStream;

use dts_core::abi::{
    FlowInfoV1, HandoverReqV1, DTS_SO_GET_FLOW, DTS_SO_HANDOVER, FLOW_INFO_V1_SIZE,
    HANDOVER_REFORWARD,
};
use thiserror::Error;

use crate::errno::errno_label;
use crate::sockopt::{get_option, os_error, set_option};
use crate::NodeId;

/// Why the module refused a handover (`DTS_SO_HANDOVER`): one variant per
/// errno of `include/dts_handover.h`, and [`HandoverError::Other`] for any
/// other. The connection is intact and still the caller's.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandoverError {
    /// `EPERM`: the caller lacks `CAP_NET_ADMIN`, and the service of the
    /// connection does not grant its uid or groups (`allowed_uid`,
    /// `allowed_gid`).
    #[error(
        "EPERM: the caller lacks CAP_NET_ADMIN and the service does not grant its uid or groups"
    )]
    NotPermitted,
    /// `EINVAL`: a bad request (size, version, flags, a buffer over
    /// `HANDOVER_MAX_BUF`), an unknown destination or this node itself, a
    /// socket that is not a client connection the module redirected to
    /// this proxy, more bytes than the proxy has read, or a re-forward of
    /// a connection that was not handed in.
    #[error("EINVAL: not a proxied connection, unknown destination or malformed request")]
    Invalid,
    /// `EFAULT`: the buffer (or the request) cannot be read.
    #[error("EFAULT: the request's buffer cannot be read")]
    Fault,
    /// `EBADF`: the connection is not established any more (the client
    /// closed or reset it).
    #[error("EBADF: the connection is not established any more")]
    NotEstablished,
    /// `EALREADY`: a handover of this connection is in progress or done.
    #[error("EALREADY: a handover of this connection is in progress or done")]
    InProgress,
    /// `ELOOP`: a re-forward ([`Handover::reforward`]) of a connection
    /// that was itself re-forwarded here: serve it locally.
    #[error("ELOOP: the connection was re-forwarded here already")]
    Loop,
    /// `EBUSY`: the proxy has sent data the client has not acknowledged
    /// yet, or too many handovers are in flight (transient).
    #[error("EBUSY: unacknowledged data, or too many handovers in flight")]
    Busy,
    /// `EMSGSIZE`: the request and the unread bytes exceed one HANDOVER
    /// message (65415 bytes): serve locally.
    #[error("EMSGSIZE: the request and the unread bytes exceed one HANDOVER message")]
    TooLarge,
    /// `EOPNOTSUPP`: the connection's timestamps count microseconds.
    #[error("EOPNOTSUPP: the connection's timestamps count microseconds")]
    NotSupported,
    /// `ECONNREFUSED`: nothing listens at the destination's application
    /// port.
    #[error("ECONNREFUSED: nothing listens at the destination's application port")]
    Refused,
    /// `EAGAIN`: the destination's listener did not take the connection
    /// (its queues are full) (transient).
    #[error("EAGAIN: the destination's listener did not take the connection")]
    ListenerFull,
    /// `EHOSTUNREACH`: this node has no route to the destination.
    #[error("EHOSTUNREACH: no route to the destination")]
    Unreachable,
    /// `EHOSTDOWN`: the control mesh sees the destination down, or lost
    /// its connection to it before the answer.
    #[error("EHOSTDOWN: the destination is down")]
    HostDown,
    /// `ESHUTDOWN`: the destination drains: it takes no new connection.
    #[error("ESHUTDOWN: the destination drains")]
    Draining,
    /// `ETIMEDOUT`: the destination did not answer within 3 s
    /// (transient).
    #[error("ETIMEDOUT: the destination did not answer in time")]
    TimedOut,
    /// `EINTR`: a signal ended the wait, as [`Self::TimedOut`]
    /// (transient).
    #[error("EINTR: a signal ended the wait")]
    Interrupted,
    /// `EPROTO`: the destination announced another TCP window-scale shift
    /// than the proxy's SYN-ACK did: serve locally.
    #[error("EPROTO: the destination's window scale differs")]
    WindowScale,
    /// `ENOMEM`: out of memory (transient).
    #[error("ENOMEM: out of memory")]
    NoMemory,
    /// `ENOSPC`: the flow table is full (transient).
    #[error("ENOSPC: the flow table is full")]
    FlowTableFull,
    /// `ENOPROTOOPT` (from the kernel, not the module): the `dts` module
    /// is not loaded.
    #[error("ENOPROTOOPT: the dts module is not loaded")]
    NoModule,
    /// Any other errno.
    #[error("{}: the handover failed", errno_label(*.0))]
    Other(i32),
}

/// The documented errnos and their variants, in the header's order.
const ERRNOS: [(i32, HandoverError); 20] = [
    (libc::EPERM, HandoverError::NotPermitted),
    (libc::EINVAL, HandoverError::Invalid),
    (libc::EFAULT, HandoverError::Fault),
    (libc::EBADF, HandoverError::NotEstablished),
    (libc::EALREADY, HandoverError::InProgress),
    (libc::ELOOP, HandoverError::Loop),
    (libc::EBUSY, HandoverError::Busy),
    (libc::EMSGSIZE, HandoverError::TooLarge),
    (libc::EOPNOTSUPP, HandoverError::NotSupported),
    (libc::ECONNREFUSED, HandoverError::Refused),
    (libc::EAGAIN, HandoverError::ListenerFull),
    (libc::EHOSTUNREACH, HandoverError::Unreachable),
    (libc::EHOSTDOWN, HandoverError::HostDown),
    (libc::ESHUTDOWN, HandoverError::Draining),
    (libc::ETIMEDOUT, HandoverError::TimedOut),
    (libc::EINTR, HandoverError::Interrupted),
    (libc::EPROTO, HandoverError::WindowScale),
    (libc::ENOMEM, HandoverError::NoMemory),
    (libc::ENOSPC, HandoverError::FlowTableFull),
    (libc::ENOPROTOOPT, HandoverError::NoModule),
];

impl HandoverError {
    /// The variant for `errno` ([`Self::Other`] for an undocumented one).
    pub fn from_errno(errno: i32) -> Self {
        ERRNOS
            .iter()
            .find(|(e, _)| *e == errno)
            .map_or(Self::Other(errno), |&(_, v)| v)
    }

    /// The variant for an I/O error: its errno, or `EINVAL` for an error
    /// without one.
    pub fn from_io(err: &io::Error) -> Self {
        Self::from_errno(err.raw_os_error().unwrap_or(libc::EINVAL))
    }

    /// The errno.
    pub fn errno(self) -> i32 {
        match self {
            Self::Other(errno) => errno,
            v => ERRNOS
                .iter()
                .find(|(_, w)| *w == v)
                .map_or(libc::EINVAL, |&(e, _)| e),
        }
    }

    /// The errno's name (`EBUSY`; `errno-N` for a number without one): a
    /// stable, space-free label for log lines (`dts-proxy`'s `result=`).
    pub fn label(self) -> String {
        errno_label(self.errno())
    }

    /// Whether the refusal says "not now" rather than "no": the same
    /// destination may be asked again after a pause (`ETIMEDOUT`,
    /// `EAGAIN`, `ENOSPC`, `EBUSY`, `ENOMEM`, `EINTR`; what `dts-proxy`'s
    /// retry loop retries). Every other refusal is final for that
    /// destination.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::TimedOut
                | Self::ListenerFull
                | Self::FlowTableFull
                | Self::Busy
                | Self::NoMemory
                | Self::Interrupted
        )
    }
}

impl From<HandoverError> for io::Error {
    fn from(err: HandoverError) -> Self {
        os_error(err.errno())
    }
}

/// A handover request (`DTS_SO_HANDOVER`): plain, or a re-forward.
///
/// ```no_run
/// use dts::handover::Handover;
/// # fn f(client: &std::net::TcpStream, head: &[u8]) {
/// // The usual case.
/// let _ = Handover::request(client, 2, head);
/// // A handed-in connection whose first request node 3 owns.
/// let _ = Handover::new().reforward(true).send(client, 3, head);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handover {
    reforward: bool,
}

impl Handover {
    /// A plain handover.
    pub const fn new() -> Self {
        Self { reforward: false }
    }

    /// With `on`, owner re-forwarding (`HANDOVER_REFORWARD`): the
    /// connection was handed in to this node ([`handed_in`]) and its first
    /// request is owned by another node. The module refuses it with
    /// [`HandoverError::Invalid`] if the connection was not handed in, and
    /// with [`HandoverError::Loop`] if it was re-forwarded here already.
    #[must_use]
    pub const fn reforward(self, on: bool) -> Self {
        Self { reforward: on }
    }

    /// Hands `client` over to node `node`; `buf` is everything the caller
    /// has read from `client` (the module sends it to the destination,
    /// followed by what is still unread). `buf` is copied during the call.
    ///
    /// On success the connection is the destination's: only drop
    /// `client`.
    ///
    /// # Errors
    ///
    /// The module's refusal ([`HandoverError`]); the connection is then
    /// intact and still the caller's.
    pub fn send(self, client: &TcpStream, node: NodeId, buf: &[u8]) -> Result<(), HandoverError> {
        let len = u64::try_from(buf.len()).map_err(|_| HandoverError::Invalid)?;
        let addr =
            u64::try_from(buf.as_ptr().expose_provenance()).map_err(|_| HandoverError::Invalid)?;
        let req = HandoverReqV1 {
            flags: if self.reforward {
                HANDOVER_REFORWARD
            } else {
                0
            },
            ..HandoverReqV1::new(node, addr, len)
        }
        .to_bytes();
        // `buf` is borrowed for the whole call: the kernel reads it there.
        set_option(client, DTS_SO_HANDOVER, &req).map_err(|e| HandoverError::from_io(&e))
    }

    /// `Handover::new().send(client, node, buf)`: hands `client` over to
    /// node `node` with the bytes read from it.
    ///
    /// # Errors
    ///
    /// As [`Self::send`].
    pub fn request(client: &TcpStream, node: NodeId, buf: &[u8]) -> Result<(), HandoverError> {
        Self::new().send(client, node, buf)
    }
}

/// A connection another node handed over to this one ([`handed_in`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandedIn {
    /// The node that handed it over.
    pub from: NodeId,
    /// That node had it handed in itself and re-forwarded it here
    /// ([`FlowInfoV1::reforwarded`]): its first request may not be
    /// re-forwarded again.
    pub reforwarded: bool,
}

/// What the module knows of `client` (`DTS_SO_GET_FLOW`).
///
/// # Errors
///
/// `ENOENT` if the module does not track the connection, `ENOPROTOOPT` if
/// it is not loaded, `EPERM` without the capability, and `EPROTO` for an
/// answer this library cannot decode.
pub fn flow_info(client: &TcpStream) -> io::Result<FlowInfoV1> {
    let mut buf = [0u8; FLOW_INFO_V1_SIZE];
    let got = get_option(client, DTS_SO_GET_FLOW, &mut buf)?;
    FlowInfoV1::decode(got).map_err(|_| os_error(libc::EPROTO))
}

/// Whether `client` was handed over to this node, by which node, and
/// whether it was re-forwarded: `Ok(None)` for a connection accepted here
/// (or one the module does not track, `ENOENT`).
///
/// # Errors
///
/// As [`flow_info`], except `ENOENT`. (`dts-proxy` treats any error as "not
/// handed in".)
pub fn handed_in(client: &TcpStream) -> io::Result<Option<HandedIn>> {
    match flow_info(client) {
        Ok(info) => Ok(info.handed_in().then(|| HandedIn {
            from: info.from_node,
            reforwarded: info.reforwarded(),
        })),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockopt::tests::pair;
    use std::io::{Read, Write};

    /// Every documented errno has its variant, and back; any other is
    /// `Other`, and back.
    #[test]
    fn errnos_round_trip() {
        for (errno, variant) in ERRNOS {
            assert_eq!(HandoverError::from_errno(errno), variant);
            assert_eq!(variant.errno(), errno);
            assert_eq!(HandoverError::from_io(&os_error(errno)), variant);
            assert_eq!(io::Error::from(variant).raw_os_error(), Some(errno));
            let label = variant.label();
            assert!(label.starts_with('E'), "{label}");
            assert!(variant.to_string().starts_with(&label), "{variant}");
        }
        let mut seen: Vec<i32> = ERRNOS.iter().map(|&(e, _)| e).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), ERRNOS.len(), "an errno twice");
        for errno in [0, libc::ENOENT, libc::EIO, 4095] {
            let e = HandoverError::from_errno(errno);
            assert_eq!(e, HandoverError::Other(errno));
            assert_eq!(e.errno(), errno);
        }
        assert_eq!(HandoverError::Other(4095).label(), "errno-4095");
        assert_eq!(
            HandoverError::Other(4095).to_string(),
            "errno-4095: the handover failed"
        );
        let no_errno = io::Error::other("x");
        assert_eq!(HandoverError::from_io(&no_errno), HandoverError::Invalid);
    }

    /// The documented list, by name (`include/dts_handover.h`).
    #[test]
    fn the_headers_errnos() {
        let names: Vec<String> = ERRNOS.iter().map(|&(_, v)| v.label()).collect();
        assert_eq!(
            names.join(" "),
            "EPERM EINVAL EFAULT EBADF EALREADY ELOOP EBUSY EMSGSIZE EOPNOTSUPP \
             ECONNREFUSED EAGAIN EHOSTUNREACH EHOSTDOWN ESHUTDOWN ETIMEDOUT EINTR EPROTO \
             ENOMEM ENOSPC ENOPROTOOPT"
        );
    }

    /// The transient set is `dts-proxy`'s retry set.
    #[test]
    fn transient_errnos() {
        let transient: Vec<i32> = ERRNOS
            .iter()
            .filter(|(_, v)| v.is_transient())
            .map(|&(e, _)| e)
            .collect();
        assert_eq!(
            transient,
            [
                libc::EBUSY,
                libc::EAGAIN,
                libc::ETIMEDOUT,
                libc::EINTR,
                libc::ENOMEM,
                libc::ENOSPC
            ]
        );
        assert!(!HandoverError::Other(libc::EIO).is_transient());
    }

    /// On a host without the module the kernel refuses the option, and the
    /// connection stays usable.
    #[test]
    fn fails_cleanly_without_the_module() {
        let (client, server) = pair();
        let err = Handover::request(&server, 2, b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
        // ENOPROTOOPT without the module; EINVAL if a module is loaded
        // (not a proxied connection); EPERM without CAP_NET_ADMIN.
        assert!(
            [
                HandoverError::NoModule,
                HandoverError::Invalid,
                HandoverError::NotPermitted
            ]
            .contains(&err),
            "{err}"
        );
        let err = Handover::new()
            .reforward(true)
            .send(&server, 2, b"")
            .unwrap_err();
        assert!(!err.is_transient(), "{err}");
        (&server).write_all(b"still here").unwrap();
        let mut got = [0u8; 10];
        (&client).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"still here");
    }

    /// Without the module the flow query fails (`ENOPROTOOPT`; `ENOENT`
    /// if a module is loaded but does not track loopback connections);
    /// the connection is not handed in.
    #[test]
    fn flow_query_without_the_module() {
        let (_client, server) = pair();
        let err = flow_info(&server).unwrap_err();
        let errno = err.raw_os_error().unwrap();
        assert!(
            [libc::ENOPROTOOPT, libc::ENOENT, libc::EPERM].contains(&errno),
            "{err}"
        );
        assert!(!matches!(handed_in(&server), Ok(Some(_))));
    }
}
