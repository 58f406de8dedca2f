//! Command-line interface: parses arguments and chooses. Each command's work is in the
//! library; a report is made by the exporter `--format` picks (`tcplab::report`). Results
//! go to stdout, narration to stderr. `run` and `compare` have files of their own, as
//! does `kernels` (with `run --kernel`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use tcplab::env::Environment;
use tcplab::profile::{self, PROFILES};
use tcplab::report::{self, Exporter};
use tcplab::room::{self, Room, RoomChoice, RoomPlan};
use tcplab::scenario::{self, Scenario, ScenarioError};

mod compare;
mod completions;
mod kernel;
mod new;
mod run;
mod select;

use compare::CompareArgs;
use run::{render_runs, RunArgs};

/// Every scenario run passed, or had no expectation for this OS.
pub const EXIT_OK: u8 = 0;
/// A scenario deviated from its expectations, or did not complete.
pub const EXIT_DEVIATION: u8 = 1;
/// Bad usage or an invalid scenario file.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "tcplab",
    version,
    about = "A TCP socket behaviour lab: runs paired client/server experiments on real sockets, records every call and checks the outcomes against what is expected on this OS."
)]
struct Cli {
    /// Folder of scenario files [default: $TCPLAB_SCENARIOS, ./scenarios, or the one the binary was built from]
    #[arg(long, global = true, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios by name or path and report what the kernel did.
    Run(RunArgs),
    /// List the scenarios by topic, with their summaries (all of them, or those named).
    List {
        /// Scenario names, file stems or globs over them ('write-*')
        targets: Vec<String>,
        #[command(flatten)]
        topic: select::TopicArgs,
        /// Show each scenario's parameters instead: type, default, bounds and help
        #[arg(long)]
        params: bool,
    },
    /// A scenario's parameters: type, default, bounds and help, for `run --set`.
    Params {
        /// Scenario name or file stem (see `tcplab list`), or path to a .toml file
        name: String,
    },
    /// Explain a scenario: what it shows, why the kernel behaves so, how other systems
    /// differ, what to read, and what is expected where (per OS, engine and kernel range).
    Explain {
        /// Scenario name or file stem (see `tcplab list`), or path to a .toml file
        name: String,
        /// Print Markdown instead of terminal text
        #[arg(long)]
        markdown: bool,
    },
    /// Validate scenario files without running them (the whole catalogue when none is named).
    Check {
        /// Scenario names or file stems, globs over them ('write-*'), or paths to .toml files
        targets: Vec<String>,
        #[command(flatten)]
        topic: select::TopicArgs,
    },
    /// Print this machine's environment block (OS, kernel, TCP settings).
    Env {
        /// Print it as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        netns: NetnsArgs,
    },
    /// List the environment profiles for --profile: name, settings, what each models.
    Profiles,
    /// Compare record files: one row per scenario observation and parameter set, one column
    /// per environment; one environment's runs over several parameter sets as a sweep.
    Compare(CompareArgs),
    /// The user-mode Linux kernels at hand for `run --kernel`; `kernels fetch` gets Debian's.
    Kernels {
        #[command(subcommand)]
        action: Option<kernel::KernelsAction>,
    },
    /// Write a commented skeleton scenario to start an experiment from
    /// (scenarios/<topic>/<topic>-NAME.toml, or -o PATH); never overwrites a file.
    New(new::NewArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the manual page tcplab(1) as roff, or write every command's page with --dir.
    Man(completions::ManArgs),
    /// The init of a UML guest (PID 1): runs a job and hands the records back on the console.
    #[command(name = "guest-init", hide = true)]
    GuestInit {
        /// The job file the host wrote
        job: PathBuf,
        /// What UML adds to the command line after ours (`console=tty0`); ignored
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        _rest: Vec<String>,
    },
}

/// Where runs happen, and the settings of their rooms.
#[derive(Args)]
struct NetnsArgs {
    /// Run in a clean room (default: a fresh network namespace for every run, with the
    /// kernel's defaults and an empty metrics cache) or in the machine's own namespace,
    /// with its settings and its history (`host`)
    #[arg(long, value_enum, default_value_t = RoomArg::Clean)]
    room: RoomArg,
    /// Set this sysctl in each run's room: --sysctl net.core.somaxconn=128 (repeatable; Linux)
    #[arg(long = "sysctl", value_name = "NAME=VALUE", value_parser = parse_set)]
    sysctls: Vec<(String, String)>,
    /// Give each run's room a named profile's settings (see `tcplab profiles`; Linux)
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
}

/// `--room`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RoomArg {
    /// A fresh network namespace for every run
    Clean,
    /// The machine's own network namespace
    Host,
}

