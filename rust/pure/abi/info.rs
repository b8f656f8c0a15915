// SPDX-License-Identifier: GPL-2.0

//! [`DTS_SO_GET_INFO`] and [`DTS_SO_SET_ZERO`]: the module's version, its
//! hooks' statistics and its counters ([`InfoV1`], [`HookStats`]), and
//! their zeroing ([`ZeroV1`]).
//!
//! Pure logic: any context, no locks, no `unsafe`, never panics on any
//! input. The counters' indexes are [`Counter`].

use super::header::{Len, Versioned};
use super::{AbiError, Counter, DTS_ABI_VERSION, DTS_SO_BASE};
use crate::pure::bytes::{Reader, Writer};

/// `getsockopt()`: returns an [`InfoV1`] blob.
pub const DTS_SO_GET_INFO: i32 = DTS_SO_BASE;

/// `setsockopt()`: zeroes all counters; the argument is a [`ZeroV1`].
pub const DTS_SO_SET_ZERO: i32 = DTS_SO_BASE;

/// Number of hook slots in [`InfoV1::hooks`].
pub const MAX_HOOKS: usize = 8;

/// Number of counter slots in [`InfoV1::counters`].
pub const MAX_COUNTERS: usize = 128;

/// Size of [`InfoV1::module_version`].
pub const VERSION_LEN: usize = 32;

/// Encoded size of one [`HookStats`] entry.
pub const HOOK_STATS_SIZE: usize = 32;

/// Encoded size of [`InfoV1`].
pub const INFO_V1_SIZE: usize = 1328;

/// Encoded size of [`ZeroV1`].
pub const ZERO_V1_SIZE: usize = 4;

/// Offset of `abi_version` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_ABI_VERSION: usize = 0;
/// Offset of `struct_size` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_STRUCT_SIZE: usize = 4;
/// Offset of `module_version` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_MODULE_VERSION: usize = 8;
/// Offset of `n_hooks` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_N_HOOKS: usize = INFO_V1_OFF_MODULE_VERSION + VERSION_LEN;
/// Offset of `n_counters` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_N_COUNTERS: usize = INFO_V1_OFF_N_HOOKS + 4;
/// Offset of `hooks[0]` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_HOOKS: usize = INFO_V1_OFF_N_COUNTERS + 4;
/// Offset of `counters[0]` in the [`InfoV1`] blob.
pub const INFO_V1_OFF_COUNTERS: usize = INFO_V1_OFF_HOOKS + MAX_HOOKS * HOOK_STATS_SIZE;

const _: () = assert!(INFO_V1_OFF_HOOKS == 48);
const _: () = assert!(INFO_V1_OFF_COUNTERS == 304);
const _: () = assert!(INFO_V1_OFF_COUNTERS + MAX_COUNTERS * 8 == INFO_V1_SIZE);
const _: () = assert!(Counter::COUNT <= MAX_COUNTERS);

/// Returns the name of a netfilter `NF_INET_*` hook number.
pub const fn hook_name(hooknum: u32) -> &'static str {
    match hooknum {
        0 => "pre_routing",
        1 => "local_in",
        2 => "forward",
        3 => "local_out",
        4 => "post_routing",
        _ => "unknown",
    }
}

/// Per-hook statistics, one entry of [`InfoV1::hooks`].
///
/// Encoded as 32 bytes:
///
/// | offset | size | field         |
/// |--------|------|---------------|
/// | 0      | 4    | `hooknum`     |
/// | 4      | 4    | `priority`    |
/// | 8      | 8    | `packets`     |
/// | 16     | 8    | `bytes`       |
/// | 24     | 8    | `tcp_packets` |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookStats {
    /// Netfilter hook number (`NF_INET_*`, see [`hook_name`]).
    pub hooknum: u32,
    /// Netfilter priority the hook is registered with.
    pub priority: i32,
    /// Packets seen by the hook.
    pub packets: u64,
    /// Bytes seen by the hook (`skb->len` of each packet).
    pub bytes: u64,
    /// TCP packets seen by the hook.
    pub tcp_packets: u64,
}

impl HookStats {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), AbiError> {
        w.put(self.hooknum.to_ne_bytes())?;
        w.put(self.priority.to_ne_bytes())?;
        w.put(self.packets.to_ne_bytes())?;
        w.put(self.bytes.to_ne_bytes())?;
        w.put(self.tcp_packets.to_ne_bytes())?;
        Ok(())
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, AbiError> {
        Ok(Self {
            hooknum: u32::from_ne_bytes(r.take()?),
            priority: i32::from_ne_bytes(r.take()?),
            packets: u64::from_ne_bytes(r.take()?),
            bytes: u64::from_ne_bytes(r.take()?),
            tcp_packets: u64::from_ne_bytes(r.take()?),
        })
    }
}

