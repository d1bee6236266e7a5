/*
 * fullduplex load generator: a WebSocket client load generator in C, so the benchmark's driver
 * does not share the bottleneck it measures (a JavaScript client would spend the same kind of
 * CPU as the servers under test).
 *
 * One thread, one epoll set, non-blocking sockets on 127.0.0.1. Every connection does the
 * RFC 6455 client handshake itself (fixed Sec-WebSocket-Key, the 101 status and the
 * Sec-WebSocket-Accept value are checked), masks every frame with a fresh random mask from
 * getrandom(2), and verifies every byte of every message it gets back: each payload starts with
 * its sequence number and continues with a pattern that depends on it, so a reordered, dropped,
 * duplicated or corrupted message is an error, not a figure.
 *
 * Modes (--mode):
 *   echo       --conns N --inflight K --size S [--text]: each connection keeps K messages in
 *              flight; the server sends each back. An op = one verified echo.
 *   broadcast  --conns R --inflight K --size S: R receivers on /sub and one sender on /pub; the
 *              sender keeps K messages in flight, a message is complete when all R receivers
 *              got it (then the next one goes). An op = one verified delivery.
 *              --port2 P2 puts every other receiver on a second server (the sender stays on
 *              --port); --settle S waits S seconds between the last receiver's 101 and the sender's
 *              connect (time for subscriptions to reach a backplane). --lockstep sends K
 *              messages at once and the next K only when all K are complete, so every stage of a
 *              multi-process path handles batches of K (a sliding window splits into smaller ones).
 *   handshake  --conns C: C concurrent loops of connect, upgrade, 101, close frame, server's close
 *              frame, TCP close. An op = one completed cycle; latency = connect start to 101.
 *   rooms      --conns N --port A --port2 B [--count C]: 2N receivers, room i's on A and on B
 *              (path /?sub=room-i); receives whatever the servers publish (binary, >= 12 bytes:
 *              u32 id, u64 publish time in CLOCK_MONOTONIC ns, as the backplane bench sends).
 *              Prints a ready line once all are open, records each id < C's receive time on A
 *              and on B, and when stdin closes prints the latency publish->A, publish->B and the
 *              added latency B - A (p50/p99/max, µs). Nothing is sent.
 *   idle       --conns N: opens N connections, prints one JSON line, holds them until stdin
 *              closes (or --max-seconds), then exits.
 *
 * Timing: --warmup seconds of load, then a --duration window in which ops, latency, this
 * process's CPU (getrusage), the server's CPU (--server-pid: /proc/<pid>/task/<tid>/schedstat
 * summed over threads, ns) and the whole machine's busy time (/proc/stat) are measured. The
 * result is one JSON object on stdout. Hard stop after --max-seconds whatever happens.
 *
 * Build: cc -O2 -o loadgen loadgen.c (Linux only: epoll, getrandom, /proc).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- options ------------------------------------------------------------------------------ */

enum { M_ECHO, M_BROADCAST, M_HANDSHAKE, M_IDLE, M_ROOMS };

static int opt_mode = M_ECHO;
static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static int opt_conns = 1;
static int opt_inflight = 1;
static size_t opt_size = 64;
static int opt_text = 0;
static double opt_warmup = 1.0;
static double opt_duration = 3.0;
static double opt_max_seconds = 120.0;
static int opt_server_pids[8];   /* --server-pid P[,P...]: CPU summed over these processes */
static int opt_server_npids = 0;
static int opt_port2 = 0;        /* broadcast: odd receivers connect here */
static double opt_settle = 0;    /* broadcast: pause before the sender connects */
static int opt_lockstep = 0;     /* broadcast: send K at a time, the next K once all are complete */
static int opt_allow_masked = 0; /* the raw ceiling server echoes our masked frames as they came */
static long opt_count = 0;       /* echo: stop after this many verified messages (0 = timed) */

/* ---- small utilities -------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long errors = 0;
static char first_error[256] = "";

static void note_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_error(const char *fmt, ...) {
  errors++;
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (first_error[0] == 0) memcpy(first_error, text, sizeof text);
  if (errors <= 5) fprintf(stderr, "loadgen: %s\n", text); /* the first few, for diagnosis */
}

/* The error text goes into a JSON string: no quotes, backslashes or control characters. */
static const char *json_safe_error(void) {
  for (char *p = first_error; *p; p++)
    if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '\'';
  return first_error;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "loadgen: out of memory\n");
    exit(3);
  }
  return p;
}

/* Random mask keys: 4 bytes each from a getrandom() pool (the kernel CSPRNG, as RFC 6455 10.3 asks). */
static uint8_t rnd_pool[4096];
static size_t rnd_pos = sizeof rnd_pool;

static void random_mask(uint8_t out[4]) {
  if (rnd_pos + 4 > sizeof rnd_pool) {
    size_t got = 0;
    while (got < sizeof rnd_pool) {
      ssize_t r = getrandom(rnd_pool + got, sizeof rnd_pool - got, 0);
      if (r < 0 && errno != EINTR) {
        perror("getrandom");
        exit(3);
      }
      if (r > 0) got += (size_t)r;
    }
    rnd_pos = 0;
  }
  memcpy(out, rnd_pool + rnd_pos, 4);
  rnd_pos += 4;
}

