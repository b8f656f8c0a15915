//! The raw socket calls of the DTS ABI, on any socket.
//!
//! The only module of this crate with `unsafe` code, one block per call,
//! each with its `SAFETY` argument:
//!
//! - [`get_option`] and [`set_option`]: `getsockopt(2)` and
//!   `setsockopt(2)` at level `IPPROTO_IP` ([`DTS_SO_LEVEL`]). The module
//!   answers its query options (`DTS_SO_GET_INFO`, `DTS_SO_GET_PEERS`,
//!   `DTS_SO_GET_FLOW`, ...; see `dts_core::abi` and
//!   `include/dts_handover.h`) on any IPv4 socket of a process with
//!   `CAP_NET_ADMIN`; the answer is a versioned blob that `dts_core::abi`
//!   decodes. Its commands (`DTS_SO_HANDOVER`, `DTS_SO_CLONE`,
//!   `DTS_SO_SET_CONFIG`, ...) take such a blob.
//! - [`ControlSocket`]: an `AF_INET` datagram socket that is only a handle
//!   for the module's options (what `dtsctl` uses, like `ipvsadm`).
//! - [`unacked_bytes`] (`ioctl(SIOCOUTQ)`) and [`unread_bytes`]
//!   (`ioctl(FIONREAD)`) of a TCP connection, and [`wait_acked`] on the
//!   former: a handover or a clone is refused (`EBUSY`) while the client
//!   has not acknowledged everything written to it.
//!
//! Every call fails with the OS error: `ENOPROTOOPT` if the module is not
//! loaded, `EPERM` without the capability.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::thread;
use std::time::{Duration, Instant};

use dts_core::abi::DTS_SO_LEVEL;

/// An `io::Error` for `errno`.
pub(crate) fn os_error(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}

/// `getsockopt(fd, IPPROTO_IP, optname, buf, &len)` on any socket: the
/// module's answer, clamped to `buf`.
///
/// # Errors
///
/// The OS error (`ENOPROTOOPT` if the module is not loaded, `EPERM`
/// without the capability, the option's own errors); `EINVAL` for a
/// buffer larger than a `socklen_t` counts.
pub fn get_option<'b>(
    sock: &impl AsRawFd,
    optname: i32,
    buf: &'b mut [u8],
) -> io::Result<&'b [u8]> {
    let mut len = libc::socklen_t::try_from(buf.len()).map_err(|_| os_error(libc::EINVAL))?;
    // SAFETY: `buf` is valid for writes of `len` bytes (its length) and
    // `len` for a write of a `socklen_t`; both outlive the call. The
    // descriptor is owned by `sock`, which is borrowed, so it stays open.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            DTS_SO_LEVEL,
            optname,
            buf.as_mut_ptr().cast(),
            &raw mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = usize::try_from(len).map_or(buf.len(), |n| n.min(buf.len()));
    Ok(buf.get(..n).unwrap_or_default())
}

/// [`get_option`], retried while a signal interrupts it (`EINTR`): for
/// the options that block (`DTS_SO_CLONE_WAIT`).
///
/// # Errors
///
/// As [`get_option`], except `EINTR`.
pub fn get_option_restarting<'b>(
    sock: &impl AsRawFd,
    optname: i32,
    buf: &'b mut [u8],
) -> io::Result<&'b [u8]> {
    loop {
        match get_option(sock, optname, buf).map(<[u8]>::len) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
            Ok(n) => return Ok(buf.get(..n).unwrap_or_default()),
        }
    }
}

