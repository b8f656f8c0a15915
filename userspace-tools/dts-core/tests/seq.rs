//! Tests of `dts_core::seq` against the kernel's semantics and an i64/u64
//! reference model.

use dts_core::seq::{after, after_eq, before, before_eq, between, diff, Seq, SeqDelta};
use proptest::prelude::*;

const HALF: u32 = 1 << 31;
const MOD: i64 = 1 << 32;

/// Reference: `(a - b) mod 2^32`, computed in i64.
fn ref_mod_diff(a: u32, b: u32) -> u64 {
    (i64::from(a) - i64::from(b)).rem_euclid(MOD) as u64
}

/// Reference: signed distance in `[-2^31, 2^31)`.
fn ref_diff(a: u32, b: u32) -> i64 {
    let d = ref_mod_diff(a, b) as i64;
    if d >= 1 << 31 {
        d - MOD
    } else {
        d
    }
}

fn ref_add(a: u32, delta: i64) -> u32 {
    (i64::from(a) + delta).rem_euclid(MOD) as u32
}

#[test]
fn before_after_basics() {
    assert!(before(0, 1));
    assert!(!before(1, 0));
    assert!(after(1, 0));
    assert!(!before(7, 7));
    assert!(!after(7, 7));
    assert!(before_eq(7, 7));
    assert!(after_eq(7, 7));
}

#[test]
fn wraparound_at_2_pow_32() {
    assert!(before(u32::MAX, 0));
    assert!(after(0, u32::MAX));
    assert!(before(u32::MAX - 10, 5));
    assert!(after(5, u32::MAX - 10));
    assert_eq!(diff(0, u32::MAX), 1);
    assert_eq!(diff(u32::MAX, 0), -1);
    assert_eq!(diff(5, u32::MAX - 10), 16);
    assert_eq!(Seq(u32::MAX).wrapping_add(1), Seq(0));
    assert_eq!(Seq(0).wrapping_sub(1), Seq(u32::MAX));
    assert_eq!(Seq(3).wrapping_add_signed(-5), Seq(u32::MAX - 1));
    assert_eq!(Seq(u32::MAX - 1).wrapping_add_signed(5), Seq(3));
    assert_eq!(Seq(3).distance_from(Seq(u32::MAX - 1)), 5);
}

#[test]
fn around_2_pow_31() {
    // Just below half the space: ordered.
    assert!(before(0, HALF - 1));
    assert!(!before(HALF - 1, 0));
    assert_eq!(diff(HALF - 1, 0), i32::MAX);
    assert_eq!(diff(0, HALF - 1), -i32::MAX);
    // Just above half the space: the order flips.
    assert!(before(HALF + 1, 0));
    assert!(after(0, HALF + 1));
    // Exactly half: both are before (and after) each other, as in tcp.h.
    assert_eq!(diff(HALF, 0), i32::MIN);
    assert_eq!(diff(0, HALF), i32::MIN);
    assert!(before(0, HALF) && before(HALF, 0));
    assert!(after(0, HALF) && after(HALF, 0));
    assert!(before_eq(0, HALF) && after_eq(0, HALF));
}

#[test]
fn between_kernel_semantics() {
    // Inclusive on both ends.
    assert!(between(10, 10, 20));
    assert!(between(20, 10, 20));
    assert!(between(15, 10, 20));
    assert!(!between(9, 10, 20));
    assert!(!between(21, 10, 20));
    // A window wrapping around 2^32.
    assert!(between(u32::MAX, u32::MAX - 5, 10));
    assert!(between(0, u32::MAX - 5, 10));
    assert!(between(10, u32::MAX - 5, 10));
    assert!(!between(11, u32::MAX - 5, 10));
    assert!(!between(u32::MAX - 6, u32::MAX - 5, 10));
    // Empty-width window contains only its bound.
    assert!(between(42, 42, 42));
    assert!(!between(43, 42, 42));
    // `high` before `low` is a huge wrapping window, not an empty one.
    assert!(between(5, 10, 9));
    assert!(Seq(15).between(Seq(10), Seq(20)));
}

