// SPDX-License-Identifier: GPL-2.0
//! `dts-surge`: a SURGE-style web workload generator (Barford & Crovella,
//! SIGMETRICS 1998).
//!
//! - `dts-surge files`: makes a file set and its `manifest.json`;
//! - `dts-surge trace`: prints the first requests of each user;
//! - `dts-surge run`: drives an HTTP server with user-equivalents.
//!
//! Exit status: 0 on success, 1 on failure (for `run`: any request error),
//! 2 on a usage error. See `Documentation/surge.md`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use dts_surge::dist::{SessionParams, SizeParams};
use dts_surge::locality::LocalityParams;
use dts_surge::manifest::{self, FileSetParams, Manifest};
use dts_surge::run::{self, RunConfig};
use dts_surge::user::{self, UserModel};

/// A SURGE-style web workload generator (Barford & Crovella, SIGMETRICS
/// 1998): file sets with SURGE's size and popularity models, and
/// user-equivalents with its temporal locality and ON/OFF models.
#[derive(Parser, Debug)]
#[command(name = "dts-surge", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Write a file set (f0001…fNNNN, deterministic contents) and its
    /// manifest.json.
    Files(FilesArgs),
    /// Print the first requests of each user: `user seq name off_time_ms`.
    Trace(TraceArgs),
    /// Drive an HTTP server with user-equivalents for a fixed time.
    Run(RunArgs),
}

/// The file-size model: lognormal body, Pareto tail above its k.
#[derive(Args, Debug)]
struct SizeArgs {
    /// μ of the lognormal body: mean of ln(size in bytes).
    #[arg(long, default_value_t = 9.357, allow_negative_numbers = true)]
    body_mu: f64,
    /// σ of the lognormal body: standard deviation of ln(size in bytes).
    #[arg(long, default_value_t = 1.318)]
    body_sigma: f64,
    /// Fraction of the files in the body (the rest are in the tail).
    #[arg(long, default_value_t = 0.93)]
    body_fraction: f64,
    /// α of the Pareto tail.
    #[arg(long, default_value_t = 1.1)]
    tail_alpha: f64,
    /// k of the Pareto tail in bytes: its minimum and the body/tail cutoff.
    #[arg(long, default_value_t = 133_000.0)]
    tail_k: f64,
    /// Smallest file size in bytes (smaller draws are raised to it).
    #[arg(long, default_value_t = 64)]
    min_size: u64,
    /// Largest file size in bytes (larger draws are cut to it; 8 MiB).
    #[arg(long, default_value_t = 8 << 20)]
    max_size: u64,
}

impl SizeArgs {
    fn params(&self) -> SizeParams {
        SizeParams {
            body_mu: self.body_mu,
            body_sigma: self.body_sigma,
            body_fraction: self.body_fraction,
            tail_alpha: self.tail_alpha,
            tail_k: self.tail_k,
            min_size: self.min_size,
            max_size: self.max_size,
        }
    }
}

#[derive(Args, Debug)]
struct FilesArgs {
    /// Seed of the sizes, popularity ranks and contents.
    #[arg(long)]
    seed: u64,
    /// Number of files.
    #[arg(long)]
    count: u64,
    /// Directory to write (created if missing; must be empty unless --force).
    #[arg(long)]
    out: PathBuf,
    /// Zipf exponent α of the files' popularity (P(rank r) ∝ r^-α).
    #[arg(long, default_value_t = 1.0)]
    zipf_alpha: f64,
    /// Write into a non-empty directory (overwrites the set's files and
    /// manifest.json, leaves other files).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    sizes: SizeArgs,
}

/// The user model: temporal locality and the ON/OFF process.
#[derive(Args, Debug)]
struct ModelArgs {
    /// μ of the lognormal stack distance: mean of ln(distance).
    #[arg(long, default_value_t = 1.5, allow_negative_numbers = true)]
    stack_mu: f64,
    /// σ of the lognormal stack distance.
    #[arg(long, default_value_t = 0.8)]
    stack_sigma: f64,
    /// References planned per locality epoch (0: ten times the files).
    #[arg(long, default_value_t = 0)]
    epoch: u64,
    /// α of the Pareto number of files per page (base and embedded).
    #[arg(long, default_value_t = 2.43)]
    embedded_alpha: f64,
    /// k of the Pareto number of files per page.
    #[arg(long, default_value_t = 1.0)]
    embedded_k: f64,
    /// Shape of the Weibull active OFF time (between files of a page).
    #[arg(long, default_value_t = 1.46)]
    active_off_shape: f64,
    /// Scale of the Weibull active OFF time, in seconds.
    #[arg(long, default_value_t = 0.382)]
    active_off_scale: f64,
    /// α of the Pareto inactive OFF (think) time after a page.
    #[arg(long, default_value_t = 1.5)]
    think_alpha: f64,
    /// k of the Pareto inactive OFF (think) time, in seconds.
    #[arg(long, default_value_t = 1.0)]
    think_k: f64,
    /// Factor of every OFF time, active and inactive (e.g. 0.01 compresses
    /// time a hundredfold).
    #[arg(long, default_value_t = 1.0)]
    think_scale: f64,
}

