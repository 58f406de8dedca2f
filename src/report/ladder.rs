//! Ladder (sequence) diagrams of a run (`--format svg`, `--format html`): time runs
//! down, one lane per host (a run over the wire) or per actor (loopback), each captured
//! packet an arrow from when it was sent to when it was received, each socket call a box
//! beside its actor's lane with its outcome.
//!
//! [`svg`] is a pure function of a [`Record`]; [`html`] puts the diagrams of several
//! records on one page with their titles, verdicts and a legend. Inside: `model` reads
//! the record (lanes, paired packets, folded trains, calls), `axis` turns times into
//! heights, `draw` writes the SVG and `html` the page.
//!
//! A record without packets (a run made before capture, or on a system without it)
//! still gets its lanes and calls.

mod axis;
mod draw;
mod html;
mod model;
#[cfg(test)]
mod samples;
#[cfg(test)]
mod tests;

use super::{Ending, Exporter, Matrix, Runs};
use crate::record::Record;
use crate::scenario::Scenario;

/// The ladder diagram of one run, as an SVG document.
pub fn svg(record: &Record) -> String {
    draw::svg(&model::build(record), record, true)
}

/// [`svg`] without the title and verdict lines (the page has them in its heading).
fn untitled_svg(record: &Record) -> String {
    draw::svg(&model::build(record), record, false)
}

/// An HTML page with the ladder of every record in `records`, each under its title and
/// verdict, after a legend. The SVGs are inline: the page is one self-contained file.
pub fn html(records: &[Record]) -> String {
    let mut out = html::open(records.len());
    for (i, r) in records.iter().enumerate() {
        out.push_str(&html::section(r, i + 1));
    }
    out.push_str(&html::close(&Ending::complete(records.len())));
    out
}

/// What `tcplab compare` and `tcplab explain` would get from a ladder format, which has
/// nothing to draw for them (the command line refuses these formats there).
const NOTHING_TO_DRAW: &str = "a ladder diagram draws the runs of `tcplab run`";

/// `--format svg`: the ladder of the first run. One SVG document holds one diagram, so
/// the runs after the first are not drawn: a note on stderr says so once and points to
/// `--format html`, whose page holds every run's.
pub struct Svg;

impl Exporter for Svg {
    fn records(&self, runs: &Runs) -> String {
        runs.records.first().map(svg).unwrap_or_default()
    }

    fn part(&self, _runs: &Runs, _index: usize) -> String {
        String::new()
    }

    fn close(&self, _runs: &Runs, _parts: usize, _ending: &Ending) -> String {
        String::new()
    }

    fn finished(&self, record: &Record, before: usize, planned: usize) -> String {
        match before {
            0 => svg(record),
            1 => {
                eprintln!(
                    "note: --format svg draws the first run only (one diagram per SVG); the other {} are in --format html, one page for every run",
                    planned - 1
                );
                String::new()
            }
            _ => String::new(),
        }
    }

    fn matrix(&self, _m: &Matrix) -> String {
        format!("<!-- {NOTHING_TO_DRAW} -->\n")
    }

    fn explain(&self, _s: &Scenario) -> String {
        format!("<!-- {NOTHING_TO_DRAW} -->\n")
    }
}

/// `--format html`: one page, every run's ladder on it, written as the runs finish (a
/// run stopped by Ctrl-C still leaves a whole page, saying so at its end).
pub struct Html;

impl Exporter for Html {
    fn records(&self, runs: &Runs) -> String {
        html(runs.records)
    }

    fn open(&self, planned: usize) -> String {
        html::open(planned)
    }

    fn finished(&self, record: &Record, before: usize, _planned: usize) -> String {
        html::section(record, before + 1)
    }

    fn part(&self, _runs: &Runs, _index: usize) -> String {
        String::new()
    }

    fn close(&self, _runs: &Runs, _parts: usize, ending: &Ending) -> String {
        html::close(ending)
    }

    fn matrix(&self, _m: &Matrix) -> String {
        format!("<!-- {NOTHING_TO_DRAW} -->\n")
    }

    fn explain(&self, _s: &Scenario) -> String {
        format!("<!-- {NOTHING_TO_DRAW} -->\n")
    }
}
