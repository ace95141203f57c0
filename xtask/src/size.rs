//! `cargo xtask size`: the byte budget and the shape of every binary in `target/dist`.
//!
//! For each target built by `cargo xtask dist`: the stripped file size (what is
//! shipped), the executable sections, the budget; then checks that fail the command:
//! over budget, not static (a `PT_INTERP` or a `DT_NEEDED`), wrong architecture,
//! and — on the unstripped copy — any `core::fmt` or allocator symbol (STYLE.md 5,
//! SPEC §7 "no heap").

use crate::elf::{self, Elf};
use crate::targets::{Target, TARGETS};
use crate::util::{self, table, thousands};

/// The budget per target, in bytes of the stripped binary (issue 3).
pub const BUDGET: u64 = 32 * 1024;

/// MIPS32's budget for now. Its fixed 4-byte instructions, delay slots and
/// two-instruction address loads make imp's code ~1.5x x86_64's (44.8 KB vs 32.0 KB
/// on the same tree); MIPS16 does not build compiler_builtins and microMIPS does not
/// run on the 24Kc. The 32 KiB goal is open (issue 3); this still fails a regression.
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
    if e.has_interp()? {
        problems.push("has PT_INTERP: it wants a dynamic loader".into());
    }
    let needed = e.needed()?;
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
    let unstripped = util::dist_unstripped(t.triple);
    match Elf::read(&unstripped).and_then(|u| u.symbols()) {
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
        text: e.text_size()?,
        problems,
    })
}

/// Checks every target whose binary exists (or the given ones); prints the table.
/// Errors when a check fails, or when no binary exists at all.
pub fn run(only: Option<&[&'static Target]>) -> Result<Vec<Report>, String> {
    let candidates: Vec<&'static Target> = match only {
        Some(list) => list.to_vec(),
        None => TARGETS
            .iter()
            .filter(|t| util::dist_bin(t.triple).is_file())
            .collect(),
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
    println!("checks: stripped size <= budget; static (no PT_INTERP, no DT_NEEDED, ET_EXEC); right e_machine;");
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

    #[test]
    fn machines_known_for_every_target() {
        assert!(TARGETS.iter().all(|t| machine(t.arch) != 0));
    }
}