impl ModelArgs {
    fn locality(&self) -> LocalityParams {
        LocalityParams {
            stack_mu: self.stack_mu,
            stack_sigma: self.stack_sigma,
            epoch: self.epoch,
        }
    }

    fn session(&self) -> SessionParams {
        SessionParams {
            embedded_alpha: self.embedded_alpha,
            embedded_k: self.embedded_k,
            active_off_shape: self.active_off_shape,
            active_off_scale: self.active_off_scale,
            think_alpha: self.think_alpha,
            think_k: self.think_k,
            think_scale: self.think_scale,
        }
    }
}

#[derive(Args, Debug)]
struct TraceArgs {
    /// The file set's manifest.json.
    #[arg(long)]
    manifest: PathBuf,
    /// Seed of the users' streams.
    #[arg(long)]
    seed: u64,
    /// Number of users.
    #[arg(long, default_value_t = 1)]
    users: u32,
    /// Requests printed per user.
    #[arg(long)]
    count: u64,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The file set's manifest.json.
    #[arg(long)]
    manifest: PathBuf,
    /// Where the files are: http://HOST[:PORT]/PREFIX/ (requests go to
    /// PREFIX/NAME).
    #[arg(long)]
    url: String,
    /// Number of user-equivalents (one thread each).
    #[arg(long)]
    users: u32,
    /// Seconds during which users start requests.
    #[arg(long)]
    duration: f64,
    /// Seed of the users' streams.
    #[arg(long)]
    seed: u64,
    /// One persistent connection per user (default: a new connection per
    /// request, with Connection: close).
    #[arg(long)]
    keepalive: bool,
    /// Seconds allowed to connect and for each socket read or write.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model: ModelArgs,
}

fn seconds(name: &'static str, v: f64) -> Result<Duration, dts_surge::Error> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            dts_surge::Error::param(name, format!("{v} is not a positive number of seconds"))
        })
}

fn load(path: &std::path::Path) -> anyhow::Result<Manifest> {
    Ok(Manifest::load(path)?)
}

fn main_inner(cli: Cli) -> anyhow::Result<u8> {
    match cli.cmd {
        Cmd::Files(a) => {
            let params = FileSetParams {
                count: a.count,
                zipf_alpha: a.zipf_alpha,
                sizes: a.sizes.params(),
            };
            let m = manifest::write_set(&a.out, a.seed, &params, a.force)?;
            let bytes: u64 = m.files.iter().map(|f| f.size).sum();
            eprintln!(
                "dts-surge: wrote {} files ({} bytes) and {} to {}",
                m.files.len(),
                bytes,
                manifest::MANIFEST_NAME,
                a.out.display()
            );
            Ok(0)
        }
        Cmd::Trace(a) => {
            let m = load(&a.manifest)?;
            let model = UserModel::new(&m, a.model.locality(), a.model.session())?;
            let text = user::trace(&model, a.seed, a.users, a.count)?;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .context("writing the trace")?;
            Ok(0)
        }
        Cmd::Run(a) => {
            let cfg = RunConfig {
                url: a.url,
                users: a.users,
                duration: seconds("duration", a.duration)?,
                seed: a.seed,
                keepalive: a.keepalive,
                timeout: seconds("timeout", a.timeout)?,
                locality: a.model.locality(),
                session: a.model.session(),
            };
            // Parameters first, so that a usage error does not wait for I/O.
            cfg.validate()?;
            dts_surge::http::parse_url(&cfg.url)?;
            let m = load(&a.manifest)?;
            let report = run::run(&m, &cfg)?;
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string(&report).context("serializing the report")?
                );
            } else {
                print!("{}", report.summary());
            }
            Ok(report.exit_status())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match main_inner(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("dts-surge: {e:#}");
            let usage = e
                .downcast_ref::<dts_surge::Error>()
                .is_some_and(|e| e.is_usage());
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
