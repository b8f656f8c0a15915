//! Request targets to file paths under the server's root.
//!
//! Pure logic. [`sanitize`] turns an origin-form request target
//! (`/dir/file?query`) into a relative path: the query and fragment are
//! dropped, `%XX` escapes decoded, empty and `.` segments skipped. A `..`
//! segment (also when escaped, `%2e%2e`), a NUL byte, a bad escape or a
//! target that does not start with `/` is refused (`400`), so the result
//! never leaves the root.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Why a target cannot name a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// Not origin-form (does not start with `/`).
    NotOrigin,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A `..` segment.
    DotDot,
    /// A NUL byte.
    Nul,
}

/// The path part of a request target: everything before `?` or `#`.
pub fn path_part(target: &str) -> &str {
    target
        .find(['?', '#'])
        .and_then(|i| target.get(..i))
        .unwrap_or(target)
}

/// The relative file path `target` names under the root. `/` and other
/// targets without a file segment give an empty path.
pub fn sanitize(target: &str) -> Result<PathBuf, PathError> {
    let path = path_part(target);
    if !path.starts_with('/') {
        return Err(PathError::NotOrigin);
    }
    let decoded = percent_decode(path.as_bytes())?;
    if decoded.contains(&0) {
        return Err(PathError::Nul);
    }
    let mut out = PathBuf::new();
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => return Err(PathError::DotDot),
            _ => out.push(OsStr::from_bytes(seg)),
        }
    }
    Ok(out)
}

/// Decodes `%XX` escapes.
fn percent_decode(s: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hi = s.get(i + 1).and_then(|&c| hex(c));
            let lo = s.get(i + 2).and_then(|&c| hex(c));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(PathError::BadEscape);
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

/// The value of a hex digit.
const fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn plain_paths() {
        assert_eq!(sanitize("/n2/a.bin").unwrap(), Path::new("n2/a.bin"));
        assert_eq!(
            sanitize("/n2//./a.bin?x=/../y").unwrap(),
            Path::new("n2/a.bin")
        );
        assert_eq!(sanitize("/a%20b%2Fc").unwrap(), Path::new("a b/c"));
        assert_eq!(sanitize("/").unwrap(), Path::new(""));
        assert_eq!(sanitize("/x#frag").unwrap(), Path::new("x"));
        assert_eq!(sanitize("/..a/b..").unwrap(), Path::new("..a/b.."));
    }

    #[test]
    fn refusals() {
        assert_eq!(sanitize("/../etc/passwd"), Err(PathError::DotDot));
        assert_eq!(sanitize("/a/../../b"), Err(PathError::DotDot));
        assert_eq!(sanitize("/a/.."), Err(PathError::DotDot));
        assert_eq!(sanitize("/%2e%2E/x"), Err(PathError::DotDot));
        assert_eq!(sanitize("/a%2f..%2fb"), Err(PathError::DotDot));
        assert_eq!(sanitize("/a%00b"), Err(PathError::Nul));
        assert_eq!(sanitize("/a%zz"), Err(PathError::BadEscape));
        assert_eq!(sanitize("/a%2"), Err(PathError::BadEscape));
        assert_eq!(sanitize("http://h/a"), Err(PathError::NotOrigin));
        assert_eq!(sanitize("*"), Err(PathError::NotOrigin));
    }

    #[test]
    fn path_parts() {
        assert_eq!(path_part("/a?b#c"), "/a");
        assert_eq!(path_part("/a#c?d"), "/a");
        assert_eq!(path_part("/a"), "/a");
        assert_eq!(path_part("?x"), "");
    }
}
