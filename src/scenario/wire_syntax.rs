//! How a scenario file writes the wire: the `[wire]` table, the faults in it and the
//! `wire` step's fields, into the values of [`super::wire`].
//!
//! ```toml
//! [wire]
//! seed = 7                                   # optional: the same seed, the same drops
//! both = { delay = "10ms" }                  # every frame, either way
//! "a>b" = { loss = "2%", loss_burst = 2 }    # frames from host a to host b
//!
//! # a step, ordered by sync points like any other
//! { op = "wire", set = "blackhole" }                     # both directions
//! { op = "wire", set = { drop_fin = 1 }, dir = "b>a" }
//! { op = "wire", clear = "all" }                         # or "blackhole", or a list
//! { op = "wire", reset = "a" }                           # inject a RST toward host a
//! ```
//!
//! Every message names the field; the caller adds the file, line and step.

use std::time::Duration;

use super::params::ParamValue;
use super::wire::{Dir, Fault, Host, WireChange, WireSpec, DIRS, FAULT_FIELDS, HOSTS};

/// A parameter's value by name (`None`: not a parameter); a fault's value may name one
/// (`delay = "delay_ms"`), so that `--set` and sweeps reach the wire.
pub type Params<'a> = &'a dyn Fn(&str) -> Option<ParamValue>;

/// `v`, or the value of the parameter it names.
fn resolve(v: &toml::Value, params: Params) -> Result<toml::Value, String> {
    let toml::Value::String(s) = v else {
        return Ok(v.clone());
    };
    match params(s) {
        None => Ok(v.clone()),
        Some(ParamValue::Int(n)) => Ok(toml::Value::Integer(n)),
        Some(ParamValue::Bool(b)) => Ok(toml::Value::Boolean(b)),
        Some(ParamValue::Text(t)) => Ok(toml::Value::String(t)),
        Some(ParamValue::Unset) => Err(format!("parameter `{s}` is unset")),
    }
}

/// A scenario's wire as its file writes it: the `[wire]` table (empty when absent),
/// whose values may name parameters, so it becomes a [`WireSpec`] per run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireDef {
    pub table: toml::Table,
}

impl WireDef {
    /// The wire for a run with these parameters.
    pub fn spec(
        &self,
        params: &std::collections::BTreeMap<String, ParamValue>,
    ) -> Result<WireSpec, String> {
        wire_table(&self.table, &|n| params.get(n).cloned()).map_err(|(f, m)| format!("{f}: {m}"))
    }
}

/// The keys of the `[wire]` table.
pub const WIRE_KEYS: &[&str] = &["seed", "both", "a>b", "b>a"];

/// The `[wire]` table: the seed and the faults of each direction for the whole run.
pub fn wire_table(t: &toml::Table, params: Params) -> Result<WireSpec, (String, String)> {
    let mut spec = WireSpec::default();
    for (key, value) in t {
        let field = format!("wire.{key}");
        match key.as_str() {
            "seed" => match value {
                toml::Value::Integer(n) if *n >= 0 => spec.seed = Some(*n as u64),
                other => {
                    return Err((
                        field,
                        format!("`seed` is a whole number 0 or more, not {other}"),
                    ))
                }
            },
            k => {
                let Some(dirs) = Dir::parse_set(k) else {
                    return Err((field, unknown("a key of [wire]", k, WIRE_KEYS)));
                };
                let fault = fault(value, params).map_err(|(f, m)| (format!("{field}.{f}"), m))?;
                for d in dirs {
                    spec.fault_mut(d).merge(&fault);
                }
            }
        }
    }
    Ok(spec)
}

