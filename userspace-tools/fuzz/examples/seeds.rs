//! Writes the seed corpus of every fuzz target: a few valid inputs each,
//! built with dts-core's own encoders, so that each run starts past the
//! decoders' first checks. Deterministic; the output is checked in.
//!
//!   cd userspace-tools/fuzz && cargo +nightly run --example seeds -- seeds
//!
//! (`scripts/fuzz.sh` runs the targets from these seeds and never writes
//! into them.)

use std::fs;
use std::path::{Path, PathBuf};

use dts_core::abi::{
    CloneReqV1, CloneStatusV1, FlowEntryV1, FlowInfoV1, FlowsV1, FlushV1, HandoverReqV1, HookStats,
    InfoV1, PeerConn, PeerState, PeerV1, PeersV1, ZeroV1, FLOW_INFO_VERSION, INFO_V1_SIZE,
    PEERS_MESH_ENABLED, PEERS_READY, PEERS_V1_SIZE,
};
use dts_core::config::{
    Config, ConfigV1, Grant, GrantList, HandoverTo, Mesh, MeshKey, Node, NodeSet, Service,
};
use dts_core::csum::Mode;
use dts_core::fcb::{self, Dir, Params, Plan, Role, SegInfo, State, SynOpts};
use dts_core::homsg::{Handover, HandoverAck};
use dts_core::hopt::HandoverOpt;
use dts_core::mesh::{
    self, CloseReason, Closed, Heartbeat, Hello, HelloAck, HelloStatus, Load, Msg,
};
use dts_core::scmsg::{ScAck, ScClone, ScStatus};
use dts_core::segbuild::{self, SegSpec};
use dts_core::tcp::{TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_SYN};

const C: u32 = 0x0a00_0002;
const VIP: u32 = 0x0a00_0064;
const N1: u32 = 0x0a00_000b;
const N2: u32 = 0x0a00_000c;

/// A big-endian byte builder.
#[derive(Default)]
struct B(Vec<u8>);

impl B {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
}

fn spec(saddr: u32, daddr: u32, flags: u8) -> SegSpec {
    SegSpec {
        saddr,
        daddr,
        sport: 41000,
        dport: 80,
        seq: 0xffff_ff00,
        ack: 2000,
        flags,
        window: 502,
        ip_id: 1,
        mss: None,
        wscale: None,
        sack_perm: false,
        ts: None,
    }
}

fn syn_spec() -> SegSpec {
    SegSpec {
        mss: Some(1460),
        wscale: Some(7),
        sack_perm: true,
        ts: Some((1000, 0)),
        ..spec(C, VIP, TCP_FLAG_SYN)
    }
}

/// An IPv4 + TCP packet built by `segbuild`.
fn packet(s: &SegSpec, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 128 + payload.len()];
    let n = segbuild::build_segment(&mut out, s, payload).expect("builds");
    out.truncate(n);
    out
}

/// The TCP header (and payload) of a packet built by `segbuild`.
fn tcp_of(s: &SegSpec, payload: &[u8]) -> Vec<u8> {
    packet(s, payload).split_off(20)
}

/// A TCP header with a SACK block and a timestamp option (an ACK).
fn sack_ack() -> Vec<u8> {
    let mut t = tcp_of(&spec(N1, N2, TCP_FLAG_ACK), b"");
    t[12] = 0x80; // 32 bytes
    t.extend_from_slice(&[1, 1, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20]);
    t
}

fn hopt() -> HandoverOpt {
    HandoverOpt::new(C, 41000, 0x1234_5678, VIP)
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).expect("mkdir");
    fs::write(d.join(name), bytes).expect("write");
}

fn tcp_options(dir: &Path) {
    let params = B::default().u32(0x8000_0001).u16(1400).u8(7).u8(0).0;
    let syn = tcp_of(&syn_spec(), b"");
    write(dir, "tcp_options", "syn", &B(params.clone()).bytes(&syn).0);
    write(
        dir,
        "tcp_options",
        "sack-ack",
        &B(params.clone()).bytes(&sack_ack()).0,
    );
    let data = tcp_of(
        &spec(C, VIP, TCP_FLAG_ACK | TCP_FLAG_PSH),
        b"GET / HTTP/1.1\r\n\r\n",
    );
    write(dir, "tcp_options", "data", &B(params).bytes(&data).0);
}

