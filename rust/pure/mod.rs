// SPDX-License-Identifier: GPL-2.0

//! Pure logic shared between the `dts` kernel module and the host tools.
//!
//! Everything below this module is `no_std`, uses only `core`, contains no
//! `unsafe` code and never panics on any input. The same source files are
//! compiled into `dts.ko` by kbuild and into the `dts-core` host crate (via a
//! `#[path]` attribute), where they are unit- and property-tested.
//!
//! Context: any (the hooks' softirq included); no locks: callers hold
//! whatever protects the data they pass in.
//!
//! - [`seq`]: TCP sequence-number arithmetic modulo 2^32.
//! - [`csum`]: Internet checksum computation and incremental updates.
//! - [`abi`]: the versioned socket-option ABI between `dtsctl` and the module.
//! - [`bytes`]: bounds-checked sequential access to the ABI's byte structs.
//! - [`ipv4`]: IPv4 header parsing.
//! - [`tcp`]: TCP header and option parsing and in-place rewriting.
//! - [`hopt`]: the handover TCP option carried by a handed-over SYN.
//! - [`config`]: the cluster configuration, its validation and wire format.
//! - [`hrw`]: rendezvous hashing: which node accepts a SYN.
//! - [`filter`]: the DTS filter's per-packet decisions.
//! - [`flow`]: flow keys and the life cycle of a tracked connection.
//! - [`fcb`]: handover states and the translation plan of a segment.
//! - [`xlate`]: carrying a plan out on header bytes, checksums included.
//! - [`mesh`]: the control mesh's wire protocol (frames between nodes).
//! - [`member`]: cluster membership: which nodes are up, who accepts SYNs.
//! - [`scmsg`]: Socket Cloning's mesh payloads (SC-CLONE, SC-ACK).
//! - [`scseed`]: Socket Cloning's socket seed, the client's last headers.
//! - [`homsg`]: the handover's mesh payloads (HANDOVER, HANDOVER-ACK).
//! - [`hmac`]: HMAC-SHA256 over a hash passed in, the mesh's HELLO proofs.
//! - [`segbuild`]: building IPv4/TCP segments and forwarded copies.
//! - [`http`]: HTTP/1.x responses on the wire: where each starts and ends
//!   (a draining node's idle connections and resumable responses).

pub mod abi;
pub mod bytes;
pub mod config;
pub mod csum;
pub mod fcb;
pub mod filter;
pub mod flow;
pub mod hmac;
pub mod homsg;
pub mod hopt;
pub mod hrw;
pub mod http;
pub mod ipv4;
pub mod member;
pub mod mesh;
pub mod sc;
pub mod scmsg;
pub mod scseed;
pub mod segbuild;
pub mod seq;
pub mod tcp;
pub mod xlate;
