//! Engine configuration, validated once by a builder.

use al_breaker::BreakerConfig;

/// The longest delegation chain any configuration allows
/// (`max_delegation_depth` is 1 to this).
pub(crate) const MAX_DELEGATION_DEPTH: usize = 64;

/// Limits and defaults of an [`Engine`](crate::Engine). Build with
/// [`EngineConfig::builder`]; there is no `Default`, because the hash seed
/// must come from the host's randomness.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `hash_seed` | — (required) | 16 random bytes keying the SipHash of every map keyed by user-chosen text (agent ids, event ids) |
/// | `breaker` | [`BreakerConfig::default`] | thresholds and periods of every agent's circuit breaker |
/// | `policy_limits` | [`al_policy::Limits::default`] | manifest and request limits (sizes, counts, nesting, regex size) |
/// | `max_body_bytes` | 256 KiB | largest JSON body any operation accepts (`413 TOO_LARGE` beyond) |
/// | `max_json_depth` | 32 | deepest JSON nesting of a body, the outermost object being level 1 |
/// | `max_name_bytes` | 128 | longest agent, delegation, reviewer or operator name |
/// | `max_description_bytes` | 1 024 | longest agent description, outcome message or approval comment |
/// | `max_event_id_bytes` | 128 | longest `X-AL-Event-ID` |
/// | `max_delegation_ttl_secs` | 86 400 | longest delegation lifetime a caller may ask for |
/// | `max_delegation_depth` | 8 | longest chain of delegations (a child of a child … ) |
/// | `max_capabilities` | 64 | most capability patterns in one delegation |
/// | `max_agents_per_org` | 1 000 000 | most agents (including delegated children) in one org |

#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    pub(crate) hash_seed: [u8; 16],
    pub(crate) breaker: BreakerConfig,
    pub(crate) policy_limits: al_policy::Limits,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_json_depth: usize,
    pub(crate) max_name_bytes: usize,
    pub(crate) max_description_bytes: usize,
    pub(crate) max_event_id_bytes: usize,
    pub(crate) max_delegation_ttl_secs: u64,
    pub(crate) max_delegation_depth: usize,
    pub(crate) max_capabilities: usize,
    pub(crate) max_agents_per_org: usize,
}

/// A configuration value is out of range (`INVALID_CONFIG`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid engine config: {0}")]
pub struct ConfigError(pub String);

impl al_types::ErrorCode for ConfigError {
    fn code(&self) -> &'static str {
        "INVALID_CONFIG"
    }
}

impl EngineConfig {
    /// A builder starting from the documented defaults, keyed by `hash_seed`
    /// (16 random bytes from the host).
    #[must_use]
    pub fn builder(hash_seed: [u8; 16]) -> EngineConfigBuilder {
        EngineConfigBuilder(EngineConfig {
            hash_seed,
            breaker: BreakerConfig::default(),
            policy_limits: al_policy::Limits::default(),
            max_body_bytes: 256 << 10,
            max_json_depth: 32,
            max_name_bytes: 128,
            max_description_bytes: 1024,
            max_event_id_bytes: 128,
            max_delegation_ttl_secs: 86_400,
            max_delegation_depth: 8,
            max_capabilities: 64,
            max_agents_per_org: 1_000_000,
        })
    }

    /// The breaker configuration every agent's breaker runs with.
    #[must_use]
    pub fn breaker(&self) -> &BreakerConfig {
        &self.breaker
    }

    /// The manifest and request limits.
    #[must_use]
    pub fn policy_limits(&self) -> &al_policy::Limits {
        &self.policy_limits
    }

    /// The seed of the engine's hash maps.
    #[must_use]
    pub fn hash_seed(&self) -> [u8; 16] {
        self.hash_seed
    }

    /// Largest JSON body accepted, in bytes.
    #[must_use]
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Deepest JSON nesting of a body.
    #[must_use]
    pub fn max_json_depth(&self) -> usize {
        self.max_json_depth
    }

    pub(crate) fn json_limits(&self) -> al_types::json::Limits {
        al_types::json::Limits {
            max_depth: self.max_json_depth,
            max_bytes: self.max_body_bytes,
        }
    }
}

