//! The scenario parser takes text a learner typed: whatever it is given, it returns a
//! scenario or an error naming a place in the file, and never panics.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;

use tcplab::scenario::{self, Scenario, ScenarioError};

/// Cases per property: enough to shake the parser, few enough to run in seconds.
const CASES: u32 = 256;

/// Mutations applied to one real file per case.
const MAX_MUTATIONS: usize = 6;

/// Every file of the catalogue with its text, read once.
fn corpus() -> &'static [(PathBuf, String)] {
    static CORPUS: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let files = scenario::discover(&dir).expect("read the catalogue");
        assert!(!files.is_empty(), "no scenario files in {}", dir.display());
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("read a scenario file");
                (p, text)
            })
            .collect()
    })
}

/// Parses `text` and checks what an error says: a line, when given, lies in the file,
/// and the message prints.
fn parse_checked(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let result = scenario::parse(path, text, "fuzz");
    if let Err(e) = &result {
        let last = text.lines().count() + 1;
        if let Some(line) = e.line {
            assert!(
                (1..=last).contains(&line),
                "line {line} outside 1..={last}: {e}"
            );
        }
        assert!(!e.to_string().is_empty());
    }
    result
}

/// Pieces of scenario syntax, valid and not, that a mutation inserts.
const TOKENS: &[&str] = &[
    "=",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "'",
    "\"\"\"",
    "#",
    "\n",
    "\\",
    "[[actors]]",
    "[params]",
    "[observations]",
    "[expect.linux]",
    "[expect.plan9]",
    "name = \"x\"",
    "op = \"read\"",
    "op = \"wait\"",
    "op = \"nope\"",
    "sync = \"ghost\"",
    "as = \"l\"",
    "sock = \"zz\"",
    "id = \"dial\"",
    "when = \"backlog\"",
    "take = \"count\"",
    "count = 0",
    "{ op = \"signal\", sync = \"x\" },",
    "-1",
    "0",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "9223372036854775807 * 2",
    "1 / 0",
    "64KiB",
    "8GiB * 8GiB",
    "min(",
    "min()",
    "if_set(a)",
    "((((1))))",
    "{backlog}",
    "{",
    "true",
    "1.5",
    "1979-05-27T07:32:00Z",
    "any_of = []",
    "{ min = 1, max = 0 }",
    "{ when = \"backlog\", value = 1 }",
    "\u{0}",
    "\u{feff}",
    "é",
    "\r",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Duplicate(Index),
    /// Replaces a line with another line of the same file.
    CopyOver(Index, Index),
    /// Replaces a line with a token.
    Replace(Index, String),
    /// Inserts a token into a line at a character position.
    Insert(Index, Index, String),
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(TOKENS).prop_map(str::to_owned),
        1 => "[ -~]{0,12}",
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Duplicate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::CopyOver(a, b)),
        (any::<Index>(), token()).prop_map(|(i, t)| Mutation::Replace(i, t)),
        (any::<Index>(), any::<Index>(), token()).prop_map(|(i, at, t)| Mutation::Insert(i, at, t)),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for m in mutations {
        if lines.is_empty() {
            lines.push(String::new());
        }
        match m {
            Mutation::Delete(i) => {
                lines.remove(i.index(lines.len()));
            }
            Mutation::Duplicate(i) => {
                let i = i.index(lines.len());
                lines.insert(i, lines[i].clone());
            }
            Mutation::CopyOver(to, from) => {
                let from = lines[from.index(lines.len())].clone();
                let to = to.index(lines.len());
                lines[to] = from;
            }
            Mutation::Replace(i, t) => {
                let i = i.index(lines.len());
                lines[i] = t.clone();
            }
            Mutation::Insert(i, at, t) => {
                let i = i.index(lines.len());
                let line = &mut lines[i];
                let chars = line.chars().count();
                let at = at.index(chars + 1);
                let byte = line.char_indices().nth(at).map_or(line.len(), |(b, _)| b);
                line.insert_str(byte, t);
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    // -----------------------------------------------------------------------------------
    // Arbitrary text
    // -----------------------------------------------------------------------------------

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_checked(Path::new("fuzz.toml"), &text);
    }

    #[test]
    fn parse_never_panics_on_toml_like_text(
        text in "([a-z_.]{1,8} = (\"[a-z{} ]{0,8}\"|[0-9-]{1,4}|\\[|\\{|true)|\\[\\[actors\\]\\]|\\[[a-z.]{1,10}\\]|[#,}\\]]){0,6}(\n([a-z_.]{1,8} = (\"[a-z{} ]{0,8}\"|[0-9-]{1,4}|\\[|\\{|true)|\\[\\[actors\\]\\]|\\[[a-z.]{1,10}\\]|[#,}\\]]){0,6}){0,20}"
    ) {
        let _ = parse_checked(Path::new("fuzz.toml"), &text);
    }

    // -----------------------------------------------------------------------------------
    // Real files, damaged
    // -----------------------------------------------------------------------------------

    #[test]
    fn parse_never_panics_on_a_damaged_scenario_file(
        file in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 1..=MAX_MUTATIONS),
    ) {
        let (path, text) = &corpus()[file.index(corpus().len())];
        let damaged = apply(text, &mutations);
        let _ = parse_checked(path, &damaged);
    }

    // -----------------------------------------------------------------------------------
    // Real files, changed without changing their meaning
    // -----------------------------------------------------------------------------------

    #[test]
    fn renaming_an_actor_everywhere_keeps_the_file_valid(
        file in any::<Index>(),
        actor in any::<Index>(),
        new_name in "[a-z][a-z0-9_-]{0,15}",
    ) {
        let (path, text) = &corpus()[file.index(corpus().len())];
        let before = parse_checked(path, text).expect("the catalogue parses");
        let old_name = &before.actors[actor.index(before.actors.len())].name;
        let quoted_new = format!("\"{new_name}\"");
        // A name already in the file would merge two things into one.
        prop_assume!(!text.contains(&quoted_new));

        // The actor's name stands quoted, and unquoted as a packet figure's WAY
        // (`segments(lo, client:s)`), which follows a comma.
        let renamed = text
            .replace(&format!("\"{old_name}\""), &quoted_new)
            .replace(&format!(", {old_name}:"), &format!(", {new_name}:"))
            .replace(&format!(",{old_name}:"), &format!(",{new_name}:"));
        let after = match parse_checked(path, &renamed) {
            Ok(s) => s,
            Err(e) => panic!("renaming actor `{old_name}` to `{new_name}` broke the file: {e}"),
        };
        let expected: Vec<&str> = before
            .actors
            .iter()
            .map(|a| if &a.name == old_name { new_name.as_str() } else { a.name.as_str() })
            .collect();
        let got: Vec<&str> = after.actors.iter().map(|a| a.name.as_str()).collect();
        prop_assert_eq!(got, expected);
        for (a, b) in before.actors.iter().zip(&after.actors) {
            prop_assert_eq!(a.steps.len(), b.steps.len());
        }
        prop_assert_eq!(before.observations.len(), after.observations.len());
        prop_assert_eq!(before.expectations.len(), after.expectations.len());
    }
}
