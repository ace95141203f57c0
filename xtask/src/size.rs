//! `cargo xtask size`: the byte budget and the shape of every binary in `target/dist`.
//!
//! For each target built by `cargo xtask dist`: the shipped file's size (stripped of
//! symbols and section headers), the executable sections, the budget; then checks
//! that fail the command: over budget, not static (a `PT_INTERP`, a `PT_DYNAMIC` or a
//! `DT_NEEDED`), wrong architecture, and — on the unstripped copy — any `core::fmt`
//! or allocator symbol (STYLE.md 5,
//! SPEC §7 "no heap"). Then what each feature costs: the code bytes of every
//! binary split by the imp module (or other crate) it comes from, per [`FEATURES`].

use crate::elf::{self, Elf};
use crate::targets::{Target, TARGETS};
use crate::util::{self, table, thousands};

/// The budget per target, in bytes of the stripped binary (issue 3).
pub const BUDGET: u64 = 32 * 1024;

/// MIPS32's budget for now. Its fixed 4-byte instructions, delay slots and
/// two-instruction address loads make imp's code ~1.4x x86_64's (36.9 KB of code vs
/// 25.9 KB on the same tree); MIPS16 crashes LLVM (compiler_builtins), microMIPS does
/// not run on the 24Kc, and LLVM's off-by-default delay-slot search was not taken.
/// The 32 KiB goal is open (issue 3); this still fails a regression.
pub const BUDGET_MIPS: u64 = 48 * 1024;

/// The budget of one target.
pub fn budget(t: &Target) -> u64 {
    if t.arch == "mips" {
        BUDGET_MIPS
    } else {
        BUDGET
    }
}

/// `e_machine` expected for a target's architecture.
fn machine(arch: &str) -> u16 {
    match arch {
        "x86_64" => 62,
        "aarch64" => 183,
        "arm" => 40,
        "riscv64" => 243,
        "mips" => 8,
        _ => 0,
    }
}

/// What was measured and found for one binary.
pub struct Report {
    pub target: &'static Target,
    pub bytes: u64,
    pub text: u64,
    pub problems: Vec<String>,
}

/// Measures and checks the binary of one target (which must exist).
pub fn check(t: &'static Target) -> Result<Report, String> {
    let bin = util::dist_bin(t.triple);
    let bytes = std::fs::metadata(&bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    let e = Elf::read(&bin)?;
    let mut problems = Vec::new();
    let limit = budget(t);
    if bytes > limit {
        problems.push(format!(
            "{bytes} bytes is over the {limit}-byte budget by {}",
            bytes - limit
        ));
    }
    if e.machine != machine(t.arch) {
        problems.push(format!(
            "is a {} binary, expected {}",
            e.machine_name(),
            t.arch
        ));
    }
    if e.has_segment(elf::PT_INTERP)? {
        problems.push("has PT_INTERP: it wants a dynamic loader".into());
    }
    // The shipped file has no section headers (see dist's STRIP_FLAGS): its program
    // headers say whether it is dynamic; the unstripped copy names the libraries.
    if e.has_segment(elf::PT_DYNAMIC)? {
        problems.push("has PT_DYNAMIC: it is dynamically linked".into());
    }
    let unstripped = util::dist_unstripped(t.triple);
    let full = Elf::read(&unstripped);
    let needed = full.as_ref().map_or(Ok(Vec::new()), Elf::needed)?;
    if !needed.is_empty() {
        problems.push(format!("needs shared libraries: {}", needed.join(", ")));
    }
    if e.kind != elf::ET_EXEC {
        problems.push(format!(
            "e_type {} is not ET_EXEC (static-pie or a shared object)",
            e.kind
        ));
    }
    if !e.symbols()?.is_empty() {
        problems.push("is not stripped".into());
    }
    match full.as_ref().map_err(Clone::clone).and_then(Elf::symbols) {
        Err(err) => problems.push(format!("no unstripped copy to check symbols: {err}")),
        Ok(symbols) if symbols.is_empty() => problems.push(format!(
            "{} has no symbol table to check",
            unstripped.display()
        )),
        Ok(symbols) => {
            for what in ["core::fmt", "allocator"] {
                let found: Vec<_> = symbols
                    .iter()
                    .filter(|s| elf::forbidden(&s.name) == Some(what))
                    .map(|s| s.name.as_str())
                    .collect();
                if !found.is_empty() {
                    let more = if found.len() > 3 {
                        format!(" and {} more", found.len() - 3)
                    } else {
                        String::new()
                    };
                    problems.push(format!(
                        "has {what} symbols: {}{more}",
                        found[..found.len().min(3)].join(", ")
                    ));
                }
            }
        }
    }
    Ok(Report {
        target: t,
        bytes,
        text: full.as_ref().map_or(Ok(0), Elf::text_size)?,
        problems,
    })
}

/// The targets whose binary exists in `target/dist`, in [`TARGETS`] order.
fn built() -> Vec<&'static Target> {
    TARGETS
        .iter()
        .filter(|t| util::dist_bin(t.triple).is_file())
        .collect()
}