fn hopt_seeds(dir: &Path) {
    let o = hopt().encode();
    write(dir, "hopt", "option", &o);
    let area = B::default().bytes(&[1, 1]).bytes(&o).bytes(&[0, 0]).0;
    write(dir, "hopt", "area", &area);
    let mut re = hopt();
    re.flags = dts_core::hopt::HOPT_FLAG_REHANDOVER;
    write(dir, "hopt", "rehandover", &re.encode());
}

fn mesh_frames(dir: &Path) {
    let msgs = [
        Msg::Hello(Hello {
            fingerprint: 0x0102_0304_0506_0708,
            incarnation: 9,
            nonce: [0x11; dts_core::hmac::NONCE_LEN],
        }),
        Msg::HelloAck(HelloAck {
            fingerprint: 0x0102_0304_0506_0708,
            incarnation: 10,
            status: HelloStatus::Ok,
            nonce: [0x22; dts_core::hmac::NONCE_LEN],
            proof: [0x33; dts_core::hmac::MAC_LEN],
        }),
        Msg::Heartbeat(Heartbeat {
            sent_us: 1_000_000,
            echo_us: 999_000,
            echo_delay_us: 50,
            view: 0b111,
        }),
        Msg::Load(Load {
            serving: 3,
            handed_in: 1,
            handed_out: 2,
            handovers_total: 40,
        }),
        Msg::Closed(Closed {
            client_addr: C,
            vip: VIP,
            client_port: 41000,
            app_port: 80,
            reason: CloseReason::Fin,
        }),
        Msg::HandoverAck(&[0, 0, 0, 7, 0, 0, 0, 0]),
    ];
    let mut stream = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let mut out = vec![0u8; mesh::MAX_FRAME];
        let n = mesh::encode(2, i as u32, m, &mut out).expect("encodes");
        stream.extend_from_slice(&out[..n]);
        write(dir, "mesh_frame", &format!("frame-{i}"), &out[..n]);
    }
    write(dir, "mesh_frame", "stream", &stream);
}

fn sc_msgs(dir: &Path) {
    let seed = packet(&spec(C, VIP, TCP_FLAG_ACK), b"");
    let m = ScClone {
        clone_id: 5,
        client_addr: C,
        vip: VIP,
        client_port: 41000,
        app_port: 80,
        rcv_nxt: 1000,
        snd_nxt: 2000,
        snd_wnd: 64240,
        rcv_wnd: 65535,
        mss: 1460,
        snd_wscale: 7,
        rcv_wscale: 7,
        timestamps: true,
        sack_perm: true,
        wscale: true,
        ts_recent: 100,
        ts_now: 200,
        resp_len: Some(512),
        held: false,
        seed: &seed,
        asf: b"GET /a HTTP/1.1\r\n\r\n",
    };
    let mut out = vec![0u8; m.encoded_len()];
    m.encode(&mut out).expect("encodes");
    write(dir, "sc_msg", "clone", &out);
    let a = ScAck {
        status: ScStatus::Ok,
        clone_id: 5,
        client_addr: C,
        vip: VIP,
        client_port: 41000,
        app_port: 80,
    };
    write(dir, "sc_msg", "ack", &a.to_bytes());
    let hdrs = packet(&syn_spec(), b"");
    let mut fwd = vec![0u8; 256];
    let n = segbuild::build_forward(&mut fwd, N1, N2, 3, &hdrs, 77).expect("forwards");
    write(dir, "sc_msg", "forward", &fwd[..n]);
}

fn handover_msgs(dir: &Path) {
    let m = Handover {
        call_id: 7,
        client_addr: C,
        vip: VIP,
        client_port: 41000,
        app_port: 80,
        c_isn: 0xffff_fff0,
        s_isn: 123,
        client_wnd: 65535 << 2,
        mss: 1460,
        snd_wscale: 7,
        rcv_wscale: 2,
        timestamps: true,
        sack_perm: true,
        wscale: true,
        ts_recent: 99,
        ts_server: 1000,
        sent_us: 0x0102_0304_0506_0708,
        reforwarded: true,
        continuation: None,
        data: b"GET / HTTP/1.1\r\n\r\n",
    };
    let mut out = vec![0u8; m.encoded_len()];
    m.encode(&mut out).expect("encodes");
    write(dir, "handover_msg", "handover", &out);
    let a = HandoverAck {
        call_id: 7,
        errno: 0,
    };
    write(dir, "handover_msg", "ack", &a.to_bytes());
}

