//! The environment builder: inherited entries (from the input, split at NUL bytes),
//! `--env` entries, `--clear-env`, and a user's HOME/USER/LOGNAME. Never a panic; an
//! unchanged environment passes whole, whatever its size; a changed one has each
//! `--env` entry and at most 256 entries, or is refused.
#![no_main]

use imp_core::spawn::{Credentials, Spec};
use imp_core::user::{Groups, User};
use imp_core::CStrArray;
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, CStr, CString};

fn name(e: &[u8]) -> &[u8] {
    e.split(|&b| b == b'=').next().unwrap_or(e)
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut parts = rest.split(|&b| b == 0).map(|p| CString::new(p).unwrap());
    let set: Vec<CString> = parts
        .by_ref()
        .take(usize::from(flags >> 4) % 8)
        .filter(|e| name(e.as_bytes()).len() < e.as_bytes().len() && !name(e.as_bytes()).is_empty())
        .collect();
    let inherited: Vec<CString> = parts.take(600).collect();
    let mut ptrs: Vec<*const c_char> = inherited.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: a NULL-terminated array of C strings, unchanged while it is used (the
    // whole iteration).
    let envp = unsafe { CStrArray::from_raw(ptrs.as_ptr()) };
    let set_refs: Vec<&CStr> = set.iter().map(|c| c.as_c_str()).collect();
    let mut spec = Spec::new(c"/bin/true", CStrArray::empty(), envp);
    spec.set_env = &set_refs;
    spec.clear_env = flags & 1 != 0;
    if flags & 2 != 0 {
        let mut user = User::default();
        let _ = user.name.extend_from_slice(b"app");
        let _ = user.home.extend_from_slice(b"/home/app");
        user.has_entry = true;
        spec.credentials = Some(Credentials { user, gid: 1, groups: Groups::new() });
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    let r = imp_core::__fuzz::environment(&spec, &mut |e| out.push(e.to_bytes().to_vec()));
    let changed = spec.clear_env || !set.is_empty() || flags & 2 != 0;
    match r {
        Ok(()) => {
            if changed {
                assert!(out.len() <= 256);
                for s in &set {
                    assert!(out.iter().any(|o| o == s.as_bytes()));
                }
            } else {
                assert_eq!(out.len(), inherited.len());
            }
        }
        Err(e) => assert!(changed, "unchanged environments always pass: {e:?}"),
    }
});
