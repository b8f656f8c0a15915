// SPDX-License-Identifier: GPL-2.0

//! [`DTS_SO_GET_FLOWS`]: the listing of the flow table, a [`FlowsV1`]
//! header followed by [`FlowEntryV1`] records.
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input.

use super::header::{Len, Versioned};
use super::{AbiError, DTS_SO_BASE, DTS_SO_MAX};
use crate::pure::bytes::{Reader, Short, Writer};

/// `getsockopt()`: lists the flow table, a [`FlowsV1`] header followed by
/// [`FlowEntryV1`] records.
///
/// The caller passes a buffer of at least [`FLOWS_V1_HEADER_SIZE`] bytes
/// (`EINVAL` otherwise); the module fills it with as many records as fit
/// and sets `optlen` to the header plus the records written. If the table
/// holds more entries than fit (or than could be gathered), the header's
/// [`FLOWS_TRUNCATED`] flag is set and `total` tells how many there are.
/// The listing is a snapshot bucket by bucket, not of the whole table at
/// one instant: entries added or removed meanwhile may be missed.
pub const DTS_SO_GET_FLOWS: i32 = DTS_SO_BASE + 4;

const _: () = assert!(DTS_SO_GET_FLOWS < DTS_SO_MAX);

/// Version of [`FlowsV1`] and [`FlowEntryV1`].
pub const FLOWS_VERSION: u32 = 1;

/// Size of the [`FlowsV1`] header.
pub const FLOWS_V1_HEADER_SIZE: usize = 24;

/// Size of one [`FlowEntryV1`] record.
pub const FLOW_ENTRY_V1_SIZE: usize = 64;

/// [`FlowsV1::flags`]: not every entry of the table is in the answer.
pub const FLOWS_TRUNCATED: u32 = 1;

/// [`FlowEntryV1::flags`]: the connection's end was reported over the mesh.
pub const FLOW_ENTRY_NOTIFIED: u32 = 1;
/// [`FlowEntryV1::flags`]: [`FlowEntryV1::d2`] is known.
pub const FLOW_ENTRY_D2: u32 = 2;
/// [`FlowEntryV1::flags`]: [`FlowEntryV1::dts`] is known.
pub const FLOW_ENTRY_DTS: u32 = 4;

/// The header of a [`DTS_SO_GET_FLOWS`] answer:
///
/// | offset | size | field         | meaning                                     |
/// |--------|------|---------------|---------------------------------------------|
/// | 0      | 4    | `version`     | [`FLOWS_VERSION`]                           |
/// | 4      | 4    | `record_size` | [`FLOW_ENTRY_V1_SIZE`]                      |
/// | 8      | 4    | `total`       | entries in the table                        |
/// | 12     | 4    | `count`       | records that follow                         |
/// | 16     | 4    | `flags`       | [`FLOWS_TRUNCATED`]                         |
/// | 20     | 4    | `now_s`       | the module's clock (s), for the records' times |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowsV1 {
    /// Entries in the table.
    pub total: u32,
    /// Records that follow the header.
    pub count: u32,
    /// [`FLOWS_TRUNCATED`] or 0.
    pub flags: u32,
    /// The module's clock in seconds when the listing was made.
    pub now_s: u32,
}

impl FlowsV1 {
    /// The encoded header.
    pub fn to_bytes(&self) -> [u8; FLOWS_V1_HEADER_SIZE] {
        Self::fixed_bytes(FLOWS_VERSION, |w| {
            w.put_u32(self.total)?;
            w.put_u32(self.count)?;
            w.put_u32(self.flags)?;
            w.put_u32(self.now_s)
        })
    }

    /// Decodes a whole answer: the header and its records. Refuses an
    /// unknown version or record size, and a `count` past the buffer.
    pub fn decode(buf: &[u8]) -> Result<(Self, impl Iterator<Item = FlowEntryV1> + '_), AbiError> {
        let mut r = Self::read_header(buf)?;
        let h = Self {
            total: r.u32()?,
            count: r.u32()?,
            flags: r.u32()?,
            now_s: r.u32()?,
        };
        let records = r.rest();
        let n = usize::try_from(h.count).map_err(|_| AbiError::Truncated)?;
        let len = n
            .checked_mul(FLOW_ENTRY_V1_SIZE)
            .filter(|&l| l <= records.len())
            .ok_or(AbiError::Truncated)?;
        let records = records.get(..len).ok_or(AbiError::Truncated)?;
        Ok((
            h,
            records
                .chunks_exact(FLOW_ENTRY_V1_SIZE)
                .filter_map(|c| c.try_into().ok().map(FlowEntryV1::from_bytes)),
        ))
    }
}

