//! The passwd and group readers on arbitrary file content: a lookup by name and by
//! number, and the supplementary groups of a user. Never a panic; a user found has
//! what fits a `User`.
#![no_main]

use imp_core::limits::{HOME_MAX, USER_NAME_MAX};
use imp_core::user::{self, Groups, User};
use libfuzzer_sys::fuzz_target;
use std::ffi::CString;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("imp-fuzz-passwd-{}", std::process::id()));
    let Ok(mut f) = std::fs::File::create(&path) else { return };
    if f.write_all(data).is_err() {
        return;
    }
    drop(f);
    let c = CString::new(path.to_str().unwrap()).unwrap();
    for spec in [&b"root"[..], b"0", b"app", b"1000", b"x"] {
        let mut u = User::default();
        if user::lookup_user_in(&c, spec, &mut u).is_ok() {
            assert!(u.name.len() <= USER_NAME_MAX && u.home.len() <= HOME_MAX);
        }
        let _ = user::lookup_group_in(&c, spec);
        let mut g = Groups::new();
        let _ = user::groups_of_in(&c, spec, 0, &mut g);
    }
});
