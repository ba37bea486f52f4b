//! Hard limits, checked before expensive work.
//!
//! A manifest or request that exceeds a limit is rejected with
//! [`Code::LimitExceeded`](crate::Code::LimitExceeded) naming the limit.
//! Defaults are chosen so that the largest accepted manifest parses and
//! compiles in well under a second and evaluation cost is bounded.
//!
//! | limit | default | applies to |
//! |---|---|---|
//! | `max_input_bytes` | 64 MiB | manifest text |
//! | `max_policies` | 100 000 | policies per manifest |
//! | `max_depth` | 32 | nesting of mappings/sequences in a manifest or request |
//! | `max_name_len` | 128 bytes | policy names, agent ids |
//! | `max_pattern_len` | 128 bytes | action-type patterns and action types |
//! | `max_conditions` | 32 | conditions per policy |
//! | `max_agents` | 1 024 | agent ids per policy |
//! | `max_list_len` | 1 024 | items in an `in`/`not_in` list |
//! | `max_string_len` | 4 096 bytes | any string value, descriptions included |
//! | `max_field_depth` | 8 | segments of a metadata field path |
//! | `max_regex_bytes` | 256 KiB | compiled size of one `matches` regex |
//! | `max_request_bytes` | 1 MiB | an action request body |
//! | `max_data_accessed` | 1 024 | items in a request's `data_accessed` |

use crate::error::Error;

/// Validated limits. Build with [`Limits::builder`]; [`Limits::default`]
/// gives the documented defaults. Deserialising (from a host's config
/// file) validates the same way: absent keys take the default, an
/// out-of-range value or an unknown key is refused, so a `Limits` value is
/// always within the documented ranges.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "LimitsDoc")]
pub struct Limits {
    pub(crate) max_input_bytes: usize,
    pub(crate) max_policies: usize,
    pub(crate) max_depth: usize,
    pub(crate) max_name_len: usize,
    pub(crate) max_pattern_len: usize,
    pub(crate) max_conditions: usize,
    pub(crate) max_agents: usize,
    pub(crate) max_list_len: usize,
    pub(crate) max_string_len: usize,
    pub(crate) max_field_depth: usize,
    pub(crate) max_regex_bytes: usize,
    pub(crate) max_request_bytes: usize,
    pub(crate) max_data_accessed: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 64 << 20,
            max_policies: 100_000,
            max_depth: 32,
            max_name_len: 128,
            max_pattern_len: 128,
            max_conditions: 32,
            max_agents: 1024,
            max_list_len: 1024,
            max_string_len: 4096,
            max_field_depth: 8,
            max_regex_bytes: 256 << 10,
            max_request_bytes: 1 << 20,
            max_data_accessed: 1024,
        }
    }
}

macro_rules! limit_fields {
    ($( $(#[$doc:meta])* $name:ident : $min:expr, $max:expr; )*) => {
        impl Limits {
            $( $(#[$doc])* #[must_use] pub fn $name(&self) -> usize { self.$name } )*
        }
        impl LimitsBuilder {
            $( $(#[$doc])* #[must_use] pub fn $name(mut self, v: usize) -> Self { self.0.$name = v; self } )*

            /// Validate every limit and return the [`Limits`].
            ///
            /// # Errors
            /// [`Error::Config`] (`INVALID_CONFIG`) naming the first limit
            /// outside its range.
            pub fn build(self) -> Result<Limits, Error> {
                $(
                    if !($min..=$max).contains(&self.0.$name) {
                        return Err(Error::Config {
                            name: stringify!($name),
                            value: self.0.$name as u64,
                            min: $min as u64,
                            max: $max as u64,
                        });
                    }
                )*
                Ok(self.0)
            }
        }

        /// The serialised form of [`Limits`]: every key optional (the
        /// default when absent), unknown keys refused.
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct LimitsDoc {
            $( #[serde(default)] $name: Option<usize>, )*
        }

        impl TryFrom<LimitsDoc> for Limits {
            type Error = Error;
            fn try_from(d: LimitsDoc) -> Result<Limits, Error> {
                let mut b = Limits::builder();
                $( if let Some(v) = d.$name { b = b.$name(v); } )*
                b.build()
            }
        }

        impl serde::Serialize for Limits {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct as _;
                let mut st = s.serialize_struct("Limits", 13)?;
                $( st.serialize_field(stringify!($name), &self.$name)?; )*
                st.end()
            }
        }
    };
}

/// Builder for [`Limits`], starting from the defaults.
#[derive(Clone, Debug, Default)]
pub struct LimitsBuilder(Limits);

impl Limits {
    /// A builder starting from the documented defaults.
    #[must_use]
    pub fn builder() -> LimitsBuilder {
        LimitsBuilder(Limits::default())
    }
}

limit_fields! {
    /// Largest manifest text, in bytes.
    max_input_bytes: 1, 1 << 30;
    /// Most policies in one manifest.
    max_policies: 1, 1_000_000;
    /// Deepest nesting of mappings and sequences.
    max_depth: 4, 128;
    /// Longest policy name or agent id, in bytes.
    max_name_len: 1, 1024;
    /// Longest action-type pattern or action type, in bytes.
    max_pattern_len: 1, 1024;
    /// Most conditions on one policy.
    max_conditions: 0, 1024;
    /// Most agent ids on one policy.
    max_agents: 1, 1 << 20;
    /// Most items in an `in`/`not_in` list.
    max_list_len: 1, 1 << 20;
    /// Longest string value, in bytes.
    max_string_len: 1, 1 << 20;
    /// Most segments in a metadata field path.
    max_field_depth: 1, 64;
    /// Largest compiled size of one regex, in bytes.
    max_regex_bytes: 1024, 64 << 20;
    /// Largest action request body, in bytes.
    max_request_bytes: 64, 64 << 20;
    /// Most `data_accessed` items in one request.
    max_data_accessed: 0, 1 << 20;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build() {
        assert_eq!(Limits::builder().build().unwrap(), Limits::default());
    }

    #[test]
    fn out_of_range_names_the_limit() {
        let e = Limits::builder().max_depth(1).build().unwrap_err();
        assert!(
            matches!(
                e,
                Error::Config {
                    name: "max_depth",
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(al_types::ErrorCode::code(&e), "INVALID_CONFIG");
        assert_eq!(
            e.to_string(),
            "limit `max_depth` must be between 4 and 128, got 1"
        );
    }

    #[test]
    fn deserialising_validates() {
        let l: Limits = serde_json::from_str(r#"{"max_depth": 16}"#).unwrap();
        assert_eq!(l.max_depth(), 16);
        assert_eq!(l.max_policies(), Limits::default().max_policies());
        let back: Limits = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
        for bad in [
            r#"{"max_depth": 0}"#,
            r#"{"max_regex_bytes": 1}"#,
            r#"{"max_dept": 16}"#,
            r#"{"max_depth": -1}"#,
        ] {
            let e = serde_json::from_str::<Limits>(bad).unwrap_err();
            assert!(!e.to_string().is_empty(), "{bad}");
        }
        let e = serde_json::from_str::<Limits>(r#"{"max_depth": 1}"#).unwrap_err();
        assert!(e.to_string().contains("max_depth"), "{e}");
    }
}