/// The input of the `xlate` target (see its `parse`).
fn xlate_input(
    plan: &Plan,
    mode: Mode,
    syn: Option<(SynOpts, HandoverOpt)>,
    src: u32,
    dst: u32,
    tcp: &[u8],
) -> Vec<u8> {
    let mut bits = u16::from(mode == Mode::Partial);
    let flags = [
        plan.saddr.is_some(),
        plan.daddr.is_some(),
        plan.sport.is_some(),
        plan.dport.is_some(),
        plan.window.is_some(),
        plan.tsecr_set.is_some(),
        plan.clear_fin,
        plan.strip_hopt,
        plan.handover_syn,
        plan.syn_keep_ts,
        syn.is_some(),
    ];
    for (i, f) in flags.iter().enumerate() {
        bits |= u16::from(*f) << (i + 1);
    }
    let (client, h) = syn.unwrap_or((SynOpts::default(), HandoverOpt::new(0, 0, 0, 0)));
    B::default()
        .u16(bits)
        .u32(plan.saddr.unwrap_or(0))
        .u32(plan.daddr.unwrap_or(0))
        .u16(plan.sport.unwrap_or(0))
        .u16(plan.dport.unwrap_or(0))
        .u32(plan.seq_add)
        .u32(plan.ack_add)
        .u16(plan.window.unwrap_or(0))
        .u32(plan.tsval_add)
        .u32(plan.tsecr_add)
        .u32(plan.tsecr_set.unwrap_or(0))
        .u32(client.pack())
        .u32(h.client_addr)
        .u16(h.client_port)
        .u32(h.proxy_isn)
        .u32(h.vip)
        .u32(src)
        .u32(dst)
        .u8(0)
        .bytes(tcp)
        .0
}

fn params() -> Params {
    Params {
        vip: VIP,
        app_port: 80,
        proxy_port: 8080,
        client_addr: C,
        client_port: 41000,
        self_addr: N1,
        peer_addr: N2,
        peer_port: 50000,
        d1: Some(0x8000_0001),
        d2: Some(12345),
        client_win: 501,
        h_fin: Some(777),
        proxy_tsval: 5000,
        o1: Some(300),
        dts: Some(400),
        dst_port: 80,
        base_seq: 0,
        base_ts: 0,
    }
}

/// The input of the `fcb_plan` target (see its body).
fn fcb_input(role: Role, state: State, seg: &SegInfo, p: &Params) -> Vec<u8> {
    let opt = |o: Option<u32>| o.unwrap_or(0);
    let bits = u16::from(seg.ts.is_some())
        | u16::from(p.d1.is_some()) << 1
        | u16::from(p.d2.is_some()) << 2
        | u16::from(p.h_fin.is_some()) << 3
        | u16::from(p.o1.is_some()) << 4
        | u16::from(p.dts.is_some()) << 5;
    let (tsval, tsecr) = seg.ts.unwrap_or((0, 0));
    B::default()
        .u8(role as u8)
        .u8(state as u8)
        .u16(bits)
        .u8(seg.flags)
        .u32(seg.seq)
        .u16(seg.window)
        .u32(tsval)
        .u32(tsecr)
        .u32(p.vip)
        .u16(p.app_port)
        .u16(p.proxy_port)
        .u32(p.client_addr)
        .u16(p.client_port)
        .u32(p.self_addr)
        .u32(p.peer_addr)
        .u16(p.peer_port)
        .u16(p.client_win)
        .u32(p.proxy_tsval)
        .u16(p.dst_port)
        .u32(p.base_seq)
        .u32(p.base_ts)
        .u32(opt(p.d1))
        .u32(opt(p.d2))
        .u32(opt(p.h_fin))
        .u32(opt(p.o1))
        .u32(opt(p.dts))
        .0
}

