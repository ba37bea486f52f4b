//! Compiled conditions and their three-valued evaluation.
//!
//! A condition evaluates to [`Truth::True`], [`Truth::False`] or
//! [`Truth::Unknown`] (the field is missing, or its type does not fit the
//! operator). `conditions_evaluated` reports `result: true` only for
//! `True`: an unknown never passes. How an unknown affects the decision
//! depends on the effect and always resolves toward the more restrictive
//! outcome (see the crate docs, "Conditions").

use std::cmp::Ordering;

use rustc_hash::FxHashSet;
use serde_json::{Number, Value};

use crate::model::{Builtin, Condition, Field, Operator, Sensitivity};
use crate::request::ActionRequest;

/// Why a condition could not be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// The field is absent from the request.
    MissingField,
    /// The field's value has a type the operator cannot compare.
    TypeMismatch,
}

/// The three-valued result of one condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Truth {
    /// The condition holds.
    True,
    /// The condition definitely does not hold.
    False,
    /// The condition could not be evaluated.
    Unknown(Unknown),
}

impl Truth {
    fn from_bool(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }

    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            u @ Truth::Unknown(_) => u,
        }
    }

    /// Kleene conjunction: `False` if any is false, else `Unknown` if any is
    /// unknown, else `True`.
    pub(crate) fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (u @ Truth::Unknown(_), _) | (_, u @ Truth::Unknown(_)) => u,
            _ => Truth::True,
        }
    }
}

/// A number as JSON carries it: exact integers compare exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    pub(crate) fn of(n: &Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Num::Int(i128::from(u))
        } else {
            Num::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    pub(crate) fn cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            #[allow(clippy::cast_precision_loss)]
            (Num::Int(a), Num::Float(b)) => (a as f64).partial_cmp(&b),
            #[allow(clippy::cast_precision_loss)]
            (Num::Float(a), Num::Int(b)) => a.partial_cmp(&(b as f64)),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
        }
    }
}

/// A scalar in an `in` list or an expected value.
#[derive(Clone, Debug)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Num(Num),
    Str(Box<str>),
    Sens(Sensitivity),
    /// Arrays and objects, compared structurally.
    Json(Value),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct InList {
    strings: FxHashSet<Box<str>>,
    others: Vec<Scalar>,
}

#[derive(Clone, Debug)]
pub(crate) enum Expected {
    None,
    One(Scalar),
    List(InList),
    Regex(regex::Regex),
    /// Could not be compiled (cannot happen after validation); always unknown.
    Invalid,
}

/// A condition ready for evaluation: field path resolved, value typed,
/// regex compiled once.
#[derive(Clone, Debug)]
pub(crate) struct CompiledCondition {
    pub source: Condition,
    pub expected: Expected,
}

fn scalar(v: &Value, sens: bool) -> Scalar {
    match v {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => Scalar::Num(Num::of(n)),
        Value::String(s) => match (sens, Sensitivity::parse(s)) {
            (true, Some(l)) => Scalar::Sens(l),
            _ => Scalar::Str(s.as_str().into()),
        },
        other => Scalar::Json(other.clone()),
    }
}

impl CompiledCondition {
    pub(crate) fn compile(c: &Condition, max_regex_bytes: usize) -> CompiledCondition {
        let sens = c.field == Field::Builtin(Builtin::DataMaxSensitivity);
        let expected = match (c.operator, &c.value) {
            (Operator::Exists | Operator::NotExists, _) => Expected::None,
            (Operator::Matches, Some(Value::String(s))) => {
                match crate::manifest::compile_regex(s, max_regex_bytes) {
                    Ok(r) => Expected::Regex(r),
                    Err(_) => Expected::Invalid,
                }
            }
            (Operator::In | Operator::NotIn, Some(Value::Array(items))) => {
                let mut l = InList::default();
                for it in items {
                    match scalar(it, sens) {
                        Scalar::Str(s) => {
                            l.strings.insert(s);
                        }
                        other => l.others.push(other),
                    }
                }
                Expected::List(l)
            }
            (_, Some(v)) => Expected::One(scalar(v, sens)),
            (_, None) => Expected::Invalid,
        };
        CompiledCondition {
            source: c.clone(),
            expected,
        }
    }

