// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: the module's `nf_sockopt_ops` range.
//!
//! `dtsctl` (and later the proxies) talk to the module through
//! `getsockopt()`/`setsockopt()` at level `IPPROTO_IP` on any `AF_INET` socket,
//! with option names in `[DTS_SO_BASE, DTS_SO_MAX)`, the way `ipvsadm` talks to
//! IPVS. The IPv4 socket layer hands unknown option names to
//! `nf_{get,set}sockopt()`, which finds this registration and calls
//! [`get_trampoline`]/[`set_trampoline`] in process context, holding a
//! reference on this module (`ops->owner`) for the duration of the call.
//!
//! This file owns every raw pointer of that path: it turns the user buffers
//! into safe [`UserOut`]/[`UserIn`] handles and the socket into a [`Caller`],
//! then calls the safe [`Handler`] the registration was made for. Errors are
//! returned to user space as negative errno values.
//!
//! [`Caller`] also answers who is calling, for the services' grants
//! (`crate::ctl`): the task's filesystem uid as the initial user namespace
//! numbers it, read from the task's own subjective credentials as
//! `current_cred()` does ([`Caller::host_fsuid`]), and group membership
//! through the exported `in_group_p()` ([`Caller::in_group`]).
//!
//! Locks: none of its own (the netfilter sockopt mutex is taken and
//! released by the core before the call); the credentials need none (only
//! the task itself replaces them).

use core::ffi::{c_int, c_uint, c_void};
use kernel::bindings;
use kernel::prelude::*;

use crate::pure::abi::{DTS_SO_BASE, DTS_SO_MAX};

/// The safe handler behind the socket-option range. Process context.
pub(crate) trait Handler {
    /// `getsockopt()`: write the answer through `out`; return bytes written.
    fn get(caller: &Caller, optval: i32, out: &mut UserOut) -> Result<usize>;
    /// `setsockopt()`: read the argument from `arg`.
    fn set(caller: &Caller, optval: i32, arg: &UserIn) -> Result;
}

/// The socket a socket-option call arrived on.
///
/// # Invariants
///
/// `sk`: a valid `struct sock` for the duration of the call.
pub(crate) struct Caller {
    sk: *mut bindings::sock,
}

impl Caller {
    /// The socket the option is set or read on. It is valid for the
    /// duration of the call.
    pub(crate) fn sock(&self) -> *mut bindings::sock {
        self.sk
    }

    /// Whether the caller may use the module: its socket belongs to the
    /// initial network namespace and the calling task holds `CAP_NET_ADMIN`
    /// in the initial user namespace (`capable()`).
    ///
    /// The module's state (configuration, flow table, mesh) is global and
    /// hooked in `init_net` only, so a capability that is only valid inside
    /// a namespace the caller created (`unshare -Urn`) must not reach it:
    /// `ns_capable(sock_net(sk)->user_ns, ...)` would be true there. Process
    /// context.
    pub(crate) fn is_host_admin(&self) -> bool {
        // SAFETY: `self.sk` is valid by the type invariant, so `sock_net()`
        // returns its live namespace; `init_net` is a static that lives as
        // long as the kernel, and only its address is taken.
        let in_init_net =
            unsafe { bindings::sock_net(self.sk) == core::ptr::addr_of_mut!(bindings::init_net) };
        // SAFETY: `capable()` checks the current task's credentials; it may be
        // called from process context, which socket options run in.
        in_init_net && unsafe { bindings::capable(bindings::CAP_NET_ADMIN as c_int) }
    }

