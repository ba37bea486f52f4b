//! Compiled conditions and their three-valued evaluation.
//!
//! A condition evaluates to *true*, *false* or *unknown* (the field is
//! missing, or its type does not fit the operator or the value).
//! `conditions_evaluated` reports `result: true` only for *true*: an
//! unknown never passes. How an unknown affects the decision depends on the
//! effect and always resolves toward the more restrictive outcome (see the
//! crate docs, "Conditions"). The rules, operator by operator, are in
//! `docs/policy-manifest.md` ("Evaluation"); in short:
//!
//! - `eq`: values of one JSON type compare (numbers by value, exactly:
//!   `1 eq 1.0`, `[1] eq [1.0]`); two containers compare element by element
//!   and key by key, and a type mismatch *anywhere* inside makes the whole
//!   comparison unknown; values of different types are unknown. `ne` is its
//!   negation (unknown stays unknown).
//! - `in` is the three-valued OR of `eq` over the list (true if a member is
//!   equal, else unknown if a member has another type, else false; an empty
//!   list is false); `not_in` its negation. `contains` on an array is the
//!   same OR over the array's elements.
//!
//! Why one file (834 lines): about 350 of its lines are unit tests; the
//! code is one job, the compiled condition and its three-valued evaluation,
//! which must stay beside each other so that the operators' truth tables
//! above can be read against one `match`.

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
pub(crate) enum Truth {
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

    pub(crate) fn not(self) -> Truth {
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

    /// Kleene disjunction: `True` if any is true, else `Unknown` if any is
    /// unknown, else `False`.
    pub(crate) fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (u @ Truth::Unknown(_), _) | (_, u @ Truth::Unknown(_)) => u,
            _ => Truth::False,
        }
    }
}

const MISMATCH: Truth = Truth::Unknown(Unknown::TypeMismatch);

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

    /// Exact comparison: an integer and a double compare by their exact
    /// values (`u64::MAX` is less than the double `2^64`), never by
    /// rounding the integer to a double.
    pub(crate) fn cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (Num::Int(a), Num::Float(b)) => int_float_cmp(a, b),
            (Num::Float(a), Num::Int(b)) => int_float_cmp(b, a).map(Ordering::reverse),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
        }
    }
}

