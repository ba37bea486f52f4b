//! Checking conditions: field, operator, and a value that fits both.

use super::read::{CONDITION_KEYS, Reader, field_path};
use super::syntax::{compile_regex, fact_kind, is_sensitivity, parse_field, suggest};
use crate::error::Code;
use crate::model::{Condition, FactKind, Field, Operator, Sensitivity};
use crate::node::{Node, Val};

impl Reader<'_> {
    pub(super) fn conditions(&mut self, n: &Node, path: &str, pol: Option<&str>) -> Vec<Condition> {
        let items: &[Node] = match &n.val {
            Val::Seq(items) => items,
            Val::Null => &[],
            other => {
                self.err(
                    Code::ValueType,
                    path,
                    n.loc,
                    pol,
                    format!(
                        "expected a sequence of conditions, found a {}",
                        other.type_name()
                    ),
                );
                return Vec::new();
            }
        };
        if items.len() > self.limits.max_conditions {
            self.err(
                Code::LimitExceeded,
                path,
                n.loc,
                pol,
                format!(
                    "{} conditions, over the limit of {} (`max_conditions`)",
                    items.len(),
                    self.limits.max_conditions
                ),
            );
            return Vec::new();
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| self.condition(it, &format!("{path}[{i}]"), pol))
            .collect()
    }

    fn condition(&mut self, n: &Node, path: &str, pol: Option<&str>) -> Option<Condition> {
        let f = self.map(n, path, CONDITION_KEYS, pol)?;
        let before = self.errors.len();
        let max_field_depth = self.limits.max_field_depth;
        let field = self.required_parsed(&f, n, path, "field", pol, Code::InvalidField, |s| {
            parse_field(s, max_field_depth)
        });
        let operator = self.required(&f, n, path, "operator", pol).and_then(|v| {
            let p = field_path(path, "operator");
            let s = self.string(v, &p, pol)?;
            let op = Operator::parse(s);
            if op.is_none() {
                let hint = suggest(s, Operator::ALL.iter().map(|o| o.as_str()))
                    .map(|o| format!("; did you mean `{o}`?"))
                    .unwrap_or_default();
                self.err(
                    Code::UnknownOperator,
                    &p,
                    v.loc,
                    pol,
                    format!("unknown operator `{s}`{hint}"),
                );
            }
            op
        });
        let value_node = f.get("value");
        let (field, operator) = (field?, operator?);
        let vpath = field_path(path, "value");
        let value = match (operator.takes_value(), value_node) {
            (false, None) => None,
            (false, Some(Node { val: Val::Null, .. })) => None,
            (false, Some(v)) => {
                self.err(
                    Code::ValueType,
                    &vpath,
                    v.loc,
                    pol,
                    format!("operator `{operator}` takes no `value`"),
                );
                None
            }
            (true, None) => {
                self.err(
                    Code::MissingField,
                    &vpath,
                    n.loc,
                    pol,
                    format!("operator `{operator}` needs a `value`"),
                );
                None
            }
            (true, Some(v)) => {
                self.check_value(&field, operator, v, &vpath, pol);
                Some(v.to_json())
            }
        };
        if self.errors.len() != before {
            return None;
        }
        Some(Condition {
            field,
            operator,
            value,
        })
    }

    /// Value checks: the shape each operator needs, then that the
    /// condition can be decided for some request. Conditions that can be
    /// decided but never hold (`@time.hour eq 25`) are left to the linter.
    fn check_value(
        &mut self,
        field: &Field,
        op: Operator,
        v: &Node,
        path: &str,
        pol: Option<&str>,
    ) {
        if let Err(m) = self.check_json_size(v, 0) {
            self.err(Code::LimitExceeded, path, v.loc, pol, m);
            return;
        }
        let before = self.errors.len();
        let bad = |want: &str| {
            format!(
                "operator `{op}` needs {want}, found a {}",
                v.val.type_name()
            )
        };
        match op {
            Operator::In | Operator::NotIn => match &v.val {
                Val::Seq(items) => {
                    if items.len() > self.limits.max_list_len {
                        self.err(
                            Code::LimitExceeded,
                            path,
                            v.loc,
                            pol,
                            format!(
                                "{} items, over the limit of {} (`max_list_len`)",
                                items.len(),
                                self.limits.max_list_len
                            ),
                        );
                    }
                    for (i, it) in items.iter().enumerate() {
                        if matches!(it.val, Val::Seq(_) | Val::Map(_)) {
                            self.err(
                                Code::ValueType,
                                &format!("{path}[{i}]"),
                                it.loc,
                                pol,
                                format!(
                                    "items of `{op}` must be scalars, found a {}",
                                    it.val.type_name()
                                ),
                            );
                        } else if is_sensitivity(field) {
                            self.sensitivity_value(it, &format!("{path}[{i}]"), pol);
                        }
                    }
                }
                _ => self.err(Code::ValueType, path, v.loc, pol, bad("a sequence")),
            },
            Operator::StartsWith | Operator::EndsWith => {
                if !matches!(v.val, Val::Str(_)) {
                    self.err(Code::ValueType, path, v.loc, pol, bad("a string"));
                }
            }
            Operator::Matches => match &v.val {
                Val::Str(s) => {
                    if let Err(m) = compile_regex(s, self.limits.max_regex_bytes) {
                        self.err(Code::InvalidRegex, path, v.loc, pol, m);
                    }
                }
                _ => self.err(Code::ValueType, path, v.loc, pol, bad("a regex string")),
            },
            Operator::Contains => {
                if matches!(v.val, Val::Seq(_) | Val::Map(_)) {
                    self.err(Code::ValueType, path, v.loc, pol, bad("a scalar"));
                }
            }
            Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte => match &v.val {
                Val::Num(_) => {}
                Val::Str(_) => {
                    if is_sensitivity(field) {
                        self.sensitivity_value(v, path, pol);
                    }
                }
                _ => self.err(
                    Code::ValueType,
                    path,
                    v.loc,
                    pol,
                    bad("a number or a string"),
                ),
            },
            Operator::Eq | Operator::Ne => {
                if is_sensitivity(field) {
                    self.sensitivity_value(v, path, pol);
                }
            }
            Operator::Exists | Operator::NotExists => {}
        }
        if self.errors.len() == before {
            self.check_decidable(field, op, v, path, pol);
        }
    }

    /// Refuse a condition that is *unknown* for every possible request: a
    /// built-in fact compared in a way its type never fits, or a metadata
    /// field ordered against a string. Such a condition would silently keep
    /// a `deny` on (or an `allow` off) whatever the request says.
    fn check_decidable(
        &mut self,
        field: &Field,
        op: Operator,
        v: &Node,
        path: &str,
        pol: Option<&str>,
    ) {
        let why = match fact_kind(field) {
            None if op.is_ordering() && matches!(v.val, Val::Str(_)) => {
                Some(format!("`{op}` orders numbers, and the value is a string"))
            }
            None => None,
            Some(kind) => undecidable(kind, op, &v.val).map(str::to_owned),
        };
        if let Some(why) = why {
            self.err(
                Code::ValueType,
                path,
                v.loc,
                pol,
                format!("condition on `{field}` with `{op}` can never be decided: {why}"),
            );
        }
    }

    fn sensitivity_value(&mut self, v: &Node, path: &str, pol: Option<&str>) {
        let ok = matches!(&v.val, Val::Str(s) if Sensitivity::parse(s).is_some());
        if !ok {
            self.err(
                Code::ValueType,
                path,
                v.loc,
                pol,
                "`@data.max_sensitivity` compares with one of `public`, `low`, `medium`, `high`, `critical`".into(),
            );
        }
    }

    fn check_json_size(&self, v: &Node, depth: usize) -> Result<(), String> {
        if depth > self.limits.max_depth {
            return Err(format!(
                "value nested deeper than {} levels (`max_depth`)",
                self.limits.max_depth
            ));
        }
        match &v.val {
            Val::Str(s) if s.len() > self.limits.max_string_len => Err(format!(
                "string is {} bytes, over the limit of {} (`max_string_len`)",
                s.len(),
                self.limits.max_string_len
            )),
            Val::Seq(items) => items
                .iter()
                .try_for_each(|i| self.check_json_size(i, depth + 1)),
            Val::Map(pairs) => pairs
                .iter()
                .try_for_each(|(_, i)| self.check_json_size(i, depth + 1)),
            _ => Ok(()),
        }
    }
}

