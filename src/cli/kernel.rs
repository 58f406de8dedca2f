//! `tcplab kernels` and `tcplab run --kernel K`: the command line's side of running
//! scenarios in other Linux kernels (the work is in `tcplab::uml`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;

use tcplab::env::Guest;
use tcplab::record::{self, Entry, Record};
use tcplab::report::{Exporter, Matrix, Text};
use tcplab::scenario::{ParamValue, Scenario, ScenarioError};
use tcplab::uml::boot::{self, BootOptions, GuestError, GuestEvent};
use tcplab::uml::guest::{Job, JobItem};
use tcplab::uml::{self, fetch, Kernel};

use super::{render_runs, write_output, Format, RunArgs, EXIT_DEVIATION, EXIT_OK, EXIT_USAGE};

/// The watchdog limit a run has when neither `--timeout-ms` nor the scenario sets one
/// (the engine's own default).
const DEFAULT_RUN_LIMIT: Duration = Duration::from_secs(10);

#[derive(Subcommand)]
pub enum KernelsAction {
    /// Download Debian's user-mode-linux packages (and libc6 where the kernel needs a newer C library) into the lab's cache folder
    Fetch {
        /// Debian suites [default: bullseye bookworm trixie sid]
        suites: Vec<String>,
    },
}

pub fn kernels(action: Option<KernelsAction>) -> anyhow::Result<ExitCode> {
    let cache = uml::cache_dir();
    if let Some(KernelsAction::Fetch { suites }) = action {
        let suites: Vec<String> = if suites.is_empty() {
            fetch::SUITES.iter().map(|s| s.to_string()).collect()
        } else {
            suites
        };
        let started = std::time::Instant::now();
        fetch::fetch(&cache, &suites)?;
        eprintln!("fetched in {:.1} s", started.elapsed().as_secs_f64());
    }
    let at_hand = uml::kernels(&cache);
    if at_hand.is_empty() {
        eprintln!(
            "no UML kernel at hand: `tcplab kernels fetch` gets Debian's into {} (or `apt-get install user-mode-linux`)",
            cache.display()
        );
        return Ok(ExitCode::from(EXIT_OK));
    }
    let width = at_hand.iter().map(|k| k.release.len()).max().unwrap_or(7);
    let mut text = String::new();
    for k in &at_hand {
        text.push_str(&format!(
            "{:<width$}  {:>5.1} MB  {}  {}\n",
            k.release,
            k.size as f64 / 1e6,
            k.source,
            k.linux.display()
        ));
    }
    write_output("-", &text)?;
    eprintln!("use: tcplab run NAME --kernel RELEASE (or a suite name, or all)");
    Ok(ExitCode::from(EXIT_OK))
}

/// The kernels `--kernel` names: one, or every one at hand for `all` (one per release).
fn chosen(asked: &str) -> anyhow::Result<Vec<Kernel>> {
    let at_hand = uml::kernels(&uml::cache_dir());
    if asked == "all" {
        if at_hand.is_empty() {
            bail!("--kernel all: no kernel at hand; `tcplab kernels fetch` gets Debian's");
        }
        return Ok(at_hand);
    }
    Ok(vec![uml::resolve(asked, &at_hand)?])
}

