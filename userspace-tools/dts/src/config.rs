//! The cluster file: its one schema ([`ConfigFile`]), TOML →
//! [`Config`] with a precise message for every validation error
//! ([`FileError`], [`line_of_error`]), and the way back ([`to_file`],
//! [`render_toml`], [`render_json`]: what `dtsctl config show` prints).
//!
//! Every tool reads the cluster file through this module: `dtsctl config
//! check|apply` and `dtsctl apply -f` ([`parse`], [`parse_to_apply`]), and
//! the placing programs, `dts-proxy --config` and `dts-scserver --config`
//! ([`crate::cluster::ClusterConfig`], through [`parse_with_policy`]). A
//! file one of them accepts, all of them accept.
//!
//! The file format (see `Documentation/config.md`):
//!
//! ```toml
//! self = 1                 # the id of this node
//!
//! [mesh]                   # optional: the control mesh between the nodes
//! port = 7470              # 0 disables it (and failover); default 7470
//! heartbeat_ms = 500       # a multiple of 10 in 10..=2550; default 500
//! dead_after = 3           # missed heartbeats before a node is down,
//!                          # 2..=20; default 3
//! secret = "..."           # the cluster's shared secret, at least 16
//!                          # characters, the same on every node; or
//! secret_file = "/etc/dts/mesh.secret"   # read when the file is parsed
//!                          # (a trailing newline is not part of it).
//!                          # One of the two is required with the mesh on.
//!
//! [limits]                 # optional: flow table and quorum
//! max_flows = 65536        # 256..=1048576; when full, unassured entries
//!                          # (handshake not completed) are dropped first
//! syn_timeout = 10         # seconds an unassured entry lives
//! established_timeout = 600
//! closing_timeout = 120
//! closed_timeout = 10      # every timeout in 1..=86400
//! quorum = 0               # live nodes needed to accept new connections;
//!                          # 0 (the default): a majority of the nodes
//! sc_max_inflight = 8      # Socket Cloning clones one connection may have
//!                          # in flight at once, 1..=8; default 8
//!
//! [[node]]
//! id = 1                   # 1..=32
//! addr = "10.0.0.11"       # internal address
//!
//! [[service]]
//! vip = "10.0.0.100"
//! port = 80                # application port
//! proxy_port = 8080
//! nodes = [1, 2, 3]
//! acceptor = 1             # optional: this node accepts every new
//!                          # connection; without it the rendezvous hash
//!                          # spreads them over `nodes`
//! handover_to = "proxy"    # optional: a handed-over connection goes to the
//!                          # destination's proxy, which can hand its next
//!                          # request over again ("server", the default:
//!                          # to the destination's application)
//! allowed_uid = [1500]     # optional: these uids (and, allowed_gid, these
//! allowed_gid = [1600]     # groups; at most 8 each) may hand this service's
//!                          # connections over without CAP_NET_ADMIN
//!
//! [[service]]              # a Socket Cloning service behind an L4 dispatcher
//! vip = "10.0.0.200"
//! port = 80                # where the cloning server accepts connections
//! mode = "sc"              # "dts" (the default) or "sc"
//! clone_port = 8080        # the stock server that takes the clones
//! nodes = [2, 3, 4]
//! ```
//!
//! Without a `[mesh]` table the mesh runs with [`Mesh::DEFAULT`], except in
//! the empty configuration (no `self`, nodes or services), which has no
//! mesh. With `port = 0`, `heartbeat_ms` and `dead_after` default to 0.
//!
//! Validation is the pure [`Config::validate`] (`dts_core`), the very code
//! the module runs; this module only adds the values (and, for `[mesh]`,
//! the line) to its messages. The `[policy]` table is validated by
//! [`PolicyConfig::validate`] (`dts_policy`).
//!
//! The mesh key is SHA-256 of the secret. The module never hands the key
//! back, so `config show` prints `secret = "(set)"` ([`SECRET_SHOWN`]) in
//! its place. [`parse`] (for `config check`) accepts that marker, so that
//! the output of `config show` checks; [`parse_to_apply`] refuses it with a
//! clear message: applying needs the real secret.

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

use dts_core::abi::CONFIG_V1_SIZE;
use dts_core::config::{
    Config, ConfigError, Grant, GrantList, HandoverTo, Limit, Limits, Mesh, MeshKey, Node, NodeSet,
    Service, MAX_GRANT_IDS, MAX_NODES, MAX_NODE_ID, MAX_SERVICES,
};
use dts_policy::PolicyConfig;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

/// The configuration file as written by the operator (and as printed by
/// `config show`).
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The id of this node; absent only in the empty configuration.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_id: Option<u8>,
    /// The `[mesh]` table; absent: [`Mesh::DEFAULT`] (no mesh in the empty
    /// configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<MeshEntry>,
    /// The `[limits]` table; absent: [`Limits::DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsEntry>,
    /// The `[[node]]` tables.
    #[serde(rename = "node", default)]
    pub nodes: Vec<NodeEntry>,
    /// The `[[service]]` tables.
    #[serde(rename = "service", default)]
    pub services: Vec<ServiceEntry>,
    /// The `[policy]` table, for `dts-proxy --config`: validated here, not
    /// part of the module's configuration (and not printed by `config
    /// show`).
    #[serde(default, skip_serializing)]
    pub policy: Option<Spanned<PolicyConfig>>,
}

/// The `[mesh]` table. The values keep their position in the file, so that
/// a refused value can be reported with its line.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MeshEntry {
    /// The mesh port; 0 disables the mesh. Default [`Mesh::DEFAULT_PORT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Spanned<u16>>,
    /// The heartbeat interval in ms; default 500 (0 with `port = 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<Spanned<u16>>,
    /// Missed heartbeats before a peer is down; default 3 (0 with
    /// `port = 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_after: Option<Spanned<u8>>,
    /// The shared secret (at least [`SECRET_MIN_LEN`] characters), or
    /// [`SECRET_SHOWN`] in what `config show` prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Spanned<String>>,
    /// A file holding the shared secret, read by [`parse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<Spanned<String>>,
}

/// The shortest accepted `[mesh] secret`, in characters.
pub const SECRET_MIN_LEN: usize = 16;

/// What `config show` prints for a secret that is set (the module never
/// hands the key back). [`parse`] accepts it for checking only.
pub const SECRET_SHOWN: &str = "(set)";

/// Whether the file is parsed to be checked or to be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    /// `config check`: [`SECRET_SHOWN`] stands for a secret.
    Check,
    /// `config apply`, `apply -f`: the real secret is needed.
    Apply,
    /// The placing programs (`dts-proxy --config`, `dts-scserver
    /// --config`): they never use the secret, so `secret_file` is not
    /// read (they run as an unprivileged user, and the file is the admin's,
    /// mode 600); that the table names one is enough.
    Place,
}

/// The mesh key of a secret: its SHA-256.
pub fn key_of_secret(secret: &str) -> MeshKey {
    MeshKey(Sha256::digest(secret.as_bytes()).into())
}

/// The `[limits]` table: every key optional, [`Limits::DEFAULT`] for the
/// missing ones.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitsEntry {
    /// [`Limits::max_flows`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_flows: Option<Spanned<u32>>,
    /// The unassured entries' timeout, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syn_timeout: Option<Spanned<u32>>,
    /// The established entries' idle timeout, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established_timeout: Option<Spanned<u32>>,
    /// The closing entries' timeout, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing_timeout: Option<Spanned<u32>>,
    /// The closed entries' linger, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_timeout: Option<Spanned<u32>>,
    /// [`Limits::quorum`]; 0: a majority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Spanned<u8>>,
    /// [`Limits::sc_max_inflight`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sc_max_inflight: Option<Spanned<u8>>,
}

impl LimitsEntry {
    /// The limits the table stands for, with the defaults filled in.
    pub fn to_limits(&self) -> Limits {
        let d = Limits::DEFAULT;
        let v = |x: &Option<Spanned<u32>>, def: u32| x.as_ref().map_or(def, |x| *x.get_ref());
        Limits {
            max_flows: v(&self.max_flows, d.max_flows),
            timeouts: dts_core::flow::Timeouts {
                syn: v(&self.syn_timeout, d.timeouts.syn),
                established: v(&self.established_timeout, d.timeouts.established),
                closing: v(&self.closing_timeout, d.timeouts.closing),
                closed: v(&self.closed_timeout, d.timeouts.closed),
            },
            quorum: self.quorum.as_ref().map_or(d.quorum, |q| *q.get_ref()),
            sc_max_inflight: self
                .sc_max_inflight
                .as_ref()
                .map_or(d.sc_max_inflight, |q| *q.get_ref()),
        }
    }

    /// The table that prints `limits` (every key, without position).
    pub fn from_limits(l: Limits) -> Self {
        let s = |x| Some(Spanned::new(0..0, x));
        Self {
            max_flows: s(l.max_flows),
            syn_timeout: s(l.timeouts.syn),
            established_timeout: s(l.timeouts.established),
            closing_timeout: s(l.timeouts.closing),
            closed_timeout: s(l.timeouts.closed),
            quorum: Some(Spanned::new(0..0, l.quorum)),
            sc_max_inflight: Some(Spanned::new(0..0, l.sc_max_inflight)),
        }
    }

    /// The byte offset in the file of the value a limit error is about.
    fn offset_of(&self, limit: Limit) -> Option<usize> {
        let at = |x: &Option<Spanned<u32>>| x.as_ref().map(|x| x.span().start);
        match limit {
            Limit::MaxFlows => at(&self.max_flows),
            Limit::SynTimeout => at(&self.syn_timeout),
            Limit::EstablishedTimeout => at(&self.established_timeout),
            Limit::ClosingTimeout => at(&self.closing_timeout),
            Limit::ClosedTimeout => at(&self.closed_timeout),
            Limit::Quorum => self.quorum.as_ref().map(|q| q.span().start),
            Limit::ScMaxInflight => self.sc_max_inflight.as_ref().map(|q| q.span().start),
        }
    }
}

