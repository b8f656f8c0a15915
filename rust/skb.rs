// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: a bounds-checked, read-only view of a socket buffer.
//!
//! Packet bytes are never read through raw pointers outside this file: header
//! bytes are copied into a caller's buffer with `skb_copy_bits()`, which walks
//! paged and fragmented buffers and refuses to read past the end. The pure
//! parsers in [`crate::pure`] then work on those bytes. To rewrite headers,
//! [`SkbRef::edit_head`] first makes the bytes linear, private and writable
//! (`skb_ensure_writable()`), then lends them out as a bounded `&mut [u8]`.
//!
//! Context: the hook that owns the buffer (softirq, or the sending task
//! with bottom halves possibly enabled); nothing here sleeps. Locks: none.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::bindings;
use kernel::prelude::*;

/// A borrowed `struct sk_buff` inside a netfilter hook.
///
/// # Invariants
///
/// `skb`: points to a valid `sk_buff` that the hook owns for `'a`.
pub(crate) struct SkbRef<'a> {
    skb: NonNull<bindings::sk_buff>,
    _p: PhantomData<&'a mut bindings::sk_buff>,
}

/// `skb->ip_summed` values (`CHECKSUM_*`).
pub(crate) const CHECKSUM_PARTIAL: u8 = bindings::CHECKSUM_PARTIAL as u8;

/// `CHECKSUM_COMPLETE`: the device summed the received packet (`skb->csum`).
pub(crate) const CHECKSUM_COMPLETE: u8 = bindings::CHECKSUM_COMPLETE as u8;

/// `CHECKSUM_NONE`: the stack verifies the checksum in software.
pub(crate) const CHECKSUM_NONE: u8 = bindings::CHECKSUM_NONE as u8;

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

    /// The buffer's address: its identity while it is alive (compared with
    /// the one [`crate::xmit::inject_marked`] records).
    pub(crate) fn addr(&self) -> usize {
        self.skb.as_ptr() as usize
    }

    /// Total length of the packet data (linear part plus fragments).
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: `self.skb` is valid by the type invariant.
        unsafe { (*self.skb.as_ptr()).len }
    }

    /// The checksum state `skb->ip_summed` (`CHECKSUM_*`).
    pub(crate) fn ip_summed(&self) -> u8 {
        // SAFETY: `self.skb` is valid by the type invariant; the helper
        // reads one bitfield.
        unsafe { bindings::skb_ip_summed(self.skb.as_ptr()) }
    }

    /// The link-layer packet class `skb->pkt_type` (`PACKET_*`).
    pub(crate) fn pkt_type(&self) -> u8 {
        // SAFETY: `self.skb` is valid by the type invariant; the helper
        // reads one bitfield.
        unsafe { bindings::skb_pkt_type(self.skb.as_ptr()) }
    }

    /// Sets `skb->pkt_type`.
    ///
    /// Frames to the VIP arrive with a multicast MAC address, and TCP drops
    /// anything not marked `PACKET_HOST`; a flow this node owns is re-marked.
    pub(crate) fn set_pkt_type(&mut self, t: u8) {
        // SAFETY: `self.skb` is valid and this hook owns it (type invariant),
        // so nothing else writes its fields meanwhile.
        unsafe { bindings::skb_set_pkt_type(self.skb.as_ptr(), t) }
    }

    /// Sets the checksum state (`CHECKSUM_NONE`, ...).
    pub(crate) fn set_ip_summed(&mut self, v: u8) {
        // SAFETY: `self.skb` is valid and this hook owns it (type invariant),
        // so nothing else writes its fields meanwhile.
        unsafe { bindings::skb_set_ip_summed(self.skb.as_ptr(), v) }
    }

    /// Appends `n` bytes at the end of a linear buffer (a SYN without
    /// payload), reallocating the head if it is shared or has no room. The
    /// new bytes are uninitialised for the protocol: the caller writes them.
    /// Softirq or task context; never sleeps. `EINVAL` for a non-linear
    /// buffer, `ENOMEM` if the head could not be reallocated.
    pub(crate) fn grow_tail(&mut self, n: u32) -> Result {
        let skb = self.skb.as_ptr();
        // SAFETY: `skb` is valid; plain field reads.
        if unsafe { (*skb).data_len } != 0 {
            return Err(EINVAL);
        }
        // SAFETY: `skb` is valid and not shared (a hook owns it); an
        // expansion by `n` bytes of tailroom keeps the data and the header
        // offsets, and leaves the head private (unclones it).
        let ret = unsafe { bindings::pskb_expand_head(skb, 0, n as _, bindings::GFP_ATOMIC) };
        if ret != 0 {
            return Err(ENOMEM);
        }
        // SAFETY: the buffer is linear with at least `n` bytes of tailroom.
        unsafe { bindings::skb_put(skb, n) };
        Ok(())
    }

    /// Routes the packet again after its destination changed on the send
    /// path (`LOCAL_OUT`), like NAT does. Task or softirq context.
    ///
    /// # Safety
    ///
    /// `net` and `sk` must be the hook state's namespace and socket (either
    /// may be null only where the hook state has them null).
    pub(crate) unsafe fn route_me_harder(
        &mut self,
        net: *mut bindings::net,
        sk: *mut bindings::sock,
    ) -> Result {
        // SAFETY: `skb` is valid; `net` and `sk` per the function contract.
        let ret = unsafe {
            bindings::ip_route_me_harder(net, sk, self.skb.as_ptr(), bindings::RTN_UNSPEC)
        };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
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

    /// The device the buffer arrived on (receive path) or leaves by.
    pub(crate) fn dev(&self) -> *mut bindings::net_device {
        // SAFETY: `self.skb` is valid by the type invariant; the helper
        // reads one pointer.
        unsafe { bindings::skb_dev(self.skb.as_ptr()) }
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
