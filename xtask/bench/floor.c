/* The floor of `cargo xtask bench`: the least a correct launcher does, in C.
 *
 *   floor start PIDFILE PROGRAM [ARG]...   pipe (close-on-exec), fork, setsid, fork;
 *       the grandchild locks PIDFILE (F_SETLK, F_WRLCK, kept across exec), writes its
 *       pid, puts /dev/null on 0-2 and execs; the caller returns once the pipe reaches
 *       EOF (exec succeeded) and 1 with the errno if a byte came back.
 *   floor stop PIDFILE                      F_GETLK names the holder (unlocked: not
 *       running), pidfd_open, pidfd_send_signal(SIGTERM), poll until it exits, unlink.
 *   floor reap PROGRAM [ARG]...             runs PROGRAM as a child subreaper that
 *       reaps every orphan at once (as a prompt init would; some PID 1s reap only every
 *       few seconds, and a tool that waits for its daemon's pid to vanish would measure
 *       that), and exits with PROGRAM's status.
 *
 * Written for imp's bench; nothing else uses it. Build: musl-gcc -O2 -static -o floor floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int start(const char *pidfile, char **argv) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return 1;
	pid_t mid = fork();
	if (mid < 0)
		return 1;
	if (mid == 0) {
		close(p[0]);
		setsid();
		pid_t d = fork();
		if (d != 0)
			_exit(d < 0);
		int err = 0;
		int fd = open(pidfile, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (fd < 0 || fcntl(fd, F_SETLK, &lk) < 0) {
			err = errno;
		} else {
			char buf[24];
			int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
			if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, n, 0) != n)
				err = errno;
			fcntl(fd, F_SETFD, 0);
		}
		int null = open("/dev/null", O_RDWR);
		if (!err && (null < 0 || chdir("/") < 0))
			err = errno;
		if (!err) {
			dup2(null, 0), dup2(null, 1), dup2(null, 2);
			execv(argv[0], argv);
			err = errno;
		}
		unsigned char e = (unsigned char)err;
		if (write(p[1], &e, 1) < 0)
			_exit(2);
		_exit(1);
	}
	close(p[1]);
	int st;
	waitpid(mid, &st, 0);
	unsigned char e;
	ssize_t n = read(p[0], &e, 1);
	if (n == 1) {
		fprintf(stderr, "floor: start: %s\n", strerror(e));
		return 1;
	}
	return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int stop(const char *pidfile) {
	int fd = open(pidfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_GETLK, &lk) < 0 || lk.l_type == F_UNLCK || lk.l_pid <= 0)
		return 0;
	int pfd = (int)syscall(SYS_pidfd_open, lk.l_pid, 0);
	if (pfd < 0 || syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0) < 0)
		return 1;
	struct pollfd w = {.fd = pfd, .events = POLLIN};
	while (poll(&w, 1, -1) < 0 && errno == EINTR)
		;
	unlink(pidfile);
	return 0;
}

static int reap(char **argv) {
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return 1;
	pid_t main_pid = fork();
	if (main_pid < 0)
		return 1;
	if (main_pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		int st;
		pid_t p = wait(&st);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return 1;
		if (p == main_pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
}

int main(int argc, char **argv) {
	if (argc >= 3 && strcmp(argv[1], "reap") == 0)
		return reap(argv + 2);
	if (argc >= 4 && strcmp(argv[1], "start") == 0)
		return start(argv[2], argv + 3);
	if (argc == 3 && strcmp(argv[1], "stop") == 0)
		return stop(argv[2]);
	fprintf(stderr, "usage: floor start PIDFILE PROGRAM [ARG]... | floor stop PIDFILE | "
			"floor reap PROGRAM [ARG]...\n");
	return 2;
}