impl MeshEntry {
    /// The settings the table stands for, with the defaults filled in.
    pub fn to_mesh(&self) -> Mesh {
        let port = self
            .port
            .as_ref()
            .map_or(Mesh::DEFAULT.port, |p| *p.get_ref());
        let (heartbeat_ms, dead_after) = if port == 0 {
            (0, 0)
        } else {
            (Mesh::DEFAULT.heartbeat_ms, Mesh::DEFAULT.dead_after)
        };
        Mesh {
            port,
            heartbeat_ms: self
                .heartbeat_ms
                .as_ref()
                .map_or(heartbeat_ms, |h| *h.get_ref()),
            dead_after: self
                .dead_after
                .as_ref()
                .map_or(dead_after, |d| *d.get_ref()),
        }
    }

    /// The table that prints `mesh` (every key, without position).
    pub fn from_mesh(mesh: Mesh) -> Self {
        Self {
            port: Some(Spanned::new(0..0, mesh.port)),
            heartbeat_ms: Some(Spanned::new(0..0, mesh.heartbeat_ms)),
            dead_after: Some(Spanned::new(0..0, mesh.dead_after)),
            // A configuration in force with the mesh on has a key (the
            // module refuses one without), which it never hands back.
            secret: mesh
                .enabled()
                .then(|| Spanned::new(0..0, SECRET_SHOWN.to_string())),
            secret_file: None,
        }
    }

    /// The byte offset in the file of the value a mesh error is about.
    fn offset_of(&self, err: ConfigError) -> Option<usize> {
        let heartbeat = self.heartbeat_ms.as_ref().map(|h| h.span().start);
        let dead_after = self.dead_after.as_ref().map(|d| d.span().start);
        let port = self.port.as_ref().map(|p| p.span().start);
        match err {
            ConfigError::MeshBadHeartbeat { .. } => heartbeat,
            ConfigError::MeshBadDeadAfter { .. } => dead_after,
            ConfigError::MeshNoKey => None,
            ConfigError::MeshDisabledNotZero { heartbeat_ms, .. } => {
                if heartbeat_ms != 0 {
                    heartbeat
                } else {
                    dead_after
                }
            }
            _ => None,
        }
        .or(port)
    }
}

/// One `[[node]]` table.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Node id, `1..=32`.
    pub id: u8,
    /// Internal address.
    pub addr: Ipv4Addr,
}

/// One `[[service]]` table.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    /// Virtual address.
    pub vip: Ipv4Addr,
    /// Application port.
    pub port: u16,
    /// Proxy port (DTS services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_port: Option<u16>,
    /// `mode = "sc"`: a Socket Cloning service (default `"dts"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeEntry>,
    /// Socket Cloning services: the port of the stock server that takes
    /// the clones on every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_port: Option<u16>,
    /// The ids of the nodes that serve the service.
    pub nodes: Vec<u8>,
    /// The designated node that accepts every new connection; absent for
    /// the rendezvous hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptor: Option<u8>,
    /// Where a handed-over connection goes on the destination node:
    /// `server` (the default) or `proxy` (keep-alive re-handover).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover_to: Option<HandoverToEntry>,
    /// Filesystem uids (of the host) that may use the per-connection socket
    /// options on this service's connections without `CAP_NET_ADMIN`: hand
    /// over, ask about a handed-in connection, clone (at most
    /// [`MAX_GRANT_IDS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_uid: Vec<u32>,
    /// Groups (of the host; the caller's filesystem gid or a supplementary
    /// group) granted the same (at most [`MAX_GRANT_IDS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_gid: Vec<u32>,
}

/// The values of `mode`.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum ModeEntry {
    /// Distributed TCP Splicing: SYN acceptance, proxy, handover.
    Dts,
    /// Socket Cloning behind a layer-4 dispatcher.
    Sc,
}

/// The values of `handover_to`.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum HandoverToEntry {
    /// The destination's application answers every later request itself.
    Server,
    /// The destination's proxy routes every later request again.
    Proxy,
}

/// Why a configuration file is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{}", .0.to_string().trim_end())]
    Toml(#[source] toml::de::Error),
    /// A service lists a node id outside `1..=32`.
    #[error("service {vip}:{port}: node {id} is not configured (node ids are 1..={max})", max = MAX_NODE_ID)]
    NodeIdOutOfRange {
        /// The service's VIP.
        vip: Ipv4Addr,
        /// The service's application port.
        port: u16,
        /// The id.
        id: u8,
    },
    /// A service lists a node twice.
    #[error("service {vip}:{port}: node {id} is listed twice")]
    NodeListedTwice {
        /// The service's VIP.
        vip: Ipv4Addr,
        /// The service's application port.
        port: u16,
        /// The id.
        id: u8,
    },
    /// A service has `acceptor = 0` (0 means "no designated acceptor" in the
    /// pure model, so the file says it by leaving `acceptor` out).
    #[error("service {vip}:{port}: acceptor 0 is not a node id; leave `acceptor` out to let the rendezvous hash choose the accepting node")]
    AcceptorZero {
        /// The service's VIP.
        vip: Ipv4Addr,
        /// The service's application port.
        port: u16,
    },
    /// The ports do not fit the service's mode: a DTS service needs
    /// `proxy_port` and no `clone_port`; a Socket Cloning service needs
    /// `clone_port` and neither `proxy_port` nor `handover_to`.
    #[error("service {vip}:{port}: {}", mode_ports(*.sc))]
    ModePorts {
        /// The service's VIP.
        vip: Ipv4Addr,
        /// The service's application port.
        port: u16,
        /// Whether the service is a Socket Cloning one.
        sc: bool,
    },
    /// The pure validation refused the configuration.
    #[error("{}", describe(*.0))]
    Invalid(ConfigError),
    /// The `[policy]` table is refused ([`PolicyConfig::validate`]).
    #[error("line {line}: [policy]: {msg}")]
    Policy {
        /// The line of the table in the file (1-based).
        line: usize,
        /// Why.
        msg: String,
    },
    /// The `[mesh]` secret is refused: too short, both `secret` and
    /// `secret_file`, an unreadable file, or `config show`'s marker given
    /// to be applied.
    #[error("{}[mesh] {msg}", at_line(*.line))]
    Secret {
        /// The line of the offending key in the file (1-based), if known.
        line: Option<usize>,
        /// Why.
        msg: String,
    },
    /// The pure validation refused the `[mesh]` settings.
    #[error("{}{}", at_line(*.line), describe(*.err))]
    Mesh {
        /// The line of the offending value in the file (1-based), if known.
        line: Option<usize>,
        /// The validation error ([`ConfigError::is_mesh`]).
        err: ConfigError,
    },
}

/// What [`FileError::ModePorts`] says after the service.
const fn mode_ports(sc: bool) -> &'static str {
    if sc {
        "mode \"sc\" needs `clone_port` (the port of the server that takes the \
         clones) and no `proxy_port` or `handover_to`"
    } else {
        "needs `proxy_port`; `clone_port` is only for mode \"sc\""
    }
}

/// `line N: ` for a known line, nothing otherwise.
fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

impl From<ConfigError> for FileError {
    fn from(err: ConfigError) -> Self {
        Self::Invalid(err)
    }
}

/// Parses a configuration file to check it and validates it with
/// [`Config::validate`]. `secret = "(set)"` ([`SECRET_SHOWN`], what `config
/// show` prints) stands for a secret here.
///
/// # Errors
///
/// [`FileError`]: why the file is refused (the message names the value;
/// [`line_of_error`] finds its line).
pub fn parse(text: &str) -> Result<Config, FileError> {
    parse_for(text, Purpose::Check).map(|(config, _)| config)
}

/// [`parse`], plus the file's `[policy]` table (validated), for the
/// placing programs.
///
/// # Errors
///
/// As [`parse`].
pub fn parse_with_policy(text: &str) -> Result<(Config, Option<PolicyConfig>), FileError> {
    parse_for(text, Purpose::Place)
}

/// Parses a configuration file to apply it: like [`parse`], but the real
/// secret is needed.
///
/// # Errors
///
/// As [`parse`], and [`FileError::Secret`] for `config show`'s marker.
pub fn parse_to_apply(text: &str) -> Result<Config, FileError> {
    parse_for(text, Purpose::Apply).map(|(config, _)| config)
}

/// The mesh key the `[mesh]` table gives (reading `secret_file`), or
/// [`MeshKey::NONE`] without a secret.
fn mesh_key(text: &str, mesh: Option<&MeshEntry>, purpose: Purpose) -> Result<MeshKey, FileError> {
    let Some(mesh) = mesh else {
        return Ok(MeshKey::NONE);
    };
    let err = |at: usize, msg: String| FileError::Secret {
        line: Some(line_of(text, at)),
        msg,
    };
    match (&mesh.secret, &mesh.secret_file) {
        (None, None) => Ok(MeshKey::NONE),
        (Some(s), Some(_)) => Err(err(
            s.span().start,
            "has both `secret` and `secret_file`: give one of them".into(),
        )),
        (Some(s), None) if s.get_ref() == SECRET_SHOWN => match purpose {
            Purpose::Check | Purpose::Place => Ok(key_of_secret(SECRET_SHOWN)),
            Purpose::Apply => Err(err(
                s.span().start,
                format!(
                    "secret = \"{SECRET_SHOWN}\" is what `dtsctl config show` prints in place \
                     of the secret (the module never shows it): put the cluster's secret \
                     (`secret = \"...\"` or `secret_file = \"/path\"`) there to apply this file"
                ),
            )),
        },
        (Some(s), None) => {
            let n = s.get_ref().chars().count();
            if n < SECRET_MIN_LEN {
                return Err(err(
                    s.span().start,
                    format!(
                        "secret is {n} characters long: it must have at least {SECRET_MIN_LEN}"
                    ),
                ));
            }
            Ok(key_of_secret(s.get_ref()))
        }
        (None, Some(_)) if purpose == Purpose::Place => Ok(key_of_secret(SECRET_SHOWN)),
        (None, Some(path)) => {
            let at = path.span().start;
            let raw = std::fs::read_to_string(path.get_ref())
                .map_err(|e| err(at, format!("secret_file \"{}\": {e}", path.get_ref())))?;
            let secret = raw.trim_end_matches(['\n', '\r']);
            let n = secret.chars().count();
            if n < SECRET_MIN_LEN {
                return Err(err(
                    at,
                    format!(
                        "secret_file \"{}\": the secret is {n} characters long: it must have \
                         at least {SECRET_MIN_LEN}",
                        path.get_ref()
                    ),
                ));
            }
            Ok(key_of_secret(secret))
        }
    }
}

