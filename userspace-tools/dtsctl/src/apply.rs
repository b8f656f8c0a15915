//! `dtsctl apply -f FILE [--dry-run]`: what applying a configuration file
//! would change in the configuration in force, and the one-line report of
//! it.
//!
//! The decision is pure: [`plan`] compares the module's configuration with
//! the file's. Equal configurations (the same `self`, mesh settings, nodes
//! and services, in the same order, as [`Config`]'s `==` has it) are
//! [`Outcome::NoChange`], and `dtsctl` then does not call
//! `DTS_SO_SET_CONFIG` at all, so re-applying a file is a no-op. Order
//! matters because it is part of the cluster fingerprint the mesh compares.
//! The mesh key is not compared (the module never shows it): a change of
//! the secret alone is installed with `dtsctl config apply`.

use std::net::Ipv4Addr;

use dts_core::config::{Config, Mesh, Node, Service};

use crate::config::{mesh_summary, summary};

/// What applying a file would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The file's configuration is the one in force.
    NoChange,
    /// It differs: a one-line description of how.
    Change(String),
}

/// The differences between two configurations, by node id and by service
/// `vip:port`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    /// `self` before and after, if it changed.
    pub(crate) self_id: Option<(u8, u8)>,
    /// The mesh settings before and after, if they changed.
    pub(crate) mesh: Option<(Mesh, Mesh)>,
    /// Nodes whose id is new.
    pub(crate) nodes_added: Vec<Node>,
    /// Nodes whose id is gone.
    pub(crate) nodes_removed: Vec<Node>,
    /// Nodes whose address changed (before, after).
    pub(crate) nodes_changed: Vec<(Node, Node)>,
    /// The nodes both have are in a different order.
    pub(crate) nodes_reordered: bool,
    /// Services whose `vip:port` is new.
    pub(crate) services_added: Vec<Service>,
    /// Services whose `vip:port` is gone.
    pub(crate) services_removed: Vec<Service>,
    /// Services whose other settings changed (before, after).
    pub(crate) services_changed: Vec<(Service, Service)>,
    /// The services both have are in a different order.
    pub(crate) services_reordered: bool,
}

/// The differences of two lists whose items have a key: (added, removed,
/// changed, reordered).
type ListDiff<T> = (Vec<T>, Vec<T>, Vec<(T, T)>, bool);

fn list_diff<T: Copy + PartialEq, K: PartialEq>(
    before: &[T],
    after: &[T],
    key: impl Fn(&T) -> K,
) -> ListDiff<T> {
    let find = |list: &[T], k: &K| list.iter().find(|item| key(item) == *k).copied();
    let added = after
        .iter()
        .filter(|item| find(before, &key(item)).is_none())
        .copied()
        .collect();
    let removed = before
        .iter()
        .filter(|item| find(after, &key(item)).is_none())
        .copied()
        .collect();
    let changed = before
        .iter()
        .filter_map(|old| {
            find(after, &key(old))
                .filter(|new| new != old)
                .map(|new| (*old, new))
        })
        .collect();
    // The keys both lists have, in each list's order.
    let common = |list: &[T], other: &[T]| -> Vec<K> {
        list.iter()
            .map(&key)
            .filter(|k| find(other, k).is_some())
            .collect()
    };
    let reordered = common(before, after) != common(after, before);
    (added, removed, changed, reordered)
}

/// Compares the configuration in force with a new one.
pub(crate) fn diff(current: &Config, new: &Config) -> Diff {
    let (nodes_added, nodes_removed, nodes_changed, nodes_reordered) =
        list_diff(current.nodes(), new.nodes(), |node| node.id);
    let (services_added, services_removed, services_changed, services_reordered) =
        list_diff(current.services(), new.services(), |service| {
            (service.vip, service.app_port)
        });
    Diff {
        self_id: (current.self_id() != new.self_id()).then_some((current.self_id(), new.self_id())),
        mesh: (current.mesh() != new.mesh()).then_some((current.mesh(), new.mesh())),
        nodes_added,
        nodes_removed,
        nodes_changed,
        nodes_reordered,
        services_added,
        services_removed,
        services_changed,
        services_reordered,
    }
}