#[test]
fn seq_delta_basics() {
    let d = SeqDelta::from_isns(Seq(u32::MAX - 1), Seq(5));
    assert_eq!(d.offset(), 7);
    assert_eq!(d.signed_offset(), 7);
    assert_eq!(d.apply(Seq(u32::MAX - 1)), Seq(5));
    assert_eq!(d.apply(Seq(u32::MAX)), Seq(6));
    assert_eq!(d.unapply(Seq(5)), Seq(u32::MAX - 1));
    assert_eq!(d.unapply(Seq(0)), Seq(u32::MAX - 6));
    let back = SeqDelta::from_isns(Seq(5), Seq(u32::MAX - 1));
    assert_eq!(back, d.inverse());
    assert_eq!(back.signed_offset(), -7);
    assert!(d.compose(back).is_identity());
    assert_eq!(SeqDelta::default(), SeqDelta::IDENTITY);
    assert_eq!(SeqDelta::from_offset(7), d);
}

#[test]
fn conversions() {
    assert_eq!(Seq::from(9u32), Seq::new(9));
    assert_eq!(u32::from(Seq(9)), 9);
    assert_eq!(Seq(9).get(), 9);
}

fn any_delta() -> impl Strategy<Value = SeqDelta> {
    any::<u32>().prop_map(SeqDelta::from_offset)
}

/// Values concentrated around the interesting points 0, 2^31 and 2^32.
fn edgy_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (0u32..64).prop_map(|d| d.wrapping_sub(32)),
        (0u32..64).prop_map(|d| HALF.wrapping_add(d).wrapping_sub(32)),
    ]
}

