//! The raw-results file (schema 1, see the [crate] documentation): its
//! types, [`parse`] and [`validate`].

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// The schema version this crate reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

/// Longest identifier or label, in characters.
const MAX_NAME_CHARS: usize = 64;

/// Longest machine string, in characters.
const MAX_MACHINE_CHARS: usize = 256;

/// How the VMs of the benchmark were run by QEMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Software emulation: slow, absolute numbers are not representative.
    Tcg,
    /// Hardware virtualization.
    Kvm,
}

impl Accel {
    /// The name used in the schema: `"tcg"` or `"kvm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcg => "tcg",
            Self::Kvm => "kvm",
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The machine that ran the benchmark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// Host name.
    pub host: String,
    /// Number of CPUs (at least 1).
    pub cpus: u32,
    /// QEMU acceleration.
    pub accel: Accel,
    /// Kernel release of the VMs.
    pub kernel: String,
    /// When the run started.
    pub date: String,
}

/// One measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Benchmark scenario (identifier).
    pub scenario: String,
    /// Mechanism that served the traffic (identifier).
    pub mechanism: String,
    /// Parameter of the scenario, the x value (label).
    pub param: String,
    /// Repetition number.
    pub rep: u32,
    /// What `value` measures (identifier).
    pub metric: String,
    /// The measurement, finite and not negative.
    pub value: f64,
    /// Whether a higher value is better for this metric.
    pub higher_is_better: bool,
}

/// A raw-results file.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    /// The machine that ran the benchmark.
    pub machine: Machine,
    /// The measurements, in file order.
    pub samples: Vec<Sample>,
}

impl Results {
    /// The results as schema-1 JSON text (what [`parse`] reads).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "schema": SCHEMA_VERSION,
            "machine": self.machine,
            "samples": self.samples,
        })
        .to_string()
    }
}

/// The top level of a raw-results file, once the schema version is known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResults {
    #[allow(dead_code)]
    schema: Value,
    machine: Value,
    samples: Vec<Value>,
}

/// Parses and [`validate`]s a raw-results file.
///
/// The schema version is checked first, so a file of another version gets
/// [`Error::UnsupportedSchema`] rather than an error about its shape.
/// Errors about a sample name its index.
pub fn parse(text: &str) -> Result<Results, Error> {
    let value: Value = serde_json::from_str(text).map_err(|err| Error::Json {
        line: err.line(),
        column: err.column(),
        message: json_message(&err),
    })?;
    let Value::Object(object) = &value else {
        return Err(Error::NotAnObject);
    };
    match object.get("schema") {
        None => return Err(Error::MissingSchema),
        Some(schema) if schema.as_u64() == Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(Error::UnsupportedSchema {
                found: other.to_string(),
            })
        }
    }
    let raw: RawResults = serde_json::from_value(value).map_err(|err| Error::Structure {
        message: err.to_string(),
    })?;
    let machine: Machine = serde_json::from_value(raw.machine).map_err(|err| Error::Machine {
        reason: err.to_string(),
    })?;
    let samples = raw
        .samples
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            serde_json::from_value(value).map_err(|err| Error::Sample {
                index,
                reason: err.to_string(),
            })
        })
        .collect::<Result<Vec<Sample>, Error>>()?;
    let results = Results { machine, samples };
    validate(&results)?;
    Ok(results)
}

