#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addon.h"

typedef struct {
  union {
    struct sockaddr any;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
  } addr;
  socklen_t len;
  /* host:port, or [host]:port for IPv6, for error messages. */
  char text[INET6_ADDRSTRLEN + 16];
} inet_address;

/* The family follows the literal, as in Apache's Listen; names are not resolved here. */
static int parse_inet_address(const char *host, uint16_t port, inet_address *address) {
  memset(address, 0, sizeof *address);
  if (inet_pton(AF_INET, host, &address->addr.v4.sin_addr) == 1) {
    address->addr.v4.sin_port = htons(port);
    address->len = sizeof address->addr.v4;
  } else if (inet_pton(AF_INET6, host, &address->addr.v6.sin6_addr) == 1) {
    address->addr.v6.sin6_port = htons(port);
    address->len = sizeof address->addr.v6;
  } else {
    return -1;
  }
  bool v6 = address->len == sizeof address->addr.v6;
  address->addr.any.sa_family = v6 ? AF_INET6 : AF_INET;
  snprintf(address->text, sizeof address->text, v6 ? "[%s]:%u" : "%s:%u", host, port);
  return 0;
}

static int get_listen_options(napi_env env, napi_value options, inet_address *address,
                              int64_t *backlog, bool *reuse_port) {
  static const char call[] = "listenSocket";
  napi_value host, port_value, backlog_value, reuse_port_value;
  napi_valuetype reuse_port_type;
  char host_text[INET6_ADDRSTRLEN];
  size_t host_len;
  int64_t port;
  if (expect_type(env, options, napi_object, call, "options", "object") != 0 ||
      napi_get_named_property(env, options, "host", &host) != napi_ok ||
      napi_get_named_property(env, options, "port", &port_value) != napi_ok ||
      napi_get_named_property(env, options, "backlog", &backlog_value) != napi_ok ||
      napi_get_named_property(env, options, "reusePort", &reuse_port_value) != napi_ok ||
      napi_typeof(env, reuse_port_value, &reuse_port_type) != napi_ok ||
      get_string(env, host, call, "host", host_text, sizeof host_text, &host_len) != 0 ||
      get_int(env, port_value, call, "port", 0, 65535, &port) != 0 ||
      get_int(env, backlog_value, call, "backlog", 0, INT32_MAX, backlog) != 0)
    return -1;
  *reuse_port = false;
  if (reuse_port_type != napi_undefined &&
      get_bool(env, reuse_port_value, call, "reusePort", reuse_port) != 0)
    return -1;
  if (parse_inet_address(host_text, (uint16_t)port, address) != 0) {
    throw_invalid(env, call, "host must be an IPv4 or IPv6 address literal");
    return -1;
  }
  return 0;
}

static int set_option(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

/* SOCK_CLOEXEC: the master hands listeners to its children through child_process stdio, which
 * dup2()s them into the child's slots (a dup2 copy is inheritable); any other program the
 * master starts must not inherit them. SOCK_NONBLOCK: every copy shares the flag, and a child
 * accepting in the addon (acceptConnection) must never wait. Returns the descriptor, or -1 with errno set and
 * *failed naming the call that failed. */
static int open_listener(const inet_address *address, bool reuse_port, int backlog,
                         const char **failed) {
  const struct sockaddr_in6 *v6 = &address->addr.v6;
  bool any_v6 = v6->sin6_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
  int fd = socket(address->addr.any.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *failed = "socket";
    return -1;
  }
  if (set_option(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0)
    *failed = "setsockopt SO_REUSEADDR";
  else if (reuse_port && set_option(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0)
    *failed = "setsockopt SO_REUSEPORT";
  /* '::' takes IPv4 connections too, as Apache's Listen does, whatever bindv6only says. */
  else if (any_v6 && set_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0) != 0)
    *failed = "setsockopt IPV6_V6ONLY";
  else if (bind(fd, &address->addr.any, address->len) != 0)
    *failed = "bind";
  else if (listen(fd, backlog) != 0)
    *failed = "listen";
  else
    return fd;
  int err = errno;
  close(fd);
  errno = err;
  return -1;
}

static napi_value listen_socket_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  inet_address address;
  int64_t backlog;
  bool reuse_port;
  const char *failed;
  if (get_args(env, info, 1, argv) != 0 ||
      get_listen_options(env, argv[0], &address, &backlog, &reuse_port) != 0)
    return NULL;
  int fd = open_listener(&address, reuse_port, (int)backlog, &failed);
  if (fd < 0) return throw_errno(env, errno, failed, address.text);
  return make_int(env, fd);
}

/* Reads a descriptor argument and writes its decimal form for error messages. */
static int get_fd(napi_env env, napi_callback_info info, const char *call, int *fd,
                  char *text, size_t cap) {
  napi_value argv[1];
  int64_t value;
  if (get_args(env, info, 1, argv) != 0 ||
      get_int(env, argv[0], call, "fd", 0, INT32_MAX, &value) != 0)
    return -1;
  *fd = (int)value;
  snprintf(text, cap, "%d", *fd);
  return 0;
}

static napi_value dup_js(napi_env env, napi_callback_info info) {
  int fd;
  char text[16];
  if (get_fd(env, info, "dup", &fd, text, sizeof text) != 0) return NULL;
  /* Copies are for this process only; children get descriptors through stdio. */
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return throw_errno(env, errno, "dup", text);
  return make_int(env, copy);
}

/* setBacklog(fd, backlog): listen() again on a listening socket, which changes only its backlog. */
static napi_value set_backlog_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd, backlog;
  if (get_args(env, info, 2, argv) != 0 ||
      get_int(env, argv[0], "setBacklog", "fd", 0, INT32_MAX, &fd) != 0 ||
      get_int(env, argv[1], "setBacklog", "backlog", 0, INT32_MAX, &backlog) != 0)
    return NULL;
  if (listen((int)fd, (int)backlog) != 0) return throw_errno(env, errno, "listen", "listener");
  return make_undefined(env);
}

