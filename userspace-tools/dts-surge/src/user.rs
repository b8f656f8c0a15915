// SPDX-License-Identifier: GPL-2.0
//! A SURGE user-equivalent: an ON/OFF process over a reference stream.
//!
//! A user alternates ON periods and inactive OFF (think) times. In an ON
//! period it requests the files of one page, ⌊Pareto⌋ of them (the base file
//! and its embedded references), one after the other, with an active OFF
//! time (Weibull) between two of them; after the last one it thinks
//! (Pareto). The files come from the user's own [`StackStream`]. Each user
//! draws from two streams of its own, (seed, "user-refs", user) for the
//! files and (seed, "user-session", user) for the ON/OFF process, so its
//! requests do not depend on the other users, on time or on the session
//! parameters' effect on timing.

use std::fmt::Write as _;

use crate::dist::{Session, SessionParams};
use crate::locality::{LocalityParams, StackStream};
use crate::manifest::Manifest;
use crate::seed::{self, SurgeRng};
use crate::Result;

/// What every user shares: the file set and the model parameters.
#[derive(Clone, Debug)]
pub struct UserModel {
    names: Vec<String>,
    sizes: Vec<u64>,
    rank_to_file: Vec<usize>,
    zipf_alpha: f64,
    locality: LocalityParams,
    session: SessionParams,
}

impl UserModel {
    /// The model of `manifest`'s files (popularity from its ranks and Zipf
    /// exponent) with `locality` and `session` (validated).
    pub fn new(
        manifest: &Manifest,
        locality: LocalityParams,
        session: SessionParams,
    ) -> Result<UserModel> {
        locality.validate()?;
        session.validate()?;
        Ok(UserModel {
            names: manifest.files.iter().map(|f| f.name.clone()).collect(),
            sizes: manifest.files.iter().map(|f| f.size).collect(),
            rank_to_file: manifest.rank_to_file(),
            zipf_alpha: manifest.parameters.zipf_alpha,
            locality,
            session,
        })
    }

    /// Name of file `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Size of file `i` in bytes, per the manifest.
    pub fn size(&self, i: usize) -> u64 {
        self.sizes[i]
    }

    /// Number of files.
    pub fn files(&self) -> usize {
        self.names.len()
    }

    /// User `index`'s process under `seed`.
    pub fn user(&self, seed: u64, index: u32) -> Result<User> {
        Ok(User {
            index,
            seq: 0,
            left_in_page: 0,
            refs_rng: seed::rng(seed, seed::USER_REFS, u64::from(index)),
            session_rng: seed::rng(seed, seed::USER_SESSION, u64::from(index)),
            stream: StackStream::new(self.rank_to_file.clone(), self.zipf_alpha, self.locality)?,
            session: Session::new(self.session)?,
        })
    }
}

/// One request of a user.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The user.
    pub user: u32,
    /// The request's number in the user's sequence, from 0.
    pub seq: u64,
    /// The file: an index into the manifest's files.
    pub file: usize,
    /// Whether it is the first file of a page (the base file).
    pub page_start: bool,
    /// The OFF time that follows the request's response, in seconds (times
    /// `think_scale`): active OFF inside a page, inactive OFF after its last
    /// file.
    pub off_after_s: f64,
}

/// One user's process (see the module documentation).
#[derive(Clone, Debug)]
pub struct User {
    index: u32,
    seq: u64,
    left_in_page: u32,
    refs_rng: SurgeRng,
    session_rng: SurgeRng,
    stream: StackStream,
    session: Session,
}

impl User {
    /// The user's next request.
    pub fn next_request(&mut self) -> Request {
        let page_start = self.left_in_page == 0;
        if page_start {
            self.left_in_page = self.session.page_files(&mut self.session_rng);
        }
        let file = self.stream.next_file(&mut self.refs_rng);
        self.left_in_page -= 1;
        let off_after_s = if self.left_in_page > 0 {
            self.session.active_off(&mut self.session_rng)
        } else {
            self.session.think(&mut self.session_rng)
        };
        let r = Request {
            user: self.index,
            seq: self.seq,
            file,
            page_start,
            off_after_s,
        };
        self.seq += 1;
        r
    }
}

