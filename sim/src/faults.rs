//! Fault injection: make chosen requests fail with a chosen status at a chosen rate, and add
//! latency, so clients can be tested against a service that misbehaves the way real ones do.
//!
//! A spec is a comma-separated list of `target:status:probability` rules plus an optional
//! `latency:<N>ms`, e.g. `api:500:0.1,s3.put:503:0.05,sqs.receive:500:0.02,latency:20ms`.
//! Targets: `api` (every REST call) or `api.<create|join|status|complete|cancel|cutout>`,
//! `s3` or `s3.<put|get|head|delete|list>`, `sqs` or `sqs.<receive|delete|send|attributes>`.
//! An AWS target failed with 403 answers `AccessDenied`, as AWS refuses a call the keys' policy
//! does not grant (`sqs.attributes:403:1.0`: keys without GetQueueAttributes).
//! Draws come from one seeded generator in request order, so a run with `--seed N` and the same
//! sequence of requests injects the same faults.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    #[error("fault rule {rule:?}: expected target:status:probability (e.g. s3.put:503:0.05) or latency:<N>ms")]
    Shape { rule: String },
    #[error("fault rule {rule:?}: unknown target {target:?} (use api[.create|.join|.status|.complete|.cancel|.cutout], s3[.put|.get|.head|.delete|.list], sqs[.receive|.delete|.send|.attributes])")]
    Target { rule: String, target: String },
    #[error("fault rule {rule:?}: status {status:?} is not an HTTP error status (400-599)")]
    Status { rule: String, status: String },
    #[error("fault rule {rule:?}: probability {probability:?} is not a number between 0 and 1")]
    Probability { rule: String, probability: String },
    #[error("fault rule {rule:?}: latency must look like 20ms")]
    Latency { rule: String },
}

const TARGETS: &[&str] = &[
    "api",
    "api.create",
    "api.join",
    "api.status",
    "api.complete",
    "api.cancel",
    "api.cutout",
    "s3",
    "s3.put",
    "s3.get",
    "s3.head",
    "s3.delete",
    "s3.list",
    "sqs",
    "sqs.receive",
    "sqs.delete",
    "sqs.send",
    "sqs.attributes",
];

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rule {
    pub target: String,
    pub status: u16,
    pub probability: f64,
}

/// A parsed fault spec.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct FaultSpec {
    pub rules: Vec<Rule>,
    pub latency_ms: u64,
}

impl FaultSpec {
    pub fn parse(spec: &str) -> Result<FaultSpec, FaultSpecError> {
        let mut out = FaultSpec::default();
        for rule in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let parts: Vec<&str> = rule.split(':').collect();
            match parts[..] {
                ["latency", ms] => {
                    out.latency_ms = ms
                        .strip_suffix("ms")
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| FaultSpecError::Latency { rule: rule.into() })?;
                }
                [target, status, probability] => {
                    if !TARGETS.contains(&target) {
                        return Err(FaultSpecError::Target {
                            rule: rule.into(),
                            target: target.into(),
                        });
                    }
                    let status = status
                        .parse::<u16>()
                        .ok()
                        .filter(|s| (400..600).contains(s))
                        .ok_or_else(|| FaultSpecError::Status {
                            rule: rule.into(),
                            status: status.into(),
                        })?;
                    let probability = probability
                        .parse::<f64>()
                        .ok()
                        .filter(|p| (0.0..=1.0).contains(p))
                        .ok_or_else(|| FaultSpecError::Probability {
                            rule: rule.into(),
                            probability: probability.into(),
                        })?;
                    out.rules.push(Rule {
                        target: target.into(),
                        status,
                        probability,
                    });
                }
                _ => return Err(FaultSpecError::Shape { rule: rule.into() }),
            }
        }
        Ok(out)
    }
}

/// The live fault state shared by the REST API and the AWS front door.
pub struct Faults {
    inner: Mutex<(FaultSpec, StdRng)>,
    seed: u64,
}

impl Faults {
    pub fn new(spec: FaultSpec, seed: u64) -> Faults {
        Faults {
            inner: Mutex::new((spec, StdRng::seed_from_u64(seed))),
            seed,
        }
    }

    /// Replaces the rules and restarts the generator from the seed, so a test that sets faults
    /// at run time gets the same draws every time.
    pub fn replace(&self, spec: FaultSpec) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner = (spec, StdRng::seed_from_u64(self.seed));
    }

    pub fn spec(&self) -> FaultSpec {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(
            self.inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .0
                .latency_ms,
        )
    }

    /// Whether a request to `target` (e.g. `s3.put`) fails, and with which status. The first
    /// matching rule (exact target or its family, `s3` for `s3.put`) decides; every matching
    /// request draws once, so the outcome depends only on the seed and the request order.
    pub fn decide(&self, target: &str) -> Option<u16> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (spec, rng) = &mut *inner;
        let family = target.split('.').next().unwrap_or(target);
        let rule = spec
            .rules
            .iter()
            .find(|r| r.target == target || r.target == family)?;
        let (status, probability) = (rule.status, rule.probability);
        (rng.random::<f64>() < probability).then_some(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let spec = FaultSpec::parse(
            "api:500:0.1,api:503:0.05,s3.put:503:0.05,sqs.receive:500:0.02,sqs.delete:500:0.02,latency:20ms",
        )
        .unwrap();
        assert_eq!(spec.rules.len(), 5);
        assert_eq!(spec.latency_ms, 20);
        assert_eq!(
            spec.rules[2],
            Rule {
                target: "s3.put".into(),
                status: 503,
                probability: 0.05
            }
        );
    }

    #[test]
    fn bad_rules_are_named() {
        assert_eq!(
            FaultSpec::parse("s3.putt:503:0.1").unwrap_err().to_string(),
            "fault rule \"s3.putt:503:0.1\": unknown target \"s3.putt\" (use api[.create|.join|.status|.complete|.cancel|.cutout], s3[.put|.get|.head|.delete|.list], sqs[.receive|.delete|.send|.attributes])"
        );
        assert!(matches!(
            FaultSpec::parse("api:200:0.1"),
            Err(FaultSpecError::Status { .. })
        ));
        assert!(matches!(
            FaultSpec::parse("api:500:1.5"),
            Err(FaultSpecError::Probability { .. })
        ));
        assert!(matches!(
            FaultSpec::parse("latency:20s"),
            Err(FaultSpecError::Latency { .. })
        ));
    }

    #[test]
    fn same_seed_same_draws() {
        let spec = FaultSpec::parse("s3:503:0.3").unwrap();
        let run = |seed| {
            let f = Faults::new(spec.clone(), seed);
            (0..200).map(|_| f.decide("s3.put")).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|d| d.is_some()).count();
        assert!((30..90).contains(&hits), "{hits} of 200 at p = 0.3");
        let f = Faults::new(spec, 1);
        assert_eq!(f.decide("sqs.receive"), None);
    }
}
