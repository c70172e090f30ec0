// fanout_rooms: a single-threaded epoll load generator for Socket.IO v5 servers (Engine.IO v4 over raw
// WebSocket) with many rooms, the companion of shared/tools/fanout.c (same protocol, same output style).
// N receivers join room ROOM_PREFIX<i % ROOMS>; one publisher sends M events round-robin over the rooms
// (event j goes to room j % ROOMS) at RATE/s; receivers time each delivery from the send time embedded
// in the payload. With M=0 it is a connection storm: N clients connect and join as fast as INFLIGHT
// concurrent handshakes allow, and it reports connections (each with its join) per second.
//
// usage: fanout_rooms HOST PORT N ROOMS M RATE [bench|dialogue]
//   bench:    join = 421["join","r<k>"] (acked 431); publish = 42["bcast","r<k>",{..}]; delivery = "tick"
//   dialogue: join = 421["dialogue:join",{"roomId":"r<k>"}] (ack 431 or dialogue:joined);
//             publish = 42["dialogue:trigger",{"roomId":"r<k>","event":EVENT,"data":{..}}]. Triggering
//             needs membership, so the publisher joins every room, then unsubscribes from EVENT in each
//             (all acked) so that it receives nothing back.
// env: SERVER_PID (server's CPU seconds while publishing — or while connecting, for a storm — and its RSS,
//      read from /proc), ROOM_PREFIX (r), EVENT (tick), SIZE (payload filler bytes, 64), INFLIGHT (handshakes
//      in flight, 200), SRC_IPS (spread connections over 127.0.0.2.. 127.0.0.(1+SRC_IPS)), DRAIN (seconds to
//      wait for deliveries after the last send, 10), PORTS (several servers — the nodes of a cluster: receiver i
//      connects to the (i mod k)-th of these comma-separated ports, the publisher to PORT; SERVER_PID may then
//      list their pids, comma-separated, and their CPU and RSS are summed).
// output: one line of key=value: delivered/expected, deliveries_per_s, latency p50/p90/p99/max (ms) (and
//      per node with PORTS: nodeK_p50_ms, nodeK_p99_ms), and with EVENT_LOG=FILE each event's slowest
//      delivery, overall and per node, one line per event in FILE,
//      gen_cpu_s, srv_cpu_s, srv_us_per_delivery, srv_rss_kb_idle_delta_per_conn, connect_s, conns_per_s;
//      storm: conns_per_s, srv_us_per_conn, rss_kb_per_conn. Exit 0 when everything arrived.
// build: cc -O2 -o fanout_rooms fanout_rooms.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_TCP, C_HTTP, C_OPEN, C_CONNECT, C_JOIN, C_PUB_JOIN, C_PUB_UNSUB, C_READY };
typedef struct client {
  int fd, state, publisher, room, acks, node;
  char *buf; size_t len, cap;           // unparsed input (only a partial frame stays between reads)
  char *out; size_t outlen, outcap;     // unwritten output
} client_t;

static const char *HOST, *MODE = "bench", *PREFIX = "r", *EVENT = "tick";
static int PORT, N, ROOMS, M, SIZE = 64, INFLIGHT = 200, SRCIPS = 1, DIALOGUE = 0;
static double RATE, DRAIN = 10;
static int epfd, ready = 0; static long delivered = 0;
static double *lat; static long nlat = 0, caplat = 0;
static struct sockaddr_in server;
static int ports[16], nports = 0, pids[16], npids = 0;
static char scratch[1 << 18];

