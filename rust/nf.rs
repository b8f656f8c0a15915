// SPDX-License-Identifier: GPL-2.0

//! Thin unsafe layer: registration of IPv4 netfilter hooks.
//!
//! A [`HookRegistration`] owns an array of `struct nf_hook_ops` in stable heap
//! memory, registers all of it in `init_net` at once, and unregisters it when
//! dropped. `nf_unregister_net_hooks()` waits (`synchronize_net()`) until no CPU
//! can still be running one of the hook functions, so the module text and the
//! state the hooks use outlive every invocation.
//!
//! Only the initial network namespace is hooked: the cluster nodes run the
//! service in `init_net`.
//!
//! Context: process context (module init and exit). Locks: none (the
//! netfilter core serialises registration itself).

use core::ptr::addr_of_mut;
use kernel::bindings;
use kernel::prelude::*;

/// Signature of a netfilter hook function (`nf_hookfn` in C).
///
/// It is called in softirq context on the receive path and in the sending
/// task's context on the output path; it must not sleep.
pub(crate) type HookFn = unsafe extern "C" fn(
    *mut core::ffi::c_void,
    *mut bindings::sk_buff,
    *const bindings::nf_hook_state,
) -> core::ffi::c_uint;

/// Which hook point, at which priority, runs which function.
#[derive(Clone, Copy)]
pub(crate) struct HookSpec {
    /// `NF_INET_*` hook number.
    pub(crate) hooknum: u32,
    /// Priority; lower runs first (`NF_IP_PRI_*`).
    pub(crate) priority: i32,
    /// The function to run.
    pub(crate) hook: HookFn,
}

/// Maximum number of hooks one registration holds.
pub(crate) const MAX_HOOKS: usize = 8;

/// A set of IPv4 hooks registered in `init_net`; unregistered on drop.
///
/// # Invariants
///
/// `ops`: the first `count` entries of `ops` are registered in `init_net` for
/// as long as this value lives, and `ops` never moves (it is pinned on the
/// heap) because the kernel keeps pointers into it.
pub(crate) struct HookRegistration {
    ops: Pin<KBox<[bindings::nf_hook_ops; MAX_HOOKS]>>,
    count: usize,
}

// SAFETY: the registration is only a handle: the kernel owns the hook lists,
// and dropping (unregistering) from any thread in process context is allowed.
unsafe impl Send for HookRegistration {}
// SAFETY: `&HookRegistration` gives no access to the ops at all.
unsafe impl Sync for HookRegistration {}

impl HookRegistration {
    /// Registers `specs` (at most [`MAX_HOOKS`]) all at once.
    ///
    /// Process context. Either every hook is registered or none is.
    pub(crate) fn new(specs: &[HookSpec]) -> Result<Self> {
        if specs.is_empty() || specs.len() > MAX_HOOKS {
            return Err(EINVAL);
        }
        let mut ops = KBox::pin([bindings::nf_hook_ops::default(); MAX_HOOKS], GFP_KERNEL)?;
        // `nf_hook_ops` is plain data (`Unpin`), so it may be filled in place.
        for (op, spec) in ops.iter_mut().zip(specs) {
            op.hook = Some(spec.hook);
            op.pf = bindings::NFPROTO_IPV4 as u8;
            op.hooknum = spec.hooknum;
            op.priority = spec.priority;
            op.priv_ = core::ptr::null_mut();
        }
        let count = specs.len();
        // SAFETY: `init_net` is the always-present initial namespace. `ops`
        // points to `count` initialised `nf_hook_ops` in pinned heap memory that
        // lives until `drop` unregisters them. The count fits in `c_uint`
        // (at most `MAX_HOOKS`).
        let ret = unsafe {
            bindings::nf_register_net_hooks(
                addr_of_mut!(bindings::init_net),
                ops.as_ptr(),
                count as u32,
            )
        };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registration succeeded for the first `count` entries.
        Ok(Self { ops, count })
    }
}

impl Drop for HookRegistration {
    /// Process context: unregistering may sleep.
    fn drop(&mut self) {
        let count = self.count;
        #[cfg(dts_fault = "leak_hook")]
        // Deliberate bug for the harness self-test: leave the last hook
        // registered so that its ops (and this module's text) are used after
        // they are freed. `make test` must detect this.
        let count = count - 1;
        // SAFETY: by the type invariant the first `self.count` ops are
        // registered in `init_net` and have not moved. Unregistering them waits
        // for running hooks to finish, after which the memory may be freed.
        unsafe {
            bindings::nf_unregister_net_hooks(
                addr_of_mut!(bindings::init_net),
                self.ops.as_ptr(),
                count as u32,
            )
        };
    }
}
