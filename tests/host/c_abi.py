#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compares what a C program compiled against include/dts_handover.h
reports (sizes, offsets, constants, errno names) with the Rust sources the
module and the tools are built from. Used by tests/host/c-api.sh.

    c_abi.py REPO C_REPORT

C_REPORT has one fact per line, as tests/host/c-api.sh's layout program
prints them:

    const NAME VALUE            a macro of the header
    sizeof STRUCT BYTES         sizeof(struct STRUCT)
    field STRUCT FIELD OFF SIZE offsetof and sizeof of a member, in order
    errno N NAME                dts_errno_name(N) for every N it names

The Rust side, read from the sources (no build):

  - a structure's layout is what its encoder writes: `fn to_bytes` of
    `impl NAME` (rust/pure/abi/*.rs) writes `version` first
    (`fixed_bytes(self.version, ...)`), then each `self.FIELD` in order; a
    field's size is its type's in `pub struct NAME` (u32: 4, u64: 8). Its
    documented table (`/// | offset | size | field |` above the struct)
    must say the same, and the fields must add up to the SIZE of its
    `impl Versioned`;
  - a constant is a `pub const` / `pub(crate) const` (integer expressions
    over literals and other constants of the same file or of
    rust/pure/abi/mod.rs);
  - each errno name dts_errno_name() gives is the name of that number on
    this Linux host (Python's errno module); the Rust tools take their
    names from nix::errno::Errno, and the dts crate's test
    the_c_header_names_errnos_as_nix_does checks the header's names
    against it.

Prints one line per mismatch and exits 1 if there is any, else prints a
summary and exits 0.
"""
import errno
import os
import re
import sys

# C structure -> (Rust file under rust/pure/abi, Rust type).
STRUCTS = {
    "dts_handover_req": ("handover.rs", "HandoverReqV1"),
    "dts_flow_info": ("handover.rs", "FlowInfoV1"),
    "dts_clone_req": ("clone.rs", "CloneReqV1"),
    "dts_clone_status": ("clone.rs", "CloneStatusV1"),
}

# C macro -> (file under rust/, Rust constant) or ("Versioned", TYPE, ITEM).
CONSTS = {
    "DTS_SO_LEVEL": ("pure/abi/mod.rs", "DTS_SO_LEVEL"),
    "DTS_MAX_NODE_ID": ("pure/config.rs", "MAX_NODE_ID"),
    "DTS_SO_HANDOVER": ("pure/abi/handover.rs", "DTS_SO_HANDOVER"),
    "DTS_HANDOVER_VERSION": ("Versioned", "HandoverReqV1", "VERSION"),
    "DTS_HANDOVER_REQ_SIZE": ("Versioned", "HandoverReqV1", "SIZE"),
    "DTS_HANDOVER_MAX_BUF": ("pure/abi/handover.rs", "HANDOVER_MAX_BUF"),
    "DTS_HANDOVER_MAX_DATA": ("pure/homsg.rs", "MAX_DATA"),
    "DTS_HANDOVER_TIMEOUT_MS": ("handoff/handover.rs", "ACK_MS"),
    "DTS_HANDOVER_REFORWARD": ("pure/abi/handover.rs", "HANDOVER_REFORWARD"),
    "DTS_SO_GET_FLOW": ("pure/abi/handover.rs", "DTS_SO_GET_FLOW"),
    "DTS_FLOW_INFO_VERSION": ("Versioned", "FlowInfoV1", "VERSION"),
    "DTS_FLOW_INFO_SIZE": ("Versioned", "FlowInfoV1", "SIZE"),
    "DTS_FLOW_HANDED_IN": ("pure/abi/handover.rs", "FLOW_HANDED_IN"),
    "DTS_FLOW_REFORWARDED": ("pure/abi/handover.rs", "FLOW_REFORWARDED"),
    "DTS_SO_CLONE": ("pure/abi/clone.rs", "DTS_SO_CLONE"),
    "DTS_SO_CLONE_WAIT": ("pure/abi/clone.rs", "DTS_SO_CLONE_WAIT"),
    "DTS_CLONE_VERSION": ("Versioned", "CloneReqV1", "VERSION"),
    "DTS_CLONE_REQ_SIZE": ("Versioned", "CloneReqV1", "SIZE"),
    "DTS_CLONE_F_RESP_LEN": ("pure/abi/clone.rs", "CLONE_F_RESP_LEN"),
    "DTS_CLONE_MAX_ASF": ("pure/abi/clone.rs", "CLONE_MAX_ASF"),
    "DTS_CLONE_ACK_TIMEOUT_MS": ("pure/abi/clone.rs", "CLONE_ACK_TIMEOUT_MS"),
    "DTS_CLONE_WAIT_MS": ("pure/abi/clone.rs", "CLONE_WAIT_MS"),
    "DTS_CLONE_STATUS_VERSION": ("Versioned", "CloneStatusV1", "VERSION"),
    "DTS_CLONE_STATUS_SIZE": ("Versioned", "CloneStatusV1", "SIZE"),
    "DTS_CLONE_IDLE": ("pure/abi/clone.rs", "CLONE_IDLE"),
    "DTS_CLONE_ACTIVE": ("pure/abi/clone.rs", "CLONE_ACTIVE"),
}

TYPE_SIZES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "i32": 4, "i64": 8}

problems = []


def problem(msg):
    problems.append(msg)
    print("c_abi: " + msg)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def raw_consts(text):
    """NAME -> expression text of every `pub const` / `pub(crate) const`."""
    out = {}
    for m in re.finditer(r"^\s*pub(?:\(crate\))?\s+const\s+([A-Z_][A-Z0-9_]*)\s*:\s*[a-z0-9]+\s*=\s*([^;]+);",
                         text, re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def evaluate(expr, env, depth=0):
    """The value of a Rust integer constant expression over literals and
    the names in env (expressions themselves)."""
    if depth > 10:
        raise ValueError("constant nesting too deep: " + expr)
    tokens = re.findall(r"0x[0-9a-fA-F_]+|[0-9][0-9_]*|[A-Za-z_][A-Za-z0-9_]*|<<|>>|[-+*/()]|\S", expr)
    py = []
    for t in tokens:
        if re.fullmatch(r"0x[0-9a-fA-F_]+|[0-9][0-9_]*", t):
            py.append(str(int(t.replace("_", ""), 0)))
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t):
            if t not in env:
                raise ValueError("unknown name %s in '%s'" % (t, expr))
            py.append(str(evaluate(env[t], env, depth + 1)))
        elif t in ("<<", ">>", "+", "-", "*", "(", ")"):
            py.append(t)
        elif t == "/":
            py.append("//")
        else:
            raise ValueError("unsupported token '%s' in '%s'" % (t, expr))
    return int(eval(" ".join(py), {"__builtins__": {}}, {}))  # digits and operators only


