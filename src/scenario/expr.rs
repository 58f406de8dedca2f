//! Integer expressions over parameters and the environment.
//!
//! Scenario files use them wherever a number goes (`backlog = "min(backlog, somaxconn)"`,
//! `bytes = "64KiB"`) and in expectations (`"min(backlog, somaxconn) + 1"`).
//!
//! Grammar: `expr = term (("+" | "-") term)*`, `term = unary (("*" | "/") unary)*`,
//! `unary = "-" unary | atom`, `atom = number | name | name "(" args ")" | "(" expr ")"`.
//! Numbers may carry a binary size suffix: `64KiB`, `1MiB`, `2GiB`.
//! Functions: `min(a, b, ...)`, `max(a, b, ...)`, `if_set(param, then, else)`,
//! `nonzero(a, b, ...)` (the first argument that is not 0), `pow2(n)` (2 to the n: the
//! kernel's doubling timers).

use std::fmt;

/// A parsed expression; `Display` prints it back in the form it was written.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(i64),
    Name(String),
    Neg(Box<Expr>),
    Bin(Box<Expr>, char, Box<Expr>),
    Call(String, Vec<Expr>),
}

/// Why an expression could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    #[error("cannot parse `{text}`: {why}")]
    Syntax { text: String, why: String },
    #[error("unknown name `{0}`")]
    UnknownName(String),
    #[error("`{0}` is not set")]
    Unset(String),
    #[error("unknown function `{0}` (functions: min, max, if_set, nonzero, pow2)")]
    UnknownFunction(String),
    #[error("{0}")]
    Arity(String),
    #[error("division by zero")]
    DivisionByZero,
    #[error("arithmetic overflow")]
    Overflow,
}

/// What a name means to the evaluator.
pub enum Lookup {
    Value(i64),
    /// A parameter that exists but was given no value.
    Unset,
    Unknown,
}

/// How deeply an expression may nest (parentheses, unary minus) before it is refused:
/// far beyond any real scenario, far below what would exhaust the stack.
const MAX_DEPTH: usize = 64;