    /// The caller's filesystem uid, as the initial user namespace numbers
    /// it, if its socket belongs to the initial network namespace and its
    /// credentials to the initial user namespace; `None` otherwise (a task
    /// in a user namespace it created, `unshare -Urn`, gets `None` whatever
    /// its ids: a service's grant names ids of the host). Process context.
    pub(crate) fn host_fsuid(&self) -> Option<u32> {
        // SAFETY: as in `is_host_admin`.
        let in_init_net =
            unsafe { bindings::sock_net(self.sk) == core::ptr::addr_of_mut!(bindings::init_net) };
        if !in_init_net {
            return None;
        }
        let init_ns = core::ptr::addr_of_mut!(bindings::init_user_ns);
        // SAFETY: `get_current()` returns the task running this call, valid
        // while it runs. Its subjective credentials (`cred`, what
        // `current_cred()` reads) are only replaced by the task itself
        // (`commit_creds()`, `override_creds()`), which cannot happen while
        // it is in this call, so the pointer and the `cred` it points to are
        // valid until the call returns without RCU or a reference, as for
        // `current_cred()`. `init_user_ns` is a static; only its address is
        // taken.
        let (user_ns, fsuid) = unsafe {
            let cred = (*bindings::get_current()).cred;
            ((*cred).user_ns, (*cred).fsuid)
        };
        if user_ns != init_ns {
            return None;
        }
        // SAFETY: `init_ns` is the initial user namespace, which lives as
        // long as the kernel; `from_kuid()` only reads its id map.
        let uid = unsafe { bindings::from_kuid(init_ns, fsuid) };
        // `(uid_t)-1`: no mapping (never in the initial namespace).
        (uid != u32::MAX).then_some(uid)
    }

    /// Whether `gid`, a gid of the initial user namespace, is the caller's
    /// filesystem gid or one of its supplementary groups (`in_group_p()`).
    /// `false` for the invalid id `u32::MAX`. Process context.
    pub(crate) fn in_group(&self, gid: u32) -> bool {
        let init_ns = core::ptr::addr_of_mut!(bindings::init_user_ns);
        // SAFETY: `init_ns` is a static that lives as long as the kernel;
        // `make_kgid()` only reads its id map.
        let kgid = unsafe { bindings::make_kgid(init_ns, gid) };
        // `INVALID_GID` (`(gid_t)-1`): no such group.
        if kgid.val == u32::MAX {
            return false;
        }
        // SAFETY: `in_group_p()` reads the current task's own credentials
        // (`current_cred()`), which is allowed in process context.
        unsafe { bindings::in_group_p(kgid) != 0 }
    }
}

/// A user-space output buffer of a `getsockopt()` call.
///
/// # Invariants
///
/// `ptr` is the `__user` buffer of the current call and `len` is the
/// length user space claimed for it (never negative).
pub(crate) struct UserOut {
    ptr: *mut c_void,
    len: usize,
}

impl UserOut {
    /// The length user space offered.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies `data` to the start of the buffer.
    ///
    /// Fails with `EINVAL` if it does not fit and `EFAULT` if the user memory
    /// is not writable. Process context (may fault and sleep).
    pub(crate) fn write(&mut self, data: &[u8]) -> Result {
        self.write_at(0, data)
    }

    /// Copies `data` to the buffer at byte `offset`.
    ///
    /// Fails with `EINVAL` if it does not fit and `EFAULT` if the user memory
    /// is not writable. Process context (may fault and sleep).
    pub(crate) fn write_at(&mut self, offset: usize, data: &[u8]) -> Result {
        let end = offset.checked_add(data.len()).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
        }
        // INVARIANT: `offset + data.len() <= self.len`, so the destination
        // stays inside the buffer user space claimed.
        let dst = self.ptr.cast::<u8>().wrapping_add(offset).cast::<c_void>();
        // SAFETY: `data` is a valid kernel slice; `dst` is a user pointer
        // with at least `data.len()` bytes claimed by the caller (checked
        // above). `copy_to_user()` checks the user range itself and may fault
        // safely (process context).
        let left = unsafe { bindings::copy_to_user(dst, data.as_ptr().cast(), data.len() as _) };
        if left != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }
}

/// The argument of a `setsockopt()` call (a user or kernel `sockptr_t`).
///
/// # Invariants
///
/// `arg` is the argument of the current call, `len` its length.
pub(crate) struct UserIn {
    arg: bindings::sockptr_t,
    len: usize,
}

