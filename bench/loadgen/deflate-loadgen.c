/*
 * fullduplex permessage-deflate load generator: a WebSocket client in C that really compresses
 * every message it sends and inflates every message it receives (zlib), so compressed workloads
 * are driven by something that does not share the server's bottleneck and reports its own CPU.
 *
 * One thread, epoll, non-blocking sockets on 127.0.0.1. Each connection offers
 * `permessage-deflate; client_max_window_bits` (browsers' offer), parses the answer, compresses
 * with the negotiated client window (level --level, default 1: cheap for the generator; memLevel 8)
 * and context takeover unless `client_no_context_takeover` was answered, and inflates with a
 * persistent 15-bit inflater reset after each message when `server_no_context_takeover` was
 * answered. Every message is realistic JSON (--size bytes) carrying its sequence number; every
 * echoed or broadcast message is inflated and compared byte for byte with what was sent.
 *
 * Modes (--mode):
 *   echo       --conns N --inflight K --size S: each connection keeps K messages in flight.
 *   broadcast  --conns R --inflight K --size S: R receivers on /sub, one sender on /pub; the sender
 *              keeps K messages outstanding (one goes when every receiver got an earlier one).
 *              An op = one verified delivery.
 *   hold       --conns N --pre P: opens N connections, does P echoes on each, prints
 *              {"ready":N} and holds them until stdin closes (memory measurements).
 *
 * Output: one JSON object: ops/s, this process's CPU µs per op (getrusage), the server's CPU µs per
 * op (--server-pid, /proc/<pid>/stat), wire bytes per message received, and errors.
 *
 * Build: cc -O2 -o deflate-loadgen deflate-loadgen.c -lz (needs zlib1g-dev).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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
#include <zlib.h>

enum { M_ECHO, M_BROADCAST, M_HOLD };
static int mode = M_ECHO, port = 0, conns = 1, inflight = 1, level = 1, pre = 2, server_pid = 0;
static int plain_offer = 0; /* --plain: offer no extension (hold mode baselines) */
static size_t size = 1024;
static double warmup = 1, duration = 5;

typedef struct {
  int fd, id, state; /* 0 handshake, 1 open */
  int is_sender;
  unsigned char *rbuf; size_t rlen, rcap;
  unsigned char *wbuf; size_t wlen, wcap, woff;
  z_stream def, inf;
  int def_init, inf_init, client_takeover, server_takeover, client_bits;
  unsigned long sent, received;
  unsigned char *msg; size_t msg_len, msg_cap; /* reassembly of a fragmented message */
  int in_msg, msg_compressed, msg_opcode;
} conn_t;

static conn_t *cs;
static int ep;
static unsigned char *pool;
static size_t pool_len;
static unsigned char *scratch, *outbuf;
static size_t scratch_cap, outbuf_cap;
static unsigned long ops, errors, wire_bytes, wire_msgs;
static int measuring;
static unsigned bcast_done[1024];

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double cpu_self(void) { struct rusage r; getrusage(RUSAGE_SELF, &r); return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6; }
static double cpu_pid(int pid) {
  if (!pid) return 0;
  char path[64], buf[1024]; snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r"); if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f); fclose(f); buf[n] = 0;
  char *p = strrchr(buf, ')'); if (!p) return 0;
  unsigned long ut = 0, st = 0; int field = 3; p += 2;
  while (*p && field < 14) { if (*p == ' ') field++; p++; }
  sscanf(p, "%lu %lu", &ut, &st);
  return (ut + st) / (double)sysconf(_SC_CLK_TCK);
}
static void die(const char *m) { fprintf(stderr, "deflate-loadgen: %s\n", m); exit(2); }
static void *grow(void *p, size_t *cap, size_t need) { if (need <= *cap) return p; size_t c = *cap ? *cap : 4096; while (c < need) c *= 2; p = realloc(p, c); if (!p) die("out of memory"); *cap = c; return p; }

