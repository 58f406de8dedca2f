//! `tcplab run`: picks the scenarios, resolves their parameters, opens the report and
//! the record file, runs each scenario in its room with the chosen engines (or hands
//! them to `--kernel`), and writes each record and each scenario's report as it
//! finishes. Ctrl-C or `--fail-fast` ends it early with the summary of what finished.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use tcplab::engine::Engine;
use tcplab::interrupt::{self, EXIT_INTERRUPTED};
use tcplab::lab::run_in_room;
use tcplab::record::{self, Record};
use tcplab::report::{self, plot, Ending, Exporter, Stop, Sweep};
use tcplab::scenario::{ParamKind, Scenario};

use super::{
    colour, exporter, kernel, parse_set, report_invalid, ColorChoice, Format, NetnsArgs,
    EXIT_DEVIATION, EXIT_OK, EXIT_USAGE,
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
    /// Scenario names or file stems (see `tcplab list`), globs over them ('write-*'), or paths to .toml files
    pub targets: Vec<String>,
    #[command(flatten)]
    pub topic: super::select::TopicArgs,
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
    /// Output format: text, json (one object, or an array for several runs), markdown, junit (JUnit XML for CI), svg (the first run's ladder diagram) or html (every run's, on one page)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where to write the report, as the runs finish; `-` is stdout [default: stdout, or stderr under `--record -`]
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<String>,
    /// Append every record as one JSON line to FILE; `-` writes the lines to stdout (the report then goes to stderr, or to --output)
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Text report: only each run's verdict and why it failed, and the summary
    #[arg(long, short)]
    pub quiet: bool,
    /// Text report: leave the captured packets out of the timeline (only the calls)
    #[arg(long)]
    pub no_packets: bool,
    /// Stop after the first run that does not pass (the summary says how many were not run)
    #[arg(long, conflicts_with = "kernel")]
    pub fail_fast: bool,
    /// With a sweep (`--set NAME=0,1,2`), also draw each numeric observation against the
    /// swept parameter as SVG into FILE
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub plot: Option<PathBuf>,
    /// Write every run's captured packets to FILE as pcapng (Wireshark, tcpdump): one
    /// interface per capture point and run, direction flags, the wire's actions as comments
    #[arg(long, value_name = "FILE", conflicts_with = "kernel")]
    pub pcap: Option<PathBuf>,
    /// Colour the verdicts and failing checks: auto (when the report goes to a terminal and NO_COLOR is unset or empty), always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
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

impl RunArgs {
    /// Where the report goes: `-` for stdout.
    pub fn output(&self) -> &str {
        self.output.as_deref().unwrap_or("-")
    }

    /// `--record -`: the records go to stdout.
    fn records_to_stdout(&self) -> bool {
        self.record.as_deref() == Some(Path::new("-"))
    }
}

/// Where the report is written as the runs finish.
enum Sink {
    Stdout,
    /// Under `--record -`, whose records take stdout.
    Stderr,
    File(File),
    /// The reader went away (`tcplab run --all | head`): the rest is not wanted.
    Gone,
}

impl Sink {
    /// Opens the report's destination before anything runs, so that a path that cannot
    /// be written costs no run. `Err` names the path.
    fn open(args: &RunArgs) -> Result<Sink, String> {
        match args.output.as_deref() {
            Some("-") if args.records_to_stdout() => Err(
                "--record - and --output - both want stdout; give --output FILE, or leave --output out to have the report on stderr".into(),
            ),
            Some("-") => Ok(Sink::Stdout),
            None if args.records_to_stdout() => Ok(Sink::Stderr),
            None => Ok(Sink::Stdout),
            Some(path) => File::create(path)
                .map(Sink::File)
                .map_err(|e| format!("cannot write the report to {path}: {e}")),
        }
    }

    fn is_terminal(&self) -> bool {
        match self {
            Sink::Stdout => std::io::stdout().is_terminal(),
            Sink::Stderr => std::io::stderr().is_terminal(),
            _ => false,
        }
    }

    fn write(&mut self, text: &str, dest: &str) -> anyhow::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let done = match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            Sink::Stderr => {
                let mut out = std::io::stderr().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            Sink::File(f) => f.write_all(text.as_bytes()).and_then(|()| f.flush()),
            Sink::Gone => Ok(()),
        };
        match done {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                *self = Sink::Gone;
                Ok(())
            }
            other => other.with_context(|| format!("cannot write the report to {dest}")),
        }
    }
}

/// Where each record is appended: `--record FILE`, or stdout for `--record -`.
enum Store<'a> {
    None,
    File(&'a Path),
    Stdout,
}

