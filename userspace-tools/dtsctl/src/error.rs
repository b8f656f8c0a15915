//! Runtime errors of `dtsctl` and their user-facing messages.

use std::fmt;
use std::io;

use dts_core::abi::{
    AbiError, CONFIG_V1_SIZE, DTS_ABI_VERSION, EADDRNOTAVAIL, EEXIST, EINVAL, ENOENT, ENOSPC,
    FLOWS_V1_HEADER_SIZE, FLOWS_VERSION, FLOW_ENTRY_V1_SIZE, INFO_V1_SIZE, MAX_COUNTERS, MAX_HOOKS,
    MAX_PEERS, PEERS_V1_SIZE,
};
use dts_core::config::ConfigError;

use crate::config::{describe, FileError};

/// What a socket-option call was doing, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Opening the `AF_INET` socket.
    OpenSocket,
    /// `getsockopt(DTS_SO_GET_INFO)`.
    GetInfo,
    /// `setsockopt(DTS_SO_SET_ZERO)`.
    SetZero,
    /// `getsockopt(DTS_SO_GET_CONFIG)`.
    GetConfig,
    /// `setsockopt(DTS_SO_SET_CONFIG)`.
    SetConfig,
    /// `getsockopt(DTS_SO_GET_PEERS)`.
    GetPeers,
    /// `getsockopt(DTS_SO_GET_FLOWS)`.
    GetFlows,
    /// `setsockopt(DTS_SO_SET_FLUSH)`.
    SetFlush,
    /// `setsockopt(DTS_SO_SET_HOOK_STATS)`.
    SetHookStats,
    /// `setsockopt(DTS_SO_DRAIN)`.
    SetDrain,
    /// Writing the output.
    WriteOutput,
    /// Setting the terminal up or reading it (`top`).
    Terminal,
    /// Serving the metrics (`metrics --listen`).
    ServeMetrics,
}

impl Op {
    fn describe(self) -> &'static str {
        match self {
            Self::OpenSocket => "cannot open an AF_INET socket",
            Self::GetInfo => "reading the module status failed",
            Self::SetZero => "zeroing the counters failed",
            Self::GetConfig => "reading the configuration failed",
            Self::SetConfig => "applying the configuration failed",
            Self::GetPeers => "reading the mesh peers failed",
            Self::GetFlows => "reading the flow table failed",
            Self::SetFlush => "flushing failed",
            Self::SetHookStats => "switching the count-only hooks failed",
            Self::SetDrain => "the drain request failed",
            Self::WriteOutput => "cannot write the output",
            Self::Terminal => "cannot use the terminal",
            Self::ServeMetrics => "cannot serve the metrics",
        }
    }
}

