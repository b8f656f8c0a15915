//! The socket calls of the DTS ABI on a client connection.
//!
//! The only module of `dts-proxy` with `unsafe` code:
//!
//! - [`request_handover`]: the `DTS_SO_HANDOVER` socket option, one
//!   `setsockopt(2)` call with a [`HandoverReqV1`] argument that points at
//!   the bytes the proxy has read. The kernel copies those bytes during the
//!   call, so they only need to live until it returns.
//! - [`handed_in`]: the `DTS_SO_GET_FLOW` socket option, one
//!   `getsockopt(2)` call (through [`dts::sockopt::get_option`], the
//!   `dts` crate's wrapper, which the load view uses too) that says
//!   whether the connection was handed over to this node by another one
//!   ([`FlowInfoV1`]).
//! - [`unacked_bytes`]: `ioctl(SIOCOUTQ)`, the bytes sent on the connection
//!   that the client has not acknowledged yet; a handover is refused
//!   (`EBUSY`) unless there are none.
//!
//! On success the connection belongs to the destination node and the caller
//! must only close its descriptor (the module has set `SO_LINGER` 0 on it and
//! drops the resulting RST). On failure the connection is intact and still
//! the caller's. The errno values are listed in `Documentation/proxy.md` and
//! `include/dts_handover.h`.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use dts::sockopt::get_option;
use dts_core::abi::{
    FlowInfoV1, HandoverReqV1, DTS_SO_GET_FLOW, DTS_SO_HANDOVER, DTS_SO_LEVEL, FLOW_INFO_V1_SIZE,
    HANDOVER_REFORWARD, HANDOVER_REQ_V1_SIZE,
};

/// A connection another node handed over to this one ([`handed_in`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HandedIn {
    /// The node that handed it over.
    pub(crate) from: u32,
    /// That node had it handed in itself and re-forwarded it here
    /// ([`FlowInfoV1::reforwarded`]): its first request may not be
    /// re-forwarded again.
    pub(crate) reforwarded: bool,
}

/// Asks the module to hand `client` over to node `dest_node`; `buf` is
/// what the proxy has read from `client` (all of it).
///
/// Returns the OS error of `setsockopt()` on failure (`ENOPROTOOPT` when
/// the module is not loaded).
pub(crate) fn request_handover(client: &TcpStream, dest_node: u32, buf: &[u8]) -> io::Result<()> {
    request_with(client, dest_node, buf, 0)
}

/// [`request_handover`] of a handed-in connection whose first request
/// another node owns: owner re-forwarding (`HANDOVER_REFORWARD`). The
/// module refuses it with `EINVAL` if the connection was not handed in,
/// and with `ELOOP` if it was re-forwarded here already.
pub(crate) fn request_reforward(client: &TcpStream, dest_node: u32, buf: &[u8]) -> io::Result<()> {
    request_with(client, dest_node, buf, HANDOVER_REFORWARD)
}

