// SPDX-License-Identifier: GPL-2.0
//! File sets: the `files` subcommand's plan (names, sizes, popularity
//! ranks), the files' deterministic contents, and `manifest.json`.
//!
//! Manifest schema (version 1):
//!
//! ```json
//! {
//!   "version": 1,
//!   "seed": 42,
//!   "parameters": {
//!     "count": 400,
//!     "zipf_alpha": 1.0,
//!     "sizes": { "body_mu": 9.357, "body_sigma": 1.318, "body_fraction": 0.93,
//!                "tail_alpha": 1.1, "tail_k": 133000.0,
//!                "min_size": 64, "max_size": 8388608 }
//!   },
//!   "files": [ { "name": "f0001", "size": 5123, "sha256": "…", "rank": 17 }, … ]
//! }
//! ```
//!
//! `rank` is the file's popularity rank (1 = most popular), a random
//! permutation independent of the sizes.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::dist::{SizeDist, SizeParams, Zipf};
use crate::seed;
use crate::{Error, Result};

/// The manifest schema this crate reads and writes.
pub const MANIFEST_VERSION: u32 = 1;

/// The manifest's file name inside a file-set directory.
pub const MANIFEST_NAME: &str = "manifest.json";

/// Parameters of a file set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileSetParams {
    /// Number of files.
    pub count: u64,
    /// Zipf exponent of the popularity of the files.
    pub zipf_alpha: f64,
    /// The file-size model.
    pub sizes: SizeParams,
}

impl FileSetParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<()> {
        if self.count == 0 {
            return Err(Error::param("count", "must be at least 1"));
        }
        if self.count > MAX_FILES {
            return Err(Error::param(
                "count",
                format!("{} is above the limit of {MAX_FILES} files", self.count),
            ));
        }
        // Checks the exponent (a Zipf over one rank costs nothing).
        Zipf::new(1, self.zipf_alpha)?;
        self.sizes.validate()
    }
}

/// Most files in a set.
pub const MAX_FILES: u64 = 10_000_000;

/// One file of a set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name, `f` and a zero-padded 1-based number (see [`file_name`]).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the contents, lowercase hex.
    pub sha256: String,
    /// Popularity rank, 1 = most popular.
    pub rank: u64,
}

/// A file set's manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The seed the set was made from.
    pub seed: u64,
    /// The parameters the set was made with.
    pub parameters: FileSetParams,
    /// The files, in name order.
    pub files: Vec<FileEntry>,
}

/// The name of file `index` (0-based) of a set of `count`: `f` and the
/// 1-based number, zero-padded to 4 digits or to the width of `count`.
pub fn file_name(index: u64, count: u64) -> String {
    let width = count.to_string().len().max(4);
    format!("f{:0width$}", index + 1)
}

/// A planned file: everything but the hash of its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedFile {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Popularity rank, 1 = most popular.
    pub rank: u64,
}

/// Names, sizes and ranks of the set of `params` under `seed`, without I/O.
pub fn plan(seed: u64, params: &FileSetParams) -> Result<Vec<PlannedFile>> {
    params.validate()?;
    let dist = SizeDist::new(params.sizes)?;
    let mut sizes = seed::rng(seed, seed::SIZES, 0);
    let mut ranks: Vec<u64> = (1..=params.count).collect();
    seed::shuffle(&mut seed::rng(seed, seed::RANKS, 0), &mut ranks);
    Ok((0..params.count)
        .zip(ranks)
        .map(|(i, rank)| PlannedFile {
            name: file_name(i, params.count),
            size: dist.sample(&mut sizes),
            rank,
        })
        .collect())
}

