//! Reading a `POST /actions` body: one pass of the shared strict reader
//! (`al_types::json::parse_with`) straight into the fields the pipeline
//! needs, then the field checks.
//!
//! The generic way (`crate::body::Obj`: parse the whole body into a
//! `serde_json::Value`, then take fields out of the map) allocates every
//! top-level key and string and then throws the map away. Here the
//! top-level object is taken apart as it is read: keys and the
//! `action_type`/`timestamp` strings are borrowed from the body when they
//! hold no escapes; each `data_accessed` item is taken apart as it is read
//! (its fields straight into slots, no `Value` map per item); only
//! `metadata` becomes a `Value` (the record and the policy core need it as
//! a map).
//!
//! The rules and errors are exactly the generic reader's: the body is read
//! whole first (size, syntax, trailing text, repeated keys at any depth,
//! depth: same codes, messages, lines and columns), and only then are the
//! fields checked, in the same order, with the same messages (an unknown
//! key is reported as the smallest one, as the generic reader's sorted map
//! does). `tests::one_pass_reader_agrees_with_the_generic_one` checks both
//! against each other on random bodies.
//!
//! Why one file (about 670 lines, half of it the reference reader and the
//! differential tests): the reader and the reference it must agree with
//! belong side by side.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use al_policy::ActionRequest;
use al_types::Timestamp;
use al_types::json::{Strict, StrictRead};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::records::DataItem;

/// A validated request body.
#[derive(Debug, PartialEq)]
pub(crate) struct Parsed {
    pub req: ActionRequest,
    pub requested_at: Timestamp,
    pub data: Vec<DataItem>,
}

/// Read a `POST /actions` body. `timestamp` is optional (`default_ts` then);
/// `count` defaults to 1; unknown keys are refused.
pub(crate) fn parse_action(
    body: &str,
    default_ts: Timestamp,
    cfg: &EngineConfig,
) -> Result<Parsed, EngineError> {
    let raw = match al_types::json::parse_with(body, &cfg.json_limits(), BodyReader) {
        Ok(Some(raw)) => raw,
        Ok(None) => return Err(EngineError::invalid("body", "must be a JSON object")),
        Err(e) => return Err(EngineError::Json(e)),
    };
    let max = cfg.policy_limits.max_pattern_len();
    let action_type = match raw.action_type {
        None | Some(Slot::Null) => return Err(EngineError::invalid("action_type", "is required")),
        Some(Slot::Other) => {
            return Err(EngineError::invalid("action_type", "must be a string"));
        }
        Some(Slot::Str(s)) if s.len() > max => {
            return Err(EngineError::invalid(
                "action_type",
                format!("{} bytes, over the limit of {max}", s.len()),
            ));
        }
        Some(Slot::Str(s)) => s.into_owned(),
    };
    let requested_at = match raw.timestamp {
        None | Some(Slot::Null) => default_ts,
        Some(Slot::Str(s)) => Timestamp::parse_rfc3339(&s).map_err(|e| {
            EngineError::invalid("timestamp", format!("is not an RFC 3339 timestamp: {e}"))
        })?,
        Some(Slot::Other) => {
            return Err(EngineError::invalid(
                "timestamp",
                "must be an RFC 3339 string",
            ));
        }
    };
    let items = match raw.data_accessed {
        None | Some(DataRaw::Null) => Vec::new(),
        Some(DataRaw::Items(a)) => a,
        Some(DataRaw::NotArray) => {
            return Err(EngineError::invalid("data_accessed", "must be an array"));
        }
    };
    let data = data_items(items, cfg)?;
    let metadata = match raw.metadata {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(EngineError::invalid("metadata", "must be an object")),
    };
    if let Some(k) = raw.unknown {
        return Err(EngineError::invalid(
            crate::error::cut(&k),
            "is not a known field",
        ));
    }
    request(action_type, requested_at, data, metadata, cfg)
}

