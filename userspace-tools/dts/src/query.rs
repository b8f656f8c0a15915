//! The module's state, read through its query options: [`info`] (status
//! and counters, `DTS_SO_GET_INFO`), [`peers`] (the control mesh's view,
//! `DTS_SO_GET_PEERS`), [`flows`] (the flow table, `DTS_SO_GET_FLOWS`)
//! and [`config`] (the configuration in force, `DTS_SO_GET_CONFIG`).
//!
//! Each takes any socket: a [`crate::sockopt::ControlSocket`] (as
//! `dtsctl` does) or any IPv4 socket the program has. Each answer is
//! decoded strictly into `dts_core`'s types; a failure is either the OS
//! error of the call or an answer this library cannot decode
//! ([`QueryError`]). The buffers are larger than the answers, so that a
//! module speaking a newer, larger ABI still reports its version instead
//! of failing with `EINVAL`.

use std::io;
use std::os::fd::AsRawFd;

use dts_core::abi::{
    AbiError, FlowEntryV1, FlowsV1, InfoV1, PeersV1, DTS_SO_GET_CONFIG, DTS_SO_GET_FLOWS,
    DTS_SO_GET_INFO, DTS_SO_GET_PEERS, FLOWS_TRUNCATED, FLOWS_V1_HEADER_SIZE, FLOW_ENTRY_V1_SIZE,
};
use dts_core::config::{Config, ConfigError, ConfigV1};
use thiserror::Error;

use crate::sockopt::get_option;

/// Size of the buffers of [`info`], [`peers`] and [`config`] (larger
/// than `INFO_V1_SIZE`, `PEERS_V1_SIZE` and `CONFIG_V1_SIZE`).
pub const ANSWER_BUF_LEN: usize = 4096;
const _: () = assert!(ANSWER_BUF_LEN >= dts_core::abi::INFO_V1_SIZE);
const _: () = assert!(ANSWER_BUF_LEN >= dts_core::abi::PEERS_V1_SIZE);
const _: () = assert!(ANSWER_BUF_LEN >= dts_core::abi::CONFIG_V1_SIZE);

/// Why a query failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The call failed: `ENOPROTOOPT` without the module, `EPERM` without
    /// `CAP_NET_ADMIN`, ...
    #[error("{0}")]
    Os(#[source] io::Error),
    /// The answer cannot be decoded (another ABI version, a bad length).
    #[error("malformed answer ({len} bytes): {}", err.as_str())]
    Reply {
        /// Why.
        err: AbiError,
        /// The answer's length.
        len: usize,
    },
    /// The configuration answer ([`config`]) cannot be decoded.
    #[error("malformed configuration answer ({len} bytes): {}", err.as_str())]
    ConfigReply {
        /// Why.
        err: ConfigError,
        /// The answer's length.
        len: usize,
    },
}

/// One `getsockopt` of `optname` into a buffer of [`ANSWER_BUF_LEN`]
/// bytes, decoded by `decode`.
fn query<T>(
    sock: &impl AsRawFd,
    optname: i32,
    decode: impl FnOnce(&[u8]) -> Result<T, AbiError>,
) -> Result<T, QueryError> {
    let mut buf = vec![0u8; ANSWER_BUF_LEN];
    let reply = get_option(sock, optname, &mut buf).map_err(QueryError::Os)?;
    decode(reply).map_err(|err| QueryError::Reply {
        err,
        len: reply.len(),
    })
}

/// The module's status and counters (`DTS_SO_GET_INFO`).
///
/// # Errors
///
/// [`QueryError`].
pub fn info(sock: &impl AsRawFd) -> Result<InfoV1, QueryError> {
    query(sock, DTS_SO_GET_INFO, InfoV1::decode)
}

/// The control mesh as this node sees it (`DTS_SO_GET_PEERS`): each
/// peer's state, the live set, the last LOAD of each.
///
/// # Errors
///
/// [`QueryError`].
pub fn peers(sock: &impl AsRawFd) -> Result<PeersV1, QueryError> {
    query(sock, DTS_SO_GET_PEERS, PeersV1::decode)
}

/// The configuration in force (`DTS_SO_GET_CONFIG`). The module never
/// hands the mesh key back: it is zero here.
///
/// # Errors
///
/// [`QueryError`].
pub fn config(sock: &impl AsRawFd) -> Result<Config, QueryError> {
    let mut buf = vec![0u8; ANSWER_BUF_LEN];
    let reply = get_option(sock, DTS_SO_GET_CONFIG, &mut buf).map_err(QueryError::Os)?;
    ConfigV1::decode_withheld_key(reply).map_err(|err| QueryError::ConfigReply {
        err,
        len: reply.len(),
    })
}

/// Records the first `DTS_SO_GET_FLOWS` call has room for.
pub const FLOWS_INITIAL_RECORDS: usize = 4096;

/// Records the retry has room for at most (the module's flow table holds
/// at most 65536 entries).
pub const FLOWS_MAX_RECORDS: usize = 65536;

/// The size of a `DTS_SO_GET_FLOWS` buffer for the header and `records`
/// records.
pub const fn flows_buf_len(records: usize) -> usize {
    FLOWS_V1_HEADER_SIZE.saturating_add(records.saturating_mul(FLOW_ENTRY_V1_SIZE))
}