impl NetnsArgs {
    /// The room every run asks for, the environment read outside any room, and the one
    /// seen inside a trial room (what a run sees; `tcplab env` prints it). The
    /// settings are tried once in a room of their own first, so that a refused setting
    /// is a usage error before anything runs; a setting that reads back otherwise than it
    /// was written (the kernel filled in or adjusted part of it) is pointed out there.
    fn plan(&self) -> anyhow::Result<(RoomPlan, Environment, Environment)> {
        let netns = if self.sysctls.is_empty() && self.profile.is_none() {
            None
        } else {
            Some(profile::settings(self.profile.as_deref(), &self.sysctls)?)
        };
        let plan = RoomPlan {
            choice: match self.room {
                RoomArg::Clean => RoomChoice::Clean,
                RoomArg::Host => RoomChoice::Host,
            },
            netns,
        };
        let host = Environment::current();
        let env = room::run_in(&plan, &host, |env| env)?;
        if let Some(Room {
            fallback: Some(why),
            ..
        }) = &env.room
        {
            eprintln!(
                "note: no clean room: {why}; runs happen in the machine's own network namespace, with its settings and history"
            );
        }
        if let Some(n) = &env.netns {
            for (k, asked) in &n.set {
                match env.sysctls.get(k) {
                    Some(got) if got != asked => {
                        eprintln!("note: {k} was set to `{asked}` and reads back as `{got}`")
                    }
                    _ => {}
                }
            }
        }
        Ok((plan, host, env))
    }

    /// The environment a run sees (`tcplab env`): the trial room's.
    fn environment(&self) -> anyhow::Result<Environment> {
        Ok(self.plan()?.2)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
    /// JUnit XML, for CI: a test case per scenario (and engine)
    Junit,
    /// A ladder diagram of the first run's packets and calls (the other runs: html)
    Svg,
    /// One page with every run's ladder diagram, its title and verdict
    Html,
}

/// `--color`: whether terminal text is coloured.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When the report goes to a terminal and NO_COLOR is unset or empty
    Auto,
    Always,
    Never,
}

/// Whether to colour a report: `to_terminal` says whether it goes to one. `auto` follows
/// the NO_COLOR convention (no-color.org): only a non-empty value turns colour off.
fn colour(choice: ColorChoice, to_terminal: bool) -> bool {
    colour_with(choice, to_terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// [`colour`] with the value of NO_COLOR given.
fn colour_with(choice: ColorChoice, to_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_terminal && no_color.is_none_or(|v| v.is_empty()),
    }
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

pub fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help and version to stdout with status 0, usage errors with 2.
            let _ = e.print();
            return Ok(ExitCode::from(if e.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            }));
        }
    };
    let dir = scenario_dir(cli.scenarios.as_deref());
    let makes_rooms = match &cli.command {
        // A guest kernel makes its own rooms; the host side only boots it.
        Command::Run(args) => args.kernel.is_none(),
        Command::Env { .. } => true,
        _ => false,
    };
    if makes_rooms {
        // Before the first thread: an unprivileged process can enter a user namespace of
        // its own, in which it can make clean rooms, only while it is single-threaded.
        room::prepare();
    }
    match cli.command {
        Command::Run(args) => run::run_command(&dir, args),
        Command::List {
            targets,
            topic,
            params: false,
        } => list(&dir, &targets, &topic.topics),
        Command::List {
            targets,
            topic,
            params: true,
        } => list_params(&dir, &targets, &topic.topics),
        Command::Params { name } => params(&dir, &name),
        Command::Explain { name, markdown } => explain(&dir, &name, markdown),
        Command::Check { targets, topic } => check(&dir, &targets, &topic.topics),
        Command::Profiles => profiles(),
        Command::Compare(args) => compare::compare(&args),
        Command::Kernels { action } => kernel::kernels(action),
        Command::New(args) => new::new(&dir, &args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
        Command::GuestInit { job, .. } => tcplab::uml::guest::init(&job),
        Command::Env { json, netns } => {
            let env = netns.environment()?;
            let mut text = String::new();
            if json {
                text = serde_json::to_string_pretty(&env)?;
                text.push('\n');
            } else {
                let version = env.os_version.as_deref().unwrap_or("(unknown)");
                text.push_str(&format!("os            {}\n", env.os));
                text.push_str(&format!("os version    {version}\n"));
                text.push_str(&format!(
                    "kernel        {} {}\n",
                    env.kernel, env.kernel_release
                ));
                text.push_str(&format!("arch          {}\n", env.arch));
                text.push_str(&format!("cpus          {}\n", env.cpus));
                if let Some(r) = &env.room {
                    text.push_str(&format!("room          {}\n", r.describe()));
                }
                if let Some(n) = &env.netns {
                    text.push_str(&format!("netns         {}\n", n.describe()));
                }
                if let Some(mtu) = env.lo_mtu {
                    text.push_str(&format!("lo mtu        {mtu}\n"));
                }
                match &env.tcp_metrics {
                    Some(m) if m.is_empty() => text.push_str("tcp_metrics   127.0.0.1: no entry\n"),
                    Some(m) => {
                        let vals: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
                        text.push_str(&format!("tcp_metrics   127.0.0.1: {}\n", vals.join(", ")));
                    }
                    None => {}
                }
                // The longest name sets the column, so that no name runs into its value.
                let width = env.sysctls.keys().map(String::len).max().unwrap_or(0) + 2;
                for (k, v) in &env.sysctls {
                    text.push_str(&format!("{k:<width$}{v}\n"));
                }
            }
            write_output("-", &text)?;
            Ok(ExitCode::from(EXIT_OK))
        }
    }
}

