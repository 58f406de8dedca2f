//! Validation of the network tier's parts of a file: the actors' `host`, the `[wire]`
//! table and the `wire` steps, which all need the others.

use std::collections::BTreeMap;

use toml::Spanned;

use super::cx::Cx;
use super::figure::WayFilter;
use super::model::{Actor, ObservationDef, ScenarioError};
use super::params::{Param, ParamValue};
use super::raw::RawActor;
use super::step::Action;
use super::take::Take;
use super::wire::{Host, HOSTS};
use super::wire_syntax::{self, WireDef};

/// The parameter values a wire is checked under: every default, then each parameter
/// at its minimum and at its maximum, so that a fault naming a parameter is valid over
/// the parameter's whole range.
fn variants(params: &[Param]) -> Vec<Vec<(String, ParamValue)>> {
    let defaults: Vec<(String, ParamValue)> = params
        .iter()
        .map(|p| (p.name.clone(), p.default.clone()))
        .collect();
    let mut out = vec![defaults.clone()];
    for (i, p) in params.iter().enumerate() {
        for bound in [p.min, p.max].into_iter().flatten() {
            let mut v = defaults.clone();
            v[i].1 = ParamValue::Int(bound);
            out.push(v);
        }
    }
    out
}

impl Cx<'_> {
    /// Each actor's `host` (`a` or `b`), in actor order.
    pub(super) fn hosts(
        &self,
        raw: &[Spanned<RawActor>],
    ) -> Result<Vec<Option<Host>>, ScenarioError> {
        let mut hosts = Vec::new();
        for (ai, sp) in raw.iter().enumerate() {
            let ra = sp.get_ref();
            let Some(h) = &ra.host else {
                hosts.push(None);
                continue;
            };
            let line = self.at(h.span());
            let field = Some(format!("actors[{ai}] ({}).host", ra.name));
            let name = h.get_ref();
            let host = Host::from_name(name).ok_or_else(|| {
                let near = crate::suggest::closest(name, HOSTS.iter().copied());
                self.err(
                    line,
                    field.clone(),
                    format!(
                        "unknown host `{name}`{}; hosts: {}",
                        near.first()
                            .map(|n| format!(" (did you mean {n}?)"))
                            .unwrap_or_default(),
                        HOSTS.join(", ")
                    ),
                )
            })?;
            hosts.push(Some(host));
        }
        let placed = hosts.iter().filter(|h| h.is_some()).count();
        if placed > 0 && placed < hosts.len() {
            let (ai, ra) = raw
                .iter()
                .enumerate()
                .find(|(i, _)| hosts[*i].is_none())
                .map(|(i, sp)| (i, sp.get_ref()))
                .expect("one actor has no host");
            return Err(self.err(
                self.at(raw[ai].span()),
                Some(format!("actors[{ai}] ({}).host", ra.name)),
                "some actors are placed on hosts and this one is not: on the wire every actor needs `host = \"a\"` or `\"b\"`".into(),
            ));
        }
        Ok(hosts)
    }

    /// `[wire]` and the `wire` steps: the wire's faults for the run, or `None` for a
    /// scenario on loopback (which may then have neither).
    pub(super) fn network(
        &self,
        raw: Option<Spanned<toml::Table>>,
        actors: &[Actor],
        params: &[Param],
    ) -> Result<Option<WireDef>, ScenarioError> {
        let on_wire = actors.iter().any(|a| a.host.is_some());
        let variants = variants(params);
        let lookup = |v: &[(String, ParamValue)], n: &str| {
            v.iter().find(|(k, _)| k == n).map(|(_, x)| x.clone())
        };
        for a in actors {
            for s in &a.steps {
                let Action::Wire {
                    set,
                    clear,
                    reset,
                    dir,
                } = &s.action
                else {
                    continue;
                };
                let field = Some(format!("{} step {}", a.name, s.describe()));
                if !on_wire {
                    return Err(self.err(
                        Some(s.line),
                        field,
                        "a `wire` step needs a wire: place the actors on hosts (`host = \"a\"`, `host = \"b\"`)".into(),
                    ));
                }
                for v in &variants {
                    wire_syntax::wire_step(
                        set.as_ref(),
                        clear.as_ref(),
                        reset.as_deref(),
                        dir.as_deref(),
                        &|n| lookup(v, n),
                    )
                    .map_err(|m| self.err(Some(s.line), field.clone(), m))?;
                }
            }
        }
        let def = match raw {
            None => WireDef::default(),
            Some(t) => {
                let line = self.at(t.span());
                if !on_wire {
                    return Err(self.err(
                        line,
                        Some("wire".into()),
                        "[wire] needs actors on hosts (`host = \"a\"`, `host = \"b\"`): a scenario on loopback has no wire".into(),
                    ));
                }
                let table = t.into_inner();
                for v in &variants {
                    wire_syntax::wire_table(&table, &|n| lookup(v, n)).map_err(|(field, m)| {
                        // The line of the key, where the table lists it.
                        let key = field.split('.').nth(1).unwrap_or("");
                        let quoted = format!("\"{key}\"");
                        let at = line.map(|l| {
                            let k = self.key_line(l, key);
                            if k == l {
                                self.key_line(l, &quoted)
                            } else {
                                k
                            }
                        });
                        self.err(at, Some(field), m)
                    })?;
                }
                WireDef { table }
            }
        };
        Ok(on_wire.then_some(def))
    }

    /// An observation of the run's packets (`packets = "retransmissions(a, out)"`);
    /// `only`: it names nothing else.
    pub(super) fn packet_observation(
        &self,
        oname: String,
        key: &str,
        only: bool,
        help: String,
        line: Option<usize>,
        actors: &[Actor],
    ) -> Result<ObservationDef, ScenarioError> {
        if !only {
            return Err(self.err(
                line,
                Some(format!("observations.{oname}")),
                "an observation with `packets` takes nothing else (no `step`, `take` or `counter`)"
                    .into(),
            ));
        }
        let field = Some(format!("observations.{oname}.packets"));
        let figure = super::figure::Figure::parse(key)
            .map_err(|e| self.err(line, field.clone(), e.to_string()))?;
        if let Some(m) = figure.point().and_then(|p| uncaptured(actors, p)) {
            return Err(self.err(line, field, m));
        }
        if let Some(WayFilter::Sent { actor, sock }) = figure.way() {
            if let Some(m) = unknown_sender(actors, actor, sock) {
                return Err(self.err(line, field, m));
            }
        }
        Ok(ObservationDef {
            name: oname,
            step: String::new(),
            take: Take::Packets,
            counter: None,
            packets: Some(figure),
            help,
        })
    }

    /// Sockets are named run-wide: two actors making one name would share (and
    /// overwrite) one socket, as two clients on one host easily do.
    pub(super) fn one_maker_per_socket(&self, actors: &[Actor]) -> Result<(), ScenarioError> {
        let mut maker: BTreeMap<&str, &str> = BTreeMap::new();
        for (a, s) in actors
            .iter()
            .flat_map(|a| a.steps.iter().map(move |s| (a, s)))
        {
            let Some(sock) = s.action.creates() else {
                continue;
            };
            match maker.insert(sock, &a.name) {
                Some(other) if other != a.name => {
                    return Err(self.err(
                        Some(s.line),
                        Some(format!("{} step {}", a.name, s.describe())),
                        format!("`{other}` already makes a socket called `{sock}`: socket names are the run's, not an actor's; give this one another name"),
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Why capture point `point` sees nothing in this scenario, if it does not: a run on
/// loopback is captured at `lo` only, a run on hosts at `a` and `b` only.
fn uncaptured(actors: &[Actor], point: &str) -> Option<String> {
    let on_hosts = actors.iter().any(|a| a.host.is_some());
    match (on_hosts, point) {
        (true, "lo") => Some(
            "this scenario's actors are on hosts a and b: its packets are captured at `a` and `b`, not `lo`"
                .into(),
        ),
        (false, "a" | "b") => Some(format!(
            "this scenario's actors are on the room's loopback: its packets are captured at `lo`, not `{point}` (a point of the network tier's hosts)"
        )),
        _ => None,
    }
}

/// What is wrong with a WAY `ACTOR:SOCK` (`client:s`), if anything: no such actor, a
/// socket that actor does not make (the closest it does), or one that sends nothing the
/// run can attribute (a listener, a bound socket, a dial_repeat group).
fn unknown_sender(actors: &[Actor], actor: &str, sock: &str) -> Option<String> {
    let names = || actors.iter().map(|a| a.name.as_str());
    let Some(a) = actors.iter().find(|a| a.name == actor) else {
        let near = crate::suggest::closest(actor, names());
        let hint = near.first().map(|n| format!(" (did you mean {n}?)"));
        return Some(format!(
            "there is no actor `{actor}`{}; actors: {}",
            hint.unwrap_or_default(),
            names().collect::<Vec<_>>().join(", ")
        ));
    };
    fn made(a: &Actor) -> Vec<(&str, &'static str)> {
        a.steps
            .iter()
            .filter_map(|s| s.action.creates().map(|n| (n, s.action.op())))
            .collect()
    }
    let mine = made(a);
    let Some((_, op)) = mine.iter().find(|(n, _)| *n == sock) else {
        if let Some(other) = actors
            .iter()
            .find(|o| made(o).iter().any(|(n, _)| *n == sock))
        {
            return Some(format!(
                "`{actor}` makes no socket `{sock}`: `{}` makes it (`{}:{sock}`)",
                other.name, other.name
            ));
        }
        let socks: Vec<&str> = mine.iter().map(|(n, _)| *n).collect();
        if socks.is_empty() {
            return Some(format!("`{actor}` makes no socket `{sock}`; it makes none"));
        }
        let near = crate::suggest::closest(sock, socks.iter().copied());
        return Some(format!(
            "`{actor}` makes no socket `{sock}`{}; it makes: {}",
            near.first()
                .map(|n| format!(" (did you mean {n}?)"))
                .unwrap_or_default(),
            socks.join(", ")
        ));
    };
    if matches!(*op, "connect" | "connect_start" | "accept") {
        return None;
    }
    Some(format!(
        "`{actor}:{sock}` is made by `{op}`: a WAY names a connected socket, one made by connect, connect_start or accept (a listener or a bound socket sends nothing of its own, and a dial_repeat group's connections are not noted one by one)"
    ))
}