/// A `wire` step's fields into the changes it makes, in the order they apply.
pub fn wire_step(
    set: Option<&toml::Value>,
    clear: Option<&toml::Value>,
    reset: Option<&str>,
    dir: Option<&str>,
    params: Params,
) -> Result<Vec<WireChange>, String> {
    let given = [set.is_some(), clear.is_some(), reset.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(
            "a `wire` step takes exactly one of `set` (faults), `clear` (faults to remove) and `reset` (a host to send a RST to)"
                .to_owned(),
        );
    }
    let dirs = match dir {
        None => Dir::ALL.to_vec(),
        Some(d) => Dir::parse_set(d).ok_or_else(|| unknown("direction (`dir`)", d, DIRS))?,
    };
    if let Some(host) = reset {
        if dir.is_some() {
            return Err("`reset` names the host the RST goes to; it takes no `dir`".to_owned());
        }
        let toward = Host::from_name(host).ok_or_else(|| unknown("host", host, HOSTS))?;
        return Ok(vec![WireChange::Reset { toward }]);
    }
    if let Some(v) = set {
        let fault = match v {
            toml::Value::String(s) if s == "blackhole" => Fault::blackhole(),
            toml::Value::String(s) => {
                return Err(format!(
                "`set` is a table of faults (`{{ loss = \"2%\" }}`) or \"blackhole\", not \"{s}\""
            ))
            }
            v => fault(v, params).map_err(|(f, m)| format!("set.{f}: {m}"))?,
        };
        return Ok(dirs
            .into_iter()
            .map(|dir| WireChange::Set {
                dir,
                fault: fault.clone(),
            })
            .collect());
    }
    let fields = match clear {
        Some(toml::Value::String(s)) if s == "all" => Vec::new(),
        Some(toml::Value::String(s)) => vec![fault_field(s)?],
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                toml::Value::String(s) => fault_field(s),
                other => Err(format!("`clear` lists fault names, not {other}")),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "`clear` is \"all\", a fault's name or a list of them, not {other}"
            ))
        }
        None => unreachable!("one of set, clear, reset was given"),
    };
    Ok(dirs
        .into_iter()
        .map(|dir| WireChange::Clear {
            dir,
            fields: fields.clone(),
        })
        .collect())
}

fn fault_field(name: &str) -> Result<String, String> {
    if FAULT_FIELDS.contains(&name) {
        Ok(name.to_owned())
    } else {
        Err(unknown("fault", name, FAULT_FIELDS))
    }
}

/// One table of faults. The error is (field, message).
pub fn fault(v: &toml::Value, params: Params) -> Result<Fault, (String, String)> {
    let toml::Value::Table(t) = v else {
        return Err((
            String::new(),
            format!(
                "faults are a table (`{{ delay = \"10ms\", loss = \"2%\" }}`), not {}",
                v.type_str()
            ),
        ));
    };
    let mut f = Fault::default();
    for (k, v) in t {
        let err = |m: String| (k.clone(), m);
        let v = &resolve(v, params).map_err(err)?;
        match k.as_str() {
            "delay" => f.delay = Some(duration(k, v).map_err(err)?),
            "jitter" => f.jitter = Some(duration(k, v).map_err(err)?),
            "loss" => f.loss = Some(percent(k, v).map_err(err)?),
            "duplicate" => f.duplicate = Some(percent(k, v).map_err(err)?),
            "loss_burst" => f.loss_burst = Some(count(k, v, 1).map_err(err)?),
            "queue" => f.queue = Some(count(k, v, 1).map_err(err)?),
            "drop_fin" => f.drop_fin = Some(count(k, v, 1).map_err(err)?),
            "drop_synack" => f.drop_synack = Some(count(k, v, 1).map_err(err)?),
            "drop_syn" => f.drop_syn = Some(count(k, v, 1).map_err(err)?),
            "rate" => f.rate = Some(rate(k, v).map_err(err)?),
            "stop_after" => f.stop_after = Some(size(k, v).map_err(err)?),
            "blackhole" => match v {
                toml::Value::Boolean(b) => f.blackhole = Some(*b),
                other => return Err(err(format!("`blackhole` is true or false, not {other}"))),
            },
            "drop_data" => {
                let items = match v {
                    toml::Value::Array(a) => a.clone(),
                    one => vec![one.clone()],
                };
                for i in &items {
                    f.drop_data.push(u64::from(count(k, i, 1).map_err(err)?));
                }
            }
            other => return Err(err(unknown("fault", other, FAULT_FIELDS))),
        }
    }
    if f.loss_burst.is_some() && f.loss.is_none() {
        return Err((
            "loss_burst".into(),
            "`loss_burst` sets how many frames each loss drops; it needs `loss`".into(),
        ));
    }
    if f.queue.is_some() && f.rate.is_none() {
        return Err((
            "queue".into(),
            "`queue` is the bottleneck's queue; it needs `rate`".into(),
        ));
    }
    Ok(f)
}

/// The longest delay or jitter a wire takes: a frame held longer outlives most runs.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

