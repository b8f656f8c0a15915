//! The live flow table (`DTS_SO_GET_FLOWS`, [`FlowsV1`] and
//! [`FlowEntryV1`]) for `dtsctl show flows`: fetching it (with one retry
//! for a larger table), decoding it strictly, filtering it, and rendering
//! it as a table or as JSON.
//!
//! Everything here but [`fetch`]'s callback is pure, so that it can be
//! tested on fabricated replies without the module.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddrV4};

use dts_core::abi::{FlowEntryV1, FLOW_ENTRY_D2, FLOW_ENTRY_DTS, FLOW_ENTRY_NOTIFIED};
use dts_core::fcb::{Role, State};
use dts_core::flow::Phase;
use serde::Serialize;

use crate::cli::Endpoint;
use crate::error::Error;

pub(crate) use dts::query::Flows;

/// Fetches the flow table ([`dts::query::fetch_flows`]: one call, and one
/// more for a larger table): `get` is one `getsockopt(DTS_SO_GET_FLOWS)`
/// filling the buffer and returning the reply's length. An undecodable
/// reply is [`Error::FlowsReply`].
pub(crate) fn fetch(get: impl FnMut(&mut [u8]) -> Result<usize, Error>) -> Result<Flows, Error> {
    dts::query::fetch_flows(get, |err, len| Error::FlowsReply { err, len })
}

/// The filters of `show flows`; an entry is shown if it matches all of
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    /// The client's address (and port).
    pub(crate) client: Option<Endpoint>,
    /// The service's VIP (and application port).
    pub(crate) vip: Option<Endpoint>,
    /// The entry's role.
    pub(crate) role: Option<Role>,
    /// The FCB state.
    pub(crate) state: Option<State>,
    /// The flow phase.
    pub(crate) phase: Option<Phase>,
}

impl Filter {
    /// Whether `entry` passes every filter.
    pub(crate) fn matches(&self, entry: &FlowEntryV1) -> bool {
        self.client
            .is_none_or(|c| c.matches(entry.client_addr, entry.client_port))
            && self
                .vip
                .is_none_or(|v| v.matches(entry.vip, entry.app_port))
            && self.role.is_none_or(|r| r as u8 == entry.role)
            && self.state.is_none_or(|s| s as u8 == entry.state)
            && self.phase.is_none_or(|p| p as u8 == entry.phase)
    }
}

/// The name of a role byte, or `unknown(N)`.
fn role_name(v: u8) -> Cow<'static, str> {
    Role::from_u8(v).map_or_else(|| unknown(v), |r| Cow::Borrowed(r.name()))
}

/// The name of a state byte, or `unknown(N)`.
fn state_name(v: u8) -> Cow<'static, str> {
    let state = State::from_u8(v);
    if state as u8 == v {
        Cow::Borrowed(state.name())
    } else {
        unknown(v)
    }
}

/// The name of a phase byte, or `unknown(N)`.
fn phase_name(v: u8) -> Cow<'static, str> {
    Phase::from_u8(v).map_or_else(|| unknown(v), |p| Cow::Borrowed(p.name()))
}

fn unknown(v: u8) -> Cow<'static, str> {
    Cow::Owned(format!("unknown({v})"))
}

/// `addr:port` of a host-order address.
fn addr_port(addr: u32, port: u16) -> String {
    SocketAddrV4::new(Ipv4Addr::from(addr), port).to_string()
}

/// Seconds from `last_seen_s` to `now_s` on the module's wrapping 32-bit
/// clock; 0 if `last_seen_s` is (by at most half the clock's range) after
/// `now_s`.
pub(crate) fn idle_s(now_s: u32, last_seen_s: u32) -> u32 {
    let idle = now_s.wrapping_sub(last_seen_s);
    if idle > u32::MAX / 2 {
        0
    } else {
        idle
    }
}

