//! Errno names for the log line.
//!
//! Pure logic. The server logs `action=fallback:EBUSY`, not "Device or
//! resource busy (os error 16)": a stable, space-free token a script can
//! match. The labels are the `dts` crate's ([`dts::errno`], which
//! `dts-proxy` uses too): [`errno_name`] knows every errno `DTS_SO_CLONE`
//! and `DTS_SO_CLONE_WAIT` return (see `rust/pure/abi/`), the kernel's
//! answer without the module (`ENOPROTOOPT`) and the usual socket errors;
//! anything else is `errno-N`.

pub use dts::errno::{errno_label, errno_name, error_label};

#[cfg(test)]
mod tests {
    use super::*;
    use dts_core::abi;
    use std::io;

    #[test]
    fn clone_errnos_have_names() {
        for (errno, name) in [
            (libc::EINVAL, "EINVAL"),
            (libc::EFAULT, "EFAULT"),
            (libc::EBADF, "EBADF"),
            (libc::EBUSY, "EBUSY"),
            (libc::EHOSTDOWN, "EHOSTDOWN"),
            (libc::ETIMEDOUT, "ETIMEDOUT"),
            (libc::ECONNREFUSED, "ECONNREFUSED"),
            (libc::EPROTO, "EPROTO"),
            (libc::EOPNOTSUPP, "EOPNOTSUPP"),
            (libc::ENOMEM, "ENOMEM"),
            (libc::ENOPROTOOPT, "ENOPROTOOPT"),
            (libc::ENOENT, "ENOENT"),
            (libc::EINTR, "EINTR"),
        ] {
            assert_eq!(errno_name(errno), Some(name));
        }
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_label(4095), "errno-4095");
        assert_eq!(errno_label(libc::EBUSY), "EBUSY");
    }

    /// The module's errno constants are the host's.
    #[test]
    fn abi_errnos_match_libc() {
        assert_eq!(abi::EOPNOTSUPP, libc::EOPNOTSUPP);
        assert_eq!(abi::EBUSY, libc::EBUSY);
        assert_eq!(abi::EHOSTDOWN, libc::EHOSTDOWN);
        assert_eq!(abi::ENOPROTOOPT, libc::ENOPROTOOPT);
    }

    #[test]
    fn labels() {
        let e = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(error_label(&e), "ECONNRESET");
        let e = io::Error::from_raw_os_error(libc::EAGAIN);
        assert_eq!(error_label(&e), "timeout");
        let e = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(error_label(&e), "eof");
        let e = io::Error::from(io::ErrorKind::InvalidData);
        assert_eq!(error_label(&e), "invaliddata");
    }
}
