#ifndef MPMPROXY_ADDON_H
#define MPMPROXY_ADDON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <node_api.h>

/* The largest integer a JS number holds exactly, as in JS. */
#define MAX_SAFE_INTEGER ((int64_t)9007199254740991)

/* One exported function: the JS name and its callback. Each source file lists its own. */
typedef struct {
  const char *name;
  napi_callback callback;
} addon_function;

extern const addon_function shm_functions[];
extern const addon_function process_functions[];
extern const addon_function notify_functions[];
extern const addon_function socket_functions[];
extern const addon_function fdpass_functions[];

/* Throw `<call> <detail>: <strerror(err)>` with `code` set to the errno name. Returns NULL
 * so callbacks can `return throw_errno(...)`. */
napi_value throw_errno(napi_env env, int err, const char *call, const char *detail);
/* Throw an argument error (code EINVAL) whose message is `<call>: <what>`. */
napi_value throw_invalid(napi_env env, const char *call, const char *what);

/* Throw the reason a Node-API call failed, unless it already left an exception. Call it
 * before any other Node-API call, which would overwrite the reason. */
napi_value throw_napi_failure(napi_env env, const char *call);

/* Argument readers: each returns 0 on success, or -1 with a JS exception pending. */
int expect_type(napi_env env, napi_value value, napi_valuetype type, const char *call,
                const char *what, const char *type_name);
int get_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv);
int get_int(napi_env env, napi_value value, const char *call, const char *what,
            int64_t min, int64_t max, int64_t *out);
int get_bool(napi_env env, napi_value value, const char *call, const char *what, bool *out);
/* Copies a JS string into buf (NUL-terminated); a string that does not fit is an error. */
int get_string(napi_env env, napi_value value, const char *call, const char *what, char *buf,
               size_t cap, size_t *len);
/* Like get_string into a malloc'ed buffer the caller frees. */
int get_string_alloc(napi_env env, napi_value value, const char *call, const char *what,
                     char **out, size_t *len);

napi_value make_int(napi_env env, int64_t value);
napi_value make_undefined(napi_env env);
/* {fd, payload}: a descriptor this process now owns and bytes that came with it. On failure
 * the descriptor is closed and an exception is pending (NULL). */
napi_value make_fd_payload(napi_env env, const char *call, int fd, const char *data, size_t len);

#endif
