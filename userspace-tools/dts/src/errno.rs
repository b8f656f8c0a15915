//! Errno names for log lines.
//!
//! Pure logic. The tools log `result=ECONNREFUSED` (`dts-proxy`) or
//! `action=fallback:EBUSY` (`dts-scserver`), not "Connection refused (os
//! error 111)": a stable, space-free token a script can match.
//! [`errno_name`] is `nix`'s name of the errno (`nix::errno::Errno`, the
//! Linux names: `EAGAIN` rather than `EWOULDBLOCK`, `EOPNOTSUPP` rather
//! than `ENOTSUP`), which covers every errno the module's socket options
//! return (`DTS_SO_HANDOVER`, `DTS_SO_CLONE`, ...; see
//! `Documentation/proxy.md` and `include/dts_handover.h`, whose
//! `dts_errno_name()` gives the same names); anything else is labelled
//! `errno-N`.

use std::io;

use nix::errno::Errno;

/// The symbolic name of the Linux errno `errno`, e.g. `"EBUSY"`; `None`
/// for a number that is not an errno (0, negative, unknown).
pub fn errno_name(errno: i32) -> Option<String> {
    match Errno::from_raw(errno) {
        Errno::UnknownErrno => None,
        e => Some(format!("{e:?}")),
    }
}

/// [`errno_name`], or `errno-N` for an errno without a name.
pub fn errno_label(errno: i32) -> String {
    errno_name(errno).unwrap_or_else(|| format!("errno-{errno}"))
}

/// A space-free label for an I/O error: the errno name, `errno-N` for an
/// unnamed errno, `timeout` for a socket timeout, or the error kind.
pub fn error_label(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::EAGAIN) => "timeout".to_owned(),
        Some(e) => errno_label(e),
        None => match err.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timeout".to_owned(),
            io::ErrorKind::UnexpectedEof => "eof".to_owned(),
            kind => format!("{kind:?}").to_ascii_lowercase(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dts_core::abi;

    #[test]
    fn handover_errnos_have_names() {
        for (errno, name) in [
            (libc::EPERM, "EPERM"),
            (libc::EINVAL, "EINVAL"),
            (libc::EFAULT, "EFAULT"),
            (libc::EBADF, "EBADF"),
            (libc::EALREADY, "EALREADY"),
            (libc::ELOOP, "ELOOP"),
            (libc::EBUSY, "EBUSY"),
            (libc::ECONNREFUSED, "ECONNREFUSED"),
            (libc::EHOSTUNREACH, "EHOSTUNREACH"),
            (libc::EHOSTDOWN, "EHOSTDOWN"),
            (libc::ESHUTDOWN, "ESHUTDOWN"),
            (libc::ETIMEDOUT, "ETIMEDOUT"),
            (libc::EPROTO, "EPROTO"),
            (libc::ENOMEM, "ENOMEM"),
            (libc::ENOSPC, "ENOSPC"),
            (libc::ENOPROTOOPT, "ENOPROTOOPT"),
            // DTS_SO_CLONE and DTS_SO_CLONE_WAIT add these.
            (libc::EOPNOTSUPP, "EOPNOTSUPP"),
            (libc::EMSGSIZE, "EMSGSIZE"),
            (libc::ESHUTDOWN, "ESHUTDOWN"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::ENOENT, "ENOENT"),
            (libc::EINTR, "EINTR"),
        ] {
            assert_eq!(errno_name(errno).as_deref(), Some(name));
        }
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(4095), None);
        assert_eq!(errno_label(libc::EBUSY), "EBUSY");
        assert_eq!(errno_label(libc::EAGAIN), "EAGAIN");
        assert_eq!(errno_label(4095), "errno-4095");
    }

    /// The module's errno constants are the host's.
    #[test]
    fn abi_errnos_match_libc() {
        assert_eq!(abi::EPERM, libc::EPERM);
        assert_eq!(abi::EFAULT, libc::EFAULT);
        assert_eq!(abi::EINVAL, libc::EINVAL);
        assert_eq!(abi::ENOSPC, libc::ENOSPC);
        assert_eq!(abi::ENOPROTOOPT, libc::ENOPROTOOPT);
        assert_eq!(abi::ECONNREFUSED, libc::ECONNREFUSED);
        assert_eq!(abi::EHOSTUNREACH, libc::EHOSTUNREACH);
        assert_eq!(abi::EHOSTDOWN, libc::EHOSTDOWN);
        assert_eq!(abi::ETIMEDOUT, libc::ETIMEDOUT);
        assert_eq!(abi::EPROTO, libc::EPROTO);
        assert_eq!(abi::EALREADY, libc::EALREADY);
        assert_eq!(abi::EBADF, libc::EBADF);
        assert_eq!(abi::EBUSY, libc::EBUSY);
        assert_eq!(abi::EOPNOTSUPP, libc::EOPNOTSUPP);
    }

    #[test]
    fn labels() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(error_label(&e), "ECONNREFUSED");
        let e = io::Error::from_raw_os_error(4000);
        assert_eq!(error_label(&e), "errno-4000");
        let e = io::Error::from_raw_os_error(libc::EAGAIN);
        assert_eq!(error_label(&e), "timeout");
        let e = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(error_label(&e), "timeout");
        let e = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(error_label(&e), "eof");
        let e = io::Error::from(io::ErrorKind::InvalidInput);
        assert_eq!(error_label(&e), "invalidinput");
        let e = io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(error_label(&e), "ECONNRESET");
    }

    /// The C header's `dts_errno_name()` names every errno it knows as
    /// [`errno_name`] does (the C programs' log lines and the Rust
    /// tools' agree). `tests/host/c-api.sh` checks the numbers behind
    /// the header's names.
    #[test]
    fn the_c_header_names_errnos_as_nix_does() {
        let header = include_str!("../../../include/dts_handover.h");
        let named: std::collections::HashMap<String, i32> = (1..4096)
            .filter_map(|n| errno_name(n).map(|name| (name, n)))
            .collect();
        let mut seen = 0;
        for line in header.lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("case E") else {
                continue;
            };
            let Some((case, ret)) = rest.split_once(':') else {
                continue;
            };
            let case = format!("E{case}");
            let ret = ret.trim();
            assert_eq!(ret, format!("return \"{case}\";"), "{line}");
            assert!(named.contains_key(&case), "{case}: nix names it otherwise");
            seen += 1;
        }
        assert!(seen >= 30, "only {seen} names found in dts_errno_name()");
    }
}
