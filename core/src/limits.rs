//! Every fixed buffer size of imp-core, with its reason. Nothing here allocates: each
//! limit is the capacity of an array on the stack or inside a value, checked at compile
//! time against the others it must hold.

/// The longest path handled (Linux `PATH_MAX`, counting the NUL).
pub const PATH_MAX: usize = 4096;

/// The longest message line written, newline included; a longer one is cut, never
/// split. Room for a whole path (a pidfile or a program, [`PATH_MAX`]) and, after
/// it, the reason and the pid that scripts match.
pub const MESSAGE_MAX: usize = 1024;

/// The longest syslog datagram imp-core sends (RFC 3164 §4.1: 1024 bytes).
pub const SYSLOG_MAX: usize = 1024;

/// The longest `/etc/passwd` or `/etc/group` line read whole; a longer line is read
/// cut (its first fields still count).
pub const PASSWD_LINE_MAX: usize = 2048;

/// The longest user name kept (`useradd` allows 32; some systems 64).
pub const USER_NAME_MAX: usize = 64;

/// The longest home directory kept from `/etc/passwd`.
pub const HOME_MAX: usize = 256;

/// The most supplementary groups set for `--user` (Linux allows 65,536; a daemon needs
/// a handful, and a longer list is an explicit error, never a silent cut).
pub const GROUPS_MAX: usize = 64;

/// The most `--env NAME=VALUE` settings.
pub const SET_ENV_MAX: usize = 32;

/// The most fds passed through to the program (`--keep-fd`).
pub const KEEP_FD_MAX: usize = 16;

/// The most environment entries the program gets when imp changes its environment
/// (`--env`, `--clear-env`, or a user's HOME/USER/LOGNAME); an unchanged one is passed
/// through whole, whatever its size.
pub const ENV_MAX: usize = 256;
// Reason::EnvTooMany's words name it.
const _: () = assert!(ENV_MAX == 256);

/// The most resource limits set for the program (`--limit`; there are 16 resources,
/// and a daemon needs a few).
pub const LIMITS_MAX: usize = 8;

/// At most this many bytes of a pidfile are ever read: a pid has at most 7 digits.
pub const PIDFILE_READ_MAX: usize = 32;

/// The most steps in a stop schedule (`TERM/30/KILL/5` has four).
pub const SCHEDULE_MAX: usize = 16;

/// The most bytes read of `/proc/self/stat` (the thread count is its 20th field; the
/// command name before it is at most 64 bytes, the numbers a few hundred).
pub const PROC_STAT_MAX: usize = 512;

// A passwd line cut at PASSWD_LINE_MAX still holds a whole name and home directory.
const _: () = assert!(PASSWD_LINE_MAX >= USER_NAME_MAX + HOME_MAX + 64);
// Kept fds, the report pipe and the pidfile's directory fit the child's keep list.
const _: () = assert!(KEEP_FD_MAX + 2 < 64);
const _: () = assert!(GROUPS_MAX > 0 && SET_ENV_MAX > 0 && ENV_MAX > SET_ENV_MAX);
const _: () = assert!(LIMITS_MAX > 0);
const _: () = assert!(PIDFILE_READ_MAX > 8 && SCHEDULE_MAX >= 4);

/// Below this soft `RLIMIT_STACK`, [`crate::spawn::check_stack`] refuses rather than
/// let imp fault: imp's deepest path needs about 15 KiB of frames, and the kernel may
/// have put a quarter of the limit's worth of argv and envp on the stack.
pub const STACK_MIN: u64 = 32 * 1024;
// Reason::SmallStack's words name it.
const _: () = assert!(STACK_MIN == 32 * 1024);

/// How many parents `--notify` follows from a datagram's sender up to the daemon (a
/// program's helper that sends `READY=1` is its child or grandchild).
#[cfg(feature = "notify")]
pub const NOTIFY_DEPTH: usize = 8;