/// Checks every target whose binary exists (or the given ones); prints the table.
/// Errors when a check fails, or when no binary exists at all.
pub fn run(only: Option<&[&'static Target]>) -> Result<Vec<Report>, String> {
    let candidates: Vec<&'static Target> = match only {
        Some(list) => list.to_vec(),
        None => built(),
    };
    if candidates.is_empty() {
        return Err("size: no binaries in target/dist; run `cargo xtask dist` first".into());
    }
    let mut reports = Vec::new();
    let mut rows = Vec::new();
    for t in candidates {
        let r = check(t)?;
        let verdict = if r.problems.is_empty() {
            "ok".to_string()
        } else {
            "FAIL".to_string()
        };
        rows.push(vec![
            t.triple.to_string(),
            thousands(r.bytes),
            thousands(r.text),
            thousands(budget(r.target)),
            format!("{:.0}%", 100.0 * r.bytes as f64 / budget(r.target) as f64),
            verdict,
            t.note.to_string(),
        ]);
        reports.push(r);
    }
    println!(
        "\n{}",
        table(
            &["target", "bytes", ".text", "budget", "used", "check", "note"],
            &rows
        )
    );
    println!("checks: shipped size <= budget; static (no PT_INTERP, no PT_DYNAMIC, no DT_NEEDED, ET_EXEC); right e_machine;");
    println!("        no core::fmt and no allocator symbols (__rust_alloc, __rdl_*, malloc, alloc::*) in imp.unstripped");
    let mut failed = false;
    for r in &reports {
        for p in &r.problems {
            println!("FAIL {}: {p}", r.target.triple);
            failed = true;
        }
    }
    if failed {
        Err("size: checks failed (see above)".into())
    } else {
        Ok(reports)
    }
}

/// The largest symbols of one target's unstripped binary: where the bytes go.
fn top(triple: &str, n: usize) -> Result<(), String> {
    let path = util::dist_unstripped(triple);
    let mut syms = Elf::read(&path)?.symbols()?;
    syms.sort_by(|a, b| b.size.cmp(&a.size).then(a.name.cmp(&b.name)));
    syms.dedup_by(|a, b| a.name == b.name);
    let total: u64 = syms.iter().map(|s| s.size).sum();
    let rows: Vec<Vec<String>> = syms
        .iter()
        .take(n)
        .map(|s| vec![thousands(s.size), demangle_lite(&s.name)])
        .collect();
    println!(
        "\n{triple}: largest of {} symbols ({} bytes in sized symbols)",
        syms.len(),
        thousands(total)
    );
    print!("{}", table(&["bytes", "symbol"], &rows));
    Ok(())
}