    /// Evaluate against a request. Never allocates.
    pub(crate) fn eval(&self, req: &ActionRequest, agent: &crate::Agent<'_>) -> Truth {
        let actual = resolve(&self.source.field, req, agent);
        eval_op(self.source.operator, &actual, &self.expected)
    }
}

/// A field's value in a request, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Actual<'a> {
    Missing,
    Json(&'a Value),
    Str(&'a str),
    Int(u64),
    Sens(Sensitivity),
    StrList(&'a [String]),
}

impl Actual<'_> {
    /// The value as JSON, for explanations.
    pub(crate) fn to_json(self) -> Option<Value> {
        Some(match self {
            Actual::Missing => return None,
            Actual::Json(v) => v.clone(),
            Actual::Str(s) => Value::String(s.to_owned()),
            Actual::Int(i) => Value::from(i),
            Actual::Sens(s) => Value::String(s.as_str().to_owned()),
            Actual::StrList(l) => Value::Array(l.iter().cloned().map(Value::String).collect()),
        })
    }
}

pub(crate) fn resolve<'a>(
    field: &Field,
    req: &'a ActionRequest,
    agent: &crate::Agent<'a>,
) -> Actual<'a> {
    match field {
        Field::Builtin(b) => match b {
            Builtin::AgentId => Actual::Str(agent.id),
            Builtin::AgentName => Actual::Str(agent.name),
            Builtin::DataCount => Actual::Int(req.facts.count),
            Builtin::DataMaxSensitivity => req
                .facts
                .max_sensitivity
                .map_or(Actual::Missing, Actual::Sens),
            Builtin::DataTypes => Actual::StrList(&req.facts.types),
            Builtin::TimeHour => Actual::Int(u64::from(req.timestamp().hour())),
            Builtin::TimeWeekday => Actual::Int(u64::from(req.timestamp().weekday())),
        },
        Field::Metadata(path) => {
            let mut segs = path.iter();
            let Some(first) = segs.next() else {
                return Actual::Missing;
            };
            let mut cur = match req.metadata().get(first.as_str()) {
                Some(v) => v,
                None => return Actual::Missing,
            };
            for seg in segs {
                cur = match cur {
                    Value::Object(o) => match o.get(seg.as_str()) {
                        Some(v) => v,
                        None => return Actual::Missing,
                    },
                    _ => return Actual::Missing,
                };
            }
            Actual::Json(cur)
        }
    }
}

/// Equality between an actual value and an expected scalar; `None` when
/// the types cannot be compared.
fn scalar_eq(actual: &Actual<'_>, e: &Scalar) -> Option<bool> {
    match (actual, e) {
        (Actual::Json(Value::String(a)), Scalar::Str(b)) => Some(a.as_str() == &**b),
        (Actual::Str(a), Scalar::Str(b)) => Some(*a == &**b),
        (Actual::Json(Value::Number(a)), Scalar::Num(b)) => {
            Some(Num::of(a).cmp(*b) == Some(Ordering::Equal))
        }
        (Actual::Int(a), Scalar::Num(b)) => {
            Some(Num::Int(i128::from(*a)).cmp(*b) == Some(Ordering::Equal))
        }
        (Actual::Json(Value::Bool(a)), Scalar::Bool(b)) => Some(a == b),
        (Actual::Json(Value::Null), Scalar::Null) => Some(true),
        (Actual::Sens(a), Scalar::Sens(b)) => Some(a == b),
        (Actual::Json(a @ (Value::Array(_) | Value::Object(_))), Scalar::Json(b)) => Some(*a == b),
        (Actual::StrList(list), Scalar::Json(Value::Array(b))) => {
            // Set equality: `@data.types` is a set.
            let all_in = b
                .iter()
                .all(|x| matches!(x, Value::String(s) if list.binary_search(s).is_ok()));
            let distinct = {
                let mut n = 0usize;
                for (i, x) in b.iter().enumerate() {
                    if !b.iter().take(i).any(|y| y == x) {
                        n += 1;
                    }
                }
                n
            };
            Some(all_in && distinct == list.len())
        }
        _ => None,
    }
}