fn duration(k: &str, v: &toml::Value) -> Result<Duration, String> {
    let ms = match v {
        toml::Value::Integer(n) => *n as f64,
        toml::Value::Float(x) => *x,
        toml::Value::String(s) => {
            let s = s.trim();
            let (num, factor) = if let Some(n) = s.strip_suffix("us") {
                (n, 0.001)
            } else if let Some(n) = s.strip_suffix("ms") {
                (n, 1.0)
            } else if let Some(n) = s.strip_suffix('s') {
                (n, 1000.0)
            } else {
                (s, 1.0)
            };
            let x: f64 = num.trim().parse().map_err(|_| {
                format!("`{k}` is a duration (\"10ms\", \"1.5s\", \"500us\"; a bare number is ms), not \"{s}\"")
            })?;
            x * factor
        }
        other => return Err(format!("`{k}` is a duration (\"10ms\"), not {other}")),
    };
    if !ms.is_finite() || ms < 0.0 {
        return Err(format!("`{k}` must be 0 or more, not {ms} ms"));
    }
    let d = Duration::from_secs_f64(ms / 1000.0);
    if d > MAX_DELAY {
        return Err(format!(
            "`{k}` of {ms} ms is above the wire's bound of {} ms",
            MAX_DELAY.as_millis()
        ));
    }
    Ok(d)
}

fn percent(k: &str, v: &toml::Value) -> Result<f64, String> {
    let p = match v {
        toml::Value::Integer(n) => *n as f64,
        toml::Value::Float(x) => *x,
        toml::Value::String(s) => {
            let t = s.trim();
            t.strip_suffix('%')
                .unwrap_or(t)
                .trim()
                .parse::<f64>()
                .map_err(|_| {
                    format!("`{k}` is a percentage (\"2%\", or a number: 2 is 2%), not \"{s}\"")
                })?
        }
        other => return Err(format!("`{k}` is a percentage (\"2%\"), not {other}")),
    };
    if !(0.0..=100.0).contains(&p) {
        return Err(format!("`{k}` of {p}% is outside 0%..=100%"));
    }
    Ok(p)
}

fn count(k: &str, v: &toml::Value, min: i64) -> Result<u32, String> {
    match v {
        toml::Value::Boolean(true) if min <= 1 => Ok(1),
        toml::Value::Integer(n) if *n >= min && *n <= i64::from(u32::MAX) => Ok(*n as u32),
        toml::Value::Integer(n) => Err(format!("`{k}` must be {min} or more, not {n}")),
        other => Err(format!("`{k}` is a whole number, not {other}")),
    }
}

fn size(k: &str, v: &toml::Value) -> Result<u64, String> {
    let n = match v {
        toml::Value::Integer(n) => *n,
        toml::Value::String(s) => match super::quantity(s) {
            Some((n, super::ParamKind::Size | super::ParamKind::Int)) => n,
            _ => {
                return Err(format!(
                    "`{k}` is a size (\"64KiB\", or bytes), not \"{s}\""
                ))
            }
        },
        other => return Err(format!("`{k}` is a size in bytes, not {other}")),
    };
    u64::try_from(n).map_err(|_| format!("`{k}` must be 0 or more, not {n}"))
}

fn rate(k: &str, v: &toml::Value) -> Result<u64, String> {
    let bits = match v {
        toml::Value::Integer(n) => *n as f64,
        toml::Value::String(s) => {
            let t = s.trim().trim_end_matches("/s").trim_end_matches("ps");
            let lower = t.to_ascii_lowercase();
            let (num, factor) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
                .iter()
                .find_map(|(u, f)| lower.strip_suffix(u).map(|n| (n.to_owned(), *f)))
                .unwrap_or((lower.clone(), 1.0));
            let x: f64 = num.trim().parse().map_err(|_| {
                format!("`{k}` is a rate (\"10Mbit\", \"1Gbit\", \"500kbit\"; a bare number is bits per second), not \"{s}\"")
            })?;
            x * factor
        }
        other => return Err(format!("`{k}` is a rate (\"10Mbit\"), not {other}")),
    };
    if !bits.is_finite() || bits < 1000.0 {
        return Err(format!(
            "`{k}` of {bits} bit/s is below the wire's bound of 1000 bit/s"
        ));
    }
    Ok(bits as u64)
}

