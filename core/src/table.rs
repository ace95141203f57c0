//! Word tables as one string each: `"a\nb\nc"`, looked up by index or by word. A
//! table of `&str` costs 16 bytes of pointers per entry on 64-bit targets plus
//! relocations; a blob costs the text alone.

/// The `i`-th `\n`-separated entry of `blob` (empty past the end).
pub fn nth(blob: &'static str, i: usize) -> &'static str {
    blob.split('\n').nth(i).unwrap_or("")
}

/// The index of `word` in `blob`, ignoring ASCII case when asked.
pub fn find(blob: &'static str, word: &[u8], ignore_case: bool) -> Option<usize> {
    blob.split('\n').position(|w| {
        if ignore_case {
            w.as_bytes().eq_ignore_ascii_case(word)
        } else {
            w.as_bytes() == word
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        const T: &str = "one\ntwo\nthree";
        assert_eq!(nth(T, 0), "one");
        assert_eq!(nth(T, 2), "three");
        assert_eq!(nth(T, 3), "");
        assert_eq!(find(T, b"TWO", true), Some(1));
        assert_eq!(find(T, b"TWO", false), None);
        assert_eq!(find(T, b"", false), None);
    }
}