/// Runs the planned scenarios in each kernel `asked` names; the records as they came back
/// (appended to `--record` as they arrive) and the guests that did not finish.
pub fn run_in_kernels(
    asked: &str,
    dir: &Path,
    args: &RunArgs,
    plans: &[(&Scenario, BTreeMap<String, ParamValue>)],
) -> anyhow::Result<(Vec<Record>, Vec<GuestError>)> {
    if !args.netns.sysctls.is_empty() || args.netns.profile.is_some() {
        bail!("--kernel runs in the guest's own kernel settings; --profile and --sysctl do not apply there yet");
    }
    let kernels = chosen(asked)?;
    let options = BootOptions::for_this_binary().context("cannot find the tcplab binary")?;
    let scenarios_dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let mut items = Vec::new();
    for (s, params) in plans {
        let path = s
            .path
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", s.path.display()))?;
        items.push(JobItem {
            path,
            params: params.clone(),
        });
    }
    let host = tcplab::env::Environment::current();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for k in &kernels {
        let job = Job {
            scenarios_dir: scenarios_dir.clone(),
            items: items.clone(),
            engines: args
                .engine
                .engines()
                .iter()
                .map(|e| e.name().to_owned())
                .collect(),
            repeat: args.repeat,
            timeout_ms: args.timeout_ms,
            guest: Guest {
                kind: "uml".into(),
                source: k.source.clone(),
                host_kernel_release: host.kernel_release.clone(),
            },
        };
        let runs = job.runs();
        let limits: Vec<Duration> = runs
            .iter()
            .map(|(i, _, _)| {
                args.timeout_ms
                    .map(Duration::from_millis)
                    .unwrap_or_else(|| match plans[*i].0.timeout_ms {
                        0 => DEFAULT_RUN_LIMIT,
                        ms => Duration::from_millis(ms),
                    })
            })
            .collect();
        eprintln!(
            "kernel {}: booting {} ({} runs)",
            k.label(),
            k.linux.display(),
            runs.len(),
        );
        let mut append_error = None;
        let outcome = boot::run(k, &job, &limits, &options, |ev| match ev {
            GuestEvent::Ready(ms) => eprintln!("kernel {}: init ready after {ms:.0} ms", k.label()),
            GuestEvent::Start(i) => {
                if let Some((item, rep, engine)) = runs.get(i) {
                    eprintln!(
                        "[{}/{}] {} ({engine}{})",
                        item + 1,
                        plans.len(),
                        plans[*item].0.name,
                        if args.repeat > 1 {
                            format!(", run {} of {}", rep + 1, args.repeat)
                        } else {
                            String::new()
                        }
                    );
                }
            }
            GuestEvent::Record(r) => {
                if let (Some(path), None) = (&args.record, &append_error) {
                    if let Err(e) = record::append(path, std::slice::from_ref(r)) {
                        append_error = Some(format!(
                            "cannot append the record to {}: {e}",
                            path.display()
                        ));
                    }
                }
            }
        });
        if let Some(e) = append_error {
            bail!(e);
        }
        eprintln!(
            "kernel {}: {} records in {:.1} s (init ready after {}){}",
            k.label(),
            outcome.records.len(),
            outcome.total_ms / 1e3,
            outcome
                .boot_ms
                .map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
            if outcome.with_shim {
                ", with the XSAVE shim"
            } else {
                ""
            }
        );
        records.extend(outcome.records);
        if let Some(e) = outcome.error {
            eprintln!("Error: {e}");
            errors.push(e);
        }
    }
    Ok((records, errors))
}

/// The report of guest runs: per kernel, then (for `--kernel all`) the kernels side by
/// side. Exit 2 when a guest did not finish (its records are still reported).
#[allow(clippy::too_many_arguments)]
pub fn report_guest_runs(
    args: &RunArgs,
    format: Format,
    scenarios: &[Scenario],
    records: Vec<Record>,
    errors: Vec<GuestError>,
    comparison: bool,
    invalid: &[ScenarioError],
    invalid_exit: ExitCode,
) -> anyhow::Result<ExitCode> {
    let mut releases: Vec<&str> = Vec::new();
    for r in &records {
        if !releases.contains(&r.env.kernel_release.as_str()) {
            releases.push(&r.env.kernel_release);
        }
    }
    let mut text = String::new();
    if format == Format::Text {
        for rel in &releases {
            let mine: Vec<Record> = records
                .iter()
                .filter(|r| r.env.kernel_release == *rel)
                .cloned()
                .collect();
            if releases.len() > 1 {
                text.push_str(&format!("=== Linux {rel} (user-mode Linux) ===\n\n"));
            }
            text.push_str(&render_runs(args, format, scenarios, &mine, "linux"));
            text.push('\n');
        }
        if comparison && !records.is_empty() {
            let entries: Vec<Entry> = records.iter().map(Entry::from).collect();
            text.push_str("Kernels side by side\n\n");
            text.push_str(&Text::default().matrix(&Matrix::from_entries(&entries)));
        }
    } else {
        text = render_runs(args, format, scenarios, &records, "linux");
    }
    write_output(args.output(), &text)?;
    if !errors.is_empty() {
        eprintln!(
            "{} of the kernels did not finish; the records received are above{}",
            errors.len(),
            if args.record.is_some() {
                " and in the record file"
            } else {
                ""
            }
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if !invalid.is_empty() {
        return Ok(invalid_exit);
    }
    let worst = if records.iter().all(|r| r.verdict.status.is_success()) {
        EXIT_OK
    } else {
        EXIT_DEVIATION
    };
    Ok(ExitCode::from(worst))
}