/// A runtime error; `dtsctl` prints it and exits with status 1.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// No handler for the DTS socket options: the module is not loaded.
    #[error("the dts module is not loaded (no handler for DTS socket options); load it with `insmod dts.ko`")]
    NotLoaded,
    /// A node id outside 1..=32 was given on the command line.
    #[error("node id {0} is not in 1..=32")]
    BadNodeId(u8),
    /// The caller lacks `CAP_NET_ADMIN`.
    #[error("permission denied: this command needs CAP_NET_ADMIN")]
    PermissionDenied,
    /// The module's reply could not be decoded.
    #[error("{}", Msg(|f| abi_message(f, *err, *len, INFO_V1_SIZE, "status")))]
    Abi {
        /// The decoding error.
        err: AbiError,
        /// Length of the reply in bytes.
        len: usize,
    },
    /// The module's peers reply ([`dts_core::abi::PeersV1`]) could not be
    /// decoded.
    #[error("{}", Msg(|f| abi_message(f, *err, *len, PEERS_V1_SIZE, "peers")))]
    PeersReply {
        /// The decoding error.
        err: AbiError,
        /// Length of the reply in bytes.
        len: usize,
    },
    /// `peers --wait`: the mesh did not form in time.
    #[error("mesh not formed after {secs} s: {why}")]
    MeshNotFormed {
        /// The time waited, in seconds.
        secs: u64,
        /// What is missing: "not ready; node 2 down, node 3 unknown".
        why: String,
    },
    /// Encoding the JSON output failed.
    #[error("cannot encode the output as JSON: {0}")]
    Json(serde_json::Error),
    /// A configuration file cannot be read.
    #[error("cannot read {path}: {source}")]
    ReadFile {
        /// The file name as given.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// A configuration file is invalid (TOML or validation).
    #[error("{path}: {}{err}", at_line(*line))]
    ConfigFile {
        /// The file name as given.
        path: String,
        /// The line the error is about, if it is known and `err` does not
        /// name it already (see [`crate::config::line_of_error`]).
        line: Option<u32>,
        /// What is wrong with it.
        err: FileError,
    },
    /// The module refused a configuration that `dtsctl` had validated.
    #[error("the module refused the configuration: {} ({source}); dtsctl accepted it, so dtsctl and the module are probably from different builds", refused_reason(source))]
    ConfigRefused {
        /// The OS error (one of the configuration errnos).
        source: io::Error,
    },
    /// The module's configuration reply could not be decoded.
    #[error("{}", Msg(|f| config_message(f, *err, *len)))]
    ConfigReply {
        /// The decoding error.
        err: ConfigError,
        /// Length of the reply in bytes.
        len: usize,
    },
    /// The module's flow-table reply ([`dts_core::abi::FlowsV1`]) could
    /// not be decoded.
    #[error("{}", Msg(|f| flows_message(f, *err, *len)))]
    FlowsReply {
        /// The decoding error.
        err: AbiError,
        /// Length of the reply in bytes.
        len: usize,
    },
    /// `drain`: the node did not show that it drains within the time
    /// it was given.
    #[error("node {node} does not show that it {} after {secs} s (`dtsctl peers` tells its state; does it run a module with DRAIN?)", if *on { "drains" } else { "stopped draining" })]
    DrainNotStarted {
        /// The node.
        node: u8,
        /// The time waited, in seconds.
        secs: u64,
        /// The request was to drain (`false`: to stop draining).
        on: bool,
    },
    /// `drain`: the node still serves connections at the timeout.
    #[error("node {node} still serves {left} connection(s) after {secs} s: they did not come to rest (a long response, a chunked one, one the tracker cannot follow, or a Socket Cloning connection, which a drain never moves); it drains on")]
    DrainTimeout {
        /// The node.
        node: u8,
        /// The connections it still serves.
        left: u32,
        /// The timeout, in seconds.
        secs: u64,
    },
    /// Any other OS error.
    #[error("{}: {source}{}", op.describe(), os_hint(*op, source))]
    Os {
        /// What was being done.
        op: Op,
        /// The OS error.
        source: io::Error,
    },
}

impl Error {
    /// Classifies an OS error returned by a socket-option call.
    pub(crate) fn from_sockopt(op: Op, source: io::Error) -> Self {
        match source.raw_os_error() {
            Some(libc::ENOPROTOOPT) => Self::NotLoaded,
            Some(libc::EPERM | libc::EACCES) => Self::PermissionDenied,
            Some(EINVAL | EEXIST | ENOENT | EADDRNOTAVAIL | ENOSPC) if op == Op::SetConfig => {
                Self::ConfigRefused { source }
            }
            _ => Self::Os { op, source },
        }
    }
}

/// Displays what a formatting closure writes.
struct Msg<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Msg<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// `line N: ` for a known line, nothing otherwise.
fn at_line(line: Option<u32>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

/// What the module's refusal of a configuration (its errno) means.
fn refused_reason(source: &io::Error) -> &'static str {
    match source.raw_os_error() {
        Some(EEXIST) => "a duplicate node id, node address or service VIP:port",
        Some(ENOENT) => {
            "a service or `self` names a node that is not configured, \
             or a service's acceptor is not one of its nodes"
        }
        Some(EADDRNOTAVAIL) => "a VIP is the internal address of a node",
        Some(ENOSPC) => "too many nodes or services",
        _ => "a malformed value or configuration blob",
    }
}