/// Parses and validates `text`; the configuration and the `[policy]`
/// table.
fn parse_for(text: &str, purpose: Purpose) -> Result<(Config, Option<PolicyConfig>), FileError> {
    let file: ConfigFile = toml::from_str(text).map_err(FileError::Toml)?;
    if let Some(policy) = &file.policy {
        policy.get_ref().validate().map_err(|e| FileError::Policy {
            line: line_of(text, policy.span().start),
            msg: e.to_string(),
        })?;
    }
    let mut config = to_config(&file)?;
    config.set_mesh_key(mesh_key(text, file.mesh.as_ref(), purpose)?);
    match config.validate() {
        Ok(()) => Ok((config, file.policy.map(Spanned::into_inner))),
        Err(err) if err.is_mesh() => {
            let offset = file.mesh.as_ref().and_then(|mesh| mesh.offset_of(err));
            Err(FileError::Mesh {
                line: offset.map(|offset| line_of(text, offset)),
                err,
            })
        }
        Err(err) => Err(err.into()),
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or(text);
    before.matches('\n').count() + 1
}

/// Where `self` and each `[[node]]` and `[[service]]` table of a file are
/// (byte offsets), for [`line_of_error`]. Other keys are ignored.
#[derive(Deserialize)]
struct Positions {
    /// The value of `self`.
    #[serde(rename = "self", default)]
    self_id: Option<Spanned<IgnoredAny>>,
    /// The `[[node]]` tables, in file order.
    #[serde(rename = "node", default)]
    nodes: Vec<Spanned<IgnoredAny>>,
    /// The `[[service]]` tables, in file order.
    #[serde(rename = "service", default)]
    services: Vec<Spanned<IgnoredAny>>,
}

/// Returns the 1-based line of `text` that `err` (which [`parse`] returned
/// for `text`) is about: the `[[node]]` or `[[service]]` table at fault, or
/// `self`. `None` if the error has no single place, or already names its
/// line (TOML syntax errors and `[mesh]` errors).
pub fn line_of_error(text: &str, err: &FileError) -> Option<usize> {
    let file: ConfigFile = toml::from_str(text).ok()?;
    let pos: Positions = toml::from_str(text).ok()?;
    let service = |pred: &dyn Fn(&ServiceEntry) -> bool| {
        let index = file.services.iter().position(pred)?;
        pos.services.get(index).map(|s| s.span().start)
    };
    let offset = match *err {
        FileError::Toml(_)
        | FileError::Mesh { .. }
        | FileError::Policy { .. }
        | FileError::Secret { .. } => None,
        FileError::NodeIdOutOfRange { vip, port, id } => {
            service(&|s| s.vip == vip && s.port == port && s.nodes.contains(&id))
        }
        FileError::NodeListedTwice { vip, port, id } => service(&|s| {
            s.vip == vip && s.port == port && s.nodes.iter().filter(|&&n| n == id).count() > 1
        }),
        FileError::AcceptorZero { vip, port } => {
            service(&|s| s.vip == vip && s.port == port && s.acceptor == Some(0))
        }
        FileError::ModePorts { vip, port, .. } => service(&|s| s.vip == vip && s.port == port),
        FileError::Invalid(err) => invalid_offset(&file, &pos, err),
    }?;
    Some(line_of(text, offset))
}

/// The byte offset of the value a validation error is about (see
/// [`line_of_error`]), following the order of [`Config::validate`].
fn invalid_offset(file: &ConfigFile, pos: &Positions, err: ConfigError) -> Option<usize> {
    let ip = Ipv4Addr::from;
    // The `nth` node (0-based) among those matching `pred`.
    let node = |nth: usize, pred: &dyn Fn(&NodeEntry) -> bool| {
        let (index, _) = file
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| pred(n))
            .nth(nth)?;
        pos.nodes.get(index).map(|n| n.span().start)
    };
    // The index of the first service at or after `from` with `vip:port`.
    let service_index = |from: usize, vip: u32, port: u16| {
        file.services
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, s)| s.vip == ip(vip) && s.port == port)
            .map(|(index, _)| index)
    };
    let service_at = |index: usize| pos.services.get(index).map(|s| s.span().start);
    match err {
        ConfigError::TooManyNodes { .. } => pos.nodes.get(MAX_NODES).map(|n| n.span().start),
        ConfigError::TooManyServices { .. } => {
            pos.services.get(MAX_SERVICES).map(|s| s.span().start)
        }
        ConfigError::NodeIdOutOfRange { id } => node(0, &|n| u32::from(n.id) == id),
        ConfigError::BadNodeAddr { id, addr } => node(0, &|n| n.id == id && n.addr == ip(addr)),
        ConfigError::DuplicateNodeId { id } => node(1, &|n| n.id == id),
        ConfigError::DuplicateNodeAddr { addr, .. } => node(1, &|n| n.addr == ip(addr)),
        ConfigError::SelfNotConfigured { .. } => pos.self_id.as_ref().map(|s| s.span().start),
        ConfigError::BadVip { vip, app_port }
        | ConfigError::ZeroPort { vip, app_port, .. }
        | ConfigError::SamePorts {
            vip,
            port: app_port,
        }
        | ConfigError::EmptyNodeSet { vip, app_port }
        | ConfigError::UnknownNode { vip, app_port, .. }
        | ConfigError::AcceptorNotInService { vip, app_port, .. }
        | ConfigError::VipIsNodeAddr { vip, app_port, .. }
        | ConfigError::TooManyGrantIds { vip, app_port, .. }
        | ConfigError::BadGrantId { vip, app_port, .. }
        | ConfigError::DuplicateGrantId { vip, app_port, .. } => {
            service_index(0, vip, app_port).and_then(service_at)
        }
        ConfigError::DuplicateServicePort {
            vip,
            app_port,
            first_app_port,
            ..
        } => {
            // The first service with `vip:app_port` after the earlier one.
            let first = service_index(0, vip, first_app_port)?;
            service_index(first.saturating_add(1), vip, app_port).and_then(service_at)
        }
        ConfigError::Truncated
        | ConfigError::BadLength
        | ConfigError::BadVersion { .. }
        | ConfigError::BadSize { .. }
        | ConfigError::ReservedNotZero { .. }
        | ConfigError::MeshBadHeartbeat { .. }
        | ConfigError::MeshBadDeadAfter { .. }
        | ConfigError::MeshDisabledNotZero { .. }
        | ConfigError::MeshNoKey => None,
        ConfigError::BadLimit { limit, .. } => file.limits.as_ref()?.offset_of(limit),
    }
}

/// Whether the file has nothing but (maybe) a `[mesh]` table: no `self`,
/// no nodes, no services.
fn is_empty_file(file: &ConfigFile) -> bool {
    file.self_id.is_none() && file.nodes.is_empty() && file.services.is_empty()
}

/// Converts the file model to the pure model, without validating it.
///
/// # Errors
///
/// Only what the pure model cannot represent: more than
/// [`MAX_NODES`] nodes or [`MAX_SERVICES`] services, service node lists
/// with an id outside `1..=32` or an id listed twice, `acceptor = 0`, and
/// more than [`MAX_GRANT_IDS`] ids in `allowed_uid` or `allowed_gid`.
pub fn to_config(file: &ConfigFile) -> Result<Config, FileError> {
    if file.nodes.len() > MAX_NODES {
        return Err(ConfigError::TooManyNodes {
            count: count_u32(file.nodes.len()),
        }
        .into());
    }
    if file.services.len() > MAX_SERVICES {
        return Err(ConfigError::TooManyServices {
            count: count_u32(file.services.len()),
        }
        .into());
    }
    let mut config = Config::new(file.self_id.unwrap_or(0));
    config.set_mesh(match &file.mesh {
        Some(mesh) => mesh.to_mesh(),
        // The empty configuration means "unconfigured": no mesh either.
        None if is_empty_file(file) => Mesh::DISABLED,
        None => Mesh::DEFAULT,
    });
    config.set_limits(
        file.limits
            .as_ref()
            .map_or(Limits::DEFAULT, LimitsEntry::to_limits),
    );
    for node in &file.nodes {
        config.add_node(Node {
            id: node.id,
            addr: u32::from(node.addr),
        })?;
    }
    for service in &file.services {
        let mut nodes = NodeSet::EMPTY;
        for &id in &service.nodes {
            if id == 0 || id > MAX_NODE_ID {
                return Err(FileError::NodeIdOutOfRange {
                    vip: service.vip,
                    port: service.port,
                    id,
                });
            }
            if !nodes.insert(id) {
                return Err(FileError::NodeListedTwice {
                    vip: service.vip,
                    port: service.port,
                    id,
                });
            }
        }
        let acceptor = match service.acceptor {
            None => Service::ACCEPTOR_HASH,
            Some(0) => {
                return Err(FileError::AcceptorZero {
                    vip: service.vip,
                    port: service.port,
                })
            }
            Some(id) => id,
        };
        let sc = service.mode == Some(ModeEntry::Sc);
        let (proxy_port, handover_to) = match (
            sc,
            service.proxy_port,
            service.clone_port,
            service.handover_to,
        ) {
            (true, None, Some(clone_port), None) => (clone_port, HandoverTo::Clone),
            (false, Some(proxy_port), None, h) => (
                proxy_port,
                match h {
                    None | Some(HandoverToEntry::Server) => HandoverTo::Server,
                    Some(HandoverToEntry::Proxy) => HandoverTo::Proxy,
                },
            ),
            _ => {
                return Err(FileError::ModePorts {
                    vip: service.vip,
                    port: service.port,
                    sc,
                })
            }
        };
        config.add_service(Service {
            vip: u32::from(service.vip),
            app_port: service.port,
            proxy_port,
            nodes,
            acceptor,
            handover_to,
        })?;
        let mut grant = Grant::NONE;
        for (list, ids) in [
            (GrantList::Uid, &service.allowed_uid),
            (GrantList::Gid, &service.allowed_gid),
        ] {
            for &id in ids {
                if !grant.add(list, id) {
                    return Err(ConfigError::TooManyGrantIds {
                        vip: u32::from(service.vip),
                        app_port: service.port,
                        list,
                        count: count_u32(ids.len()),
                    }
                    .into());
                }
            }
        }
        // The service was just added: its index exists.
        let _ = config.set_grant(config.services().len().saturating_sub(1), grant);
    }
    Ok(config)
}

