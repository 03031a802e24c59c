/* Passing a client connection to another process: a descriptor and the bytes already read from
 * it travel as one SCM_RIGHTS message over an AF_UNIX SOCK_SEQPACKET socket. A seqpacket
 * socket keeps each message whole (the descriptor never parts from its bytes) and, being
 * connected, is bounded by the socket buffer rather than by net.unix.max_dgram_qlen. The
 * receiving event loop learns that a message waits through a uv_poll_t that calls back into
 * JS; Node cannot read these sockets itself (its reads would drop the ancillary data). */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "addon.h"

/* The largest message received: a request's header block with the first body bytes read
 * beside it. A sender whose message is larger gets EMSGSIZE and keeps the connection. */
#define MAX_PAYLOAD (256 * 1024)
#define LISTEN_BACKLOG 128

static int unix_path(napi_env env, napi_value value, const char *call, struct sockaddr_un *addr) {
  size_t len;
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (get_string(env, value, call, "path", addr->sun_path, sizeof addr->sun_path, &len) != 0)
    return -1;
  if (len == 0) {
    throw_invalid(env, call, "path must not be empty");
    return -1;
  }
  return 0;
}

static int get_fd(napi_env env, napi_value value, const char *call, const char *what, int *fd) {
  int64_t v;
  if (get_int(env, value, call, what, 0, INT32_MAX, &v) != 0) return -1;
  *fd = (int)v;
  return 0;
}

static napi_value handoff_listen_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un addr;
  if (get_args(env, info, 1, argv) != 0 || unix_path(env, argv[0], "handoffListen", &addr) != 0)
    return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", addr.sun_path);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind/listen", addr.sun_path);
  }
  return make_int(env, fd);
}

/* Connecting to a Unix socket completes at once or fails (EAGAIN: the backlog is full). */
static napi_value handoff_connect_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un addr;
  if (get_args(env, info, 1, argv) != 0 || unix_path(env, argv[0], "handoffConnect", &addr) != 0)
    return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", addr.sun_path);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "connect", addr.sun_path);
  }
  return make_int(env, fd);
}

/* Null when no connection waits. */
static napi_value handoff_accept_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int fd;
  if (get_args(env, info, 1, argv) != 0 || get_fd(env, argv[0], "handoffAccept", "fd", &fd) != 0)
    return NULL;
  int peer = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (peer >= 0) return make_int(env, peer);
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
    return throw_errno(env, errno, "accept4", "handoff socket");
  napi_get_null(env, &result);
  return result;
}

/* Takes no more messages on a handoff connection: the sender's next sendmsg fails with EPIPE
 * (so it keeps its connection), while the messages already queued stay readable. */
static napi_value handoff_shutdown_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (get_args(env, info, 1, argv) != 0 || get_fd(env, argv[0], "handoffShutdown", "fd", &fd) != 0)
    return NULL;
  if (shutdown(fd, SHUT_RD) != 0 && errno != ENOTCONN) return throw_errno(env, errno, "shutdown", "handoff socket");
  return make_undefined(env);
}

/* False when the peer's buffer is full (the caller keeps the connection); throws on any other
 * failure, EPIPE/ECONNRESET included (the receiver is gone). */
static napi_value send_fd_js(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int sock, fd;
  void *data;
  size_t len;
  bool is_buffer;
  if (get_args(env, info, 3, argv) != 0 || get_fd(env, argv[0], "sendFd", "socket", &sock) != 0 ||
      get_fd(env, argv[1], "sendFd", "fd", &fd) != 0)
    return NULL;
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok) return throw_napi_failure(env, "sendFd");
  if (!is_buffer) return throw_invalid(env, "sendFd", "payload must be a Buffer");
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok)
    return throw_napi_failure(env, "sendFd");
  if (len == 0) return throw_invalid(env, "sendFd", "payload must not be empty");
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  ssize_t sent;
  do {
    sent = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    return throw_errno(env, errno, "sendmsg", "handoff socket");
  napi_get_boolean(env, sent >= 0, &result);
  return result;
}

/* Closes every descriptor a message carried: used when the message cannot be delivered. */
static void close_received(struct msghdr *msg) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      close(fd);
    }
  }
}

/* One message: {fd, payload}; null when none waits; {fd: -1, payload: empty} when the peer
 * closed. A message without exactly one descriptor, or cut short, is an EPROTO error (its
 * descriptors are closed). */
