//! Word tables with one source: [`words!`](crate::words!) declares an enum and the word
//! of each variant side by side, so that a variant and its word cannot drift apart.
//!
//! The words are kept as one string, `"a\nb\nc\n"`, looked up by index or by word: a
//! table of `&str` costs 8 to 16 bytes of pointer and length per entry (plus a
//! relocation each); a blob costs the text alone.

/// The `i`-th entry of a `\n`-terminated blob (empty past the end).
pub fn nth(blob: &'static str, i: usize) -> &'static str {
    let mut rest = blob;
    let mut k = 0;
    while let Some(end) = rest.bytes().position(|b| b == b'\n') {
        if k == i {
            return rest.get(..end).unwrap_or("");
        }
        rest = rest.get(end + 1..).unwrap_or("");
        k += 1;
    }
    ""
}

/// The index of `word` in a `\n`-terminated blob, ignoring ASCII case when asked.
pub fn find(blob: &'static str, word: &[u8], ignore_case: bool) -> Option<usize> {
    let mut i = 0;
    loop {
        let w = nth(blob, i);
        if w.is_empty() {
            return None;
        }
        if same(w.as_bytes(), word, ignore_case) {
            return Some(i);
        }
        i += 1;
    }
}

/// Whether `a` and `b` are the same bytes, ignoring ASCII case when asked: a byte loop
/// (core's `<[u8]>::eq_ignore_ascii_case` goes 16 bytes at a time: 313 B).
pub(crate) fn same(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || (ignore_case && x.eq_ignore_ascii_case(y)))
}

