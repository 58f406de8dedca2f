//! `tcplab compare`: reads record files, skipping (and naming) the lines that are not
//! records, keeps the scenarios asked for, and writes their matrix (with the sweeps among
//! them), and with `--plot` the sweeps' charts as SVG.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use tcplab::record::{self, Entry};
use tcplab::report::{plot, Matrix};

use super::{exporter, write_output, ColorChoice, Format, EXIT_OK, EXIT_USAGE};

#[derive(Args)]
pub struct CompareArgs {
    /// Record files (JSON Lines, from `run --record`, or published records)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where to write the table; `-` is stdout
    #[arg(long, short, default_value = "-", value_name = "FILE")]
    pub output: String,
    /// Colour the differing rows: auto (when stdout is a terminal and NO_COLOR is unset or empty), always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Only these scenarios: a name, or a glob with `*` and `?` (`read-*`); repeatable
    #[arg(long = "scenario", value_name = "NAME|GLOB")]
    pub only: Vec<String>,
    /// Only the rows where the environments differ (and of a sweep, the observations
    /// that change with the parameters)
    #[arg(long)]
    pub differs: bool,
    /// Also draw the sweeps (records of one scenario from one environment that differ in
    /// one integer parameter) as SVG: one chart per numeric observation
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

/// The entries of the scenarios `patterns` name (all of them when none is given). A
/// pattern that matches no record is an error naming the closest scenarios there are.
fn select(entries: Vec<Entry>, patterns: &[String]) -> anyhow::Result<Vec<Entry>> {
    if patterns.is_empty() {
        return Ok(entries);
    }
    let mut names: Vec<&str> = Vec::new();
    for e in &entries {
        if !names.contains(&e.scenario.name.as_str()) {
            names.push(&e.scenario.name);
        }
    }
    for p in patterns {
        if !names.iter().any(|n| super::select::glob(p, n)) {
            let near = tcplab::suggest::closest(p, names.iter().copied());
            bail!(
                "--scenario `{p}` matches no record; {}",
                if near.is_empty() {
                    format!("the records are of: {}", names.join(", "))
                } else {
                    format!("the closest are: {}", near.join(", "))
                }
            );
        }
    }
    Ok(entries
        .into_iter()
        .filter(|e| {
            patterns
                .iter()
                .any(|p| super::select::glob(p, &e.scenario.name))
        })
        .collect())
}

pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    if matches!(args.format, Format::Svg | Format::Html) {
        eprintln!("Error: --format svg and html draw the runs of `tcplab run`; compare writes text, json, markdown or junit");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let mut entries = Vec::new();
    let mut unreadable = false;
    for f in &args.files {
        match record::read(f) {
            Ok((mut good, bad)) => {
                for b in &bad {
                    eprintln!("skipped {b}");
                }
                if good.is_empty() {
                    eprintln!("{}: no records", f.display());
                }
                entries.append(&mut good);
            }
            Err(e) => {
                eprintln!("Error: cannot read {}: {e}", f.display());
                unreadable = true;
            }
        }
    }
    if entries.is_empty() {
        bail!("no records to compare");
    }
    let entries = select(entries, &args.only)?;
    let mut matrix = Matrix::from_entries(&entries);
    if args.differs {
        matrix.retain_differing();
    }
    if let Some(plot) = &args.plot {
        let svg = plot::svg(&matrix.sweeps).map_err(|e| anyhow::anyhow!("--plot: {e}"))?;
        std::fs::write(plot, svg)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", plot.display()))?;
    }
    let colour = super::colour(
        args.color,
        args.output == "-" && std::io::stdout().is_terminal(),
    );
    let text = exporter(args.format, colour).matrix(&matrix);
    write_output(&args.output, &text)?;
    Ok(ExitCode::from(if unreadable {
        EXIT_USAGE
    } else {
        EXIT_OK
    }))
}