/// `_ZN4core5slice4sort17h0123E` -> `core::slice::sort` (legacy mangling only; v0 names
/// are printed as they are).
fn demangle_lite(name: &str) -> String {
    let Some(mut rest) = name.strip_prefix("_ZN") else {
        return name.to_string();
    };
    let mut parts = Vec::new();
    while let Some(len_end) = rest.find(|c: char| !c.is_ascii_digit()) {
        let Ok(len) = rest[..len_end].parse::<usize>() else {
            break;
        };
        let Some(part) = rest.get(len_end..len_end + len) else {
            break;
        };
        if !(part.len() == 17 && part.starts_with('h')) {
            parts.push(
                part.replace("$LT$", "<")
                    .replace("$GT$", ">")
                    .replace("$u20$", " ")
                    .replace("..", "::"),
            );
        }
        rest = &rest[len_end + len..];
    }
    if parts.is_empty() {
        name.to_string()
    } else {
        parts.join("::")
    }
}

/// What each feature costs: symbol path patterns -> the feature they are part of.
/// First match wins, in this order (so `imp_core::sys::fork` is matched before
/// `imp_core::sys`, `imp::rt` before `imp`), which is also the order of the rows.
///
/// A pattern is a path prefix, crate first: `imp_core::pidfile` claims
/// `imp_core::pidfile::Probe::remove`. A one-segment pattern is also an unmangled
/// name (`memcpy`); a trailing `*` matches the start of a segment (`__*`: the
/// unmangled compiler intrinsics `__udivdi3`, `__aeabi_uidiv`). See [`symbol_path`]
/// for how a name becomes a path. What nothing claims is [`OTHER`].
pub const FEATURES: &[(&[&str], &str)] = &[
    (
        &["imp_core::pidfile", "imp_core::sys::lock_holder"],
        "pidfile contract (lock, probe, safe create/remove)",
    ),
    (
        &[
            "imp_core::spawn",
            "imp_core::sys::fork",
            "imp_core::sys::execve",
            "imp_core::sys::exit",
            "imp_core::sys::sigset_empty",
            "imp_core::sys::unblock_all_signals",
            "imp_core::sys::block_all_signals",
            "imp_core::sys::reset_signal_dispositions",
            "imp_core::sys::thread_count_is_one",
        ],
        "start: fork, report pipe, steps, exec",
    ),
    (
        &[
            "imp_core::fd::close_all_except",
            "imp_core::fd::close_from_proc",
            "imp_core::sys::close_range",
        ],
        "closing inherited fds",
    ),
    (
        &[
            "imp_core::user",
            "imp_core::sys::set_groups",
            "imp_core::sys::uid",
            "imp_core::sys::gid",
        ],
        "users and groups (--user/--group, privilege drop)",
    ),
    (&["imp_core::control"], "stop/signal (pidfd, schedules)"),
    (
        &["imp_core::parse", "imp_core::table"],
        "parsing values (signals, durations, schedules, pids)",
    ),
    (&["imp::args"], "command line (args)"),
    (
        &[
            "imp::fail",
            "imp::cause_text",
            "imp::subject",
            "imp::exit_code",
            "imp::usage",
            "imp::say",
            "imp::note",
            "imp::about",
            "imp::head",
            "imp::finish",
            "imp::shown",
            "imp::out",
            "imp_core::log",
            "imp_core::error",
        ],
        "messages and exit codes",
    ),
    (
        &[
            "imp::rt",
            "__rustc::rust_begin_unwind",
            "rust_begin_unwind",
            "memcpy",
            "memmove",
            "memset",
            "memcmp",
            "bcmp",
            "strlen",
            "_start",
            "__start",
        ],
        "runtime (_start, mem*, strlen)",
    ),
    (&["imp"], "commands (start/stop/status/signal/dry-run)"),
    (&["imp_core::fd", "imp_core::sys"], "fd helpers"),
    (
        &["rustix", "linux_raw_sys", "syscalls"],
        "rustix wrappers (not inlined)",
    ),
    (
        &["core", "compiler_builtins", "__*"],
        "core/compiler_builtins",
    ),
    (
        &["OUTLINED_FUNCTION_*"],
        "outlined by LLVM (shared by several features)",
    ),
];

