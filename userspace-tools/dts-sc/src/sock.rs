//! The socket calls of Socket Cloning on a client connection.
//!
//! The only module of `dts-sc` with `unsafe` code:
//!
//! - [`clone_connection`]: the `DTS_SO_CLONE` socket option, one
//!   `setsockopt(2)` call with a [`CloneReqV1`] argument that points at the
//!   ASF. The kernel copies the ASF during the call, so it only needs to
//!   live until the call returns.
//! - [`clone_wait`]: the `DTS_SO_CLONE_WAIT` socket option, one
//!   `getsockopt(2)` call that blocks until the last clone's declared
//!   response is acknowledged by the client, and returns a
//!   [`CloneStatusV1`].
//! - [`unread_bytes`]: `ioctl(FIONREAD)`, the bytes the client sent that
//!   the server has not read yet.
//! - [`unacked_bytes`]: `ioctl(SIOCOUTQ)`, the bytes written to the client
//!   that it has not acknowledged yet (a clone is refused with `EBUSY`
//!   unless there are none).
//!
//! After any failure of [`clone_connection`] the connection is intact and
//! the server may serve the request itself.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use dts_core::abi::{
    CloneReqV1, CloneStatusV1, CLONE_REQ_V1_SIZE, CLONE_STATUS_V1_SIZE, DTS_SO_CLONE,
    DTS_SO_CLONE_WAIT, DTS_SO_LEVEL,
};

/// An `io::Error` for `errno`.
fn os_error(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

/// Asks the module to clone `client` to node `target`, whose server then
/// receives `asf` as the request; `resp_len` is the exact length of its
/// response, if known.
///
/// Returns the OS error of `setsockopt()` on failure (`ENOPROTOOPT` when
/// the module is not loaded).
pub fn clone_connection(
    client: &TcpStream,
    target: u32,
    asf: &[u8],
    resp_len: Option<u32>,
) -> io::Result<()> {
    let len = u64::try_from(asf.len()).map_err(|_| os_error(libc::EINVAL))?;
    let addr =
        u64::try_from(asf.as_ptr().expose_provenance()).map_err(|_| os_error(libc::EINVAL))?;
    let req = CloneReqV1::new(target, addr, len, resp_len).to_bytes();
    let optlen =
        libc::socklen_t::try_from(CLONE_REQ_V1_SIZE).map_err(|_| os_error(libc::EINVAL))?;
    // SAFETY: `req` is valid for reads of `optlen` bytes (its size) and
    // outlives the call. The address inside it points at `asf`, which is
    // valid for reads of `len` bytes and borrowed for the whole call; the
    // kernel only reads from both. The descriptor is owned by `client`,
    // which is borrowed, so it stays open.
    let rc = unsafe {
        libc::setsockopt(
            client.as_raw_fd(),
            DTS_SO_LEVEL,
            DTS_SO_CLONE,
            req.as_ptr().cast(),
            optlen,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until the last clone of `client` with a declared response length
/// is fully acknowledged by the client (`DTS_SO_CLONE_WAIT`; the module
/// bounds the wait). Retried when a signal interrupts it.
///
/// Fails with `ETIMEDOUT` if the module's wait ran out, `ENOENT` if the
/// socket was never cloned, `ENOPROTOOPT` without the module, and `EPROTO`
/// for an answer this tool cannot decode.
pub fn clone_wait(client: &TcpStream) -> io::Result<CloneStatusV1> {
    loop {
        let mut buf = [0u8; CLONE_STATUS_V1_SIZE];
        let mut len = libc::socklen_t::try_from(buf.len()).map_err(|_| os_error(libc::EINVAL))?;
        // SAFETY: `buf` is valid for writes of `len` bytes (its length) and
        // `len` for a write of a `socklen_t`; both outlive the call. The
        // descriptor is owned by `client`, which is borrowed, so it stays
        // open.
        let rc = unsafe {
            libc::getsockopt(
                client.as_raw_fd(),
                DTS_SO_LEVEL,
                DTS_SO_CLONE_WAIT,
                buf.as_mut_ptr().cast(),
                &raw mut len,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        let n = usize::try_from(len).map_or(buf.len(), |n| n.min(buf.len()));
        return CloneStatusV1::decode(buf.get(..n).unwrap_or_default())
            .map_err(|_| os_error(libc::EPROTO));
    }
}

/// Bytes the client sent that are in the socket's receive queue
/// (`ioctl(FIONREAD)`).
pub fn unread_bytes(client: &TcpStream) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one `int` through the pointer, which is valid
    // for that write and outlives the call. The descriptor is owned by
    // `client`, which is borrowed, so it stays open.
    let rc = unsafe { libc::ioctl(client.as_raw_fd(), libc::FIONREAD, &raw mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    usize::try_from(n).map_err(|_| os_error(libc::EINVAL))
}

/// Bytes written to `client` that the client has not acknowledged yet
/// (`ioctl(SIOCOUTQ)`, alias `TIOCOUTQ`: unsent plus unacknowledged).
pub fn unacked_bytes(client: &TcpStream) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one `int` through the pointer, which is valid
    // for that write and outlives the call. The descriptor is owned by
    // `client`, which is borrowed, so it stays open.
    let rc = unsafe { libc::ioctl(client.as_raw_fd(), libc::TIOCOUTQ, &raw mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    usize::try_from(n).map_err(|_| os_error(libc::EINVAL))
}

/// Waits until `client` has acknowledged every byte written to it
/// ([`unacked_bytes`] is 0), polling with pauses that grow from 100 µs to
/// 10 ms, at most `limit`. `Ok(false)` on timeout.
pub fn wait_acked(client: &TcpStream, limit: Duration) -> io::Result<bool> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(100);
    loop {
        if unacked_bytes(client)? == 0 {
            return Ok(true);
        }
        let waited = start.elapsed();
        if waited >= limit {
            return Ok(false);
        }
        thread::sleep(pause.min(limit.saturating_sub(waited)));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    /// On a host without the module the kernel refuses the options, and
    /// the connection stays usable.
    #[test]
    fn fails_cleanly_without_the_module() {
        let (client, server) = pair();
        let asf = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        let err = clone_connection(&server, 2, asf, Some(100)).unwrap_err();
        // ENOPROTOOPT without the module; EINVAL if a module is loaded (not
        // a Socket Cloning connection).
        let errno = err.raw_os_error().unwrap();
        assert!([libc::ENOPROTOOPT, libc::EINVAL].contains(&errno), "{err}");
        let err = clone_wait(&server).unwrap_err();
        let errno = err.raw_os_error().unwrap();
        assert!(
            [libc::ENOPROTOOPT, libc::ENOENT, libc::EINVAL].contains(&errno),
            "{err}"
        );
        (&server).write_all(b"still here").unwrap();
        let mut got = [0u8; 10];
        (&client).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"still here");
    }

    #[test]
    fn queue_sizes() {
        let (client, server) = pair();
        assert_eq!(unread_bytes(&server).unwrap(), 0);
        (&client).write_all(b"12345").unwrap();
        let start = Instant::now();
        while unread_bytes(&server).unwrap() != 5 {
            assert!(start.elapsed() < Duration::from_secs(5), "never arrived");
            thread::sleep(Duration::from_millis(1));
        }
        (&server).write_all(b"ok").unwrap();
        assert!(wait_acked(&server, Duration::from_secs(5)).unwrap());
        assert_eq!(unacked_bytes(&server).unwrap(), 0);
    }
}