fn fcb_and_xlate(dir: &Path) {
    let p = params();
    let syn = SegInfo {
        flags: TCP_FLAG_SYN,
        seq: 100,
        window: 64240,
        ts: Some((1000, 0)),
    };
    let ack = SegInfo {
        flags: TCP_FLAG_ACK,
        seq: 200,
        window: 501,
        ts: Some((1100, 900)),
    };
    let fin = SegInfo {
        flags: TCP_FLAG_ACK | TCP_FLAG_FIN,
        ..ack
    };
    let cases = [
        (
            "client-in",
            Role::Client,
            State::Proxying,
            Dir::In,
            ack,
            C,
            VIP,
        ),
        (
            "client-out",
            Role::Client,
            State::Proxying,
            Dir::Out,
            ack,
            VIP,
            C,
        ),
        (
            "hsrc-syn",
            Role::HandoverSrc,
            State::HandingOver,
            Dir::Out,
            syn,
            N1,
            N2,
        ),
        (
            "hsrc-fin",
            Role::HandoverSrc,
            State::HandingOver,
            Dir::Out,
            fin,
            N1,
            N2,
        ),
        (
            "hsrc-in",
            Role::HandoverSrc,
            State::HandingOver,
            Dir::In,
            ack,
            N2,
            N1,
        ),
        (
            "hdst-syn",
            Role::HandoverDst,
            State::Transfer,
            Dir::In,
            syn,
            N1,
            N2,
        ),
        (
            "hdst-fin",
            Role::HandoverDst,
            State::Transfer,
            Dir::In,
            fin,
            N1,
            N2,
        ),
        (
            "cdst-in",
            Role::ClientDst,
            State::Direct,
            Dir::In,
            ack,
            C,
            VIP,
        ),
        (
            "cdst-out",
            Role::ClientDst,
            State::Direct,
            Dir::Out,
            ack,
            VIP,
            C,
        ),
    ];
    let client = SynOpts::parse(&[2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2]);
    for (name, role, state, d, seg, src, dst) in cases {
        write(dir, "fcb_plan", name, &fcb_input(role, state, &seg, &p));
        let plan = fcb::plan(role, state, d, &seg, &p);
        let s = SegSpec {
            seq: seg.seq,
            window: seg.window,
            ts: seg.ts,
            ..spec(src, dst, seg.flags)
        };
        let (tcp, rewrite) = if seg.is_syn() {
            let mut t = syn_spec();
            t.saddr = src;
            t.daddr = dst;
            let mut tcp = tcp_of(&t, b"");
            if role == Role::HandoverDst {
                // N2 receives the handover SYN with its option.
                let o = hopt().encode();
                let len = tcp.len() + o.len();
                tcp.extend_from_slice(&o);
                tcp[12] = ((len / 4) as u8) << 4;
            }
            (tcp, Some((client, hopt())))
        } else {
            (tcp_of(&s, b""), None)
        };
        for mode in [Mode::Full, Mode::Partial] {
            let m = if mode == Mode::Full {
                "full"
            } else {
                "partial"
            };
            let input = xlate_input(&plan, mode, rewrite, src, dst, &tcp);
            write(dir, "xlate", &format!("{name}-{m}"), &input);
        }
    }
    let mapped = Plan {
        saddr: Some(N2),
        dport: Some(8080),
        seq_add: 0x8000_0000,
        ack_add: 77,
        tsval_add: 5,
        tsecr_add: 6,
        ..Plan::ACCEPT
    };
    let input = xlate_input(&mapped, Mode::Full, None, N1, N2, &sack_ack());
    write(dir, "xlate", "sack-mapped", &input);
}

fn syn_opts(dir: &Path) {
    let area = tcp_of(&syn_spec(), b"").split_off(20);
    write(
        dir,
        "syn_opts",
        "syn",
        &B::default().u32(0x85b4_05b4).bytes(&area).0,
    );
    let packed = SynOpts::parse(&area).pack();
    write(dir, "syn_opts", "packed", &B::default().u32(packed).0);
    let odd = [2, 4, 0, 0, 3, 3, 15, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0];
    write(
        dir,
        "syn_opts",
        "odd",
        &B::default().u32(0x0e00_0100).bytes(&odd).0,
    );
}