/// `data_accessed`'s items, checked in order.
fn data_items(items: Vec<ItemRaw<'_>>, cfg: &EngineConfig) -> Result<Vec<DataItem>, EngineError> {
    if items.len() > cfg.policy_limits.max_data_accessed() {
        return Err(EngineError::invalid(
            "data_accessed",
            format!(
                "{} items, over the limit of {}",
                items.len(),
                cfg.policy_limits.max_data_accessed()
            ),
        ));
    }
    let mut data = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        data.push(data_item(i, it, cfg)?);
    }
    Ok(data)
}

/// The policy core's request, from the checked fields.
fn request(
    action_type: String,
    requested_at: Timestamp,
    data: Vec<DataItem>,
    metadata: Map<String, Value>,
    cfg: &EngineConfig,
) -> Result<Parsed, EngineError> {
    let policy_data: Vec<al_policy::DataAccess> = data.iter().map(DataItem::to_policy).collect();
    let req = ActionRequest::new(
        action_type,
        requested_at,
        policy_data,
        metadata,
        &cfg.policy_limits,
    )
    .map_err(EngineError::from_policy)?;
    Ok(Parsed {
        req,
        requested_at,
        data,
    })
}

/// One item, from its fields as read: the checks and messages of the
/// reference reader (`data_item_reference`: a `null` is absent, the
/// smallest unknown key is named), in the same order.
fn data_item(i: usize, it: ItemRaw<'_>, cfg: &EngineConfig) -> Result<DataItem, EngineError> {
    let field = |f: &str| format!("data_accessed[{i}]{f}");
    let ItemRaw::Object(f) = it else {
        return Err(EngineError::invalid(field(""), "must be an object"));
    };
    let max_name = cfg.policy_limits.max_name_len();
    let data_type = match f.data_type {
        Some(Slot::Str(s)) if !s.is_empty() && s.len() <= max_name => s.into_owned(),
        Some(Slot::Str(_)) => {
            return Err(EngineError::invalid(
                field(".type"),
                format!("must be 1 to {max_name} bytes long"),
            ));
        }
        Some(Slot::Other) => return Err(EngineError::invalid(field(".type"), "must be a string")),
        None | Some(Slot::Null) => {
            return Err(EngineError::invalid(field(".type"), "is required"));
        }
    };
    let count = match f.count {
        None | Some(Count::Null) => 1,
        Some(Count::U64(n)) => n,
        Some(Count::Other) => {
            return Err(EngineError::invalid(
                field(".count"),
                "must be a non-negative integer",
            ));
        }
    };
    let sensitivity = match f.sensitivity {
        None | Some(Slot::Null) => None,
        Some(Slot::Str(s)) => Some(al_policy::Sensitivity::parse(&s).ok_or_else(|| {
            EngineError::invalid(
                field(".sensitivity"),
                format!(
                    "`{}` is not one of `public`, `low`, `medium`, `high`, `critical`",
                    crate::error::cut(&s)
                ),
            )
        })?),
        Some(Slot::Other) => {
            return Err(EngineError::invalid(
                field(".sensitivity"),
                "must be a string",
            ));
        }
    };
    if let Some(k) = f.unknown {
        return Err(EngineError::invalid(
            field(&format!(".{}", crate::error::cut(&k))),
            "is not a known field",
        ));
    }
    Ok(DataItem {
        count,
        sensitivity,
        data_type,
    })
}

/// Check an `X-AL-…` header value.
pub(crate) fn check_header(name: &str, v: &str, max: usize) -> Result<(), EngineError> {
    if v.is_empty() || v.len() > max || v.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(EngineError::invalid(
            name,
            format!("must be 1 to {max} printable ASCII characters without spaces"),
        ));
    }
    Ok(())
}

// ------------------------------------------------------------ the one-pass reader

/// A top-level string field as read: its text (borrowed when it has no
/// escapes), `null`, or anything else (checked by the strict reader, then
/// dropped: only its kind matters for the error).
#[derive(Debug)]
enum Slot<'de> {
    Str(Cow<'de, str>),
    Null,
    Other,
}

/// The body's top-level fields, as read (checked afterwards).
#[derive(Debug, Default)]
struct RawBody<'de> {
    action_type: Option<Slot<'de>>,
    timestamp: Option<Slot<'de>>,
    data_accessed: Option<DataRaw<'de>>,
    metadata: Option<Value>,
    /// The smallest unknown key (the one the generic reader names).
    unknown: Option<String>,
}