/// The row of code that no pattern of [`FEATURES`] claims.
pub const OTHER: &str = "other";

/// imp's own crates: generic `core` code instantiated for their types is theirs.
const IMP_CRATES: [&str; 2] = ["imp", "imp_core"];

/// The row of [`FEATURES`] a symbol belongs to; `FEATURES.len()` for [`OTHER`].
fn feature(name: &str) -> usize {
    let path = symbol_path(name);
    FEATURES
        .iter()
        .position(|(patterns, _)| patterns.iter().any(|p| path_matches(p, &path)))
        .unwrap_or(FEATURES.len())
}

/// True when `pattern` (`a::b`, a trailing `*` on a segment matches its start) is a
/// prefix of `path`.
fn path_matches(pattern: &str, path: &[&str]) -> bool {
    let mut segments = path.iter();
    pattern.split("::").all(|p| {
        segments.next().is_some_and(|s| match p.strip_suffix('*') {
            Some(start) => s.starts_with(start),
            None => p == *s,
        })
    })
}

/// The identifier path of a symbol name, crate first: `["imp_core", "pidfile",
/// "lock"]` for `_ZN8imp_core7pidfile4lock17h0123456789abcdefE` (legacy mangling)
/// and for `_RNvNtCs1234_8imp_core7pidfile4lock` (v0); `[name]` for an unmangled name
/// (without a `.suffix`).
///
/// Only the leading crate and module identifiers matter, so the parse is partial: a
/// legacy `<A as B>` impl gives A's path (B's when A is a bare type parameter); a v0
/// name gives the identifiers that directly follow its first crate root, up to the
/// first tag it does not read (generic arguments, back-references like `B4_`, impl
/// self types). Generic `core` code instantiated for an imp type or closure
/// (`drop_in_place<imp_core::pidfile::Probe>`, `Split<u8, imp_core::user::..
/// ::{closure}>::any`) gives that imp path instead: the imp feature pulled it in.
/// A mangled name it cannot read gives an empty path.
fn symbol_path(name: &str) -> Vec<&str> {
    let (path, instance) = if let Some(rest) = name.strip_prefix("_ZN") {
        (legacy_path(rest), legacy_instance(name))
    } else if let Some(rest) = name.strip_prefix("_R") {
        let runs = v0_runs(rest);
        let instance = runs
            .iter()
            .skip(1)
            .find(|r| r.len() >= 2 && IMP_CRATES.contains(&r[0]))
            .cloned();
        (runs.into_iter().next().unwrap_or_default(), instance)
    } else {
        return vec![name.split_once('.').map_or(name, |(n, _)| n)];
    };
    match instance {
        Some(imp) if path.first() == Some(&"core") => imp,
        _ => path,
    }
}

/// The path of a legacy name after its `_ZN`: the identifiers up to the hash, the
/// first one (an impl's `<A as B>`) replaced by the path of A (or B).
fn legacy_path(mut rest: &str) -> Vec<&str> {
    let mut idents = Vec::new();
    while let Some(digits) = rest.find(|c: char| !c.is_ascii_digit()) {
        let Ok(len) = rest[..digits].parse::<usize>() else {
            break;
        };
        let Some(id) = rest.get(digits..digits + len) else {
            break;
        };
        let hash =
            id.len() == 17 && id.starts_with('h') && id[1..].bytes().all(|c| c.is_ascii_hexdigit());
        if !hash {
            idents.push(id);
        }
        rest = &rest[digits + len..];
    }
    let Some(first) = idents.first() else {
        return idents;
    };
    let Some(inner) = first.trim_start_matches('_').strip_prefix("$LT$") else {
        return idents;
    };
    let (own, of_trait) = inner.split_once("$u20$as$u20$").unwrap_or((inner, ""));
    let mut ty = if own.contains("..") || of_trait.is_empty() {
        own
    } else {
        of_trait
    };
    // Leading `&`, `*const`, `[`: `$RF$`, `$BP$const$u20$`, `$u5b$`, `mut$u20$`.
    loop {
        if let Some(after) = ty.strip_prefix('$').and_then(|r| r.split_once('$')) {
            ty = after.1;
        } else if let Some(after) = ["mut$u20$", "const$u20$"]
            .iter()
            .find_map(|p| ty.strip_prefix(p))
        {
            ty = after;
        } else {
            break;
        }
    }
    let end = ty.find('$').unwrap_or(ty.len());
    let mut path: Vec<&str> = ty[..end].split("..").filter(|s| !s.is_empty()).collect();
    path.extend(&idents[1..]);
    path
}

