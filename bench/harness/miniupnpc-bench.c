/* miniupnpc side of the benchmark: the C library Godot's UPNP is built on, called the way
 * Godot calls it. Compiled by bench/bench.ts against Debian's libminiupnpc-dev:
 *
 *   gcc -O2 -o bench/out/miniupnpc-bench bench/harness/miniupnpc-bench.c -lminiupnpc -lpthread
 *
 * It only ever runs inside the lab's client namespace: it refuses to start anywhere else (the
 * same check as the tests' assertInLab: this process's network namespace must be the lab's
 * $UNL_PREFIX-client or -client2, UNL_PREFIX defaulting to "unl").
 * Every mode prints one JSON object on stdout; times are milliseconds (CLOCK_MONOTONIC).
 *
 *   discover TIMEOUT_MS                 upnpDiscover(TIMEOUT, ttl 2) + UPNP_GetValidIGD, as
 *                                       Godot's discover() does (one run per process)
 *   pairs DESC_URL N THREADS PORT0      N add+delete pairs (UDP, ports PORT0..), THREADS at
 *                                       once (1 = sequential, Godot's case)
 *   batch DESC_URL N THREADS PORT0      N adds, then (all done) N deletes, each phase spread
 *                                       over THREADS threads (an app opening many ports)
 *   first TIMEOUT_MS PORT               cold start to a first mapping: upnpDiscover(TIMEOUT)
 *                                       + UPNP_GetValidIGD + one add (then deleted, untimed)
 *   extip DESC_URL N                    N x UPNP_GetExternalIPAddress
 *   memory DESC_URL WARMUP_OPS OPS PORT0  RSS before/after OPS operations (add or delete)
 *   clean DESC_URL                      deletes every mapping the router lists (between phases)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void print_array(const char *name, double *v, int n) {
  printf("\"%s\":[", name);
  for (int i = 0; i < n; i++) printf("%s%.4f", i ? "," : "", v[i]);
  printf("]");
}

static struct UPNPUrls urls;
static struct IGDdatas data;
static char lanaddr[64];

/* The gateway without SSDP (the pairs/extip/clean modes are not about discovery). */
static void gateway_from_url(const char *desc_url) {
  memset(&urls, 0, sizeof urls);
  memset(&data, 0, sizeof data);
  if (UPNP_GetIGDFromUrl(desc_url, &urls, &data, lanaddr, sizeof lanaddr) != 1) {
    fprintf(stderr, "UPNP_GetIGDFromUrl(%s) failed\n", desc_url);
    exit(2);
  }
}

/* One UDP mapping of `port` to the same port here, permanent, as Godot asks for it:
 * UPNP_AddPortMapping(control, service, port, port_internal, igd_our_addr, desc, proto, NULL,
 * duration). */
static int add_mapping(const char *port) {
  return UPNP_AddPortMapping(urls.controlURL, data.first.servicetype, port, port, lanaddr, "bench", "UDP", NULL, "0");
}

static int delete_mapping(const char *port) {
  return UPNP_DeletePortMapping(urls.controlURL, data.first.servicetype, port, "UDP", NULL);
}

/* The `"failedPorts":[...]` tail of a pairs/batch line: port0 + i for every failed[i]. */
static void print_failed_ports(const char *failed, int n, int port0) {
  printf("\"failedPorts\":[");
  for (int i = 0, first = 1; i < n; i++) {
    if (failed[i]) { printf("%s%d", first ? "" : ",", port0 + i); first = 0; }
  }
  printf("]");
}

