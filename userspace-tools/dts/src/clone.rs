//! Socket Cloning: `DTS_SO_CLONE` ([`clone`]) and `DTS_SO_CLONE_WAIT`
//! ([`clone_wait`]), on a client connection of a `mode = "sc"` service.
//!
//! The server that accepted a connection clones it to another node
//! ([`clone`]): that node's stock server receives the request given (an
//! "ASF") and answers the client directly, while the connection stays
//! the caller's for the next request. The caller may clone the next
//! pipelined requests at once (the module queues a connection's clones in
//! request order); before it writes to the client itself or closes,
//! [`clone_wait`] waits until the client acknowledged every clone's
//! response, whose length the clone's node reports (or the caller
//! declared). After any failure of
//! [`clone`] the connection is intact and the caller may serve the
//! request itself. The errnos are listed in `include/dts_handover.h`
//! (`dts_core::abi::clone`); [`crate::errno::error_label`] names them for
//! a log line.

use std::io;
use std::net::TcpStream;

use dts_core::abi::{
    CloneReqV1, CloneStatusV1, CLONE_STATUS_V1_SIZE, DTS_SO_CLONE, DTS_SO_CLONE_WAIT,
};

use crate::sockopt::{get_option_restarting, os_error, set_option};

use crate::NodeId;
/// [`CloneStatusV1::state`] after [`clone_wait`]: no clone in flight, or
/// one still in flight (its response's length cannot be known).
pub use dts_core::abi::{CLONE_ACTIVE, CLONE_IDLE};

/// Asks the module to clone `client` to node `target`, whose server then
/// receives `asf` as the request; `resp_len` is the exact length of its
/// response, if the caller knows it (it wins over the length the clone's
/// node reports; `None` lets the node report it). `asf` is copied during
/// the call.
///
/// # Errors
///
/// The OS error of `setsockopt()` (`ENOPROTOOPT` when the module is not
/// loaded; `EBUSY`, `EHOSTDOWN`, `ETIMEDOUT`, ... as the header lists).
pub fn clone(
    client: &TcpStream,
    target: NodeId,
    asf: &[u8],
    resp_len: Option<u32>,
) -> io::Result<()> {
    let len = u64::try_from(asf.len()).map_err(|_| os_error(libc::EINVAL))?;
    let addr =
        u64::try_from(asf.as_ptr().expose_provenance()).map_err(|_| os_error(libc::EINVAL))?;
    let req = CloneReqV1::new(target, addr, len, resp_len).to_bytes();
    // `asf` is borrowed for the whole call: the kernel reads it there.
    set_option(client, DTS_SO_CLONE, &req)
}

/// Waits until every clone of `client` in flight is settled: the client
/// acknowledged its whole response, whose length was reported by its node
/// or declared (`DTS_SO_CLONE_WAIT`; the module bounds the wait). A clone
/// whose length is unknown stays in flight ([`CLONE_ACTIVE`] in the
/// status). Retried when a signal interrupts it.
///
/// # Errors
///
/// `ETIMEDOUT` if the module's wait ran out, `ENOENT` if the socket was
/// never cloned, `ENOPROTOOPT` without the module, and `EPROTO` for an
/// answer this library cannot decode.
pub fn clone_wait(client: &TcpStream) -> io::Result<CloneStatusV1> {
    let mut buf = [0u8; CLONE_STATUS_V1_SIZE];
    let got = get_option_restarting(client, DTS_SO_CLONE_WAIT, &mut buf)?;
    CloneStatusV1::decode(got).map_err(|_| os_error(libc::EPROTO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockopt::tests::pair;
    use std::io::{Read, Write};

    /// On a host without the module the kernel refuses the options, and
    /// the connection stays usable.
    #[test]
    fn fails_cleanly_without_the_module() {
        let (client, server) = pair();
        let asf = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        let err = clone(&server, 2, asf, Some(100)).unwrap_err();
        // ENOPROTOOPT without the module; EINVAL if a module is loaded (not
        // a Socket Cloning connection); EPERM without the capability.
        let errno = err.raw_os_error().unwrap();
        assert!(
            [libc::ENOPROTOOPT, libc::EINVAL, libc::EPERM].contains(&errno),
            "{err}"
        );
        let err = clone_wait(&server).unwrap_err();
        let errno = err.raw_os_error().unwrap();
        assert!(
            [libc::ENOPROTOOPT, libc::ENOENT, libc::EINVAL, libc::EPERM].contains(&errno),
            "{err}"
        );
        (&server).write_all(b"still here").unwrap();
        let mut got = [0u8; 10];
        (&client).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"still here");
    }
}