/// `data_accessed` as read: its items taken apart as they are read (no
/// `Value` map per item); anything else only checked by the strict reader.
#[derive(Debug)]
enum DataRaw<'de> {
    Null,
    NotArray,
    Items(Vec<ItemRaw<'de>>),
}

/// One `data_accessed` item as read.
#[derive(Debug)]
enum ItemRaw<'de> {
    NotObject,
    Object(ItemFields<'de>),
}

/// An item object's fields as read (checked afterwards by [`data_item`]).
#[derive(Debug, Default)]
struct ItemFields<'de> {
    data_type: Option<Slot<'de>>,
    count: Option<Count>,
    sensitivity: Option<Slot<'de>>,
    /// The smallest unknown key (the one the reference reader names).
    unknown: Option<String>,
}

/// An item's `count` as read.
#[derive(Debug)]
enum Count {
    Null,
    U64(u64),
    /// Any other value (a negative or fractional number, a string, …).
    Other,
}

/// Reads the body; `None` when it is valid JSON but not an object.
struct BodyReader;

impl<'de> StrictRead<'de> for BodyReader {
    type Value = Option<RawBody<'de>>;

    fn read<D: serde::Deserializer<'de>>(
        self,
        d: D,
        strict: Strict<'_>,
    ) -> Result<Self::Value, D::Error> {
        d.deserialize_any(TopVisitor(strict))
    }
}

/// The `visit_*` of the values a visitor only classifies: every scalar
/// answers `other`, `null` answers `null`.
macro_rules! scalars {
    (other: $other:expr, null: $null:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok($null)
        }
    };
}

struct TopVisitor<'s>(Strict<'s>);

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = Option<RawBody<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    scalars!(other: None, null: None);
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(seq).map(|_| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let strict = self.0;
        strict.enter()?;
        let below = strict.child();
        let mut raw = RawBody::default();
        let mut unknown = UnknownKeys::default();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            let twice = match k.as_ref() {
                "action_type" => raw.action_type.is_some(),
                "timestamp" => raw.timestamp.is_some(),
                "data_accessed" => raw.data_accessed.is_some(),
                "metadata" => raw.metadata.is_some(),
                other => unknown.contains(other),
            };
            if twice {
                return Err(strict.duplicate_key(&k));
            }
            match k.as_ref() {
                "action_type" => raw.action_type = Some(map.next_value_seed(SlotSeed(below))?),
                "timestamp" => raw.timestamp = Some(map.next_value_seed(SlotSeed(below))?),
                "data_accessed" => raw.data_accessed = Some(map.next_value_seed(DataSeed(below))?),
                "metadata" => raw.metadata = Some(map.next_value_seed(below)?),
                _ => {
                    // Read (and checked), then dropped: an unknown key is
                    // refused whatever its value, even `null`.
                    map.next_value_seed(below)?;
                    unknown.add(k);
                }
            }
        }
        raw.unknown = unknown.smallest();
        Ok(Some(raw))
    }
}

/// The unknown keys of one object read so far: a repeated one is refused
/// (a search per key, so an object of n unknown keys costs O(n log n), not
/// the O(n²) of scanning a list), and the smallest is the one named.
#[derive(Default)]
struct UnknownKeys(BTreeSet<String>);

impl UnknownKeys {
    fn contains(&self, k: &str) -> bool {
        self.0.contains(k)
    }
    fn add(&mut self, k: Cow<'_, str>) {
        self.0.insert(k.into_owned());
    }
    fn smallest(self) -> Option<String> {
        self.0.into_iter().next()
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

/// A top-level value read as a [`Slot`], with the strict checks below it.
struct SlotSeed<'s>(Strict<'s>);

impl<'de> DeserializeSeed<'de> for SlotSeed<'_> {
    type Value = Slot<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SlotSeed<'_> {
    type Value = Slot<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Slot::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Slot::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Slot::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Slot::Other)
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Slot::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Slot::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Slot::Str(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Slot::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Slot::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(seq).map(|_| Slot::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map).map(|_| Slot::Other)
    }
}