impl<'a> Store<'a> {
    /// Checks before anything runs that the record file can be appended to (creating
    /// it); `Err` names the path.
    fn open(args: &'a RunArgs) -> Result<Store<'a>, String> {
        match args.record.as_deref() {
            None => Ok(Store::None),
            Some(p) if p == Path::new("-") => Ok(Store::Stdout),
            Some(p) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map(|_| Store::File(p))
                .map_err(|e| format!("cannot append records to {}: {e}", p.display())),
        }
    }

    /// Appends one record; a second Ctrl-C waits until it is whole.
    fn append(&self, r: &Record) -> anyhow::Result<()> {
        interrupt::critical(|| match self {
            Store::None => Ok(()),
            Store::File(path) => record::append(path, std::slice::from_ref(r))
                .with_context(|| format!("cannot append the record to {}", path.display())),
            Store::Stdout => {
                let line = serde_json::to_string(r)?;
                let mut out = std::io::stdout().lock();
                match writeln!(out, "{line}").and_then(|()| out.flush()) {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    other => other.context("cannot write the record to stdout"),
                }
            }
        })
    }
}

/// The exporter of a run: `--format`, with `--quiet` and `--color` for text.
fn run_exporter(args: &RunArgs, format: Format, colour: bool) -> Box<dyn Exporter> {
    match format {
        Format::Text => Box::new(report::Text {
            colour,
            quiet: args.quiet,
            packets: !args.no_packets,
        }),
        other => exporter(other, false),
    }
}

pub fn run_command(dir: &Path, args: RunArgs) -> anyhow::Result<ExitCode> {
    let (scenarios, invalid) =
        super::select::for_run(dir, &args.targets, args.all, &args.topic.topics)?;
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
            // Under --all a scenario without the swept parameter would run the same
            // parameters at every point: once is enough.
            if !plans
                .iter()
                .any(|(p, q): &(&Scenario, _)| p.name == s.name && *q == params)
            {
                plans.push((s, params));
            }
        }
    }
    let sweeping = grid.len() > 1;
    if args.plot.is_some() && !sweeping {
        bail!("--plot draws a sweep: give a parameter several values (--set NAME=1,2,4 or NAME=0..16)");
    }
    if args.all {
        for (k, _) in &args.sets {
            if !scenarios.iter().any(|s| s.param(k).is_some()) {
                bail!("no scenario has a parameter `{k}`");
            }
        }
    }
    if args.kernel.is_some() && args.records_to_stdout() {
        bail!("--record - is not available with --kernel; give --record FILE");
    }
    // The report and the record file are opened before the first run: a path that
    // cannot be written is a usage error that costs no run.
    let mut sink = match Sink::open(&args) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("Error: {why}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let store = match Store::open(&args) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("Error: {why}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    // Like the report, the pcap file is opened before the first run.
    let mut pcap = match args.pcap.as_ref().map(std::fs::File::create).transpose() {
        Ok(f) => f,
        Err(e) => {
            let path = args
                .pcap
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            eprintln!("Error: --pcap: cannot write {path}: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
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

    // From here on no other program is started: Ctrl-C can be taken (see interrupt).
    let interrupts = interrupt::watch(
        "interrupted: the run in progress finishes (within its watchdog limit), then the report ends with what finished; Ctrl-C again quits now",
    );
    let (plan, host, _) = args.netns.plan()?;
    let timeout = args.timeout_ms.map(Duration::from_millis);
    let engines = args.engine.engines();
    let planned = plans.len() * args.repeat as usize * engines.len();
    let narrate = (plans.len() > 1 || args.repeat > 1) && !args.quiet;
    let dest = args.output().to_owned();
    let exp = run_exporter(&args, format, colour(args.color, sink.is_terminal()));

    sink.write(&exp.open(planned), &dest)?;
    let mut records: Vec<Record> = Vec::new();
    let mut worst = EXIT_OK;
    let mut parts = 0;
    let mut stop = None;
    let mut failure = None;
    let mut sweeps: Vec<Sweep> = Vec::new();
    for (i, (s, params)) in plans.iter().enumerate() {
        let mut mine: Vec<Record> = Vec::new();
        'scenario: for k in 0..args.repeat {
            for &engine in &engines {
                if interrupts.raised() {
                    stop = Some(Stop::Interrupted);
                    break 'scenario;
                }
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
                let r = match run_in_room(engine, s, params, &plan, &host, timeout) {
                    Ok(r) => r,
                    Err(e) => {
                        failure = Some(anyhow::Error::from(e));
                        break 'scenario;
                    }
                };
                store.append(&r)?;
                sink.write(
                    &exp.finished(&r, records.len() + mine.len(), planned),
                    &dest,
                )?;
                let passed = r.verdict.status.is_success();
                if !passed {
                    worst = EXIT_DEVIATION;
                }
                mine.push(r);
                if !passed && args.fail_fast {
                    stop = Some(Stop::FailFast);
                    break 'scenario;
                }
            }
        }
        if !mine.is_empty() {
            let part = runs_of(&args, &host.os, std::slice::from_ref(*s), &mine);
            sink.write(&exp.part(&part, parts), &dest)?;
            parts += 1;
        }
        records.extend(mine);
        let last_point = plans.get(i + 1).is_none_or(|(next, _)| next.name != s.name);
        if sweeping && (last_point || stop.is_some() || failure.is_some()) {
            for sw in sweeps_of(s, &records, &engines) {
                // JSON and JUnit carry every record with its parameters; their documents
                // have no place for a table between records.
                if matches!(format, Format::Text | Format::Markdown) {
                    sink.write(&exp.sweep(&sw), &dest)?;
                }
                sweeps.push(sw);
            }
        }
        if stop.is_some() || failure.is_some() {
            break;
        }
    }
    let ending = Ending {
        planned,
        not_run: planned - records.len(),
        stop: stop.filter(|_| records.len() < planned),
    };
    let all = runs_of(&args, &host.os, &scenarios, &records);
    sink.write(&exp.close(&all, parts, &ending), &dest)?;
    if let Some(f) = pcap.take() {
        write_pcap(f, &records).with_context(|| {
            let p = args
                .pcap
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            format!("--pcap: cannot write {p}")
        })?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(plot) = &args.plot {
        let drawn = plot::svg(&sweeps)
            .map_err(|e| e.to_string())
            .and_then(|svg| {
                std::fs::write(plot, svg)
                    .map_err(|e| format!("cannot write {}: {e}", plot.display()))
            });
        if let Err(why) = drawn {
            eprintln!("Error: --plot: {why}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    }
    if let Some(d) = ending.describe() {
        eprintln!(
            "{d}; the report holds the {} that finished",
            report::verdicts::runs(records.len())
        );
    }
    if ending.stop == Some(Stop::Interrupted) {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if !invalid.is_empty() {
        return Ok(invalid_exit);
    }
    Ok(ExitCode::from(worst))
}

/// The sweeps of scenario `s` among `records`: one per engine, the parameters' units from
/// their types.
fn sweeps_of(s: &Scenario, records: &[Record], engines: &[Engine]) -> Vec<Sweep> {
    let mut out = Vec::new();
    for e in engines {
        let mine: Vec<Record> = records
            .iter()
            .filter(|r| r.scenario.name == s.name && r.engine == e.name())
            .cloned()
            .collect();
        let Some(mut sw) = Sweep::of_records(&mine) else {
            continue;
        };
        for name in &sw.varied {
            let unit = s.param(name).and_then(|p| match p.kind {
                ParamKind::Size => Some("bytes".to_owned()),
                ParamKind::Duration => Some("ms".to_owned()),
                _ => p.unit.clone(),
            });
            if let Some(u) = unit {
                sw.units.insert(name.clone(), u);
            }
        }
        out.push(sw);
    }
    out
}

/// What the report of `records` needs (`os`: whose expectations the engines'
/// comparison shows).
fn runs_of<'a>(
    args: &RunArgs,
    os: &'a str,
    scenarios: &'a [Scenario],
    records: &'a [Record],
) -> report::Runs<'a> {
    report::Runs {
        scenarios,
        records,
        os,
        engines: args.engine == EngineChoice::All,
        repeated: args.repeat > 1,
    }
}

/// The report of a run's records in `format` (`os`: whose expectations the engines'
/// comparison shows), written at once (`--kernel`).
pub fn render_runs(
    args: &RunArgs,
    format: Format,
    scenarios: &[Scenario],
    records: &[Record],
    os: &str,
) -> String {
    run_exporter(args, format, false).run(&runs_of(args, os, scenarios, records))
}

/// Every run's packets into one pcapng file: interfaces named `runN:point`, described by
/// the scenario, engine and run.
fn write_pcap(f: std::fs::File, records: &[Record]) -> std::io::Result<()> {
    use tcplab::capture::pcapng::{write_pcapng, PcapRun};
    use tcplab::capture::PointInfo;
    let titles: Vec<String> = records
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{} (engine {}, run {})", r.scenario.name, r.engine, i + 1))
        .collect();
    let points: Vec<Vec<PointInfo>> = records
        .iter()
        .map(|r| {
            r.capture
                .iter()
                .flat_map(|c| &c.points)
                .filter_map(|p| p.split_once('='))
                .map(|(name, ifname)| PointInfo {
                    name: name.to_owned(),
                    ifname: ifname.to_owned(),
                })
                .collect()
        })
        .collect();
    let runs: Vec<PcapRun> = records
        .iter()
        .zip(&titles)
        .zip(&points)
        .map(|((r, title), points)| PcapRun {
            title,
            points,
            packets: &r.packets,
        })
        .collect();
    let mut w = std::io::BufWriter::new(f);
    write_pcapng(&mut w, &runs)?;
    std::io::Write::flush(&mut w)
}
