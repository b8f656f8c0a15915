// SPDX-License-Identifier: GPL-2.0
//! The `run` subcommand: U user-equivalents, one OS thread each, follow
//! their ON/OFF processes against an HTTP server for a fixed time, and the
//! outcome of every request is counted.
//!
//! A user issues its next request only after the previous one has completed
//! and its OFF time has passed; no request starts after the deadline (one
//! in flight then completes or times out). A response counts as `ok` when
//! its status is 200 and its body has exactly the manifest's size;
//! otherwise it counts as exactly one error kind (see [`ErrorKind`]).
//! Latency (connect or send, to the end of the body) is recorded for `ok`
//! requests only; `bytes` counts every body byte received.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::dist::SessionParams;
use crate::http::{self, Client, FetchError};
use crate::locality::LocalityParams;
use crate::manifest::Manifest;
use crate::stats::percentile;
use crate::user::UserModel;
use crate::{Error, Result};

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// `http://HOST[:PORT]/PREFIX/`.
    pub url: String,
    /// Number of user-equivalents (threads).
    pub users: u32,
    /// How long users start requests.
    pub duration: Duration,
    /// Seed of the users' streams.
    pub seed: u64,
    /// One persistent connection per user instead of one per request.
    pub keepalive: bool,
    /// Bound on connecting and on each socket read or write.
    pub timeout: Duration,
    /// The stack-distance model.
    pub locality: LocalityParams,
    /// The ON/OFF model (with `think_scale`).
    pub session: SessionParams,
}

/// Most user-equivalents of one run.
pub const MAX_USERS: u32 = 10_000;

impl RunConfig {
    /// Checks every parameter's range (the URL is checked by [`run`]).
    pub fn validate(&self) -> Result<()> {
        if self.users == 0 || self.users > MAX_USERS {
            return Err(Error::param(
                "users",
                format!("{} is not in 1..={MAX_USERS}", self.users),
            ));
        }
        if self.duration.is_zero() {
            return Err(Error::param("duration", "must be positive"));
        }
        if self.timeout.is_zero() {
            return Err(Error::param("timeout", "must be positive"));
        }
        self.locality.validate()?;
        self.session.validate()
    }
}

/// The kind of a failed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No connection could be made (refused, unreachable, …).
    Connect,
    /// Connecting, or a socket read or write, took longer than `--timeout`.
    Timeout,
    /// The status was not 200.
    Http,
    /// Status 200, but the body's length differs from the manifest's size
    /// (including a body cut short by the connection closing).
    Mismatch,
    /// The response was not valid HTTP/1.x (or the connection closed before
    /// one).
    Protocol,
    /// Another socket error (reset, …).
    Io,
}

/// Number of errors of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    /// [`ErrorKind::Connect`].
    pub connect: u64,
    /// [`ErrorKind::Timeout`].
    pub timeout: u64,
    /// [`ErrorKind::Http`].
    pub http: u64,
    /// [`ErrorKind::Mismatch`].
    pub mismatch: u64,
    /// [`ErrorKind::Protocol`].
    pub protocol: u64,
    /// [`ErrorKind::Io`].
    pub io: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.http + self.mismatch + self.protocol + self.io
    }

    fn add(&mut self, kind: ErrorKind) {
        *match kind {
            ErrorKind::Connect => &mut self.connect,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::Http => &mut self.http,
            ErrorKind::Mismatch => &mut self.mismatch,
            ErrorKind::Protocol => &mut self.protocol,
            ErrorKind::Io => &mut self.io,
        } += 1;
    }

    fn merge(&mut self, o: &ErrorCounts) {
        self.connect += o.connect;
        self.timeout += o.timeout;
        self.http += o.http;
        self.mismatch += o.mismatch;
        self.protocol += o.protocol;
        self.io += o.io;
    }
}

