//! `request_handover`: the `DTS_SO_HANDOVER` socket option.
//!
//! The only module of `dts-proxy` with `unsafe` code: one `setsockopt(2)`
//! call on the client connection, with a [`HandoverReqV1`] argument that
//! points at the bytes the proxy has read. The kernel copies those bytes
//! during the call, so they only need to live until it returns.
//!
//! On success the connection belongs to the destination node and the caller
//! must only close its descriptor (the module has set `SO_LINGER` 0 on it and
//! drops the resulting RST). On failure the connection is intact and still
//! the caller's. The errno values are listed in `Documentation/proxy.md` and
//! `include/dts_handover.h`.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use dts_core::abi::{HandoverReqV1, DTS_SO_HANDOVER, DTS_SO_LEVEL, HANDOVER_REQ_V1_SIZE};

/// Asks the module to hand `client` over to node `dest_node`; `buf` is
/// what the proxy has read from `client` (all of it).
///
/// Returns the OS error of `setsockopt()` on failure (`ENOPROTOOPT` when
/// the module is not loaded).
pub(crate) fn request_handover(client: &TcpStream, dest_node: u32, buf: &[u8]) -> io::Result<()> {
    let len = u64::try_from(buf.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let addr = u64::try_from(buf.as_ptr().expose_provenance())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let req = HandoverReqV1::new(dest_node, addr, len).to_bytes();
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
}
