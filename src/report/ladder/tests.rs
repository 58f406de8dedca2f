//! The ladder drawn from synthetic records: a run over the wire (handshake, data, a drop,
//! its retransmission, an injected RST), a loopback run, a bulk transfer and a keepalive
//! run. The SVG is parsed as XML and its marks counted; labels are checked not to
//! overlap, with their widths as `draw` computes them.
//!
//! To look at the example page: `TCPLAB_LADDER_DIR=/tmp/ladder cargo test --lib
//! ladder::tests::the_example_page` writes `ladder.html` and one SVG per run there
//! (without the variable they go to a temporary folder that is removed).

use super::draw::CHAR_W;
use super::model::MAX_ARROWS;
use super::samples::{bulk_run, keepalive_run, loopback_run, wire_run};
use super::*;
use crate::packet::Way;

// --- Reading the SVG --------------------------------------------------------------------

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("the SVG is not XML: {e}\n{svg}"))
}

fn has_class(n: &roxmltree::Node, c: &str) -> bool {
    n.attribute("class")
        .is_some_and(|k| k.split(' ').any(|x| x == c))
}

fn count(doc: &roxmltree::Document, c: &str) -> usize {
    doc.descendants().filter(|n| has_class(n, c)).count()
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .collect()
        })
        .collect()
}

/// A text's box from its anchor, its length in characters and the monospace advance.
fn text_box(n: &roxmltree::Node) -> (f64, f64, f64, f64) {
    let num = |a: &str| {
        n.attribute(a)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let text: String = n
        .descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect();
    let w = text.chars().count() as f64 * CHAR_W;
    let (x, y) = (num("x"), num("y"));
    let left = match n.attribute("text-anchor") {
        Some("middle") => x - w / 2.0,
        Some("end") => x - w,
        _ => x,
    };
    (left, y - 9.0, left + w, y + 3.0)
}

/// The labels of arrows and calls whose boxes overlap, as pairs of their texts.
fn overlapping(doc: &roxmltree::Document) -> Vec<(String, String)> {
    let labels: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter(|n| {
            has_class(n, "packet-label")
                || n.parent()
                    .is_some_and(|p| has_class(&p, "call") || has_class(&p, "fold"))
        })
        .collect();
    let mut out = Vec::new();
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            let (p, q) = (text_box(a), text_box(b));
            if p.0 < q.2 && q.0 < p.2 && p.1 < q.3 && q.1 < p.3 {
                let t = |n: &roxmltree::Node| {
                    n.descendants()
                        .filter(|d| d.is_text())
                        .filter_map(|d| d.text())
                        .collect()
                };
                out.push((t(a), t(b)));
            }
        }
    }
    out
}

// --- A run over the wire ----------------------------------------------------------------

#[test]
fn every_departure_and_the_injected_rst_is_one_arrow() {
    let r = wire_run();
    let svg = svg(&r);
    let doc = parse(&svg);
    let departures = r.packets.iter().filter(|p| p.way == Some(Way::Out)).count();
    assert_eq!(count(&doc, "arrow"), departures + 1, "{svg}");
    assert_eq!(count(&doc, "from-wire"), 1);
    assert_eq!(count(&doc, "inject-mark"), 1);
    assert_eq!(count(&doc, "retransmission"), 1);
    assert_eq!(count(&doc, "rst"), 1);
}

#[test]
fn the_dropped_segment_ends_in_an_x_with_the_wires_note() {
    let doc_text = svg(&wire_run());
    let doc = parse(&doc_text);
    assert_eq!(count(&doc, "drop-mark"), 1);
    assert_eq!(count(&doc, "dropped"), 1);
    let all = texts(&doc);
    assert!(
        all.iter()
            .any(|t| t == "PSH|ACK 2897:4345 ack 1 len 1448 win 502 · dropped: loss #2"),
        "{all:?}"
    );
    // The X sits on the wire, halfway between the lanes.
    let wire_x = doc
        .descendants()
        .find(|n| has_class(n, "wire"))
        .and_then(|n| n.attribute("x1"));
    let mark = doc
        .descendants()
        .find(|n| has_class(n, "drop-mark"))
        .and_then(|n| n.attribute("d"));
    let x: f64 = wire_x.unwrap().parse().unwrap();
    assert!(
        mark.unwrap().contains(&format!("M{:.1},", x - 5.0)),
        "{mark:?} vs wire at {x}"
    );
}