/// One flow as `show flows` shows it (also its JSON object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct FlowRow {
    /// The entry's role (`Role::name`, or `unknown(N)`).
    role: Cow<'static, str>,
    /// The FCB state (`State::name`, or `unknown(N)`).
    state: Cow<'static, str>,
    /// The flow phase (`Phase::name`, or `unknown(N)`).
    phase: Cow<'static, str>,
    /// The client's `addr:port`.
    client: String,
    /// The service's `vip:app_port`.
    service: String,
    /// The entry's own local `addr:port`.
    local: String,
    /// The entry's own remote `addr:port`.
    remote: String,
    /// The other end of the handover connection, `addr:port`.
    peer: Option<String>,
    /// The node address the connection was handed in from.
    origin: Option<String>,
    /// Sequence delta towards the client.
    base_seq: u32,
    /// Timestamp delta towards the client.
    base_ts: u32,
    /// Destination sequence delta, if known.
    d2: Option<u32>,
    /// Destination timestamp delta, if known.
    dts: Option<u32>,
    /// Seconds since the entry's last segment.
    idle_s: u32,
    /// The connection's end was reported over the mesh.
    notified: bool,
}

impl FlowRow {
    /// The row of `entry` in a listing made at `now_s`.
    pub(crate) fn new(entry: &FlowEntryV1, now_s: u32) -> Self {
        Self {
            role: role_name(entry.role),
            state: state_name(entry.state),
            phase: phase_name(entry.phase),
            client: addr_port(entry.client_addr, entry.client_port),
            service: addr_port(entry.vip, entry.app_port),
            local: addr_port(entry.laddr, entry.lport),
            remote: addr_port(entry.raddr, entry.rport),
            peer: (entry.peer_addr != 0).then(|| addr_port(entry.peer_addr, entry.peer_port)),
            origin: (entry.origin != 0).then(|| Ipv4Addr::from(entry.origin).to_string()),
            base_seq: entry.base_seq,
            base_ts: entry.base_ts,
            d2: (entry.flags & FLOW_ENTRY_D2 != 0).then_some(entry.d2),
            dts: (entry.flags & FLOW_ENTRY_DTS != 0).then_some(entry.dts),
            idle_s: idle_s(now_s, entry.last_seen_s),
            notified: entry.flags & FLOW_ENTRY_NOTIFIED != 0,
        }
    }
}

/// The rows of the entries of `flows` that pass `filter`.
pub(crate) fn rows(flows: &Flows, filter: &Filter) -> Vec<FlowRow> {
    flows
        .entries
        .iter()
        .filter(|entry| filter.matches(entry))
        .map(|entry| FlowRow::new(entry, flows.header.now_s))
        .collect()
}

/// Renders `show flows`: a header line, one line per flow that passes
/// `filter`, and the summary line "N of TOTAL flows shown".
pub(crate) fn human(flows: &Flows, filter: &Filter) -> String {
    crate::render::text(|out| write_human(out, flows, &rows(flows, filter)))
}

/// `-` for an absent value.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn write_human(out: &mut String, flows: &Flows, rows: &[FlowRow]) -> fmt::Result {
    writeln!(
        out,
        "{:<12} {:<12} {:<11} {:<21} {:<21} {:<21} {:<21} {:<21} {:<15} {:>10} {:>10} {:>10} {:>10} {:>6}",
        "ROLE",
        "STATE",
        "PHASE",
        "CLIENT",
        "SERVICE",
        "LOCAL",
        "REMOTE",
        "PEER",
        "ORIGIN",
        "BASE_SEQ",
        "BASE_TS",
        "D2",
        "DTS",
        "IDLE_S"
    )?;
    for row in rows {
        writeln!(
            out,
            "{:<12} {:<12} {:<11} {:<21} {:<21} {:<21} {:<21} {:<21} {:<15} {:>10} {:>10} {:>10} {:>10} {:>6}",
            row.role,
            row.state,
            row.phase,
            row.client,
            row.service,
            row.local,
            row.remote,
            or_dash(row.peer.as_deref()),
            or_dash(row.origin.as_deref()),
            row.base_seq,
            row.base_ts,
            or_dash(row.d2),
            or_dash(row.dts),
            row.idle_s
        )?;
    }
    write!(out, "{} of {} flows shown", rows.len(), flows.header.total)?;
    if flows.truncated() {
        write!(out, " ({} listed: incomplete)", flows.header.count)?;
    }
    writeln!(out)
}

/// JSON view of a flow listing.
#[derive(Serialize)]
struct FlowsJson {
    now_s: u32,
    total: u32,
    listed: u32,
    truncated: bool,
    shown: usize,
    flows: Vec<FlowRow>,
}