/// `data_accessed`, read with the strict checks below it.
struct DataSeed<'s>(Strict<'s>);

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = DataRaw<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = DataRaw<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    scalars!(other: DataRaw::NotArray, null: DataRaw::Null);
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // As `Strict::visit_seq`, with each item taken apart.
        let strict = self.0;
        strict.enter()?;
        let mut items = Vec::new();
        while let Some(it) = seq.next_element_seed(ItemSeed(strict.child()))? {
            items.push(it);
        }
        Ok(DataRaw::Items(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map).map(|_| DataRaw::NotArray)
    }
}

/// One `data_accessed` item, read with the strict checks below it.
struct ItemSeed<'s>(Strict<'s>);

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = ItemRaw<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = ItemRaw<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    scalars!(other: ItemRaw::NotObject, null: ItemRaw::NotObject);
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(seq).map(|_| ItemRaw::NotObject)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // As `TopVisitor::visit_map`: a repeated key is refused where it
        // is read, unknown keys are read (and checked) whatever their value.
        let strict = self.0;
        strict.enter()?;
        let below = strict.child();
        let mut f = ItemFields::default();
        let mut unknown = UnknownKeys::default();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            let twice = match k.as_ref() {
                "type" => f.data_type.is_some(),
                "count" => f.count.is_some(),
                "sensitivity" => f.sensitivity.is_some(),
                other => unknown.contains(other),
            };
            if twice {
                return Err(strict.duplicate_key(&k));
            }
            match k.as_ref() {
                "type" => f.data_type = Some(map.next_value_seed(SlotSeed(below))?),
                "count" => f.count = Some(map.next_value_seed(CountSeed(below))?),
                "sensitivity" => f.sensitivity = Some(map.next_value_seed(SlotSeed(below))?),
                _ => {
                    map.next_value_seed(below)?;
                    unknown.add(k);
                }
            }
        }
        f.unknown = unknown.smallest();
        Ok(ItemRaw::Object(f))
    }
}

/// An item's `count`, read with the strict checks below it.
struct CountSeed<'s>(Strict<'s>);

impl<'de> DeserializeSeed<'de> for CountSeed<'_> {
    type Value = Count;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CountSeed<'_> {
    type Value = Count;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Count::Other)
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        // As `Value::from(n).as_u64()`.
        Ok(u64::try_from(n).map_or(Count::Other, Count::U64))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Count::U64(n))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        // A float is never `as_u64`, even `5.0`.
        Ok(Count::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Count::Other)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Count::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Count::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(seq).map(|_| Count::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(map).map(|_| Count::Other)
    }
}

/// The generic reader, kept as the reference the one-pass reader is
/// tested against: the whole body as a `Value`, then fields taken out.
#[cfg(test)]
pub(crate) fn parse_action_reference(
    body: &str,
    default_ts: Timestamp,
    cfg: &EngineConfig,
) -> Result<Parsed, EngineError> {
    let mut o = crate::body::Obj::parse(body, cfg)?;
    let action_type = o.req_string("action_type", cfg.policy_limits.max_pattern_len())?;
    let requested_at = match o.take("timestamp") {
        None => default_ts,
        Some(Value::String(s)) => Timestamp::parse_rfc3339(&s).map_err(|e| {
            EngineError::invalid("timestamp", format!("is not an RFC 3339 timestamp: {e}"))
        })?,
        Some(_) => {
            return Err(EngineError::invalid(
                "timestamp",
                "must be an RFC 3339 string",
            ));
        }
    };
    let items = o.array("data_accessed")?.unwrap_or_default();
    if items.len() > cfg.policy_limits.max_data_accessed() {
        return Err(EngineError::invalid(
            "data_accessed",
            format!(
                "{} items, over the limit of {}",
                items.len(),
                cfg.policy_limits.max_data_accessed()
            ),
        ));
    }
    let mut data = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        data.push(data_item_reference(i, it, cfg)?);
    }
    let metadata = o.object("metadata")?.unwrap_or_default();
    o.finish()?;
    request(action_type, requested_at, data, metadata, cfg)
}