/// Decides what applying `new` over `current` does.
///
/// The mesh key is left out of the comparison: the module never hands it
/// back (`current`'s is zero), so a change of `[mesh] secret` alone is not
/// seen here; `dtsctl config apply` installs a file unconditionally.
pub(crate) fn plan(current: &Config, new: &Config) -> Outcome {
    let mut new_keyless = new.clone();
    new_keyless.set_mesh_key(*current.mesh_key());
    let new = &new_keyless;
    if current == new {
        Outcome::NoChange
    } else {
        Outcome::Change(describe(current, new, &diff(current, new)))
    }
}

/// The line `dtsctl apply` prints for `outcome` (with its newline).
pub(crate) fn report(path: &str, outcome: &Outcome, dry_run: bool) -> String {
    match outcome {
        Outcome::NoChange => format!("dtsctl: {path}: no change\n"),
        Outcome::Change(what) if dry_run => format!("dtsctl: {path}: would apply: {what}\n"),
        Outcome::Change(what) => format!("dtsctl: {path}: applied: {what}\n"),
    }
}

/// "1 node", "2 services".
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Appends "N WHATs VERB: a, b" to `parts` if `items` is not empty.
fn push_list(parts: &mut Vec<String>, what: &str, verb: &str, items: Vec<String>) {
    if !items.is_empty() {
        parts.push(format!(
            "{} {verb}: {}",
            count(items.len(), what),
            items.join(", ")
        ));
    }
}

/// "4 (10.0.0.14)".
fn node_str(node: &Node) -> String {
    format!("{} ({})", node.id, Ipv4Addr::from(node.addr))
}

/// "10.0.0.100:80".
fn service_key(service: &Service) -> String {
    format!("{}:{}", Ipv4Addr::from(service.vip), service.app_port)
}

/// "[1, 2, 3]".
fn node_list(service: &Service) -> String {
    let ids: Vec<String> = service.nodes.iter().map(|id| id.to_string()).collect();
    format!("[{}]", ids.join(", "))
}

/// "hash" or the designated acceptor's id.
fn acceptor(service: &Service) -> String {
    service
        .designated_acceptor()
        .map_or_else(|| "hash".to_owned(), |id| id.to_string())
}

/// "10.0.0.100:80 (nodes [1, 2, 3] -> [1, 2], acceptor hash -> 1)".
fn service_change(old: &Service, new: &Service) -> String {
    let mut fields = Vec::new();
    if old.proxy_port != new.proxy_port {
        fields.push(format!(
            "proxy_port {} -> {}",
            old.proxy_port, new.proxy_port
        ));
    }
    if old.nodes != new.nodes {
        fields.push(format!("nodes {} -> {}", node_list(old), node_list(new)));
    }
    if old.acceptor != new.acceptor {
        fields.push(format!("acceptor {} -> {}", acceptor(old), acceptor(new)));
    }
    if old.handover_to != new.handover_to {
        fields.push(format!(
            "handover_to {} -> {}",
            old.handover_to.name(),
            new.handover_to.name()
        ));
    }
    format!("{} ({})", service_key(old), fields.join(", "))
}

/// "mesh disabled", "mesh enabled: mesh on port ...", or "mesh changed:
/// port 7470 -> 9000, heartbeat_ms 500 -> 100".
fn mesh_change(old: Mesh, new: Mesh) -> String {
    match (old.enabled(), new.enabled()) {
        (true, false) => "mesh disabled".to_owned(),
        (false, true) => format!("mesh enabled: {}", mesh_summary(new)),
        _ => {
            let mut fields = Vec::new();
            if old.port != new.port {
                fields.push(format!("port {} -> {}", old.port, new.port));
            }
            if old.heartbeat_ms != new.heartbeat_ms {
                fields.push(format!(
                    "heartbeat_ms {} -> {}",
                    old.heartbeat_ms, new.heartbeat_ms
                ));
            }
            if old.dead_after != new.dead_after {
                fields.push(format!(
                    "dead_after {} -> {}",
                    old.dead_after, new.dead_after
                ));
            }
            format!("mesh changed: {}", fields.join(", "))
        }
    }
}