impl UserIn {
    /// The argument's length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies the whole argument into `buf`, which must be exactly as long.
    pub(crate) fn read_exact(&self, buf: &mut [u8]) -> Result {
        if buf.len() != self.len {
            return Err(EINVAL);
        }
        // SAFETY: `buf` is a valid, writable kernel slice of `self.len` bytes;
        // `self.arg` is the call's argument of that length, and
        // `copy_from_sockptr()` checks and copies user memory safely.
        let ret =
            unsafe { bindings::copy_from_sockptr(buf.as_mut_ptr().cast(), self.arg, buf.len()) };
        if ret != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }
}

/// A registered `nf_sockopt_ops`; unregistered on drop.
///
/// # Invariants
///
/// `ops` is registered with `nf_register_sockopt()` for as long as this
/// value lives and never moves (the kernel links it into a list).
pub(crate) struct Registration {
    ops: Pin<KBox<bindings::nf_sockopt_ops>>,
}

// SAFETY: only a handle; unregistering is allowed from any process context.
unsafe impl Send for Registration {}
// SAFETY: `&Registration` gives no access to the ops.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers the DTS option range, served by `T`. Process context.
    pub(crate) fn new<T: Handler>(module: &'static ThisModule) -> Result<Self> {
        let mut ops = KBox::pin(bindings::nf_sockopt_ops::default(), GFP_KERNEL)?;
        ops.pf = bindings::NFPROTO_IPV4 as u8;
        ops.set_optmin = DTS_SO_BASE;
        ops.set_optmax = DTS_SO_MAX;
        ops.set = Some(set_trampoline::<T>);
        ops.get_optmin = DTS_SO_BASE;
        ops.get_optmax = DTS_SO_MAX;
        ops.get = Some(get_trampoline::<T>);
        // The core takes a reference on this module around every call.
        ops.owner = module.as_ptr();
        // SAFETY: `ops` is fully initialised, pinned on the heap and stays
        // registered until `drop`.
        let ret = unsafe { bindings::nf_register_sockopt(&mut *ops) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(Self { ops })
    }
}

impl Drop for Registration {
    /// Process context.
    fn drop(&mut self) {
        // SAFETY: registered by `new` (type invariant). Unregistering takes
        // the sockopt mutex, so no new call can start; calls already running
        // hold a module reference, so `rmmod` cannot get here while one runs.
        unsafe { bindings::nf_unregister_sockopt(&mut *self.ops) };
    }
}

/// Converts a handler result to the C convention (0 or a negative errno).
fn to_ret(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `nf_sockopt_ops::get`. Process context; the module is pinned by the core.
///
/// # Safety
///
/// Called by `nf_getsockopt()` with a valid socket, the caller's user buffer
/// and a valid pointer to its length.
unsafe extern "C" fn get_trampoline<T: Handler>(
    sk: *mut bindings::sock,
    optval: c_int,
    user: *mut c_void,
    len: *mut c_int,
) -> c_int {
    // SAFETY: `len` is valid for reads and writes per the function contract.
    let claimed = unsafe { *len };
    let Ok(claimed) = usize::try_from(claimed) else {
        return EINVAL.to_errno();
    };
    // INVARIANT: `sk` is valid for the call; `user`/`claimed` are the call's
    // buffer and its non-negative length.
    let caller = Caller { sk };
    let mut out = UserOut {
        ptr: user,
        len: claimed,
    };
    match T::get(&caller, optval, &mut out) {
        Ok(written) => {
            // `written <= claimed <= c_int::MAX`, so this cannot truncate.
            // SAFETY: as above.
            unsafe { *len = written as c_int };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `nf_sockopt_ops::set`. Process context; the module is pinned by the core.
///
/// # Safety
///
/// Called by `nf_setsockopt()` with a valid socket and the caller's argument.
unsafe extern "C" fn set_trampoline<T: Handler>(
    sk: *mut bindings::sock,
    optval: c_int,
    arg: bindings::sockptr_t,
    len: c_uint,
) -> c_int {
    // INVARIANT: `sk` is valid for the call; `arg`/`len` are its argument.
    let caller = Caller { sk };
    let input = UserIn {
        arg,
        len: len as usize,
    };
    to_ret(T::set(&caller, optval, &input))
}