/// Reply of [`DTS_SO_GET_INFO`], version 1.
///
/// Wire layout, native byte order, no implicit padding (exactly the layout of
/// the equivalent C structure on x86_64):
///
/// | offset | size | field                                             |
/// |--------|------|---------------------------------------------------|
/// | 0      | 4    | `u32 abi_version` (= [`DTS_ABI_VERSION`])         |
/// | 4      | 4    | `u32 struct_size` (= [`INFO_V1_SIZE`] = 1328)      |
/// | 8      | 32   | `u8 module_version[32]` (ASCII, NUL padded)       |
/// | 40     | 4    | `u32 n_hooks` (valid entries in `hooks`, <= 8)    |
/// | 44     | 4    | `u32 n_counters` (valid entries in `counters`, <= 128) |
/// | 48     | 256  | `struct hook_stats hooks[8]` (see [`HookStats`])  |
/// | 304    | 1024 | `u64 counters[128]` (indexed by [`Counter`])      |
/// | 1328   |      | end                                               |
///
/// `struct_size` is not stored: it is always [`INFO_V1_SIZE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoV1 {
    /// ABI version, [`DTS_ABI_VERSION`].
    pub abi_version: u32,
    /// Module version string, ASCII, NUL padded.
    pub module_version: [u8; VERSION_LEN],
    /// Number of valid entries in `hooks`.
    pub n_hooks: u32,
    /// Number of valid entries in `counters`.
    pub n_counters: u32,
    /// Per-hook statistics; entries from `n_hooks` on are unused.
    pub hooks: [HookStats; MAX_HOOKS],
    /// Counters, indexed by [`Counter`]; entries from `n_counters` on are unused.
    pub counters: [u64; MAX_COUNTERS],
}

impl Default for InfoV1 {
    fn default() -> Self {
        Self::new()
    }
}

impl InfoV1 {
    /// Returns an all-zero reply with `abi_version` set to
    /// [`DTS_ABI_VERSION`], no hooks and [`Counter::COUNT`] counters.
    pub const fn new() -> Self {
        Self {
            abi_version: DTS_ABI_VERSION,
            module_version: [0; VERSION_LEN],
            n_hooks: 0,
            n_counters: Counter::COUNT as u32,
            hooks: [HookStats {
                hooknum: 0,
                priority: 0,
                packets: 0,
                bytes: 0,
                tcp_packets: 0,
            }; MAX_HOOKS],
            counters: [0; MAX_COUNTERS],
        }
    }

    /// Returns the module version up to the first NUL byte.
    ///
    /// Fails with [`AbiError::BadString`] if it is not valid UTF-8.
    pub fn module_version_str(&self) -> Result<&str, AbiError> {
        let bytes = &self.module_version;
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let bytes = bytes.get(..len).unwrap_or_default();
        core::str::from_utf8(bytes).map_err(|_| AbiError::BadString)
    }

    /// Sets the module version, see [`version_bytes`].
    pub fn set_module_version(&mut self, version: &str) {
        self.module_version = version_bytes(version);
    }

    /// Returns the valid hook entries (at most [`MAX_HOOKS`]).
    pub fn hooks(&self) -> &[HookStats] {
        let n = (self.n_hooks as usize).min(MAX_HOOKS);
        self.hooks.get(..n).unwrap_or_default()
    }

    /// Returns the valid counters (at most [`MAX_COUNTERS`]).
    pub fn counters(&self) -> &[u64] {
        let n = (self.n_counters as usize).min(MAX_COUNTERS);
        self.counters.get(..n).unwrap_or_default()
    }

    /// Returns the value of `counter` (0 if it is beyond `n_counters`).
    pub fn counter(&self, counter: Counter) -> u64 {
        self.counters().get(counter.index()).copied().unwrap_or(0)
    }

    /// Sets the value of `counter`.
    pub fn set_counter(&mut self, counter: Counter, value: u64) {
        if let Some(slot) = self.counters.get_mut(counter.index()) {
            *slot = value;
        }
    }