static int mode_discover(int timeout) {
  int error = 0;
  double t0 = now_ms();
  /* Godot: upnpDiscover(timeout, multicast_if, NULL, local_port, ipv6, ttl, &error) */
  struct UPNPDev *devlist = upnpDiscover(timeout, NULL, NULL, 0, 0, 2, &error);
  double t1 = now_ms();
  int devices = 0;
  for (struct UPNPDev *d = devlist; d; d = d->pNext) devices++;
  int igd = 0;
  if (devlist) {
    memset(&urls, 0, sizeof urls);
    igd = UPNP_GetValidIGD(devlist, &urls, &data, lanaddr, sizeof lanaddr);
    if (igd) FreeUPNPUrls(&urls);
  }
  double t2 = now_ms();
  freeUPNPDevlist(devlist);
  printf("{\"mode\":\"discover\",\"timeout\":%d,\"discoverMs\":%.3f,\"totalMs\":%.3f,\"devices\":%d,"
         "\"validIgd\":%d,\"error\":%d,\"lanaddr\":\"%s\"}\n",
         timeout, t1 - t0, t2 - t0, devices, igd, error, igd ? lanaddr : "");
  return igd == 1 ? 0 : 1;
}

struct pair_job {
  int first, count, stride; /* pair indices first, first+stride, ... */
  int port0;
  double *add_ms, *del_ms;  /* per pair, indexed by pair index */
  char *failed;             /* per pair: 1 when its add or its delete reported a failure */
  int add_fail, del_fail, last_add_code, last_del_code;
};

static void *run_pairs(void *arg) {
  struct pair_job *job = arg;
  char port[16];
  for (int k = 0; k < job->count; k++) {
    int i = job->first + k * job->stride;
    snprintf(port, sizeof port, "%d", job->port0 + i);
    double t0 = now_ms();
    int r = add_mapping(port);
    double t1 = now_ms();
    if (r != UPNPCOMMAND_SUCCESS) { job->add_fail++; job->last_add_code = r; job->failed[i] = 1; }
    r = delete_mapping(port);
    double t2 = now_ms();
    if (r != UPNPCOMMAND_SUCCESS) { job->del_fail++; job->last_del_code = r; job->failed[i] = 1; }
    job->add_ms[i] = t1 - t0;
    job->del_ms[i] = t2 - t1;
  }
  return NULL;
}

static int mode_pairs(const char *desc_url, int n, int threads, int port0) {
  gateway_from_url(desc_url);
  if (threads < 1) threads = 1;
  if (threads > n) threads = n;
  double *add_ms = calloc(n, sizeof *add_ms), *del_ms = calloc(n, sizeof *del_ms);
  char *failed = calloc(n, 1);
  struct pair_job *jobs = calloc(threads, sizeof *jobs);
  pthread_t *tid = calloc(threads, sizeof *tid);
  for (int t = 0; t < threads; t++) {
    jobs[t] = (struct pair_job){ .first = t, .count = (n - t + threads - 1) / threads, .stride = threads,
                                 .port0 = port0, .add_ms = add_ms, .del_ms = del_ms,
                                 .failed = failed };
  }
  double t0 = now_ms();
  if (threads == 1) {
    run_pairs(&jobs[0]);
  } else {
    for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, run_pairs, &jobs[t]);
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
  }
  double elapsed = now_ms() - t0;
  int add_fail = 0, del_fail = 0, add_code = 0, del_code = 0;
  for (int t = 0; t < threads; t++) {
    add_fail += jobs[t].add_fail;
    del_fail += jobs[t].del_fail;
    if (jobs[t].last_add_code) add_code = jobs[t].last_add_code;
    if (jobs[t].last_del_code) del_code = jobs[t].last_del_code;
  }
  qsort(add_ms, n, sizeof *add_ms, cmp_double);
  qsort(del_ms, n, sizeof *del_ms, cmp_double);
  printf("{\"mode\":\"pairs\",\"pairs\":%d,\"threads\":%d,\"elapsedMs\":%.3f,\"addFailures\":%d,"
         "\"deleteFailures\":%d,\"lastAddCode\":%d,\"lastDeleteCode\":%d,\"addMedianMs\":%.4f,"
         "\"deleteMedianMs\":%.4f,",
         n, threads, elapsed, add_fail, del_fail, add_code, del_code, add_ms[n / 2], del_ms[n / 2]);
  print_failed_ports(failed, n, port0);
  printf("}\n");
  FreeUPNPUrls(&urls);
  return 0;
}

struct batch_job {
  int first, count, stride, port0, add;
  int fail, last_code;
  char *failed; /* per index: 1 when its add or delete failed */
};

