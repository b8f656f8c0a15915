// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: a bounds-checked, read-only view of a socket buffer.
//!
//! Packet bytes are never read through raw pointers outside this file: header
//! bytes are copied into a caller's buffer with `skb_copy_bits()`, which walks
//! paged and fragmented buffers and refuses to read past the end. The pure
//! parsers in [`crate::pure`] then work on those bytes. To rewrite headers,
//! [`SkbRef::edit_head`] first makes the bytes linear, private and writable
//! (`skb_ensure_writable()`), then lends them out as a bounded `&mut [u8]`.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;

/// A borrowed `struct sk_buff` inside a netfilter hook.
pub(crate) struct SkbRef<'a> {
    // INVARIANT: points to a valid `sk_buff` that the hook owns for `'a`.
    skb: NonNull<bindings::sk_buff>,
    _p: PhantomData<&'a mut bindings::sk_buff>,
}

/// `skb->ip_summed` values (`CHECKSUM_*`).
pub(crate) const CHECKSUM_PARTIAL: u8 = bindings::CHECKSUM_PARTIAL as u8;

/// `skb->pkt_type` of a frame addressed to this host.
pub(crate) const PACKET_HOST: u8 = bindings::PACKET_HOST as u8;

/// `skb->pkt_type` of a frame to a multicast MAC address.
pub(crate) const PACKET_MULTICAST: u8 = bindings::PACKET_MULTICAST as u8;

impl SkbRef<'_> {
    /// Wraps the `skb` argument of a hook function.
    ///
    /// # Safety
    ///
    /// `skb` must be null or a valid `sk_buff` that stays valid and is not
    /// freed while the returned value is in use (true for the duration of a
    /// netfilter hook call).
    pub(crate) unsafe fn from_raw(skb: *mut bindings::sk_buff) -> Option<Self> {
        // INVARIANT: non-null and valid per the function contract.
        NonNull::new(skb).map(|skb| Self {
            skb,
            _p: PhantomData,
        })
    }

    /// Total length of the packet data (linear part plus fragments).
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: `self.skb` is valid by the type invariant.
        unsafe { (*self.skb.as_ptr()).len }
    }

    /// The checksum state `skb->ip_summed` (`CHECKSUM_*`).
    pub(crate) fn ip_summed(&self) -> u8 {
        // SAFETY: `self.skb` is valid by the type invariant. The `headers`
        // group is a union of an anonymous struct and an identical named one
        // (`__struct_group`), so viewing it as the anonymous struct is always
        // valid; the bitfield accessor only reads the byte that holds it.
        unsafe {
            (*self.skb.as_ptr())
                .__bindgen_anon_4
                .__bindgen_anon_1
                .as_ref()
                .ip_summed()
        }
    }

    /// The link-layer packet class `skb->pkt_type` (`PACKET_*`).
    pub(crate) fn pkt_type(&self) -> u8 {
        // SAFETY: as in `ip_summed`.
        unsafe {
            (*self.skb.as_ptr())
                .__bindgen_anon_4
                .__bindgen_anon_1
                .as_ref()
                .pkt_type()
        }
    }

    /// Sets `skb->pkt_type`.
    ///
    /// Frames to the VIP arrive with a multicast MAC address, and TCP drops
    /// anything not marked `PACKET_HOST`; a flow this node owns is re-marked.
    pub(crate) fn set_pkt_type(&mut self, t: u8) {
        // SAFETY: `self.skb` is valid and this hook owns it (type invariant);
        // the union view is valid as in `ip_summed`, and the bitfield accessor
        // read-modify-writes only the byte that holds it.
        unsafe {
            (*self.skb.as_ptr())
                .__bindgen_anon_4
                .__bindgen_anon_1
                .as_mut()
                .set_pkt_type(t)
        }
    }

    /// Makes the first `len` bytes after `skb->data` linear and writable (the
    /// buffer may be reallocated or unshared), then lends them to `f`.
    ///
    /// Softirq or task context; never sleeps. Fails with `EINVAL` if the
    /// packet is shorter than `len`, `ENOMEM` if it could not be unshared.
    pub(crate) fn edit_head<R>(&mut self, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> Result<R> {
        let wlen = u32::try_from(len).map_err(|_| EINVAL)?;
        if wlen > self.len() {
            return Err(EINVAL);
        }
        // SAFETY: `self.skb` is valid and owned by this hook.
        let ret = unsafe { bindings::skb_ensure_writable(self.skb.as_ptr(), wlen) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        // SAFETY: `skb_ensure_writable()` succeeded, so the first `len` bytes
        // at `skb->data` are in the linear, private head and may be written.
        // No other reference to them exists while `f` runs (`&mut self`), and
        // nothing reallocates the head until `f` returns.
        let bytes = unsafe { core::slice::from_raw_parts_mut((*self.skb.as_ptr()).data, len) };
        Ok(f(bytes))
    }

    /// Offset of the network (IP) header from `skb->data`.
    pub(crate) fn network_offset(&self) -> i32 {
        // SAFETY: `self.skb` is valid by the type invariant.
        unsafe { bindings::skb_network_offset(self.skb.as_ptr()) }
    }

    /// Copies `buf.len()` bytes starting at `offset` (relative to `skb->data`)
    /// into `buf`. Fails with `EINVAL` if the packet is too short.
    pub(crate) fn read_at(&self, offset: i32, buf: &mut [u8]) -> Result {
        let len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: `self.skb` is valid; `buf` is a writable kernel buffer of
        // `len` bytes. `skb_copy_bits()` checks `offset + len` against
        // `skb->len` and copies from linear and paged data alike.
        let ret = unsafe {
            bindings::skb_copy_bits(self.skb.as_ptr(), offset, buf.as_mut_ptr().cast(), len)
        };
        if ret != 0 {
            return Err(EINVAL);
        }
        Ok(())
    }
}