/// An imp path inside the generic arguments of a legacy name
/// (`drop_in_place$LT$imp_core..pidfile..Probe$GT$` -> `imp_core::pidfile::Probe`).
fn legacy_instance(name: &str) -> Option<Vec<&str>> {
    name.match_indices("$imp").find_map(|(at, _)| {
        let ty = &name[at + 1..];
        let end = ty.find('$').unwrap_or(ty.len());
        let path: Vec<&str> = ty[..end].split("..").collect();
        (path.len() >= 2 && IMP_CRATES.contains(&path[0])).then_some(path)
    })
}

/// The identifier runs of a v0 name after its `_R`: each crate root
/// (`Cs<disambiguator>_<ident>`) with the identifiers nested right under it, e.g.
/// `imp_core, pidfile, lock` in `NvNtCs1234_8imp_core7pidfile4lock`.
fn v0_runs(s: &str) -> Vec<Vec<&str>> {
    let b = s.as_bytes();
    let mut runs = Vec::new();
    let mut from = 0;
    while let Some(at) = s.get(from..).and_then(|r| r.find("Cs")) {
        let mut i = from + at + 1;
        from = i;
        let Some(after) = v0_disambiguator(b, i) else {
            continue;
        };
        i = after;
        let mut run = Vec::new();
        loop {
            if let Some(next) = v0_disambiguator(b, i) {
                i = next;
            } else if let Some((id, next)) = v0_ident(s, i) {
                run.push(id);
                i = next;
            } else {
                break;
            }
        }
        if !run.is_empty() {
            runs.push(run);
            from = i;
        }
    }
    runs
}

/// The index after a v0 disambiguator `s<base-62>_` at `i`.
fn v0_disambiguator(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b's') {
        return None;
    }
    let n = b
        .get(i + 1..)?
        .iter()
        .position(|c| !c.is_ascii_alphanumeric())?;
    (b.get(i + 1 + n) == Some(&b'_')).then_some(i + 2 + n)
}

/// The v0 identifier `<decimal length>[_]<bytes>` at `i`, and the index after it
/// (`0` is the empty name of a closure).
fn v0_ident(s: &str, i: usize) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    let digits = match b.get(i)? {
        b'0' => 1,
        b'1'..=b'9' => b[i..]
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(b.len() - i),
        _ => return None,
    };
    let len: usize = s.get(i..i + digits)?.parse().ok()?;
    let mut start = i + digits;
    if len > 0 && b.get(start) == Some(&b'_') {
        start += 1;
    }
    let end = start.checked_add(len)?;
    Some((s.get(start..end)?, end))
}

/// Where the bytes of one binary go.
struct Costs {
    /// Code bytes per row of [`FEATURES`], then [`OTHER`].
    rows: Vec<u64>,
    /// All code bytes in sized symbols.
    total: u64,
    /// Bytes of `.rodata*` sections, which no feature is charged for.
    rodata: u64,
}

