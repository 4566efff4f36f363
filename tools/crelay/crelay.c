/* crelay: a plain blocking C relay speaking the original chat protocol, the reference that
 * scripts/bench measures `udpchat serve` against (relay CPU per delivery, in the same run).
 * It is as simple as a relay can be: one socket, a recvfrom/sendto loop, no epoll, no timers.
 *
 *   any datagram from a new address joins (the original server had no handshake);
 *   `quit` leaves; `^hb^` and `reg` only keep or make a member;
 *   every other line goes to every member, the sender included, as
 *   `ack: <ip> <port>\n<text>\n`, text stripped of leading and trailing ASCII whitespace
 *   (space, \t, \n, \v, \f, \r) as udpchat's protocol/text.cpp strip() does.
 *
 * No expiry (a bench's members all stay), at most MAX_MEMBERS members (beyond, datagrams from
 * new addresses are dropped), no text checks: it trusts its loopback clients.
 * SIGINT or SIGTERM sends `end` to every member, prints a totals line on stderr, exits 0.
 * --sendmmsg sends each line's fan-out in sendmmsg calls of up to 64 members (as serve does)
 * instead of one sendto per member: the same relay, fewer system calls.
 * Usage: crelay [--port-file PATH] [--sendmmsg] [ADDR:]PORT  (default 127.0.0.1; port 0 picks one)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MEMBERS 4096
#define MAX_DATAGRAM 65536
#define BATCH 64

static volatile sig_atomic_t stopping = 0;

static void on_signal(int signal_number) {
  (void)signal_number;
  stopping = 1;
}

struct member {
  struct sockaddr_storage address;
  socklen_t length;
};

static struct member members[MAX_MEMBERS];
static size_t member_count = 0;

static int is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int same_address(const struct sockaddr_storage* a, const struct sockaddr_storage* b) {
  if (a->ss_family != b->ss_family) return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in* x = (const struct sockaddr_in*)a;
    const struct sockaddr_in* y = (const struct sockaddr_in*)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6* x = (const struct sockaddr_in6*)a;
  const struct sockaddr_in6* y = (const struct sockaddr_in6*)b;
  return x->sin6_port == y->sin6_port &&
         memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

static long find_member(const struct sockaddr_storage* address) {
  for (size_t i = 0; i < member_count; ++i) {
    if (same_address(&members[i].address, address)) return (long)i;
  }
  return -1;
}

/* "ip port" of an address as the original server wrote it: dotted quad for IPv4 and for
 * IPv4-mapped IPv6, plain IPv6 text otherwise. */
static int format_peer(const struct sockaddr_storage* address, char* out, size_t size) {
  char ip[INET6_ADDRSTRLEN];
  unsigned port;
  if (address->ss_family == AF_INET) {
    const struct sockaddr_in* v4 = (const struct sockaddr_in*)address;
    inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
    port = ntohs(v4->sin_port);
  } else {
    const struct sockaddr_in6* v6 = (const struct sockaddr_in6*)address;
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], ip, sizeof ip);
    } else {
      inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
    }
    port = ntohs(v6->sin6_port);
  }
  return snprintf(out, size, "%s %u", ip, port);
}

static int parse_bind(const char* text, struct sockaddr_storage* address, socklen_t* length) {
  char host[INET6_ADDRSTRLEN + 2] = "127.0.0.1";
  const char* port_text = text;
  const char* colon = strrchr(text, ':');
  if (colon != NULL) {
    size_t host_length = (size_t)(colon - text);
    if (host_length >= sizeof host) return -1;
    memcpy(host, text, host_length);
    host[host_length] = '\0';
    port_text = colon + 1;
  }
  char* end = NULL;
  long port = strtol(port_text, &end, 10);
  if (*port_text == '\0' || *end != '\0' || port < 0 || port > 65535) return -1;
  /* [::1] and [::] as udpchat writes them */
  char* h = host;
  size_t n = strlen(h);
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
    h[n - 1] = '\0';
    ++h;
  }
  memset(address, 0, sizeof *address);
  struct sockaddr_in* v4 = (struct sockaddr_in*)address;
  struct sockaddr_in6* v6 = (struct sockaddr_in6*)address;
  if (inet_pton(AF_INET, h, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((unsigned short)port);
    *length = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, h, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((unsigned short)port);
    *length = sizeof *v6;
    return 0;
  }
  return -1;
}

static void usage(void) {
  fprintf(stderr, "usage: crelay [--port-file PATH] [--sendmmsg] [ADDR:]PORT\n");
  exit(2);
}

