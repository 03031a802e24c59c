#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

int get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
  /* Missing arguments arrive as undefined and fail their type check, so no count check. */
  return napi_get_cb_info(env, info, &count, argv, NULL, NULL) == napi_ok ? 0 : -1;
}

int expect_type(napi_env env, napi_value value, napi_valuetype type, const char *call,
                       const char *what, const char *type_name) {
  napi_valuetype actual;
  if (napi_typeof(env, value, &actual) != napi_ok) return -1;
  if (actual == type) return 0;
  char message[256];
  snprintf(message, sizeof message, "%s must be a %s", what, type_name);
  throw_invalid(env, call, message);
  return -1;
}

int get_int(napi_env env, napi_value value, const char *call, const char *what, int64_t min,
            int64_t max, int64_t *out) {
  double number;
  if (expect_type(env, value, napi_number, call, what, "number") != 0) return -1;
  if (napi_get_value_double(env, value, &number) != napi_ok) return -1;
  /* Written so that NaN fails too. */
  if (!(number >= (double)min && number <= (double)max) || number != (double)(int64_t)number) {
    char message[256];
    snprintf(message, sizeof message, "%s must be an integer from %lld to %lld", what,
             (long long)min, (long long)max);
    throw_invalid(env, call, message);
    return -1;
  }
  *out = (int64_t)number;
  return 0;
}

int get_bool(napi_env env, napi_value value, const char *call, const char *what, bool *out) {
  if (expect_type(env, value, napi_boolean, call, what, "boolean") != 0) return -1;
  return napi_get_value_bool(env, value, out) == napi_ok ? 0 : -1;
}

int get_string(napi_env env, napi_value value, const char *call, const char *what, char *buf,
               size_t cap, size_t *len) {
  if (expect_type(env, value, napi_string, call, what, "string") != 0) return -1;
  if (napi_get_value_string_utf8(env, value, NULL, 0, len) != napi_ok) return -1;
  char message[256];
  if (*len >= cap) {
    snprintf(message, sizeof message, "%s is longer than %zu bytes", what, cap - 1);
    throw_invalid(env, call, message);
    return -1;
  }
  if (napi_get_value_string_utf8(env, value, buf, cap, len) != napi_ok) return -1;
  /* A NUL inside would silently cut the name the kernel sees. */
  if (strlen(buf) != *len) {
    snprintf(message, sizeof message, "%s must not contain NUL characters", what);
    throw_invalid(env, call, message);
    return -1;
  }
  return 0;
}

int get_string_alloc(napi_env env, napi_value value, const char *call, const char *what,
                     char **out, size_t *len) {
  if (expect_type(env, value, napi_string, call, what, "string") != 0) return -1;
  if (napi_get_value_string_utf8(env, value, NULL, 0, len) != napi_ok) return -1;
  *out = malloc(*len + 1);
  if (*out == NULL) {
    throw_errno(env, ENOMEM, call, what);
    return -1;
  }
  if (napi_get_value_string_utf8(env, value, *out, *len + 1, len) != napi_ok) {
    free(*out);
    return -1;
  }
  return 0;
}

napi_value make_int(napi_env env, int64_t value) {
  napi_value result = NULL;
  napi_create_int64(env, value, &result);
  return result;
}

napi_value make_undefined(napi_env env) {
  napi_value result = NULL;
  napi_get_undefined(env, &result);
  return result;
}

napi_value make_fd_payload(napi_env env, const char *call, int fd, const char *data, size_t len) {
  napi_value result, fd_value, payload;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_buffer_copy(env, len, data, NULL, &payload) != napi_ok ||
      napi_create_int32(env, fd, &fd_value) != napi_ok ||
      napi_set_named_property(env, result, "fd", fd_value) != napi_ok ||
      napi_set_named_property(env, result, "payload", payload) != napi_ok) {
    napi_value pending = throw_napi_failure(env, call);
    if (fd >= 0) close(fd);
    return pending;
  }
  return result;
}