/// The outcome of one request against the manifest: `Ok(body bytes)` or
/// the error kind and the body bytes received.
pub fn classify(
    result: &Result<http::Response, FetchError>,
    expected: u64,
) -> (Option<ErrorKind>, u64) {
    match result {
        Ok(r) if r.status != 200 => (Some(ErrorKind::Http), r.body_len),
        Ok(r) if r.body_len != expected => (Some(ErrorKind::Mismatch), r.body_len),
        Ok(r) => (None, r.body_len),
        Err(FetchError::Truncated { status, received }) => (
            Some(if *status == 200 {
                ErrorKind::Mismatch
            } else {
                ErrorKind::Http
            }),
            *received,
        ),
        Err(FetchError::Connect(_)) => (Some(ErrorKind::Connect), 0),
        Err(FetchError::Timeout) => (Some(ErrorKind::Timeout), 0),
        Err(FetchError::Protocol(_)) | Err(FetchError::NoResponse(None)) => {
            (Some(ErrorKind::Protocol), 0)
        }
        Err(FetchError::Io(_)) | Err(FetchError::NoResponse(Some(_))) => (Some(ErrorKind::Io), 0),
    }
}

/// Latency percentiles of the `ok` requests, in milliseconds (`null` in
/// JSON when there were none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

/// The result of a run (the `--json` object).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The URL requested.
    pub url: String,
    /// User-equivalents.
    pub users: u32,
    /// Seed of the users' streams.
    pub seed: u64,
    /// Whether connections were kept open.
    pub keepalive: bool,
    /// Factor of every OFF time.
    pub think_scale: f64,
    /// Requests issued.
    pub requests: u64,
    /// Requests with status 200 and a body of the manifest's size.
    pub ok: u64,
    /// Failed requests, by kind.
    pub errors: ErrorCounts,
    /// Body bytes received (all requests).
    pub bytes: u64,
    /// Wall time from the start to the last user's end, in seconds.
    pub duration_s: f64,
    /// `requests / duration_s`.
    pub req_per_s: f64,
    /// `bytes / 2^20 / duration_s`.
    pub mib_per_s: f64,
    /// Latency of the `ok` requests.
    pub latency_ms: Latency,
    /// Requests issued per file name (files never requested are left out).
    pub per_file: BTreeMap<String, u64>,
}

impl Report {
    /// The exit status `run` ends with: 0 without errors, 1 with any.
    pub fn exit_status(&self) -> u8 {
        u8::from(self.errors.total() > 0)
    }

    /// A human-readable summary, a few lines.
    pub fn summary(&self) -> String {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2} ms"));
        let e = &self.errors;
        format!(
            "dts-surge run: {} users on {} for {:.2} s (keep-alive {}, think-scale {})\n\
             requests  {} ({:.1}/s)\n\
             ok        {}\n\
             errors    {} (connect {}, timeout {}, http {}, mismatch {}, protocol {}, io {})\n\
             bytes     {} ({:.2} MiB/s)\n\
             latency   p50 {}, p90 {}, p99 {}\n\
             files     {} distinct requested\n",
            self.users,
            self.url,
            self.duration_s,
            if self.keepalive { "on" } else { "off" },
            self.think_scale,
            self.requests,
            self.req_per_s,
            self.ok,
            e.total(),
            e.connect,
            e.timeout,
            e.http,
            e.mismatch,
            e.protocol,
            e.io,
            self.bytes,
            self.mib_per_s,
            ms(self.latency_ms.p50),
            ms(self.latency_ms.p90),
            ms(self.latency_ms.p99),
            self.per_file.len(),
        )
    }
}

#[derive(Default)]
struct UserStats {
    requests: u64,
    ok: u64,
    errors: ErrorCounts,
    bytes: u64,
    latencies_ms: Vec<f64>,
    per_file: Vec<u64>,
}

