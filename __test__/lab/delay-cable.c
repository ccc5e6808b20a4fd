/* A network cable with a delay, in userspace: this kernel has no sch_netem, so `tc ... netem`
 * cannot slow the lab's router down. lab.sh `delay MS` replaces the client's veth with two TAP
 * devices (lan0 in the client namespace, vclient on the router's bridge) and runs this
 * program between them. Frames from the client go to the router at once; frames from the
 * router are held for DELAY_MS before the client gets them, so every round trip from the
 * client (a TCP handshake, a request and its reply, an SSDP search and its answer) takes
 * DELAY_MS longer, as it does in front of a home router that answers in a few milliseconds.
 *
 *   delay-cable DELAY_MS CLIENT_NETNS CLIENT_TAP ROUTER_NETNS ROUTER_TAP
 *
 * The namespaces are names under /run/netns. Compiled by lab.sh (gcc -O2). Runs until killed
 * (SIGTERM); frames still held are dropped. It asks for real-time scheduling so that a busy
 * machine does not add its own wake-up delays to the cable's (both directions alike).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Frames larger than this are not possible on a TAP without a vnet header (MTU 1500 + 14). */
#define SLOT 2048
/* Frames held at once; more (a flood far beyond the lab's traffic) are dropped, as a full
 * queue in a real router drops them. */
#define SLOTS 8192

struct held {
  struct timespec due;
  unsigned short len;
  unsigned char data[SLOT];
};

static struct held queue[SLOTS];
static unsigned head, count;
static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void die(const char *what) {
  fprintf(stderr, "delay-cable: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Opens TAP device `name` inside network namespace /run/netns/`ns`: the device is looked up
 * in the namespace this thread is in when the file is opened. */
static int open_tap(const char *ns, const char *name) {
  char path[256];
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  int nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) die(path);
  if (setns(nsfd, CLONE_NEWNET) != 0) die("setns");
  close(nsfd);
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) die("/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) die(name);
  return fd;
}

static void add_ms(struct timespec *t, long ms) {
  t->tv_sec += ms / 1000;
  t->tv_nsec += (ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec += 1;
    t->tv_nsec -= 1000000000L;
  }
}

/* a - b, clamped at zero */
static struct timespec until(const struct timespec *a, const struct timespec *b) {
  struct timespec d = { a->tv_sec - b->tv_sec, a->tv_nsec - b->tv_nsec };
  if (d.tv_nsec < 0) {
    d.tv_sec -= 1;
    d.tv_nsec += 1000000000L;
  }
  if (d.tv_sec < 0) d.tv_sec = d.tv_nsec = 0;
  return d;
}

static int due(const struct timespec *t, const struct timespec *now) {
  return t->tv_sec < now->tv_sec || (t->tv_sec == now->tv_sec && t->tv_nsec <= now->tv_nsec);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: delay-cable DELAY_MS CLIENT_NETNS CLIENT_TAP ROUTER_NETNS ROUTER_TAP\n");
    return 2;
  }
  long delay_ms = atol(argv[1]);
  if (delay_ms < 0 || delay_ms > 10000) {
    fprintf(stderr, "delay-cable: DELAY_MS must be 0..10000\n");
    return 2;
  }
  int client = open_tap(argv[2], argv[3]);
  int router = open_tap(argv[4], argv[5]);
  struct sched_param sp = { .sched_priority = 10 };
  if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
    fprintf(stderr, "delay-cable: no real-time scheduling (%s); delays may stretch on a busy machine\n", strerror(errno));
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  unsigned char buf[SLOT];
  struct pollfd fds[2] = { { .fd = client, .events = POLLIN }, { .fd = router, .events = POLLIN } };
  while (!stop) {
    struct timespec now, wait, *timeout = NULL;
    clock_gettime(CLOCK_MONOTONIC, &now);
    /* Hand over every held frame whose time has come. */
    while (count > 0 && due(&queue[head].due, &now)) {
      if (write(client, queue[head].data, queue[head].len) < 0 && errno != EAGAIN) die("write client");
      head = (head + 1) % SLOTS;
      count--;
    }
    if (count > 0) {
      wait = until(&queue[head].due, &now);
      timeout = &wait;
    }
    int n = ppoll(fds, 2, timeout, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    if (fds[0].revents & POLLIN) {
      /* Client -> router: no delay. */
      for (;;) {
        ssize_t len = read(client, buf, sizeof buf);
        if (len <= 0) break;
        if (write(router, buf, (size_t)len) < 0 && errno != EAGAIN) die("write router");
      }
    }
    if (fds[1].revents & POLLIN) {
      /* Router -> client: held for the delay (in arrival order, so nothing is reordered). */
      clock_gettime(CLOCK_MONOTONIC, &now);
      for (;;) {
        struct held *slot = &queue[(head + count) % SLOTS];
        ssize_t len = read(router, count < SLOTS ? slot->data : buf, SLOT);
        if (len <= 0) break;
        if (count == SLOTS) continue; /* full: dropped */
        if (delay_ms == 0) {
          if (write(client, slot->data, (size_t)len) < 0 && errno != EAGAIN) die("write client");
          continue;
        }
        slot->len = (unsigned short)len;
        slot->due = now;
        add_ms(&slot->due, delay_ms);
        count++;
      }
    }
  }
  return 0;
}