static napi_value recv_fd_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int sock;
  if (get_args(env, info, 1, argv) != 0 || get_fd(env, argv[0], "recvFd", "socket", &sock) != 0)
    return NULL;
  char *data = malloc(MAX_PAYLOAD);
  if (data == NULL) return throw_errno(env, ENOMEM, "recvFd", "payload buffer");
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * 4)];
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = MAX_PAYLOAD};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                       .msg_controllen = sizeof control.buf};
  ssize_t got;
  do {
    got = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    int err = errno;
    free(data);
    if (err == EAGAIN || err == EWOULDBLOCK) {
      napi_get_null(env, &result);
      return result;
    }
    return throw_errno(env, err, "recvmsg", "handoff socket");
  }
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  bool one_fd = cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
                cmsg->cmsg_len == CMSG_LEN(sizeof(int)) && CMSG_NXTHDR(&msg, cmsg) == NULL;
  if (got == 0 && cmsg == NULL) {
    free(data);
    return make_fd_payload(env, "recvFd", -1, "", 0);
  }
  if (!one_fd || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    close_received(&msg);
    free(data);
    return throw_errno(env, EPROTO, "recvmsg", "handoff message without one descriptor, or cut");
  }
  int fd;
  memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  result = make_fd_payload(env, "recvFd", fd, data, (size_t)got);
  free(data);
  return result;
}

/* A readability watch on a descriptor, on the calling thread's event loop. Its memory belongs
 * to the JS external that names it and to the uv handle: freed once both are done with it. */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  bool stopped;
  bool closed;
  bool collected;
} fd_watch;

static void on_watch_closed(uv_handle_t *handle) {
  fd_watch *w = handle->data;
  w->closed = true;
  if (w->collected) free(w);
}

static void stop_watch(fd_watch *w) {
  if (w->stopped) return;
  w->stopped = true;
  uv_poll_stop(&w->poll);
  if (w->callback != NULL) napi_delete_reference(w->env, w->callback);
  if (w->context != NULL) napi_async_destroy(w->env, w->context);
  w->callback = NULL;
  w->context = NULL;
  uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  fd_watch *w = poll->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value callback, recv, arg;
  if (w->stopped || napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, w->callback, &callback) == napi_ok &&
      napi_get_global(env, &recv) == napi_ok) {
    if (status < 0)
      napi_create_string_utf8(env, uv_strerror(status), NAPI_AUTO_LENGTH, &arg);
    else
      napi_get_null(env, &arg);
    if (napi_make_callback(env, w->context, recv, callback, 1, &arg, NULL) == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void finalize_watch(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  fd_watch *w = data;
  w->collected = true;
  /* A watch dropped without pollStop stops now; its handle frees it once closed. */
  if (!w->stopped) stop_watch(w);
  else if (w->closed) free(w);
}

/* pollReadable(fd, callback): callback(null) whenever fd is readable, callback(reason) on a poll
 * error, until pollStop. Returns the watch. */
static napi_value poll_readable_js(napi_env env, napi_callback_info info) {
  napi_value argv[2], name, handle;
  int fd;
  uv_loop_t *loop;
  if (get_args(env, info, 2, argv) != 0 || get_fd(env, argv[0], "pollReadable", "fd", &fd) != 0 ||
      expect_type(env, argv[1], napi_function, "pollReadable", "callback", "function") != 0)
    return NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_napi_failure(env, "pollReadable");
  fd_watch *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_errno(env, ENOMEM, "pollReadable", "watch");
  w->env = env;
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    free(w);
    return throw_errno(env, -rc, "uv_poll_init", "handoff socket");
  }
  if (napi_create_string_utf8(env, "mpmproxy:pollReadable", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->context) != napi_ok ||
      napi_create_external(env, w, finalize_watch, NULL, &handle) != napi_ok) {
    napi_value pending = throw_napi_failure(env, "pollReadable");
    w->collected = true;
    stop_watch(w);
    return pending;
  }
  rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    stop_watch(w);
    return throw_errno(env, -rc, "uv_poll_start", "handoff socket");
  }
  return handle;
}

static napi_value poll_stop_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *data;
  if (get_args(env, info, 1, argv) != 0 ||
      expect_type(env, argv[0], napi_external, "pollStop", "watch", "external") != 0)
    return NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok) return throw_napi_failure(env, "pollStop");
  stop_watch(data);
  return make_undefined(env);
}

const addon_function fdpass_functions[] = {
    {"handoffListen", handoff_listen_js},
    {"handoffConnect", handoff_connect_js},
    {"handoffAccept", handoff_accept_js},
    {"handoffShutdown", handoff_shutdown_js},
    {"sendFd", send_fd_js},
    {"recvFd", recv_fd_js},
    {"pollReadable", poll_readable_js},
    {"pollStop", poll_stop_js},
    {NULL, NULL},
};