fn ordering(actual: &Actual<'_>, e: &Scalar) -> Option<Ordering> {
    match (actual, e) {
        (Actual::Json(Value::Number(a)), Scalar::Num(b)) => Num::of(a).cmp(*b),
        (Actual::Int(a), Scalar::Num(b)) => Num::Int(i128::from(*a)).cmp(*b),
        (Actual::Sens(a), Scalar::Sens(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// `in` membership: `Some(true)` if an item equals the value, `Some(false)`
/// if none does but some item is comparable (or the list is empty), `None`
/// when no item has a comparable type.
fn in_list(actual: &Actual<'_>, l: &InList) -> Option<bool> {
    let s = match actual {
        Actual::Str(s) => Some(*s),
        Actual::Json(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    if let Some(s) = s
        && l.strings.contains(s)
    {
        return Some(true);
    }
    let mut comparable = s.is_some() && !l.strings.is_empty();
    for o in &l.others {
        match scalar_eq(actual, o) {
            Some(true) => return Some(true),
            Some(false) => comparable = true,
            None => {}
        }
    }
    (comparable || (l.strings.is_empty() && l.others.is_empty())).then_some(false)
}

pub(crate) fn eval_op(op: Operator, actual: &Actual<'_>, expected: &Expected) -> Truth {
    use Truth::Unknown as U;
    use Unknown::{MissingField, TypeMismatch};
    match op {
        Operator::Exists => return Truth::from_bool(!matches!(actual, Actual::Missing)),
        Operator::NotExists => return Truth::from_bool(matches!(actual, Actual::Missing)),
        _ => {}
    }
    if matches!(actual, Actual::Missing) {
        return U(MissingField);
    }
    let mismatch = U(TypeMismatch);
    match (op, expected) {
        (Operator::Eq, Expected::One(e)) => scalar_eq(actual, e).map_or(mismatch, Truth::from_bool),
        (Operator::Ne, Expected::One(e)) => {
            scalar_eq(actual, e).map_or(mismatch, |b| Truth::from_bool(!b))
        }
        (Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte, Expected::One(e)) => {
            match ordering(actual, e) {
                None => mismatch,
                Some(o) => Truth::from_bool(match op {
                    Operator::Lt => o == Ordering::Less,
                    Operator::Lte => o != Ordering::Greater,
                    Operator::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                }),
            }
        }
        (Operator::In | Operator::NotIn, Expected::List(l)) => {
            if let Actual::StrList(items) = actual {
                // A set fact: every accessed type is listed (`in`), or none is (`not_in`).
                return Truth::from_bool(if op == Operator::In {
                    items.iter().all(|s| l.strings.contains(s.as_str()))
                } else {
                    !items.iter().any(|s| l.strings.contains(s.as_str()))
                });
            }
            let t = in_list(actual, l).map_or(mismatch, Truth::from_bool);
            if op == Operator::NotIn { t.not() } else { t }
        }
        (Operator::Contains, Expected::One(e)) => match (actual, e) {
            (Actual::Str(a), Scalar::Str(b)) => Truth::from_bool(a.contains(&**b)),
            (Actual::Json(Value::String(a)), Scalar::Str(b)) => Truth::from_bool(a.contains(&**b)),
            (Actual::StrList(items), Scalar::Str(b)) => {
                Truth::from_bool(items.binary_search_by(|x| x.as_str().cmp(b)).is_ok())
            }
            (Actual::Json(Value::Array(items)), e) => {
                let mut comparable = false;
                for it in items {
                    match scalar_eq(&Actual::Json(it), e) {
                        Some(true) => return Truth::True,
                        Some(false) => comparable = true,
                        None => {}
                    }
                }
                if comparable || items.is_empty() {
                    Truth::False
                } else {
                    mismatch
                }
            }
            _ => mismatch,
        },
        (Operator::StartsWith | Operator::EndsWith, Expected::One(Scalar::Str(b))) => {
            let a = match actual {
                Actual::Str(a) => *a,
                Actual::Json(Value::String(a)) => a.as_str(),
                _ => return mismatch,
            };
            Truth::from_bool(if op == Operator::StartsWith {
                a.starts_with(&**b)
            } else {
                a.ends_with(&**b)
            })
        }
        (Operator::Matches, Expected::Regex(r)) => match actual {
            Actual::Str(a) => Truth::from_bool(r.is_match(a)),
            Actual::Json(Value::String(a)) => Truth::from_bool(r.is_match(a)),
            _ => mismatch,
        },
        _ => mismatch,
    }
}
