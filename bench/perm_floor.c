// The least a fanotify permission listener can do: mark one mount (FAN_MARK_MOUNT) for the
// events steen watch asks for on written files (open permission, close after write) and allow
// every permission event at once, reading nothing. bench/perm_floor.sh times a workload under it,
// under steen watch and under nothing, side by side, to tell the kernel's share of steen's
// overhead from steen's own.
//
// Usage: perm_floor MOUNTPOINT     runs until SIGTERM/SIGINT, then prints the events answered.
// Safety: the caller marks only a filesystem it created for the benchmark (a loop mount under a
// mktemp folder); every permission event is answered, on every path, before the next is read.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: perm_floor MOUNTPOINT\n");
    return 2;
  }
  int group = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
  if (group < 0) {
    perror("perm_floor: fanotify_init");
    return 1;
  }
  if (fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_PERM | FAN_CLOSE_WRITE,
                    AT_FDCWD, argv[1]) != 0) {
    perror("perm_floor: fanotify_mark");
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  fprintf(stderr, "perm_floor: marked %s\n", argv[1]);
  unsigned long long answered = 0, closes = 0;
  char buf[64 * 1024] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
  while (!stop) {
    struct pollfd pfd = {group, POLLIN, 0};
    int n = poll(&pfd, 1, 200);
    if (n <= 0) continue;
    ssize_t len = read(group, buf, sizeof buf);
    if (len <= 0) continue;
    struct fanotify_event_metadata* md = (struct fanotify_event_metadata*)buf;
    for (; FAN_EVENT_OK(md, len); md = FAN_EVENT_NEXT(md, len)) {
      if (md->mask & FAN_OPEN_PERM) {
        struct fanotify_response answer = {md->fd, FAN_ALLOW};
        if (write(group, &answer, sizeof answer) == sizeof answer) ++answered;
      } else {
        ++closes;
      }
      if (md->fd >= 0) close(md->fd);
    }
  }
  printf("perm_floor: %llu permission events answered, %llu other events\n", answered, closes);
  return 0;
}