/// Why a condition on a built-in fact of type `kind` is unknown for every
/// request, if it is.
fn undecidable(kind: FactKind, op: Operator, v: &Val) -> Option<&'static str> {
    use FactKind as K;
    use Operator as O;
    let is_str = |v: &Val| matches!(v, Val::Str(_));
    let is_num = |v: &Val| matches!(v, Val::Num(_));
    // An empty list is decidable (`in []` is false); otherwise some member
    // must have the fact's type.
    let some_item = |f: &dyn Fn(&Val) -> bool| matches!(v, Val::Seq(items) if items.is_empty() || items.iter().any(|i| f(&i.val)));
    match (kind, op) {
        (_, O::Exists | O::NotExists) => None,
        (K::String, O::Eq | O::Ne | O::Contains | O::StartsWith | O::EndsWith | O::Matches)
            if is_str(v) =>
        {
            None
        }
        (K::String, O::In | O::NotIn) if some_item(&is_str) => None,
        (K::String, _) => Some("the fact is a string"),
        (K::Integer, O::Eq | O::Ne | O::Lt | O::Lte | O::Gt | O::Gte) if is_num(v) => None,
        (K::Integer, O::In | O::NotIn) if some_item(&is_num) => None,
        (K::Integer, _) => Some("the fact is an integer"),
        // Values are checked to be sensitivity levels above.
        (K::Sensitivity, O::Eq | O::Ne | O::Lt | O::Lte | O::Gt | O::Gte | O::In | O::NotIn) => {
            None
        }
        (K::Sensitivity, _) => Some(
            "the fact is a sensitivity level, compared with `eq`, `ne`, `in`, `not_in` or an ordering",
        ),
        (K::StringList, O::Eq | O::Ne) if matches!(v, Val::Seq(items) if items.iter().all(|i| is_str(&i.val))) => {
            None
        }
        (K::StringList, O::In | O::NotIn) if some_item(&is_str) => None,
        (K::StringList, O::Contains) if is_str(v) => None,
        (K::StringList, _) => Some("the fact is a set of strings"),
    }
}