static double wall_ms(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static double mono_s(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double own_cpu(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6; }

// /proc/PID/stat fields 14 and 15 (utime, stime), after the parenthesised command name.
static double proc_cpu(int pid) {
  if (!pid) return 0;
  char path[64], text[4096]; snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r"); if (!f) return 0;
  size_t n = fread(text, 1, sizeof text - 1, f); fclose(f); text[n] = 0;
  char *p = strrchr(text, ')'); if (!p) return 0;
  unsigned long utime = 0, stime = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return 0;
  return (utime + stime) / (double)sysconf(_SC_CLK_TCK);
}
static long proc_rss_kb(int pid) {
  if (!pid) return 0;
  char path[64], line[256]; long kb = 0; snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r"); if (!f) return 0;
  while (fgets(line, sizeof line, f)) if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  fclose(f); return kb;
}

static void die(const char *what, client_t *c, const char *p, size_t n) {
  fprintf(stderr, "fanout_rooms: %s (state %d, ready %d, delivered %ld): %.*s\n", what, c ? c->state : -1, ready, delivered, (int)(n > 300 ? 300 : n), p ? p : "");
  exit(2);
}

static void watch(client_t *c) {
  struct epoll_event ev = { .events = EPOLLIN | (c->outlen || c->state == C_TCP ? EPOLLOUT : 0), .data.ptr = c };
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}
static void drain_out(client_t *c) {
  size_t done = 0;
  while (done < c->outlen) {
    ssize_t w = write(c->fd, c->out + done, c->outlen - done);
    if (w < 0) { if (errno == EAGAIN) break; die(strerror(errno), c, 0, 0); }
    done += w;
  }
  memmove(c->out, c->out + done, c->outlen - done); c->outlen -= done;
  watch(c);
}
static void queue(client_t *c, const void *p, size_t n) {
  if (c->outlen + n > c->outcap) { c->outcap = (c->outlen + n) * 2; c->out = realloc(c->out, c->outcap); }
  memcpy(c->out + c->outlen, p, n); c->outlen += n;
}
// A masked client frame (mask key 0, so the payload goes as it is); written at once unless still connecting.
static void frame(client_t *c, int opcode, const char *p, size_t n) {
  unsigned char h[14]; size_t hl = 0; h[hl++] = 0x80 | opcode;
  if (n < 126) h[hl++] = 0x80 | n;
  else if (n < 65536) { h[hl++] = 0x80 | 126; h[hl++] = n >> 8; h[hl++] = n & 255; }
  else { h[hl++] = 0x80 | 127; for (int s = 56; s >= 0; s -= 8) h[hl++] = (n >> s) & 255; }
  memset(h + hl, 0, 4); hl += 4;
  queue(c, h, hl); queue(c, p, n); drain_out(c);
}
static void text(client_t *c, const char *p, size_t n) { frame(c, 1, p, n); }

static void send_join(client_t *c, int room, int ack) {
  char b[256]; int n = DIALOGUE ? snprintf(b, sizeof b, "42%d[\"dialogue:join\",{\"roomId\":\"%s%d\"}]", ack, PREFIX, room)
                                : snprintf(b, sizeof b, "42%d[\"join\",\"%s%d\"]", ack, PREFIX, room);
  text(c, b, n);
}
// The publisher's setup in dialogue mode: join every room (acks 1..ROOMS), then unsubscribe from EVENT in
// each (acks ROOMS+1..2*ROOMS). All requests are sent at once; the acks are counted.
static void publisher_joins(client_t *c) { for (int r = 0; r < ROOMS; r++) send_join(c, r, 1 + r); }
static void publisher_unsubscribes(client_t *c) {
  char b[256];
  for (int r = 0; r < ROOMS; r++) {
    int n = snprintf(b, sizeof b, "42%d[\"dialogue:unsubscribe\",{\"roomId\":\"%s%d\",\"eventName\":\"%s\"}]", 1 + ROOMS + r, PREFIX, r, EVENT);
    text(c, b, n);
  }
}

// Per node of a cluster (PORTS), the same latencies again: is the tail on the publisher's node or the others?
static double *node_lat[16]; static long node_n[16], node_cap[16];
// With EVENT_LOG, each event's slowest delivery (overall and per node) goes to that file: which events make the tail?
static double *event_max, (*event_node_max)[16];

static void record(client_t *c, const char *p, size_t n) {
  char *at = memmem(p, n, "@@", 2); if (!at) return;
  if (nlat == caplat) { caplat = caplat ? caplat * 2 : 1 << 20; lat = realloc(lat, caplat * sizeof *lat); }
  double ms = wall_ms() - strtod(at + 2, 0);
  lat[nlat++] = ms; delivered++;
  int k = c->node;
  if (node_n[k] == node_cap[k]) { node_cap[k] = node_cap[k] ? node_cap[k] * 2 : 1 << 16; node_lat[k] = realloc(node_lat[k], node_cap[k] * sizeof(double)); }
  node_lat[k][node_n[k]++] = ms;
  char *key = memmem(p, n, "\"k\":", 4); long j = key ? strtol(key + 4, 0, 10) : -1;
  if (event_max && j >= 0 && j < M) { if (ms > event_max[j]) event_max[j] = ms; if (ms > event_node_max[j][c->node]) event_node_max[j][c->node] = ms; }
}

static int is_ack(const char *p, size_t n) { return n >= 3 && p[0] == '4' && p[1] == '3' && p[2] >= '0' && p[2] <= '9'; }

static void on_packet(client_t *c, const char *p, size_t n) {
  if (!n) return;
  if (p[0] == '2') { char pong[64] = "3"; size_t k = n - 1 < 60 ? n - 1 : 60; memcpy(pong + 1, p + 1, k); text(c, pong, 1 + k); return; }
  if (c->state == C_OPEN) { if (p[0] == '0') { c->state = C_CONNECT; text(c, "40", 2); } return; }
  if (p[0] != '4' || n < 2) return;
  switch (c->state) {
  case C_CONNECT:
    if (p[1] == '4') die("connect refused", c, p, n);
    if (p[1] != '0') return;
    if (c->publisher) {
      if (DIALOGUE) { c->state = C_PUB_JOIN; publisher_joins(c); } else { c->state = C_READY; ready++; }
    } else { c->state = C_JOIN; send_join(c, c->room, 1); }
    return;
  case C_JOIN:
    if (memmem(p, n, "\"ok\":false", 10) || memmem(p, n, "dialogue:error", 14)) die("join refused", c, p, n);
    if ((is_ack(p, n) && n >= 4 && p[2] == '1' && p[3] == '[') || memmem(p, n, "dialogue:joined", 15)) { c->state = C_READY; ready++; }
    return;
  case C_PUB_JOIN: case C_PUB_UNSUB:
    if (memmem(p, n, "\"ok\":false", 10) || memmem(p, n, "dialogue:error", 14)) die("publisher setup refused", c, p, n);
    if (!is_ack(p, n)) return;
    if (++c->acks == ROOMS) {
      if (c->state == C_PUB_JOIN) { c->state = C_PUB_UNSUB; publisher_unsubscribes(c); }
      else { c->state = C_READY; ready++; }
      c->acks = 0;
    }
    return;
  case C_READY:
    if (c->publisher) { if (memmem(p, n, "dialogue:error", 14)) fprintf(stderr, "publisher got: %.*s\n", (int)(n > 300 ? 300 : n), p); return; }
    if (p[1] == '2') record(c, p, n);
  }
}

// Parses whole frames from p[0..n); returns how many bytes were consumed.
static size_t parse(client_t *c, char *p, size_t n) {
  size_t off = 0;
  if (c->state == C_HTTP) {
    char *end = memmem(p, n, "\r\n\r\n", 4); if (!end) return 0;
    if (strncmp(p, "HTTP/1.1 101", 12)) die("no upgrade", c, p, end - p);
    off = end - p + 4; c->state = C_OPEN;
  }
  while (n - off >= 2) {
    unsigned char *h = (unsigned char *)p + off; int op = h[0] & 15; uint64_t len = h[1] & 127; size_t hl = 2;
    if (len == 126) { if (n - off < 4) break; len = (h[2] << 8) | h[3]; hl = 4; }
    else if (len == 127) { if (n - off < 10) break; len = 0; for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i]; hl = 10; }
    if (n - off < hl + len) break;
    char *payload = p + off + hl;
    if (op == 1) on_packet(c, payload, len);
    else if (op == 9) frame(c, 10, payload, len);
    else if (op == 8) die("server sent close", c, len > 2 ? payload + 2 : 0, len > 2 ? len - 2 : 0);
    off += hl + len;
  }
  return off;
}

static void on_readable(client_t *c) {
  for (;;) {
    ssize_t r = read(c->fd, scratch, sizeof scratch);
    if (r < 0) { if (errno == EAGAIN) return; die(strerror(errno), c, 0, 0); }
    if (r == 0) die("server closed a connection", c, 0, 0);
    if (c->len == 0) {                       // the usual case: parse straight from the scratch buffer
      size_t used = parse(c, scratch, r);
      if (used < (size_t)r) { c->cap = r - used + 4096; c->buf = realloc(c->buf, c->cap); memcpy(c->buf, scratch + used, r - used); c->len = r - used; }
    } else {                                 // a partial frame is waiting: append and parse from there
      if (c->len + r > c->cap) { c->cap = (c->len + r) * 2; c->buf = realloc(c->buf, c->cap); }
      memcpy(c->buf + c->len, scratch, r); c->len += r;
      size_t used = parse(c, c->buf, c->len);
      memmove(c->buf, c->buf + used, c->len - used); c->len -= used;
      if (!c->len) { free(c->buf); c->buf = 0; c->cap = 0; }
    }
  }
}

static void on_connected(client_t *c) {
  int err = 0; socklen_t l = sizeof err; getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err) die(strerror(err), c, 0, 0);
  c->state = C_HTTP;
  char req[512]; int n = snprintf(req, sizeof req, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", HOST, PORT);
  queue(c, req, n); drain_out(c);
}

static client_t *open_client(int i, int publisher) {
  client_t *c = calloc(1, sizeof *c); c->publisher = publisher; c->room = ROOMS ? i % ROOMS : 0;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0); if (c->fd < 0) die(strerror(errno), c, 0, 0);
  int one = 1; setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (SRCIPS > 1) {
    struct sockaddr_in s = { .sin_family = AF_INET }; s.sin_addr.s_addr = htonl(0x7f000002 + i % SRCIPS);
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one); bind(c->fd, (void *)&s, sizeof s);
  }
  struct sockaddr_in to = server; if (nports && !publisher) { to.sin_port = htons(ports[i % nports]); c->node = i % nports; }
  if (connect(c->fd, (void *)&to, sizeof to) < 0 && errno != EINPROGRESS) die(strerror(errno), c, 0, 0);
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c }; epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  return c;
}