/// The hint after an `EINVAL` of `op`: an ABI or version mismatch.
fn os_hint(op: Op, source: &io::Error) -> String {
    if source.raw_os_error() != Some(libc::EINVAL) {
        return String::new();
    }
    match op {
        Op::SetZero => format!(
            " (the module rejected DTS ABI version {DTS_ABI_VERSION}; \
             is dtsctl from the same build as the module?)"
        ),
        Op::GetFlows => " (a module older than dtsctl does not know DTS_SO_GET_FLOWS; \
             is dtsctl from the same build as the module?)"
            .to_owned(),
        Op::SetFlush => format!(
            " (a module older than dtsctl does not know DTS_SO_SET_FLUSH, \
             or it rejected DTS ABI version {DTS_ABI_VERSION}; \
             is dtsctl from the same build as the module?)"
        ),
        Op::SetHookStats => format!(
            " (a module older than dtsctl does not know DTS_SO_SET_HOOK_STATS, \
             or it rejected DTS ABI version {DTS_ABI_VERSION}; \
             is dtsctl from the same build as the module?)"
        ),
        Op::SetDrain => " (a module older than dtsctl does not know DTS_SO_DRAIN; \
             is dtsctl from the same build as the module?)"
            .to_owned(),
        _ => String::new(),
    }
}

/// The message for a configuration reply of `len` bytes that could not be
/// decoded.
fn config_message(f: &mut fmt::Formatter<'_>, err: ConfigError, len: usize) -> fmt::Result {
    match err {
        ConfigError::BadVersion { found } => write!(
            f,
            "ABI version mismatch: dtsctl expects DTS ABI version {DTS_ABI_VERSION}, \
             but the module's configuration has version {found}; \
             use the dtsctl built together with the module"
        ),
        ConfigError::Truncated | ConfigError::BadLength => write!(
            f,
            "malformed configuration from the module: expected \
             {CONFIG_V1_SIZE} bytes, got {len}"
        ),
        _ => write!(
            f,
            "malformed configuration from the module: {}",
            describe(err)
        ),
    }
}

/// The message for a [`dts_core::abi::FlowsV1`] reply of `len` bytes that
/// could not be decoded.
fn flows_message(f: &mut fmt::Formatter<'_>, err: AbiError, len: usize) -> fmt::Result {
    match err {
        AbiError::BadVersion { found } => write!(
            f,
            "ABI version mismatch: dtsctl expects flow listing version {FLOWS_VERSION}, \
             but the loaded module reported version {found}; \
             use the dtsctl built together with the module"
        ),
        AbiError::BadSize { found } => write!(
            f,
            "ABI mismatch: dtsctl expects {FLOW_ENTRY_V1_SIZE}-byte flow records, \
             but the module reported {found}-byte records"
        ),
        AbiError::Truncated => write!(
            f,
            "malformed flow table from the module: {len} bytes is shorter than the \
             {FLOWS_V1_HEADER_SIZE}-byte header and the records it announces"
        ),
        AbiError::BadLength => write!(
            f,
            "malformed flow table from the module: {len} bytes is longer than the \
             {FLOWS_V1_HEADER_SIZE}-byte header and the records it announces"
        ),
        other => write!(
            f,
            "malformed flow table from the module: {}",
            other.as_str()
        ),
    }
}