/* XORs n bytes with the 4-byte mask, starting at mask phase `phase`, 8 bytes at a time. */
static void xor_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t phase) {
  size_t i = 0;
  while (i < n && ((phase + i) & 3) != 0) {
    p[i] ^= mask[(phase + i) & 3];
    i++;
  }
  uint8_t m8[8] = {mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]};
  uint64_t m;
  memcpy(&m, m8, 8);
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    v ^= m;
    memcpy(p + i, &v, 8);
  }
  for (; i < n; i++) p[i] ^= mask[(phase + i) & 3];
}

/* ---- payloads ---------------------------------------------------------------------------- */
/*
 * Payload of message `seq`: a prefix holding seq (8 bytes big-endian for binary, 16 lowercase
 * hex digits for text), then pattern[(seq % 251) + offset] for the rest. The pattern is bytes for
 * binary and ASCII letters for text (valid UTF-8).
 */
static uint8_t *pattern;
static size_t prefix_len(void) { return opt_text ? 16 : 8; }

static void make_pattern(void) {
  size_t n = opt_size + 256;
  pattern = xmalloc(n);
  for (size_t j = 0; j < n; j++) pattern[j] = opt_text ? (uint8_t)('a' + (j * 7 + j / 26) % 26) : (uint8_t)(j * 131 + (j >> 8) * 17 + 91);
}

static uint8_t prefix_byte(uint64_t seq, size_t off) {
  if (opt_text) {
    unsigned nib = (unsigned)(seq >> (4 * (15 - off))) & 15;
    return (uint8_t)(nib < 10 ? '0' + nib : 'a' + nib - 10);
  }
  return (uint8_t)(seq >> (8 * (7 - off)));
}

static void write_payload(uint8_t *dst, uint64_t seq) {
  size_t pl = prefix_len();
  for (size_t i = 0; i < pl; i++) dst[i] = prefix_byte(seq, i);
  memcpy(dst + pl, pattern + (seq % 251) + pl, opt_size - pl);
}

/* Checks n received payload bytes at payload offset `off` of message `seq`. */
static int payload_matches(uint64_t seq, uint64_t off, const uint8_t *d, size_t n) {
  size_t i = 0, pl = prefix_len();
  for (; i < n && off + i < pl; i++)
    if (d[i] != prefix_byte(seq, off + i)) return 0;
  if (i < n && memcmp(d + i, pattern + (seq % 251) + off + i, n - i) != 0) return 0;
  return 1;
}

/* ---- latency histogram: 1 µs buckets to 131 ms, then 1 ms buckets to 120 s ---------------- */

#define FINE 131072
#define COARSE 120000
static uint64_t hist[FINE + COARSE];
static uint64_t hist_n = 0;
static double hist_max = 0;
static int recording = 0;

static void record_latency(double seconds) {
  if (!recording) return;
  double us = seconds * 1e6;
  if (us < 0) us = 0;
  size_t b = us < FINE ? (size_t)us : FINE + (size_t)((us - FINE) / 1000);
  if (b >= FINE + COARSE) b = FINE + COARSE - 1;
  hist[b]++;
  hist_n++;
  if (us > hist_max) hist_max = us;
}

static double percentile(double q) {
  if (hist_n == 0) return -1;
  uint64_t want = (uint64_t)(q * (double)hist_n), seen = 0;
  if (want >= hist_n) want = hist_n - 1;
  for (size_t b = 0; b < FINE + COARSE; b++) {
    seen += hist[b];
    if (seen > want) return b < FINE ? (double)b + 0.5 : FINE + (double)(b - FINE) * 1000 + 500;
  }
  return hist_max;
}

/* ---- connections ------------------------------------------------------------------------- */

enum { S_FREE, S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSING, S_DEAD };
enum { R_ECHO, R_RECEIVER, R_SENDER, R_CYCLE, R_IDLE, R_ROOM };

typedef struct {
  int fd;
  int state;
  int role;
  /* response head while handshaking */
  char head[1024];
  size_t head_len;
  double started; /* connect() time (handshake latency) */
  /* frame being parsed */
  uint8_t hdr[14];
  size_t hdr_len, hdr_need;
  uint64_t pay_len, pay_pos;
  uint8_t fmask[4];
  int fmasked, fopcode, in_payload;
  int frame_ok;
  /* sequence numbers */
  uint64_t send_seq, recv_seq;
  double *sent_at; /* echo: ring of send times, inflight entries */
  /* output */
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  int dirty, want_out;
  uint8_t head12[12]; /* rooms: the id and publish time at the start of the message */
} conn_t;

static conn_t *conns;
static int nconns;
static int epfd;
static int running = 0;  /* sending new messages */
static long ops = 0;     /* echo: verified echoes; broadcast: deliveries; handshake: cycles */
static long completed = 0; /* broadcast: messages every receiver got */
static long received = 0;  /* data frames received (any mode) */
static long verified = 0;  /* data frames whose every byte matched */
static long reads_n = 0;
static long opened = 0;
static int pending_connects = 0;
static int *dirty_list;
static int ndirty = 0;

/* broadcast bookkeeping: per in-flight message, how many receivers got it and when it went out */
static int *bc_count;
static int bc_open = 0; /* broadcast: messages sent and not yet complete */
static double *bc_sent;
static int bc_ring = 1;
static int sender_idx = -1;
static int receivers_target = 0;

static const char *WS_KEY = "dGhlIHNhbXBsZSBub25jZQ==";           /* RFC 6455 1.3's example key */
static const char *WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";     /* and its accept value */

