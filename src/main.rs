//! The `tcplab` command: thin on purpose; the work is in the library.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