/// The message for a reply of `size` bytes (the `what` reply) that could not
/// be decoded.
fn abi_message(
    f: &mut fmt::Formatter<'_>,
    err: AbiError,
    len: usize,
    size: usize,
    what: &str,
) -> fmt::Result {
    match err {
        AbiError::BadVersion { found } => write!(
            f,
            "ABI version mismatch: dtsctl expects DTS ABI version {DTS_ABI_VERSION}, \
             but the loaded module reported version {found}; \
             use the dtsctl built together with the module"
        ),
        AbiError::BadSize { found } => write!(
            f,
            "ABI mismatch: DTS ABI version {DTS_ABI_VERSION} expects a \
             {size}-byte {what} reply, but the module reported \
             struct_size {found}"
        ),
        AbiError::Truncated | AbiError::BadLength => write!(
            f,
            "malformed reply from the module: expected {size} bytes, \
             got {len}"
        ),
        AbiError::TooManyHooks { found } => write!(
            f,
            "malformed reply from the module: {found} hook entries \
             (at most {MAX_HOOKS})"
        ),
        AbiError::TooManyCounters { found } => write!(
            f,
            "malformed reply from the module: {found} counters \
             (at most {MAX_COUNTERS})"
        ),
        AbiError::TooManyPeers { found } => write!(
            f,
            "malformed reply from the module: {found} peers \
             (at most {MAX_PEERS})"
        ),
        AbiError::ReservedNotZero { offset } => write!(
            f,
            "malformed reply from the module: reserved word at offset {offset} \
             of the {what} reply is not zero"
        ),
        AbiError::BadString | AbiError::BadField => {
            write!(f, "malformed reply from the module: {}", err.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn enoprotoopt_means_not_loaded() {
        let err = Error::from_sockopt(Op::GetInfo, os(libc::ENOPROTOOPT));
        assert!(matches!(err, Error::NotLoaded));
        assert_eq!(
            err.to_string(),
            "the dts module is not loaded (no handler for DTS socket options); \
             load it with `insmod dts.ko`"
        );
    }

    #[test]
    fn eperm_and_eacces_mean_permission_denied() {
        for errno in [libc::EPERM, libc::EACCES] {
            let err = Error::from_sockopt(Op::SetZero, os(errno));
            assert!(matches!(err, Error::PermissionDenied));
            assert_eq!(
                err.to_string(),
                "permission denied: this command needs CAP_NET_ADMIN"
            );
        }
    }

    #[test]
    fn other_errno_carries_os_text() {
        let err = Error::from_sockopt(Op::GetInfo, os(libc::EFAULT));
        let msg = err.to_string();
        assert!(
            msg.starts_with("reading the module status failed: "),
            "{msg}"
        );
        assert!(msg.contains("Bad address"), "{msg}");
    }

    #[test]
    fn einval_on_zero_hints_at_abi() {
        let msg = Error::from_sockopt(Op::SetZero, os(libc::EINVAL)).to_string();
        assert!(msg.contains("Invalid argument"), "{msg}");
        assert!(msg.contains("DTS ABI version 1"), "{msg}");
    }

    #[test]
    fn abi_errnos_match_libc() {
        assert_eq!(
            (EINVAL, EEXIST, ENOENT, EADDRNOTAVAIL, ENOSPC),
            (
                libc::EINVAL,
                libc::EEXIST,
                libc::ENOENT,
                libc::EADDRNOTAVAIL,
                libc::ENOSPC
            )
        );
        assert_eq!(dts_core::abi::ENOPROTOOPT, libc::ENOPROTOOPT);
    }

    #[test]
    fn config_errnos_on_set_config_mean_refused() {
        for (errno, reason) in [
            (libc::EINVAL, "a malformed value or configuration blob"),
            (
                libc::EEXIST,
                "a duplicate node id, node address or service VIP:port",
            ),
            (
                libc::ENOENT,
                "a service or `self` names a node that is not configured, \
                 or a service's acceptor is not one of its nodes",
            ),
            (
                libc::EADDRNOTAVAIL,
                "a VIP is the internal address of a node",
            ),
            (libc::ENOSPC, "too many nodes or services"),
        ] {
            let err = Error::from_sockopt(Op::SetConfig, os(errno));
            assert!(matches!(err, Error::ConfigRefused { .. }), "{errno}");
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("the module refused the configuration: {reason} (")),
                "{msg}"
            );
            assert!(msg.contains("different builds"), "{msg}");
        }
        // The same errnos elsewhere, and other errnos, are plain OS errors.
        let err = Error::from_sockopt(Op::GetConfig, os(libc::EINVAL));
        assert!(matches!(err, Error::Os { .. }));
        assert!(err
            .to_string()
            .starts_with("reading the configuration failed: "));
        let err = Error::from_sockopt(Op::SetConfig, os(libc::EBUSY));
        assert!(err
            .to_string()
            .starts_with("applying the configuration failed: "));
        // Not loaded and permission denied win for the config options too.
        assert!(matches!(
            Error::from_sockopt(Op::SetConfig, os(libc::ENOPROTOOPT)),
            Error::NotLoaded
        ));
        assert!(matches!(
            Error::from_sockopt(Op::GetConfig, os(libc::EPERM)),
            Error::PermissionDenied
        ));
    }

    #[test]
    fn config_reply_messages() {
        let msg = Error::ConfigReply {
            err: ConfigError::BadVersion { found: 3 },
            len: 1744,
        }
        .to_string();
        assert!(msg.contains("expects DTS ABI version 1"), "{msg}");
        assert!(msg.contains("has version 3"), "{msg}");
        let msg = Error::ConfigReply {
            err: ConfigError::Truncated,
            len: 100,
        }
        .to_string();
        assert!(msg.contains("expected 1744 bytes, got 100"), "{msg}");
        let msg = Error::ConfigReply {
            err: ConfigError::DuplicateNodeId { id: 4 },
            len: 1744,
        }
        .to_string();
        assert_eq!(
            msg,
            "malformed configuration from the module: node 4 is configured twice"
        );
    }

    #[test]
    fn file_error_messages_name_the_file() {
        let err = Error::ReadFile {
            path: "/nonexistent.toml".into(),
            source: os(libc::ENOENT),
        };
        assert!(err
            .to_string()
            .starts_with("cannot read /nonexistent.toml: No such file"));
        let err = Error::ConfigFile {
            path: "c.toml".into(),
            line: None,
            err: FileError::Invalid(ConfigError::DuplicateNodeId { id: 2 }),
        };
        assert_eq!(err.to_string(), "c.toml: node 2 is configured twice");
        let err = Error::ConfigFile {
            path: "c.toml".into(),
            line: Some(14),
            err: FileError::Invalid(ConfigError::DuplicateNodeId { id: 2 }),
        };
        assert_eq!(
            err.to_string(),
            "c.toml: line 14: node 2 is configured twice"
        );
    }

    #[test]
    fn abi_version_mismatch_names_both_versions() {
        let err = Error::Abi {
            err: AbiError::BadVersion { found: 7 },
            len: 900,
        };
        let msg = err.to_string();
        assert!(msg.contains("expects DTS ABI version 1"), "{msg}");
        assert!(msg.contains("reported version 7"), "{msg}");
    }

    #[test]
    fn abi_size_and_truncation_messages() {
        let msg = Error::Abi {
            err: AbiError::BadSize { found: 4 },
            len: 1328,
        }
        .to_string();
        assert!(
            msg.contains("1328-byte") && msg.contains("struct_size 4"),
            "{msg}"
        );
        let msg = Error::Abi {
            err: AbiError::Truncated,
            len: 10,
        }
        .to_string();
        assert!(msg.contains("expected 1328 bytes, got 10"), "{msg}");
    }

    #[test]
    fn flows_reply_messages() {
        let msg = |err| Error::FlowsReply { err, len: 100 }.to_string();
        let m = msg(AbiError::BadVersion { found: 2 });
        assert!(
            m.contains("expects flow listing version 1") && m.contains("version 2"),
            "{m}"
        );
        let m = msg(AbiError::BadSize { found: 63 });
        assert!(
            m.contains("64-byte flow records") && m.contains("63-byte"),
            "{m}"
        );
        let m = msg(AbiError::Truncated);
        assert!(
            m.starts_with("malformed flow table from the module: 100 bytes is shorter"),
            "{m}"
        );
        let m = msg(AbiError::BadLength);
        assert!(m.contains("100 bytes is longer"), "{m}");
        let m = msg(AbiError::BadField);
        assert_eq!(
            m,
            "malformed flow table from the module: a field is out of range"
        );
    }

    #[test]
    fn einval_on_new_options_hints_at_the_build() {
        let msg = Error::from_sockopt(Op::GetFlows, os(libc::EINVAL)).to_string();
        assert!(msg.starts_with("reading the flow table failed: "), "{msg}");
        assert!(msg.contains("DTS_SO_GET_FLOWS"), "{msg}");
        let msg = Error::from_sockopt(Op::SetFlush, os(libc::EINVAL)).to_string();
        assert!(msg.starts_with("flushing failed: "), "{msg}");
        assert!(msg.contains("DTS_SO_SET_FLUSH"), "{msg}");
        // Other errnos carry no hint.
        let msg = Error::from_sockopt(Op::SetFlush, os(libc::EBUSY)).to_string();
        assert!(!msg.contains("DTS_SO_SET_FLUSH"), "{msg}");
        assert!(matches!(
            Error::from_sockopt(Op::GetFlows, os(libc::ENOPROTOOPT)),
            Error::NotLoaded
        ));
    }
}
