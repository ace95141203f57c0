//! `cargo xtask tidy`: checks on imp's own source that the compiler does not make.
//!
//! Every `#[inline]`, `#[inline(always)]` and `#[inline(never)]` in `core/src` and
//! `cli-min/src` says why it is there and what it was measured to save or cost
//! ("size is a feature": a byte figure, not a hunch), in a `//` comment at the end of
//! the attribute's line or on the line right above it:
//!
//! ```text
//! #[inline(never)] // one zeroing loop for every line: -96 B
//!
//! // called from three steps; inlined it is copied into each: -120 B
//! #[inline(never)]
//! ```
//!
//! A byte figure is an optional sign, digits with optional thousands commas, a space
//! and `B` as a word: `-120 B`, `+16 B`, `0 B`, `-1,040 B`. Comments, doc text and
//! string literals that mention `#[inline]` are not attributes and are not checked.

use std::path::{Path, PathBuf};

/// The folders whose `.rs` files are checked, from the workspace root.
pub const DIRS: [&str; 3] = ["core/src", "rt/src", "cli-min/src"];

/// `cargo xtask tidy`: prints every offender; fails if there is one.
pub fn main(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("tidy: unknown argument `{a}`"));
    }
    let found = check(&crate::util::root())?;
    for line in &found {
        println!("{line}");
    }
    if found.is_empty() {
        println!(
            "tidy: ok (every #[inline] in {} has its reason and bytes)",
            DIRS.join(", ")
        );
        Ok(())
    } else {
        Err(format!(
            "tidy: {} #[inline] attribute(s) without a reason and measured bytes",
            found.len()
        ))
    }
}

/// Every offender under `root`'s [`DIRS`], as `path:line: message`, in path order.
pub fn check(root: &Path) -> Result<Vec<String>, String> {
    let mut files = Vec::new();
    for dir in DIRS {
        rs_files(&root.join(dir), &mut files)?;
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (line, attr) in unexplained_inlines(&text) {
            out.push(format!(
                "{shown}:{line}: {attr} without a reason and its measured bytes \
                 (write: // <why>: -N B)"
            ));
        }
    }
    Ok(out)
}

/// The `.rs` files under `dir`, recursively.
fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            rs_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The `#[inline...]` attributes of a source file that have no byte figure in a `//`
/// comment on their line or the line above: (1-based line, the attribute as written
/// canonically, e.g. `#[inline(never)]`).
pub fn unexplained_inlines(text: &str) -> Vec<(usize, &'static str)> {
    let lines = split(text);
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(attr) = inline_attr(&line.code) else {
            continue;
        };
        // The line above counts when it is a comment and nothing else.
        let above = i
            .checked_sub(1)
            .map(|j| &lines[j])
            .filter(|l| l.code.trim().is_empty())
            .and_then(|l| l.comment.as_deref());
        if ![line.comment.as_deref(), above]
            .into_iter()
            .flatten()
            .any(has_bytes)
        {
            out.push((i + 1, attr));
        }
    }
    out
}

/// The inline attribute in a line's code (comments and literals already removed).
fn inline_attr(code: &str) -> Option<&'static str> {
    let mut rest = code;
    while let Some(at) = rest.find("#[") {
        let after = rest[at + 2..].trim_start();
        rest = &rest[at + 2..];
        let Some(after) = after.strip_prefix("inline") else {
            continue;
        };
        let after = after.trim_start();
        if after.starts_with(']') {
            return Some("#[inline]");
        }
        let Some(arg) = after.strip_prefix('(') else {
            continue;
        };
        let Some((word, tail)) = arg.split_once(')') else {
            continue;
        };
        if !tail.trim_start().starts_with(']') {
            continue;
        }
        match word.trim() {
            "always" => return Some("#[inline(always)]"),
            "never" => return Some("#[inline(never)]"),
            _ => {}
        }
    }
    None
}

/// True when `comment` holds a byte figure: an optional sign, digits (thousands commas
/// allowed), one space, then `B` as a word: `-120 B`, `+16 B`, `0 B`, `-1,040 B`.
pub fn has_bytes(comment: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    comment.match_indices(" B").any(|(at, _)| {
        let after = comment[at + 2..].chars().next();
        if after.is_some_and(word) {
            return false;
        }
        let number = &comment[..at];
        let start = number
            .rfind(|c: char| !(c.is_ascii_digit() || c == ','))
            .map_or(0, |i| i + 1);
        let digits = &number[start..];
        let lead = number[..start]
            .strip_suffix(['+', '-'])
            .unwrap_or(&number[..start]);
        digits.starts_with(|c: char| c.is_ascii_digit())
            && digits.ends_with(|c: char| c.is_ascii_digit())
            && !digits.contains(",,")
            && !lead.ends_with(|c: char| word(c) || c == '.' || c == ',')
    })
}

/// One line of Rust source: its code with comments removed and string and char
/// literals emptied, and the text of its `//` comment (after the slashes), if any.
#[derive(Debug, Default)]
struct Line {
    code: String,
    comment: Option<String>,
}

/// Where the scanner is.
enum State {
    Code,
    /// In a `//` comment (to the end of the line).
    LineComment,
    /// In `/* */` comments, nested this deep.
    Block(usize),
    /// In a string literal.
    Str,
    /// In a raw string literal closed by `"` and this many `#`.
    Raw(usize),
}

