// SPDX-License-Identifier: GPL-2.0
//! A SURGE-style web workload generator, after Barford & Crovella,
//! "Generating Representative Web Workloads for Network and Server
//! Performance Evaluation" (SIGMETRICS 1998).
//!
//! - [`dist`]: file sizes (lognormal body, Pareto tail), Zipf popularity,
//!   files per page (Pareto), active OFF (Weibull) and think (Pareto) times;
//! - [`locality`]: temporal locality by lognormal stack distances;
//! - [`manifest`]: file sets on disk and their `manifest.json`;
//! - [`user`]: a user-equivalent's ON/OFF process and the `trace` output;
//! - [`http`]: a small HTTP/1.1 client (httparse);
//! - [`run`]: the load run and its report;
//! - [`seed`]: how every random stream derives from `--seed`.
//!
//! `Documentation/surge.md` describes the models, the command line, the
//! JSON schemas and the reproducibility promise.

pub mod dist;
mod error;
pub mod http;
pub mod locality;
pub mod manifest;
pub mod run;
pub mod seed;
pub mod stats;
pub mod user;

pub use error::{Error, Result};