const SUFFIXES: &[(&str, i64)] = &[("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)];

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let mut p = Parser {
            text,
            chars: text.char_indices().collect(),
            pos: 0,
            depth: 0,
        };
        let e = p.expr()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            return Err(p.fail(&format!("unexpected `{}`", p.chars[p.pos].1)));
        }
        Ok(e)
    }

    /// Every name the expression mentions (function names excluded).
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Expr::Num(_) => {}
            Expr::Name(n) => out.push(n),
            Expr::Neg(e) => e.collect_names(out),
            Expr::Bin(a, _, b) => {
                a.collect_names(out);
                b.collect_names(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.collect_names(out)),
        }
    }

    /// Evaluates with `lookup` giving the value of each name.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Lookup) -> Result<i64, ExprError> {
        match self {
            Expr::Num(n) => Ok(*n),
            Expr::Name(n) => match lookup(n) {
                Lookup::Value(v) => Ok(v),
                Lookup::Unset => Err(ExprError::Unset(n.clone())),
                Lookup::Unknown => Err(ExprError::UnknownName(n.clone())),
            },
            Expr::Neg(e) => e.eval(lookup)?.checked_neg().ok_or(ExprError::Overflow),
            Expr::Bin(a, op, b) => {
                let (a, b) = (a.eval(lookup)?, b.eval(lookup)?);
                match op {
                    '+' => a.checked_add(b),
                    '-' => a.checked_sub(b),
                    '*' => a.checked_mul(b),
                    _ if b == 0 => return Err(ExprError::DivisionByZero),
                    _ => a.checked_div(b),
                }
                .ok_or(ExprError::Overflow)
            }
            Expr::Call(f, args) => match f.as_str() {
                "min" | "max" => {
                    if args.is_empty() {
                        return Err(ExprError::Arity(format!("{f}() needs an argument")));
                    }
                    let vals = args
                        .iter()
                        .map(|a| a.eval(lookup))
                        .collect::<Result<Vec<_>, _>>()?;
                    let it = vals.into_iter();
                    Ok(if f == "min" { it.min() } else { it.max() }.unwrap_or(0))
                }
                "pow2" => {
                    let [n] = args.as_slice() else {
                        return Err(ExprError::Arity("pow2(n) takes one argument".into()));
                    };
                    let n = n.eval(lookup)?;
                    u32::try_from(n)
                        .ok()
                        .and_then(|n| 1i64.checked_shl(n).filter(|_| n < 63))
                        .ok_or(ExprError::Overflow)
                }
                "if_set" => {
                    let [Expr::Name(p), then, other] = args.as_slice() else {
                        return Err(ExprError::Arity(
                            "if_set(param, then, else) takes a parameter name and two expressions"
                                .into(),
                        ));
                    };
                    match lookup(p) {
                        Lookup::Value(_) => then.eval(lookup),
                        Lookup::Unset => other.eval(lookup),
                        Lookup::Unknown => Err(ExprError::UnknownName(p.clone())),
                    }
                }
                // The kernel's "a value of 0 means none" convention (a metrics cache entry
                // without a field, a setting turned off): the first nonzero argument.
                "nonzero" => {
                    if args.is_empty() {
                        return Err(ExprError::Arity("nonzero() needs an argument".into()));
                    }
                    for a in args {
                        let v = a.eval(lookup)?;
                        if v != 0 {
                            return Ok(v);
                        }
                    }
                    Ok(0)
                }
                _ => Err(ExprError::UnknownFunction(f.clone())),
            },
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Num(n) => write!(f, "{n}"),
            Expr::Name(n) => f.write_str(n),
            Expr::Neg(e) => write!(f, "-{e}"),
            Expr::Bin(a, op, b) => {
                // Parenthesise just enough that the printed form re-parses to the same tree:
                // a looser operator on the left, a looser or equal one on the right.
                let rank = |c: char| if c == '+' || c == '-' { 1 } else { 2 };
                let show = |e: &Expr, wrap: &dyn Fn(u8) -> bool| match e {
                    Expr::Bin(_, inner, _) if wrap(rank(*inner)) => format!("({e})"),
                    _ => e.to_string(),
                };
                let me = rank(*op);
                let left = show(a, &|r| r < me);
                let right = show(b, &|r| r <= me);
                write!(f, "{left} {op} {right}")
            }
            Expr::Call(name, args) => {
                let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                write!(f, "{name}({})", args.join(", "))
            }
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn fail(&self, why: &str) -> ExprError {
        ExprError::Syntax {
            text: self.text.to_owned(),
            why: why.to_owned(),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].1.is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).map(|c| c.1)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.term()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            left = Expr::Bin(Box::new(left), op, Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.unary()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            left = Expr::Bin(Box::new(left), op, Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail(&format!("nested more than {MAX_DEPTH} levels deep")));
        }
        let e = if self.eat('-') {
            self.unary().map(|e| Expr::Neg(Box::new(e)))
        } else {
            self.atom()
        };
        self.depth -= 1;
        e
    }

    fn word(&mut self) -> &str {
        let start = self.pos;
        while self.pos < self.chars.len()
            && (self.chars[self.pos].1.is_ascii_alphanumeric() || self.chars[self.pos].1 == '_')
        {
            self.pos += 1;
        }
        let from = self.chars[start].0;
        let to = self.chars.get(self.pos).map_or(self.text.len(), |c| c.0);
        &self.text[from..to]
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        match self.peek() {
            None => Err(self.fail("expression ends too early")),
            Some('(') => {
                self.pos += 1;
                let e = self.expr()?;
                if !self.eat(')') {
                    return Err(self.fail("missing `)`"));
                }
                Ok(e)
            }
            Some(c) if c.is_ascii_digit() => {
                let word = self.word().to_owned();
                let digits_end = word
                    .find(|c: char| !c.is_ascii_digit() && c != '_')
                    .unwrap_or(word.len());
                let (digits, suffix) = word.split_at(digits_end);
                let n: i64 = digits
                    .replace('_', "")
                    .parse()
                    .map_err(|_| self.fail(&format!("`{digits}` is not a whole number")))?;
                let factor = if suffix.is_empty() {
                    1
                } else {
                    SUFFIXES
                        .iter()
                        .find(|(s, _)| *s == suffix)
                        .map(|(_, f)| *f)
                        .ok_or_else(|| {
                            self.fail(&format!("unknown size suffix `{suffix}` (KiB, MiB, GiB)"))
                        })?
                };
                n.checked_mul(factor)
                    .map(Expr::Num)
                    .ok_or(ExprError::Overflow)
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name = self.word().to_owned();
                if self.eat('(') {
                    let mut args = Vec::new();
                    if !self.eat(')') {
                        loop {
                            args.push(self.expr()?);
                            if self.eat(')') {
                                break;
                            }
                            if !self.eat(',') {
                                return Err(self.fail("expected `,` or `)` in the argument list"));
                            }
                        }
                    }
                    Ok(Expr::Call(name, args))
                } else {
                    Ok(Expr::Name(name))
                }
            }
            Some(c) => Err(self.fail(&format!("unexpected `{c}`"))),
        }
    }
}