/* A pool of realistic JSON events; a message is a header with its sequence number plus a slice of it. */
static void make_pool(void) {
  pool_len = 4 << 20; pool = malloc(pool_len + 512);
  static const char *kinds[] = {"join", "message", "leave", "typing", "reaction"};
  static const char *words[] = {"hello", "world", "the", "quick", "brown", "fox", "deploy", "build", "green", "review", "merge", "ship", "lunch", "meeting", "today"};
  uint32_t x = 12345; size_t n = 0; int i = 0;
  while (n < pool_len) {
    x = x * 1103515245 + 12345;
    n += snprintf((char *)pool + n, 512, "{\"id\":%d,\"user\":\"user-%u\",\"type\":\"%s\",\"text\":\"%s %s %s\",\"ts\":%u,\"ok\":%s},",
                  100000 + i, (x >> 8) % 500, kinds[(x >> 4) % 5], words[(x >> 12) % 15], words[(x >> 16) % 15], words[(x >> 20) % 15], 1700000000u + i * 7, (x & 1) ? "true" : "false");
    i++;
  }
}
static size_t make_message(unsigned char *out, int conn, unsigned long seq) {
  int h = snprintf((char *)out, 64, "{\"seq\":%010lu,\"conn\":%06d,\"events\":[", seq, conn);
  size_t body = size > (size_t)h + 2 ? size - h - 2 : 0;
  /* Far apart (64 KiB stride in a 4 MiB pool): a message never repeats a recent one verbatim, as real events do not. */
  size_t off = (seq * 65599 + (size_t)conn * 1048573) % (pool_len - body - 1);
  memcpy(out + h, pool + off, body);
  memcpy(out + h + body, "]}", 2);
  return h + body + 2;
}