static void set_events(conn_t *c, int idx, uint32_t ev) {
  struct epoll_event e = {.events = ev, .data = {.u64 = (uint64_t)idx}};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) perror("epoll_ctl mod");
}

static void mark_dirty(int idx) {
  conn_t *c = &conns[idx];
  if (!c->dirty) {
    c->dirty = 1;
    dirty_list[ndirty++] = idx;
  }
}

static void out_reserve(conn_t *c, size_t extra) {
  if (c->out_off > 0 && c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (c->out_len + extra <= c->out_cap) return;
  if (c->out_off > 0) {
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
    if (c->out_len + extra <= c->out_cap) return;
  }
  size_t cap = c->out_cap ? c->out_cap : 4096;
  while (cap < c->out_len + extra) cap *= 2;
  c->out = realloc(c->out, cap);
  if (!c->out) {
    fprintf(stderr, "loadgen: out of memory\n");
    exit(3);
  }
  c->out_cap = cap;
}

/* Appends one masked frame (FIN, `opcode`) whose payload is written by `fill`. */
static uint8_t *append_frame(conn_t *c, int opcode, size_t len) {
  out_reserve(c, len + 14);
  uint8_t *p = c->out + c->out_len;
  size_t h = 0;
  p[h++] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    p[h++] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    p[h++] = 0x80 | 126;
    p[h++] = (uint8_t)(len >> 8);
    p[h++] = (uint8_t)len;
  } else {
    p[h++] = 0x80 | 127;
    for (int i = 7; i >= 0; i--) p[h++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  random_mask(p + h);
  c->out_len += h + 4 + len;
  return p + h; /* the mask; the payload follows it */
}

static void send_message(int idx, uint64_t seq) {
  conn_t *c = &conns[idx];
  uint8_t *mask = append_frame(c, opt_text ? 0x1 : 0x2, opt_size);
  write_payload(mask + 4, seq);
  xor_mask(mask + 4, opt_size, mask, 0);
  mark_dirty(idx);
}

static void send_close(int idx) {
  conn_t *c = &conns[idx];
  uint8_t *mask = append_frame(c, 0x8, 2);
  mask[4] = 0x03; /* 1000 */
  mask[5] = 0xe8;
  xor_mask(mask + 4, 2, mask, 0);
  mark_dirty(idx);
}

static void kill_conn(int idx) {
  conn_t *c = &conns[idx];
  if (c->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  if (c->state == S_CONNECTING || c->state == S_HANDSHAKE) pending_connects--;
  c->fd = -1;
  c->state = S_DEAD;
  c->out_len = c->out_off = 0;
}

static void flush_conn(int idx) {
  conn_t *c = &conns[idx];
  c->dirty = 0;
  if (c->fd < 0) return;
  while (c->out_off < c->out_len) {
    ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
    if (w > 0) {
      c->out_off += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c->want_out) {
        c->want_out = 1;
        set_events(c, idx, EPOLLIN | EPOLLOUT);
      }
      return;
    }
    note_error("write: %s", strerror(errno));
    kill_conn(idx);
    return;
  }
  c->out_off = c->out_len = 0;
  if (c->want_out) {
    c->want_out = 0;
    set_events(c, idx, EPOLLIN);
  }
}

/* Starts a TCP connection for slot idx (non-blocking; the handshake follows on EPOLLOUT). */
static struct sockaddr_in server_addr, server_addr2;

static void start_connect(int idx, int role) {
  conn_t *c = &conns[idx];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    note_error("socket: %s", strerror(errno));
    c->state = S_DEAD;
    c->fd = -1;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->role = role;
  c->state = S_CONNECTING;
  c->head_len = 0;
  c->hdr_len = 0;
  c->hdr_need = 2;
  c->in_payload = 0;
  c->send_seq = c->recv_seq = 0;
  c->out_len = c->out_off = 0;
  c->want_out = 1;
  c->started = now_s();
  pending_connects++;
  const struct sockaddr_in *to = (role == R_RECEIVER || role == R_ROOM) && opt_port2 > 0 && idx % 2 == 1 ? &server_addr2 : &server_addr;
  if (connect(fd, (const struct sockaddr *)to, sizeof *to) < 0 && errno != EINPROGRESS) {
    note_error("connect: %s", strerror(errno));
    kill_conn(idx);
    return;
  }
  struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data = {.u64 = (uint64_t)idx}};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
    note_error("epoll_ctl add: %s", strerror(errno));
    kill_conn(idx);
  }
}

static void on_connected(int idx) {
  conn_t *c = &conns[idx];
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) {
    note_error("connect: %s", strerror(err));
    kill_conn(idx);
    return;
  }
  char room_path[64];
  snprintf(room_path, sizeof room_path, "/?sub=room-%d", idx / 2);
  const char *path = c->role == R_SENDER ? "/pub" : c->role == R_RECEIVER ? "/sub" : c->role == R_ROOM ? room_path : "/";
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, opt_host, opt_port, WS_KEY);
  c->state = S_HANDSHAKE;
  out_reserve(c, (size_t)n);
  memcpy(c->out + c->out_len, req, (size_t)n);
  c->out_len += (size_t)n;
  c->want_out = 0;
  set_events(c, idx, EPOLLIN);
  flush_conn(idx);
}

static void on_frame_start(int idx);
static int on_payload(int idx, const uint8_t *d, size_t n);
static void on_frame_end(int idx);
static void on_open(int idx);

