//! Human-readable and JSON rendering of an [`InfoV1`] status reply (and of
//! the membership section `dtsctl status` adds to it, see [`crate::peers`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use dts_core::abi::{hook_name, Counter, HookStats, InfoV1};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::peers::{self, Membership, PeersJson};

/// Returns the module version for display: up to the first NUL byte, with
/// invalid UTF-8 replaced rather than rejected.
pub(crate) fn module_version(info: &InfoV1) -> Cow<'_, str> {
    match info.module_version_str() {
        Ok(version) => Cow::Borrowed(version),
        Err(_) => {
            let bytes = &info.module_version;
            let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            String::from_utf8_lossy(bytes.get(..len).unwrap_or_default())
        }
    }
}

/// Returns the display name of the counter at `index`: its stable name, or
/// `counter_<index>` for counters this `dtsctl` does not know yet.
pub(crate) fn counter_name(index: usize) -> Cow<'static, str> {
    match Counter::from_index(index) {
        Some(counter) => Cow::Borrowed(counter.name()),
        None => Cow::Owned(format!("counter_{index}")),
    }
}

/// The text `write` writes into a new `String` (which cannot fail).
pub(crate) fn text(write: impl FnOnce(&mut String) -> std::fmt::Result) -> String {
    let mut out = String::new();
    let _ = write(&mut out);
    out
}

/// Renders the status as an aligned, human-readable report, the membership
/// section last.
pub(crate) fn human(info: &InfoV1, membership: &Membership) -> String {
    text(|out| write_human(out, info)) + &peers::status_section(membership)
}

fn write_human(out: &mut String, info: &InfoV1) -> std::fmt::Result {
    writeln!(out, "dts module version: {}", module_version(info))?;
    writeln!(out, "ABI version:        {}", info.abi_version)?;
    writeln!(out)?;

    writeln!(out, "Hooks:")?;
    let hooks = info.hooks();
    if hooks.is_empty() {
        writeln!(out, "  (none registered)")?;
    } else {
        writeln!(
            out,
            "  {:<14} {:>7} {:>9} {:>20} {:>20} {:>20}",
            "HOOK", "HOOKNUM", "PRIORITY", "PACKETS", "BYTES", "TCP_PACKETS"
        )?;
        for hook in hooks {
            writeln!(
                out,
                "  {:<14} {:>7} {:>9} {:>20} {:>20} {:>20}",
                hook_name(hook.hooknum),
                hook.hooknum,
                hook.priority,
                hook.packets,
                hook.bytes,
                hook.tcp_packets
            )?;
        }
    }
    writeln!(out)?;

    writeln!(out, "Counters:")?;
    let counters = info.counters();
    if counters.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for (index, value) in counters.iter().enumerate() {
        writeln!(out, "  {:<24} {:>20}", counter_name(index), value)?;
    }
    Ok(())
}

/// JSON view of the whole status.
#[derive(serde::Serialize)]
struct StatusJson<'a> {
    abi_version: u32,
    module_version: Cow<'a, str>,
    hooks: Vec<HookJson>,
    counters: CountersJson<'a>,
    /// `null` if the membership is unavailable.
    membership: Option<PeersJson>,
}

/// JSON view of one hook entry.
#[derive(serde::Serialize)]
struct HookJson {
    name: &'static str,
    hooknum: u32,
    priority: i32,
    packets: u64,
    bytes: u64,
    tcp_packets: u64,
}

impl From<&HookStats> for HookJson {
    fn from(hook: &HookStats) -> Self {
        Self {
            name: hook_name(hook.hooknum),
            hooknum: hook.hooknum,
            priority: hook.priority,
            packets: hook.packets,
            bytes: hook.bytes,
            tcp_packets: hook.tcp_packets,
        }
    }
}

/// The valid counters as a JSON object `{name: value}`, in index order
/// (`"counters"` of `status --json`, and `show stats --json`).
pub(crate) struct CountersJson<'a>(pub(crate) &'a [u64]);