/// Writes the `size` bytes of file `index` under `seed` to `w` and returns
/// their SHA-256 in lowercase hex. The bytes are the ChaCha8 stream of
/// (seed, "content", index).
pub fn write_content(w: &mut impl Write, seed: u64, index: u64, size: u64) -> io::Result<String> {
    let mut rng = seed::rng(seed, seed::CONTENT, index);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        h.update(&buf[..n]);
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes the set of `params` under `seed` in `dir` (created if missing) and
/// writes its manifest last. A `dir` that is not empty is refused unless
/// `force`, which overwrites the set's files and manifest and leaves other
/// files alone.
pub fn write_set(dir: &Path, seed: u64, params: &FileSetParams, force: bool) -> Result<Manifest> {
    let planned = plan(seed, params)?;
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(Error::NotEmpty {
                    path: dir.to_path_buf(),
                });
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        Err(e) => return Err(Error::io(dir, e)),
    }
    let mut files = Vec::with_capacity(planned.len());
    for (i, p) in planned.into_iter().enumerate() {
        let path = dir.join(&p.name);
        let f = fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = io::BufWriter::new(f);
        let sha256 = write_content(&mut w, seed, i as u64, p.size)
            .and_then(|h| w.flush().map(|()| h))
            .map_err(|e| Error::io(&path, e))?;
        files.push(FileEntry {
            name: p.name,
            size: p.size,
            sha256,
            rank: p.rank,
        });
    }
    let m = Manifest {
        version: MANIFEST_VERSION,
        seed,
        parameters: *params,
        files,
    };
    let path = dir.join(MANIFEST_NAME);
    let tmp = dir.join(format!(".{MANIFEST_NAME}.tmp"));
    fs::write(&tmp, m.to_json()).map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    Ok(m)
}