/// The one-line description of a change (the configurations differ).
fn describe(current: &Config, new: &Config, diff: &Diff) -> String {
    if current.is_empty() {
        return format!("configured: {}", summary(new));
    }
    if new.is_empty() {
        return "cleared: empty configuration (the node is unconfigured)".to_owned();
    }
    let mut parts = Vec::new();
    if let Some((old, new)) = diff.self_id {
        parts.push(format!("self {old} -> {new}"));
    }
    push_list(
        &mut parts,
        "node",
        "added",
        diff.nodes_added.iter().map(node_str).collect(),
    );
    push_list(
        &mut parts,
        "node",
        "removed",
        diff.nodes_removed.iter().map(node_str).collect(),
    );
    push_list(
        &mut parts,
        "node",
        "changed",
        diff.nodes_changed
            .iter()
            .map(|(old, new)| {
                format!(
                    "{} ({} -> {})",
                    old.id,
                    Ipv4Addr::from(old.addr),
                    Ipv4Addr::from(new.addr)
                )
            })
            .collect(),
    );
    if diff.nodes_reordered {
        parts.push("nodes reordered".to_owned());
    }
    push_list(
        &mut parts,
        "service",
        "added",
        diff.services_added.iter().map(service_key).collect(),
    );
    push_list(
        &mut parts,
        "service",
        "removed",
        diff.services_removed.iter().map(service_key).collect(),
    );
    push_list(
        &mut parts,
        "service",
        "changed",
        diff.services_changed
            .iter()
            .map(|(old, new)| service_change(old, new))
            .collect(),
    );
    if diff.services_reordered {
        parts.push("services reordered".to_owned());
    }
    if let Some((old, new)) = diff.mesh {
        parts.push(mesh_change(old, new));
    }
    if parts.is_empty() {
        // Only possible for configurations with duplicate keys, which the
        // validation refuses.
        "configuration changed".to_owned()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RIG: &str = include_str!("../examples/cluster3.toml");

    fn parse(text: &str) -> Config {
        crate::config::parse(text).expect("valid")
    }

    fn rig() -> Config {
        parse(RIG)
    }

    /// The description of applying `new` over `current`.
    fn change(current: &Config, new: &Config) -> String {
        match plan(current, new) {
            Outcome::Change(what) => what,
            Outcome::NoChange => panic!("no change"),
        }
    }

    #[test]
    fn same_configuration_is_no_change() {
        assert_eq!(plan(&rig(), &rig()), Outcome::NoChange);
        assert_eq!(plan(&Config::EMPTY, &Config::EMPTY), Outcome::NoChange);
        // The explicit default mesh is the same configuration.
        let mesh = parse(include_str!("../examples/cluster3-mesh.toml"));
        assert_eq!(plan(&rig(), &mesh), Outcome::NoChange);
        // As is what `config show` prints of it.
        let shown = parse(&crate::config::render_toml(&rig()));
        assert_eq!(plan(&rig(), &shown), Outcome::NoChange);
        assert_eq!(diff(&rig(), &rig()), Diff::default());
    }

    #[test]
    fn from_and_to_empty() {
        assert_eq!(
            change(&Config::EMPTY, &rig()),
            "configured: 3 nodes, 1 service, self = 1, \
             mesh on port 7470 (heartbeat 500 ms, down after 3 missed)"
        );
        assert_eq!(
            change(&rig(), &Config::EMPTY),
            "cleared: empty configuration (the node is unconfigured)"
        );
    }

    #[test]
    fn self_nodes_and_services() {
        let new = parse(&RIG.replace("self = 1", "self = 2"));
        assert_eq!(change(&rig(), &new), "self 1 -> 2");
        assert_eq!(diff(&rig(), &new).self_id, Some((1, 2)));

        let more = format!(
            "{RIG}\n[[node]]\nid = 4\naddr = \"10.0.0.14\"\n\
             [[service]]\nvip = \"10.0.0.101\"\nport = 80\nproxy_port = 8080\nnodes = [4]\n"
        );
        let more = parse(&more);
        assert_eq!(
            change(&rig(), &more),
            "1 node added: 4 (10.0.0.14); 1 service added: 10.0.0.101:80"
        );
        assert_eq!(
            change(&more, &rig()),
            "1 node removed: 4 (10.0.0.14); 1 service removed: 10.0.0.101:80"
        );
        let d = diff(&rig(), &more);
        assert_eq!(d.nodes_added.len(), 1);
        assert_eq!(d.services_added.len(), 1);
        assert!(!d.nodes_reordered && !d.services_reordered);

        let moved = parse(&RIG.replace("10.0.0.12", "10.0.0.22"));
        assert_eq!(
            change(&rig(), &moved),
            "1 node changed: 2 (10.0.0.12 -> 10.0.0.22)"
        );

        let svc = parse(
            &RIG.replace("proxy_port = 8080", "proxy_port = 8081")
                .replace(
                    "nodes = [1, 2, 3]",
                    "nodes = [1, 2]\nacceptor = 2\nhandover_to = \"proxy\"",
                ),
        );
        assert_eq!(
            change(&rig(), &svc),
            "1 service changed: 10.0.0.100:80 (proxy_port 8080 -> 8081, \
             nodes [1, 2, 3] -> [1, 2], acceptor hash -> 2, handover_to server -> proxy)"
        );
    }

    #[test]
    fn order_is_a_change() {
        // Nodes 2 and 3 swapped: the same sets, another fingerprint.
        let swapped = RIG
            .replace(
                "id = 2\naddr = \"10.0.0.12\"",
                "id = X\naddr = \"10.0.0.1X\"",
            )
            .replace(
                "id = 3\naddr = \"10.0.0.13\"",
                "id = 2\naddr = \"10.0.0.12\"",
            )
            .replace(
                "id = X\naddr = \"10.0.0.1X\"",
                "id = 3\naddr = \"10.0.0.13\"",
            );
        let swapped = parse(&swapped);
        assert_ne!(swapped.fingerprint(), rig().fingerprint());
        assert_eq!(change(&rig(), &swapped), "nodes reordered");
        let two = parse(include_str!("../examples/cluster3-two-vips.toml"));
        let services: Vec<Service> = two.services().iter().rev().copied().collect();
        let mut reversed = Config::new(two.self_id());
        reversed.set_mesh(two.mesh());
        for node in two.nodes() {
            reversed.add_node(*node).expect("room");
        }
        for service in services {
            reversed.add_service(service).expect("room");
        }
        assert_eq!(change(&two, &reversed), "services reordered");
        // A service's node set is its own setting, not an order.
        let d = diff(
            &rig(),
            &parse(&RIG.replace("nodes = [1, 2, 3]", "nodes = [1, 3]")),
        );
        assert_eq!(d.services_changed.len(), 1);
        assert!(!d.services_reordered && !d.nodes_reordered);
    }

    #[test]
    fn mesh_changes() {
        let with = |table: &str| parse(&RIG.replacen("[mesh]\n", &format!("[mesh]\n{table}"), 1));
        assert_eq!(change(&rig(), &with("port = 0\n")), "mesh disabled");
        assert_eq!(
            change(&with("port = 0\n"), &rig()),
            "mesh enabled: mesh on port 7470 (heartbeat 500 ms, down after 3 missed)"
        );
        assert_eq!(
            change(&rig(), &with("port = 9000\nheartbeat_ms = 100\n")),
            "mesh changed: port 7470 -> 9000, heartbeat_ms 500 -> 100"
        );
        assert_eq!(
            change(&rig(), &with("dead_after = 5\n")),
            "mesh changed: dead_after 3 -> 5"
        );
    }

    #[test]
    fn everything_at_once() {
        let new = format!(
            "{}\n[[node]]\nid = 4\naddr = \"10.0.0.14\"\n",
            RIG.replace("self = 1", "self = 4")
                .replacen("[mesh]\n", "[mesh]\nport = 7471\n", 1)
                .replace("[[node]]\nid = 3\naddr = \"10.0.0.13\"\n", "")
                .replace("nodes = [1, 2, 3]", "nodes = [1, 2, 4]")
        );
        assert_eq!(
            change(&rig(), &parse(&new)),
            "self 1 -> 4; 1 node added: 4 (10.0.0.14); 1 node removed: 3 (10.0.0.13); \
             1 service changed: 10.0.0.100:80 (nodes [1, 2, 3] -> [1, 2, 4]); \
             mesh changed: port 7470 -> 7471"
        );
    }

    #[test]
    fn report_lines() {
        assert_eq!(
            report("c.toml", &Outcome::NoChange, false),
            "dtsctl: c.toml: no change\n"
        );
        assert_eq!(
            report("c.toml", &Outcome::NoChange, true),
            "dtsctl: c.toml: no change\n"
        );
        let change = Outcome::Change("self 1 -> 2".to_owned());
        assert_eq!(
            report("c.toml", &change, false),
            "dtsctl: c.toml: applied: self 1 -> 2\n"
        );
        assert_eq!(
            report("c.toml", &change, true),
            "dtsctl: c.toml: would apply: self 1 -> 2\n"
        );
    }
}
