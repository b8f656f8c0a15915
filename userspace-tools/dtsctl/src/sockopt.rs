//! Raw socket-option access to the `dts` module.
//!
//! This is the only module of `dtsctl` with `unsafe` code: thin wrappers
//! around `socket(2)`, `getsockopt(2)` and `setsockopt(2)`. Like `ipvsadm`,
//! `dtsctl` talks to the module through an ordinary `AF_INET` datagram socket
//! at level `IPPROTO_IP`; the module's `nf_sockopt_ops` handles the option
//! names in `[DTS_SO_BASE, DTS_SO_MAX)`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use dts_core::abi::DTS_SO_LEVEL;

/// A socket used only as a handle for the module's socket options.
#[derive(Debug)]
pub(crate) struct DtsSocket {
    fd: OwnedFd,
}

impl DtsSocket {
    /// Opens a `socket(AF_INET, SOCK_DGRAM, 0)`.
    pub(crate) fn open() -> io::Result<Self> {
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

    /// Calls `getsockopt(fd, IPPROTO_IP, optname, buf, &len)` and returns
    /// the length the kernel reported, clamped to `buf.len()`.
    pub(crate) fn get(&self, optname: i32, buf: &mut [u8]) -> io::Result<usize> {
        let mut len = libc::socklen_t::try_from(buf.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `buf` is valid for writes of `len` bytes (`len` is its
        // length), `len` is a valid, writable `socklen_t`, and both outlive
        // the call. The kernel writes at most `len` bytes.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                DTS_SO_LEVEL,
                optname,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(usize::try_from(len).map_or(buf.len(), |len| len.min(buf.len())))
    }

    /// Calls `setsockopt(fd, IPPROTO_IP, optname, buf, buf.len())`.
    pub(crate) fn set(&self, optname: i32, buf: &[u8]) -> io::Result<()> {
        let len = libc::socklen_t::try_from(buf.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `buf` is valid for reads of `len` bytes and outlives the
        // call; the kernel only reads from it.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                DTS_SO_LEVEL,
                optname,
                buf.as_ptr().cast(),
                len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