/// `setsockopt(fd, IPPROTO_IP, optname, arg, arg.len())` on any socket.
///
/// `arg` is the option's versioned struct (`dts_core::abi`'s `to_bytes`).
/// Where that struct holds the address of a buffer (`HandoverReqV1`,
/// `CloneReqV1`), the kernel reads that buffer during the call only; the
/// caller keeps it borrowed until this returns (see
/// [`crate::handover::Handover`] and [`crate::clone::clone`], which do).
///
/// # Errors
///
/// The OS error (`ENOPROTOOPT` if the module is not loaded, `EPERM`
/// without the capability, the option's own errors); `EINVAL` for an
/// argument larger than a `socklen_t` counts.
pub fn set_option(sock: &impl AsRawFd, optname: i32, arg: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(arg.len()).map_err(|_| os_error(libc::EINVAL))?;
    // SAFETY: `arg` is valid for reads of `len` bytes (its length) and
    // outlives the call; the kernel only reads from it (and from any
    // buffer whose address it holds: a bad address is `EFAULT`, not a
    // write). The descriptor is owned by `sock`, which is borrowed, so it
    // stays open.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            DTS_SO_LEVEL,
            optname,
            arg.as_ptr().cast(),
            len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A socket used only as a handle for the module's options: a
/// `socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)`, closed on drop.
#[derive(Debug)]
pub struct ControlSocket {
    fd: OwnedFd,
}

impl ControlSocket {
    /// Opens the socket.
    ///
    /// # Errors
    ///
    /// The OS error of `socket(2)` (e.g. `EMFILE`).
    pub fn open() -> io::Result<Self> {
        // SAFETY: `socket()` takes no pointers and has no memory-safety
        // preconditions.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a valid descriptor that `socket()` just returned
        // and that nothing else owns, so `OwnedFd` may take ownership of it
        // and close it on drop.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// [`get_option`] on this socket: the length of the answer written to
    /// the start of `buf`.
    ///
    /// # Errors
    ///
    /// As [`get_option`].
    pub fn get(&self, optname: i32, buf: &mut [u8]) -> io::Result<usize> {
        get_option(self, optname, buf).map(<[u8]>::len)
    }

    /// [`set_option`] on this socket.
    ///
    /// # Errors
    ///
    /// As [`set_option`].
    pub fn set(&self, optname: i32, arg: &[u8]) -> io::Result<()> {
        set_option(self, optname, arg)
    }
}

impl AsRawFd for ControlSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for ControlSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `ioctl(fd, request, &int)`: the one `int` the request writes.
fn ioctl_int(client: &TcpStream, request: libc::c_ulong) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ and FIONREAD (the only requests passed here) write
    // one `int` through the pointer, which is valid for that write and
    // outlives the call. The descriptor is owned by `client`, which is
    // borrowed, so it stays open.
    let rc = unsafe { libc::ioctl(client.as_raw_fd(), request, &raw mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    usize::try_from(n).map_err(|_| os_error(libc::EINVAL))
}

/// Bytes written to `client` that the client has not acknowledged yet
/// (`ioctl(SIOCOUTQ)`, alias `TIOCOUTQ`: unsent plus unacknowledged). A
/// handover or a clone is refused (`EBUSY`) unless this is 0.
///
/// # Errors
///
/// The OS error of `ioctl(2)`.
pub fn unacked_bytes(client: &TcpStream) -> io::Result<usize> {
    ioctl_int(client, libc::TIOCOUTQ)
}

/// Bytes the client sent that are in the socket's receive queue, not read
/// yet (`ioctl(FIONREAD)`).
///
/// # Errors
///
/// The OS error of `ioctl(2)`.
pub fn unread_bytes(client: &TcpStream) -> io::Result<usize> {
    ioctl_int(client, libc::FIONREAD)
}

/// Waits until `client` has acknowledged every byte written to it
/// ([`unacked_bytes`] is 0), polling with pauses that start at `first`
/// and double up to `max`, for at most `limit`. `Ok(false)` on timeout.
///
/// # Errors
///
/// The OS error of [`unacked_bytes`].
pub fn wait_acked(
    client: &TcpStream,
    limit: Duration,
    first: Duration,
    max: Duration,
) -> io::Result<bool> {
    let start = Instant::now();
    let mut pause = first;
    loop {
        if unacked_bytes(client)? == 0 {
            return Ok(true);
        }
        let waited = start.elapsed();
        if waited >= limit {
            return Ok(false);
        }
        thread::sleep(pause.min(limit.saturating_sub(waited)));
        pause = pause.saturating_mul(2).min(max);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dts_core::abi::{InfoV1, DTS_SO_GET_INFO, DTS_SO_SET_ZERO};
    use std::io::{Read, Write};
    use std::net::{TcpListener, UdpSocket};

    /// A connected loopback pair: (client, server).
    pub(crate) fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    /// Without the module the kernel refuses the option (`ENOPROTOOPT`;
    /// `EPERM` without the capability); with it, the answer decodes.
    #[test]
    fn info_query_answers_or_fails_cleanly() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = vec![0u8; 4096];
        match get_option(&sock, DTS_SO_GET_INFO, &mut buf) {
            Ok(answer) => {
                assert!(answer.len() <= 4096);
                InfoV1::decode(answer).unwrap();
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap();
                assert!([libc::ENOPROTOOPT, libc::EPERM].contains(&errno), "{e}");
            }
        }
    }

    /// An empty buffer is a valid call: the answer is clamped to it.
    #[test]
    fn empty_buffer_gives_an_empty_answer_or_an_error() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buf = [0u8; 0];
        if let Ok(answer) = get_option(&sock, DTS_SO_GET_INFO, &mut buf) {
            assert!(answer.is_empty());
        }
        if let Ok(answer) = get_option_restarting(&sock, DTS_SO_GET_INFO, &mut buf) {
            assert!(answer.is_empty());
        }
    }

    /// The control socket opens; without the module its options fail
    /// cleanly. (A malformed `SET_ZERO` is refused either way: the
    /// module checks the struct.)
    #[test]
    fn control_socket_fails_cleanly() {
        let sock = ControlSocket::open().unwrap();
        assert!(sock.as_raw_fd() >= 0);
        let mut buf = vec![0u8; 4096];
        if let Err(e) = sock.get(DTS_SO_GET_INFO, &mut buf) {
            let errno = e.raw_os_error().unwrap();
            assert!([libc::ENOPROTOOPT, libc::EPERM].contains(&errno), "{e}");
        }
        let e = sock.set(DTS_SO_SET_ZERO, &[1, 2, 3]).unwrap_err();
        let errno = e.raw_os_error().unwrap();
        assert!(
            [libc::ENOPROTOOPT, libc::EPERM, libc::EINVAL].contains(&errno),
            "{e}"
        );
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
        let (first, max) = (Duration::from_micros(100), Duration::from_millis(10));
        assert!(wait_acked(&server, Duration::from_secs(5), first, max).unwrap());
        assert_eq!(unacked_bytes(&server).unwrap(), 0);
        let mut got = [0u8; 2];
        (&client).read_exact(&mut got).unwrap();
    }

    /// SIOCOUTQ counts what the peer has not acknowledged: 0 on a fresh
    /// connection and once loopback has acknowledged a write; more than 0
    /// while the peer's receive window is full (and [`wait_acked`] then
    /// times out).
    #[test]
    fn unacked_bytes_follow_the_peer() {
        let (client, server) = pair();
        assert_eq!(unacked_bytes(&server).unwrap(), 0);
        (&server).write_all(b"hello").unwrap();
        let start = Instant::now();
        while unacked_bytes(&server).unwrap() != 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "never acknowledged"
            );
            thread::sleep(Duration::from_millis(1));
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
        thread::sleep(Duration::from_millis(50));
        assert!(unacked_bytes(&server).unwrap() > 0);
        let ms = Duration::from_millis;
        assert!(!wait_acked(&server, ms(20), ms(1), ms(5)).unwrap());
        drop(client);
    }
}
