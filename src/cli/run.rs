//! `tcplab run`: picks the scenarios, resolves their parameters, runs each in its room
//! with the chosen engines (or hands them to `--kernel`), appends the records and
//! reports them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use tcplab::engine::Engine;
use tcplab::lab::run_in_room;
use tcplab::record::{self, Record};
use tcplab::report;
use tcplab::scenario::{Scenario, ScenarioError};

use super::{
    exporter, find, kernel, load_catalogue, parse_set, report_invalid, write_output, Format,
    NetnsArgs, EXIT_DEVIATION, EXIT_OK,
};

/// `--engine`: which engine runs the steps.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    /// Blocking std sockets, one thread per actor
    Std,
    /// Non-blocking tokio sockets, one task per actor
    Tokio,
    /// Both, one after the other, with a table of where they differ
    All,
}

impl EngineChoice {
    pub fn engines(self) -> Vec<Engine> {
        match self {
            EngineChoice::Std => vec![Engine::Std],
            EngineChoice::Tokio => vec![Engine::Tokio],
            EngineChoice::All => Engine::ALL.to_vec(),
        }
    }
}

#[derive(Args)]
pub struct RunArgs {
    /// Scenario names (see `tcplab list`) or paths to .toml files
    pub targets: Vec<String>,
    /// Run every scenario in the catalogue
    #[arg(long)]
    pub all: bool,
    /// Override a parameter: --set backlog=16, --set payload=1MiB (repeatable; `tcplab params NAME` lists them)
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// Run each scenario N times and report min/median/max of each observation
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Print the record(s) as JSON (same as --format json)
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where to write the report; `-` is stdout
    #[arg(long, short, default_value = "-", value_name = "FILE")]
    pub output: String,
    /// Append every record as one JSON line to FILE
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// The engine that runs the steps: std, tokio, or all (both, compared)
    #[arg(long, value_enum, default_value_t = EngineChoice::Std)]
    pub engine: EngineChoice,
    /// Watchdog limit per run in milliseconds [default: the scenario's timeout_ms]
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: Option<u64>,
    #[command(flatten)]
    pub netns: NetnsArgs,
    /// Run inside another Linux kernel booted as user-mode Linux: a release or suite from `tcplab kernels`, a path to a UML `linux` binary, or `all`
    #[arg(long, value_name = "K")]
    pub kernel: Option<String>,
}

/// Resolves the command line's targets to scenarios; `Err` is a usage error.
fn select(dir: &Path, args: &RunArgs) -> anyhow::Result<(Vec<Scenario>, Vec<ScenarioError>)> {
    if args.all && !args.targets.is_empty() {
        bail!("give scenario names or --all, not both");
    }
    if !args.all && args.targets.is_empty() {
        bail!("name a scenario to run (see `tcplab list`), or give --all");
    }
    let (catalogue, broken) = load_catalogue(dir)?;
    if args.all {
        return Ok((catalogue, broken));
    }
    let mut picked = Vec::new();
    let mut bad = Vec::new();
    for t in &args.targets {
        match find(dir, t, &catalogue, &broken)? {
            Ok(s) => picked.push(s),
            Err(e) => bad.push(e),
        }
    }
    Ok((picked, bad))
}

pub fn run_command(dir: &Path, args: RunArgs) -> anyhow::Result<ExitCode> {
    let (scenarios, invalid) = select(dir, &args)?;
    super::report_warnings(&scenarios);
    let format = if args.json { Format::Json } else { args.format };
    // Resolve every scenario's parameters before running any, so a bad --set costs nothing:
    // at every point of a sweep (`--set backlog=0..16`), against types, bounds, the memory
    // cap and the watchdog.
    let grid = tcplab::sweep::expand(&args.sets)?;
    let mut plans = Vec::new();
    for s in &scenarios {
        for point in &grid {
            let sets: Vec<(String, String)> = if args.all {
                point
                    .iter()
                    .filter(|(k, _)| s.param(k).is_some())
                    .cloned()
                    .collect()
            } else {
                point.clone()
            };
            let watchdog = args.timeout_ms.unwrap_or(s.timeout_ms);
            let params = s
                .resolve_params_under(&sets, watchdog)
                .map_err(anyhow::Error::msg)?;
            plans.push((s, params));
        }
    }
    if grid.len() > 1 {
        // The runs of a sweep are reported by scenario and point (src/report/sweep.rs),
        // which this loop does not do yet: every point was checked, none is run.
        bail!(
            "a sweep of {} points (every one valid) needs the sweep report, which `run` does not drive yet; give one value per parameter",
            grid.len()
        );
    }
    if args.all {
        for (k, _) in &args.sets {
            if !scenarios.iter().any(|s| s.param(k).is_some()) {
                bail!("no scenario has a parameter `{k}`");
            }
        }
    }
    let invalid_exit = report_invalid(&invalid);

    if let Some(k) = &args.kernel {
        let (records, guest_errors) = kernel::run_in_kernels(k, dir, &args, &plans)?;
        let comparison = args.kernel.as_deref() == Some("all");
        return kernel::report_guest_runs(
            &args,
            format,
            &scenarios,
            records,
            guest_errors,
            comparison,
            &invalid,
            invalid_exit,
        );
    }

    let (plan, host, _) = args.netns.plan()?;
    let timeout = args.timeout_ms.map(Duration::from_millis);
    let narrate = plans.len() > 1 || args.repeat > 1;
    let mut records: Vec<Record> = Vec::new();
    let mut worst = EXIT_OK;
    for (i, (s, params)) in plans.iter().enumerate() {
        let mut runs = Vec::new();
        for k in 0..args.repeat {
            if narrate {
                eprintln!(
                    "[{}/{}] {}{}",
                    i + 1,
                    plans.len(),
                    s.name,
                    if args.repeat > 1 {
                        format!(" (run {} of {})", k + 1, args.repeat)
                    } else {
                        String::new()
                    }
                );
            }
            for engine in args.engine.engines() {
                let r = run_in_room(engine, s, params, &plan, &host, timeout)?;
                if let Some(path) = &args.record {
                    record::append(path, std::slice::from_ref(&r)).with_context(|| {
                        format!("cannot append the record to {}", path.display())
                    })?;
                }
                if !r.verdict.status.is_success() {
                    worst = EXIT_DEVIATION;
                }
                runs.push(r);
            }
        }
        records.extend(runs);
    }

    let text = render_runs(&args, format, &scenarios, &records, &host.os);
    write_output(&args.output, &text)?;
    if !invalid.is_empty() {
        return Ok(invalid_exit);
    }
    Ok(ExitCode::from(worst))
}

/// The report of a run's records in `format` (`os`: whose expectations the engines'
/// comparison shows).
pub fn render_runs(
    args: &RunArgs,
    format: Format,
    scenarios: &[Scenario],
    records: &[Record],
    os: &str,
) -> String {
    exporter(format, false).run(&report::Runs {
        scenarios,
        records,
        os,
        engines: args.engine == EngineChoice::All,
        repeated: args.repeat > 1,
    })
}
