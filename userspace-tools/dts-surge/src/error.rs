// SPDX-License-Identifier: GPL-2.0
//! The error type of the library, and which errors are the user's (exit
//! status 2) rather than the system's (exit status 1).

use std::io;
use std::path::PathBuf;

/// Why a file set, a trace or a run cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model or command-line parameter is out of its range.
    #[error("invalid {name}: {reason}")]
    InvalidParam {
        /// The parameter, as named on the command line (without `--`).
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The `--url` of `run` is not `http://HOST[:PORT]/PREFIX/`.
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `files --out DIR` names a directory that is not empty, without
    /// `--force`.
    #[error("{}: directory is not empty (use --force to write into it)", path.display())]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// Reading or writing a file failed.
    #[error("{}: {err}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        err: io::Error,
    },
    /// A manifest cannot be read as a file set.
    #[error("manifest {}: {reason}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The host of `--url` has no address.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// `HOST:PORT`.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
}

impl Error {
    /// Whether the error is a mistake in the command line (exit status 2)
    /// rather than a failure of the system (exit status 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::InvalidParam { .. } | Error::BadUrl { .. } | Error::NotEmpty { .. }
        )
    }

    /// Shorthand for [`Error::InvalidParam`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidParam {
            name,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, err: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            err,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