/// Splits the code of an unstripped binary by feature: the functions (`STT_FUNC`)
/// and sized untyped symbols in executable sections, each address counted once.
fn costs(path: &std::path::Path) -> Result<Costs, String> {
    let e = Elf::read(path)?;
    let sections = e.sections()?;
    let in_code = |i: u16| {
        sections
            .get(usize::from(i))
            .is_some_and(|s| s.flags & elf::SHF_EXECINSTR != 0)
    };
    let mut code: Vec<elf::Symbol> = e
        .symbols()?
        .into_iter()
        .filter(|s| {
            s.size > 0
                && (s.kind == elf::STT_FUNC || (s.kind == elf::STT_NOTYPE && in_code(s.section)))
        })
        .collect();
    if code.is_empty() {
        return Err(format!("{} has no function symbols", path.display()));
    }
    code.sort_by(|a, b| a.value.cmp(&b.value).then(a.name.cmp(&b.name)));
    code.dedup_by_key(|s| s.value);
    let mut rows = vec![0; FEATURES.len() + 1];
    for s in &code {
        rows[feature(&s.name)] += s.size;
    }
    Ok(Costs {
        total: rows.iter().sum(),
        rows,
        rodata: sections
            .iter()
            .filter(|s| s.name.starts_with(".rodata"))
            .map(|s| s.size)
            .sum(),
    })
}

/// A column title for a triple: its architecture, `-gnu` for the glibc host build.
fn short(triple: &str) -> String {
    let arch = triple.split('-').next().unwrap_or(triple);
    if triple.ends_with("-gnu") {
        format!("{arch}-gnu")
    } else {
        arch.to_string()
    }
}

