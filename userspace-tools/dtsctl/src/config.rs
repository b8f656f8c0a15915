//! The cluster configuration file for `dtsctl`: its schema, parsing,
//! validation and rendering (for `config show`, TOML or JSON) are the `dts`
//! library's ([`dts::config`], the one schema every tool reads the file
//! with), re-exported here.
//!
//! The mesh key is SHA-256 of the secret. The module never hands the key
//! back, so `config show` prints `secret = "(set)"` ([`SECRET_SHOWN`]) in
//! its place. [`parse`] (for `config check`) accepts that marker, so that
//! the output of `config show` checks; [`parse_to_apply`] refuses it with a
//! clear message: applying needs the real secret.

pub(crate) use dts::config::*;