def rust_struct(text, name):
    """[(field, size)] of `pub struct NAME { pub field: TYPE, ... }`."""
    m = re.search(r"pub struct %s \{(.*?)\n\}" % name, text, re.S)
    if not m:
        raise ValueError("no pub struct " + name)
    fields = []
    for f in re.finditer(r"^\s*pub\s+([a-z_][a-z0-9_]*)\s*:\s*([a-z0-9]+)\s*,", m.group(1), re.M):
        if f.group(2) not in TYPE_SIZES:
            raise ValueError("%s.%s: type %s" % (name, f.group(1), f.group(2)))
        fields.append((f.group(1), TYPE_SIZES[f.group(2)]))
    return fields


def encoder_order(text, name):
    """The fields in the order `impl NAME { fn to_bytes }` writes them."""
    m = re.search(r"impl %s \{.*?fn to_bytes\(&self\)[^{]*\{(.*?)\n    \}" % name, text, re.S)
    if not m:
        raise ValueError("no to_bytes in impl " + name)
    body = m.group(1)
    first = re.search(r"fixed_bytes\(self\.([a-z_]+)", body)
    if not first:
        raise ValueError(name + ".to_bytes: no fixed_bytes(self.FIELD")
    order = [first.group(1)]
    order += re.findall(r"w\.put(?:_u32|_u64|_u16|_u8)?\(self\.([a-z_]+)", body)
    return order


