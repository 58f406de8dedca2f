//! `tcplab compare`: reads record files, skipping (and naming) the lines that are not
//! records, and writes their matrix.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use tcplab::record;
use tcplab::report::Matrix;

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
}

pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
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
    let colour = super::colour(
        args.color,
        args.output == "-" && std::io::stdout().is_terminal(),
    );
    let text = exporter(args.format, colour).matrix(&Matrix::from_entries(&entries));
    write_output(&args.output, &text)?;
    Ok(ExitCode::from(if unreadable {
        EXIT_USAGE
    } else {
        EXIT_OK
    }))
}
