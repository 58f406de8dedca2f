//! `tcplab completions SHELL` and `tcplab man`: shell completions (clap_complete) and
//! manual pages (clap_mangen), generated from the same clap definitions the parser uses,
//! so they never drift from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, EXIT_OK};

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// Write one page per command (tcplab.1, tcplab-run.1, ...) into DIR instead of
    /// printing tcplab(1) to stdout
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script for `shell` to stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "tcplab", &mut out);
    super::write_output("-", &String::from_utf8_lossy(&out))?;
    Ok(ExitCode::from(EXIT_OK))
}

/// Prints tcplab(1) as roff, or writes every command's page into `--dir`.
pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
            eprintln!(
                "wrote the manual pages into {} (read one with `man -l {}/tcplab.1`)",
                dir.display(),
                dir.display()
            );
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("cannot render the manual page")?;
            super::write_output("-", &String::from_utf8_lossy(&out))?;
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
