#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "addon.h"

static const struct {
  const char *name;
  int resource;
} resources[] = {
    {"nofile", RLIMIT_NOFILE}, {"core", RLIMIT_CORE},   {"nproc", RLIMIT_NPROC},
    {"as", RLIMIT_AS},         {"stack", RLIMIT_STACK},
};

static int get_resource(napi_env env, napi_value value, const char *call, char *name,
                        size_t cap, int *resource) {
  size_t len;
  if (get_string(env, value, call, "resource", name, cap, &len) != 0) return -1;
  for (size_t i = 0; i < sizeof resources / sizeof resources[0]; i++) {
    if (strcmp(name, resources[i].name) == 0) {
      *resource = resources[i].resource;
      return 0;
    }
  }
  throw_invalid(env, call, "resource must be one of nofile, core, nproc, as, stack");
  return -1;
}

static int get_limit(napi_env env, napi_value value, const char *what, rlim_t *out) {
  double number;
  int64_t exact;
  if (napi_get_value_double(env, value, &number) == napi_ok && number == INFINITY) {
    *out = RLIM_INFINITY;
    return 0;
  }
  if (get_int(env, value, "setrlimit", what, 0, MAX_SAFE_INTEGER, &exact) != 0) return -1;
  *out = (rlim_t)exact;
  return 0;
}

static napi_value make_limit(napi_env env, rlim_t limit) {
  napi_value result = NULL;
  napi_create_double(env, limit == RLIM_INFINITY ? INFINITY : (double)limit, &result);
  return result;
}

static napi_value getrlimit_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char name[16];
  int resource;
  struct rlimit limit;
  if (get_args(env, info, 1, argv) != 0 ||
      get_resource(env, argv[0], "getrlimit", name, sizeof name, &resource) != 0)
    return NULL;
  if (getrlimit(resource, &limit) != 0) return throw_errno(env, errno, "getrlimit", name);
  if (napi_create_object(env, &result) != napi_ok ||
      napi_set_named_property(env, result, "soft", make_limit(env, limit.rlim_cur)) != napi_ok ||
      napi_set_named_property(env, result, "hard", make_limit(env, limit.rlim_max)) != napi_ok)
    return throw_napi_failure(env, "getrlimit");
  return result;
}

static napi_value setrlimit_js(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char name[16];
  int resource;
  struct rlimit limit;
  if (get_args(env, info, 3, argv) != 0 ||
      get_resource(env, argv[0], "setrlimit", name, sizeof name, &resource) != 0 ||
      get_limit(env, argv[1], "soft", &limit.rlim_cur) != 0 ||
      get_limit(env, argv[2], "hard", &limit.rlim_max) != 0)
    return NULL;
  if (setrlimit(resource, &limit) != 0) return throw_errno(env, errno, "setrlimit", name);
  return make_undefined(env);
}

static napi_value set_parent_death_signal_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t signo;
  /* The kernel judges which numbers are signals; 0 turns the request off. */
  if (get_args(env, info, 1, argv) != 0 ||
      get_int(env, argv[0], "setParentDeathSignal", "signal", 0, INT32_MAX, &signo) != 0)
    return NULL;
  if (prctl(PR_SET_PDEATHSIG, (unsigned long)signo) != 0)
    return throw_errno(env, errno, "prctl", "PR_SET_PDEATHSIG");
  return make_undefined(env);
}

const addon_function process_functions[] = {
    {"getrlimit", getrlimit_js},
    {"setrlimit", setrlimit_js},
    {"setParentDeathSignal", set_parent_death_signal_js},
    {NULL, NULL},
};
