//! Word tables as one string each: `"a\nb\nc"`, looked up by index or by word. A
//! table of `&str` costs 16 bytes of pointers per entry on 64-bit targets plus
//! relocations; a blob costs the text alone.

/// The `i`-th `\n`-separated entry of `blob` (empty past the end).
pub fn nth(blob: &'static str, i: usize) -> &'static str {
    let b = blob.as_bytes();
    let (mut start, mut k) = (0, 0);
    for j in 0..=b.len() {
        if j == b.len() || b[j] == b'\n' {
            if k == i {
                return blob.get(start..j).unwrap_or("");
            }
            k += 1;
            start = j + 1;
        }
    }
    ""
}

/// The index of `word` in `blob`, ignoring ASCII case when asked.
pub fn find(blob: &'static str, word: &[u8], ignore_case: bool) -> Option<usize> {
    let mut i = 0;
    loop {
        let w = nth(blob, i);
        if w.is_empty() {
            return None;
        }
        if w.len() == word.len()
            && w.bytes()
                .zip(word)
                .all(|(a, &b)| a == b || (ignore_case && a.eq_ignore_ascii_case(&b)))
        {
            return Some(i);
        }
        i += 1;
    }
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