/// Converts the pure model to the file model (for `config show`). The
/// `[mesh]` table is always there, with every key, except in the empty
/// configuration.
pub fn to_file(config: &Config) -> ConfigFile {
    ConfigFile {
        self_id: (!config.is_empty()).then_some(config.self_id()),
        mesh: (!config.is_empty()).then(|| MeshEntry::from_mesh(config.mesh())),
        limits: (!config.is_empty() && config.limits() != Limits::DEFAULT)
            .then(|| LimitsEntry::from_limits(config.limits())),
        nodes: config
            .nodes()
            .iter()
            .map(|node| NodeEntry {
                id: node.id,
                addr: Ipv4Addr::from(node.addr),
            })
            .collect(),
        services: config
            .services()
            .iter()
            .zip(config.grants())
            .map(|(service, grant)| ServiceEntry {
                vip: Ipv4Addr::from(service.vip),
                port: service.app_port,
                proxy_port: (!service.is_sc()).then_some(service.proxy_port),
                mode: service.is_sc().then_some(ModeEntry::Sc),
                clone_port: service.is_sc().then_some(service.proxy_port),
                nodes: service.nodes.iter().collect(),
                acceptor: service.designated_acceptor(),
                handover_to: match service.handover_to {
                    HandoverTo::Server | HandoverTo::Clone => None,
                    HandoverTo::Proxy => Some(HandoverToEntry::Proxy),
                },
                allowed_uid: grant.uids().to_vec(),
                allowed_gid: grant.gids().to_vec(),
            })
            .collect(),
        policy: None,
    }
}

fn count_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Returns a one-line summary: "3 nodes, 1 service, self = 1, mesh on port
/// 7470 (heartbeat 500 ms, down after 3 missed)".
pub fn summary(config: &Config) -> String {
    if config.is_empty() {
        return "empty configuration (the node is unconfigured)".to_owned();
    }
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}, self = {}, {}",
        plural(config.nodes().len(), "node"),
        plural(config.services().len(), "service"),
        config.self_id(),
        mesh_summary(config.mesh())
    )
}

/// Returns "mesh on port 7470 (heartbeat 500 ms, down after 3 missed)" or
/// "mesh disabled".
pub fn mesh_summary(mesh: Mesh) -> String {
    if mesh.enabled() {
        format!(
            "mesh on port {} (heartbeat {} ms, down after {} missed)",
            mesh.port, mesh.heartbeat_ms, mesh.dead_after
        )
    } else {
        "mesh disabled".to_owned()
    }
}

/// Returns the message for a validation error, naming the offending values.
pub fn describe(err: ConfigError) -> String {
    let ip = Ipv4Addr::from;
    match err {
        ConfigError::Truncated | ConfigError::BadLength => {
            format!("malformed configuration blob: {}", err.as_str())
        }
        ConfigError::BadVersion { found } => format!(
            "malformed configuration blob: ABI version {found}, expected {}",
            dts_core::abi::DTS_ABI_VERSION
        ),
        ConfigError::BadSize { found } => {
            format!("malformed configuration blob: struct_size {found}, expected {CONFIG_V1_SIZE}")
        }
        ConfigError::ReservedNotZero { offset } => {
            format!("malformed configuration blob: reserved word at offset {offset} is not zero")
        }
        ConfigError::TooManyNodes { count } => {
            format!("too many nodes: {count} (at most {MAX_NODES})")
        }
        ConfigError::TooManyServices { count } => {
            format!("too many services: {count} (at most {MAX_SERVICES})")
        }
        ConfigError::NodeIdOutOfRange { id } => {
            format!("node {id}: node ids must be in 1..={MAX_NODE_ID}")
        }
        ConfigError::BadNodeAddr { id, addr } => format!(
            "node {id}: address {} is not a usable unicast address \
             (0.0.0.0/8, 127.0.0.0/8, multicast and 255.255.255.255 are refused)",
            ip(addr)
        ),
        ConfigError::DuplicateNodeId { id } => format!("node {id} is configured twice"),
        ConfigError::DuplicateNodeAddr {
            addr,
            first,
            second,
        } => format!(
            "nodes {first} and {second} have the same address {}",
            ip(addr)
        ),
        ConfigError::SelfNotConfigured { self_id: 0 } => {
            "`self` is not set: it must be the id of this node, one of the configured nodes"
                .to_owned()
        }
        ConfigError::SelfNotConfigured { self_id } => {
            format!("self = {self_id}: node {self_id} is not configured")
        }
        ConfigError::BadVip { vip, app_port } => format!(
            "service {}:{app_port}: VIP {} is not a usable unicast address \
             (0.0.0.0/8, 127.0.0.0/8, multicast and 255.255.255.255 are refused)",
            ip(vip),
            ip(vip)
        ),
        ConfigError::ZeroPort {
            vip,
            app_port,
            proxy_port,
        } => format!(
            "service {}:{app_port}: port 0 is not allowed \
             (port = {app_port}, proxy_port = {proxy_port})",
            ip(vip)
        ),
        ConfigError::SamePorts { vip, port } => format!(
            "service {}:{port}: proxy_port must differ from port (both are {port})",
            ip(vip)
        ),
        ConfigError::EmptyNodeSet { vip, app_port } => {
            format!("service {}:{app_port}: `nodes` is empty", ip(vip))
        }
        ConfigError::UnknownNode {
            vip,
            app_port,
            node,
        } => format!(
            "service {}:{app_port}: node {node} is not configured",
            ip(vip)
        ),
        ConfigError::AcceptorNotInService {
            vip,
            app_port,
            acceptor,
            nodes,
        } => format!(
            "service {}:{app_port}: acceptor {acceptor} is not one of the service's nodes \
             (nodes = [{}])",
            ip(vip),
            id_list(nodes)
        ),
        ConfigError::VipIsNodeAddr {
            vip,
            app_port,
            node,
        } => format!(
            "service {}:{app_port}: VIP {} is the internal address of node {node}",
            ip(vip),
            ip(vip)
        ),
        ConfigError::DuplicateServicePort {
            vip,
            app_port,
            port,
            first_app_port,
        } => format!(
            "service {}:{app_port}: {}:{port} is already used by service {}:{first_app_port}",
            ip(vip),
            ip(vip),
            ip(vip)
        ),
        ConfigError::MeshBadHeartbeat { heartbeat_ms } => format!(
            "[mesh] heartbeat_ms = {heartbeat_ms}: must be a multiple of {} in {}..={}",
            Mesh::HEARTBEAT_MS_STEP,
            Mesh::HEARTBEAT_MS_MIN,
            Mesh::HEARTBEAT_MS_MAX
        ),
        ConfigError::MeshBadDeadAfter { dead_after } => format!(
            "[mesh] dead_after = {dead_after}: must be in {}..={} \
             (missed heartbeats before a node is marked down)",
            Mesh::DEAD_AFTER_MIN,
            Mesh::DEAD_AFTER_MAX
        ),
        ConfigError::MeshNoKey => format!(
            "[mesh] has no secret, but the mesh is on: its nodes authenticate each other with a \
             shared secret. Add `secret = \"...\"` (at least {SECRET_MIN_LEN} characters) or \
             `secret_file = \"/path\"` to [mesh], the same on every node, or turn the mesh \
             (and failover) off with `port = 0`"
        ),
        ConfigError::MeshDisabledNotZero {
            heartbeat_ms,
            dead_after,
        } => format!(
            "[mesh] port = 0 disables the mesh: leave heartbeat_ms and dead_after out \
             (or 0), not heartbeat_ms = {heartbeat_ms}, dead_after = {dead_after}"
        ),
        ConfigError::BadLimit {
            limit: Limit::MaxFlows,
            value,
        } => format!(
            "[limits] max_flows = {value}: must be in {}..={}",
            Limits::MAX_FLOWS_MIN,
            Limits::MAX_FLOWS_MAX
        ),
        ConfigError::BadLimit {
            limit: Limit::Quorum,
            value,
        } => format!(
            "[limits] quorum = {value}: must be 0 (a majority) or at most the number of nodes"
        ),
        ConfigError::BadLimit {
            limit: Limit::ScMaxInflight,
            value,
        } => format!(
            "[limits] sc_max_inflight = {value}: must be in {}..={} \
             (Socket Cloning clones one connection may have in flight at once)",
            Limits::SC_MAX_INFLIGHT_MIN,
            Limits::SC_MAX_INFLIGHT_MAX
        ),
        ConfigError::BadLimit { limit, value } => format!(
            "[limits] {} = {value}: must be in {}..={} seconds",
            limit.as_str(),
            Limits::TIMEOUT_MIN,
            Limits::TIMEOUT_MAX
        ),
        ConfigError::TooManyGrantIds {
            vip,
            app_port,
            list,
            count,
        } => format!(
            "service {}:{app_port}: {} lists {count} ids (at most {MAX_GRANT_IDS})",
            ip(vip),
            list.as_str()
        ),
        ConfigError::BadGrantId {
            vip,
            app_port,
            list,
            id,
        } => format!(
            "service {}:{app_port}: {} lists {id}, which is not a valid id",
            ip(vip),
            list.as_str()
        ),
        ConfigError::DuplicateGrantId {
            vip,
            app_port,
            list,
            id,
        } => format!(
            "service {}:{app_port}: {} lists {id} twice",
            ip(vip),
            list.as_str()
        ),
    }
}

/// Returns `ids` as "1500, 1501".
fn number_list(ids: &[u32]) -> String {
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    ids.join(", ")
}

/// Returns the ids of `nodes` as "1, 2, 3".
pub fn id_list(nodes: NodeSet) -> String {
    let ids: Vec<String> = nodes.iter().map(|id| id.to_string()).collect();
    ids.join(", ")
}

/// Renders a configuration as a configuration file, so that the output of
/// `config show` can be applied again.
pub fn render_toml(config: &Config) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = write_toml(&mut out, config);
    out
}