impl Manifest {
    /// The manifest as pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest serializes");
        s.push('\n');
        s
    }

    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Manifest::parse(&text, path)
    }

    /// Parses and checks a manifest (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        let bad = |reason: String| Error::Manifest {
            path: PathBuf::from(path),
            reason,
        };
        let m: Manifest = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if m.version != MANIFEST_VERSION {
            return Err(bad(format!(
                "version {} (this dts-surge reads version {MANIFEST_VERSION})",
                m.version
            )));
        }
        if m.files.is_empty() {
            return Err(bad("no files".into()));
        }
        Zipf::new(1, m.parameters.zipf_alpha).map_err(|e| bad(e.to_string()))?;
        let n = m.files.len() as u64;
        let mut seen = vec![false; m.files.len()];
        let mut names = std::collections::HashSet::new();
        for f in &m.files {
            if f.name.is_empty()
                || !f
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                || f.name.starts_with('.')
            {
                return Err(bad(format!("file name {:?} is not a plain name", f.name)));
            }
            if !names.insert(f.name.as_str()) {
                return Err(bad(format!("file {} is listed twice", f.name)));
            }
            if f.rank == 0
                || f.rank > n
                || std::mem::replace(&mut seen[(f.rank - 1) as usize], true)
            {
                return Err(bad(format!(
                    "the ranks are not a permutation of 1..={n} (file {}, rank {})",
                    f.name, f.rank
                )));
            }
        }
        Ok(m)
    }

    /// `rank_to_file()[r - 1]` is the index in `files` of the file of
    /// popularity rank r.
    pub fn rank_to_file(&self) -> Vec<usize> {
        let mut v = vec![0; self.files.len()];
        for (i, f) in self.files.iter().enumerate() {
            v[(f.rank - 1) as usize] = i;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(count: u64) -> FileSetParams {
        FileSetParams {
            count,
            zipf_alpha: 1.0,
            sizes: SizeParams {
                max_size: 256 * 1024,
                ..SizeParams::default()
            },
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dts-surge-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn names_are_padded() {
        assert_eq!(file_name(0, 400), "f0001");
        assert_eq!(file_name(399, 400), "f0400");
        assert_eq!(file_name(9999, 10_000), "f10000");
        assert_eq!(file_name(0, 10_000), "f00001");
        assert_eq!(file_name(0, 1), "f0001");
    }

    #[test]
    fn write_then_load_and_check_hashes() {
        let dir = scratch("write");
        let m = write_set(&dir, 9, &params(20), false).unwrap();
        let back = Manifest::load(&dir.join(MANIFEST_NAME)).unwrap();
        assert_eq!(m, back);
        for f in &m.files {
            let bytes = fs::read(dir.join(&f.name)).unwrap();
            assert_eq!(bytes.len() as u64, f.size);
            assert_eq!(hex(&Sha256::digest(&bytes)), f.sha256);
        }
        // Not empty now: refused, then allowed with force, identically.
        let e = write_set(&dir, 9, &params(20), false).unwrap_err();
        assert!(matches!(e, Error::NotEmpty { .. }) && e.is_usage(), "{e}");
        let again = write_set(&dir, 9, &params(20), true).unwrap();
        assert_eq!(m, again);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ranks_independent_of_size() {
        // Rank correlation between size and rank is near zero.
        let p = plan(11, &params(2000)).unwrap();
        let mut by_size: Vec<&PlannedFile> = p.iter().collect();
        by_size.sort_by_key(|f| (f.size, f.rank));
        let n = p.len() as f64;
        let d2: f64 = by_size
            .iter()
            .enumerate()
            .map(|(i, f)| (i as f64 + 1.0 - f.rank as f64).powi(2))
            .sum();
        let rho = 1.0 - 6.0 * d2 / (n * (n * n - 1.0));
        assert!(rho.abs() < 0.1, "Spearman rho {rho}");
    }

    #[test]
    fn manifest_checks() {
        let dir = Path::new("m.json");
        let m = Manifest {
            version: 1,
            seed: 1,
            parameters: params(2),
            files: vec![
                FileEntry {
                    name: "f0001".into(),
                    size: 1,
                    sha256: String::new(),
                    rank: 2,
                },
                FileEntry {
                    name: "f0002".into(),
                    size: 1,
                    sha256: String::new(),
                    rank: 1,
                },
            ],
        };
        assert_eq!(
            Manifest::parse(&m.to_json(), dir).unwrap().rank_to_file(),
            vec![1, 0]
        );
        let mut bad = m.clone();
        bad.files[0].rank = 1;
        assert!(Manifest::parse(&bad.to_json(), dir).is_err());
        let mut bad = m.clone();
        bad.files[0].name = "../etc".into();
        assert!(Manifest::parse(&bad.to_json(), dir).is_err());
        let mut bad = m.clone();
        bad.version = 2;
        let e = Manifest::parse(&bad.to_json(), dir).unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");
        assert!(Manifest::parse("{", dir).is_err());
    }

    #[test]
    fn plan_and_content_are_pinned() {
        // The reproducibility promise of `--seed`: these values are the
        // same on every machine.
        let p = FileSetParams {
            count: 400,
            zipf_alpha: 1.0,
            sizes: SizeParams::default(),
        };
        let v = plan(42, &p).unwrap();
        assert_eq!((v[0].size, v[0].rank), (23_762, 152));
        assert_eq!((v[1].size, v[1].rank), (18_429, 329));
        let h = write_content(&mut io::sink(), 42, 0, 23_762).unwrap();
        assert_eq!(
            h,
            "0fc4a65e1bf6d2134c76fb7aeb847dbb32591a8a835396af423b6a22d7595fa8"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn plan_is_deterministic(seed: u64, count in 1u64..300) {
            let a = plan(seed, &params(count)).unwrap();
            prop_assert_eq!(&a, &plan(seed, &params(count)).unwrap());
            let mut ranks: Vec<u64> = a.iter().map(|f| f.rank).collect();
            ranks.sort_unstable();
            prop_assert_eq!(ranks, (1..=count).collect::<Vec<_>>());
        }

        #[test]
        fn content_is_deterministic(seed: u64, index in 0u64..1000, size in 0u64..200_000) {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let ha = write_content(&mut a, seed, index, size).unwrap();
            let hb = write_content(&mut b, seed, index, size).unwrap();
            prop_assert_eq!(a.len() as u64, size);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(ha, hb);
        }
    }
}