impl Serialize for CountersJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (index, value) in self.0.iter().enumerate() {
            map.serialize_entry(&counter_name(index), value)?;
        }
        map.end()
    }
}

/// Renders the status as one JSON object (a single line, no trailing newline).
pub(crate) fn json(info: &InfoV1, membership: &Membership) -> Result<String, serde_json::Error> {
    let status = StatusJson {
        abi_version: info.abi_version,
        module_version: module_version(info),
        hooks: info.hooks().iter().map(HookJson::from).collect(),
        counters: CountersJson(info.counters()),
        membership: match membership {
            Membership::Available(peers) => Some(PeersJson::from(&**peers)),
            Membership::Unavailable(_) => None,
        },
    };
    serde_json::to_string(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::tests::unavailable;
    use dts_core::abi::{version_bytes, MAX_COUNTERS};

    /// Node 1 ready, node 2 up, node 3 down ([`peers::tests::sample`]).
    fn membership() -> Membership {
        Membership::Available(Box::new(peers::tests::sample()))
    }

    fn sample() -> InfoV1 {
        let mut info = InfoV1::new();
        info.set_module_version("0.1.0");
        info.n_hooks = 2;
        info.hooks[0] = HookStats {
            hooknum: 0,
            priority: -150,
            packets: 10,
            bytes: 1234,
            tcp_packets: 5,
        };
        info.hooks[1] = HookStats {
            hooknum: 3,
            priority: 100,
            packets: u64::MAX,
            bytes: 0,
            tcp_packets: 1,
        };
        // Not valid (beyond n_hooks): must not be rendered.
        info.hooks[2].hooknum = 4;
        for (i, counter) in Counter::ALL.iter().enumerate() {
            info.set_counter(*counter, 100 + i as u64);
        }
        // The reports below show the first six counters only.
        info.n_counters = 6;
        info
    }

    #[test]
    fn human_report() {
        let expected = "\
dts module version: 0.1.0
ABI version:        1

Hooks:
  HOOK           HOOKNUM  PRIORITY              PACKETS                BYTES          TCP_PACKETS
  pre_routing          0      -150                   10                 1234                    5
  local_out            3       100 18446744073709551615                    0                    1

Counters:
  sockopt_get                               100
  sockopt_set                               101
  sockopt_denied                            102
  sockopt_invalid                           103
  pkt_malformed                             104
  pkt_non_ipv4                              105

membership: unavailable (Invalid argument (os error 22))
";
        assert_eq!(human(&sample(), &unavailable()), expected);
    }

    #[test]
    fn human_report_with_membership() {
        let out = human(&sample(), &membership());
        let expected_tail = "  pkt_non_ipv4                              105

Membership:
  self 1: mesh enabled, READY, live [1, 2]
  PEER ADDR            STATE   CONN
     2 10.0.0.12       up      established
     3 10.0.0.13       down    connecting
";
        assert!(out.ends_with(expected_tail), "{out}");
    }

    #[test]
    fn status_lists_every_known_counter() {
        let mut info = InfoV1::new();
        for (i, counter) in Counter::ALL.iter().enumerate() {
            info.set_counter(*counter, i as u64);
        }
        let out = human(&info, &unavailable());
        for name in [
            "mesh_connected",
            "mesh_node_down",
            "handover_host_down",
            "syn_failover",
        ] {
            assert!(out.contains(&format!("  {name} ")), "{name}: {out}");
        }
        assert!(!out.contains("counter_"), "{out}");
        let value: serde_json::Value =
            serde_json::from_str(&json(&info, &unavailable()).expect("serializable"))
                .expect("valid JSON");
        assert_eq!(value["counters"]["syn_failover"].as_u64(), Some(48));
        assert_eq!(value["counters"]["mesh_connected"].as_u64(), Some(30));
        assert_eq!(
            value["counters"].as_object().map(|c| c.len()),
            Some(Counter::COUNT)
        );
    }

    #[test]
    fn human_report_without_hooks_or_counters() {
        let mut info = InfoV1::new();
        info.n_counters = 0;
        let out = human(&info, &unavailable());
        assert!(out.contains("Hooks:\n  (none registered)\n"), "{out}");
        assert!(out.contains("Counters:\n  (none)\n"), "{out}");
        assert!(out.starts_with("dts module version: \n"), "{out}");
    }

    #[test]
    fn human_report_names_unknown_counters_and_hooks() {
        let mut info = sample();
        // A newer module's counter beyond `Counter::COUNT`, and an unknown
        // hook, are named as such.
        info.n_counters = MAX_COUNTERS as u32;
        info.counters[MAX_COUNTERS - 1] = 77;
        info.n_hooks = 1;
        info.hooks[0].hooknum = 9;
        let out = human(&info, &unavailable());
        assert!(out.contains("  syn_accepted "), "{out}");
        assert!(out.contains("  sc_ns_total "), "{out}");
        assert!(out.contains("  unknown "), "{out}");
    }

    #[test]
    fn json_report() {
        let out = json(&sample(), &unavailable()).expect("serializable");
        let expected = concat!(
            r#"{"abi_version":1,"module_version":"0.1.0","hooks":["#,
            r#"{"name":"pre_routing","hooknum":0,"priority":-150,"packets":10,"bytes":1234,"tcp_packets":5},"#,
            r#"{"name":"local_out","hooknum":3,"priority":100,"packets":18446744073709551615,"bytes":0,"tcp_packets":1}"#,
            r#"],"counters":{"sockopt_get":100,"sockopt_set":101,"sockopt_denied":102,"#,
            r#""sockopt_invalid":103,"pkt_malformed":104,"pkt_non_ipv4":105},"membership":null}"#
        );
        assert_eq!(out, expected);
        // And it is valid JSON with exact u64 values.
        let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(value["hooks"][1]["packets"].as_u64(), Some(u64::MAX));
        assert_eq!(value["counters"]["pkt_non_ipv4"].as_u64(), Some(105));
        assert!(value["membership"].is_null());
    }

    #[test]
    fn json_report_with_membership() {
        let out = json(&sample(), &membership()).expect("serializable");
        let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        let m = &value["membership"];
        assert_eq!(m["self_id"], 1);
        assert_eq!(m["mesh_enabled"], true);
        assert_eq!(m["ready"], true);
        assert_eq!(m["live"], serde_json::json!([1, 2]));
        assert_eq!(m["peers"][0]["state"], "up");
        assert_eq!(m["peers"][1]["state"], "down");
        assert_eq!(m["peers"][1]["addr"], "10.0.0.13");
        assert!(m["peers"][1]["last_heard_ms"].is_null());
        // The same object as `dtsctl peers --json`.
        let Membership::Available(peers) = membership() else {
            unreachable!()
        };
        let alone: serde_json::Value =
            serde_json::from_str(&crate::peers::json(&peers).expect("serializable"))
                .expect("valid JSON");
        assert_eq!(*m, alone);
    }

    #[test]
    fn json_report_all_counters_and_odd_version() {
        let mut info = InfoV1::new();
        info.n_counters = MAX_COUNTERS as u32;
        info.module_version = [b'x'; 32];
        info.module_version[3] = 0xff;
        let out = json(&info, &unavailable()).expect("serializable");
        let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        let counters = value["counters"].as_object().expect("object");
        assert_eq!(counters.len(), MAX_COUNTERS);
        assert!(counters.contains_key("sc_ns_total"));
        assert_eq!(value["hooks"].as_array().map(Vec::len), Some(0));
        assert_eq!(
            value["module_version"],
            "xxx\u{fffd}".to_string() + &"x".repeat(28)
        );
    }

    #[test]
    fn module_version_stops_at_nul() {
        let mut info = InfoV1::new();
        info.module_version = version_bytes("1.2.3");
        info.module_version[10] = b'z';
        assert_eq!(module_version(&info), "1.2.3");
    }
}
