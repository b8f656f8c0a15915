// SPDX-License-Identifier: GPL-2.0

//! Linux errno names, for the host tools' log lines.
//!
//! Pure logic, host only: unlike the modules of [`crate::pure`], this one
//! is not compiled into `dts.ko`, which never names an errno. The proxy
//! and the cloning server log `result=ECONNREFUSED` or
//! `action=fallback:EBUSY`, not "Connection refused (os error 111)": a
//! stable, space-free token a script can match. The table covers every
//! errno the module's socket options return (`DTS_SO_HANDOVER`,
//! `DTS_SO_CLONE`, `DTS_SO_CLONE_WAIT`; see [`crate::abi`]), the
//! kernel's answer without the module (`ENOPROTOOPT`) and the usual socket
//! errors. The numbers are Linux's (`include/uapi/asm-generic/errno*.h`,
//! the same on x86-64 and arm64).

/// The symbolic name of the Linux errno `errno`, e.g. `"EBUSY"`.
pub const fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        28 => "ENOSPC",
        32 => "EPIPE",
        40 => "ELOOP",
        71 => "EPROTO",
        88 => "ENOTSOCK",
        90 => "EMSGSIZE",
        92 => "ENOPROTOOPT",
        95 => "EOPNOTSUPP",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        100 => "ENETDOWN",
        101 => "ENETUNREACH",
        103 => "ECONNABORTED",
        104 => "ECONNRESET",
        105 => "ENOBUFS",
        107 => "ENOTCONN",
        108 => "ESHUTDOWN",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        112 => "EHOSTDOWN",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        115 => "EINPROGRESS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(errno_name(16), Some("EBUSY"));
        assert_eq!(errno_name(112), Some("EHOSTDOWN"));
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(-1), None);
        assert_eq!(errno_name(4095), None);
    }
}