/// A decoded `DTS_SO_GET_FLOWS` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flows {
    /// The header: total, count, flags, the module's clock.
    pub header: FlowsV1,
    /// The records, `header.count` of them.
    pub entries: Vec<FlowEntryV1>,
}

impl Flows {
    /// Decodes a whole answer: the header and exactly `count` records.
    ///
    /// # Errors
    ///
    /// An unknown version ([`AbiError::BadVersion`]) or record size
    /// ([`AbiError::BadSize`]), an answer shorter than its header or than
    /// the records it announces ([`AbiError::Truncated`]), and one with
    /// bytes past them ([`AbiError::BadLength`]).
    pub fn decode(reply: &[u8]) -> Result<Self, AbiError> {
        let (header, records) = FlowsV1::decode(reply)?;
        let entries: Vec<FlowEntryV1> = records.collect();
        if reply.len() != flows_buf_len(entries.len()) {
            return Err(AbiError::BadLength);
        }
        Ok(Self { header, entries })
    }

    /// Whether some entries of the table are missing from the answer.
    pub fn truncated(&self) -> bool {
        self.header.flags & FLOWS_TRUNCATED != 0 || self.header.total > self.header.count
    }

    /// The warning for a listing that is still incomplete after the
    /// retry, or `None`.
    pub fn warning(&self) -> Option<String> {
        self.truncated().then(|| {
            format!(
                "warning: the flow listing is incomplete: {} of {} entries \
                 (the table changed during the listing, or holds more than {FLOWS_MAX_RECORDS})",
                self.header.count, self.header.total
            )
        })
    }
}

/// The flow table (`DTS_SO_GET_FLOWS`), with one retry for a table larger
/// than the first buffer (see [`fetch_flows`]). The result may still be
/// [`Flows::truncated`].
///
/// # Errors
///
/// [`QueryError`].
pub fn flows(sock: &impl AsRawFd) -> Result<Flows, QueryError> {
    fetch_flows(
        |buf| {
            get_option(sock, DTS_SO_GET_FLOWS, buf)
                .map(<[u8]>::len)
                .map_err(QueryError::Os)
        },
        |err, len| QueryError::Reply { err, len },
    )
}

/// Fetches the flow table: calls `get` (one `getsockopt(DTS_SO_GET_FLOWS)`
/// filling the buffer and returning the answer's length) with room for
/// [`FLOWS_INITIAL_RECORDS`] records and, if the answer's `total` is
/// larger than its `count`, once more with room for `total` records (at
/// most [`FLOWS_MAX_RECORDS`]). `bad_reply` makes the error of an answer
/// that does not decode. Pure but for `get`, so that a tool can test it
/// on fabricated answers.
///
/// # Errors
///
/// `get`'s error, or `bad_reply`'s.
pub fn fetch_flows<E>(
    mut get: impl FnMut(&mut [u8]) -> Result<usize, E>,
    bad_reply: impl Fn(AbiError, usize) -> E,
) -> Result<Flows, E> {
    let flows = fetch_flows_once(&mut get, &bad_reply, FLOWS_INITIAL_RECORDS)?;
    if flows.header.total <= flows.header.count {
        return Ok(flows);
    }
    let records = usize::try_from(flows.header.total)
        .unwrap_or(FLOWS_MAX_RECORDS)
        .clamp(FLOWS_INITIAL_RECORDS, FLOWS_MAX_RECORDS);
    fetch_flows_once(&mut get, &bad_reply, records)
}

/// One call with room for `records` records.
fn fetch_flows_once<E>(
    get: &mut impl FnMut(&mut [u8]) -> Result<usize, E>,
    bad_reply: &impl Fn(AbiError, usize) -> E,
    records: usize,
) -> Result<Flows, E> {
    let mut buf = vec![0u8; flows_buf_len(records)];
    let len = get(&mut buf)?.min(buf.len());
    let reply = buf.get(..len).unwrap_or_default();
    Flows::decode(reply).map_err(|err| bad_reply(err, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    /// Without the module every query fails with the OS error
    /// (`ENOPROTOOPT`, or `EPERM` without the capability); with it, the
    /// answers decode.
    #[test]
    fn queries_answer_or_fail_cleanly() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let ok_errno = |e: QueryError| match e {
            QueryError::Os(e) => {
                let errno = e.raw_os_error().unwrap();
                assert!([libc::ENOPROTOOPT, libc::EPERM].contains(&errno), "{e}");
            }
            QueryError::Reply { .. } | QueryError::ConfigReply { .. } => panic!("{e}"),
        };
        if let Err(e) = info(&sock) {
            ok_errno(e);
        }
        if let Err(e) = peers(&sock) {
            ok_errno(e);
        }
        if let Err(e) = config(&sock) {
            ok_errno(e);
        }
        if let Err(e) = flows(&sock) {
            ok_errno(e);
        }
    }

    #[test]
    fn bad_replies_are_reply_errors() {
        let err = fetch_flows(
            |_| Ok::<usize, QueryError>(3),
            |err, len| QueryError::Reply { err, len },
        )
        .unwrap_err();
        assert!(matches!(
            err,
            QueryError::Reply {
                err: AbiError::Truncated,
                len: 3
            }
        ));
        assert_eq!(
            err.to_string(),
            "malformed answer (3 bytes): buffer too short"
        );
    }
}