    /// Encodes `self` into the first [`INFO_V1_SIZE`] bytes of `out` and
    /// returns the number of bytes written.
    ///
    /// Fails with [`AbiError::Truncated`] if `out` is too short, and with
    /// [`AbiError::TooManyHooks`]/[`AbiError::TooManyCounters`] if the counts
    /// exceed the array sizes. `out` is left untouched on error.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, AbiError> {
        if self.n_hooks > MAX_HOOKS as u32 {
            return Err(AbiError::TooManyHooks {
                found: self.n_hooks,
            });
        }
        if self.n_counters > MAX_COUNTERS as u32 {
            return Err(AbiError::TooManyCounters {
                found: self.n_counters,
            });
        }
        let mut w = Self::write_header(out, self.abi_version)?;
        w.put(self.module_version)?;
        w.put(self.n_hooks.to_ne_bytes())?;
        w.put(self.n_counters.to_ne_bytes())?;
        for hook in &self.hooks {
            hook.encode(&mut w)?;
        }
        for counter in &self.counters {
            w.put(counter.to_ne_bytes())?;
        }
        Ok(INFO_V1_SIZE)
    }

    /// Decodes a blob produced by [`InfoV1::encode`].
    ///
    /// Checks, in this order, that the version and size fields are present
    /// ([`AbiError::Truncated`]), the version ([`AbiError::BadVersion`]), the
    /// size field ([`AbiError::BadSize`]), the buffer length
    /// ([`AbiError::Truncated`]) and the counts. Bytes past
    /// [`INFO_V1_SIZE`] are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        let mut r = Self::read_header(buf)?;
        let module_version = r.take()?;
        let n_hooks = u32::from_ne_bytes(r.take()?);
        if n_hooks > MAX_HOOKS as u32 {
            return Err(AbiError::TooManyHooks { found: n_hooks });
        }
        let n_counters = u32::from_ne_bytes(r.take()?);
        if n_counters > MAX_COUNTERS as u32 {
            return Err(AbiError::TooManyCounters { found: n_counters });
        }
        let mut info = Self {
            module_version,
            n_hooks,
            n_counters,
            ..Self::new()
        };
        for hook in &mut info.hooks {
            *hook = HookStats::decode(&mut r)?;
        }
        for counter in &mut info.counters {
            *counter = u64::from_ne_bytes(r.take()?);
        }
        Ok(info)
    }
}

/// A blob that describes itself: `abi_version`, then `struct_size`.
impl Versioned for InfoV1 {
    const SIZE: usize = INFO_V1_SIZE;
    const VERSION: u32 = DTS_ABI_VERSION;
    const SIZE_WORD: Option<u32> = Some(INFO_V1_SIZE as u32);
    const LEN: Len = Len::AtLeast;
}

/// Returns `version` as a NUL-padded [`VERSION_LEN`]-byte field.
///
/// Strings longer than `VERSION_LEN - 1` bytes are cut at a character
/// boundary so that at least one NUL byte always terminates the field.
pub fn version_bytes(version: &str) -> [u8; VERSION_LEN] {
    let mut out = [0u8; VERSION_LEN];
    let mut len = version.len().min(VERSION_LEN.saturating_sub(1));
    while !version.is_char_boundary(len) {
        len = len.saturating_sub(1);
    }
    if let (Some(dst), Some(src)) = (out.get_mut(..len), version.as_bytes().get(..len)) {
        dst.copy_from_slice(src);
    }
    out
}

/// Argument of [`DTS_SO_SET_ZERO`], version 1: a single native-endian `u32`
/// holding [`DTS_ABI_VERSION`] ([`ZERO_V1_SIZE`] bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroV1 {
    /// ABI version, [`DTS_ABI_VERSION`].
    pub abi_version: u32,
}

impl Default for ZeroV1 {
    fn default() -> Self {
        Self::new()
    }
}

impl ZeroV1 {
    /// Returns the argument for the current ABI version.
    pub const fn new() -> Self {
        Self {
            abi_version: DTS_ABI_VERSION,
        }
    }

    /// Returns the encoded argument.
    pub const fn to_bytes(self) -> [u8; ZERO_V1_SIZE] {
        self.abi_version.to_ne_bytes()
    }

    /// Encodes `self` into the first [`ZERO_V1_SIZE`] bytes of `out` and
    /// returns the number of bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, AbiError> {
        Self::write_header(out, self.abi_version)?;
        Ok(ZERO_V1_SIZE)
    }

    /// Decodes and validates the argument: the buffer must be exactly
    /// [`ZERO_V1_SIZE`] bytes long and hold [`DTS_ABI_VERSION`].
    pub fn decode(buf: &[u8]) -> Result<Self, AbiError> {
        Self::read_header(buf)?;
        Ok(Self::new())
    }
}

/// The whole argument is the header: its version and nothing else.
impl Versioned for ZeroV1 {
    const SIZE: usize = ZERO_V1_SIZE;
    const VERSION: u32 = DTS_ABI_VERSION;
    const SIZE_WORD: Option<u32> = None;
    const LEN: Len = Len::Exact {
        short: AbiError::Truncated,
    };
}