/// Prints what each feature costs in every binary (columns) from the unstripped
/// copies; a binary whose copy cannot be read is named and left out. Informative only:
/// it never fails `cargo xtask size`.
fn feature_table(targets: &[&'static Target]) {
    let mut columns = Vec::new();
    for t in targets {
        match costs(&util::dist_unstripped(t.triple)) {
            Ok(c) => columns.push((*t, c)),
            Err(e) => println!("features: {}: {e}", t.triple),
        }
    }
    if columns.is_empty() {
        return;
    }
    let labels = FEATURES.iter().map(|(_, label)| *label).chain([OTHER]);
    let mut rows: Vec<Vec<String>> = labels
        .enumerate()
        .map(|(i, label)| {
            let mut row = vec![label.to_string()];
            row.extend(columns.iter().map(|(_, c)| match c.rows[i] {
                0 => "-".to_string(),
                n => thousands(n),
            }));
            row
        })
        .collect();
    let mut total = vec!["total (sized symbols)".to_string()];
    total.extend(columns.iter().map(|(_, c)| thousands(c.total)));
    rows.push(total);
    let titles: Vec<String> = columns.iter().map(|(t, _)| short(t.triple)).collect();
    let mut header = vec!["what each feature costs (bytes of code)"];
    header.extend(titles.iter().map(|s| s.as_str()));
    println!("\n{}", table(&header, &rows));
    let rodata: Vec<String> = columns
        .iter()
        .map(|(t, c)| format!("{} {}", short(t.triple), thousands(c.rodata)))
        .collect();
    println!(
        "not attributed: .rodata (message words, help text, tables): {} bytes",
        rodata.join(", ")
    );
    for (t, c) in &columns {
        let other = c.rows[FEATURES.len()];
        if other * 50 > c.total {
            println!(
                "note: {}: {} bytes ({:.1}%) of code in \"{OTHER}\"; refine FEATURES in xtask/src/size.rs",
                t.triple,
                thousands(other),
                100.0 * other as f64 / c.total as f64
            );
        }
    }
}

/// `cargo xtask size [--top N] [--target T]`.
pub fn main(args: &[String]) -> Result<(), String> {
    let mut top_n = None;
    let mut triple = crate::targets::HOST.to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--top" => {
                top_n = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .ok_or("--top needs a number")?,
                )
            }
            "--target" => triple = it.next().ok_or("--target needs a triple")?.clone(),
            other => return Err(format!("size: unknown argument `{other}`")),
        }
    }
    let result = run(None).map(|_| ());
    feature_table(&built());
    if let Some(n) = top_n {
        top(&triple, n)?;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_legacy_names() {
        assert_eq!(
            demangle_lite("_ZN8imp_core7pidfile4lock17h0123456789abcdefE"),
            "imp_core::pidfile::lock"
        );
        assert_eq!(demangle_lite("memcpy"), "memcpy");
    }

    /// The label of the row a symbol name is charged to.
    fn label(name: &str) -> &'static str {
        FEATURES
            .get(feature(name))
            .map_or(OTHER, |(_, label)| *label)
    }

    #[test]
    fn paths_of_real_names() {
        // Legacy (stable: x86_64, aarch64).
        assert_eq!(
            symbol_path("_ZN8imp_core7pidfile8read_pid17h637c63d8563375f3E"),
            ["imp_core", "pidfile", "read_pid"]
        );
        assert_eq!(
            symbol_path("_ZN113_$LT$rustix..maybe_polyfill..os..fd..owned..OwnedFd$u20$as$u20$rustix..maybe_polyfill..os..fd..raw..FromRawFd$GT$11from_raw_fd17h1b3602129ec7ec36E")[..2],
            ["rustix", "maybe_polyfill"]
        );
        assert_eq!(
            symbol_path("_ZN63_$LT$A$u20$as$u20$core..slice..cmp..SlicePartialEq$LT$B$GT$$GT$17equal_same_length17h9d81702c41dd6453E")[..3],
            ["core", "slice", "cmp"]
        );
        assert_eq!(
            symbol_path(
                "_ZN4core3ptr45drop_in_place$LT$imp_core..pidfile..Probe$GT$17h0f852e2c3e4be304E"
            ),
            ["imp_core", "pidfile", "Probe"]
        );
        // v0 (nightly: armv7, riscv64, mips*), with back-references and closures.
        assert_eq!(
            symbol_path("_RNvNtCsf7gCaGInNqK_8imp_core3sys11lock_holder"),
            ["imp_core", "sys", "lock_holder"]
        );
        assert_eq!(
            symbol_path("_RNvMs_NtCsf7gCaGInNqK_8imp_core3sysNtB4_9CStrArray3get"),
            ["imp_core", "sys"]
        );
        assert_eq!(
            symbol_path("_RNCNvNtCs9H9eDMrBMaS_8imp_core2fd16close_all_except0B5_"),
            ["imp_core", "fd", "close_all_except", ""]
        );
        assert_eq!(
            symbol_path("_RNvCseulmdZsCeCG_7___rustc17rust_begin_unwind"),
            ["__rustc", "rust_begin_unwind"]
        );
        assert_eq!(
            symbol_path("_RINvNtNtCsjQy19pmdv11_6rustix2fs2at6statatRNtNtNtCsakjjTc6oI4a_4core3ffi5c_str4CStrNtNtNtNtNtB6_14maybe_polyfill2os2fd5owned10BorrowedFdECs9H9eDMrBMaS_8imp_core"),
            ["rustix", "fs", "at", "statat"]
        );
        assert_eq!(
            symbol_path("_RINvYINtNtNtCsakjjTc6oI4a_4core5slice4iter5SplithNCNCNvNtCs9H9eDMrBMaS_8imp_core4user12groups_of_in00ENtNtNtNtBa_4iter6traits8iterator8Iterator3anyNCBN_s_0EBT_"),
            ["imp_core", "user", "groups_of_in", "", ""]
        );
        assert_eq!(symbol_path("memcpy"), ["memcpy"]);
        assert!(symbol_path("_RNvXB5_").is_empty());
    }

    #[test]
    fn features_of_real_names() {
        let cases = [
            ("_ZN8imp_core7pidfile8read_pid17h637c63d8563375f3E", "pidfile contract"),
            ("_ZN8imp_core3sys11lock_holder17h0e78b02cb3f3ee91E", "pidfile contract"),
            ("_RINvNtCsakjjTc6oI4a_4core3ptr9drop_glueNtNtCs9H9eDMrBMaS_8imp_core7pidfile5ProbeEBF_", "pidfile contract"),
            ("_ZN8imp_core3sys4fork17h738a26ba45db4661E", "start:"),
            ("_RNvXsf_NtNtCs30nxMIy8vFb_4core5slice4iterINtB5_5SplithNCNvNtCshnEQJZdMpFH_8imp_core3sys19thread_count_is_ones_0ENtNtNtNtB9_4iter6traits8iterator8Iterator4nextBW_", "start:"),
            ("_RNCNvNtCs9H9eDMrBMaS_8imp_core2fd16close_all_except0B5_", "closing"),
            ("_RNvNtCsf7gCaGInNqK_8imp_core3sys3uid", "users"),
            ("_RNvMNtCsf7gCaGInNqK_8imp_core7controlNtB2_6Target4send", "stop/signal"),
            ("_RINvMNtCsjM9tlqvqsbo_4core6optionINtB3_6OptionNtNtCs9PhBvEiGtRC_6rustix3pid3PidE11is_some_andNCNvMNtCsf7gCaGInNqK_8imp_core7controlNtB1y_6Target4send0EB1A_", "stop/signal"),
            ("_RNvNtCsi7JhZb8rHzr_3imp4args5parse", "command line"),
            ("_ZN3imp4fail17h35f8929d47be2546E", "messages"),
            ("_RNvCsi9FFbX61VFs_3imp10cause_text", "messages"),
            ("_ZN3imp2rt5entry17h5670f87d729b5812E", "runtime"),
            ("_RNvCseulmdZsCeCG_7___rustc17rust_begin_unwind", "runtime"),
            ("memcpy", "runtime"),
            ("_ZN3imp5start17hd6d2bd2f952f4212E", "commands"),
            ("_RNCNvCsi9FFbX61VFs_3imp7dry_run0B3_", "commands"),
            ("_RNvMs_NtCsf7gCaGInNqK_8imp_core3sysNtB4_9CStrArray3get", "fd helpers"),
            ("_ZN8imp_core2fd5split17h0123456789abcdefE", "fd helpers"),
            ("_RINvNtNtCsjQy19pmdv11_6rustix2fs2at6statatRNtNtNtCsakjjTc6oI4a_4core3ffi5c_str4CStrNtNtNtNtNtB6_14maybe_polyfill2os2fd5owned10BorrowedFdECs9H9eDMrBMaS_8imp_core", "rustix"),
            ("_RNvCs5WiKl4a5EtG_8syscalls8syscall3", "rustix"),
            ("_ZN96_$LT$core..slice..iter..Split$LT$T$C$P$GT$$u20$as$u20$core..iter..traits..iterator..Iterator$GT$4next17h632e031330c16369E", "core/"),
            ("_RINvNtCsakjjTc6oI4a_4core9panicking13assert_failedllECsjQy19pmdv11_6rustix", "core/"),
            ("__udivdi3", "core/"),
            ("__aeabi_uidiv", "core/"),
            ("OUTLINED_FUNCTION_12", "outlined"),
            ("_RNvXB5_", OTHER),
            ("mystery", OTHER),
        ];
        for (name, want) in cases {
            assert!(label(name).starts_with(want), "{name}: {}", label(name));
        }
    }

    #[test]
    fn patterns() {
        assert!(path_matches("imp", &["imp", "start"]));
        assert!(!path_matches("imp", &["imp_core", "spawn"]));
        assert!(!path_matches("imp::rt", &["imp"]));
        assert!(path_matches("__*", &["__udivdi3"]));
        assert!(!path_matches(
            "imp_core::sys::uid",
            &["imp_core", "sys", "uidx"]
        ));
    }

    #[test]
    fn machines_known_for_every_target() {
        assert!(TARGETS.iter().all(|t| machine(t.arch) != 0));
    }
}