static napi_value close_js(napi_env env, napi_callback_info info) {
  int fd;
  char text[16];
  if (get_fd(env, info, "close", &fd, text, sizeof text) != 0) return NULL;
  /* On Linux the descriptor is gone even when close reports EINTR; retrying could close a
   * descriptor another thread just opened. */
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, errno, "close", text);
  return make_undefined(env);
}

static napi_value local_port_js(napi_env env, napi_callback_info info) {
  int fd;
  char text[16];
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (get_fd(env, info, "localPort", &fd, text, sizeof text) != 0) return NULL;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
    return throw_errno(env, errno, "getsockname", text);
  if (addr.ss_family == AF_INET)
    return make_int(env, ntohs(((struct sockaddr_in *)&addr)->sin_port));
  if (addr.ss_family == AF_INET6)
    return make_int(env, ntohs(((struct sockaddr_in6 *)&addr)->sin6_port));
  return throw_errno(env, EAFNOSUPPORT, "getsockname", text);
}

/* peek(fd, max): up to max of the bytes a connected socket has received, left in its queue, without
 * waiting; max reaches a whole TLS record with its header (a ClientHello). An empty buffer when none
 * have come yet, at end of stream, or when the socket failed: a caller that must know more reads
 * the socket as usual, and sees it then. */
static napi_value peek_js(napi_env env, napi_callback_info info) {
  static const char call[] = "peek";
  napi_value argv[2], out;
  int64_t fd, max;
  char buf[16384 + 5];
  if (get_args(env, info, 2, argv) != 0 ||
      get_int(env, argv[0], call, "fd", 0, INT32_MAX, &fd) != 0 ||
      get_int(env, argv[1], call, "max", 1, (int64_t)sizeof buf, &max) != 0)
    return NULL;
  ssize_t n;
  do n = recv((int)fd, buf, (size_t)max, MSG_PEEK | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) n = 0;
  if (napi_create_buffer_copy(env, (size_t)n, buf, NULL, &out) != napi_ok)
    return throw_napi_failure(env, call);
  return out;
}

/* acceptConnection(listener, max): the next connection waiting on a non-blocking listening
 * socket (listenSocket makes them so), accepted
 * non-blocking and close-on-exec with TCP_NODELAY set, and up to max (at most 16 KiB) of the
 * bytes it has already sent, taken from its queue: {fd, payload}, payload empty when nothing has
 * come yet. Null when no connection waits. A connection reset before it is accepted is skipped.
 * Accepting and reading in one call lets the caller decide where a connection is served before
 * any JavaScript object exists for it. */
static napi_value accept_connection_js(napi_env env, napi_callback_info info) {
  static const char call[] = "acceptConnection";
  napi_value argv[2], none;
  int64_t listener, max;
  char buf[16 * 1024];
  if (get_args(env, info, 2, argv) != 0 ||
      get_int(env, argv[0], call, "listener", 0, INT32_MAX, &listener) != 0 ||
      get_int(env, argv[1], call, "max", 1, (int64_t)sizeof buf, &max) != 0)
    return NULL;
  int fd;
  do fd = accept4((int)listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
  if (fd < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, errno, "accept4", "listener");
    napi_get_null(env, &none);
    return none;
  }
  /* Only TCP listeners come here; a failure would only mean a slower first write. */
  (void)set_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  ssize_t n;
  do n = recv(fd, buf, (size_t)max, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  /* Nothing yet, the end or an error: the socket's own first read reports the last two. */
  if (n < 0) n = 0;
  return make_fd_payload(env, call, fd, buf, (size_t)n);
}

const addon_function socket_functions[] = {
    {"peek", peek_js},
    {"acceptConnection", accept_connection_js},
    {"listenSocket", listen_socket_js},
    {"dup", dup_js},
    {"setBacklog", set_backlog_js},
    {"close", close_js},
    {"localPort", local_port_js},
    {NULL, NULL},
};