// Handles what is ready, waiting at most timeout_s (to the microsecond: the publisher's pacing sleeps here
// instead of spinning, so gen_cpu_s is the generator's work).
static void pump(double timeout_s) {
  struct epoll_event evs[512];
  struct timespec ts = { (time_t)timeout_s, (long)((timeout_s - (time_t)timeout_s) * 1e9) };
  int n = epoll_pwait2(epfd, evs, 512, &ts, NULL);
  if (n < 0 && errno == ENOSYS) n = epoll_wait(epfd, evs, 512, (int)(timeout_s * 1000));
  for (int i = 0; i < n; i++) {
    client_t *c = evs[i].data.ptr;
    if (evs[i].events & EPOLLOUT) { if (c->state == C_TCP) on_connected(c); else drain_out(c); }
    if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) { if (c->state == C_TCP) on_connected(c); else on_readable(c); }
  }
}
static double all_cpu(void) { double t = 0; for (int k = 0; k < npids; k++) t += proc_cpu(pids[k]); return t; }
static long all_rss_kb(void) { long t = 0; for (int k = 0; k < npids; k++) t += proc_rss_kb(pids[k]); return t; }
static int by_value(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  if (argc < 7) { fprintf(stderr, "usage: fanout_rooms HOST PORT N ROOMS M RATE [bench|dialogue]\n"); return 1; }
  HOST = argv[1]; PORT = atoi(argv[2]); N = atoi(argv[3]); ROOMS = atoi(argv[4]); M = atoi(argv[5]); RATE = atof(argv[6]);
  if (argc > 7) MODE = argv[7];
  if (strcmp(MODE, "bench") && strcmp(MODE, "dialogue")) { fprintf(stderr, "mode must be bench or dialogue\n"); return 1; }
  DIALOGUE = !strcmp(MODE, "dialogue");
  if (ROOMS < 1 || N < 1 || (M > 0 && RATE <= 0)) { fprintf(stderr, "need N >= 1, ROOMS >= 1, RATE > 0\n"); return 1; }
  if (getenv("ROOM_PREFIX")) PREFIX = getenv("ROOM_PREFIX");
  if (getenv("EVENT")) EVENT = getenv("EVENT");
  if (getenv("SIZE")) SIZE = atoi(getenv("SIZE"));
  if (getenv("INFLIGHT")) INFLIGHT = atoi(getenv("INFLIGHT"));
  if (getenv("SRC_IPS")) SRCIPS = atoi(getenv("SRC_IPS"));
  if (getenv("DRAIN")) DRAIN = atof(getenv("DRAIN"));
  if (getenv("PORTS")) for (char *p = getenv("PORTS"); *p && nports < 16; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0)) ports[nports++] = atoi(p);
  if (getenv("EVENT_LOG") && M > 0) { event_max = calloc(M, sizeof *event_max); event_node_max = calloc(M, sizeof *event_node_max); }
  if (getenv("SERVER_PID")) for (char *p = getenv("SERVER_PID"); *p && npids < 16; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0)) pids[npids++] = atoi(p);
  struct rlimit rl; getrlimit(RLIMIT_NOFILE, &rl); rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl);
  if ((rlim_t)N + 64 > rl.rlim_cur) { fprintf(stderr, "fanout_rooms: N=%d needs more than the %lu file descriptors allowed (ulimit -n)\n", N, (unsigned long)rl.rlim_cur); return 2; }
  server.sin_family = AF_INET; server.sin_port = htons(PORT);
  if (inet_pton(AF_INET, !strcmp(HOST, "localhost") ? "127.0.0.1" : HOST, &server.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", HOST); return 1; }
  epfd = epoll_create1(0);
  int *members = calloc(ROOMS, sizeof *members); for (int i = 0; i < N; i++) members[i % ROOMS]++;

  long rss0 = all_rss_kb(); double scpu0 = all_cpu(), t0 = mono_s(); int opened = 0;
  while (ready < N) {
    while (opened < N && opened - ready < INFLIGHT) open_client(opened++, 0);
    pump(0.05);
    if (mono_s() - t0 > 120) { fprintf(stderr, "fanout_rooms: connect phase timed out: %d/%d ready\n", ready, N); return 2; }
  }
  double tconn = mono_s() - t0, scpu_conn = all_cpu() - scpu0;
  for (double e = mono_s() + 1; mono_s() < e;) pump(0.05);     // settle
  long rss1 = all_rss_kb();
  if (M == 0) {
    printf("mode=storm-%s N=%d rooms=%d inflight=%d connect_s=%.2f conns_per_s=%.0f srv_cpu_s=%.2f srv_us_per_conn=%.1f srv_rss_kb_before=%ld after=%ld rss_kb_per_conn=%.2f\n",
      MODE, N, ROOMS, INFLIGHT, tconn, N / tconn, scpu_conn, scpu_conn * 1e6 / N, rss0, rss1, (rss1 - rss0) / (double)N);
    return 0;
  }

  client_t *pub = open_client(N, 1); ready = 0;
  for (double e = mono_s() + 60; ready < 1; pump(0.05)) if (mono_s() > e) { fprintf(stderr, "fanout_rooms: publisher setup timed out\n"); return 2; }
  char *filler = malloc(SIZE + 1); memset(filler, 'x', SIZE); filler[SIZE] = 0;
  char *msg = malloc(SIZE + 512); long expected = 0;
  double cpu0 = own_cpu(), s0 = all_cpu(), start = mono_s(), next = start; int sent = 0;
  while (sent < M) {
    double t = mono_s();
    if (t < next) { pump(next - t); continue; }
    int room = sent % ROOMS, n;
    if (DIALOGUE) n = sprintf(msg, "42[\"dialogue:trigger\",{\"roomId\":\"%s%d\",\"event\":\"%s\",\"data\":{\"t\":\"@@%.3f\",\"k\":%d,\"p\":\"%s\"}}]", PREFIX, room, EVENT, wall_ms(), sent, filler);
    else n = sprintf(msg, "42[\"bcast\",\"%s%d\",{\"t\":\"@@%.3f\",\"k\":%d,\"p\":\"%s\"}]", PREFIX, room, wall_ms(), sent, filler);
    text(pub, msg, n); expected += members[room]; sent++; next += 1.0 / RATE;
  }
  double last = mono_s();
  while (delivered < expected && mono_s() - last < DRAIN) pump(0.05);
  double end = mono_s(), cpu1 = own_cpu(), s1 = all_cpu(), secs = end - start;
  qsort(lat, nlat, sizeof *lat, by_value);
  #define PCT(q) (nlat ? lat[(long)((q) * (nlat - 1))] : -1)
  printf("mode=rooms-%s N=%d rooms=%d M=%d rate=%.0f size=%d connect_s=%.2f conns_per_s=%.0f delivered=%ld/%ld secs=%.2f deliveries_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f gen_cpu_s=%.2f srv_cpu_s=%.2f srv_us_per_delivery=%.2f srv_rss_kb_idle_delta_per_conn=%.2f",
    MODE, N, ROOMS, M, RATE, SIZE, tconn, N / tconn, delivered, expected, secs, delivered / secs, PCT(.5), PCT(.9), PCT(.99), PCT(1.0),
    cpu1 - cpu0, s1 - s0, delivered ? (s1 - s0) * 1e6 / delivered : -1, (rss1 - rss0) / (double)N);
  for (int k = 0; nports > 1 && k < nports; k++) {
    qsort(node_lat[k], node_n[k], sizeof(double), by_value);
    #define NPCT(q) (node_n[k] ? node_lat[k][(long)((q) * (node_n[k] - 1))] : -1)
    printf(" node%d_p50_ms=%.2f node%d_p99_ms=%.2f", k + 1, NPCT(.5), k + 1, NPCT(.99));
  }
  printf("\n");
  const char *log = getenv("EVENT_LOG"); FILE *f = log ? fopen(log, "w") : 0;
  for (int j = 0; f && j < M; j++) {
    fprintf(f, "k=%d sent_s=%.3f max_ms=%.2f", j, j / RATE, event_max[j]);
    for (int k = 0; k < nports; k++) fprintf(f, " node%d_max_ms=%.2f", k + 1, event_node_max[j][k]);
    fprintf(f, "\n");
  }
  if (f) fclose(f);
  return delivered == expected ? 0 : 3;
}