/// Splits source text into [`Line`]s, following comments, strings, raw strings, char
/// literals and lifetimes across lines.
fn split(text: &str) -> Vec<Line> {
    let chars: Vec<char> = text.chars().collect();
    let mut lines = vec![Line::default()];
    let mut state = State::Code;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let line = lines.last_mut().expect("one line at least");
        if c == '\n' {
            if matches!(state, State::LineComment) {
                state = State::Code;
            }
            lines.push(Line::default());
            i += 1;
            continue;
        }
        match state {
            State::LineComment => line.comment.get_or_insert_with(String::new).push(c),
            State::Block(depth) => {
                if c == '*' && next == Some('/') {
                    state = if depth == 1 {
                        State::Code
                    } else {
                        State::Block(depth - 1)
                    };
                    i += 1;
                } else if c == '/' && next == Some('*') {
                    state = State::Block(depth + 1);
                    i += 1;
                }
            }
            State::Str => {
                // An escape skips the next char, but not a line break (`\` at the end
                // of a line continues the string on the next).
                if c == '\\' && next != Some('\n') {
                    i += 1;
                } else if c == '"' {
                    line.code.push('"');
                    state = State::Code;
                }
            }
            State::Raw(hashes) => {
                if c == '"'
                    && chars[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes
                {
                    line.code.push('"');
                    state = State::Code;
                    i += hashes;
                }
            }
            State::Code => {
                let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
                if c == '/' && next == Some('/') {
                    line.comment = Some(String::new());
                    state = State::LineComment;
                    i += 1;
                } else if c == '/' && next == Some('*') {
                    state = State::Block(1);
                    i += 1;
                } else if c == '"' {
                    line.code.push('"');
                    state = State::Str;
                } else if let Some((hashes, quote)) = raw_start(&chars, i).filter(|_| !ident_before)
                {
                    line.code.push('"');
                    state = State::Raw(hashes);
                    i = quote;
                } else if c == '\'' {
                    // A char literal ('x', '\n', '\''), else a lifetime ('a).
                    if next == Some('\\') {
                        let close = chars[i + 2..].iter().position(|&q| q == '\'');
                        i += close.map_or(1, |p| p + 2);
                        line.code.push_str("' '");
                    } else if chars.get(i + 2) == Some(&'\'') {
                        i += 2;
                        line.code.push_str("' '");
                    } else {
                        line.code.push(c);
                    }
                } else {
                    line.code.push(c);
                }
            }
        }
        i += 1;
    }
    lines
}

/// At `r"`, `r#"`, `br##"`...: a raw string starts at `i`, with this many `#`, and its
/// opening quote at this index.
fn raw_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let r = match chars.get(i) {
        Some('r') => i,
        Some('b') if chars.get(i + 1) == Some(&'r') => i + 1,
        _ => return None,
    };
    let hashes = chars[r + 1..].iter().take_while(|&&h| h == '#').count();
    let quote = r + 1 + hashes;
    (chars.get(quote) == Some(&'"')).then_some((hashes, quote))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_figures() {
        for ok in [
            "-120 B",
            "x86_64 +16 B",
            "0 B",
            "-1,040 B",
            "saves 96 B.",
            "(-8 B)",
        ] {
            assert!(has_bytes(ok), "{ok}");
        }
        for bad in [
            "",
            "smaller",
            "-120B",
            "-120 bytes",
            "-120 Bytes",
            "x86_64 B",
            "0x40 B",
            "1.5 B",
            ",5 B",
        ] {
            assert!(!has_bytes(bad), "{bad}");
        }
    }

    #[test]
    fn reason_on_the_line_or_above() {
        let ok = "\
#[inline(never)] // one zeroing loop for every line: -96 B
fn a() {}

// called from three steps; inlined it is copied into each: -120 B
#[inline(never)]
fn b() {}

#[inline] // -1,040 B on mipsel
fn c() {}
";
        assert_eq!(unexplained_inlines(ok), []);
    }

    #[test]
    fn rejects_bare_and_figureless() {
        let bad = "\
#[inline]
fn a() {}
#[inline(always)] // it is faster
fn b() {}
// smaller this way
#[inline(never)]
fn c() {}
// -16 B, but two lines up
#[must_use]
#[inline]
fn d() {}
let x = 1; // -16 B
#[inline(never)]
fn e() {}
";
        assert_eq!(
            unexplained_inlines(bad),
            [
                (1, "#[inline]"),
                (3, "#[inline(always)]"),
                (6, "#[inline(never)]"),
                (10, "#[inline]"),
                (13, "#[inline(never)]")
            ]
        );
    }

    #[test]
    fn ignores_inline_that_is_no_attribute() {
        let text = r####"
/// Marked `#[inline(never)]` on purpose: see below.
//! #[inline] in crate docs
// #[inline(always)] commented out
/* #[inline]
   #[inline(never)] */
const S: &str = "#[inline]";
const R: &str = r#"#[inline(never)] "quoted" "#;
const Q: &str = "a \" #[inline] b";
fn f<'a>(x: &'a str) -> char { '"' }
#[inline_helper]
#[inline(size)]
"####;
        assert_eq!(unexplained_inlines(text), []);
        // ...while an attribute after such things is still seen.
        let after = "const S: &str = \"// \\\"\";\nfn f<'a>() {}\n#[inline]\nfn g() {}\n";
        assert_eq!(unexplained_inlines(after), [(3, "#[inline]")]);
    }

    #[test]
    fn spaced_attributes_are_attributes() {
        assert_eq!(
            inline_attr("#[ inline ( never ) ]"),
            Some("#[inline(never)]")
        );
        assert_eq!(inline_attr("    #[inline] #[must_use]"), Some("#[inline]"));
        assert_eq!(inline_attr("#[cold]"), None);
    }
}
