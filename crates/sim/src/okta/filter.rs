//! Okta's SCIM-like filter expressions (`filter=`, `search=` on users, `filter=` on the
//! System Log): `attr op "value"`, `attr pr`, `and` / `or`, parentheses.
//!
//! Parsing is shared; each endpoint then checks which attributes and operators it allows,
//! because Okta's `filter` is much narrower than its `search`.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Sw,
    Co,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
    Pr,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "sw" => Op::Sw,
            "co" => Op::Co,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            "pr" => Op::Pr,
            _ => return None,
        })
    }

    pub fn is_ordering(self) -> bool {
        matches!(self, Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

/// A literal on the right of an operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Bool(bool),
    Num(f64),
    Null,
}

impl Literal {
    pub fn as_text(&self) -> String {
        match self {
            Literal::Str(s) => s.clone(),
            Literal::Bool(b) => b.to_string(),
            Literal::Num(n) => n.to_string(),
            Literal::Null => "null".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp {
        attr: String,
        op: Op,
        value: Literal,
    },
    Present(String),
}

impl Expr {
    /// The ids of an expression that is only `id eq "…"` terms joined by `or`: such a
    /// filter is answered from the id index (as Okta does) instead of a scan.
    pub fn id_disjunction(&self) -> Option<std::collections::BTreeSet<String>> {
        let mut ids = std::collections::BTreeSet::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::Or(a, b) => {
                    stack.push(a);
                    stack.push(b);
                }
                Expr::Cmp {
                    attr,
                    op: Op::Eq,
                    value: Literal::Str(id),
                } if attr == "id" => {
                    ids.insert(id.clone());
                }
                _ => return None,
            }
        }
        Some(ids)
    }

    /// Every comparison in the expression, for endpoint-specific checks.
    pub fn leaves(&self) -> Vec<(&str, Op, Option<&Literal>)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<(&'a str, Op, Option<&'a Literal>)>) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Expr::Cmp { attr, op, value } => out.push((attr, *op, Some(value))),
            Expr::Present(attr) => out.push((attr, Op::Pr, None)),
        }
    }

    /// Evaluates against a record that yields the values of an attribute (several for
    /// arrays such as the System Log's `target.id`).
    pub fn eval(&self, get: &dyn Fn(&str) -> Vec<AttrValue>) -> bool {
        match self {
            Expr::And(a, b) => a.eval(get) && b.eval(get),
            Expr::Or(a, b) => a.eval(get) || b.eval(get),
            Expr::Present(attr) => get(attr).iter().any(|v| !matches!(v, AttrValue::Null)),
            Expr::Cmp { attr, op, value } => get(attr).iter().any(|v| compare(v, *op, value)),
        }
    }
}

/// A value of a record's attribute, as the evaluator sees it.
#[derive(Debug, Clone)]
pub enum AttrValue {
    Str(String),
    Time(DateTime<Utc>),
    Bool(bool),
    Num(f64),
    Null,
}

/// Parses an Okta date literal (`2013-06-01T00:00:00.000Z`, offsets allowed).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn compare(v: &AttrValue, op: Op, lit: &Literal) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (v, lit) {
        (AttrValue::Null, Literal::Null) => Some(Ordering::Equal),
        (AttrValue::Null, _) | (_, Literal::Null) => None,
        (AttrValue::Time(t), Literal::Str(s)) => parse_time(s).map(|l| t.cmp(&l)),
        (AttrValue::Str(s), Literal::Str(l)) => {
            // Okta: values are compared case-insensitively.
            let (a, b) = (s.to_lowercase(), l.to_lowercase());
            match op {
                Op::Sw => return a.starts_with(&b),
                Op::Co => return a.contains(&b),
                Op::Ew => return a.ends_with(&b),
                _ => Some(a.cmp(&b)),
            }
        }
        (AttrValue::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        (AttrValue::Num(n), Literal::Num(l)) => n.partial_cmp(l),
        (AttrValue::Str(s), other) => Some(s.to_lowercase().cmp(&other.as_text())),
        _ => None,
    };
    let Some(ord) = ord else {
        return op == Op::Ne;
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        // sw/co/ew only make sense on strings (handled above).
        Op::Sw | Op::Co | Op::Ew | Op::Pr => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '"' => {
                chars.next();
                let mut lit = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                lit.push(n);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        other => lit.push(other),
                    }
                }
                if !closed {
                    return Err("unterminated string".to_string());
                }
                out.push(Tok::Str(lit));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Tok::Word(word));
            }
        }
    }
    Ok(out)
}