/// `i` compared with `f`, exactly (`i` is within ±2^64, far inside i128).
fn int_float_cmp(i: i128, f: f64) -> Option<Ordering> {
    const TWO_POW_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if f.is_nan() {
        return None;
    }
    if f >= TWO_POW_127 {
        return Some(Ordering::Less);
    }
    if f < -TWO_POW_127 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    // `t` is integral and within ±2^127: the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    let ti = t as i128;
    Some(i.cmp(&ti).then_with(|| {
        if f > t {
            Ordering::Less
        } else if f < t {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }))
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
    /// `source.field` as written, formatted once for `conditions_evaluated`.
    pub field_text: String,
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
            field_text: c.field.to_string(),
        }
    }

    /// This condition as `conditions_evaluated` shows it, given whether it held.
    pub(crate) fn evaluated(&self, held: bool) -> crate::ConditionEvaluated {
        crate::ConditionEvaluated {
            field: self.field_text.clone(),
            operator: self.source.operator.as_str().to_owned(),
            expected: self.source.value.clone().unwrap_or(Value::Null),
            result: held,
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

/// Equality of two JSON values under the crate's rule: definite when both
/// have one type all the way down, unknown when a type differs anywhere.
fn json_eq(a: &Value, b: &Value) -> Truth {
    match (a, b) {
        (Value::Null, Value::Null) => Truth::True,
        (Value::Bool(x), Value::Bool(y)) => Truth::from_bool(x == y),
        (Value::Number(x), Value::Number(y)) => {
            Truth::from_bool(Num::of(x).cmp(Num::of(y)) == Some(Ordering::Equal))
        }
        (Value::String(x), Value::String(y)) => Truth::from_bool(x == y),
        (Value::Array(x), Value::Array(y)) => {
            let mut all = true;
            for (p, q) in x.iter().zip(y) {
                match json_eq(p, q) {
                    Truth::True => {}
                    Truth::False => all = false,
                    u @ Truth::Unknown(_) => return u,
                }
            }
            Truth::from_bool(all && x.len() == y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut all = x.len() == y.len();
            for (k, p) in x {
                match y.get(k).map(|q| json_eq(p, q)) {
                    Some(Truth::True) => {}
                    Some(Truth::False) | None => all = false,
                    Some(u @ Truth::Unknown(_)) => return u,
                }
            }
            Truth::from_bool(all)
        }
        _ => MISMATCH,
    }
}

/// `actual eq expected` for one expected scalar (or container).
fn eq(actual: &Actual<'_>, e: &Scalar) -> Truth {
    match (actual, e) {
        (Actual::Json(Value::String(a)), Scalar::Str(b)) => Truth::from_bool(a.as_str() == &**b),
        (Actual::Str(a), Scalar::Str(b)) => Truth::from_bool(*a == &**b),
        (Actual::Json(Value::Number(a)), Scalar::Num(b)) => {
            Truth::from_bool(Num::of(a).cmp(*b) == Some(Ordering::Equal))
        }
        (Actual::Int(a), Scalar::Num(b)) => {
            Truth::from_bool(Num::Int(i128::from(*a)).cmp(*b) == Some(Ordering::Equal))
        }
        (Actual::Json(Value::Bool(a)), Scalar::Bool(b)) => Truth::from_bool(a == b),
        (Actual::Json(Value::Null), Scalar::Null) => Truth::True,
        (Actual::Sens(a), Scalar::Sens(b)) => Truth::from_bool(a == b),
        (Actual::Json(a), Scalar::Json(b)) => json_eq(a, b),
        (Actual::StrList(list), Scalar::Json(Value::Array(b))) => {
            // Set equality: `@data.types` is a set (the value is checked at
            // load to be strings only).
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
            Truth::from_bool(all_in && distinct == list.len())
        }
        _ => MISMATCH,
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

/// `in`: the three-valued OR of `eq` over the list's members (an empty
/// list is false).
fn in_list(actual: &Actual<'_>, l: &InList) -> Truth {
    let s = match actual {
        Actual::Str(s) => Some(*s),
        Actual::Json(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let mut t = Truth::False;
    match s {
        Some(s) if l.strings.contains(s) => return Truth::True,
        // A string against a non-string member: a mismatch.
        Some(_) if !l.others.is_empty() => return MISMATCH,
        Some(_) => return Truth::False,
        // A non-string against a string member: a mismatch.
        None if !l.strings.is_empty() => t = MISMATCH,
        None => {}
    }
    for o in &l.others {
        t = t.or(eq(actual, o));
        if t == Truth::True {
            break;
        }
    }
    t
}

/// `contains` on an array: the three-valued OR of `element eq value`.
fn array_contains(items: &[Value], e: &Scalar) -> Truth {
    let mut t = Truth::False;
    for it in items {
        t = t.or(eq(&Actual::Json(it), e));
        if t == Truth::True {
            break;
        }
    }
    t
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
        (Operator::Eq, Expected::One(e)) => eq(actual, e),
        (Operator::Ne, Expected::One(e)) => eq(actual, e).not(),
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
            let t = in_list(actual, l);
            if op == Operator::NotIn { t.not() } else { t }
        }
        (Operator::Contains, Expected::One(e)) => match (actual, e) {
            (Actual::Str(a), Scalar::Str(b)) => Truth::from_bool(a.contains(&**b)),
            (Actual::Json(Value::String(a)), Scalar::Str(b)) => Truth::from_bool(a.contains(&**b)),
            (Actual::StrList(items), Scalar::Str(b)) => {
                Truth::from_bool(items.binary_search_by(|x| x.as_str().cmp(b)).is_ok())
            }
            (Actual::Json(Value::Array(items)), e) => array_contains(items, e),
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

#[cfg(test)]
mod tests {
    //! Every operator and every type rule, one row each (the contract in
    //! `docs/policy-manifest.md`, "Evaluation"). Kept beside the code so
    //! `cargo mutants -f crates/al-policy/src/cond.rs` can run them alone.
    use serde_json::json;

    use super::*;
    use crate::manifest::parse_field;
    use crate::{DataAccess, Limits, Timestamp};

    const T: Truth = Truth::True;
    const F: Truth = Truth::False;
    const M: Truth = Truth::Unknown(Unknown::TypeMismatch);
    const MISSING: Truth = Truth::Unknown(Unknown::MissingField);

    fn op(s: &str) -> Operator {
        Operator::parse(s).unwrap()
    }

    /// `field op value` against a request whose metadata is `meta` and
    /// whose data_accessed is `data`.
    fn eval_with(
        field: &str,
        o: &str,
        value: Option<Value>,
        meta: Value,
        data: Vec<DataAccess>,
    ) -> Truth {
        let c = Condition {
            field: parse_field(field, 8).unwrap(),
            operator: op(o),
            value,
        };
        let Value::Object(meta) = meta else { panic!() };
        // 2026-11-28T13:00:00Z, a Saturday.
        let now = Timestamp::from_unix_millis(1_795_870_800_000).unwrap();
        let req = ActionRequest::new("a.b", now, data, meta, &Limits::default()).unwrap();
        let agent = crate::Agent {
            id: "agt_1",
            name: "bot",
        };
        CompiledCondition::compile(&c, 1 << 20).eval(&req, &agent)
    }

    fn eval(o: &str, value: Value, actual: Value) -> Truth {
        eval_with("v", o, Some(value), json!({ "v": actual }), Vec::new())
    }

    fn data(ty: &str, count: u64, s: Option<Sensitivity>) -> DataAccess {
        DataAccess {
            data_type: ty.into(),
            count,
            sensitivity: s,
        }
    }

    #[test]
    fn equality_by_type() {
        let rows: &[(Value, Value, Truth)] = &[
            (json!(null), json!(null), T),
            (json!(null), json!(false), M),
            (json!(true), json!(true), T),
            (json!(true), json!(false), F),
            (json!(1), json!(1), T),
            (json!(1), json!(1.0), T),
            (json!(1), json!(2), F),
            (json!(1), json!("1"), M),
            (json!("a"), json!("a"), T),
            (json!("a"), json!("b"), F),
            (json!("a"), json!(["a"]), M),
            (json!(["a"]), json!({"x": 1}), M),
            (json!(["a"]), json!("a"), M),
            (json!(["a"]), json!(["a"]), T),
            (json!(["a"]), json!(["b"]), F),
            (json!(["a"]), json!(["a", "b"]), F),
            (json!(["a", "b"]), json!(["a"]), F),
            (json!(["a"]), json!([1]), M),
            (json!([1]), json!([1.0]), T),
            (json!([1, "x"]), json!([2, 3]), M),
            (json!([]), json!([]), T),
            (json!({"k": 1}), json!({"k": 1.0}), T),
            (json!({"k": 1}), json!({"k": 2}), F),
            (json!({"k": 1}), json!({"j": 1}), F),
            (json!({"k": 1}), json!({"k": 1, "j": 2}), F),
            (json!({"k": 1, "j": 2}), json!({"k": 1}), F),
            (json!({"k": 1}), json!({"k": "1"}), M),
            (json!({"k": [1]}), json!({"k": [true]}), M),
            (json!({}), json!({}), T),
            (json!([null]), json!([null]), T),
            (json!([true]), json!([false]), F),
        ];
        for (value, actual, want) in rows {
            assert_eq!(
                eval("eq", value.clone(), actual.clone()),
                *want,
                "{actual} eq {value}"
            );
            assert_eq!(
                eval("ne", value.clone(), actual.clone()),
                want.not(),
                "{actual} ne {value}"
            );
        }
    }

    #[test]
    fn orderings_are_exact() {
        let rows: &[(&str, Value, Value, Truth)] = &[
            ("lt", json!(100), json!(5), T),
            ("lt", json!(5), json!(5), F),
            ("lte", json!(5), json!(5), T),
            ("lte", json!(5), json!(6), F),
            ("gt", json!(5), json!(6), T),
            ("gt", json!(5), json!(5), F),
            ("gte", json!(5), json!(5), T),
            ("gte", json!(5), json!(4), F),
            ("lt", json!(5), json!(4.5), T),
            ("gt", json!(4.5), json!(5), T),
            ("lt", json!(2.5), json!(2.25), T),
            ("lt", json!(5), json!("4"), M),
            ("lt", json!(5), json!([4]), M),
            ("lt", json!(5), json!(null), M),
            // u64::MAX against the double 2^64: exactly less.
            (
                "lt",
                json!(18_446_744_073_709_551_616.0),
                json!(u64::MAX),
                T,
            ),
            (
                "gte",
                json!(u64::MAX),
                json!(18_446_744_073_709_551_616.0),
                T,
            ),
            (
                "gt",
                json!(9_007_199_254_740_992_u64),
                json!(9_007_199_254_740_993_u64),
                T,
            ),
            ("lt", json!(i64::MIN), json!(-1e300), T),
            ("gt", json!(-1), json!(-0.5), T),
            ("lt", json!(-1), json!(-1.5), T),
        ];
        for (o, value, actual, want) in rows {
            assert_eq!(
                eval(o, value.clone(), actual.clone()),
                *want,
                "{actual} {o} {value}"
            );
        }
    }

    #[test]
    fn int_float_comparison_edges() {
        use Ordering::{Equal, Greater, Less};
        assert_eq!(int_float_cmp(1, 1.0), Some(Equal));
        assert_eq!(int_float_cmp(1, 1.5), Some(Less));
        assert_eq!(int_float_cmp(2, 1.5), Some(Greater));
        assert_eq!(int_float_cmp(-1, -1.5), Some(Greater));
        assert_eq!(int_float_cmp(-2, -1.5), Some(Less));
        assert_eq!(int_float_cmp(0, f64::NAN), None);
        assert_eq!(int_float_cmp(i128::MAX, 1e39), Some(Less));
        assert_eq!(int_float_cmp(i128::MIN, -1e39), Some(Greater));
        assert_eq!(int_float_cmp(i128::MAX, 1.7e38), Some(Greater));
        // The ends of the i128 range, where the float is still exact.
        let two_127 = 2f64.powi(127);
        assert_eq!(int_float_cmp(i128::MIN, -two_127), Some(Equal));
        assert_eq!(int_float_cmp(i128::MAX, two_127), Some(Less));
        assert_eq!(Num::Float(1.5).cmp(Num::Int(1)), Some(Greater));
        assert_eq!(Num::Float(1.0).cmp(Num::Float(2.0)), Some(Less));
    }

    #[test]
    fn membership_is_the_or_of_equality() {
        let rows: &[(Value, Value, Truth)] = &[
            (json!(["a", "b"]), json!("a"), T),
            (json!(["a", "b"]), json!("c"), F),
            (json!([]), json!("c"), F),
            (json!([]), json!(1), F),
            (json!([1, "x"]), json!("x"), T),
            (json!([1, "x"]), json!(1.0), T),
            (json!([1, "x"]), json!("y"), M),
            (json!([1, "x"]), json!(2), M),
            (json!([1, 2]), json!(2), T),
            (json!([1, 2]), json!(3), F),
            (json!(["a"]), json!(5), M),
            (json!([null, true]), json!(null), T),
            (json!([null, true]), json!(true), T),
            (json!([true]), json!(false), F),
            (json!(["a"]), json!(["a"]), M),
            (json!([]), json!(["a"]), F),
        ];
        for (list, actual, want) in rows {
            assert_eq!(
                eval("in", list.clone(), actual.clone()),
                *want,
                "{actual} in {list}"
            );
            assert_eq!(
                eval("not_in", list.clone(), actual.clone()),
                want.not(),
                "{actual} not_in {list}"
            );
        }
    }

    #[test]
    fn contains_and_string_operators() {
        let rows: &[(&str, Value, Value, Truth)] = &[
            ("contains", json!("ix"), json!("hotfix"), T),
            ("contains", json!("zz"), json!("hotfix"), F),
            ("contains", json!(1), json!("hotfix"), M),
            ("contains", json!("safe"), json!(["x", "safe"]), T),
            ("contains", json!("safe"), json!(["x"]), F),
            ("contains", json!("safe"), json!([]), F),
            ("contains", json!("safe"), json!([1, 2]), M),
            ("contains", json!("safe"), json!([1, "safe"]), T),
            ("contains", json!(2), json!([1.0, 2.0]), T),
            ("contains", json!("a"), json!({"a": 1}), M),
            ("contains", json!("a"), json!(5), M),
            ("starts_with", json!("rel"), json!("release"), T),
            ("starts_with", json!("x"), json!("release"), F),
            ("starts_with", json!("1"), json!(12), M),
            ("ends_with", json!("ase"), json!("release"), T),
            ("ends_with", json!("rel"), json!("release"), F),
            ("ends_with", json!("x"), json!(["x"]), M),
            ("matches", json!("^re.*e$"), json!("release"), T),
            ("matches", json!("^x"), json!("release"), F),
            ("matches", json!("1"), json!(1), M),
        ];
        for (o, value, actual, want) in rows {
            assert_eq!(
                eval(o, value.clone(), actual.clone()),
                *want,
                "{actual} {o} {value}"
            );
        }
    }

    #[test]
    fn presence() {
        let none = json!({});
        assert_eq!(
            eval_with("v", "exists", None, json!({"v": null}), vec![]),
            T
        );
        assert_eq!(eval_with("v", "exists", None, none.clone(), vec![]), F);
        assert_eq!(eval_with("v", "not_exists", None, none.clone(), vec![]), T);
        assert_eq!(
            eval_with("v", "not_exists", None, json!({"v": 1}), vec![]),
            F
        );
        assert_eq!(
            eval_with("v", "eq", Some(json!(1)), none.clone(), vec![]),
            MISSING
        );
        assert_eq!(
            eval_with("a.b", "eq", Some(json!(1)), json!({"a": {"b": 1}}), vec![]),
            T
        );
        assert_eq!(
            eval_with("a.b", "eq", Some(json!(1)), json!({"a": {"c": 1}}), vec![]),
            MISSING
        );
        assert_eq!(
            eval_with("a.b", "eq", Some(json!(1)), json!({"a": 1}), vec![]),
            MISSING
        );
        assert_eq!(
            eval_with("a.b", "exists", None, json!({"a": [1]}), vec![]),
            F
        );
    }

    #[test]
    fn built_in_facts() {
        let m = json!({});
        let s = |l| Some(l);
        let d = vec![
            data("pii", 3, s(Sensitivity::High)),
            data("code", 2, None),
            data("pii", 1, s(Sensitivity::Low)),
        ];
        let b = |f: &str, o: &str, v: Value| eval_with(f, o, Some(v), m.clone(), d.clone());
        assert_eq!(b("@agent.id", "eq", json!("agt_1")), T);
        assert_eq!(b("@agent.id", "eq", json!("agt_2")), F);
        assert_eq!(b("@agent.name", "starts_with", json!("bo")), T);
        assert_eq!(b("@agent.name", "in", json!(["x", "bot"])), T);
        assert_eq!(b("@data.count", "eq", json!(6)), T);
        assert_eq!(b("@data.count", "lt", json!(6)), F);
        assert_eq!(b("@data.count", "in", json!([6, 7])), T);
        assert_eq!(b("@data.max_sensitivity", "eq", json!("high")), T);
        assert_eq!(b("@data.max_sensitivity", "gt", json!("medium")), T);
        assert_eq!(b("@data.max_sensitivity", "lte", json!("medium")), F);
        assert_eq!(b("@data.max_sensitivity", "in", json!(["low", "high"])), T);
        assert_eq!(b("@data.max_sensitivity", "in", json!(["low"])), F);
        assert_eq!(b("@data.types", "eq", json!(["pii", "code"])), T);
        assert_eq!(b("@data.types", "eq", json!(["pii", "code", "pii"])), T);
        assert_eq!(b("@data.types", "eq", json!(["pii"])), F);
        assert_eq!(b("@data.types", "eq", json!(["pii", "code", "x"])), F);
        assert_eq!(b("@data.types", "ne", json!(["pii"])), T);
        assert_eq!(b("@data.types", "in", json!(["pii", "code", "x"])), T);
        assert_eq!(b("@data.types", "in", json!(["pii"])), F);
        assert_eq!(b("@data.types", "not_in", json!(["x"])), T);
        assert_eq!(b("@data.types", "not_in", json!(["pii"])), F);
        assert_eq!(b("@data.types", "contains", json!("code")), T);
        assert_eq!(b("@data.types", "contains", json!("x")), F);
        assert_eq!(b("@time.hour", "eq", json!(13)), T);
        assert_eq!(b("@time.weekday", "eq", json!(6)), T);
        assert_eq!(b("@time.hour", "gte", json!(14)), F);
        // No item declares a sensitivity: the fact is missing.
        let none = vec![data("code", 1, None)];
        assert_eq!(
            eval_with(
                "@data.max_sensitivity",
                "lte",
                Some(json!("low")),
                m.clone(),
                none
            ),
            MISSING
        );
    }

    #[test]
    fn three_valued_connectives() {
        let u = M;
        for (a, b, and, or) in [
            (T, T, T, T),
            (T, F, F, T),
            (F, T, F, T),
            (F, F, F, F),
            (T, u, u, T),
            (u, T, u, T),
            (F, u, F, u),
            (u, F, F, u),
            (u, u, u, u),
        ] {
            assert_eq!(a.and(b), and, "{a:?} and {b:?}");
            assert_eq!(a.or(b), or, "{a:?} or {b:?}");
        }
        assert_eq!(T.not(), F);
        assert_eq!(F.not(), T);
        assert_eq!(u.not(), u);
    }
}