fn user_loop(
    model: &UserModel,
    cfg: &RunConfig,
    target: &http::Target,
    addrs: Vec<std::net::SocketAddr>,
    index: u32,
    deadline: Instant,
) -> Result<UserStats> {
    let mut user = model.user(cfg.seed, index)?;
    let mut client = Client::new(target, addrs, cfg.timeout, cfg.keepalive);
    let mut st = UserStats {
        per_file: vec![0; model.files()],
        ..UserStats::default()
    };
    while Instant::now() < deadline {
        let req = user.next_request();
        let t0 = Instant::now();
        let res = client.get(model.name(req.file));
        let latency = t0.elapsed();
        st.requests += 1;
        st.per_file[req.file] += 1;
        let (kind, bytes) = classify(&res, model.size(req.file));
        st.bytes += bytes;
        match kind {
            None => {
                st.ok += 1;
                st.latencies_ms.push(latency.as_secs_f64() * 1000.0);
            }
            Some(k) => st.errors.add(k),
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let off = Duration::try_from_secs_f64(req.off_after_s).unwrap_or(Duration::MAX);
        thread::sleep(off.min(deadline - now));
    }
    Ok(st)
}

/// Runs `cfg` against the files of `manifest`.
pub fn run(manifest: &Manifest, cfg: &RunConfig) -> Result<Report> {
    cfg.validate()?;
    let target = http::parse_url(&cfg.url)?;
    let addrs = target.resolve()?;
    let model = Arc::new(UserModel::new(manifest, cfg.locality, cfg.session)?);
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let handles: Vec<_> = (0..cfg.users)
        .map(|i| {
            let (model, cfg, target, addrs) = (
                Arc::clone(&model),
                cfg.clone(),
                target.clone(),
                addrs.clone(),
            );
            thread::Builder::new()
                .name(format!("surge-user-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || user_loop(&model, &cfg, &target, addrs, i, deadline))
                .map_err(|e| Error::io("thread", e))
        })
        .collect::<Result<_>>()?;
    let mut total = UserStats {
        per_file: vec![0; model.files()],
        ..UserStats::default()
    };
    for h in handles {
        let st = h.join().expect("a user thread panicked")?;
        total.requests += st.requests;
        total.ok += st.ok;
        total.errors.merge(&st.errors);
        total.bytes += st.bytes;
        total.latencies_ms.extend(st.latencies_ms);
        for (t, n) in total.per_file.iter_mut().zip(st.per_file) {
            *t += n;
        }
    }
    let duration_s = start.elapsed().as_secs_f64();
    total.latencies_ms.sort_by(f64::total_cmp);
    let l = &total.latencies_ms;
    Ok(Report {
        url: cfg.url.clone(),
        users: cfg.users,
        seed: cfg.seed,
        keepalive: cfg.keepalive,
        think_scale: cfg.session.think_scale,
        requests: total.requests,
        ok: total.ok,
        errors: total.errors,
        bytes: total.bytes,
        duration_s,
        req_per_s: total.requests as f64 / duration_s,
        mib_per_s: total.bytes as f64 / f64::from(1u32 << 20) / duration_s,
        latency_ms: Latency {
            p50: percentile(l, 50.0),
            p90: percentile(l, 90.0),
            p99: percentile(l, 99.0),
        },
        per_file: total
            .per_file
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(i, &n)| (model.name(i).to_string(), n))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Response;

    #[test]
    fn classification() {
        let ok = |status, body_len| {
            Ok(Response {
                status,
                body_len,
                reusable: false,
            })
        };
        assert_eq!(classify(&ok(200, 10), 10), (None, 10));
        assert_eq!(classify(&ok(200, 9), 10), (Some(ErrorKind::Mismatch), 9));
        assert_eq!(classify(&ok(404, 3), 10), (Some(ErrorKind::Http), 3));
        let t = Err(FetchError::Truncated {
            status: 200,
            received: 4,
        });
        assert_eq!(classify(&t, 10), (Some(ErrorKind::Mismatch), 4));
        assert_eq!(
            classify(&Err(FetchError::Timeout), 1).0,
            Some(ErrorKind::Timeout)
        );
        let c = Err(FetchError::Connect(std::io::Error::other("refused")));
        assert_eq!(classify(&c, 1).0, Some(ErrorKind::Connect));
        assert_eq!(
            classify(&Err(FetchError::Protocol("x".into())), 1).0,
            Some(ErrorKind::Protocol)
        );
        assert_eq!(
            classify(&Err(FetchError::NoResponse(None)), 1).0,
            Some(ErrorKind::Protocol)
        );
    }

    #[test]
    fn config_checks() {
        let cfg = RunConfig {
            url: "http://127.0.0.1:1/".into(),
            users: 1,
            duration: Duration::from_secs(1),
            seed: 1,
            keepalive: false,
            timeout: Duration::from_secs(1),
            locality: LocalityParams::default(),
            session: SessionParams::default(),
        };
        assert!(cfg.validate().is_ok());
        assert!(RunConfig {
            users: 0,
            ..cfg.clone()
        }
        .validate()
        .unwrap_err()
        .is_usage());
        assert!(RunConfig {
            duration: Duration::ZERO,
            ..cfg.clone()
        }
        .validate()
        .is_err());
        assert!(RunConfig {
            timeout: Duration::ZERO,
            ..cfg
        }
        .validate()
        .is_err());
    }
}
