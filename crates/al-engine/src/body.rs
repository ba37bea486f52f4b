//! Strict reading of JSON bodies: one parse with the shared reader
//! (repeated keys, depth and size refused with line and column), then typed
//! fields taken out of the object, each error naming its field. Unknown
//! keys are refused: a typo must never silently drop a field.

use serde_json::{Map, Value};

use crate::config::EngineConfig;
use crate::error::EngineError;

/// A JSON object being taken apart.
pub(crate) struct Obj {
    map: Map<String, Value>,
    /// Prefix for field names in errors (`outcome.`).
    prefix: String,
}

impl Obj {
    /// Parse `text` as a JSON object under the engine's limits.
    pub fn parse(text: &str, cfg: &EngineConfig) -> Result<Obj, EngineError> {
        match al_types::json::parse(text, &cfg.json_limits()) {
            Ok(Value::Object(map)) => Ok(Obj {
                map,
                prefix: String::new(),
            }),
            Ok(_) => Err(EngineError::invalid("body", "must be a JSON object")),
            Err(e) => Err(EngineError::Json(e)),
        }
    }

    pub fn from_map(map: Map<String, Value>, prefix: impl Into<String>) -> Obj {
        Obj {
            map,
            prefix: prefix.into(),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    pub fn string(&mut self, key: &str, max: usize) -> Result<Option<String>, EngineError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => {
                if s.len() > max {
                    Err(EngineError::invalid(
                        self.name(key),
                        format!("{} bytes, over the limit of {max}", s.len()),
                    ))
                } else {
                    Ok(Some(s))
                }
            }
            Some(_) => Err(EngineError::invalid(self.name(key), "must be a string")),
        }
    }

    pub fn req_string(&mut self, key: &str, max: usize) -> Result<String, EngineError> {
        self.string(key, max)?
            .ok_or_else(|| EngineError::invalid(self.name(key), "is required"))
    }

    pub fn object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, EngineError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(EngineError::invalid(self.name(key), "must be an object")),
        }
    }

    pub fn array(&mut self, key: &str) -> Result<Option<Vec<Value>>, EngineError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(EngineError::invalid(self.name(key), "must be an array")),
        }
    }

    /// Refuse whatever is left.
    pub fn finish(self) -> Result<(), EngineError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(EngineError::invalid(
                format!("{}{}", self.prefix, crate::error::cut(k)),
                "is not a known field",
            )),
        }
    }
}

/// A name: 1 ..= `max` bytes, no control characters, not only spaces.
pub(crate) fn check_name(field: &str, s: &str, max: usize) -> Result<(), EngineError> {
    if s.trim().is_empty() {
        return Err(EngineError::invalid(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(EngineError::invalid(
            field,
            format!("{} bytes, over the limit of {max}", s.len()),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(EngineError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}
