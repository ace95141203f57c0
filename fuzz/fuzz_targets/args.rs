//! imp's argument parser on a whole argv: the input split at NUL bytes is argv[1..].
//! It may refuse anything, but must never panic, and what it accepts must be whole.
#![no_main]

#[path = "../../cli-min/src/args.rs"]
#[allow(dead_code)]
mod args;

use imp_core::CStrArray;
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, CString};

fuzz_target!(|data: &[u8]| {
    let mut owned = vec![CString::new("imp").unwrap()];
    owned.extend(
        data.split(|&b| b == 0)
            .take(200)
            .map(|a| CString::new(a).unwrap()),
    );
    let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: a NULL-terminated array of C strings, unchanged while the parser and
    // what it returns are used (all of it is dropped at the end of this iteration).
    let argv = unsafe { CStrArray::from_raw(ptrs.as_ptr()) };
    if let Ok(cmd) = args::parse(argv) {
        if let Some(p) = cmd.pidfile {
            assert!(!p.to_bytes().is_empty());
        }
        let _ = cmd.schedule();
    }
});