/// An expression in a scenario file: an integer, a boolean (0 or 1) or a text to parse.
impl<'de> serde::Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Expr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "an integer, a boolean or an expression such as \"min(backlog, somaxconn)\"",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Expr, E> {
                Ok(Expr::Num(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Expr, E> {
                i64::try_from(v)
                    .map(Expr::Num)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Expr, E> {
                Ok(Expr::Num(i64::from(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Expr, E> {
                Expr::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Result<i64, ExprError> {
        Expr::parse(text)?.eval(&|n| match n {
            "backlog" => Lookup::Value(4),
            "somaxconn" => Lookup::Value(4096),
            "sndbuf" => Lookup::Unset,
            _ => Lookup::Unknown,
        })
    }

    #[test]
    fn arithmetic_follows_precedence() {
        assert_eq!(eval("1 + 2 * 3"), Ok(7));
        assert_eq!(eval("(1 + 2) * 3"), Ok(9));
        assert_eq!(eval("10 - 2 - 3"), Ok(5));
        assert_eq!(eval("-4 + 1"), Ok(-3));
    }

    #[test]
    fn pow2_doubles() {
        assert_eq!(eval("(pow2(1 + 1) - 1) * 1000"), Ok(3000));
        assert_eq!(eval("pow2(0)"), Ok(1));
        assert_eq!(eval("pow2(63)"), Err(ExprError::Overflow));
        assert_eq!(eval("pow2(0 - 1)"), Err(ExprError::Overflow));
    }

    #[test]
    fn sizes_and_functions() {
        assert_eq!(eval("64KiB"), Ok(65536));
        assert_eq!(eval("min(backlog, somaxconn) + 1"), Ok(5));
        assert_eq!(eval("max(1, 2, 3)"), Ok(3));
        assert_eq!(eval("if_set(sndbuf, 2 * sndbuf, 7)"), Ok(7));
        assert_eq!(eval("if_set(backlog, 2 * backlog, 7)"), Ok(8));
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(eval("nope + 1"), Err(ExprError::UnknownName("nope".into())));
        assert_eq!(eval("sndbuf"), Err(ExprError::Unset("sndbuf".into())));
        assert_eq!(eval("1 / 0"), Err(ExprError::DivisionByZero));
        assert!(matches!(eval("1 +"), Err(ExprError::Syntax { .. })));
        assert!(matches!(eval("3XiB"), Err(ExprError::Syntax { .. })));
        assert!(matches!(
            eval("9223372036854775807 + 1"),
            Err(ExprError::Overflow)
        ));
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "min(backlog, somaxconn) + 1",
            "2 * (backlog + 1)",
            "10 - (2 - 3)",
        ] {
            let e = Expr::parse(text).unwrap();
            assert_eq!(Expr::parse(&e.to_string()).unwrap(), e, "{text}");
        }
    }
}