/// `--scenarios`, then $TCPLAB_SCENARIOS, then ./scenarios, then the source tree's.
fn scenario_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(d) = flag {
        return d.to_owned();
    }
    if let Some(d) = std::env::var_os("TCPLAB_SCENARIOS") {
        return PathBuf::from(d);
    }
    let local = PathBuf::from("scenarios");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn load_catalogue(dir: &Path) -> anyhow::Result<(Vec<Scenario>, Vec<ScenarioError>)> {
    scenario::catalogue(dir)
        .with_context(|| format!("cannot read the scenario folder {}", dir.display()))
}

fn list(dir: &Path, targets: &[String], topics: &[String]) -> anyhow::Result<ExitCode> {
    let (good, bad) = select::select(dir, targets, topics)?;
    let mut topics: BTreeMap<&str, Vec<&Scenario>> = BTreeMap::new();
    for s in &good {
        topics.entry(s.topic.as_str()).or_default().push(s);
    }
    let width = good.iter().map(|s| s.name.len()).max().unwrap_or(8);
    let mut text = String::new();
    let groups = topics.len();
    for (topic, list) in topics {
        text.push_str(&format!("{topic} ({})\n", list.len()));
        for s in list {
            text.push_str(&format!("  {:<width$}  {}\n", s.name, s.summary));
        }
    }
    eprintln!(
        "{} scenarios in {groups} {}; `tcplab explain NAME` tells what one shows and why",
        good.len(),
        if groups == 1 { "topic" } else { "topics" }
    );
    write_output("-", &text)?;
    report_warnings(&good);
    Ok(report_invalid(&bad))
}

/// The table of a scenario's parameters, each line indented by `indent`, with a
/// heading line; empty when it has none.
fn params_table(s: &Scenario, indent: &str) -> String {
    if s.params.is_empty() {
        return String::new();
    }
    let mut rows = vec![["name", "type", "default", "bounds", "help"].map(String::from)];
    rows.extend(s.params.iter().map(|p| p.columns()));
    scenario::align_params(&rows, indent)
}

/// How values are written, for the kinds `s` has.
fn params_footer(s: &Scenario) -> String {
    let mut out = format!("Set one with: tcplab run {} --set NAME=VALUE", s.name);
    let kinds: Vec<&str> = s.params.iter().map(|p| p.kind.name()).collect();
    if kinds.contains(&"size") {
        out.push_str("; sizes take B, KiB, MiB, GiB, KB, MB, GB");
    }
    if kinds.contains(&"duration") {
        out.push_str("; durations take ms, s");
    }
    out.push('\n');
    out
}

/// `tcplab params NAME`.
fn params(dir: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let s = match select::find(dir, name)? {
        Ok(s) => s,
        Err(e) => return Ok(report_invalid(&[e])),
    };
    let text = if s.params.is_empty() {
        format!("{}: {}\n  no parameters\n", s.name, s.title)
    } else {
        format!(
            "{}: {}\n{}{}",
            s.name,
            s.title,
            params_table(&s, "  "),
            params_footer(&s)
        )
    };
    write_output("-", &text)?;
    Ok(ExitCode::from(EXIT_OK))
}