/// The message of a JSON syntax error, without serde_json's
/// " at line L column C" suffix ([`Error::Json`] has its own).
fn json_message(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

/// Checks the constraints of the schema that the types do not express
/// (see the [crate] documentation); reports the first problem.
pub fn validate(results: &Results) -> Result<(), Error> {
    let machine = &results.machine;
    for (field, text) in [
        ("host", &machine.host),
        ("kernel", &machine.kernel),
        ("date", &machine.date),
    ] {
        check_machine_text(field, text).map_err(|reason| Error::Machine { reason })?;
    }
    if machine.cpus == 0 {
        return Err(Error::Machine {
            reason: "cpus must be at least 1".into(),
        });
    }
    if results.samples.is_empty() {
        return Err(Error::NoSamples);
    }
    // Metric name -> (higher_is_better, index of its first sample).
    let mut direction: HashMap<&str, (bool, usize)> = HashMap::new();
    // (scenario, mechanism, param, metric, rep) -> index of its first sample.
    let mut seen: HashMap<(&str, &str, &str, &str, u32), usize> = HashMap::new();
    for (index, sample) in results.samples.iter().enumerate() {
        check_sample(sample).map_err(|reason| Error::Sample { index, reason })?;
        let &mut (higher, first) = direction
            .entry(sample.metric.as_str())
            .or_insert((sample.higher_is_better, index));
        if higher != sample.higher_is_better {
            return Err(Error::Sample {
                index,
                reason: format!(
                    "higher_is_better is {} for metric {:?}, but {higher} in samples[{first}]",
                    sample.higher_is_better, sample.metric
                ),
            });
        }
        let key = (
            sample.scenario.as_str(),
            sample.mechanism.as_str(),
            sample.param.as_str(),
            sample.metric.as_str(),
            sample.rep,
        );
        if let Some(first) = seen.insert(key, index) {
            return Err(Error::Sample {
                index,
                reason: format!(
                    "duplicate of samples[{first}] (same scenario, mechanism, param, \
                     metric and rep)"
                ),
            });
        }
    }
    Ok(())
}

/// Checks the fields of one sample.
fn check_sample(sample: &Sample) -> Result<(), String> {
    check_identifier("scenario", &sample.scenario)?;
    check_identifier("mechanism", &sample.mechanism)?;
    check_label("param", &sample.param)?;
    check_identifier("metric", &sample.metric)?;
    let value = sample.value;
    if !value.is_finite() {
        return Err(format!("value is not a finite number ({value})"));
    }
    if value < 0.0 {
        return Err(format!("value is negative ({value})"));
    }
    Ok(())
}

/// Checks the length of a name.
fn check_len(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if text.chars().count() > max {
        return Err(format!("{what} is longer than {max} characters"));
    }
    Ok(())
}

/// Checks an identifier: 1 to 64 ASCII letters, digits, `_`, `-`, `+`.
fn check_identifier(what: &str, text: &str) -> Result<(), String> {
    check_len(what, text, MAX_NAME_CHARS)?;
    match text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+')))
    {
        Some(c) => Err(format!(
            "{what} {text:?} contains {c:?}; only ASCII letters, digits, '_', '-' and '+' \
             are allowed"
        )),
        None => Ok(()),
    }
}

/// Checks a label: 1 to 64 characters, no control characters, no
/// leading or trailing space, none of `"` `\` `|` `` ` `` `#`.
fn check_label(what: &str, text: &str) -> Result<(), String> {
    check_len(what, text, MAX_NAME_CHARS)?;
    if let Some(c) = text
        .chars()
        .find(|&c| c.is_control() || matches!(c, '"' | '\\' | '|' | '`' | '#'))
    {
        return Err(format!(
            "{what} {text:?} contains {c:?}; control characters and '\"', '\\', '|', '`', \
             '#' are not allowed"
        ));
    }
    if text.trim() != text {
        return Err(format!(
            "{what} {text:?} has leading or trailing white space"
        ));
    }
    Ok(())
}

/// Checks a machine string: 1 to 256 characters, no control characters,
/// no backquotes.
fn check_machine_text(what: &str, text: &str) -> Result<(), String> {
    check_len(what, text, MAX_MACHINE_CHARS)?;
    match text.chars().find(|&c| c.is_control() || c == '`') {
        Some(c) => Err(format!(
            "{what} {text:?} contains {c:?}; control characters and '`' are not allowed"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: &str = r#""machine": {"host": "h", "cpus": 4, "accel": "tcg",
        "kernel": "6.12", "date": "2026-05-01"}"#;

    fn sample(mechanism: &str, rep: u32, value: f64) -> String {
        format!(
            r#"{{"scenario": "s", "mechanism": "{mechanism}", "param": "1KiB", "rep": {rep},
                "metric": "req_per_s", "value": {value}, "higher_is_better": true}}"#
        )
    }

    fn file(samples: &[String]) -> String {
        format!(
            r#"{{"schema": 1, {MACHINE}, "samples": [{}]}}"#,
            samples.join(",")
        )
    }

    fn err_of(text: &str) -> Error {
        match parse(text) {
            Ok(results) => panic!("accepted: {results:?}"),
            Err(err) => err,
        }
    }

    fn sample_err(text: &str) -> (usize, String) {
        match err_of(text) {
            Error::Sample { index, reason } => (index, reason),
            other => panic!("not a sample error: {other}"),
        }
    }

    #[test]
    fn parses_a_valid_file() {
        let text = file(&[sample("direct", 1, 10.0), sample("dts", 1, 9.5)]);
        let results = parse(&text).unwrap();
        assert_eq!(results.machine.accel, Accel::Tcg);
        assert_eq!(results.machine.cpus, 4);
        assert_eq!(results.samples.len(), 2);
        assert_eq!(results.samples[1].mechanism, "dts");
        assert_eq!(results.samples[1].value, 9.5);
        // And round-trips.
        assert_eq!(parse(&results.to_json()).unwrap(), results);
    }

    #[test]
    fn schema_version_is_checked_first() {
        assert_eq!(
            err_of(r#"{"schema": 2, "whatever": []}"#),
            Error::UnsupportedSchema { found: "2".into() }
        );
        assert_eq!(
            err_of(r#"{"schema": "1"}"#),
            Error::UnsupportedSchema {
                found: "\"1\"".into()
            }
        );
        assert_eq!(err_of(r#"{"samples": []}"#), Error::MissingSchema);
        assert_eq!(err_of("[1, 2]"), Error::NotAnObject);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        match err_of("{\n  \"schema\": 1,,\n}") {
            Error::Json { line, .. } => assert_eq!(line, 2),
            other => panic!("{other}"),
        }
        assert!(matches!(err_of(""), Error::Json { .. }));
    }

    #[test]
    fn structure_errors() {
        assert!(matches!(
            err_of(r#"{"schema": 1, "samples": []}"#),
            Error::Structure { .. }
        ));
        let err = err_of(&format!(
            r#"{{"schema": 1, {MACHINE}, "samples": [], "x": 1}}"#
        ));
        assert!(err.to_string().contains("unknown field `x`"), "{err}");
        let err = err_of(
            r#"{"schema": 1, "machine": {"host": "h", "cpus": 4,
            "accel": "xen", "kernel": "k", "date": "d"}, "samples": []}"#,
        );
        assert!(matches!(err, Error::Machine { .. }), "{err}");
        assert!(err.to_string().contains("xen"), "{err}");
    }

    #[test]
    fn empty_samples() {
        assert_eq!(err_of(&file(&[])), Error::NoSamples);
    }

    #[test]
    fn machine_errors() {
        let err = err_of(
            r#"{"schema": 1, "machine": {"host": "h", "cpus": 0,
            "accel": "kvm", "kernel": "k", "date": "d"}, "samples": []}"#,
        );
        assert_eq!(err.to_string(), "machine: cpus must be at least 1");
        let err = err_of(
            r#"{"schema": 1, "machine": {"host": "", "cpus": 1,
            "accel": "kvm", "kernel": "k", "date": "d"}, "samples": []}"#,
        );
        assert_eq!(err.to_string(), "machine: host is empty");
    }

    #[test]
    fn sample_errors_name_the_index() {
        let ok = sample("direct", 1, 1.0);
        let (index, reason) = sample_err(&file(&[ok.clone(), sample("direct", 2, -2.5)]));
        assert_eq!((index, reason.as_str()), (1, "value is negative (-2.5)"));

        let (index, reason) = sample_err(&file(&[ok.clone(), ok.clone()]));
        assert_eq!(index, 1);
        assert!(reason.starts_with("duplicate of samples[0]"), "{reason}");

        let missing = r#"{"scenario": "s", "mechanism": "m", "param": "p", "rep": 1,
            "metric": "x", "higher_is_better": true}"#;
        let (index, reason) =
            sample_err(&file(&[ok.clone(), sample("dts", 1, 1.0), missing.into()]));
        assert_eq!(index, 2);
        assert!(reason.contains("missing field `value`"), "{reason}");

        let bad_rep = sample("direct", 1, 1.0).replace("\"rep\": 1", "\"rep\": -1");
        assert_eq!(sample_err(&file(&[bad_rep])).0, 0);
    }

    #[test]
    fn direction_must_agree_per_metric() {
        let a = sample("direct", 1, 1.0);
        let b = sample("dts", 1, 1.0).replace("true", "false");
        let (index, reason) = sample_err(&file(&[a, b]));
        assert_eq!(index, 1);
        assert_eq!(
            reason,
            "higher_is_better is false for metric \"req_per_s\", but true in samples[0]"
        );
    }

    #[test]
    fn name_rules() {
        let base = Sample {
            scenario: "s".into(),
            mechanism: "dts+proxy".into(),
            param: "1 MiB".into(),
            rep: 0,
            metric: "latency_ms".into(),
            value: 0.0,
            higher_is_better: false,
        };
        assert_eq!(check_sample(&base), Ok(()));
        let with = |f: &dyn Fn(&mut Sample)| {
            let mut s = base.clone();
            f(&mut s);
            check_sample(&s)
        };
        assert!(with(&|s| s.scenario = "a b".into()).is_err());
        assert!(with(&|s| s.scenario = "a.b".into()).is_err());
        assert!(with(&|s| s.mechanism = String::new()).is_err());
        assert!(with(&|s| s.metric = "x".repeat(65)).is_err());
        assert!(with(&|s| s.metric = "x".repeat(64)).is_ok());
        assert!(with(&|s| s.param = "a|b".into()).is_err());
        assert!(with(&|s| s.param = "a\nb".into()).is_err());
        assert!(with(&|s| s.param = " 1KiB".into()).is_err());
        assert!(with(&|s| s.param = "p99.9 µs".into()).is_ok());
        assert_eq!(
            with(&|s| s.value = f64::NAN),
            Err("value is not a finite number (NaN)".into())
        );
        assert!(with(&|s| s.value = f64::INFINITY).is_err());
        assert!(with(&|s| s.value = -0.0).is_ok());
        assert_eq!(
            with(&|s| s.param = "a\"b".into()),
            Err(
                "param \"a\\\"b\" contains '\"'; control characters and '\"', '\\', '|', \
                 '`', '#' are not allowed"
                    .into()
            )
        );
    }

    #[test]
    fn validate_catches_what_parse_cannot_see() {
        let mut results = parse(&file(&[sample("direct", 1, 1.0)])).unwrap();
        results.samples[0].value = f64::NAN;
        assert_eq!(
            validate(&results),
            Err(Error::Sample {
                index: 0,
                reason: "value is not a finite number (NaN)".into()
            })
        );
    }
}
