#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon.h"

static int get_segment_name(napi_env env, napi_value value, const char *call, char *name,
                            size_t cap) {
  size_t len;
  if (get_string(env, value, call, "name", name, cap, &len) != 0) return -1;
  /* POSIX leaves the meaning of a name without the leading slash to each system. */
  if (name[0] != '/') {
    throw_invalid(env, call, "name must start with '/'");
    return -1;
  }
  return 0;
}

/* Reports the failed call and removes a segment this call created, so that a retry with
 * O_EXCL does not meet a half-made one. */
static void *fail_segment(napi_env env, const char *call, const char *name, int fd,
                          bool created) {
  int err = errno;
  close(fd);
  if (created) shm_unlink(name);
  throw_errno(env, err, call, name);
  return NULL;
}

/* An existing segment is mapped whole when size is 0, else its first `size` bytes. */
static int existing_length(napi_env env, int fd, const char *name, size_t size,
                           size_t *length) {
  struct stat st;
  char message[512];
  if (fstat(fd, &st) != 0) {
    fail_segment(env, "fstat", name, fd, false);
    return -1;
  }
  if (size > (size_t)st.st_size) {
    snprintf(message, sizeof message, "%s has %lld bytes, fewer than the %zu asked for", name,
             (long long)st.st_size, size);
  } else if (st.st_size == 0) {
    snprintf(message, sizeof message, "%s is empty", name);
  } else {
    *length = size != 0 ? size : (size_t)st.st_size;
    return 0;
  }
  close(fd);
  throw_invalid(env, "shmOpen", message);
  return -1;
}

static void *map_segment(napi_env env, const char *name, size_t size, bool create,
                         size_t *length) {
  int fd = shm_open(name, create ? O_CREAT | O_EXCL | O_RDWR : O_RDWR, 0600);
  if (fd < 0) {
    throw_errno(env, errno, "shm_open", name);
    return NULL;
  }
  if (create) {
    if (ftruncate(fd, (off_t)size) != 0) return fail_segment(env, "ftruncate", name, fd, true);
    *length = size;
  } else if (existing_length(env, fd, name, size, length) != 0) {
    return NULL;
  }
  void *memory = mmap(NULL, *length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (memory == MAP_FAILED) return fail_segment(env, "mmap", name, fd, create);
  /* The mapping keeps the segment alive; the descriptor is no longer needed. */
  close(fd);
  return memory;
}

static void unmap_segment(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/* Builds with the V8 sandbox cannot wrap memory they did not allocate, and shared memory
 * cannot be copied into the sandbox, so the only honest answer is to name the build. */
static napi_value throw_no_external_buffers(napi_env env, const char *name) {
  const napi_node_version *version = NULL;
  char message[512];
  napi_get_node_version(env, &version);
  snprintf(message, sizeof message,
           "shmOpen %s: this Node.js build (v%u.%u.%u) does not allow external ArrayBuffers "
           "(V8 sandbox), which shared memory needs; use a build without the sandbox, such "
           "as the nodejs.org binaries",
           name, version->major, version->minor, version->patch);
  napi_throw_error(env, "ENOTSUP", message);
  return NULL;
}

static napi_value wrap_segment(napi_env env, const char *name, void *memory, size_t length,
                               bool created) {
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(
      env, memory, length, unmap_segment, (void *)(uintptr_t)length, &buffer);
  if (status == napi_ok) return buffer;
  munmap(memory, length);
  if (created) shm_unlink(name);
  if (status == napi_no_external_buffers_allowed) return throw_no_external_buffers(env, name);
  return throw_napi_failure(env, "shmOpen");
}

static napi_value shm_open_js(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[NAME_MAX + 1];
  int64_t size;
  bool create;
  size_t length;
  if (get_args(env, info, 3, argv) != 0 ||
      get_segment_name(env, argv[0], "shmOpen", name, sizeof name) != 0 ||
      get_int(env, argv[1], "shmOpen", "size", 0, MAX_SAFE_INTEGER, &size) != 0 ||
      get_bool(env, argv[2], "shmOpen", "create", &create) != 0)
    return NULL;
  if (create && size == 0) return throw_invalid(env, "shmOpen", "a new segment needs a size");
  void *memory = map_segment(env, name, (size_t)size, create, &length);
  if (memory == NULL) return NULL;
  return wrap_segment(env, name, memory, length, create);
}

static napi_value shm_unlink_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[NAME_MAX + 1];
  if (get_args(env, info, 1, argv) != 0 ||
      get_segment_name(env, argv[0], "shmUnlink", name, sizeof name) != 0)
    return NULL;
  if (shm_unlink(name) != 0 && errno != ENOENT) return throw_errno(env, errno, "shm_unlink", name);
  return make_undefined(env);
}

const addon_function shm_functions[] = {
    {"shmOpen", shm_open_js},
    {"shmUnlink", shm_unlink_js},
    {NULL, NULL},
};