proptest! {
    #[test]
    fn diff_matches_reference(a in edgy_u32(), b in edgy_u32()) {
        prop_assert_eq!(i64::from(diff(a, b)), ref_diff(a, b));
        prop_assert_eq!(Seq(a).diff(Seq(b)), diff(a, b));
    }

    #[test]
    fn before_after_match_reference(a in edgy_u32(), b in edgy_u32()) {
        let d = ref_mod_diff(a, b);
        prop_assert_eq!(before(a, b), d >= 1 << 31);
        prop_assert_eq!(after(a, b), d != 0 && d <= 1 << 31);
        prop_assert_eq!(before_eq(a, b), before(a, b) || a == b);
        prop_assert_eq!(after_eq(a, b), after(a, b) || a == b);
        prop_assert_eq!(Seq(a).before(Seq(b)), before(a, b));
        prop_assert_eq!(Seq(a).after(Seq(b)), after(a, b));
        prop_assert_eq!(Seq(a).before_eq(Seq(b)), before_eq(a, b));
        prop_assert_eq!(Seq(a).after_eq(Seq(b)), after_eq(a, b));
    }

    #[test]
    fn before_after_antisymmetric(a in edgy_u32(), b in edgy_u32()) {
        prop_assert_eq!(after(a, b), before(b, a));
        if a != b && a.wrapping_sub(b) != HALF {
            // Exactly one direction holds.
            prop_assert!(before(a, b) != before(b, a));
            prop_assert!(after(a, b) != after(b, a));
            // And the `_eq` forms agree with the kernel's negations.
            prop_assert_eq!(before_eq(a, b), !after(a, b));
            prop_assert_eq!(after_eq(a, b), !before(a, b));
        }
        if a == b {
            prop_assert!(!before(a, b) && !after(a, b));
        }
    }

    #[test]
    fn between_matches_reference(seq in edgy_u32(), low in edgy_u32(), high in edgy_u32()) {
        let expected = ref_mod_diff(seq, low) <= ref_mod_diff(high, low);
        prop_assert_eq!(between(seq, low, high), expected);
        prop_assert_eq!(Seq(seq).between(Seq(low), Seq(high)), expected);
        // Both bounds are inclusive.
        prop_assert!(between(low, low, high));
        prop_assert!(between(high, low, high));
    }

    #[test]
    fn between_is_translation_invariant(
        seq in edgy_u32(), low in edgy_u32(), high in edgy_u32(), d in any_delta(),
    ) {
        let t = |x: u32| d.apply(Seq(x));
        prop_assert_eq!(t(seq).between(t(low), t(high)), between(seq, low, high));
    }

    #[test]
    fn wrapping_add_matches_reference(a in edgy_u32(), n in any::<u32>(), s in any::<i32>()) {
        prop_assert_eq!(Seq(a).wrapping_add(n).get(), ref_add(a, i64::from(n)));
        prop_assert_eq!(Seq(a).wrapping_sub(n).get(), ref_add(a, -i64::from(n)));
        prop_assert_eq!(Seq(a).wrapping_add_signed(s).get(), ref_add(a, i64::from(s)));
        prop_assert_eq!(Seq(a).wrapping_add(n).wrapping_sub(n), Seq(a));
    }

    #[test]
    fn diff_inverts_add(a in edgy_u32(), b in edgy_u32()) {
        prop_assert_eq!(Seq(a).wrapping_add_signed(diff(b, a)), Seq(b));
        prop_assert_eq!(Seq(a).wrapping_add(Seq(b).distance_from(Seq(a))), Seq(b));
    }

    #[test]
    fn small_signed_steps_order(a in edgy_u32(), s in 1i32..i32::MAX) {
        // Moving forwards by less than 2^31 is always "after".
        prop_assert!(Seq(a).wrapping_add_signed(s).after(Seq(a)));
        prop_assert!(Seq(a).wrapping_add_signed(-s).before(Seq(a)));
    }

    #[test]
    fn delta_from_isns_matches_reference(from in edgy_u32(), to in edgy_u32(), s in edgy_u32()) {
        let d = SeqDelta::from_isns(Seq(from), Seq(to));
        prop_assert_eq!(d.apply(Seq(from)), Seq(to));
        prop_assert_eq!(d.unapply(Seq(to)), Seq(from));
        let offset = i64::from(to) - i64::from(from);
        prop_assert_eq!(d.apply(Seq(s)).get(), ref_add(s, offset));
        prop_assert_eq!(d.unapply(Seq(s)).get(), ref_add(s, -offset));
        prop_assert_eq!(i64::from(d.signed_offset()), ref_diff(to, from));
    }

    #[test]
    fn delta_apply_unapply_identity(d in any_delta(), s in edgy_u32()) {
        prop_assert_eq!(d.unapply(d.apply(Seq(s))), Seq(s));
        prop_assert_eq!(d.apply(d.unapply(Seq(s))), Seq(s));
        prop_assert_eq!(d.inverse().apply(Seq(s)), d.unapply(Seq(s)));
        prop_assert!(d.compose(d.inverse()).is_identity());
        prop_assert_eq!(SeqDelta::IDENTITY.apply(Seq(s)), Seq(s));
    }

    #[test]
    fn delta_compose_consistent(d1 in any_delta(), d2 in any_delta(), d3 in any_delta(), s in edgy_u32()) {
        let seq = Seq(s);
        prop_assert_eq!(d1.compose(d2).apply(seq), d2.apply(d1.apply(seq)));
        prop_assert_eq!(d1.compose(d2).unapply(seq), d1.unapply(d2.unapply(seq)));
        prop_assert_eq!(d1.compose(d2).compose(d3), d1.compose(d2.compose(d3)));
        prop_assert_eq!(d1.compose(SeqDelta::IDENTITY), d1);
        // Chaining ISN translations a -> b -> c equals a -> c.
        let (a, b, c) = (Seq(s), d1.apply(Seq(s)), d2.apply(Seq(s)));
        let ab = SeqDelta::from_isns(a, b);
        let bc = SeqDelta::from_isns(b, c);
        prop_assert_eq!(ab.compose(bc), SeqDelta::from_isns(a, c));
    }

    #[test]
    fn delta_preserves_order(d in any_delta(), a in edgy_u32(), b in edgy_u32()) {
        let (ta, tb) = (d.apply(Seq(a)), d.apply(Seq(b)));
        prop_assert_eq!(ta.before(tb), before(a, b));
        prop_assert_eq!(ta.diff(tb), diff(a, b));
    }
}