static void queue(conn_t *c, const void *p, size_t n) { c->wbuf = grow(c->wbuf, &c->wcap, c->wlen + n); memcpy(c->wbuf + c->wlen, p, n); c->wlen += n; }
static void flush(conn_t *c) {
  while (c->woff < c->wlen) {
    ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
    if (n < 0) { if (errno == EAGAIN) break; errors++; return; }
    c->woff += n;
  }
  if (c->woff == c->wlen) c->woff = c->wlen = 0;
  struct epoll_event e = {.events = EPOLLIN | (c->wlen ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Compresses `data` (RFC 7692 §7.2.1: sync flush, tail removed) and queues one masked RSV1 text frame. */
static void send_message(conn_t *c, const unsigned char *data, size_t len) {
  if (!c->def_init) {
    if (deflateInit2(&c->def, level, Z_DEFLATED, -(c->client_bits < 9 ? 9 : c->client_bits), 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2");
    c->def_init = 1;
  }
  outbuf = grow(outbuf, &outbuf_cap, len + len / 8 + 64);
  c->def.next_in = (unsigned char *)data; c->def.avail_in = len;
  c->def.next_out = outbuf; c->def.avail_out = outbuf_cap;
  if (deflate(&c->def, Z_SYNC_FLUSH) != Z_OK || c->def.avail_in) die("deflate");
  size_t clen = outbuf_cap - c->def.avail_out - 4;
  if (!c->client_takeover) deflateReset(&c->def);
  unsigned char head[14]; size_t hl = 0;
  head[hl++] = 0x80 | 0x40 | 1;
  if (clen < 126) head[hl++] = 0x80 | clen;
  else if (clen < 65536) { head[hl++] = 0x80 | 126; head[hl++] = clen >> 8; head[hl++] = clen; }
  else { head[hl++] = 0x80 | 127; for (int i = 7; i >= 0; i--) head[hl++] = (uint64_t)clen >> (8 * i); }
  uint32_t mask = (uint32_t)random(); memcpy(head + hl, &mask, 4); hl += 4;
  unsigned char *m = head + hl - 4;
  for (size_t i = 0; i < clen; i++) outbuf[i] ^= m[i & 3];
  queue(c, head, hl); queue(c, outbuf, clen);
  c->sent++;
}

static void send_next(conn_t *c) {
  scratch = grow(scratch, &scratch_cap, size + 64);
  size_t n = make_message(scratch, mode == M_BROADCAST ? 0 : c->id, c->sent);
  send_message(c, scratch, n);
}

static void parse_answer(conn_t *c, const char *head) {
  const char *e = strcasestr(head, "\r\nsec-websocket-extensions:");
  c->client_takeover = c->server_takeover = 1; c->client_bits = 15;
  if (!e && plain_offer && pre == 0) return; /* --plain: uncompressed baseline, nothing sent */
  if (!e) { fprintf(stderr, "deflate-loadgen: permessage-deflate not negotiated\n"); exit(3); }
  const char *end = strstr(e + 2, "\r\n");
  char line[512]; size_t n = end - e; if (n >= sizeof line) n = sizeof line - 1; memcpy(line, e, n); line[n] = 0;
  if (strstr(line, "client_no_context_takeover")) c->client_takeover = 0;
  if (strstr(line, "server_no_context_takeover")) c->server_takeover = 0;
  const char *b = strstr(line, "client_max_window_bits=");
  if (b) c->client_bits = atoi(b + 23);
}

static void on_message(conn_t *c, const unsigned char *data, size_t len) {
  if (measuring) { wire_msgs++; }
  if (mode == M_BROADCAST) {
    if (c->is_sender) return;
    /* Receivers get the sender's messages in order: the next one expected is seq c->received. */
    scratch = grow(scratch, &scratch_cap, size + 64);
    size_t n = make_message(scratch, 0, c->received);
    if (n != len || memcmp(scratch, data, n)) { if (errors++ < 3) fprintf(stderr, "deflate-loadgen: broadcast mismatch on conn %d seq %lu\n", c->id, c->received); }
    unsigned slot = c->received % 1024;
    c->received++;
    if (measuring) ops++;
    if (++bcast_done[slot] == (unsigned)conns) {
      /* Every receiver has this one: the sender keeps --inflight messages outstanding. */
      bcast_done[slot] = 0;
      send_next(&cs[conns]); flush(&cs[conns]);
    }
    return;
  }
  scratch = grow(scratch, &scratch_cap, size + 64);
  size_t n = make_message(scratch, c->id, c->received);
  if (n != len || memcmp(scratch, data, n)) { if (errors++ < 3) fprintf(stderr, "deflate-loadgen: echo mismatch on conn %d seq %lu (%zu vs %zu bytes: %.40s / %.40s)\n", c->id, c->received, len, n, (const char *)data, (const char *)scratch); }
  c->received++;
  if (measuring) ops++;
  if (mode == M_HOLD) { if (c->sent < (unsigned long)pre) send_next(c); return; }
  send_next(c);
}

static void inflate_payload(conn_t *c, const unsigned char *p, size_t n, int fin) {
  static const unsigned char tail[4] = {0, 0, 0xff, 0xff};
  if (!c->inf_init) { if (inflateInit2(&c->inf, -15) != Z_OK) die("inflateInit2"); c->inf_init = 1; }
  for (int pass = 0; pass < 1 + fin; pass++) {
    c->inf.next_in = pass ? (unsigned char *)tail : (unsigned char *)p; c->inf.avail_in = pass ? 4 : n;
    while (c->inf.avail_in) {
      c->msg = grow(c->msg, &c->msg_cap, c->msg_len + 65536);
      c->inf.next_out = c->msg + c->msg_len; c->inf.avail_out = c->msg_cap - c->msg_len;
      int r = inflate(&c->inf, Z_SYNC_FLUSH);
      if (r != Z_OK && r != Z_BUF_ERROR) { if (errors++ < 3) fprintf(stderr, "deflate-loadgen: inflate error %d\n", r); return; }
      c->msg_len = c->msg_cap - c->inf.avail_out;
      if (r == Z_BUF_ERROR && c->inf.avail_out) break;
    }
  }
  if (fin && !c->server_takeover) inflateReset(&c->inf);
}

static void on_readable(conn_t *c) {
  for (;;) {
    c->rbuf = grow(c->rbuf, &c->rcap, c->rlen + 65536);
    ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n < 0) { if (errno == EAGAIN) break; errors++; return; }
    if (n == 0) { if (errors++ < 3) fprintf(stderr, "deflate-loadgen: server closed conn %d\n", c->id); close(c->fd); c->fd = -1; return; }
    c->rlen += n;
    if (measuring) wire_bytes += n;
  }
  size_t off = 0;
  if (c->state == 0) {
    c->rbuf = grow(c->rbuf, &c->rcap, c->rlen + 1); c->rbuf[c->rlen] = 0;
    char *end = strstr((char *)c->rbuf, "\r\n\r\n");
    if (!end) return;
    if (strncmp((char *)c->rbuf, "HTTP/1.1 101", 12)) die("no 101");
    *end = 0; parse_answer(c, (char *)c->rbuf);
    off = (unsigned char *)end + 4 - c->rbuf;
    c->state = 1;
    if (mode == M_ECHO) for (int i = 0; i < inflight; i++) send_next(c);
    if (mode == M_HOLD && pre > 0) send_next(c);
  }
  while (c->rlen - off >= 2) {
    unsigned char *f = c->rbuf + off;
    size_t len = f[1] & 0x7f, hl = 2;
    if (len == 126) { if (c->rlen - off < 4) break; len = (f[2] << 8) | f[3]; hl = 4; }
    else if (len == 127) { if (c->rlen - off < 10) break; len = 0; for (int i = 0; i < 8; i++) len = (len << 8) | f[2 + i]; hl = 10; }
    if (c->rlen - off < hl + len) break;
    int fin = (f[0] & 0x80) != 0, rsv1 = (f[0] & 0x40) != 0, op = f[0] & 0x0f;
    if (op >= 8) { off += hl + len; continue; }
    if (op != 0) { c->in_msg = 1; c->msg_len = 0; c->msg_compressed = rsv1; c->msg_opcode = op; }
    if (c->msg_compressed) inflate_payload(c, f + hl, len, fin);
    else { c->msg = grow(c->msg, &c->msg_cap, c->msg_len + len); memcpy(c->msg + c->msg_len, f + hl, len); c->msg_len += len; }
    off += hl + len;
    if (fin) { c->in_msg = 0; on_message(c, c->msg, c->msg_len); }
  }
  memmove(c->rbuf, c->rbuf + off, c->rlen - off); c->rlen -= off;
  flush(c);
}

static void open_conn(conn_t *c, const char *path) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1; setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)}; inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
  char req[512];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", path, port, plain_offer ? "" : "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  queue(c, req, n);
  struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}

static void loop_until(double deadline, int (*done)(void)) {
  struct epoll_event evs[256];
  while (now() < deadline && !(done && done())) {
    int n = epoll_wait(ep, evs, 256, 50);
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (c->fd < 0) continue;
      if (evs[i].events & EPOLLOUT) flush(c);
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
  }
}

static int all_open(void) { for (int i = 0; i < conns + (mode == M_BROADCAST); i++) if (cs[i].state != 1) return 0; return 1; }
static int all_pre(void) { for (int i = 0; i < conns; i++) if (cs[i].received < (unsigned long)pre) return 0; return 1; }

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--mode")) { mode = !strcmp(v, "echo") ? M_ECHO : !strcmp(v, "broadcast") ? M_BROADCAST : M_HOLD; i++; }
    else if (!strcmp(a, "--port")) { port = atoi(v); i++; }
    else if (!strcmp(a, "--conns")) { conns = atoi(v); i++; }
    else if (!strcmp(a, "--inflight")) { inflight = atoi(v); i++; }
    else if (!strcmp(a, "--size")) { size = atol(v); i++; }
    else if (!strcmp(a, "--level")) { level = atoi(v); i++; }
    else if (!strcmp(a, "--pre")) { pre = atoi(v); i++; }
    else if (!strcmp(a, "--plain")) plain_offer = 1;
    else if (!strcmp(a, "--warmup")) { warmup = atof(v); i++; }
    else if (!strcmp(a, "--duration")) { duration = atof(v); i++; }
    else if (!strcmp(a, "--server-pid")) { server_pid = atoi(v); i++; }
    else die("unknown option");
  }
  if (!port) die("--port is required");
  if (size < 64) size = 64;
  srandom(time(NULL));
  make_pool();
  ep = epoll_create1(0);
  int total = conns + (mode == M_BROADCAST);
  cs = calloc(total, sizeof *cs);
  for (int i = 0; i < total; i++) { cs[i].id = i; cs[i].client_bits = 15; }
  for (int i = 0; i < conns; i++) {
    open_conn(&cs[i], mode == M_BROADCAST ? "/sub" : "/");
    if (i % 64 == 63) loop_until(now() + 0.002, NULL);
  }
  loop_until(now() + 30, all_open);
  if (mode == M_BROADCAST) {
    cs[conns].is_sender = 1; open_conn(&cs[conns], "/pub");
    loop_until(now() + 10, all_open);
    loop_until(now() + 0.2, NULL);
    for (int i = 0; i < inflight && i < 1024; i++) send_next(&cs[conns]);
    flush(&cs[conns]);
  }
  if (!all_open()) die("not every connection opened");
  if (mode == M_HOLD) {
    loop_until(now() + 60, all_pre);
    printf("{\"ready\":%d,\"errors\":%lu}\n", conns, errors); fflush(stdout);
    char b[64]; while (read(0, b, sizeof b) > 0) {}
    return 0;
  }
  loop_until(now() + warmup, NULL);
  measuring = 1;
  double t0 = now(), c0 = cpu_self(), s0 = cpu_pid(server_pid);
  loop_until(t0 + duration, NULL);
  double t1 = now(), c1 = cpu_self(), s1 = cpu_pid(server_pid);
  measuring = 0;
  double secs = t1 - t0;
  printf("{\"mode\":\"%s\",\"conns\":%d,\"inflight\":%d,\"size\":%zu,\"ops\":%lu,\"seconds\":%.3f,\"opsPerSec\":%.1f,"
         "\"genCpuUsPerOp\":%.2f,\"serverCpuUsPerOp\":%.2f,\"genCpuPct\":%.1f,\"serverCpuPct\":%.1f,\"wireBytesPerMsg\":%.1f,\"errors\":%lu}\n",
         mode == M_ECHO ? "echo" : "broadcast", conns, inflight, size, ops, secs, ops / secs,
         ops ? (c1 - c0) * 1e6 / ops : 0, ops ? (s1 - s0) * 1e6 / ops : 0, (c1 - c0) * 100 / secs, (s1 - s0) * 100 / secs,
         wire_msgs ? (double)wire_bytes / wire_msgs : 0, errors);
  return errors ? 1 : 0;
}