#[cfg(test)]
fn data_item_reference(i: usize, v: Value, cfg: &EngineConfig) -> Result<DataItem, EngineError> {
    let field = |f: &str| format!("data_accessed[{i}]{f}");
    let Value::Object(m) = v else {
        return Err(EngineError::invalid(field(""), "must be an object"));
    };
    let mut o = crate::body::Obj::from_map(m, field("."));
    let data_type = match o.take("type") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= cfg.policy_limits.max_name_len() => s,
        Some(Value::String(_)) => {
            return Err(EngineError::invalid(
                field(".type"),
                format!(
                    "must be 1 to {} bytes long",
                    cfg.policy_limits.max_name_len()
                ),
            ));
        }
        Some(_) => return Err(EngineError::invalid(field(".type"), "must be a string")),
        None => return Err(EngineError::invalid(field(".type"), "is required")),
    };
    let count = match o.take("count") {
        None => 1,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            EngineError::invalid(field(".count"), "must be a non-negative integer")
        })?,
        Some(_) => {
            return Err(EngineError::invalid(
                field(".count"),
                "must be a non-negative integer",
            ));
        }
    };
    let sensitivity = match o.take("sensitivity") {
        None => None,
        Some(Value::String(s)) => Some(al_policy::Sensitivity::parse(&s).ok_or_else(|| {
            EngineError::invalid(
                field(".sensitivity"),
                format!(
                    "`{}` is not one of `public`, `low`, `medium`, `high`, `critical`",
                    crate::error::cut(&s)
                ),
            )
        })?),
        Some(_) => {
            return Err(EngineError::invalid(
                field(".sensitivity"),
                "must be a string",
            ));
        }
    };
    o.finish()?;
    Ok(DataItem {
        data_type,
        count,
        sensitivity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use al_types::ErrorCode as _;
    use proptest::prelude::*;

    fn cfg() -> EngineConfig {
        EngineConfig::builder([1; 16])
            .max_json_depth(6)
            .build()
            .unwrap()
    }

    fn ts() -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000).unwrap()
    }

    /// Both readers give the same answer: the same request, or the same
    /// error (code, message, field, location).
    fn same(body: &str) -> Result<(), TestCaseError> {
        let cfg = cfg();
        let fast = parse_action(body, ts(), &cfg);
        let slow = parse_action_reference(body, ts(), &cfg);
        match (&fast, &slow) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{}", body),
            (Err(a), Err(b)) => {
                prop_assert_eq!(a.code(), b.code(), "{}", body);
                prop_assert_eq!(a.to_string(), b.to_string(), "{}", body);
                prop_assert_eq!(format!("{a:?}"), format!("{b:?}"), "{}", body);
            }
            _ => prop_assert!(false, "{body}: {fast:?} vs {slow:?}"),
        }
        Ok(())
    }

    /// Objects of many distinct unknown keys, at the top and in a
    /// `data_accessed` item, minified and pretty, with the last key
    /// repeated or not: both readers agree (the one-pass reader keeps the
    /// unknown keys in a search tree, not a list scanned per key).
    #[test]
    fn many_unknown_keys_agree() {
        let keys = |n: usize| {
            (0..n)
                .rev()
                .map(|i| format!("\"k{i:05}\":0"))
                .collect::<Vec<_>>()
        };
        for sep in [",", ",\n  "] {
            for repeat in [false, true] {
                let mut top = keys(12_000);
                let mut item = keys(12_000);
                if repeat {
                    top.push("\"k00007\":1".into());
                    item.push("\"k00007\":1".into());
                }
                same(&format!("{{\"action_type\":\"a.b\",{}}}", top.join(sep))).unwrap();
                same(&format!(
                    "{{\"action_type\":\"a.b\",\"data_accessed\":[{{\"type\":\"t\",{}}}]}}",
                    item.join(sep)
                ))
                .unwrap();
            }
        }
    }

    #[test]
    fn known_cases_agree() {
        for body in [
            r#"{"action_type":"a.b"}"#,
            r#"{"action_type":"a.b","timestamp":"2026-01-01T00:00:00Z"}"#,
            r#"{"action_type":"a.\u0062","timestamp":"2026-01-01T00:00:00\u005a"}"#,
            r#"{"action_type":"a.b","action_type":"a.b"}"#,
            r#"{"action_type":"a.b","act\u0069on_type":"a.c"}"#,
            r#"{"zz":1,"action_type":"a.b","aa":2}"#,
            r#"{"zz":1,"action_type":"a.b","aa":null}"#,
            r#"{"zz":1,"zz":null,"action_type":"a.b"}"#,
            r#"{"action_type":null}"#,
            r#"{"action_type":1}"#,
            r#"{"action_type":[1,{"a":1,"a":2}]}"#,
            r#"{"action_type":"a.b","timestamp":5}"#,
            r#"{"action_type":"a.b","timestamp":"yesterday"}"#,
            r#"{"timestamp":"yesterday"}"#,
            r#"{"action_type":"a.b","data_accessed":{}}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","count":2,"sensitivity":"high"}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","x":1}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","y":1,"x":null}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","type":"pii"}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","x":1,"x":2}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"p\u0069i","count":null,"sensitivity":null}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","count":5.0}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","count":-3}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","count":"3"}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","count":{"a":1,"a":2}}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","sensitivity":"nope"}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","sensitivity":3}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":7}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":null}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":""}]}"#,
            r#"{"action_type":"a.b","data_accessed":[{}, 5]}"#,
            r#"{"action_type":"a.b","data_accessed":[[{"a":1,"a":1}]]}"#,
            r#"{"action_type":"a.b","data_accessed":null}"#,
            r#"{"action_type":"a.b","data_accessed":"pii"}"#,
            r#"{"action_type":"a.b","data_accessed":{"a":1,"a":2}}"#,
            r#"{"action_type":"a.b","data_accessed":[{"type":"pii","x":{"y":{"z":{"w":{}}}}}]}"#,
            r#"{"action_type":"a.b","metadata":[]}"#,
            r#"{"action_type":"a.b","metadata":{"a":{"b":{"c":{"d":{"e":1}}}}}}"#,
            r#"{"action_type":"a.b","metadata":{"a":{"b":{"c":{"d":{"e":{}}}}}}}"#,
            r#"{"action_type":"*"}"#,
            r#"{"action_type":"a..b"}"#,
            r#"[{"a":1}]"#,
            r#"[{"a":1,"a":1}]"#,
            r#""text""#,
            r#"{"action_type":"a.b"} x"#,
            r#"{"action_type":"a.b""#,
            "{\n \"action_type\": \"a.b\",\n \"metadata\": {\"k\": 1, \"k\": 2}\n}",
            "",
        ] {
            same(body).unwrap();
        }
    }

    /// A piece of a body: a key (often a known one, sometimes escaped or
    /// repeated) and a value of any kind.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("1".to_owned()),
            Just("-2.5".to_owned()),
            Just("true".to_owned()),
            Just(r#""a.b""#.to_owned()),
            Just(r#""svc.op""#.to_owned()),
            Just(r#""2026-11-30T09:00:00Z""#.to_owned()),
            Just(r#""2026-11-30T09:00:00+02:00""#.to_owned()),
            Just(r#""a\u002eb""#.to_owned()),
            Just(r#""low""#.to_owned()),
            Just(r#""nope""#.to_owned()),
            Just(r#""""#.to_owned()),
            Just(r#"{"type":"pii","count":3,"sensitivity":"high"}"#.to_owned()),
            Just(r#"{"type":"pii"}"#.to_owned()),
            Just(r#"{"type":"pii","count":-1}"#.to_owned()),
            Just(r#"{"count":1}"#.to_owned()),
        ];
        leaf.prop_recursive(7, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key(), inner), 0..4).prop_map(|kv| {
                    let kv: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                    format!("{{{}}}", kv.join(","))
                }),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            r#""action_type""#,
            r#""timestamp""#,
            r#""data_accessed""#,
            r#""metadata""#,
            r#""act\u0069on_type""#,
            r#""type""#,
            r#""count""#,
            r#""sensitivity""#,
            r#""x""#,
            r#""y""#,
            r#""é""#,
        ])
        .prop_map(str::to_owned)
    }

    fn body() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((key(), value()), 0..6),
            prop::bool::ANY,
            0usize..4,
        )
            .prop_map(|(kv, pretty, damage)| {
                let sep = if pretty { ",\n  " } else { "," };
                let kv: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                let mut b = format!("{{{}}}", kv.join(sep));
                match damage {
                    1 => {
                        b.pop();
                    }
                    2 => b.push_str(" ]"),
                    _ => {}
                }
                b
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// The one-pass reader against the generic one, on random bodies
        /// (valid and not: repeated and escaped keys, wrong types, nulls,
        /// nesting past the limit, broken syntax, minified and pretty).
        #[test]
        fn one_pass_reader_agrees_with_the_generic_one(b in body()) {
            same(&b)?;
        }

        /// `data_accessed` items of every shape (the fields taken apart
        /// while reading, against the reference's `Value` map): known and
        /// unknown keys, repeated, `null`, wrong types, escapes, nesting.
        #[test]
        fn one_pass_reader_agrees_on_data_items(
            items in prop::collection::vec(
                prop_oneof![
                    6 => (
                        prop::option::of(prop_oneof![
                            3 => Just(r#""pii""#.to_owned()),
                            1 => Just(r#""p\u0069i""#.to_owned()),
                            1 => Just(r#""""#.to_owned()),
                            1 => Just("null".to_owned()),
                            1 => Just("7".to_owned()),
                            1 => value(),
                        ]),
                        prop::option::of(prop_oneof![
                            Just("null".to_owned()), Just("0".to_owned()),
                            Just("3".to_owned()), Just("-1".to_owned()),
                            Just("2.5".to_owned()), Just("5.0".to_owned()),
                            Just("18446744073709551615".to_owned()),
                            Just(r#""3""#.to_owned()), value(),
                        ]),
                        prop::option::of(prop_oneof![
                            Just("null".to_owned()), Just(r#""low""#.to_owned()),
                            Just(r#""HIGH""#.to_owned()), Just(r#""h\u0069gh""#.to_owned()),
                            Just("1".to_owned()), value(),
                        ]),
                        prop::collection::vec(
                            (
                                prop::sample::select(vec![
                                    r#""type""#, r#""count""#, r#""t\u0079pe""#,
                                    r#""x""#, r#""a""#, r#""é""#,
                                ]),
                                value(),
                            ),
                            0..2,
                        ),
                        any::<prop::sample::Index>(),
                    )
                        .prop_map(|(t, c, s, extra, rot)| {
                            let mut kv: Vec<String> = Vec::new();
                            if let Some(t) = t {
                                kv.push(format!(r#""type":{t}"#));
                            }
                            if let Some(c) = c {
                                kv.push(format!(r#""count":{c}"#));
                            }
                            if let Some(s) = s {
                                kv.push(format!(r#""sensitivity":{s}"#));
                            }
                            kv.extend(extra.into_iter().map(|(k, v)| format!("{k}:{v}")));
                            if !kv.is_empty() {
                                let n = rot.index(kv.len());
                                kv.rotate_left(n);
                            }
                            format!("{{{}}}", kv.join(","))
                        }),
                    1 => value(),
                ],
                0..4,
            ),
        ) {
            same(&format!(r#"{{"action_type":"a.b","data_accessed":[{}]}}"#, items.join(",")))?;
        }

        /// Bodies that are mostly valid, so the field checks are reached.
        #[test]
        fn one_pass_reader_agrees_on_near_valid_bodies(
            at in prop_oneof![Just(r#""a.b""#), Just(r#""svc.op""#), Just("7"), Just("null"), Just(r#""bad type""#)],
            ts in prop_oneof![Just(""), Just(r#","timestamp":"2026-11-30T09:00:00Z""#), Just(r#","timestamp":"x""#)],
            data in prop_oneof![Just(""), Just(r#","data_accessed":[{"type":"pii","count":3}]"#), Just(r#","data_accessed":[{"type":""}]"#)],
            meta in prop::option::of(value()),
            extra in prop_oneof![Just(""), Just(r#","zeta":1"#), Just(r#","alpha":null"#)],
        ) {
            let meta = meta.map(|m| format!(r#","metadata":{m}"#)).unwrap_or_default();
            same(&format!(r#"{{"action_type":{at}{ts}{data}{meta}{extra}}}"#))?;
        }
    }
}