/// A header that describes its records: `version`, then `record_size`;
/// the records follow it.
impl Versioned for FlowsV1 {
    const SIZE: usize = FLOWS_V1_HEADER_SIZE;
    const VERSION: u32 = FLOWS_VERSION;
    const SIZE_WORD: Option<u32> = Some(FLOW_ENTRY_V1_SIZE as u32);
    const LEN: Len = Len::AtLeast;
}

/// One flow-table entry of a [`DTS_SO_GET_FLOWS`] answer. Addresses are
/// host-order `u32` values, like everywhere in this ABI.
///
/// | offset | size | field                                                     |
/// |--------|------|-----------------------------------------------------------|
/// | 0      | 4    | `laddr`: the entry's local address                        |
/// | 4      | 4    | `raddr`: the entry's remote address                       |
/// | 8      | 2    | `lport`                                                   |
/// | 10     | 2    | `rport`                                                   |
/// | 12     | 4    | `client_addr`: the connection's client                    |
/// | 16     | 2    | `client_port`                                             |
/// | 18     | 2    | `app_port`: the service port the client connected to      |
/// | 20     | 4    | `vip`                                                     |
/// | 24     | 1    | `role` (`fcb::Role`: 0 client, 1 handover-src, 2 handover-dst, 3 client-dst, 4 sc-origin, 5 sc-clone) |
/// | 25     | 1    | `state` (`fcb::State` as a number)                        |
/// | 26     | 1    | `phase` (`flow::Phase`: 0 syn-seen, 1 established, 2 closing, 3 closed) |
/// | 27     | 1    | reserved (0)                                              |
/// | 28     | 4    | `peer_addr`: the other end of the handover connection (0: none) |
/// | 32     | 2    | `peer_port`                                               |
/// | 34     | 2    | reserved (0)                                              |
/// | 36     | 4    | `origin`: the node address it was handed in from, for a re-handover (0: none) |
/// | 40     | 4    | `base_seq`: sequence delta towards the client (proxy side) |
/// | 44     | 4    | `base_ts`: timestamp delta towards the client (proxy side) |
/// | 48     | 4    | `d2`: destination sequence delta ([`FLOW_ENTRY_D2`])     |
/// | 52     | 4    | `dts`: destination timestamp delta ([`FLOW_ENTRY_DTS`])  |
/// | 56     | 4    | `last_seen_s`: module clock of the last segment          |
/// | 60     | 4    | `flags`: [`FLOW_ENTRY_NOTIFIED`], [`FLOW_ENTRY_D2`], [`FLOW_ENTRY_DTS`] |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowEntryV1 {
    /// The entry's local address.
    pub laddr: u32,
    /// The entry's remote address.
    pub raddr: u32,
    /// The entry's local port.
    pub lport: u16,
    /// The entry's remote port.
    pub rport: u16,
    /// The client's address.
    pub client_addr: u32,
    /// The client's port.
    pub client_port: u16,
    /// The service (application) port.
    pub app_port: u16,
    /// The service address.
    pub vip: u32,
    /// `fcb::Role` as a number.
    pub role: u8,
    /// `fcb::State` as a number.
    pub state: u8,
    /// `flow::Phase` as a number.
    pub phase: u8,
    /// The other end of the handover connection, or 0.
    pub peer_addr: u32,
    /// Its port.
    pub peer_port: u16,
    /// The node address an adopted connection came from, or 0.
    pub origin: u32,
    /// Sequence delta towards the client.
    pub base_seq: u32,
    /// Timestamp delta towards the client.
    pub base_ts: u32,
    /// Destination sequence delta, if [`FLOW_ENTRY_D2`].
    pub d2: u32,
    /// Destination timestamp delta, if [`FLOW_ENTRY_DTS`].
    pub dts: u32,
    /// Module clock (s) of the entry's last segment.
    pub last_seen_s: u32,
    /// [`FLOW_ENTRY_NOTIFIED`], [`FLOW_ENTRY_D2`], [`FLOW_ENTRY_DTS`].
    pub flags: u32,
}