fn abi(dir: &Path) {
    let mut info = InfoV1::new();
    info.set_module_version("0.1.0");
    info.n_hooks = 2;
    info.hooks[0] = HookStats {
        hooknum: 0,
        priority: -150,
        packets: 10,
        bytes: 1000,
        tcp_packets: 9,
    };
    info.hooks[1] = HookStats {
        hooknum: 3,
        ..info.hooks[0]
    };
    info.counters[0] = 5;
    let mut out = vec![0u8; INFO_V1_SIZE];
    info.encode(&mut out).expect("encodes");
    write(dir, "abi", "info", &out);
    write(dir, "abi", "zero", &ZeroV1::new().to_bytes());
    write(
        dir,
        "abi",
        "handover-req",
        &HandoverReqV1::new(2, 0x7fff_0000, 18).to_bytes(),
    );
    let fi = FlowInfoV1 {
        version: FLOW_INFO_VERSION,
        flags: 1,
        from_node: 2,
        state: 4,
    };
    write(dir, "abi", "flow-info", &fi.to_bytes());
    let mut peers = PeersV1::new(1);
    peers.flags = PEERS_MESH_ENABLED | PEERS_READY;
    peers.live_mask = 0b11;
    let mut peer = PeerV1::new(2, N2);
    peer.state = PeerState::Up;
    peer.conn = PeerConn::Established;
    peer.last_heard_ms = 20;
    peers.push(peer).expect("room");
    let mut out = vec![0u8; PEERS_V1_SIZE];
    peers.encode(&mut out).expect("encodes");
    write(dir, "abi", "peers", &out);
    let e = FlowEntryV1 {
        laddr: VIP,
        raddr: C,
        lport: 80,
        rport: 41000,
        client_addr: C,
        client_port: 41000,
        app_port: 80,
        vip: VIP,
        role: 0,
        state: 2,
        phase: 1,
        peer_addr: N2,
        peer_port: 80,
        d2: 5,
        flags: 2,
        ..FlowEntryV1::default()
    };
    let h = FlowsV1 {
        total: 2,
        count: 2,
        flags: 0,
        now_s: 100,
    };
    let mut flows = h.to_bytes().to_vec();
    flows.extend_from_slice(&e.to_bytes());
    flows.extend_from_slice(&FlowEntryV1 { role: 1, ..e }.to_bytes());
    write(dir, "abi", "flows", &flows);
    write(dir, "abi", "flush", &FlushV1 { what: 3 }.to_bytes());
    write(
        dir,
        "abi",
        "clone-req",
        &CloneReqV1::new(3, 0x7fff_0000, 20, Some(512)).to_bytes(),
    );
    let st = CloneStatusV1 {
        version: 1,
        state: 1,
        node: 3,
        clones: 2,
        cloned_bytes: 1024,
    };
    write(dir, "abi", "clone-status", &st.to_bytes());
}

fn config(dir: &Path) {
    let mut c = Config::new(1);
    for (id, addr) in [(1, N1), (2, N2), (3, 0x0a00_000d)] {
        c.add_node(Node { id, addr }).expect("room");
    }
    c.add_service(Service {
        vip: VIP,
        app_port: 80,
        proxy_port: 8080,
        nodes: NodeSet::from_ids(&[1, 2, 3]).expect("ids"),
        acceptor: 0,
        handover_to: HandoverTo::Server,
    })
    .expect("room");
    c.add_service(Service {
        vip: VIP,
        app_port: 443,
        proxy_port: 8443,
        nodes: NodeSet::from_ids(&[1, 2]).expect("ids"),
        acceptor: 1,
        handover_to: HandoverTo::Clone,
    })
    .expect("room");
    let mut out = vec![0u8; dts_core::abi::CONFIG_V1_SIZE];
    ConfigV1::encode(&c, &mut out).expect("encodes");
    assert_eq!(ConfigV1::decode(&out), Ok(c.clone()), "a valid seed");
    write(dir, "config", "no-mesh", &out);
    c.set_mesh(Mesh {
        port: 7000,
        heartbeat_ms: 100,
        dead_after: 3,
    });
    c.add_service(Service {
        vip: 0x0a00_0065,
        app_port: 80,
        proxy_port: 8080,
        nodes: NodeSet::from_ids(&[2, 3]).expect("ids"),
        acceptor: 0,
        handover_to: HandoverTo::Proxy,
    })
    .expect("room");
    // The mesh on needs the cluster's key (`dtsctl` hashes the secret).
    c.set_mesh_key(MeshKey([0x5a; 32]));
    // A service grant: allowed_uid = [1500], allowed_gid = [1600].
    let mut grant = Grant::NONE;
    assert!(grant.add(GrantList::Uid, 1500) && grant.add(GrantList::Gid, 1600));
    assert!(c.set_grant(0, grant));
    ConfigV1::encode(&c, &mut out).expect("encodes");
    assert_eq!(ConfigV1::decode(&out), Ok(c.clone()), "a valid seed");
    write(dir, "config", "mesh", &out);
    write(dir, "config", "empty", &{
        let mut e = vec![0u8; dts_core::abi::CONFIG_V1_SIZE];
        ConfigV1::encode(&Config::EMPTY, &mut e).expect("encodes");
        e
    });
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "seeds".into()));
    tcp_options(&dir);
    hopt_seeds(&dir);
    mesh_frames(&dir);
    sc_msgs(&dir);
    handover_msgs(&dir);
    fcb_and_xlate(&dir);
    syn_opts(&dir);
    abi(&dir);
    config(&dir);
}