static void *run_batch(void *arg) {
  struct batch_job *job = arg;
  char port[16];
  for (int k = 0; k < job->count; k++) {
    int i = job->first + k * job->stride;
    snprintf(port, sizeof port, "%d", job->port0 + i);
    int r = job->add ? add_mapping(port) : delete_mapping(port);
    if (r != UPNPCOMMAND_SUCCESS) { job->fail++; job->last_code = r; job->failed[i] = 1; }
  }
  return NULL;
}

/* One phase (all adds, or all deletes) over `threads` threads; returns its failures. */
static int batch_phase(int n, int threads, int port0, int add, char *failed, int *last_code) {
  struct batch_job *jobs = calloc(threads, sizeof *jobs);
  pthread_t *tid = calloc(threads, sizeof *tid);
  for (int t = 0; t < threads; t++)
    jobs[t] = (struct batch_job){ .first = t, .count = (n - t + threads - 1) / threads, .stride = threads,
                                  .port0 = port0, .add = add, .failed = failed };
  for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, run_batch, &jobs[t]);
  int fail = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
    fail += jobs[t].fail;
    if (jobs[t].last_code) *last_code = jobs[t].last_code;
  }
  free(jobs);
  free(tid);
  return fail;
}

static int mode_batch(const char *desc_url, int n, int threads, int port0) {
  gateway_from_url(desc_url);
  if (threads < 1) threads = 1;
  if (threads > n) threads = n;
  char *failed = calloc(n, 1);
  int add_code = 0, del_code = 0;
  double t0 = now_ms();
  int add_fail = batch_phase(n, threads, port0, 1, failed, &add_code);
  double t1 = now_ms();
  int del_fail = batch_phase(n, threads, port0, 0, failed, &del_code);
  double t2 = now_ms();
  printf("{\"mode\":\"batch\",\"pairs\":%d,\"threads\":%d,\"elapsedMs\":%.3f,\"addPhaseMs\":%.3f,"
         "\"addFailures\":%d,\"deleteFailures\":%d,\"lastAddCode\":%d,\"lastDeleteCode\":%d,",
         n, threads, t2 - t0, t1 - t0, add_fail, del_fail, add_code, del_code);
  print_failed_ports(failed, n, port0);
  printf("}\n");
  FreeUPNPUrls(&urls);
  return 0;
}

/* Cold start to a first mapping, as an app using miniupnpc does it: search, pick the
 * gateway, map. Godot waits its whole discover timeout (2000 ms by default); 1000 ms is the
 * shortest search that finds a router answering after its usual ~50 ms delay reliably. */
static int mode_first(int timeout, int port) {
  int error = 0;
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  double t0 = now_ms();
  struct UPNPDev *devlist = upnpDiscover(timeout, NULL, NULL, 0, 0, 2, &error);
  int igd = devlist ? UPNP_GetValidIGD(devlist, &urls, &data, lanaddr, sizeof lanaddr) : 0;
  int r = igd == 1 ? add_mapping(p) : -1;
  double t1 = now_ms();
  if (igd == 1) {
    delete_mapping(p);
    FreeUPNPUrls(&urls);
  }
  freeUPNPDevlist(devlist);
  printf("{\"mode\":\"first\",\"timeout\":%d,\"ms\":%.3f,\"ok\":%s,\"code\":%d}\n", timeout, t1 - t0,
         r == UPNPCOMMAND_SUCCESS ? "true" : "false", r);
  return r == UPNPCOMMAND_SUCCESS ? 0 : 1;
}

static int mode_extip(const char *desc_url, int n) {
  gateway_from_url(desc_url);
  double *ms = calloc(n, sizeof *ms);
  char ip[40];
  int fail = 0;
  for (int i = 0; i < n; i++) {
    double t0 = now_ms();
    int r = UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, ip);
    ms[i] = now_ms() - t0;
    if (r != UPNPCOMMAND_SUCCESS) fail++;
  }
  printf("{\"mode\":\"extip\",\"failures\":%d,\"ip\":\"%s\",", fail, fail ? "" : ip);
  print_array("ms", ms, n);
  printf("}\n");
  FreeUPNPUrls(&urls);
  return 0;
}