impl FlowEntryV1 {
    /// The encoded record.
    pub fn to_bytes(&self) -> [u8; FLOW_ENTRY_V1_SIZE] {
        let mut out = [0u8; FLOW_ENTRY_V1_SIZE];
        let mut w = Writer::new(&mut out);
        // The buffer is exactly the record's size: no write can fail.
        let _ = (|| -> Result<(), Short> {
            w.put_u32(self.laddr)?;
            w.put_u32(self.raddr)?;
            w.put(self.lport.to_ne_bytes())?;
            w.put(self.rport.to_ne_bytes())?;
            w.put_u32(self.client_addr)?;
            w.put(self.client_port.to_ne_bytes())?;
            w.put(self.app_port.to_ne_bytes())?;
            w.put_u32(self.vip)?;
            w.put([self.role, self.state, self.phase, 0])?;
            w.put_u32(self.peer_addr)?;
            w.put(self.peer_port.to_ne_bytes())?;
            w.put([0, 0])?;
            w.put_u32(self.origin)?;
            w.put_u32(self.base_seq)?;
            w.put_u32(self.base_ts)?;
            w.put_u32(self.d2)?;
            w.put_u32(self.dts)?;
            w.put_u32(self.last_seen_s)?;
            w.put_u32(self.flags)
        })();
        out
    }

    /// Decodes a record.
    pub fn from_bytes(b: &[u8; FLOW_ENTRY_V1_SIZE]) -> Self {
        let mut r = Reader::new(b);
        // The buffer is exactly the record's size: no read can fail.
        let mut e = Self::default();
        let _ = (|| -> Result<(), Short> {
            e.laddr = r.u32()?;
            e.raddr = r.u32()?;
            e.lport = u16::from_ne_bytes(r.take()?);
            e.rport = u16::from_ne_bytes(r.take()?);
            e.client_addr = r.u32()?;
            e.client_port = u16::from_ne_bytes(r.take()?);
            e.app_port = u16::from_ne_bytes(r.take()?);
            e.vip = r.u32()?;
            let [role, state, phase, _] = r.take()?;
            (e.role, e.state, e.phase) = (role, state, phase);
            e.peer_addr = r.u32()?;
            e.peer_port = u16::from_ne_bytes(r.take()?);
            let _: [u8; 2] = r.take()?;
            e.origin = r.u32()?;
            e.base_seq = r.u32()?;
            e.base_ts = r.u32()?;
            e.d2 = r.u32()?;
            e.dts = r.u32()?;
            e.last_seen_s = r.u32()?;
            e.flags = r.u32()?;
            Ok(())
        })();
        e
    }
}

#[cfg(test)]
mod flows_tests {
    use super::*;

    fn entry(i: u32) -> FlowEntryV1 {
        FlowEntryV1 {
            laddr: 0x0a00_0064,
            raddr: 0x0a00_0002 + i,
            lport: 80,
            rport: 40000 + i as u16,
            client_addr: 0x0a00_0002,
            client_port: 40000,
            app_port: 80,
            vip: 0x0a00_0064,
            role: 2,
            state: 4,
            phase: 1,
            peer_addr: 0x0a00_000b,
            peer_port: 51234,
            origin: 0x0a00_000c,
            base_seq: 0xdead_beef,
            base_ts: 7,
            d2: 9,
            dts: 11,
            last_seen_s: 1234,
            flags: FLOW_ENTRY_D2 | FLOW_ENTRY_DTS,
        }
    }

    #[test]
    fn round_trip() {
        let h = FlowsV1 {
            total: 3,
            count: 2,
            flags: FLOWS_TRUNCATED,
            now_s: 99,
        };
        let mut buf = h.to_bytes().to_vec();
        buf.extend_from_slice(&entry(0).to_bytes());
        buf.extend_from_slice(&entry(1).to_bytes());
        let (d, it) = FlowsV1::decode(&buf).unwrap();
        assert_eq!(d, h);
        let v: [FlowEntryV1; 2] = [entry(0), entry(1)];
        assert!(it.eq(v.iter().copied()));
    }

    #[test]
    fn refusals() {
        let h = FlowsV1 {
            total: 1,
            count: 1,
            ..FlowsV1::default()
        };
        // count past the buffer
        assert!(FlowsV1::decode(&h.to_bytes()).is_err());
        let mut bad = h.to_bytes();
        bad[0] = 2;
        assert!(FlowsV1::decode(&bad).is_err());
        let mut bad = FlowsV1::default().to_bytes();
        bad[4] = 63;
        assert!(FlowsV1::decode(&bad).is_err());
        assert!(FlowsV1::decode(&[0u8; 10]).is_err());
        let empty = FlowsV1::default().to_bytes();
        let (h0, it) = FlowsV1::decode(&empty).unwrap();
        assert_eq!(h0.count, 0);
        assert_eq!(it.count(), 0);
    }
}
