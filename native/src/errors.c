#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addon.h"

/* The errno name becomes the error's `code`, as Node's own system errors do. glibc's
 * strerrorname_np would cover every value but needs glibc 2.32, newer than some systems
 * Node 20 supports, so the names the addon's calls can produce are listed here. */
static const char *errno_name(int err) {
#define NAME(e) \
  case e:       \
    return #e;
  switch (err) {
    NAME(EACCES) NAME(EADDRINUSE) NAME(EADDRNOTAVAIL) NAME(EAFNOSUPPORT) NAME(EAGAIN)
    NAME(EBADF) NAME(ECONNREFUSED) NAME(ECONNRESET) NAME(EDESTADDRREQ) NAME(EEXIST) NAME(EFAULT) NAME(EFBIG)
    NAME(EINTR) NAME(EINVAL) NAME(EIO) NAME(EISDIR) NAME(ELOOP) NAME(EMFILE) NAME(EMSGSIZE)
    NAME(ENAMETOOLONG) NAME(ENFILE) NAME(ENOBUFS) NAME(ENODEV) NAME(ENOENT) NAME(ENOMEM)
    NAME(ENOSPC) NAME(ENOTCONN) NAME(ENOTDIR) NAME(ENOTSOCK) NAME(ENOTSUP) NAME(ENXIO)
    NAME(EOVERFLOW) NAME(EPERM) NAME(EPIPE) NAME(EPROTO) NAME(EPROTONOSUPPORT) NAME(EPROTOTYPE) NAME(EROFS)
    NAME(ESOCKTNOSUPPORT) NAME(ESRCH) NAME(ETIMEDOUT) NAME(ETOOMANYREFS)
  }
#undef NAME
  return "EUNKNOWN";
}

napi_value throw_errno(napi_env env, int err, const char *call, const char *detail) {
  char message[512];
  snprintf(message, sizeof message, "%s %s: %s", call, detail, strerror(err));
  napi_throw_error(env, errno_name(err), message);
  return NULL;
}

napi_value throw_invalid(napi_env env, const char *call, const char *what) {
  char message[512];
  snprintf(message, sizeof message, "%s: %s", call, what);
  napi_throw_type_error(env, "EINVAL", message);
  return NULL;
}

napi_value throw_napi_failure(napi_env env, const char *call) {
  const napi_extended_error_info *info = NULL;
  bool pending = false;
  char message[512];
  napi_get_last_error_info(env, &info);
  snprintf(message, sizeof message, "%s: %s", call,
           info != NULL && info->error_message != NULL ? info->error_message
                                                       : "Node-API call failed");
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, message);
  return NULL;
}