/// Renders `show flows --json`: one JSON object (a single line, no
/// trailing newline).
pub(crate) fn json(flows: &Flows, filter: &Filter) -> Result<String, serde_json::Error> {
    let rows = rows(flows, filter);
    serde_json::to_string(&FlowsJson {
        now_s: flows.header.now_s,
        total: flows.header.total,
        listed: flows.header.count,
        truncated: flows.truncated(),
        shown: rows.len(),
        flows: rows,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cli::{phases, roles, states};
    use dts::query::{
        flows_buf_len as buf_len, FLOWS_INITIAL_RECORDS as INITIAL_RECORDS,
        FLOWS_MAX_RECORDS as MAX_RECORDS,
    };
    use dts_core::abi::FLOWS_VERSION;
    use dts_core::abi::{
        AbiError, FlowsV1, FLOWS_TRUNCATED, FLOWS_V1_HEADER_SIZE, FLOW_ENTRY_V1_SIZE,
    };

    /// A handed-in client entry (N2) of client 10.0.0.2:40000 on
    /// 10.0.0.100:80, both deltas known, last seen at 1000.
    pub(crate) fn client_dst() -> FlowEntryV1 {
        FlowEntryV1 {
            laddr: 0x0a00_0064,
            raddr: 0x0a00_0002,
            lport: 80,
            rport: 40000,
            client_addr: 0x0a00_0002,
            client_port: 40000,
            app_port: 80,
            vip: 0x0a00_0064,
            role: Role::ClientDst as u8,
            state: State::Direct as u8,
            phase: Phase::Established as u8,
            peer_addr: 0x0a00_000b,
            peer_port: 51234,
            origin: 0x0a00_000b,
            base_seq: 0xdead_beef,
            base_ts: 7,
            d2: 9,
            dts: 11,
            last_seen_s: 1000,
            flags: FLOW_ENTRY_D2 | FLOW_ENTRY_DTS,
        }
    }

    /// A proxied client entry (N1) of client 10.0.0.3:40001 on
    /// 10.0.0.101:443, no handover, last seen at 1003.
    pub(crate) fn client() -> FlowEntryV1 {
        FlowEntryV1 {
            laddr: 0x0a00_0065,
            raddr: 0x0a00_0003,
            lport: 443,
            rport: 40001,
            client_addr: 0x0a00_0003,
            client_port: 40001,
            app_port: 443,
            vip: 0x0a00_0065,
            role: Role::Client as u8,
            state: State::Proxying as u8,
            phase: Phase::SynSeen as u8,
            last_seen_s: 1003,
            ..FlowEntryV1::default()
        }
    }

    /// A handover-source entry whose bytes are out of every enum's range,
    /// notified, last seen "after" now.
    pub(crate) fn odd() -> FlowEntryV1 {
        FlowEntryV1 {
            laddr: 0x0a00_000b,
            raddr: 0x0a00_000c,
            lport: 51234,
            rport: 80,
            client_addr: 0x0a00_0002,
            client_port: 40002,
            app_port: 80,
            vip: 0x0a00_0064,
            role: 9,
            state: 6,
            phase: 200,
            peer_addr: 0x0a00_000c,
            peer_port: 80,
            last_seen_s: 1010,
            flags: FLOW_ENTRY_NOTIFIED,
            ..FlowEntryV1::default()
        }
    }

    /// The encoded reply: `header` then `entries`.
    pub(crate) fn blob(header: FlowsV1, entries: &[FlowEntryV1]) -> Vec<u8> {
        let mut out = header.to_bytes().to_vec();
        for entry in entries {
            out.extend_from_slice(&entry.to_bytes());
        }
        out
    }

    /// A complete listing of the three sample entries at now = 1005.
    pub(crate) fn sample() -> Flows {
        let entries = vec![client_dst(), client(), odd()];
        Flows {
            header: FlowsV1 {
                total: 3,
                count: 3,
                flags: 0,
                now_s: 1005,
            },
            entries,
        }
    }

    fn sample_blob() -> Vec<u8> {
        let flows = sample();
        blob(flows.header, &flows.entries)
    }

    #[test]
    fn decodes_a_fabricated_reply() {
        assert_eq!(Flows::decode(&sample_blob()), Ok(sample()));
        let empty = blob(FlowsV1::default(), &[]);
        assert_eq!(Flows::decode(&empty), Ok(Flows::default()));
    }

    #[test]
    fn refuses_truncated_and_garbage_replies() {
        let good = sample_blob();
        // Every strict prefix is refused, none panics.
        for len in 0..good.len() {
            let err = Flows::decode(good.get(..len).unwrap_or_default());
            assert!(err.is_err(), "prefix of {len} bytes accepted");
        }
        // A record short, a record too many, a stray byte.
        let short = good.get(..good.len() - 1).unwrap_or_default();
        assert_eq!(Flows::decode(short), Err(AbiError::Truncated));
        let mut long = good.clone();
        long.push(0);
        assert_eq!(Flows::decode(&long), Err(AbiError::BadLength));
        let mut extra = good.clone();
        extra.extend_from_slice(&client().to_bytes());
        assert_eq!(Flows::decode(&extra), Err(AbiError::BadLength));
        // Wrong version, wrong record size, absurd count.
        let mut bad = good.clone();
        bad[..4].copy_from_slice(&(FLOWS_VERSION + 1).to_ne_bytes());
        assert_eq!(
            Flows::decode(&bad),
            Err(AbiError::BadVersion {
                found: FLOWS_VERSION + 1
            })
        );
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&65u32.to_ne_bytes());
        assert_eq!(Flows::decode(&bad), Err(AbiError::BadSize { found: 65 }));
        let mut bad = good.clone();
        bad[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(Flows::decode(&bad), Err(AbiError::Truncated));
        // Pseudo-random garbage of every length up to a few records.
        let mut x: u32 = 0x1234_5678;
        for len in 0..300 {
            let garbage: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x.to_le_bytes()[0]
                })
                .collect();
            let _ = Flows::decode(&garbage);
        }
        // The error as dtsctl reports it.
        let err = fetch(|buf: &mut [u8]| {
            if let Some(b) = buf.get_mut(..10) {
                b.fill(1);
            }
            Ok(10)
        })
        .expect_err("garbage");
        assert!(err.to_string().starts_with("ABI version mismatch"), "{err}");
    }

    /// A fake module whose table holds `entries` and who answers as much of
    /// it as the buffer holds (also recording the buffer sizes asked for).
    fn module<'a>(
        entries: &'a [FlowEntryV1],
        total: u32,
        sizes: &'a mut Vec<usize>,
    ) -> impl FnMut(&mut [u8]) -> Result<usize, Error> + 'a {
        move |buf: &mut [u8]| {
            sizes.push(buf.len());
            let room = (buf.len() - FLOWS_V1_HEADER_SIZE) / FLOW_ENTRY_V1_SIZE;
            let n = room.min(entries.len());
            let count = u32::try_from(n).expect("small");
            let header = FlowsV1 {
                total,
                count,
                flags: if count < total { FLOWS_TRUNCATED } else { 0 },
                now_s: 5,
            };
            let reply = blob(header, entries.get(..n).unwrap_or_default());
            buf.get_mut(..reply.len())
                .expect("fits")
                .copy_from_slice(&reply);
            Ok(reply.len())
        }
    }

    #[test]
    fn fetch_retries_once_for_a_larger_table() {
        // Fits at once: one call.
        let entries = vec![client(); 3];
        let mut sizes = Vec::new();
        let flows = fetch(module(&entries, 3, &mut sizes)).expect("fetched");
        assert_eq!(sizes, [buf_len(INITIAL_RECORDS)]);
        assert_eq!(flows.entries.len(), 3);
        assert!(!flows.truncated() && flows.warning().is_none());
        // 5000 entries: a second call sized for them.
        let entries = vec![client(); 5000];
        let mut sizes = Vec::new();
        let flows = fetch(module(&entries, 5000, &mut sizes)).expect("fetched");
        assert_eq!(sizes, [buf_len(INITIAL_RECORDS), buf_len(5000)]);
        assert_eq!(flows.entries.len(), 5000);
        assert!(!flows.truncated());
        // The table claims more than the cap: one retry at the cap, and
        // the result is still incomplete.
        let entries = vec![client(); 4100];
        let mut sizes = Vec::new();
        let flows = fetch(module(&entries, 100_000, &mut sizes)).expect("fetched");
        assert_eq!(sizes, [buf_len(INITIAL_RECORDS), buf_len(MAX_RECORDS)]);
        assert!(flows.truncated());
        let warning = flows.warning().expect("incomplete");
        assert_eq!(
            warning,
            "warning: the flow listing is incomplete: 4100 of 100000 entries \
             (the table changed during the listing, or holds more than 65536)"
        );
        // Errors end the fetch.
        let err = fetch(|_: &mut [u8]| Err(Error::NotLoaded)).expect_err("not loaded");
        assert!(matches!(err, Error::NotLoaded));
    }

    #[test]
    fn enum_names_come_from_the_pure_enums() {
        let names = |it: Vec<&str>| it.join(",");
        assert_eq!(
            names(roles().map(Role::name).collect()),
            "client,handover-src,handover-dst,client-dst,sc-origin,sc-clone"
        );
        assert_eq!(
            names(states().map(State::name).collect()),
            "proxying,handing-over,handed-over,transfer,direct,aborted"
        );
        assert_eq!(
            names(phases().map(Phase::name).collect()),
            "syn-seen,established,closing,closed"
        );
        assert_eq!(role_name(9), "unknown(9)");
        assert_eq!(state_name(6), "unknown(6)");
        assert_eq!(state_name(5), "aborted");
        assert_eq!(phase_name(200), "unknown(200)");
    }

    #[test]
    fn idle_time_wraps() {
        assert_eq!(idle_s(1005, 1000), 5);
        assert_eq!(idle_s(5, u32::MAX - 4), 10);
        assert_eq!(idle_s(1000, 1010), 0);
        assert_eq!(idle_s(7, 7), 0);
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("10.0.0.2").expect("addr");
        assert_eq!(e.to_string(), "10.0.0.2");
        assert!(e.matches(0x0a00_0002, 1) && e.matches(0x0a00_0002, 40000));
        assert!(!e.matches(0x0a00_0003, 1));
        let e = Endpoint::parse("10.0.0.2:40000").expect("addr:port");
        assert_eq!(e.to_string(), "10.0.0.2:40000");
        assert!(e.matches(0x0a00_0002, 40000) && !e.matches(0x0a00_0002, 40001));
        for bad in [
            "",
            "10.0.0",
            "10.0.0.2:",
            "10.0.0.2:70000",
            "host:80",
            ":80",
            "::1",
        ] {
            let err = Endpoint::parse(bad).expect_err(bad);
            assert!(err.contains("is not ADDR or ADDR:PORT"), "{err}");
        }
    }

    /// The roles of the rows `filter` lets through.
    fn shown(filter: Filter) -> Vec<String> {
        rows(&sample(), &filter)
            .into_iter()
            .map(|r| r.role.into_owned())
            .collect()
    }

    #[test]
    fn filters() {
        let ep = |s| Some(Endpoint::parse(s).expect("valid"));
        /// The default filter changed by `set`.
        fn with(set: impl FnOnce(&mut Filter)) -> Filter {
            let mut filter = Filter::default();
            set(&mut filter);
            filter
        }
        let all = Filter {
            client: ep("10.0.0.2"),
            vip: ep("10.0.0.100:80"),
            role: Some(Role::ClientDst),
            state: Some(State::Direct),
            phase: Some(Phase::Established),
        };
        let cases: [(Filter, &[&str]); 11] = [
            (Filter::default(), &["client-dst", "client", "unknown(9)"]),
            (
                with(|f| f.client = ep("10.0.0.2")),
                &["client-dst", "unknown(9)"],
            ),
            (with(|f| f.client = ep("10.0.0.2:40002")), &["unknown(9)"]),
            (with(|f| f.vip = ep("10.0.0.101")), &["client"]),
            (with(|f| f.vip = ep("10.0.0.100:443")), &[]),
            (with(|f| f.role = Some(Role::ClientDst)), &["client-dst"]),
            (with(|f| f.state = Some(State::Proxying)), &["client"]),
            // An unknown state byte is not "aborted".
            (with(|f| f.state = Some(State::Aborted)), &[]),
            (
                with(|f| f.phase = Some(Phase::Established)),
                &["client-dst"],
            ),
            // All at once: every one must match.
            (all, &["client-dst"]),
            (
                Filter {
                    phase: Some(Phase::Closed),
                    ..all
                },
                &[],
            ),
        ];
        for (filter, want) in cases {
            assert_eq!(shown(filter), want, "{filter:?}");
        }
    }

    #[test]
    fn human_table() {
        let flows = Flows::decode(&sample_blob()).expect("valid blob");
        let out = human(&flows, &Filter::default());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert_eq!(
            lines[0],
            concat!(
                "ROLE         STATE        PHASE       CLIENT                SERVICE               ",
                "LOCAL                 REMOTE                PEER                  ORIGIN          ",
                "  BASE_SEQ    BASE_TS         D2        DTS IDLE_S"
            )
        );
        assert_eq!(
            lines[1],
            concat!(
                "client-dst   direct       established 10.0.0.2:40000        10.0.0.100:80         ",
                "10.0.0.100:80         10.0.0.2:40000        10.0.0.11:51234       10.0.0.11       ",
                "3735928559          7          9         11      5"
            )
        );
        assert_eq!(
            lines[2],
            concat!(
                "client       proxying     syn-seen    10.0.0.3:40001        10.0.0.101:443        ",
                "10.0.0.101:443        10.0.0.3:40001        -                     -               ",
                "         0          0          -          -      2"
            )
        );
        assert!(
            lines[3].starts_with("unknown(9)   unknown(6)   unknown(200) 10.0.0.2:40002"),
            "{}",
            lines[3]
        );
        assert!(
            lines[3].ends_with("          -          -      0"),
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], "3 of 3 flows shown");
        // Filtered and incomplete.
        let mut flows = sample();
        flows.header.total = 10;
        let f = Filter {
            role: Some(Role::Client),
            ..Filter::default()
        };
        let out = human(&flows, &f);
        assert!(
            out.ends_with("\n1 of 10 flows shown (3 listed: incomplete)\n"),
            "{out}"
        );
        // Empty table: the header and the summary.
        let out = human(&Flows::default(), &Filter::default());
        assert!(out.starts_with("ROLE "), "{out}");
        assert!(out.ends_with("\n0 of 0 flows shown\n"), "{out}");
        assert_eq!(out.lines().count(), 2);
    }

    /// The documented keys of a flow object, and whether each may be null.
    pub(crate) const FLOW_KEYS: [(&str, &str); 15] = [
        ("role", "string"),
        ("state", "string"),
        ("phase", "string"),
        ("client", "string"),
        ("service", "string"),
        ("local", "string"),
        ("remote", "string"),
        ("peer", "string|null"),
        ("origin", "string|null"),
        ("base_seq", "u32"),
        ("base_ts", "u32"),
        ("d2", "u32|null"),
        ("dts", "u32|null"),
        ("idle_s", "u32"),
        ("notified", "bool"),
    ];

    #[test]
    fn json_listing() {
        use crate::show::tests::assert_shape;
        // From the blob the module would send.
        let flows = Flows::decode(&sample_blob()).expect("valid blob");
        let out = json(&flows, &Filter::default()).expect("serializable");
        let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_shape(
            &value,
            &[
                ("now_s", "u32"),
                ("total", "u32"),
                ("listed", "u32"),
                ("truncated", "bool"),
                ("shown", "u64"),
                ("flows", "array"),
            ],
        );
        let flows = value["flows"].as_array().expect("array");
        assert_eq!(flows.len(), 3);
        for flow in flows {
            assert_shape(flow, &FLOW_KEYS);
        }
        assert_eq!(
            flows[0],
            serde_json::json!({
                "role": "client-dst", "state": "direct", "phase": "established",
                "client": "10.0.0.2:40000", "service": "10.0.0.100:80",
                "local": "10.0.0.100:80", "remote": "10.0.0.2:40000",
                "peer": "10.0.0.11:51234", "origin": "10.0.0.11",
                "base_seq": 3_735_928_559u32, "base_ts": 7, "d2": 9, "dts": 11,
                "idle_s": 5, "notified": false
            })
        );
        assert!(flows[1]["peer"].is_null() && flows[1]["d2"].is_null());
        assert_eq!(flows[2]["notified"], true);
        assert_eq!(value["shown"], 3);
        assert_eq!(value["truncated"], false);
        // Filtered.
        let f = Filter {
            phase: Some(Phase::SynSeen),
            ..Filter::default()
        };
        let value: serde_json::Value =
            serde_json::from_str(&json(&sample(), &f).expect("serializable")).expect("valid");
        assert_eq!(value["shown"], 1);
        assert_eq!(value["total"], 3);
        assert_eq!(value["flows"][0]["role"], "client");
    }
}