/// `tcplab list --params`: every scenario that has parameters, with its table.
fn list_params(dir: &Path, targets: &[String], topics: &[String]) -> anyhow::Result<ExitCode> {
    let (good, bad) = select::select(dir, targets, topics)?;
    let with: Vec<&Scenario> = good.iter().filter(|s| !s.params.is_empty()).collect();
    let mut text = String::new();
    for s in &with {
        text.push_str(&format!(
            "{} ({})\n{}",
            s.name,
            s.topic,
            params_table(s, "  ")
        ));
    }
    eprintln!(
        "{} of {} scenarios have parameters; set one with `tcplab run NAME --set NAME=VALUE`",
        with.len(),
        good.len()
    );
    write_output("-", &text)?;
    report_warnings(&good);
    Ok(report_invalid(&bad))
}

/// Prints what this machine cannot honour in valid files (an errno it does not report,
/// a counter its kernel lacks); the files stay valid, the exit status is unchanged.
pub(super) fn report_warnings(scenarios: &[Scenario]) {
    for w in scenarios.iter().flat_map(|s| &s.warnings) {
        eprintln!("warning: {w}");
    }
}

/// Prints each invalid file's error; exit 2 if there was any.
fn report_invalid(bad: &[ScenarioError]) -> ExitCode {
    for e in bad {
        eprintln!("invalid scenario: {e}");
    }
    ExitCode::from(if bad.is_empty() { EXIT_OK } else { EXIT_USAGE })
}

fn check(dir: &Path, targets: &[String], topics: &[String]) -> anyhow::Result<ExitCode> {
    let (good, bad) = select::select(dir, targets, topics)?;
    let text: String = good
        .iter()
        .map(|s| format!("ok  {} ({})\n", s.path.display(), s.name))
        .collect();
    write_output("-", &text)?;
    report_warnings(&good);
    Ok(report_invalid(&bad))
}

fn explain(dir: &Path, name: &str, markdown: bool) -> anyhow::Result<ExitCode> {
    let s = match select::find(dir, name)? {
        Ok(s) => s,
        Err(e) => return Ok(report_invalid(&[e])),
    };
    let format = if markdown {
        Format::Markdown
    } else {
        Format::Text
    };
    let text = exporter(format, false).explain(&s);
    write_output("-", &text)?;
    Ok(ExitCode::from(EXIT_OK))
}

/// The exporter for `--format`; `colour` highlights differences in terminal text.
fn exporter(format: Format, colour: bool) -> Box<dyn Exporter> {
    match format {
        Format::Text => Box::new(report::Text {
            colour,
            quiet: false,
            packets: true,
        }),
        Format::Json => Box::new(report::Json),
        Format::Markdown => Box::new(report::Markdown),
        Format::Junit => Box::new(report::Junit),
        Format::Svg => Box::new(report::Svg),
        Format::Html => Box::new(report::Html),
    }
}

fn profiles() -> anyhow::Result<ExitCode> {
    let width = PROFILES.iter().map(|p| p.name.len()).max().unwrap_or(8);
    let mut text = String::new();
    for p in PROFILES {
        text.push_str(&format!("{:<width$}  {}\n", p.name, p.models));
        for (k, v) in p.settings {
            text.push_str(&format!("{:<width$}    {k} = {v}\n", ""));
        }
    }
    text.push_str(
        "\nUse: tcplab run NAME --profile PROFILE (or --sysctl NAME=VALUE): the settings are made in each run's own network namespace (Linux; root, or an unprivileged user namespace).\n",
    );
    write_output("-", &text)?;
    Ok(ExitCode::from(EXIT_OK))
}

/// Writes a report to `dest` (`-` is stdout). A reader that went away early
/// (`tcplab run --all --json | head`) is not an error: the results were not wanted.
fn write_output(dest: &str, text: &str) -> anyhow::Result<()> {
    if dest == "-" {
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.context("cannot write to stdout"),
        }
    } else {
        std::fs::write(dest, text).with_context(|| format!("cannot write {dest}"))
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::{colour_with, ColorChoice};

    #[test]
    fn auto_colours_a_terminal_unless_no_color_has_a_value() {
        let auto = |to_terminal, no_color: Option<&str>| {
            colour_with(ColorChoice::Auto, to_terminal, no_color.map(OsStr::new))
        };
        assert!(auto(true, None));
        assert!(
            auto(true, Some("")),
            "an empty NO_COLOR does not turn colour off"
        );
        assert!(!auto(true, Some("1")));
        assert!(!auto(false, None));
    }

    #[test]
    fn always_and_never_ignore_the_terminal_and_no_color() {
        let one = OsStr::new("1");
        assert!(colour_with(ColorChoice::Always, false, Some(one)));
        assert!(!colour_with(ColorChoice::Never, true, None));
    }
}
