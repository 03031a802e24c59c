#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addon.h"

/* Room for any datagram the test receiver expects; longer ones are reported, not cut. */
#define RECEIVE_BUFFER 4096

typedef struct {
  struct sockaddr_un addr;
  socklen_t len;
  /* As the caller wrote it, for error messages. */
  char text[sizeof(struct sockaddr_un)];
} unix_address;

/* Reads a $NOTIFY_SOCKET-style address the way libsystemd's sd_notify does: a leading '@'
 * stands for the NUL that starts an abstract name, whose length then counts exactly its
 * bytes, while a path's length counts its terminating NUL. */
static int get_unix_address(napi_env env, napi_value value, const char *call,
                            unix_address *address) {
  size_t len;
  const char *text = address->text;
  if (get_string(env, value, call, "address", address->text, sizeof address->addr.sun_path,
                 &len) != 0)
    return -1;
  if (len == 0) {
    throw_invalid(env, call, "address must not be empty");
    return -1;
  }
  memset(&address->addr, 0, sizeof address->addr);
  address->addr.sun_family = AF_UNIX;
  memcpy(address->addr.sun_path, text, len);
  if (text[0] == '@') address->addr.sun_path[0] = '\0';
  address->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (text[0] != '@'));
  return 0;
}

static napi_value sd_notify_js(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  unix_address address;
  char *message;
  size_t message_len;
  if (get_args(env, info, 2, argv) != 0 ||
      get_unix_address(env, argv[0], "sdNotify", &address) != 0 ||
      get_string_alloc(env, argv[1], "sdNotify", "message", &message, &message_len) != 0)
    return NULL;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    free(message);
    return throw_errno(env, errno, "socket", address.text);
  }
  ssize_t sent = sendto(fd, message, message_len, MSG_NOSIGNAL,
                        (struct sockaddr *)&address.addr, address.len);
  int err = errno;
  close(fd);
  free(message);
  if (sent < 0) return throw_errno(env, err, "sendto", address.text);
  return make_undefined(env);
}

static napi_value dgram_bind_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  unix_address address;
  if (get_args(env, info, 1, argv) != 0 ||
      get_unix_address(env, argv[0], "dgramBind", &address) != 0)
    return NULL;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", address.text);
  if (bind(fd, (struct sockaddr *)&address.addr, address.len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", address.text);
  }
  return make_int(env, fd);
}

/* Waits for one datagram; 0 when none came in time. */
static int wait_readable(int fd, int timeout_ms) {
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int ready;
  do {
    ready = poll(&pfd, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  return ready;
}

static napi_value dgram_recv_js(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL;
  int64_t fd, timeout_ms;
  char detail[16];
  char buffer[RECEIVE_BUFFER];
  if (get_args(env, info, 2, argv) != 0 ||
      get_int(env, argv[0], "dgramRecv", "fd", 0, INT32_MAX, &fd) != 0 ||
      get_int(env, argv[1], "dgramRecv", "timeoutMs", -1, INT32_MAX, &timeout_ms) != 0)
    return NULL;
  snprintf(detail, sizeof detail, "%d", (int)fd);
  int ready = wait_readable((int)fd, (int)timeout_ms);
  if (ready < 0) return throw_errno(env, errno, "poll", detail);
  if (ready == 0) {
    napi_get_null(env, &result);
    return result;
  }
  ssize_t received = recv((int)fd, buffer, sizeof buffer, MSG_TRUNC);
  if (received < 0) return throw_errno(env, errno, "recv", detail);
  if (received > (ssize_t)sizeof buffer) return throw_errno(env, EMSGSIZE, "recv", detail);
  napi_create_string_utf8(env, buffer, (size_t)received, &result);
  return result;
}

const addon_function notify_functions[] = {
    {"sdNotify", sd_notify_js},
    {"dgramBind", dgram_bind_js},
    {"dgramRecv", dgram_recv_js},
    {NULL, NULL},
};