/* Checks the 101 response head; returns 1 when valid. */
static int check_101(conn_t *c) {
  if (strncmp(c->head, "HTTP/1.1 101", 12) != 0) {
    char *eol = strstr(c->head, "\r\n");
    if (eol) *eol = 0;
    note_error("expected 101, got: %.80s", c->head);
    return 0;
  }
  const char *h = strcasestr(c->head, "\r\nsec-websocket-accept:");
  if (!h) {
    note_error("101 without Sec-WebSocket-Accept");
    return 0;
  }
  h += strlen("\r\nsec-websocket-accept:");
  while (*h == ' ' || *h == '\t') h++;
  if (strncmp(h, WS_ACCEPT, strlen(WS_ACCEPT)) != 0) {
    note_error("wrong Sec-WebSocket-Accept");
    return 0;
  }
  return 1;
}

/* Feeds frame bytes through the parser; returns 0 if the connection was killed. */
static int feed_frames(int idx, const uint8_t *d, size_t n) {
  conn_t *c = &conns[idx];
  while (n > 0) {
    if (!c->in_payload) {
      size_t take = c->hdr_need - c->hdr_len;
      if (take > n) take = n;
      memcpy(c->hdr + c->hdr_len, d, take);
      c->hdr_len += take;
      d += take;
      n -= take;
      if (c->hdr_len < c->hdr_need) return 1;
      if (c->hdr_need == 2) {
        size_t need = 2;
        int len7 = c->hdr[1] & 0x7f;
        if (len7 == 126) need += 2;
        else if (len7 == 127) need += 8;
        if (c->hdr[1] & 0x80) need += 4;
        if (need > 2) {
          c->hdr_need = need;
          continue;
        }
      }
      /* complete header */
      uint8_t b0 = c->hdr[0], b1 = c->hdr[1];
      size_t h = 2;
      uint64_t len = b1 & 0x7f;
      if (len == 126) {
        len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
        h = 4;
      } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | c->hdr[2 + i];
        h = 10;
      }
      c->fmasked = (b1 & 0x80) != 0;
      if (c->fmasked) memcpy(c->fmask, c->hdr + h, 4);
      c->fopcode = b0 & 0x0f;
      c->pay_len = len;
      c->pay_pos = 0;
      c->hdr_len = 0;
      c->hdr_need = 2;
      c->in_payload = 1;
      if ((b0 & 0x70) != 0) {
        note_error("frame with RSV bits set");
        kill_conn(idx);
        return 0;
      }
      if (c->fmasked && !opt_allow_masked) {
        note_error("masked frame from the server");
        kill_conn(idx);
        return 0;
      }
      on_frame_start(idx);
      if (c->state == S_DEAD) return 0;
    }
    size_t take = (size_t)(c->pay_len - c->pay_pos) < n ? (size_t)(c->pay_len - c->pay_pos) : n;
    if (take > 0) {
      if (!on_payload(idx, d, take)) return 0;
      c->pay_pos += take;
      d += take;
      n -= take;
    }
    if (c->pay_pos == c->pay_len) {
      c->in_payload = 0;
      on_frame_end(idx);
      if (c->state == S_DEAD || c->fd < 0) return 0;
    }
  }
  return 1;
}

static uint64_t expected_seq(conn_t *c) { return c->recv_seq; }

static void on_frame_start(int idx) {
  conn_t *c = &conns[idx];
  c->frame_ok = 1;
  if (c->fopcode == 0x8) return; /* close: handled at the end */
  if (c->role == R_CYCLE || c->role == R_IDLE || c->role == R_SENDER) {
    note_error("unexpected frame (opcode %d) on a %s connection", c->fopcode,
               c->role == R_SENDER ? "sender" : "non-echo");
    kill_conn(idx);
    return;
  }
  if (c->role == R_ROOM) {
    if (c->fopcode != 0x2 || !(c->hdr[0] & 0x80) || c->pay_len < 12) {
      note_error("room message: opcode %d fin %d length %llu, expected a binary message of >= 12 bytes", c->fopcode, c->hdr[0] >> 7,
                 (unsigned long long)c->pay_len);
      kill_conn(idx);
    }
    return;
  }
  int want = opt_text ? 0x1 : 0x2;
  if (c->fopcode != want || !(c->hdr[0] & 0x80)) {
    note_error("frame opcode %d fin %d, expected opcode %d fin 1", c->fopcode, c->hdr[0] >> 7, want);
    kill_conn(idx);
    return;
  }
  if (c->pay_len != opt_size) {
    note_error("message of %llu bytes, expected %zu", (unsigned long long)c->pay_len, opt_size);
    kill_conn(idx);
  }
}

static uint8_t *scratch;
static size_t scratch_cap;

static int on_payload(int idx, const uint8_t *d, size_t n) {
  conn_t *c = &conns[idx];
  if (c->fopcode == 0x8) {
    if (c->pay_pos + n > 125) {
      note_error("close frame too long");
      kill_conn(idx);
      return 0;
    }
    return 1;
  }
  if (c->fmasked) {
    if (scratch_cap < n) {
      free(scratch);
      scratch_cap = n;
      scratch = xmalloc(n);
    }
    memcpy(scratch, d, n);
    xor_mask(scratch, n, c->fmask, (size_t)c->pay_pos);
    d = scratch;
  }
  if (c->role == R_ROOM) {
    for (size_t k = 0; k < n && c->pay_pos + k < 12; k++) c->head12[c->pay_pos + k] = d[k];
    return 1;
  }
  if (!payload_matches(expected_seq(c), c->pay_pos, d, n)) {
    size_t at = 0;
    while (at < n && payload_matches(expected_seq(c), c->pay_pos + at, d + at, 1)) at++;
    note_error("payload mismatch in message %llu at offset %llu (connection %d, masked %d, byte 0x%02x)",
               (unsigned long long)expected_seq(c), (unsigned long long)(c->pay_pos + at), idx, c->fmasked, d[at]);
    kill_conn(idx);
    return 0;
  }
  return 1;
}