int main(int argc, char** argv) {
  const char* port_file = NULL;
  const char* bind_text = NULL;
  int batch = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
      port_file = argv[++i];
    } else if (strcmp(argv[i], "--sendmmsg") == 0) {
      batch = 1;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
    } else if (bind_text == NULL) {
      bind_text = argv[i];
    } else {
      usage();
    }
  }
  if (bind_text == NULL) usage();

  struct sockaddr_storage local;
  socklen_t local_length;
  if (parse_bind(bind_text, &local, &local_length) != 0) {
    fprintf(stderr, "crelay: error: bad address %s\n", bind_text);
    return 2;
  }
  int fd = socket(local.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&local, local_length) != 0) {
    fprintf(stderr, "crelay: error: bind %s: %s\n", bind_text, strerror(errno));
    return 1;
  }
  /* The same buffers as udpchat serve asks for, so that neither absorbs more of a burst. */
  int buffer = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  local_length = sizeof local;
  getsockname(fd, (struct sockaddr*)&local, &local_length);

  /* No SA_RESTART: a signal interrupts the blocking recvfrom. */
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);

  char peer[INET6_ADDRSTRLEN + 8];
  format_peer(&local, peer, sizeof peer);
  printf("listening on %s\n", peer);
  fflush(stdout);
  if (port_file != NULL) {
    /* Written aside and renamed, so that a reader never sees half a port. */
    char temporary[4096];
    snprintf(temporary, sizeof temporary, "%s.tmp", port_file);
    FILE* file = fopen(temporary, "w");
    if (file == NULL || fprintf(file, "%s\n", strchr(peer, ' ') + 1) < 0 || fclose(file) != 0 ||
        rename(temporary, port_file) != 0) {
      fprintf(stderr, "crelay: error: %s: %s\n", port_file, strerror(errno));
      return 1;
    }
  }

  static struct mmsghdr messages[BATCH];
  static struct iovec vectors[BATCH];
  static char datagram[MAX_DATAGRAM];
  static char ack[MAX_DATAGRAM + 128];
  unsigned long long datagrams = 0, joins = 0, leaves = 0, lines = 0, deliveries = 0,
                     send_errors = 0, dropped = 0;
  while (!stopping) {
    struct sockaddr_storage from;
    socklen_t from_length = sizeof from;
    ssize_t received =
        recvfrom(fd, datagram, sizeof datagram, 0, (struct sockaddr*)&from, &from_length);
    if (received < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "crelay: error: recvfrom: %s\n", strerror(errno));
      break;
    }
    ++datagrams;
    size_t begin = 0, end = (size_t)received;
    while (begin < end && is_ascii_space(datagram[begin])) ++begin;
    while (end > begin && is_ascii_space(datagram[end - 1])) --end;
    const char* text = datagram + begin;
    size_t length = end - begin;

    long index = find_member(&from);
    if (length == 4 && memcmp(text, "quit", 4) == 0) {
      if (index >= 0) {
        members[index] = members[--member_count];
        ++leaves;
      }
      continue;
    }
    if (index < 0) {
      if (member_count == MAX_MEMBERS) {
        ++dropped;
        continue;
      }
      members[member_count].address = from;
      members[member_count].length = from_length;
      ++member_count;
      ++joins;
    }
    if (length == 0 || (length == 4 && memcmp(text, "^hb^", 4) == 0) ||
        (length == 3 && memcmp(text, "reg", 3) == 0)) {
      continue;
    }
    ++lines;
    int head = snprintf(ack, sizeof ack, "ack: ");
    head += format_peer(&from, ack + head, sizeof ack - (size_t)head);
    ack[head++] = '\n';
    memcpy(ack + head, text, length);
    size_t size = (size_t)head + length;
    ack[size++] = '\n';
    if (batch) {
      /* The same fan-out in sendmmsg calls of up to BATCH members, as serve sends it. */
      for (size_t first = 0; first < member_count; first += BATCH) {
        size_t n = member_count - first < BATCH ? member_count - first : BATCH;
        for (size_t i = 0; i < n; ++i) {
          vectors[i].iov_base = ack;
          vectors[i].iov_len = size;
          memset(&messages[i], 0, sizeof messages[i]);
          messages[i].msg_hdr.msg_name = &members[first + i].address;
          messages[i].msg_hdr.msg_namelen = members[first + i].length;
          messages[i].msg_hdr.msg_iov = &vectors[i];
          messages[i].msg_hdr.msg_iovlen = 1;
        }
        size_t done = 0;
        while (done < n) {
          int sent = sendmmsg(fd, messages + done, (unsigned)(n - done), 0);
          if (sent <= 0) {
            ++send_errors;
            ++done; /* skip the member that failed */
            continue;
          }
          done += (size_t)sent;
          deliveries += (unsigned long long)sent;
        }
      }
      continue;
    }
    for (size_t i = 0; i < member_count; ++i) {
      if (sendto(fd, ack, size, 0, (struct sockaddr*)&members[i].address, members[i].length) <
          0) {
        ++send_errors;
      } else {
        ++deliveries;
      }
    }
  }
  for (size_t i = 0; i < member_count; ++i) {
    sendto(fd, "end", 3, 0, (struct sockaddr*)&members[i].address, members[i].length);
  }
  fprintf(stderr,
          "totals members=%zu datagrams=%llu joins=%llu leaves=%llu lines=%llu deliveries=%llu "
          "send_errors=%llu dropped=%llu\n",
          member_count, datagrams, joins, leaves, lines, deliveries, send_errors, dropped);
  close(fd);
  return 0;
}
