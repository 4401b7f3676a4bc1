//! Sampling rules of the tracing design, evaluated the way X-Ray's centralized rules are:
//! the first matching rule by priority; each rule takes a reservoir of requests per second,
//! then a fixed rate of the rest.
//!
//! | rule | matches | reservoir | rate |
//! |---|---|---|---|
//! | payments | `POST /payments*` | 0 | 100% |
//! | webhooks | `* /webhooks/*` | 0 | 100% |
//! | prism-delivery | service `VaultLink-PrismDelivery*` | 0 | 100% (it carries a payment) |
//! | health | `* /health` | 0 | 0% |
//! | background-jobs | `* /jobs/*` | 0 | 10% |
//! | default | everything else | 1/s | 5% |

use rand::Rng;

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Rule name.
    pub name: &'static str,
    /// HTTP method, or `*`.
    pub method: &'static str,
    /// URL path pattern: exact, or a prefix ending in `*`, or `*`.
    pub path: &'static str,
    /// Service name prefix, or `*`.
    pub service: &'static str,
    /// Requests per second traced before the rate applies.
    pub reservoir: u32,
    /// Fraction of the rest that is traced.
    pub rate: f64,
}

/// The rules of the tracing design, in priority order.
pub fn vaultlink_rules() -> Vec<Rule> {
    vec![
        Rule {
            name: "payments",
            method: "POST",
            path: "/payments*",
            service: "*",
            reservoir: 0,
            rate: 1.0,
        },
        Rule {
            name: "webhooks",
            method: "*",
            path: "/webhooks/*",
            service: "*",
            reservoir: 0,
            rate: 1.0,
        },
        Rule {
            name: "prism-delivery",
            method: "*",
            path: "*",
            service: "VaultLink-PrismDelivery*",
            reservoir: 0,
            rate: 1.0,
        },
        Rule {
            name: "health",
            method: "*",
            path: "/health",
            service: "*",
            reservoir: 0,
            rate: 0.0,
        },
        Rule {
            name: "background-jobs",
            method: "*",
            path: "/jobs/*",
            service: "*",
            reservoir: 0,
            rate: 0.1,
        },
        Rule {
            name: "default",
            method: "*",
            path: "*",
            service: "*",
            reservoir: 1,
            rate: 0.05,
        },
    ]
}

fn matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

/// A sampler over a rule list, with per-rule reservoirs by whole second.
#[derive(Debug, Clone)]
pub struct Sampler {
    rules: Vec<Rule>,
    /// Per rule: the second the reservoir counts, and how many it has taken.
    used: Vec<(i64, u32)>,
}

/// A decision and the rule that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Traced or not.
    pub sampled: bool,
    /// Index of the matching rule.
    pub rule: usize,
}

impl Sampler {
    /// A sampler over `rules` (priority order; the last should match everything).
    pub fn new(rules: Vec<Rule>) -> Self {
        let used = vec![(i64::MIN, 0); rules.len()];
        Self { rules, used }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Decides for a request at `now` (epoch seconds).
    pub fn decide(
        &mut self,
        service: &str,
        method: &str,
        path: &str,
        now: f64,
        rng: &mut impl Rng,
    ) -> Decision {
        let Some(i) = self.rules.iter().position(|r| {
            matches(r.method, method) && matches(r.path, path) && matches(r.service, service)
        }) else {
            return Decision {
                sampled: false,
                rule: usize::MAX,
            };
        };
        let rule = &self.rules[i];
        let second = now.floor() as i64;
        let (at, taken) = &mut self.used[i];
        if *at != second {
            *at = second;
            *taken = 0;
        }
        let sampled = if *taken < rule.reservoir {
            *taken += 1;
            true
        } else {
            rule.rate >= 1.0 || (rule.rate > 0.0 && rng.random_bool(rule.rate))
        };
        Decision { sampled, rule: i }
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new(vaultlink_rules())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rate(s: &mut Sampler, service: &str, method: &str, path: &str, per_second: u32) -> f64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let n = 20_000;
        let sampled = (0..n)
            .filter(|i| {
                let now = 1000.0 + f64::from(*i) / f64::from(per_second);
                s.decide(service, method, path, now, &mut rng).sampled
            })
            .count();
        sampled as f64 / f64::from(n)
    }

    #[test]
    fn the_design_notes_rates() {
        let mut s = Sampler::default();
        assert_eq!(
            rate(&mut s, "VaultLink-PaymentService", "POST", "/payments", 50),
            1.0
        );
        assert_eq!(
            rate(
                &mut s,
                "VaultLink-WebhookService",
                "POST",
                "/webhooks/stripe",
                50
            ),
            1.0
        );
        assert_eq!(rate(&mut s, "VaultLink-PrismDelivery", "*", "*", 50), 1.0);
        assert_eq!(rate(&mut s, "VaultLink-Api", "GET", "/health", 50), 0.0);
        let jobs = rate(&mut s, "VaultLink-Jobs", "POST", "/jobs/statements", 50);
        assert!((0.08..0.12).contains(&jobs), "{jobs}");
        // Default: 1 a second plus 5% of the rest; at 20 requests a second that is
        // 1/20 + 0.05 * 19/20 = 9.75%.
        let default = rate(&mut s, "VaultLink-Api", "GET", "/statements", 20);
        assert!((0.085..0.11).contains(&default), "{default}");
    }
}
