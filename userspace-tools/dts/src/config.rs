//! The cluster file: its one schema ([`ConfigFile`]), TOML →
//! [`Config`] with a precise message for every validation error
//! ([`FileError`], [`line_of_error`]), and the way back ([`to_file`]).
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

use std::fmt;
use std::net::Ipv4Addr;

use dts_core::abi::CONFIG_V1_SIZE;
use dts_core::config::{
    Config, ConfigError, HandoverTo, Limit, Limits, Mesh, MeshKey, Node, NodeSet, Service,
    MAX_NODES, MAX_NODE_ID, MAX_SERVICES,
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
#[derive(Debug)]
pub enum FileError {
    /// The file is not valid TOML or does not have the expected shape.
    Toml(toml::de::Error),
    /// A service lists a node id outside `1..=32`.
    NodeIdOutOfRange {
        /// The service's VIP.
        vip: Ipv4Addr,
        /// The service's application port.
        port: u16,
        /// The id.
        id: u8,
    },
    /// A service lists a node twice.
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
    AcceptorZero {
        /// The service's VIP.
        vip: Ipv4Addr,
        /// The service's application port.
        port: u16,
    },
    /// The ports do not fit the service's mode: a DTS service needs
    /// `proxy_port` and no `clone_port`; a Socket Cloning service needs
    /// `clone_port` and neither `proxy_port` nor `handover_to`.
    ModePorts {
        /// The service's VIP.
        vip: Ipv4Addr,
        /// The service's application port.
        port: u16,
        /// Whether the service is a Socket Cloning one.
        sc: bool,
    },
    /// The pure validation refused the configuration.
    Invalid(ConfigError),
    /// The `[policy]` table is refused ([`PolicyConfig::validate`]).
    Policy {
        /// The line of the table in the file (1-based).
        line: usize,
        /// Why.
        msg: String,
    },
    /// The `[mesh]` secret is refused: too short, both `secret` and
    /// `secret_file`, an unreadable file, or `config show`'s marker given
    /// to be applied.
    Secret {
        /// The line of the offending key in the file (1-based), if known.
        line: Option<usize>,
        /// Why.
        msg: String,
    },
    /// The pure validation refused the `[mesh]` settings.
    Mesh {
        /// The line of the offending value in the file (1-based), if known.
        line: Option<usize>,
        /// The validation error ([`ConfigError::is_mesh`]).
        err: ConfigError,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // toml's message names the line and column and shows the line.
            Self::Toml(err) => write!(f, "{}", err.to_string().trim_end()),
            Self::NodeIdOutOfRange { vip, port, id } => write!(
                f,
                "service {vip}:{port}: node {id} is not configured \
                 (node ids are 1..={MAX_NODE_ID})"
            ),
            Self::NodeListedTwice { vip, port, id } => {
                write!(f, "service {vip}:{port}: node {id} is listed twice")
            }
            Self::ModePorts {
                vip,
                port,
                sc: true,
            } => write!(
                f,
                "service {vip}:{port}: mode \"sc\" needs `clone_port` (the port of the \
                 server that takes the clones) and no `proxy_port` or `handover_to`"
            ),
            Self::ModePorts {
                vip,
                port,
                sc: false,
            } => write!(
                f,
                "service {vip}:{port}: needs `proxy_port`; `clone_port` is only for \
                 mode \"sc\""
            ),
            Self::AcceptorZero { vip, port } => write!(
                f,
                "service {vip}:{port}: acceptor 0 is not a node id; leave `acceptor` \
                 out to let the rendezvous hash choose the accepting node"
            ),
            Self::Invalid(err) => f.write_str(&describe(*err)),
            Self::Policy { line, msg } => write!(f, "line {line}: [policy]: {msg}"),
            Self::Secret {
                line: Some(line),
                msg,
            } => write!(f, "line {line}: [mesh] {msg}"),
            Self::Secret { line: None, msg } => write!(f, "[mesh] {msg}"),
            Self::Mesh {
                line: Some(line),
                err,
            } => write!(f, "line {line}: {}", describe(*err)),
            Self::Mesh { line: None, err } => f.write_str(&describe(*err)),
        }
    }
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
    parse_for(text, Purpose::Check)
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
            Purpose::Check => Ok(key_of_secret(SECRET_SHOWN)),
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
        policy
            .get_ref()
            .validate()
            .map_err(|msg| FileError::Policy {
                line: line_of(text, policy.span().start),
                msg,
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
        | ConfigError::VipIsNodeAddr { vip, app_port, .. } => {
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
/// Fails only on what the pure model cannot represent: more than
/// [`MAX_NODES`] nodes or [`MAX_SERVICES`] services, service node lists
/// with an id outside `1..=32` or an id listed twice, and `acceptor = 0`.
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
            .map(|service| ServiceEntry {
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
        ConfigError::BadLimit { limit, value } => format!(
            "[limits] {} = {value}: must be in {}..={} seconds",
            limit.as_str(),
            Limits::TIMEOUT_MIN,
            Limits::TIMEOUT_MAX
        ),
    }
}

/// Returns the ids of `nodes` as "1, 2, 3".
pub fn id_list(nodes: NodeSet) -> String {
    let ids: Vec<String> = nodes.iter().map(|id| id.to_string()).collect();
    ids.join(", ")
}