#[test]
fn lanes_are_the_hosts_with_their_actors_and_the_calls_show_outcomes() {
    let doc_text = svg(&wire_run());
    let doc = parse(&doc_text);
    let all = texts(&doc);
    for t in ["a", "b", "client", "server", "10.89.0.1", "wire", "seed 42"] {
        assert!(all.iter().any(|x| x == t), "no {t} in {all:?}");
    }
    for t in [
        "connect ok",
        "write 4096 → 4096",
        "read EAGAIN",
        "read ECONNRESET",
    ] {
        assert!(
            all.iter().any(|x| x.ends_with(t)) || all.iter().any(|x| x == t),
            "no {t} in {all:?}"
        );
    }
    let failed: Vec<String> = doc
        .descendants()
        .filter(|n| has_class(n, "failed"))
        .map(|n| {
            n.descendants()
                .filter(|d| d.has_tag_name("text"))
                .filter_map(|d| d.text())
                .collect()
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("ECONNRESET"));
    assert_eq!(count(&doc, "would-block"), 1);
}

#[test]
fn every_text_is_escaped() {
    let text = svg(&wire_run());
    assert!(!text.contains("<forged>") && !text.contains("<by the wire>"));
    let doc = parse(&text);
    let title = doc
        .descendants()
        .find(|n| has_class(n, "title"))
        .and_then(|n| n.text());
    assert_eq!(
        title,
        Some("rst-on-the-wire — A <forged> RST & a lost segment")
    );
    let tooltips: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        tooltips.iter().any(|t| t.contains("[reset <by the wire>]")),
        "{tooltips:?}"
    );
}

#[test]
fn no_two_labels_overlap() {
    for r in [wire_run(), loopback_run(), bulk_run(40), keepalive_run()] {
        let text = svg(&r);
        let doc = parse(&text);
        let o = overlapping(&doc);
        assert!(o.is_empty(), "{}: {o:?}", r.scenario.name);
    }
}

#[test]
fn a_long_pause_is_cut_and_says_how_long_it_was() {
    let doc_text = svg(&keepalive_run());
    let doc = parse(&doc_text);
    assert_eq!(
        count(&doc, "gap"),
        10,
        "the handshake's pause and nine between probes"
    );
    let height: f64 = doc
        .root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap();
    assert!(height < 1800.0, "{height}");
    assert!(texts(&doc)
        .iter()
        .any(|t| t == "499.8 ms later (not to scale)"));
}

// --- Loopback ---------------------------------------------------------------------------

#[test]
fn on_loopback_the_lanes_are_the_actors_and_arrows_are_flat() {
    let doc_text = svg(&loopback_run());
    let doc = parse(&doc_text);
    let lanes: Vec<&str> = doc
        .descendants()
        .filter(|n| has_class(n, "lane-name"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(lanes, ["server", "client", "port 5555"]);
    assert_eq!(count(&doc, "arrow"), 8);
    assert_eq!(count(&doc, "wire"), 0);
    for line in doc.descendants().filter(|n| n.has_tag_name("line")) {
        if line.parent().is_some_and(|p| has_class(&p, "arrow")) {
            let y = |a| line.attribute(a).unwrap().parse::<f64>().unwrap();
            assert!((y("y2") - y("y1")).abs() <= 3.01, "{line:?}");
        }
    }
}

// --- Size -------------------------------------------------------------------------------

#[test]
fn a_long_train_is_one_band_and_a_bulk_transfer_stays_small() {
    let doc_text = svg(&bulk_run(40));
    let doc = parse(&doc_text);
    assert_eq!(count(&doc, "fold"), 1);
    let band: Vec<String> = texts(&doc)
        .into_iter()
        .filter(|t| t.starts_with("… "))
        .collect();
    // 40 segments and 20 ACKs after the handshake: 3 arrows kept before, 2 after.
    assert_eq!(band, ["… 37 segments, 53576 bytes, 18 ACKs back"]);

    let big = svg(&bulk_run(2000));
    let doc = parse(&big);
    assert!(
        count(&doc, "arrow") < MAX_ARROWS,
        "{}",
        count(&doc, "arrow")
    );
    assert!(big.len() < 2_000_000, "{} bytes", big.len());
}

// --- The page and the exporters --------------------------------------------------------

#[test]
fn the_page_holds_every_runs_diagram_inline() {
    let records = [wire_run(), loopback_run()];
    let page = html(&records);
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&page, opt).expect("the page is XML");
    let svgs = doc.descendants().filter(|n| n.has_tag_name("svg")).count();
    assert_eq!(svgs, 3, "two ladders and the legend");
    assert_eq!(doc.descendants().filter(|n| has_class(n, "run")).count(), 2);
    assert!(page.contains("DEVIATION") && page.contains("MISS reset_seen"));

    let runs = Runs {
        scenarios: &[],
        records: &records,
        os: "linux",
        engines: false,
        repeated: false,
    };
    let streamed = Html.run(&runs);
    assert_eq!(
        streamed, page,
        "written as the runs finish, the page is the same"
    );
    assert_eq!(Svg.run(&runs), svg(&records[0]), "svg: the first run");
}

#[test]
fn the_example_page() {
    let keep = std::env::var_os("TCPLAB_LADDER_DIR").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep.unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let records = [wire_run(), loopback_run(), bulk_run(40), keepalive_run()];
    std::fs::write(dir.join("ladder.html"), html(&records)).unwrap();
    for r in &records {
        std::fs::write(dir.join(format!("{}.svg", r.scenario.name)), svg(r)).unwrap();
    }
    assert!(dir.join("ladder.html").metadata().unwrap().len() > 1000);
}