/// Declares a `#[repr(u8)]` enum whose variants each carry a word, with:
/// - `ALL`: every variant in declaration order (the discriminants are `0..ALL.len()`);
/// - `WORDS`: the words as one `\n`-terminated blob, in the same order;
/// - `as_str()`: the variant's word; `from_u8()`: the variant of a discriminant.
///
/// Variants after `@feature "NAME" { ... }` (and a second section, `@also "NAME" { ...
/// }`, after a first) exist (and are in `ALL` and `WORDS`) only with that cargo feature of
/// the crate that expands the macro: without it they cost nothing, not even a wider
/// discriminant range.
///
/// ```ignore
/// words! {
///     /// What a thing is.
///     pub enum Kind {
///         /// A first one.
///         First = "first",
///         /// A second one.
///         Second = "second",
///     }
/// }
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! words {
    (@all $name:ident [$($v:ident)+]) => { &[$($name::$v,)+] };
    (@all $name:ident [$($v:ident)+] $feat:literal [$($f:ident)+] $feat2:literal [$($g:ident)+]) => {{
        #[cfg(all(feature = $feat, feature = $feat2))]
        const ALL: &[$name] = &[$($name::$v,)+ $($name::$f,)+ $($name::$g,)+];
        #[cfg(all(feature = $feat, not(feature = $feat2)))]
        const ALL: &[$name] = &[$($name::$v,)+ $($name::$f,)+];
        #[cfg(all(not(feature = $feat), feature = $feat2))]
        const ALL: &[$name] = &[$($name::$v,)+ $($name::$g,)+];
        #[cfg(not(any(feature = $feat, feature = $feat2)))]
        const ALL: &[$name] = &[$($name::$v,)+];
        ALL
    }};
    (@all $name:ident [$($v:ident)+] $feat:literal [$($f:ident)+]) => {{
        #[cfg(feature = $feat)]
        const ALL: &[$name] = &[$($name::$v,)+ $($name::$f,)+];
        #[cfg(not(feature = $feat))]
        const ALL: &[$name] = &[$($name::$v,)+];
        ALL
    }};
    (@words [$($w:literal)+]) => { concat!($($w, "\n",)+) };
    (@words [$($w:literal)+] $feat:literal [$($f:literal)+] $feat2:literal [$($g:literal)+]) => {{
        #[cfg(all(feature = $feat, feature = $feat2))]
        const WORDS: &str = concat!($($w, "\n",)+ $($f, "\n",)+ $($g, "\n",)+);
        #[cfg(all(feature = $feat, not(feature = $feat2)))]
        const WORDS: &str = concat!($($w, "\n",)+ $($f, "\n",)+);
        #[cfg(all(not(feature = $feat), feature = $feat2))]
        const WORDS: &str = concat!($($w, "\n",)+ $($g, "\n",)+);
        #[cfg(not(any(feature = $feat, feature = $feat2)))]
        const WORDS: &str = concat!($($w, "\n",)+);
        WORDS
    }};
    (@words [$($w:literal)+] $feat:literal [$($f:literal)+]) => {{
        #[cfg(feature = $feat)]
        const WORDS: &str = concat!($($w, "\n",)+ $($f, "\n",)+);
        #[cfg(not(feature = $feat))]
        const WORDS: &str = concat!($($w, "\n",)+);
        WORDS
    }};
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal, )+
            $( @feature $feat:literal {
                $( $(#[$fmeta:meta])* $fvariant:ident = $fword:literal, )+
            } )?
            $( @also $feat2:literal {
                $( $(#[$gmeta:meta])* $gvariant:ident = $gword:literal, )+
            } )?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
            $( $( $(#[$fmeta])* #[cfg(feature = $feat)] $fvariant, )+ )?
            $( $( $(#[$gmeta])* #[cfg(feature = $feat2)] $gvariant, )+ )?
        }

        impl $name {
            /// Every value, in declaration order (discriminant order).
            pub const ALL: &'static [$name] = $crate::words!(@all $name [$($variant)+]
                $($feat [$($fvariant)+])? $($feat2 [$($gvariant)+])?);

            /// The words of [`Self::ALL`], each followed by `\n`.
            pub const WORDS: &'static str = $crate::words!(@words [$($word)+]
                $($feat [$($fword)+])? $($feat2 [$($gword)+])?);

            /// The word of this value.
            pub fn as_str(self) -> &'static str {
                $crate::__cli::nth(Self::WORDS, self as usize)
            }

            /// The value whose discriminant is `b`.
            pub const fn from_u8(b: u8) -> Option<$name> {
                if (b as usize) < Self::ALL.len() {
                    Some(Self::ALL[b as usize])
                } else {
                    None
                }
            }
        }
    };
}

#[cfg(test)]
#[allow(unexpected_cfgs)] // `Gated` names a feature no build has, on purpose
mod tests {
    use super::*;

    crate::words! {
        /// A test table.
        enum Kind {
            /// 1
            One = "one",
            /// 2
            Two = "two",
            /// 3
            Three = "three",
        }
    }

    crate::words! {
        /// A table with a part behind a feature this crate does not have.
        enum Gated {
            /// a
            A = "a",
            @feature "no-such-feature" {
                /// b
                B = "b",
            }
        }
    }

    #[test]
    fn gated_words_need_their_feature() {
        assert_eq!((Gated::ALL, Gated::WORDS), (&[Gated::A][..], "a\n"));
        assert_eq!((Gated::from_u8(1), Gated::A.as_str()), (None, "a"));
    }

    #[test]
    fn lookups() {
        assert_eq!(Kind::WORDS, "one\ntwo\nthree\n");
        for (i, &k) in Kind::ALL.iter().enumerate() {
            assert_eq!(k as usize, i);
            assert_eq!(Kind::from_u8(i as u8), Some(k));
            assert_eq!(find(Kind::WORDS, k.as_str().as_bytes(), false), Some(i));
        }
        assert_eq!(Kind::Three.as_str(), "three");
        assert_eq!(Kind::from_u8(3), None);
        assert_eq!(nth(Kind::WORDS, 3), "");
        assert_eq!(find(Kind::WORDS, b"TWO", true), Some(1));
        assert_eq!(find(Kind::WORDS, b"TWO", false), None);
        assert_eq!(find(Kind::WORDS, b"", false), None);
        assert_eq!(find(Kind::WORDS, b"on", false), None);
    }
}