/// `DTS_SO_HANDOVER` with `flags`.
fn request_with(client: &TcpStream, dest_node: u32, buf: &[u8], flags: u32) -> io::Result<()> {
    let len = u64::try_from(buf.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let addr = u64::try_from(buf.as_ptr().expose_provenance())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let req = HandoverReqV1 {
        flags,
        ..HandoverReqV1::new(dest_node, addr, len)
    }
    .to_bytes();
    let optlen = libc::socklen_t::try_from(HANDOVER_REQ_V1_SIZE)
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `req` is valid for reads of `optlen` bytes (its size) and
    // outlives the call. The address inside it points at `buf`, which is
    // valid for reads of `len` bytes and borrowed for the whole call; the
    // kernel only reads from both. The descriptor is owned by `client`,
    // which is borrowed, so it stays open.
    let rc = unsafe {
        libc::setsockopt(
            client.as_raw_fd(),
            DTS_SO_LEVEL,
            DTS_SO_HANDOVER,
            req.as_ptr().cast(),
            optlen,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What the module knows of `client` (`DTS_SO_GET_FLOW`).
///
/// Fails with `ENOENT` if the module does not track the connection,
/// `ENOPROTOOPT` if it is not loaded, `EPERM` without the capability, and
/// `EPROTO` for an answer this proxy cannot decode.
pub(crate) fn flow_info(client: &TcpStream) -> io::Result<FlowInfoV1> {
    let mut buf = [0u8; FLOW_INFO_V1_SIZE];
    let got = get_option(client, DTS_SO_GET_FLOW, &mut buf)?;
    FlowInfoV1::decode(got).map_err(|_| io::Error::from_raw_os_error(libc::EPROTO))
}

/// Whether `client` was handed over to this node, by which node, and
/// whether it was re-forwarded.
///
/// Any error of [`flow_info`] means "not handed in": the connection was
/// accepted here normally (or the module cannot say otherwise), and the
/// proxy routes its first request as usual.
pub(crate) fn handed_in(client: &TcpStream) -> Option<HandedIn> {
    flow_info(client)
        .ok()
        .filter(FlowInfoV1::handed_in)
        .map(|info| HandedIn {
            from: info.from_node,
            reforwarded: info.reforwarded(),
        })
}

/// Bytes written to `client` that the client has not acknowledged yet
/// (`ioctl(SIOCOUTQ)`, alias `TIOCOUTQ`: unsent plus unacknowledged).
pub(crate) fn unacked_bytes(client: &TcpStream) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one `int` through the pointer, which is valid
    // for that write and outlives the call. The descriptor is owned by
    // `client`, which is borrowed, so it stays open.
    let rc = unsafe { libc::ioctl(client.as_raw_fd(), libc::TIOCOUTQ, &raw mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    usize::try_from(n).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// On a host without the module the kernel refuses the option, and the
    /// connection stays usable.
    #[test]
    fn fails_cleanly_without_the_module() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let err = request_handover(&server, 2, b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
        // ENOPROTOOPT without the module; EINVAL if a module is loaded
        // (not a proxied connection); EPERM without CAP_NET_ADMIN.
        let errno = err.raw_os_error().unwrap();
        assert!(
            [libc::ENOPROTOOPT, libc::EINVAL, libc::EPERM].contains(&errno),
            "{err}"
        );
        use std::io::{Read, Write};
        (&server).write_all(b"still here").unwrap();
        let mut got = [0u8; 10];
        (&client).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"still here");
    }

    /// Without the module the flow query fails (`ENOPROTOOPT`; `ENOENT`
    /// if a module is loaded but does not track loopback connections), and
    /// the connection counts as not handed in.
    #[test]
    fn flow_query_without_the_module() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let err = flow_info(&server).unwrap_err();
        let errno = err.raw_os_error().unwrap();
        assert!(
            [libc::ENOPROTOOPT, libc::ENOENT, libc::EPERM].contains(&errno),
            "{err}"
        );
        assert_eq!(handed_in(&server), None);
    }

    /// SIOCOUTQ counts what the peer has not acknowledged: 0 on a fresh
    /// connection and once loopback has acknowledged a write; more than 0
    /// while the peer's receive window is full.
    #[test]
    fn unacked_bytes_follow_the_peer() {
        use std::io::Write;
        use std::time::{Duration, Instant};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert_eq!(unacked_bytes(&server).unwrap(), 0);
        (&server).write_all(b"hello").unwrap();
        let start = Instant::now();
        while unacked_bytes(&server).unwrap() != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "never acknowledged"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // Fill the client's receive buffer (it never reads) and our send
        // buffer: what is left cannot be acknowledged.
        server.set_nonblocking(true).unwrap();
        let block = [0u8; 65536];
        loop {
            match (&server).write(&block) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(unacked_bytes(&server).unwrap() > 0);
        drop(client);
    }
}