fn write_toml(out: &mut String, config: &Config) -> fmt::Result {
    if config.is_empty() {
        writeln!(out, "# dts cluster configuration: empty (unconfigured)")?;
        return Ok(());
    }
    writeln!(out, "# dts cluster configuration")?;
    writeln!(out, "self = {}", config.self_id())?;
    let mesh = config.mesh();
    writeln!(out)?;
    writeln!(out, "[mesh]")?;
    if mesh.port == 0 && mesh.heartbeat_ms == 0 && mesh.dead_after == 0 {
        writeln!(
            out,
            "port = 0           # no mesh: every node is presumed up"
        )?;
    } else {
        writeln!(out, "port = {}", mesh.port)?;
        writeln!(out, "heartbeat_ms = {}", mesh.heartbeat_ms)?;
        writeln!(out, "dead_after = {}", mesh.dead_after)?;
        writeln!(
            out,
            "secret = \"{SECRET_SHOWN}\"   # not shown: give the real secret to apply this file"
        )?;
    }
    let limits = config.limits();
    if limits != Limits::DEFAULT {
        let t = limits.timeouts;
        writeln!(out)?;
        writeln!(out, "[limits]")?;
        writeln!(out, "max_flows = {}", limits.max_flows)?;
        writeln!(out, "syn_timeout = {}", t.syn)?;
        writeln!(out, "established_timeout = {}", t.established)?;
        writeln!(out, "closing_timeout = {}", t.closing)?;
        writeln!(out, "closed_timeout = {}", t.closed)?;
        writeln!(out, "quorum = {}", limits.quorum)?;
        writeln!(out, "sc_max_inflight = {}", limits.sc_max_inflight)?;
    }
    for node in config.nodes() {
        writeln!(out)?;
        writeln!(out, "[[node]]")?;
        writeln!(out, "id = {}", node.id)?;
        writeln!(out, "addr = \"{}\"", Ipv4Addr::from(node.addr))?;
    }
    for (service, grant) in config.services().iter().zip(config.grants()) {
        writeln!(out)?;
        writeln!(out, "[[service]]")?;
        writeln!(out, "vip = \"{}\"", Ipv4Addr::from(service.vip))?;
        writeln!(out, "port = {}", service.app_port)?;
        writeln!(out, "proxy_port = {}", service.proxy_port)?;
        writeln!(out, "nodes = [{}]", id_list(service.nodes))?;
        if let Some(acceptor) = service.designated_acceptor() {
            writeln!(out, "acceptor = {acceptor}")?;
        }
        if service.handover_to != HandoverTo::Server {
            writeln!(out, "handover_to = \"{}\"", service.handover_to.name())?;
        }
        if !grant.uids().is_empty() {
            writeln!(out, "allowed_uid = [{}]", number_list(grant.uids()))?;
        }
        if !grant.gids().is_empty() {
            writeln!(out, "allowed_gid = [{}]", number_list(grant.gids()))?;
        }
    }
    Ok(())
}

