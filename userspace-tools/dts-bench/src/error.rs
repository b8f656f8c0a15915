//! The error type of the library: what is wrong with a raw-results file or
//! with the baselines asked for.

/// Why raw results cannot be turned into a report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not well-formed JSON.
    #[error("line {line}, column {column}: invalid JSON: {message}")]
    Json {
        /// Line of the error (1-based).
        line: usize,
        /// Column of the error (1-based).
        column: usize,
        /// What the JSON parser says.
        message: String,
    },
    /// The JSON value is not an object.
    #[error("the results must be a JSON object")]
    NotAnObject,
    /// The object has no `schema` key.
    #[error("no \"schema\" key: not a dts-bench raw-results file (expected \"schema\": 1)")]
    MissingSchema,
    /// The `schema` key is not a version this crate reads.
    #[error("unsupported schema version {found}: this dts-bench reads schema 1 only")]
    UnsupportedSchema {
        /// The value found, as JSON text.
        found: String,
    },
    /// The object does not have the shape of the schema (a missing or
    /// unknown top-level key, or one of the wrong type).
    #[error("invalid results: {message}")]
    Structure {
        /// What is wrong.
        message: String,
    },
    /// The `machine` object is invalid.
    #[error("machine: {reason}")]
    Machine {
        /// What is wrong, naming the field.
        reason: String,
    },
    /// `samples` is empty.
    #[error("samples: there are no samples")]
    NoSamples,
    /// A sample is invalid.
    #[error("samples[{index}]: {reason}")]
    Sample {
        /// Index of the sample in `samples` (0-based).
        index: usize,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// A baseline was given for a scenario that has no samples.
    #[error("a baseline is given for scenario {scenario:?}, which has no samples (scenarios: {})", .known.join(", "))]
    UnknownBaselineScenario {
        /// The scenario named.
        scenario: String,
        /// The scenarios of the results.
        known: Vec<String>,
    },
    /// The baseline mechanism of a scenario has no samples for a metric of
    /// that scenario.
    #[error("scenario {scenario:?}, metric {metric:?}: the baseline mechanism {baseline:?} has no samples (mechanisms: {}); choose another baseline for this scenario", .mechanisms.join(", "))]
    MissingBaseline {
        /// The scenario.
        scenario: String,
        /// The metric.
        metric: String,
        /// The baseline mechanism.
        baseline: String,
        /// The mechanisms that do have samples for that metric.
        mechanisms: Vec<String>,
    },
    /// The second baseline mechanism of a scenario has no samples in any
    /// metric of that scenario.
    #[error("scenario {scenario:?}: the second baseline mechanism {baseline:?} has no samples (mechanisms: {})", .mechanisms.join(", "))]
    MissingSecondBaseline {
        /// The scenario.
        scenario: String,
        /// The second baseline mechanism.
        baseline: String,
        /// The mechanisms of the scenario.
        mechanisms: Vec<String>,
    },
    /// A param of a per-node scenario ([`crate::Baselines::per_node`])
    /// does not start with a node count (`N_nodes`).
    #[error("scenario {scenario:?}: param {param:?} has no node count (per-node baseline: params must start with N_nodes, N in 1..=1000)")]
    NoNodeCount {
        /// The scenario.
        scenario: String,
        /// The param.
        param: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            Error::Sample {
                index: 3,
                reason: "value is negative (-1)".into()
            }
            .to_string(),
            "samples[3]: value is negative (-1)"
        );
        assert_eq!(
            Error::UnsupportedSchema { found: "2".into() }.to_string(),
            "unsupported schema version 2: this dts-bench reads schema 1 only"
        );
        let msg = Error::MissingBaseline {
            scenario: "static".into(),
            metric: "req_per_s".into(),
            baseline: "direct".into(),
            mechanisms: vec!["dts".into(), "proxy".into()],
        }
        .to_string();
        assert_eq!(
            msg,
            "scenario \"static\", metric \"req_per_s\": the baseline mechanism \"direct\" \
             has no samples (mechanisms: dts, proxy); choose another baseline for this scenario"
        );
        let msg = Error::UnknownBaselineScenario {
            scenario: "nope".into(),
            known: vec!["a".into(), "b".into()],
        }
        .to_string();
        assert!(msg.contains("\"nope\"") && msg.ends_with("(scenarios: a, b)"));
        let msg = Error::MissingSecondBaseline {
            scenario: "locality".into(),
            baseline: "dts_rr".into(),
            mechanisms: vec!["ipvs_rr".into(), "dts_lard".into()],
        }
        .to_string();
        assert_eq!(
            msg,
            "scenario \"locality\": the second baseline mechanism \"dts_rr\" has no samples \
             (mechanisms: ipvs_rr, dts_lard)"
        );
    }
}