/// Builder for [`EngineConfig`].
#[derive(Clone, Debug)]
pub struct EngineConfigBuilder(EngineConfig);

macro_rules! setters {
    ($($(#[$d:meta])* $name:ident: $t:ty;)*) => {
        impl EngineConfigBuilder {
            $( $(#[$d])* #[must_use] pub fn $name(mut self, v: $t) -> Self { self.0.$name = v; self } )*
        }
    };
}

setters! {
    /// Breaker thresholds and periods.
    breaker: BreakerConfig;
    /// Manifest and request limits.
    policy_limits: al_policy::Limits;
    /// Largest JSON body, in bytes (1 KiB ..= 16 MiB).
    max_body_bytes: usize;
    /// Deepest JSON nesting of a body (2 ..= 64).
    max_json_depth: usize;
    /// Longest name (1 ..= 1 024 bytes).
    max_name_bytes: usize;
    /// Longest description, message or comment (1 ..= 64 KiB).
    max_description_bytes: usize;
    /// Longest `X-AL-Event-ID` (16 ..= 1 024 bytes).
    max_event_id_bytes: usize;
    /// Longest delegation a caller may ask for, in seconds (1 ..= 30 days).
    max_delegation_ttl_secs: u64;
    /// Longest delegation chain (1 ..= 64).
    max_delegation_depth: usize;
    /// Most capability patterns in one delegation (1 ..= 1 024).
    max_capabilities: usize;
    /// Most agents in one org (1 ..= 2^31).
    max_agents_per_org: usize;
}

impl EngineConfigBuilder {
    /// Validate and build.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first value out of range.
    pub fn build(self) -> Result<EngineConfig, ConfigError> {
        let c = self.0;
        let check = |ok: bool, m: &str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError(m.to_owned()))
            }
        };
        check(
            (1024..=16 << 20).contains(&c.max_body_bytes),
            "`max_body_bytes` must be between 1 KiB and 16 MiB",
        )?;
        // Entries are at most 1 MiB; a body must fit in one with room for the header.
        check(
            c.max_body_bytes <= al_audit_chain::MAX_ENTRY_BYTES / 2,
            "`max_body_bytes` must leave room in an audit entry (at most 512 KiB)",
        )?;
        check(
            (2..=64).contains(&c.max_json_depth),
            "`max_json_depth` must be between 2 and 64",
        )?;
        check(
            (1..=1024).contains(&c.max_name_bytes),
            "`max_name_bytes` must be between 1 and 1 024",
        )?;
        check(
            (1..=64 << 10).contains(&c.max_description_bytes),
            "`max_description_bytes` must be between 1 and 65 536",
        )?;
        check(
            (16..=1024).contains(&c.max_event_id_bytes),
            "`max_event_id_bytes` must be between 16 and 1 024",
        )?;
        check(
            (1..=30 * 86_400).contains(&c.max_delegation_ttl_secs),
            "`max_delegation_ttl_secs` must be between 1 and 2 592 000",
        )?;
        check(
            (1..=MAX_DELEGATION_DEPTH).contains(&c.max_delegation_depth),
            "`max_delegation_depth` must be between 1 and 64",
        )?;
        check(
            (1..=1024).contains(&c.max_capabilities),
            "`max_capabilities` must be between 1 and 1 024",
        )?;
        check(
            (1..=1 << 31).contains(&c.max_agents_per_org),
            "`max_agents_per_org` must be between 1 and 2^31",
        )?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use al_types::ErrorCode;

    #[test]
    fn defaults_build_and_bad_values_are_named() {
        let c = EngineConfig::builder([7; 16]).build().unwrap();
        assert_eq!(c.max_body_bytes(), 256 << 10);
        let e = EngineConfig::builder([7; 16])
            .max_json_depth(1)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("max_json_depth"), "{e}");
        assert_eq!(e.code(), "INVALID_CONFIG");
        let e = EngineConfig::builder([7; 16])
            .max_body_bytes(1 << 20)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("audit entry"), "{e}");
    }
}