static double loop_now; /* one clock reading per epoll wake-up */

/* rooms: receive times (CLOCK_MONOTONIC ns) per id on A and on B, and the publish time */
static uint64_t *room_at_a, *room_at_b, *room_pub;
static long room_ignored = 0, room_duplicates = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_room_message(int idx) {
  conn_t *c = &conns[idx];
  uint64_t at = now_ns(); /* per message, not per wake-up: the added latency is sub-millisecond */
  const uint8_t *h = c->head12;
  uint32_t id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
  uint64_t pub = 0;
  for (int k = 4; k < 12; k++) pub = pub << 8 | h[k];
  if (opt_count <= 0 || id >= (uint64_t)opt_count) {
    room_ignored++; /* warm-up ids */
    return;
  }
  uint64_t *slot = idx % 2 == 0 ? &room_at_a[id] : &room_at_b[id];
  if (*slot) room_duplicates++;
  *slot = at;
  room_pub[id] = pub;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Prints "name":{"n":..,"p50":..,"p99":..,"max":..} of values (µs), sorting them. */
static void print_dist(const char *name, double *v, long n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  double p50 = n ? v[(long)(0.5 * (double)n)] : -1, p99 = n ? v[(long)(0.99 * (double)n)] : -1, max = n ? v[n - 1] : -1;
  printf("\"%s\":{\"n\":%ld,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}", name, n, p50, p99, max);
}

static double self_cpu_us(void);

static void print_rooms_report(void) {
  long n = opt_count > 0 ? opt_count : 0, na = 0, nb = 0, nab = 0;
  double *a = xmalloc(sizeof(double) * (size_t)(n + 1)), *b = xmalloc(sizeof(double) * (size_t)(n + 1)),
         *added = xmalloc(sizeof(double) * (size_t)(n + 1));
  for (long i = 0; i < n; i++) {
    if (room_at_a[i]) a[na++] = (double)(int64_t)(room_at_a[i] - room_pub[i]) / 1000.0;
    if (room_at_b[i]) b[nb++] = (double)(int64_t)(room_at_b[i] - room_pub[i]) / 1000.0;
    if (room_at_a[i] && room_at_b[i]) added[nab++] = (double)(int64_t)(room_at_b[i] - room_at_a[i]) / 1000.0;
  }
  printf("{\"mode\":\"rooms\",\"done\":true,\"opened\":%ld,\"errors\":%ld,\"first_error\":\"%s\",\"ignored\":%ld,\"duplicates\":%ld,",
         opened, errors, json_safe_error(), room_ignored, room_duplicates);
  print_dist("publish_to_a_us", a, na);
  printf(",");
  print_dist("publish_to_b_us", b, nb);
  printf(",");
  print_dist("added_us", added, nab);
  printf(",\"loadgen_total_cpu_us\":%.0f}\n", self_cpu_us());
}

static void on_frame_end(int idx) {
  conn_t *c = &conns[idx];
  if (c->fopcode == 0x8) {
    if (c->role == R_CYCLE && c->state == S_CLOSING) return; /* wait for the TCP close */
    note_error("server closed the connection (close frame)");
    kill_conn(idx);
    return;
  }
  received++;
  verified++;
  if (c->role == R_ROOM) {
    on_room_message(idx);
    return;
  }
  if (c->role == R_ECHO) {
    record_latency(loop_now - c->sent_at[c->recv_seq % (uint64_t)opt_inflight]);
    c->recv_seq++;
    if (recording) ops++;
    if (opt_count > 0 && verified >= opt_count) running = 0;
    if (running) {
      c->sent_at[c->send_seq % (uint64_t)opt_inflight] = loop_now;
      send_message(idx, c->send_seq++);
    }
  } else if (c->role == R_RECEIVER) {
    uint64_t seq = c->recv_seq++;
    if (recording) ops++;
    int slot = (int)(seq % (uint64_t)bc_ring);
    if (++bc_count[slot] == receivers_target) {
      record_latency(loop_now - bc_sent[slot]);
      if (recording) completed++;
      conn_t *s = &conns[sender_idx];
      bc_open--;
      /* sliding window: one goes per completion; lockstep: K go once all K are complete */
      int go = !opt_lockstep ? 1 : bc_open == 0 ? opt_inflight : 0;
      for (; go > 0 && running && s->fd >= 0; go--) {
        int next = (int)(s->send_seq % (uint64_t)bc_ring);
        bc_count[next] = 0;
        bc_sent[next] = loop_now;
        bc_open++;
        send_message(sender_idx, s->send_seq++);
      }
    }
  }
}

static void on_open(int idx) {
  conn_t *c = &conns[idx];
  c->state = S_OPEN;
  pending_connects--;
  opened++;
  if (c->role == R_CYCLE) {
    record_latency(loop_now - c->started);
    c->state = S_CLOSING;
    send_close(idx);
  }
}

static void on_readable(int idx) {
  static uint8_t buf[256 * 1024];
  conn_t *c = &conns[idx];
  ssize_t r = read(c->fd, buf, sizeof buf);
  if (r < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (c->role == R_CYCLE && c->state == S_CLOSING && errno == ECONNRESET) {
      note_error("connection reset during the close handshake");
    } else {
      note_error("read: %s", strerror(errno));
    }
    kill_conn(idx);
    return;
  }
  if (r == 0) {
    if (c->role == R_CYCLE && c->state == S_CLOSING) {
      if (recording) ops++;
      kill_conn(idx);
      c->state = S_FREE; /* the slot starts a new cycle */
      return;
    }
    if (c->state != S_DEAD) note_error("server closed the TCP connection");
    kill_conn(idx);
    return;
  }
  reads_n++;
  const uint8_t *d = buf;
  size_t n = (size_t)r;
  if (c->state == S_HANDSHAKE) {
    size_t before = c->head_len;
    size_t room = sizeof c->head - 1 - c->head_len;
    size_t take = n < room ? n : room;
    memcpy(c->head + c->head_len, d, take);
    c->head_len += take;
    c->head[c->head_len] = 0;
    char *end = strstr(c->head, "\r\n\r\n");
    if (!end) {
      if (c->head_len == sizeof c->head - 1) {
        note_error("response head too long");
        kill_conn(idx);
      }
      return;
    }
    if (!check_101(c)) {
      kill_conn(idx);
      return;
    }
    /* bytes of this chunk after the head are frames that came with the 101 */
    size_t head_part = (size_t)(end + 4 - c->head) - before;
    d += head_part;
    n -= head_part;
    on_open(idx);
  }
  if (n > 0 && c->fd >= 0) feed_frames(idx, d, n);
}

/* ---- CPU accounting ---------------------------------------------------------------------- */

static double self_cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec * 1e6 +
         (double)ru.ru_stime.tv_usec;
}