def doc_table(text, name):
    """[(field, offset, size)] of the `///` table right above `pub struct NAME`."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if re.match(r"pub struct %s \{" % name, line):
            break
    else:
        raise ValueError("no pub struct " + name)
    rows = []
    j = i - 1
    while j >= 0 and (lines[j].startswith("///") or lines[j].startswith("#[")):
        r = re.match(r"///\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*`([a-z_]+)`", lines[j])
        if r:
            rows.append((r.group(3), int(r.group(1)), int(r.group(2))))
        j -= 1
    return list(reversed(rows))


def versioned(text, name, item):
    m = re.search(r"impl Versioned for %s \{(.*?)\n\}" % name, text, re.S)
    if not m:
        raise ValueError("no impl Versioned for " + name)
    v = re.search(r"const %s\s*:\s*[a-z0-9]+\s*=\s*([^;]+);" % item, m.group(1))
    if not v:
        raise ValueError("impl Versioned for %s: no %s" % (name, item))
    return v.group(1).strip()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: c_abi.py REPO C_REPORT")
    repo, report = sys.argv[1], sys.argv[2]
    rust = os.path.join(repo, "rust")
    abi_dir = os.path.join(rust, "pure", "abi")
    mod_consts = raw_consts(read(os.path.join(abi_dir, "mod.rs")))

    c_consts, c_sizeof, c_fields, c_errno = {}, {}, {}, {}
    for line in read(report).splitlines():
        w = line.split()
        if not w:
            continue
        if w[0] == "const" and len(w) == 3:
            c_consts[w[1]] = int(w[2], 0)
        elif w[0] == "sizeof" and len(w) == 3:
            c_sizeof[w[1]] = int(w[2])
        elif w[0] == "field" and len(w) == 5:
            c_fields.setdefault(w[1], []).append((w[2], int(w[3]), int(w[4])))
        elif w[0] == "errno" and len(w) == 3:
            c_errno[int(w[1])] = w[2]
        else:
            problem("bad report line: " + line)

    # --- structures
    nstruct = 0
    for cname, (fname, rname) in STRUCTS.items():
        text = read(os.path.join(abi_dir, fname))
        env = dict(mod_consts)
        env.update(raw_consts(text))
        try:
            types = dict(rust_struct(text, rname))
            order = encoder_order(text, rname)
            table = doc_table(text, rname)
            size = evaluate(versioned(text, rname, "SIZE"), env)
        except ValueError as e:
            problem("%s: %s" % (rname, e))
            continue
        if sorted(order) != sorted(types):
            problem("%s: to_bytes writes %s, the struct has %s" % (rname, order, sorted(types)))
            continue
        layout, off = [], 0
        for f in order:
            layout.append((f, off, types[f]))
            off += types[f]
        if off != size:
            problem("%s: its fields add up to %d bytes, its SIZE is %d" % (rname, off, size))
        if table != layout:
            problem("%s: the documented table %s differs from the encoder's layout %s" % (rname, table, layout))
        if c_sizeof.get(cname) != size:
            problem("sizeof(struct %s) = %s, Rust %s is %d bytes" % (cname, c_sizeof.get(cname), rname, size))
        if c_fields.get(cname) != layout:
            problem("struct %s: C layout %s, Rust %s writes %s" % (cname, c_fields.get(cname), rname, layout))
        nstruct += 1

    # --- constants
    texts = {}
    for cname, where in CONSTS.items():
        try:
            if where[0] == "Versioned":
                rname = where[1]
                fname = dict((r, f) for f, r in STRUCTS.values())[rname]
                text = read(os.path.join(abi_dir, fname))
                env = dict(mod_consts)
                env.update(raw_consts(text))
                value = evaluate(versioned(text, rname, where[2]), env)
                what = "%s::%s" % (rname, where[2])
            else:
                path = os.path.join(rust, where[0])
                text = texts.setdefault(path, read(path))
                env = dict(mod_consts)
                env.update(raw_consts(text))
                if where[1] not in env:
                    raise ValueError("no const %s in rust/%s" % (where[1], where[0]))
                value = evaluate(env[where[1]], env)
                what = "%s (rust/%s)" % (where[1], where[0])
        except (ValueError, OSError) as e:
            problem("%s: %s" % (cname, e))
            continue
        if cname not in c_consts:
            problem("%s: not in the C report" % cname)
        elif c_consts[cname] != value:
            problem("%s = %d, Rust %s = %d" % (cname, c_consts[cname], what, value))
    for cname in c_consts:
        if cname not in CONSTS:
            problem("%s: reported by C but not compared (add it to CONSTS)" % cname)

    # --- errno names: the number behind each name is the host's
    if not c_errno:
        problem("dts_errno_name reported no errno")
    for n, name in sorted(c_errno.items()):
        if getattr(errno, name, None) != n:
            problem("errno %d: dts_errno_name says %s, which is %s on this host"
                    % (n, name, getattr(errno, name, "unknown")))

    if problems:
        print("c_abi: %d mismatch(es)" % len(problems))
        return 1
    print("c_abi: %d structures, %d constants agree with the Rust sources, %d errno names with the host's"
          % (nstruct, len(CONSTS), len(c_errno)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
