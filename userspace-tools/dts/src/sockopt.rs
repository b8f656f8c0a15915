//! The module's `getsockopt(2)` options, on any socket.
//!
//! The only module of this crate with `unsafe` code: [`get_option`], one
//! `getsockopt(fd, IPPROTO_IP, optname, buf, &len)` call. The module
//! answers its query options (`DTS_SO_GET_INFO`, `DTS_SO_GET_PEERS`,
//! `DTS_SO_GET_FLOW`, ...; see `dts_core::abi` and
//! `include/dts_handover.h`) on any IPv4 socket of a process with
//! `CAP_NET_ADMIN`; the answer is a versioned blob that `dts_core::abi`
//! decodes.

use std::io;
use std::os::fd::AsRawFd;

use dts_core::abi::DTS_SO_LEVEL;

/// `getsockopt(fd, IPPROTO_IP, optname, buf, &len)` on any socket: the
/// module's answer, clamped to `buf`.
///
/// Fails with the OS error (`ENOPROTOOPT` if the module is not loaded,
/// `EPERM` without the capability).
pub fn get_option<'b>(
    sock: &impl AsRawFd,
    optname: i32,
    buf: &'b mut [u8],
) -> io::Result<&'b [u8]> {
    let mut len = libc::socklen_t::try_from(buf.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use dts_core::abi::{InfoV1, DTS_SO_GET_INFO};
    use std::net::UdpSocket;

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
    }
}