/// "unknown fault `lose` (did you mean loss?); faults: ...".
fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    let near = crate::suggest::closest(name, known.iter().copied());
    match near.first() {
        Some(n) => format!(
            "unknown {what} `{name}` (did you mean {n}?); known: {}",
            known.join(", ")
        ),
        None => format!("unknown {what} `{name}`; known: {}", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("test TOML")
    }

    fn none(_: &str) -> Option<ParamValue> {
        None
    }

    fn wire_table(t: &toml::Table) -> Result<WireSpec, (String, String)> {
        super::wire_table(t, &none)
    }

    fn wire_step(
        set: Option<&toml::Value>,
        clear: Option<&toml::Value>,
        reset: Option<&str>,
        dir: Option<&str>,
    ) -> Result<Vec<WireChange>, String> {
        super::wire_step(set, clear, reset, dir, &none)
    }

    fn fault(v: &toml::Value) -> Result<Fault, (String, String)> {
        super::fault(v, &none)
    }

    #[test]
    fn a_fault_may_name_a_parameter() {
        let params = |n: &str| (n == "delay_ms").then_some(ParamValue::Int(20));
        let spec = super::wire_table(&table("both = { delay = \"delay_ms\" }"), &params).unwrap();
        assert_eq!(spec.a_to_b.delay, Some(Duration::from_millis(20)));
        let params = |n: &str| (n == "loss").then_some(ParamValue::Int(150));
        let e = super::wire_table(&table("both = { loss = \"loss\" }"), &params).unwrap_err();
        assert!(e.1.contains("outside"), "{}", e.1);
    }

    #[test]
    fn a_wire_table_sets_each_direction() {
        let spec = wire_table(&table(
            "seed = 7\nboth = { delay = \"10ms\" }\n\"a>b\" = { loss = \"2%\", loss_burst = 2 }",
        ))
        .unwrap();
        assert_eq!(spec.seed, Some(7));
        assert_eq!(spec.a_to_b.delay, Some(Duration::from_millis(10)));
        assert_eq!(spec.b_to_a.delay, Some(Duration::from_millis(10)));
        assert_eq!(spec.a_to_b.loss, Some(2.0));
        assert_eq!(spec.b_to_a.loss, None);
    }

    #[test]
    fn out_of_bounds_faults_name_the_bound() {
        let e = wire_table(&table("both = { loss = \"150%\" }")).unwrap_err();
        assert_eq!(e.0, "wire.both.loss");
        assert!(e.1.contains("outside 0%..=100%"), "{}", e.1);
        let e = wire_table(&table("both = { delay = -1 }")).unwrap_err();
        assert!(e.1.contains("0 or more"), "{}", e.1);
        let e = wire_table(&table("\"a>c\" = { delay = 1 }")).unwrap_err();
        assert!(e.1.contains("unknown a key of [wire] `a>c`"), "{}", e.1);
        let e = wire_table(&table("both = { lose = 1 }")).unwrap_err();
        assert!(e.1.contains("did you mean loss?"), "{}", e.1);
    }

    #[test]
    fn a_step_takes_one_change() {
        let bh = toml::Value::String("blackhole".into());
        let c = wire_step(Some(&bh), None, None, None).unwrap();
        assert_eq!(c.len(), 2);
        let c = wire_step(None, None, Some("a"), None).unwrap();
        assert_eq!(c, vec![WireChange::Reset { toward: Host::A }]);
        assert!(wire_step(Some(&bh), None, Some("a"), None).is_err());
        let e = wire_step(None, None, Some("c"), None).unwrap_err();
        assert!(e.contains("unknown host `c`"), "{e}");
        let e = wire_step(Some(&bh), None, None, Some("up")).unwrap_err();
        assert!(e.contains("unknown direction"), "{e}");
        let all = toml::Value::String("all".into());
        let c = wire_step(None, Some(&all), None, Some("b>a")).unwrap();
        assert_eq!(
            c,
            vec![WireChange::Clear {
                dir: Dir::BtoA,
                fields: vec![]
            }]
        );
    }

    #[test]
    fn rates_sizes_and_lists_parse() {
        let f = fault(&toml::Value::Table(table(
            "rate = \"10Mbit\"\nqueue = 50\nstop_after = \"64KiB\"\ndrop_data = [2, 3]\ndrop_fin = true",
        )))
        .unwrap();
        assert_eq!(f.rate, Some(10_000_000));
        assert_eq!(f.queue, Some(50));
        assert_eq!(f.stop_after, Some(65536));
        assert_eq!(f.drop_data, vec![2, 3]);
        assert_eq!(f.drop_fin, Some(1));
        let e = fault(&toml::Value::Table(table("queue = 5"))).unwrap_err();
        assert!(e.1.contains("needs `rate`"), "{}", e.1);
    }
}