/* CPU time of every thread of pid, µs: the sum of /proc/<pid>/task/<tid>/schedstat (ns). */
static double proc_cpu_us_one(int pid) {
  if (pid <= 0) return -1;
  char path[128];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *dir = opendir(path);
  if (!dir) return -1;
  double total = 0;
  int found = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char p2[320];
    snprintf(p2, sizeof p2, "/proc/%d/task/%s/schedstat", pid, e->d_name);
    FILE *f = fopen(p2, "r");
    if (!f) continue;
    unsigned long long ns = 0;
    if (fscanf(f, "%llu", &ns) == 1) {
      total += (double)ns / 1000.0;
      found = 1;
    }
    fclose(f);
  }
  closedir(dir);
  if (found) return total;
  /* fallback: utime + stime in clock ticks */
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[1024];
  double us = -1;
  if (fgets(line, sizeof line, f)) {
    char *p = strrchr(line, ')');
    unsigned long long ut, st;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
      us = (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
  }
  fclose(f);
  return us;
}

/* CPU µs of every --server-pid summed; -1 when none was given or one cannot be read. */
static double proc_cpu_us(void) {
  if (opt_server_npids == 0) return -1;
  double total = 0;
  for (int k = 0; k < opt_server_npids; k++) {
    double one = proc_cpu_us_one(opt_server_pids[k]);
    if (one < 0) return -1;
    total += one;
  }
  return total;
}

/* Busy time of the whole machine (all CPUs), µs, from /proc/stat: user+nice+system+irq+softirq+steal. */
static double machine_busy_us(void) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long v[8] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 7) return -1;
  return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --mode echo|broadcast|handshake|idle|rooms --port P [--host H] [--conns N] [--inflight K]\n"
          "               [--size BYTES] [--text] [--warmup S] [--duration S] [--max-seconds S] [--server-pid PID[,PID...]]\n"
          "               [--allow-masked] [--count N] [--port2 P2] [--settle S] [--lockstep]\n");
  exit(2);
}