/// Parses an expression; the error says what is wrong (kept out of Okta's summary).
pub fn parse(s: &str) -> Result<Expr, String> {
    let toks = tokenize(s)?;
    let mut p = Parser { toks, pos: 0 };
    let e = p.or_expr()?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected token at {}", p.pos));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and_expr()?;
        while self.peek_word("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        while self.peek_word("and") {
            self.pos += 1;
            let right = self.term()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.or_expr()?;
                if self.toks.get(self.pos) != Some(&Tok::Close) {
                    return Err("missing )".to_string());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Word(attr)) => {
                if attr.eq_ignore_ascii_case("not") {
                    return Err("not is unsupported".to_string());
                }
                self.pos += 1;
                let op = match self.toks.get(self.pos) {
                    Some(Tok::Word(w)) => {
                        Op::parse(w).ok_or_else(|| format!("bad operator {w}"))?
                    }
                    _ => return Err("missing operator".to_string()),
                };
                self.pos += 1;
                if op == Op::Pr {
                    return Ok(Expr::Present(attr));
                }
                let value = match self.toks.get(self.pos).cloned() {
                    Some(Tok::Str(s)) => Literal::Str(s),
                    Some(Tok::Word(w)) => match w.to_ascii_lowercase().as_str() {
                        "true" => Literal::Bool(true),
                        "false" => Literal::Bool(false),
                        "null" => Literal::Null,
                        _ => Literal::Num(w.parse().map_err(|_| format!("bad value {w}"))?),
                    },
                    _ => return Err("missing value".to_string()),
                };
                self.pos += 1;
                Ok(Expr::Cmp { attr, op, value })
            }
            _ => Err("expected an expression".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(attr: &str) -> Vec<AttrValue> {
        match attr {
            "status" => vec![AttrValue::Str("ACTIVE".into())],
            "profile.login" => vec![AttrValue::Str("Alice@Example.com".into())],
            "lastUpdated" => vec![AttrValue::Time(
                parse_time("2024-01-02T00:00:00.000Z").unwrap(),
            )],
            "target.id" => vec![AttrValue::Str("a".into()), AttrValue::Str("b".into())],
            _ => vec![],
        }
    }

    #[test]
    fn precedence_and_case() {
        let e =
            parse(r#"status eq "suspended" or status EQ "active" and profile.login sw "alice""#)
                .unwrap();
        assert!(e.eval(&rec));
        let e = parse(r#"(status eq "suspended" or status eq "active") and profile.login eq "x""#)
            .unwrap();
        assert!(!e.eval(&rec));
    }

    #[test]
    fn dates_and_arrays() {
        assert!(
            parse(r#"lastUpdated gt "2024-01-01T00:00:00.000Z""#)
                .unwrap()
                .eval(&rec)
        );
        assert!(
            !parse(r#"lastUpdated lt "2024-01-01T00:00:00.000Z""#)
                .unwrap()
                .eval(&rec)
        );
        assert!(parse(r#"target.id eq "b""#).unwrap().eval(&rec));
        assert!(parse("status pr").unwrap().eval(&rec));
        assert!(!parse("nothing pr").unwrap().eval(&rec));
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "status eq",
            "status xx \"a\"",
            "(status eq \"a\"",
            "status eq \"a",
            "not status pr",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