/// The first `count` requests of each of `users` users under `seed`, as the
/// `trace` subcommand prints them: one line `user seq name off_time_ms` per
/// request (OFF time after the request, milliseconds, 3 decimals), user by
/// user.
pub fn trace(model: &UserModel, seed: u64, users: u32, count: u64) -> Result<String> {
    let mut out = String::new();
    for u in 0..users {
        let mut user = model.user(seed, u)?;
        for _ in 0..count {
            let r = user.next_request();
            writeln!(
                out,
                "{} {} {} {:.3}",
                r.user,
                r.seq,
                model.name(r.file),
                r.off_after_s * 1000.0
            )
            .expect("writing to a String cannot fail");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::SizeParams;
    use crate::manifest::{plan, FileEntry, FileSetParams, MANIFEST_VERSION};
    use proptest::prelude::*;

    fn manifest(seed: u64, count: u64) -> Manifest {
        let parameters = FileSetParams {
            count,
            zipf_alpha: 1.0,
            sizes: SizeParams::default(),
        };
        Manifest {
            version: MANIFEST_VERSION,
            seed,
            parameters,
            files: plan(seed, &parameters)
                .unwrap()
                .into_iter()
                .map(|p| FileEntry {
                    name: p.name,
                    size: p.size,
                    sha256: String::new(),
                    rank: p.rank,
                })
                .collect(),
        }
    }

    fn model(count: u64, session: SessionParams) -> UserModel {
        UserModel::new(&manifest(1, count), LocalityParams::default(), session).unwrap()
    }

    #[test]
    fn users_are_independent_of_each_other() {
        let m = model(50, SessionParams::default());
        let t4 = trace(&m, 7, 4, 30).unwrap();
        let t2 = trace(&m, 7, 2, 30).unwrap();
        assert!(
            t4.starts_with(&t2),
            "users 0 and 1 do not depend on the number of users"
        );
        assert_ne!(trace(&m, 8, 2, 30).unwrap(), t2);
        let lines: Vec<&str> = t4.lines().collect();
        assert_eq!(lines.len(), 120);
        assert!(lines[0].starts_with("0 0 f"), "{}", lines[0]);
        assert!(lines[119].starts_with("3 29 f"), "{}", lines[119]);
    }

    #[test]
    fn files_do_not_depend_on_session_parameters() {
        let a = model(50, SessionParams::default());
        let b = model(
            50,
            SessionParams {
                think_scale: 0.01,
                active_off_scale: 2.0,
                ..SessionParams::default()
            },
        );
        let names = |m: &UserModel| -> Vec<String> {
            trace(m, 3, 2, 100)
                .unwrap()
                .lines()
                .map(|l| l.split(' ').nth(2).unwrap().to_string())
                .collect()
        };
        assert_eq!(names(&a), names(&b));
    }

    #[test]
    fn pages_alternate_active_and_think() {
        let m = model(50, SessionParams::default());
        let mut u = m.user(1, 0).unwrap();
        let reqs: Vec<Request> = (0..2000).map(|_| u.next_request()).collect();
        assert!(reqs[0].page_start);
        let pages = reqs.iter().filter(|r| r.page_start).count();
        // Mean files per page: ζ(2.43) ≈ 1.37.
        let mean = reqs.len() as f64 / pages as f64;
        assert!((mean - 1.37).abs() < 0.1, "files per page {mean}");
        // The last request of a page is followed by a think time (≥ 1 s).
        for w in reqs.windows(2) {
            if w[1].page_start {
                assert!(w[0].off_after_s >= 1.0);
            }
        }
    }

    #[test]
    fn trace_is_pinned() {
        // The reproducibility promise: this trace is the same on every
        // machine and in every later version that keeps manifest version 1.
        let m = model(20, SessionParams::default());
        assert_eq!(trace(&m, 5, 2, 4).unwrap(), PINNED_TRACE);
    }

    const PINNED_TRACE: &str = "\
0 0 f0002 1085.291
0 1 f0019 103.933
0 2 f0003 1741.875
0 3 f0004 350.865
1 0 f0001 1290.737
1 1 f0017 450.732
1 2 f0019 5127.631
1 3 f0002 445.301
";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn trace_is_deterministic(seed: u64, users in 1u32..4, count in 0u64..50) {
            let m = model(30, SessionParams::default());
            prop_assert_eq!(trace(&m, seed, users, count).unwrap(), trace(&m, seed, users, count).unwrap());
        }
    }
}