static int all_open(void) {
  for (int i = 0; i < nconns; i++)
    if (conns[i].state != S_OPEN) return 0;
  return 1;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
    if (ARG("--mode")) {
      opt_mode = strcmp(v, "echo") == 0        ? M_ECHO
                 : strcmp(v, "broadcast") == 0 ? M_BROADCAST
                 : strcmp(v, "handshake") == 0 ? M_HANDSHAKE
                 : strcmp(v, "idle") == 0      ? M_IDLE
                 : strcmp(v, "rooms") == 0     ? M_ROOMS
                                               : -1;
      if (opt_mode < 0) usage();
    } else if (ARG("--host")) opt_host = v;
    else if (ARG("--port")) opt_port = atoi(v);
    else if (ARG("--conns")) opt_conns = atoi(v);
    else if (ARG("--inflight")) opt_inflight = atoi(v);
    else if (ARG("--size")) opt_size = (size_t)atol(v);
    else if (ARG("--warmup")) opt_warmup = atof(v);
    else if (ARG("--duration")) opt_duration = atof(v);
    else if (ARG("--max-seconds")) opt_max_seconds = atof(v);
    else if (ARG("--server-pid")) {
      for (const char *p = v; *p && opt_server_npids < 8;) {
        opt_server_pids[opt_server_npids++] = atoi(p);
        p = strchr(p, ',');
        if (!p) break;
        p++;
      }
    } else if (ARG("--port2")) opt_port2 = atoi(v);
    else if (ARG("--settle")) opt_settle = atof(v);
    else if (ARG("--count")) opt_count = atol(v);
    else if (strcmp(a, "--text") == 0) opt_text = 1;
    else if (strcmp(a, "--lockstep") == 0) opt_lockstep = 1;
    else if (strcmp(a, "--allow-masked") == 0) opt_allow_masked = 1;
    else usage();
#undef ARG
  }
  if (opt_port <= 0 || opt_conns < 1 || opt_inflight < 1) usage();
  if (opt_size < prefix_len()) opt_size = prefix_len();
  signal(SIGPIPE, SIG_IGN);
  /* the backstop: whatever happens, this process ends */
  alarm((unsigned)opt_max_seconds + 10);

  /* one descriptor per connection: take the hard limit */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  memset(&server_addr, 0, sizeof server_addr);
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons((uint16_t)opt_port);
  if (inet_pton(AF_INET, opt_host, &server_addr.sin_addr) != 1) usage();
  server_addr2 = server_addr;
  server_addr2.sin_port = htons((uint16_t)opt_port2);

  make_pattern();
  nconns = opt_conns * (opt_mode == M_ROOMS ? 2 : 1) + (opt_mode == M_BROADCAST ? 1 : 0);
  if (opt_mode == M_ROOMS && opt_count > 0) {
    room_at_a = calloc((size_t)opt_count, sizeof(uint64_t));
    room_at_b = calloc((size_t)opt_count, sizeof(uint64_t));
    room_pub = calloc((size_t)opt_count, sizeof(uint64_t));
    if (!room_at_a || !room_at_b || !room_pub) exit(3);
  }
  conns = calloc((size_t)nconns, sizeof *conns);
  dirty_list = xmalloc(sizeof(int) * (size_t)nconns);
  if (!conns) exit(3);
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = -1;
    conns[i].state = S_FREE;
    if (opt_mode == M_ECHO) conns[i].sent_at = xmalloc(sizeof(double) * (size_t)opt_inflight);
  }
  if (opt_mode == M_BROADCAST) {
    bc_ring = opt_inflight * 2;
    bc_count = calloc((size_t)bc_ring, sizeof(int));
    bc_sent = calloc((size_t)bc_ring, sizeof(double));
    sender_idx = nconns - 1;
    receivers_target = opt_conns;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (opt_mode == M_IDLE || opt_mode == M_ROOMS) {
    struct epoll_event e = {.events = EPOLLIN, .data = {.u64 = UINT64_MAX}};
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &e);
  }

  const double t0 = now_s();
  const double hard_end = t0 + opt_max_seconds;
  const int role = opt_mode == M_ECHO        ? R_ECHO
                   : opt_mode == M_BROADCAST ? R_RECEIVER
                   : opt_mode == M_IDLE      ? R_IDLE
                   : opt_mode == M_ROOMS     ? R_ROOM
                                             : R_CYCLE;
  /* setup: open the connections (echo, broadcast, idle), at most 128 handshakes at a time */
  const int connect_cap = opt_mode == M_HANDSHAKE ? opt_conns : 128;
  int next_to_open = 0;
  int setup_done = opt_mode == M_HANDSHAKE;
  int sender_started = 0;
  double settle_until = 0;
  double setup_s = 0, warm_end = 0, win_end = 0, stop_at = 0;
  double cpu0 = 0, cpu1 = 0, srv0 = -1, srv1 = -1, busy0 = -1, busy1 = -1, win_t0 = 0, win_t1 = 0;
  int phase = 0; /* 0 setup, 1 warm-up, 2 window, 3 draining, 4 done */
  int stdin_closed = 0;
  struct epoll_event *events = xmalloc(sizeof(struct epoll_event) * 1024);

  if (setup_done) {
    running = 1;
    phase = 1;
    setup_s = 0;
    warm_end = now_s() + opt_warmup;
  }

  while (phase < 4) {
    loop_now = now_s();
    if (loop_now > hard_end) {
      note_error("stopped at --max-seconds %.0f (phase %d)", opt_max_seconds, phase);
      break;
    }
    /* setup */
    if (phase == 0) {
      int targets = opt_mode == M_BROADCAST ? opt_conns : nconns;
      while (next_to_open < targets && pending_connects < connect_cap) start_connect(next_to_open++, role);
      int ready = next_to_open == targets && pending_connects == 0;
      if (ready && opt_mode == M_BROADCAST && !sender_started) {
        if (settle_until == 0) settle_until = loop_now + opt_settle;
        if (loop_now >= settle_until) {
          sender_started = 1;
          start_connect(sender_idx, R_SENDER);
        }
        ready = 0;
      }
      if (ready) {
        setup_s = loop_now - t0;
        if (opt_mode == M_IDLE || opt_mode == M_ROOMS) {
          long open_now = 0;
          for (int i = 0; i < nconns; i++) open_now += conns[i].state == S_OPEN;
          printf("{\"mode\":\"%s\",", opt_mode == M_IDLE ? "idle" : "rooms");
          printf("\"opened\":%ld,\"errors\":%ld,\"first_error\":\"%s\",\"setup_s\":%.3f}\n", open_now, errors,
                 json_safe_error(), setup_s);
          fflush(stdout);
          phase = 3;
        } else {
          if (!all_open()) note_error("not every connection opened (%ld of %d)", opened, nconns);
          running = 1;
          phase = 1;
          warm_end = loop_now + opt_warmup;
          if (opt_mode == M_ECHO) {
            for (int i = 0; i < nconns; i++) {
              if (conns[i].state != S_OPEN) continue;
              for (int k = 0; k < opt_inflight; k++) {
                conns[i].sent_at[conns[i].send_seq % (uint64_t)opt_inflight] = loop_now;
                send_message(i, conns[i].send_seq++);
              }
            }
          } else if (opt_mode == M_BROADCAST && conns[sender_idx].state == S_OPEN) {
            for (int k = 0; k < opt_inflight; k++) {
              conn_t *s = &conns[sender_idx];
              int slot = (int)(s->send_seq % (uint64_t)bc_ring);
              bc_count[slot] = 0;
              bc_open++;
              bc_sent[slot] = loop_now;
              send_message(sender_idx, s->send_seq++);
            }
          }
        }
      }
    }
    if (phase == 1 && loop_now >= warm_end) {
      phase = 2;
      recording = 1;
      win_t0 = now_s();
      cpu0 = self_cpu_us();
      srv0 = proc_cpu_us();
      busy0 = machine_busy_us();
      win_end = win_t0 + opt_duration;
    }
    if (phase == 2 && (loop_now >= win_end || (opt_count > 0 && !running))) {
      win_t1 = now_s();
      cpu1 = self_cpu_us();
      srv1 = proc_cpu_us();
      busy1 = machine_busy_us();
      recording = 0;
      running = 0;
      phase = 3;
      stop_at = loop_now + 1.0; /* let in-flight messages come back, briefly */
    }
    if (phase == 3 && opt_mode != M_IDLE && opt_mode != M_ROOMS) {
      int busy = 0;
      if (opt_mode == M_ECHO)
        for (int i = 0; i < nconns && !busy; i++) busy = conns[i].fd >= 0 && conns[i].recv_seq != conns[i].send_seq;
      else if (opt_mode == M_HANDSHAKE)
        for (int i = 0; i < nconns && !busy; i++) busy = conns[i].fd >= 0;
      if (!busy || loop_now >= stop_at) phase = 4;
    }
    if (phase == 3 && (opt_mode == M_IDLE || opt_mode == M_ROOMS) && stdin_closed) phase = 4;
    /* handshake cycles: restart free slots */
    if (opt_mode == M_HANDSHAKE && running)
      for (int i = 0; i < nconns; i++)
        if (conns[i].state == S_FREE) start_connect(i, R_CYCLE);
    if (phase == 4) break;

    int n = epoll_wait(epfd, events, 1024, 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      break;
    }
    loop_now = now_s();
    for (int k = 0; k < n; k++) {
      uint64_t id = events[k].data.u64;
      if (id == UINT64_MAX) {
        char b[256];
        ssize_t r = read(0, b, sizeof b);
        if (r <= 0) {
          stdin_closed = 1;
          epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
        }
        continue;
      }
      int idx = (int)id;
      conn_t *c = &conns[idx];
      if (c->fd < 0) continue;
      uint32_t ev = events[k].events;
      if (c->state == S_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(idx);
        continue;
      }
      if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(idx);
      if (c->fd >= 0 && (ev & EPOLLOUT)) flush_conn(idx);
    }
    for (int k = 0; k < ndirty; k++) flush_conn(dirty_list[k]);
    ndirty = 0;
  }

  if (opt_mode == M_ROOMS) {
    print_rooms_report();
    return 0;
  }
  if (opt_mode == M_IDLE) {
    long still = 0;
    for (int i = 0; i < nconns; i++) still += conns[i].state == S_OPEN;
    printf("{\"mode\":\"idle\",\"done\":true,\"opened\":%ld,\"still_open\":%ld,\"errors\":%ld,\"first_error\":\"%s\"}\n", opened, still,
           errors, json_safe_error());
    return 0;
  }
  if (win_t1 == 0) { /* stopped early (hard limit): report what there is */
    win_t1 = now_s();
    cpu1 = self_cpu_us();
    srv1 = proc_cpu_us();
    busy1 = machine_busy_us();
  }
  double total_cpu = self_cpu_us();
  printf("{\"mode\":\"%s\",\"conns\":%d,\"inflight\":%d,\"size\":%zu,\"text\":%s,"
         "\"window_s\":%.6f,\"ops\":%ld,\"completed\":%ld,\"received\":%ld,\"verified\":%ld,\"reads\":%ld,\"opened\":%ld,"
         "\"errors\":%ld,\"first_error\":\"%s\","
         "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"n\":%llu},"
         "\"loadgen_cpu_us\":%.0f,\"loadgen_total_cpu_us\":%.0f,\"server_cpu_us\":%.0f,\"machine_busy_us\":%.0f,"
         "\"setup_s\":%.3f,\"wall_s\":%.3f}\n",
         opt_mode == M_ECHO ? "echo" : opt_mode == M_BROADCAST ? "broadcast" : "handshake", opt_conns, opt_inflight, opt_size,
         opt_text ? "true" : "false", win_t1 - win_t0, ops, completed, received, verified, reads_n, opened, errors, json_safe_error(),
         percentile(0.5), percentile(0.99), hist_max, (unsigned long long)hist_n, cpu1 - cpu0, total_cpu,
         srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1, busy0 >= 0 && busy1 >= 0 ? busy1 - busy0 : -1, setup_s, now_s() - t0);
  return 0;
}