static int mode_memory(const char *desc_url, int warmup_ops, int ops, int port0) {
  gateway_from_url(desc_url);
  int fail = 0;
  char port[16];
  long before = 0;
  double t0 = 0;
  for (int i = 0; i < (warmup_ops + ops) / 2; i++) {
    if (i == warmup_ops / 2) { before = rss_kib(); t0 = now_ms(); }
    snprintf(port, sizeof port, "%d", port0 + i % 1000);
    if (add_mapping(port) != UPNPCOMMAND_SUCCESS) fail++;
    if (delete_mapping(port) != UPNPCOMMAND_SUCCESS) fail++;
  }
  long after = rss_kib();
  printf("{\"mode\":\"memory\",\"ops\":%d,\"rssBeforeKiB\":%ld,\"rssAfterKiB\":%ld,\"failures\":%d,"
         "\"elapsedMs\":%.1f}\n", ops, before, after, fail, now_ms() - t0);
  FreeUPNPUrls(&urls);
  return 0;
}

static int mode_clean(const char *desc_url) {
  gateway_from_url(desc_url);
  int deleted = 0, failed = 0;
  char ext[8], client[40], in[8], proto[8], desc[96], enabled[8], rhost[72], dur[24];
  /* Entry 0 until the table is empty; skip (index forward) past an entry we cannot delete. */
  for (int index = 0; index < 100000;) {
    char idx[16];
    snprintf(idx, sizeof idx, "%d", index);
    ext[0] = client[0] = in[0] = proto[0] = desc[0] = enabled[0] = rhost[0] = dur[0] = 0;
    if (UPNP_GetGenericPortMappingEntry(urls.controlURL, data.first.servicetype, idx, ext, client, in, proto, desc,
                                        enabled, rhost, dur) != UPNPCOMMAND_SUCCESS) break;
    if (UPNP_DeletePortMapping(urls.controlURL, data.first.servicetype, ext, proto, rhost[0] ? rhost : NULL) ==
        UPNPCOMMAND_SUCCESS) deleted++;
    else { failed++; index++; }
  }
  printf("{\"mode\":\"clean\",\"deleted\":%d,\"failed\":%d}\n", deleted, failed);
  FreeUPNPUrls(&urls);
  return failed ? 1 : 0;
}

/* Is this process in the lab's client namespace? Nothing here may search or probe from the
 * host's own network. */
static int in_lab(void) {
  struct stat self, ns;
  const char *prefix = getenv("UNL_PREFIX");
  if (!prefix || !*prefix) prefix = "unl";
  if (stat("/proc/self/ns/net", &self) != 0) return 0;
  const char *suffixes[] = { "client", "client2" };
  for (int i = 0; i < 2; i++) {
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s-%s", prefix, suffixes[i]);
    if (stat(path, &ns) == 0 && ns.st_ino == self.st_ino && ns.st_dev == self.st_dev) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!in_lab()) {
    fprintf(stderr, "miniupnpc-bench: not inside the UPnP lab client namespace; run it through `npm run bench`\n");
    return 3;
  }
  if (argc >= 3 && !strcmp(argv[1], "discover")) return mode_discover(atoi(argv[2]));
  if (argc >= 6 && !strcmp(argv[1], "pairs")) return mode_pairs(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  if (argc >= 6 && !strcmp(argv[1], "batch")) return mode_batch(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  if (argc >= 4 && !strcmp(argv[1], "first")) return mode_first(atoi(argv[2]), atoi(argv[3]));
  if (argc >= 4 && !strcmp(argv[1], "extip")) return mode_extip(argv[2], atoi(argv[3]));
  if (argc >= 6 && !strcmp(argv[1], "memory")) return mode_memory(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  if (argc >= 3 && !strcmp(argv[1], "clean")) return mode_clean(argv[2]);
  fprintf(stderr, "usage: see the comment at the top of miniupnpc-bench.c\n");
  return 2;
}
