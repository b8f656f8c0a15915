//! `dts-docgen`: the man pages and shell completions of the installed DTS
//! tools, generated from their clap definitions.
//!
//! ```text
//! dts-docgen OUTDIR DATE
//! ```
//!
//! (DATE, `YYYY-MM-DD`, goes into every page's header: `scripts/deb.sh`
//! passes the date of the commit, so that a rebuild gives the same pages)
//! writes
//!
//! ```text
//! OUTDIR/man8/dtsctl.8, dtsctl-SUBCOMMAND[-SUBCOMMAND].8 (one per subcommand),
//!             dts-proxy.8, dts-scserver.8
//! OUTDIR/bash/NAME          (bash-completion; /usr/share/bash-completion/completions/NAME)
//! OUTDIR/zsh/_NAME          (/usr/share/zsh/vendor-completions/_NAME)
//! OUTDIR/fish/NAME.fish     (/usr/share/fish/vendor_completions.d/NAME.fish)
//! ```
//!
//! There is one definition of each command line: the tool's own `cli.rs`
//! (`scserver_cli.rs` for `dts-scserver`), included here with `#[path]`.
//! Those files depend only on std, clap and the workspace's libraries
//! (`dts-core`, `dts`, `dts-sc`; and `dts-proxy`'s `route.rs`), so nothing
//! else of the tools is built into this program. `scripts/deb.sh` runs it for `make deb`.
//!
//! Exit status: 0 on success, 1 if a file cannot be written, 2 on a usage
//! error.

#![forbid(unsafe_code)]

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clap_mangen::Man;

// The tools' command lines. Their fields are only read by the tools.
#[allow(dead_code)]
#[path = "../../dtsctl/src/cli.rs"]
mod dtsctl_cli;
#[allow(dead_code)]
#[path = "../../dts-proxy/src/cli.rs"]
mod proxy_cli;
/// `dts-proxy`'s route parsing, which its `cli.rs` uses (as `crate::route`).
#[allow(dead_code)]
#[path = "../../dts-proxy/src/route.rs"]
mod route;
#[allow(dead_code)]
#[path = "../../dts-sc/src/scserver_cli.rs"]
mod scserver_cli;

/// The man page section: system administration commands and daemons (every
/// tool needs `CAP_NET_ADMIN` and a node running the `dts` module).
const SECTION: &str = "8";

/// The manual's name in every page's header.
const MANUAL: &str = "DTS Manual";

/// The shells completions are generated for.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// The installed tools: name and command line.
fn tools() -> Vec<(&'static str, Command)> {
    vec![
        ("dtsctl", dtsctl_cli::Cli::command()),
        ("dts-proxy", proxy_cli::Cli::command()),
        ("dts-scserver", scserver_cli::Cli::command()),
    ]
}

/// What every page's header says besides its name and section.
struct Header<'a> {
    /// `YYYY-MM-DD`.
    date: &'a str,
    /// The package and version (`DTS 0.1.0`).
    source: String,
}

/// Writes the man page of `cmd` and of each of its visible subcommands,
/// recursively (`dtsctl-config-apply.8`), into `dir`; returns the paths.
fn man_pages(cmd: Command, date: &str, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fn walk(cmd: Command, header: &Header, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub.clone(), header, dir, out)?;
        }
        let page = Man::new(cmd)
            .section(SECTION)
            .date(header.date)
            .source(header.source.as_str())
            .manual(MANUAL);
        out.push(page.generate_to(dir)?);
        Ok(())
    }
    // The implicit `help` subcommand gets no page; building the command
    // gives every subcommand its display name (`dtsctl-config-apply`).
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let header = Header {
        date,
        source: format!("DTS {}", env!("CARGO_PKG_VERSION")),
    };
    let mut out = Vec::new();
    walk(cmd, &header, dir, &mut out)?;
    Ok(out)
}

/// The completion file name of `name` for `shell`.
fn completion_file(shell: Shell, name: &str) -> String {
    match shell {
        Shell::Zsh => format!("_{name}"),
        Shell::Fish => format!("{name}.fish"),
        _ => name.to_owned(),
    }
}

/// Writes everything into `out`; returns the number of files.
fn generate(out: &Path, date: &str) -> io::Result<usize> {
    let man_dir = out.join(format!("man{SECTION}"));
    fs::create_dir_all(&man_dir)?;
    let mut files = 0;
    for (name, cmd) in tools() {
        files += man_pages(cmd.clone(), date, &man_dir)?.len();
        for shell in SHELLS {
            let dir = out.join(shell.to_string());
            fs::create_dir_all(&dir)?;
            let mut w = BufWriter::new(File::create(dir.join(completion_file(shell, name)))?);
            clap_complete::generate(shell, &mut cmd.clone(), name, &mut w);
            w.flush()?;
            files += 1;
        }
    }
    Ok(files)
}

/// Whether `s` looks like `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, &c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let (out, date) = match args.as_slice() {
        [out, date] => (out, date.to_string_lossy()),
        _ => {
            eprintln!("usage: dts-docgen OUTDIR DATE (YYYY-MM-DD)");
            return ExitCode::from(2);
        }
    };
    if !is_date(&date) {
        eprintln!("dts-docgen: DATE must be YYYY-MM-DD, not {date:?}");
        return ExitCode::from(2);
    }
    match generate(Path::new(out), &date) {
        Ok(n) => {
            eprintln!("dts-docgen: {n} files in {}", Path::new(out).display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dts-docgen: {}: {e}", Path::new(out).display());
            ExitCode::FAILURE
        }
    }
}