/// Renders a configuration as one JSON object with the file's keys (a single
/// line, no trailing newline). `self` is 0 for the empty configuration.
///
/// # Errors
///
/// `serde_json`'s, which the file model never gives.
pub fn render_json(config: &Config) -> Result<String, serde_json::Error> {
    let mut file = to_file(config);
    file.self_id = Some(config.self_id());
    serde_json::to_string(&file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config` as `config check` reads it back from `config show`: the
    /// secret is the marker (with the mesh on) or absent.
    fn as_shown(config: &Config) -> Config {
        let mut shown = config.clone();
        shown.set_mesh_key(if config.mesh().enabled() {
            key_of_secret(SECRET_SHOWN)
        } else {
            MeshKey::NONE
        });
        shown
    }
    use dts_core::abi::{EADDRNOTAVAIL, EEXIST, EINVAL, ENOENT, ENOSPC};

    const RIG: &str = include_str!("../../dtsctl/examples/cluster3.toml");

    #[test]
    fn limits_table_round_trips_and_is_checked() {
        let text = RIG.replace(
            "self = 1\n",
            "self = 1\n\n[limits]\nmax_flows = 4096\nsyn_timeout = 5\nquorum = 2\n",
        );
        let config = parse(&text).expect("valid");
        let l = config.limits();
        assert_eq!((l.max_flows, l.timeouts.syn, l.quorum), (4096, 5, 2));
        assert_eq!(l.timeouts.established, Limits::DEFAULT.timeouts.established);
        assert_eq!(
            parse(&render_toml(&config)).expect("shown file parses"),
            as_shown(&config)
        );
        let bad = RIG.replace("self = 1\n", "self = 1\n\n[limits]\nmax_flows = 10\n");
        let msg = err_of(&bad).to_string();
        assert!(msg.contains("max_flows = 10"), "{msg}");
        let bad = RIG.replace("self = 1\n", "self = 1\n\n[limits]\nquorum = 9\n");
        assert!(err_of(&bad).to_string().contains("quorum = 9"));
        let bad = RIG.replace("self = 1\n", "self = 1\n\n[limits]\nclosed_timeout = 0\n");
        assert!(err_of(&bad).to_string().contains("closed_timeout = 0"));
    }

    #[test]
    fn sc_max_inflight_is_parsed_shown_and_checked() {
        let text = RIG.replace("self = 1\n", "self = 1\n\n[limits]\nsc_max_inflight = 2\n");
        let config = parse(&text).expect("valid");
        assert_eq!(config.limits().sc_max_inflight, 2);
        assert_eq!(config.limits().max_flows, Limits::DEFAULT.max_flows);
        let shown = render_toml(&config);
        assert!(shown.contains("\nsc_max_inflight = 2\n"), "{shown}");
        assert_eq!(parse(&shown).expect("shown file parses"), as_shown(&config));
        let json = render_json(&config).expect("json");
        assert!(json.contains("\"sc_max_inflight\":2"), "{json}");
        // Absent: the default, and `config show` prints no [limits].
        let config = parse(RIG).expect("valid");
        assert_eq!(config.limits().sc_max_inflight, 8);
        assert!(!render_toml(&config).contains("[limits]"));
        for bad in [0u32, 9, 255] {
            let text = RIG.replace(
                "self = 1\n",
                &format!("self = 1\n\n[limits]\nsc_max_inflight = {bad}\n"),
            );
            let msg = msg_of(&text);
            assert!(
                msg.contains(&format!("sc_max_inflight = {bad}: must be in 1..=8")),
                "{msg}"
            );
        }
        // Too large for the key's type: refused too, by the parser.
        let text = RIG.replace(
            "self = 1\n",
            "self = 1\n\n[limits]\nsc_max_inflight = 300\n",
        );
        assert!(parse(&text).is_err());
        // Unknown keys stay refused.
        let text = RIG.replace("self = 1\n", "self = 1\n\n[limits]\nsc_max_in_flight = 2\n");
        assert!(parse(&text).is_err());
    }

    /// The rig file with `extra` appended.
    fn rig_plus(extra: &str) -> String {
        format!("{RIG}\n{extra}")
    }

    fn err_of(text: &str) -> FileError {
        parse(text).expect_err("must be refused")
    }

    fn msg_of(text: &str) -> String {
        err_of(text).to_string()
    }

    /// Asserts that `text` is refused by the pure validation with `errno`
    /// and exactly `message`.
    fn assert_invalid(text: &str, errno: i32, message: &str) {
        match err_of(text) {
            FileError::Invalid(err) => {
                assert_eq!(err.errno(), errno, "{err:?}");
                assert_eq!(describe(err), message);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn node(id: u8, addr: &str) -> String {
        format!("[[node]]\nid = {id}\naddr = \"{addr}\"\n")
    }

    fn service(vip: &str, port: u16, proxy: u16, nodes: &str) -> String {
        format!(
            "[[service]]\nvip = \"{vip}\"\nport = {port}\nproxy_port = {proxy}\nnodes = {nodes}\n"
        )
    }

    #[test]
    fn rig_example_parses() {
        let config = parse(RIG).expect("valid");
        assert_eq!(config.self_id(), 1);
        let addrs: Vec<(u8, Ipv4Addr)> = config
            .nodes()
            .iter()
            .map(|n| (n.id, Ipv4Addr::from(n.addr)))
            .collect();
        assert_eq!(
            addrs,
            [
                (1, Ipv4Addr::new(10, 0, 0, 11)),
                (2, Ipv4Addr::new(10, 0, 0, 12)),
                (3, Ipv4Addr::new(10, 0, 0, 13)),
            ]
        );
        assert_eq!(
            config.services(),
            [Service {
                vip: 0x0a00_0064,
                app_port: 80,
                proxy_port: 8080,
                nodes: NodeSet::from_mask(0b111),
                acceptor: 0,
                handover_to: HandoverTo::Server,
            }]
        );
        assert_eq!(summary(&config), "3 nodes, 1 service, self = 1, mesh on port 7470 (heartbeat 500 ms, down after 3 missed)");
    }

    #[test]
    fn other_examples_parse() {
        let config = parse(include_str!("../../dtsctl/examples/two-services.toml")).expect("valid");
        assert_eq!(config.services().len(), 2);
        assert_eq!(config.self_id(), 2);
        let config = parse(include_str!("../../dtsctl/examples/empty.toml")).expect("valid");
        assert!(config.is_empty());
        assert_eq!(
            summary(&config),
            "empty configuration (the node is unconfigured)"
        );
    }

    #[test]
    fn policy_table_is_validated_with_its_line_and_not_part_of_the_config() {
        let lard = include_str!("../../dtsctl/examples/cluster3-lard.toml");
        // The module's configuration is the same as without the table.
        assert_eq!(parse(lard).expect("valid"), parse(RIG).expect("valid"));
        let bad = lard.replace("max_load = 80", "max_load = 0");
        let err = parse(&bad).unwrap_err().to_string();
        let line = bad.lines().position(|l| l == "[policy]").unwrap() + 1;
        assert!(
            err.starts_with(&format!("line {line}: [policy]: ")),
            "{err}"
        );
        assert!(err.contains("max_load"), "{err}");
        let unknown = lard.replace("name = \"lard\"", "name = \"fastest\"");
        assert!(parse(&unknown).is_err());
        let foreign = lard.replace("max_load = 80", "vnodes = 10");
        assert!(parse(&foreign)
            .unwrap_err()
            .to_string()
            .contains("[policy]"));
        // `config show` never prints it.
        assert!(!render_toml(&parse(lard).unwrap()).contains("policy"));
    }

    const DESIGNATED: &str = include_str!("../../dtsctl/examples/cluster3-designated.toml");

    const KEEPALIVE: &str = include_str!("../../dtsctl/examples/cluster3-keepalive.toml");

    #[test]
    fn keepalive_example_parses_and_renders() {
        let config = parse(KEEPALIVE).expect("valid");
        let svc = config.services()[0];
        assert_eq!(svc.handover_to, HandoverTo::Proxy);
        assert_eq!(svc.handover_port(), 8080);
        let shown = render_toml(&config);
        assert!(shown.contains("handover_to = \"proxy\"\n"), "{shown}");
        assert_eq!(parse(&shown).expect("round trip"), as_shown(&config));
        let json = render_json(&config).expect("json");
        assert!(json.contains(r#""handover_to":"proxy""#), "{json}");
        // "server" is the default and is not shown.
        let server = parse(&KEEPALIVE.replace("\"proxy\"   #", "\"server\"   #")).expect("valid");
        assert_eq!(server.services()[0].handover_to, HandoverTo::Server);
        assert_eq!(server.services()[0].handover_port(), 80);
        assert!(!render_toml(&server).contains("handover_to"));
    }

    #[test]
    fn handover_to_must_be_known() {
        for bad in ["\"nginx\"", "1", "\"Proxy\""] {
            let msg = msg_of(&KEEPALIVE.replace("\"proxy\"   #", &format!("{bad}   #")));
            assert!(msg.contains("handover_to"), "{bad}: {msg}");
        }
    }

    #[test]
    fn designated_acceptor_example_parses() {
        let config = parse(DESIGNATED).expect("valid");
        assert_eq!(
            config.services(),
            [Service {
                vip: 0x0a00_0064,
                app_port: 80,
                proxy_port: 8080,
                nodes: NodeSet::from_mask(0b111),
                acceptor: 1,
                handover_to: HandoverTo::Server,
            }]
        );
        assert_eq!(config.services()[0].designated_acceptor(), Some(1));
        assert_eq!(summary(&config), "3 nodes, 1 service, self = 1, mesh on port 7470 (heartbeat 500 ms, down after 3 missed)");
        // Without `acceptor`, the rendezvous hash chooses.
        let config = parse(RIG).expect("valid");
        assert_eq!(config.services()[0].acceptor, Service::ACCEPTOR_HASH);
        assert_eq!(config.services()[0].designated_acceptor(), None);
    }

    #[test]
    fn message_acceptor_not_in_service() {
        assert_invalid(
            include_str!("../../dtsctl/examples/invalid-acceptor.toml"),
            ENOENT,
            "service 10.0.0.100:80: acceptor 1 is not one of the service's nodes \
             (nodes = [2, 3])",
        );
        // A node that is not configured at all, and ids outside 1..=32.
        for (acceptor, id) in [("7", 7), ("33", 33), ("255", 255)] {
            assert_invalid(
                &DESIGNATED.replace("acceptor = 1 ", &format!("acceptor = {acceptor} ")),
                ENOENT,
                &format!(
                    "service 10.0.0.100:80: acceptor {id} is not one of the service's nodes \
                     (nodes = [1, 2, 3])"
                ),
            );
        }
        // The service's node list is checked first.
        assert_invalid(
            &DESIGNATED.replace("nodes = [1, 2, 3]", "nodes = [1, 9]"),
            ENOENT,
            "service 10.0.0.100:80: node 9 is not configured",
        );
    }

    #[test]
    fn acceptor_zero_and_bad_types_are_refused() {
        let err = err_of(&DESIGNATED.replace("acceptor = 1 ", "acceptor = 0 "));
        assert!(
            matches!(err, FileError::AcceptorZero { port: 80, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "service 10.0.0.100:80: acceptor 0 is not a node id; leave `acceptor` out \
             to let the rendezvous hash choose the accepting node"
        );
        let msg = msg_of(&DESIGNATED.replace("acceptor = 1 ", "acceptor = 256 "));
        assert!(msg.contains("256") && msg.contains("u8"), "{msg}");
        let msg = msg_of(&DESIGNATED.replace("acceptor = 1 ", "acceptor = -1 "));
        assert!(msg.contains("line 36, column 12"), "{msg}");
        let msg = msg_of(&DESIGNATED.replace("acceptor = 1 ", "acceptor = \"1\" "));
        assert!(msg.contains("expected u8"), "{msg}");
    }

    #[test]
    fn empty_file_is_the_empty_config() {
        assert_eq!(parse("").expect("valid"), Config::EMPTY);
        assert!(parse("# nothing\n").expect("valid").is_empty());
    }

    #[test]
    fn toml_syntax_errors_name_line_and_column() {
        let msg = msg_of("self = 1\n[[node]\nid = 1\n");
        assert!(msg.contains("line 2, column"), "{msg}");
        let msg = msg_of("self = 1\n\n[[node]]\nid = \"one\"\naddr = \"10.0.0.11\"\n");
        assert!(msg.contains("line 4, column 6"), "{msg}");
        assert!(msg.contains("expected u8"), "{msg}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let msg = msg_of("self = 1\nselff = 2\n");
        assert!(msg.contains("unknown field `selff`"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let msg = msg_of(&rig_plus("[[nodes]]\nid = 4\n"));
        assert!(msg.contains("unknown field `nodes`"), "{msg}");
        let msg = msg_of(&format!(
            "self = 1\n{}[[service]]\nvip = \"10.0.0.100\"\nport = 80\nproxy_port = 8080\nnodes = [1]\nweight = 3\n",
            node(1, "10.0.0.11")
        ));
        assert!(msg.contains("unknown field `weight`"), "{msg}");
        assert!(msg.contains("line 10"), "{msg}");
        let msg = msg_of("self = 1\n[[node]]\nid = 1\naddr = \"10.0.0.11\"\nmac = \"x\"\n");
        assert!(msg.contains("unknown field `mac`"), "{msg}");
    }

    #[test]
    fn missing_and_mistyped_fields_are_errors() {
        let msg = msg_of("self = 1\n[[node]]\nid = 1\n");
        assert!(msg.contains("missing field `addr`"), "{msg}");
        let msg = msg_of(&format!(
            "self = 1\n{}[[service]]\nvip = \"10.0.0.100\"\nport = 80\nnodes = [1]\n",
            node(1, "10.0.0.11")
        ));
        assert!(msg.contains("needs `proxy_port`"), "{msg}");
        let msg = msg_of("self = 1\n[[node]]\nid = 1\naddr = \"10.0.0.256\"\n");
        assert!(msg.contains("line 4"), "{msg}");
        assert!(msg.contains("invalid IPv4 address"), "{msg}");
        let msg = msg_of(&rig_plus(
            "[[service]]\nvip = \"10.0.0.101\"\nport = 70000\nproxy_port = 1\nnodes = [1]\n",
        ));
        assert!(msg.contains("70000") && msg.contains("u16"), "{msg}");
        let msg = msg_of("self = 300\n");
        assert!(msg.contains("300") && msg.contains("u8"), "{msg}");
    }

    #[test]
    fn service_node_list_problems() {
        let err = err_of(&rig_plus(&service("10.0.0.101", 80, 8080, "[1, 40]")));
        assert_eq!(
            err.to_string(),
            "service 10.0.0.101:80: node 40 is not configured (node ids are 1..=32)"
        );
        let err = err_of(&rig_plus(&service("10.0.0.101", 80, 8080, "[0]")));
        assert!(matches!(err, FileError::NodeIdOutOfRange { id: 0, .. }));
        let err = err_of(&rig_plus(&service("10.0.0.101", 80, 8080, "[2, 3, 2]")));
        assert_eq!(
            err.to_string(),
            "service 10.0.0.101:80: node 2 is listed twice"
        );
    }

    #[test]
    fn message_too_many_nodes() {
        let mut text = String::from("self = 1\n");
        for id in 1..=33u8 {
            text += &node(id.min(32), &format!("10.1.0.{id}"));
        }
        assert_invalid(&text, ENOSPC, "too many nodes: 33 (at most 32)");
    }

    #[test]
    fn message_too_many_services() {
        let mut text = rig_plus("");
        for i in 1..=17u16 {
            text += &service("10.0.0.100", 1000 + i, 2000 + i, "[1]");
        }
        assert_invalid(&text, ENOSPC, "too many services: 18 (at most 16)");
    }

    #[test]
    fn message_node_id_out_of_range() {
        assert_invalid(
            &format!(
                "self = 1\n{}{}",
                node(1, "10.0.0.11"),
                node(33, "10.0.0.12")
            ),
            EINVAL,
            "node 33: node ids must be in 1..=32",
        );
        assert_invalid(
            &format!("self = 1\n{}", node(0, "10.0.0.11")),
            EINVAL,
            "node 0: node ids must be in 1..=32",
        );
    }

    #[test]
    fn message_bad_node_addr() {
        assert_invalid(
            &rig_plus(&node(4, "224.0.0.1")),
            EINVAL,
            "node 4: address 224.0.0.1 is not a usable unicast address \
             (0.0.0.0/8, 127.0.0.0/8, multicast and 255.255.255.255 are refused)",
        );
    }

    #[test]
    fn message_duplicate_node_id() {
        assert_invalid(
            &rig_plus(&node(2, "10.0.0.14")),
            EEXIST,
            "node 2 is configured twice",
        );
    }

    #[test]
    fn message_duplicate_node_addr() {
        assert_invalid(
            &rig_plus(&node(4, "10.0.0.13")),
            EEXIST,
            "nodes 3 and 4 have the same address 10.0.0.13",
        );
    }

    #[test]
    fn message_self_not_configured() {
        assert_invalid(
            &RIG.replace("self = 1", "self = 7"),
            ENOENT,
            "self = 7: node 7 is not configured",
        );
        assert_invalid(
            &RIG.replace("self = 1", ""),
            ENOENT,
            "`self` is not set: it must be the id of this node, one of the configured nodes",
        );
        // `self` alone is not the empty configuration.
        assert_invalid("self = 1\n", ENOENT, "self = 1: node 1 is not configured");
    }

    #[test]
    fn message_bad_vip() {
        assert_invalid(
            &rig_plus(&service("255.255.255.255", 81, 8081, "[1]")),
            EINVAL,
            "service 255.255.255.255:81: VIP 255.255.255.255 is not a usable unicast address \
             (0.0.0.0/8, 127.0.0.0/8, multicast and 255.255.255.255 are refused)",
        );
    }

    #[test]
    fn message_zero_port() {
        assert_invalid(
            &rig_plus(&service("10.0.0.101", 0, 8080, "[1]")),
            EINVAL,
            "service 10.0.0.101:0: port 0 is not allowed (port = 0, proxy_port = 8080)",
        );
        assert_invalid(
            &rig_plus(&service("10.0.0.101", 80, 0, "[1]")),
            EINVAL,
            "service 10.0.0.101:80: port 0 is not allowed (port = 80, proxy_port = 0)",
        );
    }

    #[test]
    fn message_same_ports() {
        assert_invalid(
            &rig_plus(&service("10.0.0.101", 80, 80, "[1]")),
            EINVAL,
            "service 10.0.0.101:80: proxy_port must differ from port (both are 80)",
        );
    }

    #[test]
    fn message_empty_node_set() {
        assert_invalid(
            &rig_plus(&service("10.0.0.101", 80, 8080, "[]")),
            EINVAL,
            "service 10.0.0.101:80: `nodes` is empty",
        );
    }

    #[test]
    fn message_unknown_node() {
        assert_invalid(
            &RIG.replace("nodes = [1, 2, 3]", "nodes = [1, 2, 7]"),
            ENOENT,
            "service 10.0.0.100:80: node 7 is not configured",
        );
    }

    #[test]
    fn message_vip_is_node_addr() {
        assert_invalid(
            &rig_plus(&service("10.0.0.12", 80, 8080, "[1]")),
            EADDRNOTAVAIL,
            "service 10.0.0.12:80: VIP 10.0.0.12 is the internal address of node 2",
        );
    }

    #[test]
    fn message_duplicate_service_port() {
        assert_invalid(
            &rig_plus(&service("10.0.0.100", 80, 8081, "[1]")),
            EEXIST,
            "service 10.0.0.100:80: 10.0.0.100:80 is already used by service 10.0.0.100:80",
        );
        assert_invalid(
            &rig_plus(&service("10.0.0.100", 443, 80, "[1]")),
            EEXIST,
            "service 10.0.0.100:443: 10.0.0.100:80 is already used by service 10.0.0.100:80",
        );
        assert_invalid(
            &rig_plus(&service("10.0.0.100", 8080, 9000, "[1]")),
            EEXIST,
            "service 10.0.0.100:8080: 10.0.0.100:8080 is already used by service 10.0.0.100:80",
        );
    }

    #[test]
    fn messages_for_blob_errors() {
        assert_eq!(
            describe(ConfigError::BadVersion { found: 9 }),
            "malformed configuration blob: ABI version 9, expected 1"
        );
        assert_eq!(
            describe(ConfigError::BadSize { found: 8 }),
            "malformed configuration blob: struct_size 8, expected 1744"
        );
        assert_eq!(
            describe(ConfigError::ReservedNotZero { offset: 20 }),
            "malformed configuration blob: reserved word at offset 20 is not zero"
        );
        assert_eq!(
            describe(ConfigError::Truncated),
            "malformed configuration blob: buffer too short"
        );
    }

    #[test]
    fn toml_rendering_round_trips() {
        for text in [
            RIG,
            DESIGNATED,
            include_str!("../../dtsctl/examples/two-services.toml"),
            include_str!("../../dtsctl/examples/empty.toml"),
            include_str!("../../dtsctl/examples/cluster3-mesh.toml"),
            include_str!("../../dtsctl/examples/cluster3-keepalive.toml"),
            include_str!("../../dtsctl/examples/cluster3-two-vips.toml"),
        ] {
            let config = parse(text).expect("valid");
            let rendered = render_toml(&config);
            assert_eq!(
                parse(&rendered).expect("valid"),
                as_shown(&config),
                "{rendered}"
            );
        }
    }

    #[test]
    fn toml_rendering_of_the_rig() {
        let expected = "\
# dts cluster configuration
self = 1

[mesh]
port = 7470
heartbeat_ms = 500
dead_after = 3
secret = \"(set)\"   # not shown: give the real secret to apply this file

[[node]]
id = 1
addr = \"10.0.0.11\"

[[node]]
id = 2
addr = \"10.0.0.12\"

[[node]]
id = 3
addr = \"10.0.0.13\"

[[service]]
vip = \"10.0.0.100\"
port = 80
proxy_port = 8080
nodes = [1, 2, 3]
";
        assert_eq!(render_toml(&parse(RIG).expect("valid")), expected);
        // A designated acceptor is printed after `nodes`, and only then.
        let designated = format!("{expected}acceptor = 1\n");
        assert_eq!(render_toml(&parse(DESIGNATED).expect("valid")), designated);
        assert_eq!(
            render_toml(&Config::EMPTY),
            "# dts cluster configuration: empty (unconfigured)\n"
        );
    }

    #[test]
    fn json_rendering() {
        let json = render_json(&parse(RIG).expect("valid")).expect("serializable");
        assert_eq!(
            json,
            concat!(
                r#"{"self":1,"mesh":{"port":7470,"heartbeat_ms":500,"dead_after":3,"secret":"(set)"},"#,
                r#""node":[{"id":1,"addr":"10.0.0.11"},{"id":2,"addr":"10.0.0.12"},"#,
                r#"{"id":3,"addr":"10.0.0.13"}],"service":[{"vip":"10.0.0.100","port":80,"#,
                r#""proxy_port":8080,"nodes":[1,2,3]}]}"#
            )
        );
        let json = render_json(&parse(DESIGNATED).expect("valid")).expect("serializable");
        assert!(
            json.ends_with(r#""proxy_port":8080,"nodes":[1,2,3],"acceptor":1}]}"#),
            "{json}"
        );
        let json = render_json(&Config::EMPTY).expect("serializable");
        assert_eq!(json, r#"{"self":0,"node":[],"service":[]}"#);
    }

    const MESH: &str = include_str!("../../dtsctl/examples/cluster3-mesh.toml");

    /// The mesh of `text`, parsed and validated.
    fn mesh_of(text: &str) -> Mesh {
        parse(text).expect("valid").mesh()
    }

    /// The rig with `table` as its `[mesh]` table (after `self`).
    fn rig_mesh(table: &str) -> String {
        RIG.replacen("[mesh]\n", &format!("[mesh]\n{table}"), 1)
    }

    #[test]
    fn mesh_defaults() {
        // No table: the defaults, the same as the explicit example.
        assert_eq!(mesh_of(RIG), Mesh::DEFAULT);
        assert_eq!(mesh_of(MESH), Mesh::DEFAULT);
        let mut rig = parse(RIG).expect("valid");
        assert_eq!(rig, parse(MESH).expect("valid"));
        // An empty table, or single keys: the defaults for the rest.
        assert_eq!(mesh_of(&rig_mesh("")), Mesh::DEFAULT);
        assert_eq!(
            mesh_of(&rig_mesh("port = 9000\n")),
            Mesh {
                port: 9000,
                ..Mesh::DEFAULT
            }
        );
        assert_eq!(
            mesh_of(&rig_mesh("heartbeat_ms = 100\n")),
            Mesh {
                heartbeat_ms: 100,
                ..Mesh::DEFAULT
            }
        );
        assert_eq!(
            mesh_of(&rig_mesh("dead_after = 20\n")),
            Mesh {
                dead_after: 20,
                ..Mesh::DEFAULT
            }
        );
        // Port 0: no mesh, the other two default to 0.
        assert_eq!(mesh_of(&rig_mesh("port = 0\n")), Mesh::DISABLED);
        assert_eq!(
            mesh_of(&rig_mesh("port = 0\nheartbeat_ms = 0\ndead_after = 0\n")),
            Mesh::DISABLED
        );
        // The empty file has no mesh: it is the empty configuration.
        assert_eq!(mesh_of(""), Mesh::DISABLED);
        rig.set_mesh(Mesh::DISABLED);
        assert_eq!(parse(&rig_mesh("port = 0\n")).expect("valid"), rig);
        assert_eq!(summary(&rig), "3 nodes, 1 service, self = 1, mesh disabled");
    }

    #[test]
    fn mesh_errors_name_the_line() {
        // invalid-mesh.toml: dead_after = 1 on line 11.
        let err = err_of(include_str!("../../dtsctl/examples/invalid-mesh.toml"));
        assert!(
            matches!(
                err,
                FileError::Mesh {
                    line: Some(11),
                    err: ConfigError::MeshBadDeadAfter { dead_after: 1 }
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "line 11: [mesh] dead_after = 1: must be in 2..=20 \
             (missed heartbeats before a node is marked down)"
        );
        // In the rig with the table after `self` (line 9), the keys are on
        // lines 12, 13 and 14.
        let table = "port = 7470\nheartbeat_ms = 500\ndead_after = 3\n";
        assert_eq!(mesh_of(&rig_mesh(table)), Mesh::DEFAULT);
        for (from, to, line, message) in [
            (
                "heartbeat_ms = 500",
                "heartbeat_ms = 15",
                13,
                "[mesh] heartbeat_ms = 15: must be a multiple of 10 in 10..=2550",
            ),
            (
                "heartbeat_ms = 500",
                "heartbeat_ms = 0",
                13,
                "[mesh] heartbeat_ms = 0: must be a multiple of 10 in 10..=2550",
            ),
            (
                "heartbeat_ms = 500",
                "heartbeat_ms = 2560",
                13,
                "[mesh] heartbeat_ms = 2560: must be a multiple of 10 in 10..=2550",
            ),
            (
                "dead_after = 3",
                "dead_after = 21",
                14,
                "[mesh] dead_after = 21: must be in 2..=20 \
                 (missed heartbeats before a node is marked down)",
            ),
            (
                "port = 7470",
                "port = 0",
                13,
                "[mesh] port = 0 disables the mesh: leave heartbeat_ms and dead_after out \
                 (or 0), not heartbeat_ms = 500, dead_after = 3",
            ),
        ] {
            let err = err_of(&rig_mesh(&table.replace(from, to)));
            match &err {
                FileError::Mesh { line: Some(l), err } => {
                    assert_eq!(*l, line, "{to}");
                    assert_eq!(err.errno(), EINVAL);
                }
                other => panic!("{to}: expected a mesh error, got {other:?}"),
            }
            assert_eq!(err.to_string(), format!("line {line}: {message}"), "{to}");
        }
        // Port 0 with only dead_after: that line.
        let err = err_of(&rig_mesh("port = 0\ndead_after = 3\n"));
        assert!(
            matches!(err, FileError::Mesh { line: Some(13), .. }),
            "{err:?}"
        );
        // Node problems are still reported first, as the module does.
        let text = rig_mesh("dead_after = 1\n").replace("id = 3", "id = 2");
        assert_eq!(err_of(&text).to_string(), "node 2 is configured twice");
    }

    #[test]
    fn mesh_toml_errors() {
        let msg = msg_of(&rig_mesh("port = 7470\ninterval = 5\n"));
        assert!(msg.contains("unknown field `interval`"), "{msg}");
        assert!(msg.contains("line 13"), "{msg}");
        let msg = msg_of(&rig_mesh("port = 70000\n"));
        assert!(msg.contains("line 12") && msg.contains("u16"), "{msg}");
        let msg = msg_of(&rig_mesh("dead_after = 300\n"));
        assert!(msg.contains("line 12") && msg.contains("u8"), "{msg}");
        let msg = msg_of(&rig_mesh("heartbeat_ms = \"fast\"\n"));
        assert!(msg.contains("line 12"), "{msg}");
        let msg = msg_of(&format!("{RIG}\nmesh = 3\n"));
        assert!(msg.contains("mesh"), "{msg}");
    }

    #[test]
    fn mesh_alone_is_not_an_empty_configuration() {
        assert_invalid(
            "[mesh]\nport = 7470\n",
            ENOENT,
            "`self` is not set: it must be the id of this node, one of the configured nodes",
        );
        // ... but a disabled mesh alone is the empty configuration.
        assert_eq!(parse("[mesh]\nport = 0\n").expect("valid"), Config::EMPTY);
    }

    #[test]
    fn mesh_rendering() {
        let shown = render_toml(&parse(MESH).expect("valid"));
        assert!(
            shown.contains(
                "\n[mesh]\nport = 7470\nheartbeat_ms = 500\ndead_after = 3\nsecret = \"(set)\""
            ),
            "{shown}"
        );
        for table in [
            "port = 0\n",
            "port = 1\nheartbeat_ms = 2550\ndead_after = 20\n",
            "heartbeat_ms = 10\ndead_after = 2\n",
        ] {
            let config = parse(&rig_mesh(table)).expect("valid");
            let shown = render_toml(&config);
            assert_eq!(
                parse(&shown).expect("round trip"),
                as_shown(&config),
                "{shown}"
            );
            let json = render_json(&config).expect("json");
            let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
            let mesh = config.mesh();
            assert_eq!(value["mesh"]["port"], mesh.port);
            assert_eq!(value["mesh"]["heartbeat_ms"], mesh.heartbeat_ms);
            assert_eq!(value["mesh"]["dead_after"], mesh.dead_after);
        }
        let disabled = render_toml(&parse(&rig_mesh("port = 0\n")).expect("valid"));
        assert!(
            disabled
                .contains("\n[mesh]\nport = 0           # no mesh: every node is presumed up\n"),
            "{disabled}"
        );
        assert!(!disabled.contains("heartbeat_ms"), "{disabled}");
        // The empty configuration shows no mesh.
        assert!(!render_toml(&Config::EMPTY).contains("mesh"));
        assert!(!render_json(&Config::EMPTY).expect("json").contains("mesh"));
    }

    #[test]
    fn file_model_round_trips() {
        for text in [RIG, DESIGNATED, MESH] {
            let config = parse(text).expect("valid");
            let mut keyless = config.clone();
            keyless.set_mesh_key(MeshKey::NONE);
            assert_eq!(
                to_config(&to_file(&config)).expect("representable"),
                keyless
            );
        }
        assert_eq!(to_file(&Config::EMPTY), ConfigFile::default());
    }

    /// The rig's service with `allowed_uid`/`allowed_gid` lines.
    fn rig_granted(lines: &str) -> String {
        RIG.replace("nodes = [1, 2, 3]", &format!("nodes = [1, 2, 3]\n{lines}"))
    }

    #[test]
    fn grants_parse_render_and_round_trip() {
        let text = rig_granted("allowed_uid = [1500]\nallowed_gid = [1600, 1601]");
        let config = parse(&text).expect("valid");
        let g = config.grant(0).expect("the service's grant");
        assert_eq!(g.uids(), [1500]);
        assert_eq!(g.gids(), [1600, 1601]);
        // Without the keys: nobody but the admin.
        assert_eq!(parse(RIG).expect("valid").grant(0), Some(&Grant::NONE));
        let shown = render_toml(&config);
        assert!(
            shown.contains("nodes = [1, 2, 3]\nallowed_uid = [1500]\nallowed_gid = [1600, 1601]\n"),
            "{shown}"
        );
        assert_eq!(parse(&shown).expect("shown file parses"), as_shown(&config));
        assert!(!render_toml(&parse(RIG).unwrap()).contains("allowed_"));
        let json = render_json(&config).expect("json");
        assert!(
            json.contains(r#""allowed_uid":[1500],"allowed_gid":[1600,1601]"#),
            "{json}"
        );
        assert!(!render_json(&parse(RIG).unwrap())
            .unwrap()
            .contains("allowed_"));
        let mut keyless = config.clone();
        keyless.set_mesh_key(MeshKey::NONE);
        assert_eq!(
            to_config(&to_file(&config)).expect("representable"),
            keyless
        );
        // Only one list is fine too; an empty list is no grant.
        let only_gid = parse(&rig_granted("allowed_gid = [1600]")).expect("valid");
        assert_eq!(only_gid.grant(0).unwrap().uids(), [] as [u32; 0]);
        let empty = parse(&rig_granted("allowed_uid = []")).expect("valid");
        assert_eq!(empty.grant(0), Some(&Grant::NONE));
    }

    #[test]
    fn grant_errors_name_the_service() {
        let nine = (1500..1509)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        assert_invalid(
            &rig_granted(&format!("allowed_uid = [{nine}]")),
            EINVAL,
            "service 10.0.0.100:80: allowed_uid lists 9 ids (at most 8)",
        );
        assert_invalid(
            &rig_granted("allowed_gid = [1600, 1600]"),
            EEXIST,
            "service 10.0.0.100:80: allowed_gid lists 1600 twice",
        );
        assert_invalid(
            &rig_granted("allowed_uid = [4294967295]"),
            EINVAL,
            "service 10.0.0.100:80: allowed_uid lists 4294967295, which is not a valid id",
        );
        // Not numbers, negative, too large: the TOML schema refuses them.
        for bad in [
            "allowed_uid = [-1]",
            "allowed_uid = [4294967296]",
            "allowed_uid = [\"dts\"]",
            "allowed_gid = 1600",
        ] {
            assert!(
                matches!(err_of(&rig_granted(bad)), FileError::Toml(_)),
                "{bad}"
            );
        }
        // The line of the service's table.
        let service_line = RIG
            .lines()
            .position(|l| l.starts_with("[[service]]"))
            .map(|i| i + 1);
        assert_eq!(
            line_for(&rig_granted("allowed_gid = [1600, 1600]")),
            service_line
        );
        assert_eq!(
            line_for(&rig_granted(&format!("allowed_gid = [{nine}]"))),
            service_line
        );
    }

    /// The line [`line_of_error`] finds for `text` (which must be refused).
    fn line_for(text: &str) -> Option<usize> {
        line_of_error(text, &err_of(text))
    }

    #[test]
    fn errors_are_located() {
        // The rig: self on line 8, nodes at lines 10, 14, 18, the service
        // at line 22.
        let rig_line = |needle: &str| {
            RIG.lines()
                .position(|l| l.starts_with(needle))
                .map(|i| i + 1)
                .expect("in the rig")
        };
        let self_line = rig_line("self = ");
        assert_eq!(
            line_for(&RIG.replace("self = 1", "self = 7")),
            Some(self_line)
        );
        // Self missing: nowhere to point at.
        assert_eq!(line_for(&RIG.replace("self = 1", "")), None);
        // The service's own table.
        let service_line = rig_line("[[service]]");
        for bad in [
            "nodes = [1, 2, 7]",
            "nodes = [1, 1]",
            "nodes = [1, 40]",
            "nodes = [1]\nacceptor = 0",
        ] {
            assert_eq!(
                line_for(&RIG.replace("nodes = [1, 2, 3]", bad)),
                Some(service_line),
                "{bad}"
            );
        }
        // The second node with id 2 (appended last) is at fault.
        let n = RIG.lines().count();
        let text = rig_plus(&node(2, "10.0.0.14"));
        assert_eq!(line_for(&text), Some(n + 2));
        let text = rig_plus(&node(4, "10.0.0.13"));
        assert_eq!(line_for(&text), Some(n + 2));
        let text = rig_plus(&node(4, "127.0.0.1"));
        assert_eq!(line_for(&text), Some(n + 2));
        // The second of two services on the same VIP:port.
        let text = rig_plus(&service("10.0.0.100", 8080, 9000, "[1]"));
        assert_eq!(line_for(&text), Some(n + 2));
        let text = rig_plus(&service("10.0.0.12", 81, 9000, "[1]"));
        assert_eq!(line_for(&text), Some(n + 2));
        // Errors that carry their line, or have none.
        assert_eq!(
            line_for(include_str!("../../dtsctl/examples/invalid-mesh.toml")),
            None
        );
        assert_eq!(line_for("self = \"x\"\n"), None);
        assert_eq!(
            line_of_error(RIG, &FileError::Invalid(ConfigError::Truncated)),
            None
        );
    }
}
